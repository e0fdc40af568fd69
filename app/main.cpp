// promoledger: the command for operations, branch finance and auditors. See docs/operations.md.
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli.hpp"

int main(int argc, char** argv) {
  using namespace promoledger::app;
  // Logs go to stderr so that stdout carries only results (tables, CSV, JSON).
  spdlog::set_default_logger(spdlog::stderr_color_mt("promoledger"));
  spdlog::set_level(spdlog::level::warn);

  CLI::App app{"promoledger: a double-entry ledger for the scan-to-pay random discount campaign"};
  app.require_subcommand(1);
  // Global options (--db, --json, --csv, -v) work anywhere on the line: `report trial-balance --json`
  // as well as `--json report trial-balance`. Subcommands made after this inherit it.
  app.fallthrough();
  Context ctx;
  app.add_option("--db", ctx.db_flag, "libpq connection string (default: $PROMOLEDGER_DB)");
  app.add_flag("--json", ctx.json, "print JSON (money as decimal strings)");
  app.add_flag("--csv", ctx.csv, "print CSV where the output is a table");
  app.add_flag_callback("-v,--verbose", [] { spdlog::set_level(spdlog::level::info); }, "log what is done to stderr");
  register_db_commands(app, ctx);
  register_org_commands(app, ctx);
  register_campaign_commands(app, ctx);
  register_day_commands(app, ctx);
  register_payment_commands(app, ctx);
  register_report_commands(app, ctx);
  register_audit_commands(app, ctx);
  register_simulate_command(app, ctx);
  register_serve_commands(app, ctx);
  register_period_commands(app, ctx);
  register_eod_commands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return exit_usage;
  } catch (const CommandError& e) {
    if (ctx.json) {
      std::cout << nlohmann::json{{"error", e.code()}, {"field", e.field()}, {"message", e.what()}}.dump(2) << '\n';
    }
    std::cerr << "promoledger: " << e.what() << '\n';
    return e.exit_code();
  } catch (const promoledger::ledger::DatabaseError& e) {
    if (ctx.json) {
      std::cout << nlohmann::json{{"error", "database"}, {"field", ""}, {"message", e.what()}}.dump(2) << '\n';
    }
    std::cerr << "promoledger: database failure: " << e.what() << '\n';
    return exit_failure;
  } catch (const std::exception& e) {
    std::cerr << "promoledger: failure: " << e.what() << '\n';
    return exit_failure;
  }
  return ctx.exit_code;
}
