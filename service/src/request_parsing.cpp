#include "promoledger/service/request_parsing.hpp"

#include <array>
#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/promo/payment_request.hpp"

namespace promoledger::service {
namespace {

using nlohmann::json;

constexpr std::size_t body_fields_max = 6;

BadRequest bad(std::string error, std::string field, std::string message) {
  return BadRequest{std::move(error), std::move(message), std::move(field)};
}

// Text a person typed: printable, no control characters (NUL, newlines, escapes). The JSON parser has
// already refused invalid UTF-8.
bool printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

// An excerpt of a value for a message: bounded, and with control characters shown as '?'.
std::string excerpt(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 40)) out += (c < 0x20 || c == 0x7F) ? '?' : static_cast<char>(c);
  return s.size() > 40 ? out + "…" : out;
}



Expected<json, BadRequest> parse_object(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return unexpected(bad("invalid_json", "", "the body is not valid JSON (UTF-8, RFC 8259)"));
  }
  if (!doc.is_object()) return unexpected(bad("invalid_json", "", "the body must be a JSON object"));
  return doc;
}

}  // namespace

// The rule has one definition, promo's (TermsAgreeTest holds it to promo.payment_id_valid in SQL).
bool valid_payment_id(std::string_view id) { return promo::valid_payment_id(id); }

std::optional<std::int64_t> parse_campaign_id(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

Expected<promo::PaymentRequest, BadRequest> parse_payment_body(std::string_view body) {
  auto doc = parse_object(body);
  if (!doc) return unexpected(doc.error());
  static constexpr std::array<const char*, body_fields_max> fields{"payment_id", "payer",  "merchant",
                                                                   "channel",    "amount", "paid_at"};
  for (const auto& [key, value] : doc->items()) {
    if (std::find(fields.begin(), fields.end(), key) == fields.end()) {
      return unexpected(bad("unknown_field", excerpt(key), fmt::format("\"{}\" is not a field of a payment", excerpt(key))));
    }
  }
  std::array<std::string, body_fields_max> text;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const auto it = doc->find(fields[i]);
    if (it == doc->end() || it->is_null()) {
      return unexpected(bad("missing_field", fields[i], fmt::format("{} is required", fields[i])));
    }
    if (!it->is_string()) {
      return unexpected(bad("invalid_field", fields[i],
                            fmt::format("{} must be a string{}", fields[i],
                                        std::string_view(fields[i]) == "amount" ? " such as \"100.00\" (money is never a JSON number)" : "")));
    }
    text[i] = it->get<std::string>();
    if (!printable(text[i])) {
      return unexpected(bad("invalid_field", fields[i], fmt::format("{} holds a control character", fields[i])));
    }
  }
  // The same reader as the command's (promo::payment_request_from), with the API's policy: no time
  // zone or time is guessed. Its refusal names the field; the API calls every one invalid_field.
  const auto& [id, payer, merchant, channel, amount, paid_at] = text;
  auto req = promo::payment_request_from(promo::PaymentFields{id, payer, merchant, channel, amount, paid_at},
                                         promo::api_payment_input);
  if (!req) return unexpected(bad("invalid_field", req.error().field, req.error().message));
  return std::move(*req);
}

Expected<std::optional<date::year_month_day>, BadRequest> parse_reversal_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::optional<date::year_month_day>{};
  auto doc = parse_object(body);
  if (!doc) return unexpected(doc.error());
  for (const auto& [key, value] : doc->items()) {
    if (key != "business_day") {
      return unexpected(bad("unknown_field", excerpt(key), fmt::format("\"{}\" is not a field of a reversal", excerpt(key))));
    }
  }
  const auto it = doc->find("business_day");
  if (it == doc->end() || it->is_null()) return std::optional<date::year_month_day>{};
  if (!it->is_string()) return unexpected(bad("invalid_field", "business_day", "business_day must be a string YYYY-MM-DD"));
  auto day = ledger::parse_day(it->get<std::string>());
  if (!day) return unexpected(bad("invalid_field", "business_day", fmt::format("business_day: {}", day.error().message)));
  return std::optional<date::year_month_day>{*day};
}

}  // namespace promoledger::service

namespace promoledger::service {

Expected<std::string, BadRequest> parse_reason_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::string{};
  auto doc = parse_object(body);
  if (!doc) return unexpected(doc.error());
  for (const auto& [key, value] : doc->items()) {
    if (key != "reason") {
      return unexpected(bad("unknown_field", excerpt(key), fmt::format("\"{}\" is not a field of this request", excerpt(key))));
    }
  }
  const auto it = doc->find("reason");
  if (it == doc->end() || it->is_null()) return std::string{};
  if (!it->is_string()) return unexpected(bad("invalid_field", "reason", "reason must be a string"));
  std::string reason = it->get<std::string>();
  // Counted in bytes: 500 bytes hold ~160 Chinese characters, plenty for a reason and bounded for a log line.
  if (reason.size() > reason_bytes_max) {
    return unexpected(bad("invalid_field", "reason", fmt::format("reason: at most {} bytes", reason_bytes_max)));
  }
  if (!printable(reason)) return unexpected(bad("invalid_field", "reason", "reason: no control characters"));
  return reason;
}

}  // namespace promoledger::service
