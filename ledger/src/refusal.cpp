#include "promoledger/ledger/refusal.hpp"

#include "promoledger/ledger/names.hpp"

namespace promoledger::ledger {
namespace {

constexpr NameTable<InvalidValue, 2> invalid_value_names{{
    {InvalidValue::malformed, "malformed"},
    {InvalidValue::out_of_range, "out_of_range"},
}};
static_assert(names_every_value(invalid_value_names));

}  // namespace

std::string_view to_string(InvalidValue code) { return name_of(invalid_value_names, code); }

}  // namespace promoledger::ledger
