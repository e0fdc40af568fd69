#include "promoledger/eod/refusal.hpp"

#include "promoledger/ledger/names.hpp"

namespace promoledger::eod {
namespace {

constexpr ledger::NameTable<Code, 23> names{{
    {Code::business_day_open, "business_day_open"},
    {Code::invalid_day, "invalid_day"},
    {Code::unknown_branch, "unknown_branch"},
    {Code::unknown_merchant, "unknown_merchant"},
    {Code::unknown_org_unit, "unknown_org_unit"},
    {Code::unmapped_accounts, "unmapped_accounts"},
    {Code::invalid_mapping, "invalid_mapping"},
    {Code::unknown_batch, "unknown_batch"},
    {Code::unknown_line, "unknown_line"},
    {Code::extract_differs, "extract_differs"},
    {Code::ack_conflicts, "ack_conflicts"},
    {Code::invalid_ack, "invalid_ack"},
    {Code::too_many_lines, "too_many_lines"},
    {Code::invalid_format, "invalid_format"},
    {Code::unknown_profile, "unknown_profile"},
    {Code::file_too_large, "file_too_large"},
    {Code::wrong_encoding, "wrong_encoding"},
    {Code::missing_column, "missing_column"},
    {Code::invalid_amount, "invalid_amount"},
    {Code::invalid_value, "invalid_value"},
    {Code::truncated_file, "truncated_file"},
    {Code::duplicate_id, "duplicate_id"},
    {Code::wrong_day, "wrong_day"},
}};
static_assert(ledger::names_every_value(names));  // every value named once (ledger/names.hpp)

}  // namespace

std::string_view to_string(Code code) { return ledger::name_of(names, code); }
std::optional<Code> code_from_string(std::string_view text) { return ledger::value_named(names, text); }

}  // namespace promoledger::eod
