// Fuzzes what the HTTP API reads from outside (service/request_parsing.hpp): the body of
// POST /v1/payments (parse_payment_body), the body of POST /v1/payments/{id}/reversal
// (parse_reversal_body), the reason of a campaign step (parse_reason_body), and the path parameters (valid_payment_id, parse_campaign_id). The whole
// input is fed to each.
// Properties: never throws; an accepted payment has a payment_id matching ^[A-Za-z0-9_.:-]{1,64}$,
// payer and merchant of 1..64 printable bytes, a known channel, 0 < amount <= fen_abs_max, and
// written back as a canonical body it parses to the same request; a refusal carries one of the four
// documented reason codes and a message; the path checks agree with independent reference checks.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/promo/payments.hpp"
#include "promoledger/service/request_parsing.hpp"

namespace service = promoledger::service;
namespace promo = promoledger::promo;
using nlohmann::json;

namespace {

bool id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
         c == '-';
}

// ^[A-Za-z0-9_.:-]{1,64}$
bool reference_payment_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!id_char(c)) return false;
  }
  return true;
}

// ^[0-9]{1,18}$ and not all zeros.
std::optional<std::int64_t> reference_campaign_id(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v == 0) return std::nullopt;
  return v;
}

bool printable_code(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return false;
  }
  return true;
}

void check_bad_request(const service::BadRequest& e) {
  FUZZ_CHECK(e.error == "invalid_json" || e.error == "missing_field" || e.error == "unknown_field" ||
             e.error == "invalid_field");
  FUZZ_CHECK(!e.message.empty());
  if (e.error == "invalid_json") FUZZ_CHECK(e.field.empty());
  // (The converse does not hold: an unknown empty key, {"": 1}, is named by its empty name.)
  if (e.error == "missing_field" || e.error == "invalid_field") FUZZ_CHECK(!e.field.empty());
}

void check_payment(std::string_view body) {
  std::optional<promoledger::Expected<promo::PaymentRequest, service::BadRequest>> parsed;
  FUZZ_NO_THROW(parsed.emplace(service::parse_payment_body(body)));
  if (!*parsed) {
    check_bad_request(parsed->error());
    return;
  }
  const promo::PaymentRequest& req = parsed->value();
  FUZZ_CHECK(reference_payment_id(req.payment_id));
  FUZZ_CHECK(service::valid_payment_id(req.payment_id));
  FUZZ_CHECK(printable_code(req.payer));
  FUZZ_CHECK(printable_code(req.merchant));
  const std::string_view channel = promo::to_string(req.channel);
  FUZZ_CHECK(channel == "bank_app" || channel == "wechat" || channel == "alipay");
  FUZZ_CHECK(req.amount.is_positive());
  FUZZ_CHECK(req.amount.fen() <= promoledger::ledger::Money::fen_abs_max);

  // The body was a JSON object with exactly the six fields, all strings.
  const json doc = json::parse(body);
  FUZZ_CHECK(doc.is_object() && doc.size() == 6);
  FUZZ_CHECK(doc.at("payment_id").get<std::string>() == req.payment_id);
  FUZZ_CHECK(doc.at("payer").get<std::string>() == req.payer);
  FUZZ_CHECK(doc.at("merchant").get<std::string>() == req.merchant);
  FUZZ_CHECK(doc.at("channel").get<std::string>() == channel);
  const auto amount = promoledger::ledger::Money::parse(doc.at("amount").get<std::string>());
  FUZZ_CHECK(amount && *amount == req.amount);

  // Written back canonically (amount as str(), paid_at in UTC with Z), it reads as the same request.
  std::string utc = promoledger::ledger::format_timestamp_utc(req.paid_at);
  utc = utc.substr(0, utc.size() - 3) + "Z";
  utc[10] = 'T';
  const json canonical = {{"payment_id", req.payment_id}, {"payer", req.payer},           {"merchant", req.merchant},
                          {"channel", channel},           {"amount", req.amount.str()}, {"paid_at", utc}};
  const int utc_year = int(date::year_month_day{date::floor<date::days>(req.paid_at)}.year());
  if (utc_year >= 2000 && utc_year <= 2199) {
    auto again = service::parse_payment_body(canonical.dump());
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->payment_id == req.payment_id && again->payer == req.payer && again->merchant == req.merchant);
    FUZZ_CHECK(again->channel == req.channel && again->amount == req.amount && again->paid_at == req.paid_at);
  }
}

void check_reversal(std::string_view body) {
  std::optional<promoledger::Expected<std::optional<date::year_month_day>, service::BadRequest>> parsed;
  FUZZ_NO_THROW(parsed.emplace(service::parse_reversal_body(body)));
  const bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) FUZZ_CHECK(parsed->has_value() && !parsed->value().has_value());
  if (!*parsed) {
    check_bad_request(parsed->error());
    return;
  }
  if (const auto& day = parsed->value()) {
    FUZZ_CHECK(day->ok());
    const json doc = json::parse(body);
    FUZZ_CHECK(doc.is_object() && doc.size() == 1);
    FUZZ_CHECK(doc.at("business_day").get<std::string>() == promoledger::ledger::format_day(*day));
  }
}

// The body of POST /v1/campaigns/{id}/pause|resume|end: a reason that is accepted is at most
// reason_bytes_max bytes with no control character, and is the body's only field.
void check_reason(std::string_view body) {
  std::optional<promoledger::Expected<std::string, service::BadRequest>> parsed;
  FUZZ_NO_THROW(parsed.emplace(service::parse_reason_body(body)));
  const bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (blank) FUZZ_CHECK(parsed->has_value() && parsed->value().empty());
  if (!*parsed) {
    check_bad_request(parsed->error());
    return;
  }
  const std::string& reason = parsed->value();
  FUZZ_CHECK(reason.size() <= service::reason_bytes_max);
  for (unsigned char c : reason) FUZZ_CHECK(c >= 0x20 && c != 0x7F);
  if (!reason.empty()) {
    const json doc = json::parse(body);
    FUZZ_CHECK(doc.is_object() && doc.size() == 1 && doc.at("reason").get<std::string>() == reason);
  }
}

void check_path(std::string_view text) {
  bool valid = false;
  FUZZ_NO_THROW(valid = service::valid_payment_id(text));
  FUZZ_CHECK(valid == reference_payment_id(text));
  std::optional<std::int64_t> id;
  FUZZ_NO_THROW(id = service::parse_campaign_id(text));
  FUZZ_CHECK(id == reference_campaign_id(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = promoledger::fuzz::as_text(data, size);
  check_payment(text);
  check_reversal(text);
  check_reason(text);
  check_path(text);
  return 0;
}
