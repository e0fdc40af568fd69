#pragma once
// Reading the bodies and parameters the API takes from outside. Everything a request carries is
// checked here, before anything reaches the database: a request that fails gets a 400 that names the
// field at fault, and costs the ledger nothing. Pure functions, no I/O (a libFuzzer target's food).

#include <optional>
#include <string>
#include <string_view>

#include <date/date.h>

#include "promoledger/ledger/expected.hpp"
#include "promoledger/promo/payments.hpp"

namespace promoledger::service {

// Why a request cannot be read: a reason code (invalid_json, missing_field, unknown_field,
// invalid_field), words, and the field at fault (empty when the body as a whole is).
struct BadRequest {
  std::string error;
  std::string message;
  std::string field;
};

// POST /v1/payments: a JSON object with exactly payment_id, payer, merchant, channel, amount (a
// decimal string) and paid_at (RFC 3339 with an offset: the service will not guess a zone).
Expected<promo::PaymentRequest, BadRequest> parse_payment_body(std::string_view body);

// POST /v1/payments/{id}/reversal: an empty body, or {"business_day": "YYYY-MM-DD"}.
Expected<std::optional<date::year_month_day>, BadRequest> parse_reversal_body(std::string_view body);

// POST /v1/campaigns/{id}/pause|resume|end: an empty body, or {"reason": "..."} (at most
// reason_bytes_max bytes of UTF-8, no control characters). "" when no reason is given.
inline constexpr std::size_t reason_bytes_max = 500;
Expected<std::string, BadRequest> parse_reason_body(std::string_view body);

// A payment id in a path: 1..64 of A-Z a-z 0-9 _ . : - (the ids promo.payment can hold).
bool valid_payment_id(std::string_view id);
// A campaign id in a path: 1..18 decimal digits.
std::optional<std::int64_t> parse_campaign_id(std::string_view text);

}  // namespace promoledger::service
