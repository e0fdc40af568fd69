// The service and its keys: `serve` runs the HTTP/JSON API (service/), `token` makes, lists and
// revokes the API tokens it accepts.
#include <iostream>

#include <fmt/format.h>

#include "cli.hpp"
#include "promoledger/ledger/database.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/group_commit.hpp"
#include "promoledger/service/server.hpp"
#include "promoledger/service/tokens.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

// --listen HOST:PORT (port 0: any free port).
void set_listen(service::ServiceOptions& options, const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) usage_error(fmt::format("--listen \"{}\" is not HOST:PORT", listen));
  options.host = listen.substr(0, colon);
  try {
    std::size_t used = 0;
    const int port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1 || port < 0 || port > 65535) throw std::out_of_range("port");
    options.port = port;
  } catch (const std::exception&) {
    usage_error(fmt::format("--listen \"{}\": the port must be 0..65535", listen));
  }
}

void set_tls(service::ServiceOptions& options, const std::string& cert, const std::string& key) {
  if (cert.empty() != key.empty()) usage_error("--tls-cert and --tls-key go together");
  if (cert.empty()) return;
  options.tls_cert_file = cert;
  options.tls_key_file = key;
}

void serve_command(CLI::App& app, Context& ctx) {
  auto* serve = app.add_subcommand("serve", "run the HTTP/JSON API until SIGTERM (docs/operations.md)");
  static std::string listen = "127.0.0.1:8080", log_format = "text", tls_cert, tls_key;
  static service::ServiceOptions options;
  serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")->capture_default_str();
  serve->add_option("--writers", options.writers, "group-commit writer threads")
      ->check(CLI::Range(std::size_t{1}, promo::GroupCommitOptions::writers_max))
      ->capture_default_str();
  serve->add_option("--io-threads", options.io_threads, "threads reading and writing the connections")
      ->check(CLI::Range(std::size_t{1}, service::ServiceOptions::io_threads_max))
      ->capture_default_str();
  serve->add_option("--read-sessions", options.read_sessions, "database sessions for reads")
      ->check(CLI::Range(1, 32))
      ->capture_default_str();
  serve->add_option("--max-connections", options.max_connections, "connections served at once; more get 503")
      ->check(CLI::Range(std::size_t{1}, service::ServiceOptions::max_connections_limit))
      ->capture_default_str();
  serve->add_option("--report-rows-max", options.report_rows_max, "rows a report may hold; more: 422 report_too_large")
      ->check(CLI::Range(std::size_t{1}, promo::report_rows_max))
      ->capture_default_str();
  serve->add_option("--queue-depth", options.queue_depth_max, "payments waiting for a writer before 503")
      ->check(CLI::Range(std::size_t{1}, promo::GroupCommitOptions::queue_depth_limit))
      ->capture_default_str();
  static long long session_idle_s = options.session_idle_max.count(), session_lifetime_s = options.session_lifetime_max.count();
  const long long session_limit_s = service::ServiceOptions::session_lifetime_limit.count();
  serve->add_option("--session-idle-seconds", session_idle_s, "a console session ends after this long unused")
      ->check(CLI::Range(1LL, session_limit_s))
      ->capture_default_str();
  serve->add_option("--session-lifetime-seconds", session_lifetime_s, "... and this long after sign-in (>= idle)")
      ->check(CLI::Range(1LL, session_limit_s))
      ->capture_default_str();
  static std::string read_db;
  serve->add_option("--read-db", read_db,
                    "CONNINFO of the read node: reports, traces and the console's figures are read there (a standby: "
                    "target_session_attrs=prefer-standby), each answer with its lag (X-Replica-Lag-Ms); writes and "
                    "audit verify stay on --db");
  serve->add_option("--tls-cert", tls_cert, "PEM certificate (with --tls-key: serve HTTPS)");
  serve->add_option("--tls-key", tls_key, "PEM private key");
  serve->add_option("--log-format", log_format, "text | json (one line per request on stderr)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  serve->callback([&ctx] {
    set_listen(options, listen);
    set_tls(options, tls_cert, tls_key);
    options.log_format = log_format == "json" ? service::LogFormat::json : service::LogFormat::text;
    if (session_lifetime_s < session_idle_s) {
      usage_error("--session-lifetime-seconds must be at least --session-idle-seconds");
    }
    options.session_idle_max = std::chrono::seconds(session_idle_s);
    options.session_lifetime_max = std::chrono::seconds(session_lifetime_s);
    options.conninfo = ctx.conninfo();  // the service opens its own pools (posting, work, health)
    if (!read_db.empty()) {
      try {
        static_cast<void>(ledger::complete_conninfo(read_db, ledger::Target::prefer_standby));
      } catch (const std::invalid_argument& e) {
        usage_error(fmt::format("--read-db: {}", e.what()));
      }
      options.read_conninfo = read_db;
    }
    ctx.exit_code = service::run_service(options);
  });
}

void token_create_command(CLI::App& token, Context& ctx) {
  auto* create = token.add_subcommand("create", "make a token and print it once (only its SHA-256 is kept)");
  static std::string create_name, create_role, create_by;
  create->add_option("--name", create_name, "a name for the token (who holds it), e.g. core-banking-1")->required();
  create->add_option("--role", create_role, "poster | finance | auditor | operator")
      ->required()
      ->check(CLI::IsMember({"poster", "finance", "auditor", "operator"}));
  create->add_option("--by", create_by, "who makes it (default: $PROMOLEDGER_USER or $USER)");
  create->callback([&ctx] {
    const auto role = service::role_from_string(create_role);
    if (!role) usage_error(fmt::format("--role \"{}\" is not poster, finance, auditor or operator", create_role));
    auto made = service::create_token(ctx.database(), create_name, *role, create_by.empty() ? default_actor() : create_by);
    if (!made) throw CommandError(exit_rejected, "invalid_token_name", made.error());
    if (ctx.json) {
      print_json(json{{"name", create_name}, {"role", create_role}, {"token", *made}}, std::cout);
    } else {
      std::cout << *made << '\n';
      std::cerr << fmt::format("token {} ({}) made: it is shown only now; keep it secret\n", create_name, create_role);
    }
  });
}

void token_list_command(CLI::App& token, Context& ctx) {
  token.add_subcommand("list", "list the tokens (never the secrets)")->callback([&ctx] {
    Table t{{"name", "role", "created_at_utc", "created_by", "revoked_at_utc", "revoked_by"}, {}, {}};
    for (const auto& info : service::list_tokens(ctx.database())) {
      t.rows.push_back({info.name, std::string(service::to_string(info.role)), info.created_at_utc, info.created_by,
                        info.revoked_at_utc.value_or(""), info.revoked_by.value_or("")});
    }
    print(ctx, t, std::cout);
  });
}

void token_revoke_command(CLI::App& token, Context& ctx) {
  auto* revoke = token.add_subcommand("revoke", "revoke a token (the service refuses it within a second)");
  static std::string revoke_name, revoke_by;
  revoke->add_option("NAME", revoke_name, "the token's name")->required();
  revoke->add_option("--by", revoke_by, "who revokes it (default: $PROMOLEDGER_USER or $USER)");
  revoke->callback([&ctx] {
    auto info = service::revoke_token(ctx.database(), revoke_name, revoke_by.empty() ? default_actor() : revoke_by);
    if (!info) throw CommandError(exit_rejected, "unknown_token", info.error());
    if (ctx.json) {
      print_json(json{{"name", info->name}, {"role", service::to_string(info->role)},
                      {"revoked_at_utc", info->revoked_at_utc.value_or("")}, {"revoked_by", info->revoked_by.value_or("")}},
                 std::cout);
    } else {
      std::cout << fmt::format("token {} revoked\n", info->name);
    }
  });
}

void token_commands(CLI::App& app, Context& ctx) {
  auto* token = app.add_subcommand("token", "API tokens for promoledger serve");
  token->require_subcommand(1);
  token_create_command(*token, ctx);
  token_list_command(*token, ctx);
  token_revoke_command(*token, ctx);
}

}  // namespace

void register_serve_commands(CLI::App& app, Context& ctx) {
  serve_command(app, ctx);
  token_commands(app, ctx);
}

}  // namespace promoledger::app
