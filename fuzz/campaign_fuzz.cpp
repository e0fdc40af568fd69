// Fuzzes campaign documents as `promoledger campaign create` reads them (app/cmd_ops.cpp):
// nlohmann::json::parse(text, nullptr, false), then promo::parse_campaign, then promo::validate.
// Properties: never throws; a non-object is refused; an accepted document's fields are exactly what
// the document says (every amount is Money::parse of its string, the merchants in order, the days
// parse_day of theirs, the integers in their ranges); a refused one gets one non-empty message per
// problem; validate() of what was accepted returns messages only, and an empty list implies the
// documented invariants (band inside [min, max], a positive payment minimum and budget, days in order).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/deck.hpp"

namespace promo = promoledger::promo;
using nlohmann::json;
using promoledger::ledger::Money;

namespace {

const json* member(const json& doc, const char* name) {
  auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return nullptr;
  return &*it;
}

void check_money(const json& doc, const char* name, Money got) {
  const json* v = member(doc, name);
  FUZZ_CHECK(v != nullptr && v->is_string());
  auto m = Money::parse(v->get<std::string>());
  FUZZ_CHECK(m.has_value() && *m == got);
}

void check_accepted(const json& doc, const promo::CampaignParams& p) {
  check_money(doc, "min_payment", p.min_payment);
  check_money(doc, "min_discount", p.min_discount);
  check_money(doc, "max_discount", p.max_discount);
  check_money(doc, "band_low", p.band_low);
  check_money(doc, "band_high", p.band_high);
  check_money(doc, "budget_total", p.budget_total);
  if (const json* v = member(doc, "outlet_daily_budget")) {
    FUZZ_CHECK(p.outlet_daily_budget.has_value());
    FUZZ_CHECK(*p.outlet_daily_budget == *Money::parse(v->get<std::string>()));
  } else {
    FUZZ_CHECK(!p.outlet_daily_budget.has_value());
  }
  FUZZ_CHECK(p.name == doc.at("name").get<std::string>());
  FUZZ_CHECK(p.funding_branch == doc.at("funding_branch").get<std::string>());
  FUZZ_CHECK(p.gl_code == doc.at("gl_code").get<std::string>());
  const json& merchants = doc.at("merchants");
  FUZZ_CHECK(merchants.is_array() && merchants.size() == p.merchants.size());
  for (std::size_t i = 0; i < p.merchants.size(); ++i) FUZZ_CHECK(merchants[i].get<std::string>() == p.merchants[i]);
  const auto first = promoledger::ledger::parse_day(doc.at("first_day").get<std::string>());
  const auto last = promoledger::ledger::parse_day(doc.at("last_day").get<std::string>());
  FUZZ_CHECK(first && *first == p.first_day && last && *last == p.last_day);
  FUZZ_CHECK(p.band_share_bp >= 0 && p.band_share_bp <= promo::basis_points_total);
  FUZZ_CHECK(p.payer_share_bp >= 0 && p.payer_share_bp <= promo::basis_points_total);
  FUZZ_CHECK(p.cards_per_day >= 1 && p.cards_per_day <= promo::cards_per_day_max);
  if (p.payer_daily_limit) FUZZ_CHECK(*p.payer_daily_limit >= 1 && *p.payer_daily_limit <= 10'000);
  for (const auto& window : {p.window_from, p.window_to}) {
    if (window) FUZZ_CHECK(window->count() >= 0 && window->count() <= 24 * 60);
  }
  FUZZ_CHECK(p.window_from.has_value() == (member(doc, "window_from") != nullptr));
  FUZZ_CHECK(p.window_to.has_value() == (member(doc, "window_to") != nullptr));

  // What the command does next with an accepted document.
  std::optional<std::vector<promo::Rejection>> problems;
  FUZZ_NO_THROW(problems.emplace(promo::validate(p)));
  // Every problem names its parameter as its field, and its words start with it.
  for (const auto& e : *problems) FUZZ_CHECK(!e.field.empty() && e.message.starts_with(e.field));
  if (problems->empty()) {
    FUZZ_CHECK(promo::validate(p.deck_params()).empty());
    FUZZ_CHECK(p.min_payment.is_positive() && p.budget_total.is_positive());
    FUZZ_CHECK(p.min_discount <= p.band_low && p.band_low <= p.band_high && p.band_high <= p.max_discount);
    FUZZ_CHECK(p.min_discount.fen() >= 1);
    FUZZ_CHECK(date::sys_days{p.first_day} <= date::sys_days{p.last_day});
    FUZZ_CHECK(!p.merchants.empty() && !p.name.empty());
    FUZZ_CHECK(p.window_from.has_value() == p.window_to.has_value());
    if (p.window_from) FUZZ_CHECK(*p.window_from < *p.window_to);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = promoledger::fuzz::as_text(data, size);
  json doc;
  FUZZ_NO_THROW(doc = json::parse(text, nullptr, /*allow_exceptions=*/false));
  if (doc.is_discarded()) return 0;
  std::optional<promoledger::Expected<promo::CampaignParams, std::vector<promo::Rejection>>> parsed;
  FUZZ_NO_THROW(parsed.emplace(promo::parse_campaign(doc)));
  if (!*parsed) {
    FUZZ_CHECK(!parsed->error().empty());
    // Each problem names the key it is about (the API's field), but for a document that is no object.
    for (const auto& e : parsed->error()) {
      FUZZ_CHECK(!e.message.empty());
      FUZZ_CHECK(e.field.empty() == !doc.is_object());
      FUZZ_CHECK(e.message.starts_with(e.field));
    }
    return 0;
  }
  FUZZ_CHECK(doc.is_object());
  FUZZ_NO_THROW(check_accepted(doc, parsed->value()));
  return 0;
}
