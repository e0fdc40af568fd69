#pragma once
// Posting periods (docs/operations.md, "The monthly routine"). The journal's six growing tables are
// partitioned by business day, a partition a month (migration 0014, pg_partman). Once every day of a
// month is closed, the month is closed: its chains are verified from the previous anchor on and every
// account's chain is anchored (last sequence, hash, totals), with the lines where chains cross months.
// A closed month can be archived (its partitions written to compressed files with a manifest, read
// back, then detached and dropped) and restored (into the live database or an empty copy), where
// `audit verify --month` proves it against its anchors. The SQL is sql/functions/periods.sql.
//
// Thread safety: free functions; each leases its own session.
//
// Limits: a month is YYYY-MM between 2000-01 and 2199-12; an archive holds the six tables and the
// period's own rows, nine files at most.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/names.hpp"
#include "promoledger/ledger/refusal.hpp"

namespace promoledger::ledger {

enum class PeriodRefusal {
  invalid_month,            // not YYYY-MM, or outside 2000-01..2199-12
  period_not_closable,      // open days, an earlier month not closed, or the chains do not verify
  period_not_closed,        // archive: the month has no anchors yet (close it first)
  period_archived,          // archive: archived already; a read over an archived month
  period_present,           // restore: the month's partitions are in the database already
  period_in_replay_window,  // archive: a replay of its payments may still be sent (ledger.replay_window)
  not_partitioned,          // archive: this database was built without partitions, or lacks the month's
  not_owner,                // archive, restore: the login does not own the journal's tables
  archive_exists,           // archive: the folder holds a manifest already
  archive_invalid,          // restore: a missing file, a checksum or row count that differs, another digest
};
inline constexpr NameTable<PeriodRefusal, 10> period_refusal_names = {{
    {PeriodRefusal::invalid_month, "invalid_month"},
    {PeriodRefusal::period_not_closable, "period_not_closable"},
    {PeriodRefusal::period_not_closed, "period_not_closed"},
    {PeriodRefusal::period_archived, "period_archived"},
    {PeriodRefusal::period_present, "period_present"},
    {PeriodRefusal::period_in_replay_window, "period_in_replay_window"},
    {PeriodRefusal::not_partitioned, "not_partitioned"},
    {PeriodRefusal::not_owner, "not_owner"},
    {PeriodRefusal::archive_exists, "archive_exists"},
    {PeriodRefusal::archive_invalid, "archive_invalid"},
}};
static_assert(names_every_value(period_refusal_names));  // every value named once (ledger/names.hpp)
inline std::string_view to_string(PeriodRefusal r) { return name_of(period_refusal_names, r); }
using PeriodRefusalOf = Refusal<PeriodRefusal>;

// "2026-11" -> 2026/Nov; field "month".
Expected<date::year_month, PeriodRefusalOf> parse_month(std::string_view text);
std::string format_month(date::year_month month);  // 2026-11

struct Period {
  std::string month;  // YYYY-MM
  std::int64_t verified_lines = 0;
  std::int64_t anchors = 0;
  std::int64_t links = 0;
  std::string chain_digest;  // of the anchors: what the auditors keep outside the database
  std::string closed_at;     // UTC, RFC 3339
  std::string closed_by;
  std::string state;  // closed | archived | restored (the latest archive or restore event)
};

// Closes the month (in a REPEATABLE READ transaction, under the periods' session lock, so two closes
// take turns). Closing a closed month answers its row again.
Expected<Period, PeriodRefusalOf> close_period(Database& database, date::year_month month);
// Every closed month, oldest first.
std::vector<Period> list_periods(Database& database);

struct ArchivedFile {
  std::string table;      // ledger.journal_line, ..., or ledger.period_anchor for the period's own rows
  std::string partition;  // the partition it held (empty for the period's rows)
  std::string file;       // name inside the archive folder
  std::int64_t rows = 0;
  std::int64_t bytes = 0;
  std::string sha256;  // of the compressed file, as sha256sum prints it
};
struct ArchiveReport {
  std::string month;
  std::string folder;
  std::string chain_digest;     // the month's, from its close
  std::string manifest_sha256;  // of manifest.json
  std::vector<ArchivedFile> files;
  bool dropped = false;  // archive: the partitions were detached and dropped after the files verified
};

// Writes the month's partitions to `folder` (created if missing; refused if it holds a manifest),
// reads every file back against its row count and checksum, then detaches and drops the partitions in
// one transaction. Nothing is dropped unless every file verified. Owner only; only a closed month
// before the replay window.
Expected<ArchiveReport, PeriodRefusalOf> archive_period(Database& database, date::year_month month,
                                                        const std::filesystem::path& folder);
// Checks every file against the manifest (a missing or changed file refuses the whole restore), then
// makes the month's partitions and loads them in one transaction; into a database without the month's
// close (an empty copy made by `db migrate`), the close's rows are loaded too.
Expected<ArchiveReport, PeriodRefusalOf> restore_period(Database& database, const std::filesystem::path& folder);

// The months in [from, to] whose partitions are archived (and not restored since), oldest first, as
// YYYY-MM. The session form reads on the caller's session (a report's, so that it needs no second lease).
std::vector<std::string> archived_months(Database& database, date::year_month_day from, date::year_month_day to);
std::vector<std::string> archived_months(soci::session& session, date::year_month_day from, date::year_month_day to);

struct Maintenance {
  std::int64_t partitions_guarded = 0;  // new partitions given the TRUNCATE guard
  std::int64_t claims_deleted = 0;      // claims dated before the replay window
  std::string partitions_through;       // the last day the partitions cover (YYYY-MM-DD), or empty
};
// `promoledger db maintain`: pg_partman's maintenance (months ahead), guards, and old claims.
Maintenance maintain(Database& database);

}  // namespace promoledger::ledger
