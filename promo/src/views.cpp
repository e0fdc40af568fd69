#include "promoledger/promo/views.hpp"

namespace promoledger::promo::views {
namespace {

using nlohmann::json;

std::string money(const ledger::WideFen& fen) { return ledger::format_fen(fen); }
std::string text(std::int64_t n) { return std::to_string(n); }
// A stored enum's stable name, as text (an enum never reaches JSON as its number).
template <class E>
std::string name(E value) {
  return std::string(to_string(value));
}
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

std::string csv(const Table& table) {
  const auto field = [](const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  };
  std::string out;
  const auto record = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += ',';
      out += field(cells[i]);
    }
    out += "\r\n";
  };
  record(table.headers);
  for (const auto& row : table.rows) record(row);
  return out;
}

json to_json(const CampaignDays& c) {
  json days = json::array();
  for (const auto& d : c.days) {
    days.push_back(json{{"business_day", d.business_day}, {"cards_dealt", d.cards_dealt}, {"cards_used", d.cards_used},
                        {"used_in_band", d.used_in_band}, {"subsidy", money(d.subsidy_fen)},
                        {"cumulative_subsidy", money(d.cumulative_subsidy_fen)}});
  }
  return json{{"campaign_id", c.campaign_id}, {"from", c.from},
              {"to", c.to},                   {"budget_total", money(c.budget_total_fen)},
              {"subsidy_total", money(c.subsidy_total_fen)}, {"days", days}};
}

json to_json(const CardValues& v) {
  json bins = json::array();
  for (const auto& b : v.bins) {
    bins.push_back(json{{"from", money(b.from_fen)}, {"to", money(b.from_fen + CardValues::bin_width_fen)}, {"cards", b.cards}});
  }
  return json{{"campaign_id", v.campaign_id},
              {"bin_width", money(CardValues::bin_width_fen)},
              {"band_low", money(v.band_low_fen)},
              {"band_high", money(v.band_high_fen)},
              {"band_share_promised", share_percent(v.band_share_bp, basis_points_total)},
              {"decks", v.decks},
              {"cards", v.cards},
              {"cards_in_band", v.cards_in_band},
              {"band_share", share_percent(v.cards_in_band, v.cards)},
              {"bins", bins}};
}

json to_json(const SubsidyDays& s) {
  json days = json::array();
  for (const auto& d : s.days) {
    days.push_back(json{{"business_day", d.business_day}, {"payments", d.payments}, {"bank_app", d.bank_app_payments},
                        {"bank_app_share", share_percent(d.bank_app_payments, d.payments)}, {"discounted", d.discounted},
                        {"subsidy", money(d.subsidy_fen)}, {"reversed_subsidy", money(d.reversed_subsidy_fen)},
                        {"net_subsidy", money(d.net_subsidy_fen)}});
  }
  return json{{"from", s.from}, {"to", s.to}, {"net_subsidy_total", money(s.net_subsidy_total_fen)}, {"days", days}};
}

json to_json(const PaymentResult& r) {
  return json{{"payment_id", r.payment_id},
              {"status", std::string(to_string(r.status))},
              {"discounted", r.discounted},
              {"reason", r.reason ? json(std::string(to_string(*r.reason))) : json(nullptr)},
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

json to_json(const StoredPayment& s) {
  json out = to_json(s.result);
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

json to_json(const CampaignSummary& s) {
  return json{{"id", s.id},
              {"name", s.name},
              {"status", name(s.status)},
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

json to_json(const CampaignView& view) {
  const json& p = view.params;
  json out = to_json(view.summary);
  out["merchants"] = view.merchants;
  out["daily_cap"] = p.value("daily_cap", 0);
  out["min_payment"] = p.value("min_payment", "");
  out["max_discount"] = p.value("max_discount", "");
  out["params"] = p;
  json events = json::array();
  for (const auto& e : view.events) {
    // "from" is "" for create, as the stored event has no status before it.
    events.push_back(json{{"at_utc", e.at_utc},
                          {"actor", e.actor},
                          {"action", name(e.action)},
                          {"from", e.from_status ? name(*e.from_status) : std::string()},
                          {"to", name(e.to_status)},
                          {"reason", e.reason ? json(*e.reason) : json(nullptr)}});
  }
  out["events"] = events;
  return out;
}

Table outlet_table(const std::vector<OutletRow>& rows) {
  Table t{{"level", "branch", "sub_branch", "outlet", "payments", "amount", "wechat", "alipay", "bank_app",
           "bank_app_amount", "bank_app_share", "discounted", "subsidy", "payer_part", "merchant_part", "reversed",
           "reversed_subsidy", "net_subsidy"},
          {false, false, false, false, true, true, true, true, true, true, true, true, true, true, true, true, true, true},
          {}};
  for (const auto& r : rows) {
    t.rows.push_back({name(r.level), r.branch, r.sub_branch, r.outlet, text(r.total.payments), money(r.total.amount_fen),
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
    b.rows.push_back({text(r.campaign_id), r.name, name(r.status), money(r.total_fen), money(r.reserved_fen),
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

json to_json(const ledger::TrialBalance& tb) {
  json accounts = json::array();
  for (const auto& a : tb.accounts) {
    accounts.push_back(json{{"account", a.code}, {"type", ledger::to_string(a.type)}, {"debits", money(a.debits_fen)},
                            {"credits", money(a.credits_fen)}, {"balance", money(a.balance_fen)}});
  }
  return json{{"total_debits", money(tb.total_debits_fen)}, {"total_credits", money(tb.total_credits_fen)},
              {"balanced", tb.balanced()}, {"accounts", accounts}};
}

json to_json(const AuditReport& report) {
  json list = json::array();
  for (const auto& c : report.checks) {
    list.push_back(json{{"name", c.name}, {"ok", c.ok()}, {"violations", c.violations}, {"sample", c.sample}});
  }
  // What was read: the scope, the business days [from, to) (null: unbounded), the months.
  const auto day_or_null = [](const std::string& d) { return d.empty() ? json(nullptr) : json(d); };
  return json{{"ok", report.ok()},
              {"checks", list},
              {"chain_digest", report.chain_digest},
              {"covered",
               json{{"scope", report.scope}, {"from", day_or_null(report.from)}, {"to", day_or_null(report.to)},
                    {"months", report.months}}}};
}

json to_json(const OutletReport& report) {
  return outlet_report(report.from, report.to, outlet_table(report.rows), budget_table(report.budgets));
}

json to_json(const CampaignReport& report) { return objects(campaign_report_table(report.rows)); }

json to_json(const SubsidyReport& report) {
  json list = json::array();
  for (const auto& r : report.rows) {
    list.push_back(json{{"business_day", r.business_day}, {"payment_id", r.payment_id}, {"merchant", r.merchant},
                        {"payer", r.payer}, {"amount", money(r.amount_fen)}, {"discount", money(r.discount_fen)},
                        {"payer_part", money(r.payer_share_fen)}, {"merchant_part", money(r.merchant_share_fen)},
                        {"entry_id", r.entry_id}, {"deck_id", r.deck_id}, {"card_position", r.card_position},
                        {"reversed", r.reversed}});
  }
  return json{{"outlet", report.outlet},
              {"from", report.from},
              {"to", report.to},
              {"subsidies", list},
              {"count", report.rows.size()},
              {"total_discount", money(report.discount_fen)},
              {"total_payer_part", money(report.payer_part_fen)},
              {"total_merchant_part", money(report.merchant_part_fen)}};
}

json to_json(const SimulationResult& r) {
  return json{{"date", r.date},
              {"seed", r.seed},
              {"payments", r.payments},
              {"posted", r.posted},
              {"exists", r.replayed},
              {"by_channel", r.by_channel},
              {"discounted", r.discounted},
              {"subsidy", money(r.subsidy_fen)},
              {"no_discount_reasons", r.no_discount_reasons},
              {"rejected", r.rejected}};
}

json to_json(const ReportError& error) {
  json out{{"error", name(error.code)}, {"field", error.field}, {"message", error.message}, {"report", error.report}};
  if (error.code == ReportRefusal::report_too_large) out["rows_max"] = error.rows_max;
  return out;
}

// The older names: the same shapes.
json payment(const PaymentResult& result) { return to_json(result); }
json stored_payment(const StoredPayment& stored) { return to_json(stored); }
json campaign_summary(const CampaignSummary& summary) { return to_json(summary); }
json campaign(const CampaignView& view) { return to_json(view); }
json trial_balance(const ledger::TrialBalance& balance) { return to_json(balance); }
json verify(const AuditReport& report) { return to_json(report); }

Table trial_balance_table(const ledger::TrialBalance& tb) {
  Table t{{"account", "type", "debits", "credits", "balance"}, {false, false, true, true, true}, {}};
  for (const auto& a : tb.accounts) {
    t.rows.push_back({a.code, std::string(ledger::to_string(a.type)), money(a.debits_fen), money(a.credits_fen),
                      money(a.balance_fen)});
  }
  t.rows.push_back({"total", "", money(tb.total_debits_fen), money(tb.total_credits_fen),
                    tb.balanced() ? "balanced" : "NOT BALANCED"});
  return t;
}

Table statement_table(const std::vector<ledger::StatementLine>& lines) {
  Table t{{"seq", "business_day", "entry", "kind", "reference", "debit", "credit", "balance"},
          {true, false, true, false, false, true, true, true},
          {}};
  for (const auto& l : lines) {
    const bool debit = l.side == ledger::Side::debit;
    t.rows.push_back({text(l.account_seq), l.business_day, text(l.entry_id), l.kind, l.external_ref,
                      debit ? l.amount.str() : "", debit ? "" : l.amount.str(), money(l.balance_after_fen)});
  }
  return t;
}

Table subsidy_table(const SubsidyReport& report) {
  Table t{{"business_day", "payment_id", "merchant", "payer", "amount", "discount", "payer_part", "merchant_part",
           "entry", "deck", "card", "reversed"},
          {false, false, false, false, true, true, true, true, true, true, true, false},
          {}};
  for (const auto& r : report.rows) {
    t.rows.push_back({r.business_day, r.payment_id, r.merchant, r.payer, money(r.amount_fen), money(r.discount_fen),
                      money(r.payer_share_fen), money(r.merchant_share_fen), text(r.entry_id), text(r.deck_id),
                      text(r.card_position), r.reversed ? "yes" : "no"});
  }
  t.rows.push_back({"total", "", "", "", "", money(report.discount_fen), money(report.payer_part_fen),
                    money(report.merchant_part_fen), std::to_string(report.rows.size()) + " subsidies", "", "", ""});
  return t;
}

Table verify_table(const AuditReport& report) {
  Table t{{"check", "result", "violations", "first violations"}, {false, false, true, false}, {}};
  for (const auto& c : report.checks) {
    t.rows.push_back({c.name, c.ok() ? "ok" : "FAILED", text(c.violations), c.sample.substr(0, 160)});
  }
  return t;
}

}  // namespace promoledger::promo::views
