#pragma once
// The end-of-day GL journal (总账接口): what a closed business day hands the bank's core general ledger,
// one file per branch, summarised per (org unit, GL account, side). docs/integration.md describes the
// file field by field; this header states what a caller may rely on.
//
// Promises:
// - Only a closed day is extracted (business_day_open otherwise): its journal no longer moves.
// - Every journal line of the day is behind exactly one D record (drill_down lists them); each org
//   unit's D records balance (an inter-unit record, mapped by class inter_unit, balances a unit whose
//   lines do not); so each file balances.
// - Extracting the same closed day again gives byte-identical files and records nothing: the file is
//   recomputed from the journal with the mapping version recorded at the first extract, and refused as
//   extract_differs if its SHA-256 is not the recorded one (the closed day changed: a case for audit).
//   generated_at is the day's close time, not the time of the extract.
// - A batch the GL rejected (acknowledge) is followed, at the next extract, by a new batch of the
//   next sequence with the mapping in force then; an accepted or unanswered batch is never replaced.
// - A day touching any account without a GL account or booking unit is refused (unmapped_accounts,
//   the accounts named), and so is a unit that needs an inter-unit record without an inter_unit mapping.
// - Set-wise: the day's lines are summarised by one SQL statement (no round trip per entry or line).
//
// Thread safety: free functions; each leases its own session. Concurrent extracts of the same day are
// serialised by the batch table's primary key (the loser's transaction fails and may be re-run).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "promoledger/eod/refusal.hpp"
#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"

namespace promoledger::eod {

// ---------------------------------------------------------------------------------------------------
// The mapping (eod.gl_mapping, migration 0020): data with its history, like the posting policy.

enum class AccountClass { payer_deposit, merchant_settlement, outlet_subsidy, bank_funding, inter_unit, account };
std::string_view to_string(AccountClass);
std::optional<AccountClass> account_class_from_string(std::string_view);

enum class Booking { account_unit, fixed };
std::string_view to_string(Booking);
std::optional<Booking> booking_from_string(std::string_view);

struct MappingRow {
  std::int64_t id = 0;  // the mapping version this row created
  AccountClass account_class = AccountClass::account;
  std::string account_code;               // class account only
  std::optional<std::string> gl_account;  // nullopt: the campaign's GL code (outlet_subsidy only)
  Booking booking = Booking::account_unit;
  std::string org_code;  // booking fixed only
  std::string reason;
  std::string changed_at_utc;
  std::string changed_by;
};

struct MappingChange {
  AccountClass account_class = AccountClass::account;
  std::string account_code;               // required for class account, refused otherwise
  std::optional<std::string> gl_account;  // 1..16 of [0-9A-Za-z]; nullopt only for outlet_subsidy
  Booking booking = Booking::account_unit;
  std::string org_code;  // required for booking fixed (an existing org unit), refused otherwise
  std::string reason;    // 1..500 bytes: why
};

inline constexpr std::size_t mapping_rows_max = 10'000;
inline constexpr std::size_t mapping_reason_length_max = 500;

// The rows in force now (one per class or account), and every change oldest first (bounded).
std::vector<MappingRow> mapping_in_force(ledger::Database& database);
std::vector<MappingRow> mapping_history(ledger::Database& database);
// Adds a row (the owner only: another role gets DatabaseError 42501). invalid_mapping or
// unknown_org_unit with the field at fault.
Expected<MappingRow, EodRefusal> set_mapping(ledger::Database& database, const MappingChange& change);

// ---------------------------------------------------------------------------------------------------
// The extract.

inline constexpr std::string_view gl_source = "PROMOLEDGER";
inline constexpr int gl_format_version = 1;

enum class GlSide : char { debit = 'D', credit = 'C' };

struct GlRecord {
  int line_no = 0;
  std::string org_code;
  std::string gl_account;
  GlSide side = GlSide::debit;
  ledger::WideFen amount_fen = 0;  // on `side`; the other column is 0
  std::string text;
  std::int64_t first_entry_id = 0;
  std::int64_t last_entry_id = 0;
  // The journal entries behind the record (an entry with two lines in it counts once). For an
  // inter-unit record, which is derived from its unit's day and not from entries of its own: the
  // unit's journal lines, the rows `gl lines` lists for it; first and last are the unit's.
  std::int64_t entry_count = 0;
  bool inter_unit = false;  // the balancing record of its org unit
};

struct GlFile {
  std::string batch_id;  // PROMO-<yyyymmdd>-<branch>-<seq>
  std::string business_day;
  std::string branch_code;
  int seq = 1;
  std::string file_name;  // GL_PROMO_<yyyymmdd>_<branch>_<seq>.csv
  std::string generated_at;  // the day's close time, "2026-11-25T00:10:03+08:00"
  std::int64_t mapping_version = 0;
  std::vector<GlRecord> records;
  ledger::WideFen debit_total_fen = 0;
  ledger::WideFen credit_total_fen = 0;
  std::string d_records_sha256;  // of the D lines as written (the trailer's checksum)
  std::string content;           // the whole file, UTF-8, \n line ends
  std::string sha256;            // of content
  bool recorded_now = false;     // a new batch (false: the recorded batch again, byte-identical)
};

struct GlExtract {
  std::string business_day;
  std::vector<GlFile> files;  // one per branch, by branch code
};

// Every branch (or the one named) of a closed day. REQUIRES nothing; refusals: business_day_open,
// unknown_branch, unmapped_accounts, extract_differs.
Expected<GlExtract, EodRefusal> extract_day(ledger::Database& database, date::year_month_day day,
                                            const std::optional<std::string>& branch_code = std::nullopt);
// Writes each file into `directory` (created if missing); returns the paths. Throws on I/O failure.
std::vector<std::string> write_files(const GlExtract& extract, const std::string& directory);

// A recorded batch, recomputed (GET /v1/gl/batches/{id}): unknown_batch or extract_differs.
Expected<GlFile, EodRefusal> batch_file(ledger::Database& database, const std::string& batch_id);

// ---------------------------------------------------------------------------------------------------
// Status, drill-down and the GL's answers.

struct BatchStatus {
  std::string batch_id;
  std::string business_day;
  std::string branch_code;
  int seq = 0;
  std::string file_name;
  std::int64_t record_count = 0;
  ledger::WideFen debit_total_fen = 0;
  ledger::WideFen credit_total_fen = 0;
  std::string sha256;
  std::string status;  // extracted | accepted | rejected
  std::string reason;  // the GL's reason for a rejection
  std::string extracted_at_utc;
  std::string acknowledged_at_utc;  // empty until answered
};
inline constexpr std::size_t batches_per_day_max = 10'000;
// Every batch of a day, by branch and sequence (empty when none was extracted).
std::vector<BatchStatus> batches_of_day(ledger::Database& database, date::year_month_day day);

struct DrillLine {
  std::int64_t entry_id = 0;
  int line_no = 0;
  std::string external_ref;
  std::string kind;
  std::string account_code;
  GlSide side = GlSide::debit;
  ledger::Money amount;
};
struct DrillDown {
  std::string batch_id;
  GlRecord record;
  std::vector<DrillLine> lines;  // by entry id and line number
  bool more = false;             // more lines follow than `limit`
};
inline constexpr std::size_t drill_lines_max = 100'000;
// The journal lines behind D record `line_no` of a batch (what Oracle's GL_IMPORT_REFERENCES gives): for
// an inter-unit record, every line of its org unit that day. unknown_batch, unknown_line.
// REQUIRES: 1 <= limit <= drill_lines_max.
Expected<DrillDown, EodRefusal> drill_down(ledger::Database& database, const std::string& batch_id, int line_no,
                                           std::size_t limit = 1000);

// The GL's answer file (docs/integration.md): UTF-8 CSV, header `batch_id,status,reason`, one row per
// batch, status ACCEPTED or REJECTED (a rejection needs its reason). All rows or none are recorded:
// invalid_ack (with the line), unknown_batch, ack_conflicts (answered before with another answer).
struct AckOutcome {
  std::string batch_id;
  std::string status;  // accepted | rejected
  std::string reason;
  bool recorded_now = false;  // false: the same answer was recorded before
};
inline constexpr std::size_t ack_rows_max = 10'000;
Expected<std::vector<AckOutcome>, EodRefusal> acknowledge(ledger::Database& database, std::string_view ack_file);

}  // namespace promoledger::eod
