#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/server_state.hpp"

#include <soci/postgresql/soci-postgresql.h>

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <libpq-fe.h>

namespace promoledger::ledger {

void rethrow_as_database_error(std::string_view what_doing) {
  try {
    throw;
  } catch (const DatabaseError&) {
    throw;
  } catch (const soci::postgresql_soci_error& e) {
    throw DatabaseError(fmt::format("{}: {}", what_doing, e.what()), e.sqlstate());
  } catch (const std::exception& e) {
    throw DatabaseError(fmt::format("{}: {}", what_doing, e.what()), "");
  }
}

bool is_connection_failure(const DatabaseError& error) {
  const std::string& state = error.sqlstate();
  return state.empty() || state.starts_with("08") || state.starts_with("57P");
}

void PgArrayLiteral::add(std::string_view element) {
  assert(element.find('\0') == std::string_view::npos);
  if (text_.size() > 1) text_ += ',';
  text_ += '"';
  for (char c : element) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
}

std::string PgArrayLiteral::finish() && {
  text_ += '}';
  return std::move(text_);
}

std::string DatabaseError::primary_message() const {
  const std::string_view text = what();
  const std::size_t start = text.find("ERROR:  ");
  if (start == std::string_view::npos) return std::string(text);
  const std::string_view rest = text.substr(start + 8);
  return std::string(rest.substr(0, rest.find('\n')));
}

std::atomic<std::uint64_t>& retries_taken() {
  static std::atomic<std::uint64_t> counter{0};
  return counter;
}

std::optional<std::string> conninfo_from(std::optional<std::string> explicit_conninfo) {
  if (explicit_conninfo && !explicit_conninfo->empty()) return explicit_conninfo;
  if (const char* env = std::getenv("PROMOLEDGER_DB"); env != nullptr && *env != '\0') return std::string(env);
  return std::nullopt;
}

namespace {

struct ConninfoOptionsDeleter {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};

// A value as libpq's key=value syntax reads it: quoted, with ' and \ escaped.
std::string quoted(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

// The warnings of this thread's statements (clear_server_warnings, first_server_warning).
thread_local std::vector<std::string> t_server_warnings;

// libpq's notice receiver for every session: WARNINGs are kept for the thread that reads the result
// (with_retry turns one into OutcomeUnknown); every notice then goes on to the receiver the session
// had (libpq's default, which prints it on stderr as before; it ignores its argument).
std::atomic<PQnoticeReceiver> g_previous_receiver{nullptr};

void receive_notice(void* /*arg*/, const PGresult* notice) {
  const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity != nullptr && std::string_view(severity) == "WARNING" && t_server_warnings.size() < 16) {
    const char* message = PQresultErrorMessage(notice);
    t_server_warnings.emplace_back(message != nullptr ? message : "WARNING");
  }
  if (PQnoticeReceiver previous = g_previous_receiver.load(std::memory_order_relaxed); previous != nullptr) {
    previous(nullptr, notice);
  }
}

// Whether an idle connection is still open, read without blocking. Twice: a server that closes a
// connection first sends its FATAL message (PQisBusy parses it; an error outside a query goes to the
// notice receiver), and the second read meets the end of file.
bool still_open(PGconn* conn) {
  for (int read = 0; read < 2; ++read) {
    if (PQconsumeInput(conn) == 0) return false;
    (void)PQisBusy(conn);
  }
  return PQstatus(conn) == CONNECTION_OK;
}

}  // namespace

std::string complete_conninfo(std::string_view conninfo, Target target) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoOptionsDeleter> options(PQconninfoParse(std::string(conninfo).c_str(), &error));
  if (options == nullptr) {
    // libpq's message names the bad part ("missing \"=\" after \"x\" in connection info string"), not a password.
    std::string words = error != nullptr ? error : "out of memory";
    if (error != nullptr) PQfreemem(error);
    while (!words.empty() && words.back() == '\n') words.pop_back();
    throw std::invalid_argument(fmt::format("the connection string does not parse: {}", words));
  }
  std::vector<std::pair<std::string, std::string>> settings;
  std::size_t hosts = 1;
  for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    settings.emplace_back(o->keyword, o->val);
    if (std::string_view(o->keyword) == "host" || std::string_view(o->keyword) == "hostaddr") {
      hosts = std::max<std::size_t>(hosts, 1 + static_cast<std::size_t>(std::count(o->val, o->val + std::strlen(o->val), ',')));
    }
  }
  const auto add_default = [&settings](std::string_view key, std::string_view value) {
    for (const auto& [k, v] : settings) {
      if (k == key) return;  // the caller's own setting wins
    }
    settings.emplace_back(key, value);
  };
  if (hosts > 1) add_default("target_session_attrs", target == Target::primary ? "read-write" : "prefer-standby");
  add_default("connect_timeout", "2");
  add_default("keepalives", "1");
  add_default("keepalives_idle", "10");
  add_default("keepalives_interval", "3");
  add_default("keepalives_count", "3");
  add_default("tcp_user_timeout", "10000");
  std::string out;
  for (const auto& [key, value] : settings) {
    if (!out.empty()) out += ' ';
    out += key;
    out += '=';
    out += quoted(value);
  }
  return out;
}

std::string server_address(soci::session& session) {
  PGconn* conn = native_handle(session);
  const char* host = PQhost(conn);
  const char* port = PQport(conn);
  return fmt::format("{}:{}", host != nullptr ? host : "?", port != nullptr ? port : "?");
}

ServerState server_state(soci::session& session) {
  // LSNs, not times, decide "caught up": pg_last_xact_replay_timestamp() stays at the last commit
  // replayed, so on a standby of an idle primary it grows old although nothing is missing. A standby
  // without a running WAL receiver (pg_stat_wal_receiver shows its pid to any role) may be missing
  // what the primary wrote since: its lag is then measured by time, an upper bound.
  static const char* const query =
      "SELECT pg_is_in_recovery()::int, "
      "CASE WHEN NOT pg_is_in_recovery() THEN 0 "
      "     WHEN pg_last_wal_receive_lsn() IS NOT NULL AND pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() "
      "          AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN 0 "
      "     ELSE greatest(0, floor(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000))::bigint "
      "END";
  ServerState state;
  try {
    state.address = server_address(session);
    soci::indicator lag_indicator = soci::i_ok;
    long long lag_ms = 0;
    int standby = 0;
    session << query, soci::into(standby), soci::into(lag_ms, lag_indicator);
    state.standby = standby != 0;
    if (lag_indicator == soci::i_ok) state.replica_lag_ms = lag_ms;
  } catch (const soci::soci_error&) {
    rethrow_as_database_error("reading the server's replication state");
  }
  assert(state.standby || state.replica_lag_ms == 0);
  assert(!state.replica_lag_ms || *state.replica_lag_ms >= 0);
  return state;
}

void clear_server_warnings() { t_server_warnings.clear(); }

std::optional<std::string> first_server_warning() {
  if (t_server_warnings.empty()) return std::nullopt;
  return t_server_warnings.front();
}

void throw_unconfirmed_commit(const std::string& warning) {
  std::string words = warning;
  while (!words.empty() && words.back() == '\n') words.pop_back();
  throw OutcomeUnknown(
      fmt::format("the server answered with a warning, so the commit is not confirmed on a standby ({}): re-send "
                  "with the same ids (a stored payment answers exists with its figures)",
                  words),
      "");
}

Database::Database(DatabaseOptions options) : options_(std::move(options)) {
  if (options_.pool_size == 0 || options_.pool_size > DatabaseOptions::pool_size_max) {
    throw std::invalid_argument(
        fmt::format("pool size {} is outside 1..{}", options_.pool_size, DatabaseOptions::pool_size_max));
  }
  options_.conninfo = complete_conninfo(options_.conninfo, options_.target);
  pool_ = std::make_unique<soci::connection_pool>(options_.pool_size);
  try {
    for (std::size_t i = 0; i < options_.pool_size; ++i) {
      soci::session& session = pool_->at(i);
      session.open(soci::postgresql, options_.conninfo);
      // The receiver stays with the PGconn across PQreset, so it is set once per session.
      PGconn* conn = native_handle(session);
      PQnoticeReceiver previous = PQsetNoticeReceiver(conn, receive_notice, nullptr);
      if (previous != receive_notice) g_previous_receiver.store(previous, std::memory_order_relaxed);
      configure(session);
    }
  } catch (...) {
    rethrow_as_database_error("connecting to the database");
  }
}

void Database::configure(soci::session& session) {
  // Fixed session settings: timestamps cross the boundary in UTC, and nothing waits forever.
  exec_script(session,
              fmt::format("SET TimeZone = 'UTC'; SET statement_timeout = {}; SET lock_timeout = {}",
                          options_.statement_timeout.count(), options_.statement_timeout.count()),
              "configuring the session");
}

void Database::ensure_connected(soci::session& session) {
  PGconn* conn = native_handle(session);
  // A connection the server closed while it sat in the pool (its machine died, Patroni demoted it)
  // shows only when read: PQconsumeInput reads what is pending without blocking and marks the
  // connection bad on end of file, so the reconnect happens here, before a statement is sent, and
  // not as an unknown outcome afterwards.
  if (PQstatus(conn) == CONNECTION_OK && (PQtransactionStatus(conn) != PQTRANS_IDLE || still_open(conn))) return;
  // PQreset reconnects the same PGconn with the same parameters, so SOCI's backend stays valid; with
  // several hosts it tries them in order again and takes the first that fits target_session_attrs.
  // Server-side state (prepared statements, settings) is gone: settings are applied again here, and
  // users of prepared statements re-prepare on SQLSTATE 26000.
  PQreset(conn);
  if (PQstatus(conn) != CONNECTION_OK) {
    throw DatabaseError(fmt::format("the database cannot be reached: {}", PQerrorMessage(conn)), "08006");
  }
  configure(session);
  reconnects_.fetch_add(1, std::memory_order_relaxed);
}

Database::~Database() = default;

pg_conn* native_handle(soci::session& session) {
  // The backend's type information is not exported by libsoci_postgresql, so no dynamic_cast: the
  // backend name is checked instead.
  if (session.get_backend() == nullptr || session.get_backend_name() != "postgresql") {
    throw DatabaseError("session is not an open PostgreSQL session", "");
  }
  return static_cast<soci::postgresql_session_backend*>(session.get_backend())->conn_;
}

void exec_script(soci::session& session, const std::string& sql, std::string_view what_doing) {
  PGconn* conn = native_handle(session);
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    std::string message = fmt::format("{}: {}", what_doing, PQresultErrorMessage(result));
    std::string code = state != nullptr ? state : "";
    PQclear(result);
    throw DatabaseError(std::move(message), std::move(code));
  }
  PQclear(result);
}

}  // namespace promoledger::ledger
