// A campaign's parameters without storage: reading the document (parse_campaign) and judging the whole
// (validate). Pure functions: the fuzz target calls them, and the command and the API call them before
// anything reaches the database (campaigns.cpp stores).
#include "promoledger/promo/campaign.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

#include "campaign_problem.hpp"
#include "promoledger/ledger/business_day.hpp"

namespace promoledger::promo {
namespace {

using detail::problem;
using nlohmann::json;

// Collects the problems of a document, each with its field.
struct Reader {
  const json& doc;
  std::vector<Rejection> errors;

  void fail(const char* name, std::string_view words) { errors.push_back(problem(name, words)); }

  const json* field(const char* name, bool required) {
    auto it = doc.find(name);
    if (it == doc.end() || it->is_null()) {
      if (required) fail(name, "is missing");
      return nullptr;
    }
    return &*it;
  }
  std::optional<std::string> text(const char* name, bool required = true) {
    const json* v = field(name, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) {
      fail(name, "must be a string");
      return std::nullopt;
    }
    return v->get<std::string>();
  }
  std::optional<Money> money(const char* name, bool required = true) {
    const json* v = field(name, required);
    if (v == nullptr) return std::nullopt;
    // Money is never a JSON number: binary floating point cannot hold 0.01 exactly.
    if (!v->is_string()) {
      fail(name, "must be a decimal string such as \"10.00\", not a JSON number");
      return std::nullopt;
    }
    auto parsed = Money::parse(v->get<std::string>());
    if (!parsed) {
      fail(name, parsed.error().message);
      return std::nullopt;
    }
    return *parsed;
  }
  std::optional<std::int32_t> integer(const char* name, bool required, std::int64_t lo, std::int64_t hi) {
    const json* v = field(name, required);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number_integer()) {
      fail(name, "must be a whole number");
      return std::nullopt;
    }
    const auto value = v->get<std::int64_t>();
    if (value < lo || value > hi) {
      fail(name, fmt::format("{} is outside {}..{}", value, lo, hi));
      return std::nullopt;
    }
    return static_cast<std::int32_t>(value);
  }
  std::optional<date::year_month_day> day(const char* name) {
    auto t = text(name);
    if (!t) return std::nullopt;
    auto parsed = ledger::parse_day(*t);
    if (!parsed) {
      fail(name, parsed.error().message);
      return std::nullopt;
    }
    return *parsed;
  }
  std::optional<std::chrono::minutes> clock(const char* name) {
    auto t = text(name, false);
    if (!t) return std::nullopt;
    const std::string& s = *t;
    const bool shape = s.size() == 5 && s[2] == ':' && std::isdigit(static_cast<unsigned char>(s[0])) &&
                       std::isdigit(static_cast<unsigned char>(s[1])) && std::isdigit(static_cast<unsigned char>(s[3])) &&
                       std::isdigit(static_cast<unsigned char>(s[4]));
    const int h = shape ? (s[0] - '0') * 10 + (s[1] - '0') : -1;
    const int m = shape ? (s[3] - '0') * 10 + (s[4] - '0') : -1;
    if (!shape || h > 24 || m > 59 || (h == 24 && m != 0)) {
      fail(name, fmt::format("\"{}\" is not a time HH:MM between 00:00 and 24:00", s));
      return std::nullopt;
    }
    return std::chrono::hours{h} + std::chrono::minutes{m};
  }
};

}  // namespace

DeckParams CampaignParams::deck_params() const {
  return DeckParams{min_discount.fen(), max_discount.fen(), band_low.fen(), band_high.fen(),
                    band_share_bp,      cards_per_day,      deck_order};
}

Expected<CampaignParams, std::vector<Rejection>> parse_campaign(const json& document) {
  if (!document.is_object()) {
    return unexpected(std::vector<Rejection>{
        Rejection{Reject::invalid_parameters, "", "the campaign document must be a JSON object"}});
  }
  Reader r{document, {}};
  CampaignParams p;
  static const std::set<std::string> known{"name", "funding_branch", "gl_code", "merchants", "channel", "first_day",
                                           "last_day", "window_from", "window_to", "min_payment", "min_discount",
                                           "max_discount", "band_low", "band_high", "band_share_bp", "daily_cap",
                                           "payer_share_bp", "deck_order", "payer_daily_limit", "budget_total",
                                           "outlet_daily_budget", "comment"};
  for (const auto& [key, value] : document.items()) {
    // An empty key is named as the document spells it (""), so that the problem still has a field.
    if (!known.contains(key)) r.errors.push_back(problem(key.empty() ? "\"\"" : key, "is not a campaign parameter"));
  }
  p.name = r.text("name").value_or("");
  p.funding_branch = r.text("funding_branch").value_or("");
  p.gl_code = r.text("gl_code").value_or("");
  if (auto channel = r.text("channel", false)) {
    const auto parsed = channel_from_string(*channel);
    if (!parsed) r.fail("channel", fmt::format("\"{}\" is not bank_app, wechat or alipay", *channel));
    p.channel = parsed.value_or(Channel::bank_app);
  }
  if (const json* m = r.field("merchants", true)) {
    if (!m->is_array()) {
      r.fail("merchants", "must be an array of merchant codes");
    } else {
      for (const json& code : *m) {
        if (!code.is_string()) {
          r.fail("merchants", "every element must be a merchant code string");
          break;
        }
        p.merchants.push_back(code.get<std::string>());
      }
    }
  }
  if (auto d = r.day("first_day")) p.first_day = *d;
  if (auto d = r.day("last_day")) p.last_day = *d;
  p.window_from = r.clock("window_from");
  p.window_to = r.clock("window_to");
  p.min_payment = r.money("min_payment").value_or(Money());
  p.min_discount = r.money("min_discount").value_or(Money());
  p.max_discount = r.money("max_discount").value_or(Money());
  p.band_low = r.money("band_low").value_or(Money());
  p.band_high = r.money("band_high").value_or(Money());
  p.band_share_bp = r.integer("band_share_bp", true, 0, basis_points_total).value_or(0);
  p.cards_per_day = r.integer("daily_cap", true, 1, cards_per_day_max).value_or(1);
  p.payer_share_bp = r.integer("payer_share_bp", false, 0, basis_points_total).value_or(5000);
  if (auto order = r.text("deck_order", false)) {
    auto parsed = deck_order_from_string(*order);
    if (!parsed) r.fail("deck_order", fmt::format("\"{}\" is not stratified or shuffled", *order));
    p.deck_order = parsed.value_or(DeckOrder::stratified);
  }
  p.payer_daily_limit = r.integer("payer_daily_limit", false, 1, 10'000);
  p.budget_total = r.money("budget_total").value_or(Money());
  p.outlet_daily_budget = r.money("outlet_daily_budget", false);
  if (!r.errors.empty()) return unexpected(std::move(r.errors));
  return p;
}

std::vector<Rejection> validate(const CampaignParams& p) {
  std::vector<Rejection> errors;
  const auto bad = [&errors](std::string field, std::string_view words) { errors.push_back(problem(std::move(field), words)); };
  if (p.name.empty() || p.name.size() > 200) bad("name", "must be 1..200 characters");
  if (p.funding_branch.empty()) bad("funding_branch", "is empty");
  const bool gl_ok = !p.gl_code.empty() && p.gl_code.size() <= 16 &&
                     std::all_of(p.gl_code.begin(), p.gl_code.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
  if (!gl_ok) bad("gl_code", fmt::format("\"{}\" must be 1..16 letters or digits", p.gl_code));
  if (p.merchants.empty()) bad("merchants", "the campaign has no merchants");
  if (p.merchants.size() > campaign_merchants_max) {
    bad("merchants", fmt::format("{} merchants; at most {}", p.merchants.size(), campaign_merchants_max));
  }
  std::set<std::string> seen;
  for (const auto& m : p.merchants) {
    if (!seen.insert(m).second) bad("merchants", fmt::format("{} is listed twice", m));
  }
  if (!p.first_day.ok() || !p.last_day.ok()) {
    errors.push_back(Rejection{Reject::invalid_parameters, p.first_day.ok() ? "last_day" : "first_day",
                               "first_day/last_day: both must be dates"});
  } else if (date::sys_days{p.first_day} > date::sys_days{p.last_day}) {
    bad("last_day", fmt::format("{} is before first_day {}", ledger::format_day(p.last_day), ledger::format_day(p.first_day)));
  } else if ((date::sys_days{p.last_day} - date::sys_days{p.first_day}).count() > 366) {
    bad("last_day", "a campaign may run at most 367 days");
  }
  if (p.window_from.has_value() != p.window_to.has_value()) {
    errors.push_back(Rejection{Reject::invalid_parameters, p.window_from ? "window_to" : "window_from",
                               "window_from/window_to: give both or neither"});
  } else if (p.window_from && *p.window_from >= *p.window_to) {
    bad("window_to", "must be after window_from");
  }
  if (!p.min_payment.is_positive()) bad("min_payment", "must be > 0");
  // The deck's own words already start with the parameter ("band_low (950 fen) must be ...").
  for (auto& e : validate(p.deck_params())) {
    errors.push_back(Rejection{Reject::invalid_parameters, std::move(e.field), std::move(e.message)});
  }
  // The payer's share of the largest discount must stay below the smallest eligible payment, so the
  // payer always pays a positive amount ("spend 10, save 5": 5.00 < 10.00).
  // Wide arithmetic: a document may name amounts whose products overflow 64 bits (found by fuzzing).
  const ledger::WideFen payer_share_max_fen = ledger::WideFen(p.max_discount.fen()) * p.payer_share_bp / basis_points_total;
  if (p.min_payment.is_positive() && payer_share_max_fen >= p.min_payment.fen()) {
    bad("payer_share_bp", fmt::format("the payer's share of max_discount ({}) would reach min_payment ({})",
                                      ledger::format_fen(payer_share_max_fen), p.min_payment.str()));
  }
  // A deck is funded whole when dealt; a budget below one merchant's worst day could fund nobody.
  const ledger::WideFen worst_day_fen = ledger::WideFen(p.max_discount.fen()) * p.cards_per_day;
  if (!p.budget_total.is_positive()) {
    bad("budget_total", "must be > 0");
  } else if (p.budget_total.fen() < worst_day_fen) {
    bad("budget_total", fmt::format("{} is below one merchant's worst day (daily_cap {} x max_discount {} = {})",
                                    p.budget_total.str(), p.cards_per_day, p.max_discount.str(),
                                    ledger::format_fen(worst_day_fen)));
  }
  if (p.outlet_daily_budget && p.outlet_daily_budget->fen() < worst_day_fen) {
    bad("outlet_daily_budget", fmt::format("{} is below one merchant's worst day ({})", p.outlet_daily_budget->str(),
                                           ledger::format_fen(worst_day_fen)));
  }
  return errors;
}

}  // namespace promoledger::promo
