#include "test_db.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>
#include <soci/postgresql/soci-postgresql.h>

#include "promoledger/ledger/migrations.hpp"

namespace promoledger::testing {
namespace {

std::string template_name() {
  std::string all;
  // Function files count too: a changed function must not be tested against a template built with the old one.
  for (const auto& files : {ledger::embedded_migrations(), ledger::embedded_function_files()}) {
    for (const auto& m : files) {
      all += m.name;
      all += m.sql;
    }
  }
  return "promoledger_tpl_" + ledger::sha256_hex(all).substr(0, 16);
}

void ensure_template(soci::session& admin) {
  const std::string tpl = template_name();
  // One creator at a time across the parallel test processes.
  ledger::exec_script(admin, "SELECT pg_advisory_lock(4242)", "locking the template");
  int exists = 0;
  admin << "SELECT count(*) FROM pg_database WHERE datname = :n", soci::use(tpl), soci::into(exists);
  if (exists == 0) {
    ledger::exec_script(admin, fmt::format("CREATE DATABASE {}_tmp", tpl), "creating the template");
    {
      soci::session s(soci::postgresql, admin_conninfo() + fmt::format(" dbname={}_tmp", tpl));
      ledger::migrate(s);
      // The suites post on a fixed calendar from 2026-11 whatever the date they run on: the replay
      // window (400 days by default, migration 0014) is the largest here, so that those days stay
      // inside it for ten years. The tests of the window set their own.
      ledger::exec_script(s,
                          "INSERT INTO ledger.posting_policy (future_tolerance, replay_window, reason) "
                          "SELECT future_tolerance, interval '3660 days', 'tests: a fixed calendar from 2026-11' "
                          "FROM ledger.posting_policy ORDER BY id DESC LIMIT 1",
                          "widening the replay window for the fixed calendar");
    }
    // Renamed only once complete, so a crashed creator never leaves a half-migrated template.
    ledger::exec_script(admin, fmt::format("ALTER DATABASE {0}_tmp RENAME TO {0}", tpl), "publishing the template");
  }
  ledger::exec_script(admin, "SELECT pg_advisory_unlock(4242)", "unlocking the template");
}

}  // namespace

std::string admin_conninfo() {
  const char* env = std::getenv("PROMOLEDGER_TEST_DB");
  if (env == nullptr || *env == '\0') {
    throw std::runtime_error(
        "PROMOLEDGER_TEST_DB is not set: database tests need a PostgreSQL server (run ./scripts/test.sh, which "
        "starts one)");
  }
  return env;
}

TestDatabase::TestDatabase() {
  static std::atomic<int> counter{0};
  name_ = fmt::format("t_{}_{}_{}", ::getpid(), counter++,
                      std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
  const std::string admin_info = admin_conninfo();
  try {
    soci::session admin(soci::postgresql, admin_info + " dbname=postgres");
    ensure_template(admin);
    ledger::exec_script(admin, fmt::format("CREATE DATABASE {} TEMPLATE {}", name_, template_name()),
                        "creating the test database");
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("cannot prepare a test database on \"{}\": {}", admin_info, e.what()));
  }
  conninfo_ = admin_info + " dbname=" + name_;
}

TestDatabase::~TestDatabase() {
  db_.reset();
  try {
    soci::session admin(soci::postgresql, admin_conninfo() + " dbname=postgres");
    ledger::exec_script(admin, fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_), "dropping");
  } catch (...) {
    // A leftover test database is harmless: the cluster is thrown away after the run.
  }
}

ledger::Database& TestDatabase::db(std::size_t pool_size) {
  if (!db_) db_ = std::make_unique<ledger::Database>(ledger::DatabaseOptions{conninfo_, pool_size});
  return *db_;
}

void TestDatabase::exec_as_admin(const std::string& sql) {
  soci::session s(soci::postgresql, conninfo_);
  ledger::exec_script(s, sql, "admin script");
}

}  // namespace promoledger::testing
