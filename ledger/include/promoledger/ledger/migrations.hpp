#pragma once
// Versioned schema migrations, embedded in the binary at build time, in two kinds:
// - sql/migrations/NNNN_*.sql: tables, indexes, triggers and data changes. Applied once each, in name
//   order, recorded with its SHA-256 in public.promoledger_migration. An
//   applied file whose text changed is an error (history is never edited: write a new migration).
// - sql/functions/<schema>.sql: the one current definition of every function of a schema
//   (CREATE OR REPLACE). Applied after the migrations whenever its checksum differs from the recorded
//   one; recorded under the name functions/<schema>.sql, and every application
//   is kept in public.promoledger_function_history, so an auditor sees when the posting rules changed.
// Re-running is a no-op. Concurrent migrators are serialized by an advisory lock.

#include <soci/soci.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace promoledger::ledger {

struct EmbeddedMigration {
  const char* name;
  const char* sql;
};
std::span<const EmbeddedMigration> embedded_migrations();
std::span<const EmbeddedMigration> embedded_function_files();

struct MigrationState {
  std::string name;
  std::string checksum_hex;                 // of the embedded text
  std::optional<std::string> applied_at;    // UTC, when applied
  std::optional<std::string> applied_checksum_hex;
  bool function_file = false;  // re-applied when changed, rather than refused
  bool changed() const { return applied_checksum_hex && *applied_checksum_hex != checksum_hex; }
};

struct MigrationReport {
  std::vector<std::string> applied_now;     // numbered migrations and function files applied by this call
  std::size_t already_applied = 0;          // numbered migrations that were applied before
  std::size_t functions_unchanged = 0;      // function files whose recorded checksum matched
};

// Applies every pending migration and changed function file in one transaction. Throws DatabaseError
// on a failure or a changed, already-applied migration; then nothing of this call is kept.
MigrationReport migrate(soci::session& session);

// How the journal's tables are built by the migration that partitions them (0014). Partitioned (by
// business day, a partition a month) is the product; unpartitioned exists for the benchmark's
// comparison only (docs/benchmarks.md) and cannot be changed afterwards.
enum class Partitioning { monthly, none };
MigrationReport migrate(soci::session& session, Partitioning partitioning);
std::vector<MigrationState> migration_status(soci::session& session);

std::string sha256_hex(std::string_view data);

}  // namespace promoledger::ledger
