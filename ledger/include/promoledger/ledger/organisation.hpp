#pragma once
// The organisation (branch 分行 -> sub-branch 支行 -> outlet 网点, merchants at outlets, payers) and
// the payers' opening deposits, imported in one transaction: all or nothing.
//
// The opening deposits are general entries (Dr bank:funding, Cr payer:P:deposit) posted through
// ledger::post_in, the one way an entry reaches the journal from C++ (ledger.hpp). Each is referenced by
// its payer ("opening:payer:P"): importing the same file again replays them; a payer opened earlier
// with the same amount (on any day) is left alone; another amount is refused.
//
// Thread safety: a free function; it leases its own session.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"
#include "promoledger/ledger/refusal.hpp"

namespace promoledger::ledger {

// Stored as text in ledger.org_unit.kind (branch, sub_branch, outlet) or as its own table.
enum class OrgKind { branch, sub_branch, outlet, merchant, payer };
inline constexpr std::array<OrgKind, 5> org_kinds{OrgKind::branch, OrgKind::sub_branch, OrgKind::outlet,
                                                   OrgKind::merchant, OrgKind::payer};
std::string_view to_string(OrgKind);
std::optional<OrgKind> org_kind_from_string(std::string_view);

struct OrgRecord {
  std::size_t line = 0;  // where the record came from (a CSV line), for the error
  OrgKind kind = OrgKind::branch;
  std::string code;
  std::string name;
  std::string parent;                    // empty for branches and payers
  std::optional<Money> opening_balance;  // payers only; > 0
};

struct OrgImportReport {
  std::array<std::size_t, org_kinds.size()> records{};  // by OrgKind
  std::size_t openings_posted = 0;
  std::size_t openings_existing = 0;  // replays, or payers opened by an earlier import
};

// Why an import was refused (stable names: JSON and exit messages carry them).
enum class OrgImportReject {
  invalid_input,                  // the input as a whole: too many records, no opening day, a database constraint
  invalid_record,                 // one record: an empty code or name, a missing parent, an opening balance <= 0
  exists_with_different_content,  // a payer was opened earlier with another amount
  business_day_closed,            // the opening deposits' day is closed
  business_day_in_future,         // ... or after the bank's date (ledger.posting_policy)
  opening_refused,                // the ledger refused an opening deposit otherwise (the message says why)
};
std::string_view to_string(OrgImportReject);

// The refusal (ledger/refusal.hpp: code, field, message; the field is the record's column, e.g.
// "parent", or empty) and the record's line, 0 when no single record is at fault.
struct OrgImportError : Refusal<OrgImportReject> {
  OrgImportError(OrgImportReject code_, std::size_t line_, std::string field_, std::string message_)
      : Refusal(code_, std::move(field_), std::move(message_)), line(line_) {}
  std::size_t line = 0;
};

inline constexpr std::size_t org_records_max = 1'000'000;

// Checks every record before writing anything (a rejection names the first bad record), then writes
// all of them and the opening deposits dated `opening_day` in one transaction.
Expected<OrgImportReport, OrgImportError> import_organisation(Database& database, const std::vector<OrgRecord>& records,
                                                              date::year_month_day opening_day);

}  // namespace promoledger::ledger
