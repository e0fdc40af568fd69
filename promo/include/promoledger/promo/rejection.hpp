#pragma once
// Business rejections of the promotion engine: a flat list of stable names (they appear in JSON and
// reports; never change the meaning of one). Each comes with words that say what and where.

#include <optional>
#include <string>
#include <string_view>

#include "promoledger/ledger/refusal.hpp"

namespace promoledger::promo {

enum class Reject {
  // campaigns
  invalid_parameters,
  unknown_campaign,
  unknown_branch,
  unknown_merchant,
  merchant_outside_branch,
  merchant_in_other_campaign,
  maker_checker,
  invalid_transition,
  // payments
  invalid_payment_id,
  amount_must_be_positive,
  amount_too_large,
  unknown_channel,
  business_day_mismatch,
  unknown_payer,
  exists_with_different_content,
  external_ref_taken,
  insufficient_funds,
  unknown_payment,
  already_reversed,
  business_day_closed,     // the payment's (or reversal's) business day is closed
  paid_at_in_future,       // the payment time is further ahead of the database clock than the tolerance
  business_day_in_future,  // a reversal dated after the bank's date (clock plus tolerance)
  cannot_reverse_a_reversal,
  replay_window_passed,    // dated before the replay window: neither posted nor answered (migration 0014)
};
std::string_view to_string(Reject);
std::optional<Reject> reject_from_string(std::string_view);

// The refusal (ledger/refusal.hpp): the code, the input at fault ("merchants", "payment_id",
// "amount", ...; empty when no single one is) and words that say what and where.
using Rejection = ledger::Refusal<Reject>;

// The field of a payment request (PaymentRequest, POST /v1/payments) that a refusal of a payment
// concerns: payment_id, payer, merchant, channel, amount or paid_at (business_day for a reversal
// dated ahead); empty when no one field is at fault (insufficient_funds). For refusals the database returns, which
// carry a status and words but no field.
std::string payment_field(Reject code);

}  // namespace promoledger::promo
