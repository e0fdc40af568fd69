#pragma once
// Versioned schema migrations, embedded in the binary from sql/migrations/*.sql at build time.
// Applied in name order, each in its own transaction, recorded with its SHA-256 in
// public.promoledger_migration. Re-running is a no-op; an applied file whose text changed is an error
// (migrations are never edited once applied: write a new one). Concurrent migrators are serialized by
// an advisory lock.

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

struct MigrationState {
  std::string name;
  std::string checksum_hex;                 // of the embedded text
  std::optional<std::string> applied_at;    // UTC, when applied
  std::optional<std::string> applied_checksum_hex;
  bool changed() const { return applied_checksum_hex && *applied_checksum_hex != checksum_hex; }
};

struct MigrationReport {
  std::vector<std::string> applied_now;
  std::size_t already_applied = 0;
};

// Throws DatabaseError on a failure or a changed, already-applied migration (nothing of that
// migration is kept; earlier ones stay applied).
MigrationReport migrate(soci::session& session);
std::vector<MigrationState> migration_status(soci::session& session);

std::string sha256_hex(std::string_view data);

}  // namespace promoledger::ledger
