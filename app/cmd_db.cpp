// db migrate | status: the schema (ledger/migrations.hpp).
#include <iostream>

#include <fmt/format.h>

#include "cli.hpp"
#include "promoledger/ledger/migrations.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

void db_commands(CLI::App& app, Context& ctx) {
  auto* db = app.add_subcommand("db", "schema migrations");
  db->require_subcommand(1);
  db->add_subcommand("migrate", "apply the migrations that are not applied yet")->callback([&ctx] {
    auto lease = ctx.database().lease();
    const auto report = ledger::migrate(*lease);
    if (ctx.json) {
      print_json(json{{"applied", report.applied_now}, {"already_applied", report.already_applied}}, std::cout);
    } else if (report.applied_now.empty()) {
      std::cout << fmt::format("nothing to do: {} migration(s) already applied\n", report.already_applied);
    } else {
      for (const auto& name : report.applied_now) std::cout << "applied " << name << '\n';
    }
  });
  db->add_subcommand("status", "list the migrations and whether each is applied")->callback([&ctx] {
    auto lease = ctx.database().lease();
    Table t{{"migration", "checksum", "applied_at_utc", "state"}, {}, {}};
    bool changed = false;
    for (const auto& m : ledger::migration_status(*lease)) {
      // A changed function file is the normal state between a new release and `db migrate`, which
      // re-applies it; a changed numbered migration is an error (history must not be edited).
      const bool refused = m.changed() && !m.function_file;
      const std::string state = refused ? "CHANGED" : (m.applied_at && !m.changed() ? "applied" : "pending");
      changed = changed || refused;
      t.rows.push_back({m.name, m.checksum_hex.substr(0, 16), m.applied_at.value_or(""), state});
    }
    print(ctx, t, std::cout);
    if (changed) throw CommandError(exit_failure, "migration_changed", "an applied migration file has changed");
  });
}

}  // namespace

void register_db_commands(CLI::App& app, Context& ctx) { db_commands(app, ctx); }

}  // namespace promoledger::app
