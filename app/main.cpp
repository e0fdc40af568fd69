#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/migrations.hpp"

int main(int argc, char** argv) {
  CLI::App app{"promoledger"};
  std::string db;
  app.add_option("--db", db, "libpq connection string (default: $PROMOLEDGER_DB)");
  auto* dbcmd = app.add_subcommand("db", "schema");
  auto* migrate = dbcmd->add_subcommand("migrate", "apply migrations");
  CLI11_PARSE(app, argc, argv);
  auto conninfo = promoledger::ledger::conninfo_from(db);
  if (!conninfo) return 2;
  promoledger::ledger::Database database({*conninfo, 1});
  if (migrate->parsed()) {
    auto lease = database.lease();
    auto report = promoledger::ledger::migrate(*lease);
    for (auto& n : report.applied_now) spdlog::info("applied {}", n);
  }
  return 0;
}
