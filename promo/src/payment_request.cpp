#include "promoledger/promo/payment_request.hpp"

#include <fmt/format.h>

#include "promoledger/ledger/business_day.hpp"

namespace promoledger::promo {
namespace {

using ledger::InvalidValue;
using ledger::ValueRefusal;

bool ascii_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// An excerpt of a value for a message: bounded, and with control characters shown as '?'.
std::string excerpt(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 40)) out += (c < 0x20 || c == 0x7F) ? '?' : static_cast<char>(c);
  return s.size() > 40 ? out + "…" : out;
}

Unexpected<ValueRefusal> refuse(const char* field, std::string words, InvalidValue code = InvalidValue::malformed) {
  return unexpected(ValueRefusal{code, field, fmt::format("{}: {}", field, words)});
}

}  // namespace

bool valid_payment_id(std::string_view id) {
  if (id.empty() || id.size() > payment_id_length_max) return false;
  for (char c : id) {
    if (!ascii_alnum(c) && c != '_' && c != '.' && c != ':' && c != '-') return false;
  }
  return true;
}

bool valid_party_code(std::string_view code) {
  if (code.empty() || code.size() > party_code_length_max) return false;
  for (char c : code) {
    if (!ascii_alnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

Expected<PaymentRequest, ValueRefusal> payment_request_from(const PaymentFields& f, PaymentInputPolicy policy) {
  if (!valid_payment_id(f.payment_id)) {
    return refuse("payment_id", fmt::format("\"{}\" must be 1..{} of A-Z a-z 0-9 _ . : -", excerpt(f.payment_id),
                                            payment_id_length_max));
  }
  for (const auto& [name, value] : {std::pair<const char*, const std::string*>{"payer", &f.payer}, {"merchant", &f.merchant}}) {
    if (!valid_party_code(*value)) {
      return refuse(name, fmt::format("\"{}\" must be 1..{} of A-Z a-z 0-9 _ . -", excerpt(*value), party_code_length_max));
    }
  }
  const auto channel = channel_from_string(f.channel);
  if (!channel) return refuse("channel", fmt::format("\"{}\" is not bank_app, wechat or alipay", excerpt(f.channel)));
  const auto amount = ledger::Money::parse(f.amount);
  if (!amount) return unexpected(ledger::about("amount", amount.error()));
  if (!amount->is_positive()) {
    return refuse("amount", fmt::format("{} must be > 0", amount->str()), InvalidValue::out_of_range);
  }
  ledger::Timestamp paid_at{};
  if (f.paid_at.empty()) {
    if (!policy.empty_time_is_now) return refuse("paid_at", "is required");
    paid_at = ledger::now();
  } else {
    if (!policy.local_time_without_offset && !ledger::has_utc_offset(f.paid_at)) {
      return refuse("paid_at", fmt::format("\"{}\" needs an offset (Z or +08:00): no time zone is guessed",
                                           excerpt(f.paid_at)));
    }
    const auto parsed = ledger::parse_timestamp(f.paid_at);
    if (!parsed) return unexpected(ledger::about("paid_at", parsed.error()));
    paid_at = *parsed;
  }
  return PaymentRequest{f.payment_id, f.payer, f.merchant, *channel, *amount, paid_at};
}

}  // namespace promoledger::promo
