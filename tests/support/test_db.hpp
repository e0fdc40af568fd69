#pragma once
// A fresh, migrated PostgreSQL database per test, on the cluster named by PROMOLEDGER_TEST_DB (a libpq
// connection string with rights to create databases). There is no skipping: without that variable,
// or without a reachable server, the test fails and says why.
//
// The first test to run migrates a template database (named after the migrations' checksum, so a
// changed migration makes a new one); every test then copies it, which takes milliseconds.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "promoledger/ledger/database.hpp"

namespace promoledger::testing {

class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& conninfo() const { return conninfo_; }
  const std::string& name() const { return name_; }
  // A pool over this test's database.
  ledger::Database& db(std::size_t pool_size = 4);
  // Runs a script as the cluster's superuser in this database (tampering, privileges).
  void exec_as_admin(const std::string& sql);

 private:
  std::string name_;
  std::string conninfo_;
  std::unique_ptr<ledger::Database> db_;
};

// A test fixture with a fresh database.
class DbTest : public ::testing::Test {
 protected:
  TestDatabase tdb_;
};

std::string admin_conninfo();

}  // namespace promoledger::testing
