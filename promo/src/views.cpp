#include "promoledger/promo/views.hpp"

namespace promoledger::promo::views {
namespace {

using nlohmann::json;

std::string money(const ledger::WideFen& fen) { return ledger::format_fen(fen); }
std::string text(std::int64_t n) { return std::to_string(n); }
template <class T>
json or_null(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

}  // namespace

json objects(const Table& table) {
  json rows = json::array();
  for (const auto& row : table.rows) {
    json obj = json::object();
    for (std::size_t i = 0; i < table.headers.size() && i < row.size(); ++i) obj[table.headers[i]] = row[i];
    rows.push_back(std::move(obj));
  }
  return rows;
}

json payment(const PaymentResult& r) {
  return json{{"payment_id", r.payment_id},
              {"status", std::string(to_string(r.status))},
              {"discounted", r.discounted},
              {"reason", or_null(r.reason)},
              {"amount", r.amount.str()},
              {"discount", r.discount.str()},
              {"payer_discount", r.payer_discount.str()},
              {"payer_pays", r.payer_pays().str()},
              {"merchant_reward", r.merchant_reward.str()},
              {"merchant_receives", r.merchant_receives().str()},
              {"entry_id", r.entry_id},
              {"business_day", r.business_day},
              {"campaign_id", or_null(r.campaign_id)},
              {"deck_id", or_null(r.deck_id)},
              {"card_position", or_null(r.card_position)}};
}

json stored_payment(const StoredPayment& s) {
  json out = payment(s.result);
  out["payer"] = s.payer;
  out["merchant"] = s.merchant;
  out["channel"] = std::string(to_string(s.channel));
  out["paid_at"] = s.paid_at_utc;
  out["reversal"] = s.reversal ? json{{"entry_id", s.reversal->entry_id}, {"business_day", s.reversal->business_day}}
                               : json(nullptr);
  return out;
}

json reversal(const std::string& payment_id, const ReversalResult& r) {
  return json{{"payment_id", payment_id},
              {"status", r.status == ReversalResult::Status::posted ? "posted" : "exists"},
              {"entry_id", r.entry_id}};
}

json campaign_summary(const CampaignSummary& s) {
  return json{{"id", s.id},
              {"name", s.name},
              {"status", s.status},
              {"first_day", s.first_day},
              {"last_day", s.last_day},
              {"merchant_count", s.merchants},
              {"created_by", s.created_by},
              {"approved_by", or_null(s.approved_by)},
              {"budget_total", money(s.budget_total_fen)},
              {"budget_reserved", money(s.budget_reserved_fen)},
              {"budget_spent", money(s.budget_spent_fen)},
              {"budget_left", money(s.budget_total_fen - s.budget_reserved_fen - s.budget_spent_fen)}};
}

json campaign(const CampaignView& view) {
  const json& p = view.params;
  json out = campaign_summary(view.summary);
  out["merchants"] = view.merchants;
  out["daily_cap"] = p.value("daily_cap", 0);
  out["min_payment"] = p.value("min_payment", "");
  out["max_discount"] = p.value("max_discount", "");
  out["params"] = p;
  json events = json::array();
  for (const auto& e : view.events) {
    events.push_back(json{{"at_utc", e.at_utc}, {"actor", e.actor}, {"action", e.action}, {"from", e.from_status},
                          {"to", e.to_status}});
  }
  out["events"] = events;
  return out;
}

Table outlet_table(const std::vector<OutletRow>& rows, const std::string& level) {
  Table t{{"level", "branch", "sub_branch", "outlet", "payments", "amount", "wechat", "alipay", "bank_app",
           "bank_app_amount", "bank_app_share", "discounted", "subsidy", "payer_part", "merchant_part", "reversed",
           "reversed_subsidy", "net_subsidy"},
          {false, false, false, false, true, true, true, true, true, true, true, true, true, true, true, true, true, true},
          {}};
  for (const auto& r : rows) {
    if (level != "all" && r.level != level) continue;
    t.rows.push_back({r.level, r.branch, r.sub_branch, r.outlet, text(r.total.payments), money(r.total.amount_fen),
                      text(r.wechat.payments), text(r.alipay.payments), text(r.bank_app.payments),
                      money(r.bank_app.amount_fen), share_percent(r.bank_app.payments, r.total.payments),
                      text(r.discounted), money(r.subsidy_fen), money(r.payer_part_fen), money(r.merchant_part_fen),
                      text(r.reversed), money(r.reversed_subsidy_fen), money(r.subsidy_fen - r.reversed_subsidy_fen)});
  }
  return t;
}

Table budget_table(const std::vector<BudgetRow>& budgets) {
  Table b{{"campaign", "name", "status", "budget", "reserved", "spent", "left"},
          {true, false, false, true, true, true, true},
          {}};
  for (const auto& r : budgets) {
    b.rows.push_back({text(r.campaign_id), r.name, r.status, money(r.total_fen), money(r.reserved_fen),
                      money(r.spent_fen), money(r.left_fen)});
  }
  return b;
}

json outlet_report(const std::string& from, const std::string& to, const Table& outlets, const Table& budgets) {
  return json{{"from", from}, {"to", to}, {"rows", objects(outlets)}, {"budgets", objects(budgets)}};
}

Table campaign_report_table(const std::vector<CampaignDayRow>& rows) {
  Table t{{"business_day", "merchant", "outlet", "deck", "dealt", "used", "expired", "subsidy", "used_in_band",
           "band_share"},
          {false, false, false, false, true, true, true, true, true, true},
          {}};
  std::int64_t dealt = 0, used = 0, expired = 0, in_band = 0;
  ledger::WideFen subsidy = 0;
  for (const auto& r : rows) {
    t.rows.push_back({r.business_day, r.merchant, r.outlet, r.deck_status, text(r.cards_dealt), text(r.cards_used),
                      text(r.cards_expired), money(r.subsidy_fen), text(r.used_in_band),
                      share_percent(r.used_in_band, r.cards_used)});
    dealt += r.cards_dealt;
    used += r.cards_used;
    expired += r.cards_expired;
    in_band += r.used_in_band;
    subsidy += r.subsidy_fen;
  }
  t.rows.push_back({"total", "", "", "", text(dealt), text(used), text(expired), money(subsidy), text(in_band),
                    share_percent(in_band, used)});
  return t;
}

json trial_balance(const ledger::TrialBalance& tb) {
  json accounts = json::array();
  for (const auto& a : tb.accounts) {
    accounts.push_back(json{{"account", a.code}, {"type", ledger::to_string(a.type)}, {"debits", money(a.debits_fen)},
                            {"credits", money(a.credits_fen)}, {"balance", money(a.balance_fen)}});
  }
  return json{{"total_debits", money(tb.total_debits_fen)}, {"total_credits", money(tb.total_credits_fen)},
              {"balanced", tb.balanced()}, {"accounts", accounts}};
}

json verify(const AuditReport& report) {
  json list = json::array();
  for (const auto& c : report.checks) {
    list.push_back(json{{"name", c.name}, {"ok", c.ok()}, {"violations", c.violations}, {"sample", c.sample}});
  }
  return json{{"ok", report.ok()}, {"checks", list}, {"chain_digest", report.chain_digest}};
}

}  // namespace promoledger::promo::views
