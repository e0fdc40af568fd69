#include "promoledger/promo/rejection.hpp"

#include <array>
#include <cassert>
#include <utility>
#include "promoledger/ledger/names.hpp"

namespace promoledger::promo {
namespace {

constexpr ledger::NameTable<Reject, 24> names{{
    {Reject::invalid_parameters, "invalid_parameters"},
    {Reject::unknown_campaign, "unknown_campaign"},
    {Reject::unknown_branch, "unknown_branch"},
    {Reject::unknown_merchant, "unknown_merchant"},
    {Reject::merchant_outside_branch, "merchant_outside_branch"},
    {Reject::merchant_in_other_campaign, "merchant_in_other_campaign"},
    {Reject::maker_checker, "maker_checker"},
    {Reject::invalid_transition, "invalid_transition"},
    {Reject::invalid_payment_id, "invalid_payment_id"},
    {Reject::amount_must_be_positive, "amount_must_be_positive"},
    {Reject::amount_too_large, "amount_too_large"},
    {Reject::unknown_channel, "unknown_channel"},
    {Reject::business_day_mismatch, "business_day_mismatch"},
    {Reject::unknown_payer, "unknown_payer"},
    {Reject::exists_with_different_content, "exists_with_different_content"},
    {Reject::external_ref_taken, "external_ref_taken"},
    {Reject::insufficient_funds, "insufficient_funds"},
    {Reject::unknown_payment, "unknown_payment"},
    {Reject::already_reversed, "already_reversed"},
    {Reject::business_day_closed, "business_day_closed"},
    {Reject::paid_at_in_future, "paid_at_in_future"},
    {Reject::business_day_in_future, "business_day_in_future"},
    {Reject::cannot_reverse_a_reversal, "cannot_reverse_a_reversal"},
    {Reject::replay_window_passed, "replay_window_passed"},
}};
static_assert(ledger::names_every_value(names));

}  // namespace

std::string_view to_string(Reject reject) { return ledger::name_of(names, reject); }
std::optional<Reject> reject_from_string(std::string_view text) { return ledger::value_named(names, text); }

std::string payment_field(Reject code) {
  switch (code) {
    case Reject::invalid_payment_id:
    case Reject::exists_with_different_content:
    case Reject::external_ref_taken:
    case Reject::unknown_payment:
    case Reject::already_reversed:
    case Reject::cannot_reverse_a_reversal: return "payment_id";
    case Reject::amount_must_be_positive:
    case Reject::amount_too_large: return "amount";
    case Reject::unknown_channel: return "channel";
    case Reject::business_day_mismatch:
    case Reject::paid_at_in_future:
    case Reject::business_day_closed:
    case Reject::replay_window_passed: return "paid_at";  // the payment time decides its day
    case Reject::unknown_payer: return "payer";
    case Reject::unknown_merchant: return "merchant";
    case Reject::business_day_in_future: return "business_day";  // a reversal's day
    case Reject::insufficient_funds:  // the payer's deposit: an account's limit, not one field
    case Reject::invalid_parameters:
    case Reject::unknown_campaign:
    case Reject::unknown_branch:
    case Reject::merchant_outside_branch:
    case Reject::merchant_in_other_campaign:
    case Reject::maker_checker:
    case Reject::invalid_transition: return "";
  }
  return "";
}

}  // namespace promoledger::promo
