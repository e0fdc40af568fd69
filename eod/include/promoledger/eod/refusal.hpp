#pragma once
// The end-of-day refusals: one flat list of stable names (they are written in JSON, CSV and the API's
// error bodies; never change the meaning of one), carried in the one refusal shape the project decided
// (HELPERS.md, issue 21): {code, field, message}. Until ledger/refusal.hpp is on main, the template is
// defined here with exactly that shape; switching is replacing the struct below by
// `using ledger::Refusal;`.
//
// Thread safety: value types and pure functions over a constant table.

#include <optional>
#include <string>
#include <string_view>

namespace promoledger::eod {

template <class Code>
struct Refusal {
  Code code;
  std::string field;    // the option, column or record it concerns ("--date", "line 17: 商户订单号"); may be empty
  std::string message;  // words for a person: what, where, what to do
};

enum class Code {
  // days and master data
  business_day_open,    // the day is not closed yet: nothing leaves the building before it is
  invalid_day,          // malformed or out of range
  unknown_branch,
  unknown_merchant,
  unknown_org_unit,
  // the GL journal
  unmapped_accounts,    // accounts the day touches have no GL account or booking unit (named in message)
  invalid_mapping,      // a mapping row that cannot be (bad class, GL code, booking)
  unknown_batch,
  unknown_line,
  extract_differs,      // re-extracting a closed day gave other bytes than recorded: the day changed
  ack_conflicts,        // a batch acknowledged again with another answer
  invalid_ack,          // the GL's answer file is malformed
  too_many_lines,       // a drill-down beyond its limit (narrow it)
  // statements
  invalid_format,
  // clearing files (nothing is stored when a file is refused)
  unknown_profile,
  file_too_large,
  wrong_encoding,
  missing_column,
  invalid_amount,
  invalid_value,        // a malformed time, status or id
  truncated_file,
  duplicate_id,
  wrong_day,            // the file is of another day than --date
};

std::string_view to_string(Code code);
std::optional<Code> code_from_string(std::string_view text);

using EodRefusal = Refusal<Code>;

inline EodRefusal refuse(Code code, std::string field, std::string message) {
  return EodRefusal{code, std::move(field), std::move(message)};
}

}  // namespace promoledger::eod
