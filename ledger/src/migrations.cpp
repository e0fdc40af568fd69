#include "promoledger/ledger/migrations.hpp"

#include <openssl/evp.h>

#include <array>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "promoledger/ledger/database.hpp"

namespace promoledger::ledger {
namespace {

// Any fixed number: the key of the advisory lock that serializes migrators.
constexpr long long migration_lock_key = 0x70726f6d6fLL;  // "promo"

void ensure_table(soci::session& session) {
  exec_script(session,
              "CREATE TABLE IF NOT EXISTS public.promoledger_migration ("
              "  name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
              "  applied_by text NOT NULL DEFAULT current_user);"
              "CREATE TABLE IF NOT EXISTS public.promoledger_function_history ("
              "  name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
              "  applied_by text NOT NULL DEFAULT current_user)",
              "creating the migration tables");
}

std::map<std::string, std::pair<std::string, std::string>> applied(soci::session& session) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  soci::rowset<soci::row> rows = (session.prepare << "SELECT name, checksum, "
                                                     "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
                                                     "FROM public.promoledger_migration ORDER BY name");
  for (const soci::row& row : rows) {
    out.emplace(row.get<std::string>(0), std::make_pair(row.get<std::string>(1), row.get<std::string>(2)));
  }
  return out;
}

constexpr const char* record_migration_sql = "INSERT INTO public.promoledger_migration (name, checksum) VALUES (:n, :c)";
constexpr const char* record_function_file_sql =
    "WITH recorded AS (INSERT INTO public.promoledger_migration (name, checksum) VALUES (:n, :c) "
    "ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now(), applied_by = current_user "
    "RETURNING name, checksum) "
    "INSERT INTO public.promoledger_function_history (name, checksum) SELECT name, checksum FROM recorded";

struct Pending {
  const EmbeddedMigration* file;
  std::string checksum;
  const char* record_sql;
};

}  // namespace

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(sha256) failed");
  }
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

MigrationReport migrate(soci::session& session) { return migrate(session, Partitioning::monthly); }

MigrationReport migrate(soci::session& session, Partitioning partitioning) {
  MigrationReport report;
  try {
    exec_script(session, fmt::format("SELECT pg_advisory_lock({})", migration_lock_key), "taking the migration lock");
    struct Unlock {
      soci::session& s;
      ~Unlock() {
        try {
          exec_script(s, fmt::format("SELECT pg_advisory_unlock({})", migration_lock_key), "releasing the lock");
        } catch (...) {
          // The lock is released with the session anyway.
        }
      }
    } unlock{session};
    ensure_table(session);
    const auto done = applied(session);
    std::vector<Pending> pending;
    for (const EmbeddedMigration& m : embedded_migrations()) {
      std::string checksum = sha256_hex(m.sql);
      if (auto it = done.find(m.name); it != done.end()) {
        if (it->second.first != checksum) {
          throw DatabaseError(fmt::format("migration {} was applied on {} with checksum {}, but the file now has "
                                          "checksum {}: applied migrations must not change; add a new one",
                                          m.name, it->second.second, it->second.first, checksum),
                              "");
        }
        ++report.already_applied;
        continue;
      }
      pending.push_back(Pending{&m, std::move(checksum), record_migration_sql});
    }
    // Function files after every migration: they may use any table. Unchanged ones are skipped, unless
    // a migration runs now: a migration may drop functions with the tables they take (0014 rebuilt the
    // journal, and the functions whose arguments are its row types went with it), so every file is
    // applied again after one.
    const bool migrating = !pending.empty();
    for (const EmbeddedMigration& f : embedded_function_files()) {
      std::string checksum = sha256_hex(f.sql);
      if (auto it = done.find(f.name); !migrating && it != done.end() && it->second.first == checksum) {
        ++report.functions_unchanged;
        continue;
      }
      pending.push_back(Pending{&f, std::move(checksum), record_function_file_sql});
    }
    if (pending.empty()) return report;
    // Everything pending in one transaction: a database is never seen between a migration and the
    // function files that go with it (0005 drops functions that the old posting function called),
    // and a failure leaves it as it was.
    exec_script(session, "BEGIN", "starting the migration");
    try {
      // Read by migration 0014 (a setting of this transaction only).
      exec_script(session,
                  fmt::format("SET LOCAL promoledger.partitioning = '{}'",
                              partitioning == Partitioning::monthly ? "on" : "off"),
                  "choosing the partitioning");
      for (const Pending& p : pending) {
        spdlog::info("applying {}", p.file->name);
        exec_script(session, p.file->sql, fmt::format("applying {}", p.file->name));
        // Named variables: SOCI binds by reference and executes when the full expression ends.
        const std::string name(p.file->name);
        session << p.record_sql, soci::use(name, "n"), soci::use(p.checksum, "c");
        report.applied_now.emplace_back(p.file->name);
      }
      exec_script(session, "COMMIT", "committing the migration");
    } catch (...) {
      report.applied_now.clear();
      try {
        exec_script(session, "ROLLBACK", "rolling back");
      } catch (...) {
      }
      throw;
    }
  } catch (...) {
    rethrow_as_database_error("migrating");
  }
  return report;
}

std::vector<MigrationState> migration_status(soci::session& session) {
  std::vector<MigrationState> out;
  try {
    ensure_table(session);
    const auto done = applied(session);
    for (const EmbeddedMigration& m : embedded_migrations()) {
      MigrationState state{m.name, sha256_hex(m.sql), std::nullopt, std::nullopt};
      if (auto it = done.find(m.name); it != done.end()) {
        state.applied_checksum_hex = it->second.first;
        state.applied_at = it->second.second;
      }
      out.push_back(std::move(state));
    }
    for (const EmbeddedMigration& f : embedded_function_files()) {
      MigrationState state{f.name, sha256_hex(f.sql), std::nullopt, std::nullopt, true};
      if (auto it = done.find(f.name); it != done.end()) {
        state.applied_checksum_hex = it->second.first;
        state.applied_at = it->second.second;
      }
      out.push_back(std::move(state));
    }
  } catch (...) {
    rethrow_as_database_error("reading migration status");
  }
  return out;
}

}  // namespace promoledger::ledger
