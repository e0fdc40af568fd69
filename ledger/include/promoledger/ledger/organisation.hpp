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

struct OrgImportError {
  std::string code;      // stable: invalid_record, invalid_input, exists_with_different_content, a ledger Reject
  std::size_t line = 0;  // the record's line; 0 when no single record is at fault
  std::string detail;
};

inline constexpr std::size_t org_records_max = 1'000'000;

// Checks every record before writing anything (a rejection names the first bad record), then writes
// all of them and the opening deposits dated `opening_day` in one transaction.
Expected<OrgImportReport, OrgImportError> import_organisation(Database& database, const std::vector<OrgRecord>& records,
                                                              date::year_month_day opening_day);

}  // namespace promoledger::ledger
