#pragma once
// The JSON shape of every result a user sees, in one place: the command's --json output and the HTTP
// API's bodies are built by these functions, so the two can never drift apart. Money is always a
// decimal string ("95.00"), never a JSON number: a client's float parser must not touch a fen.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "promoledger/ledger/ledger.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/insights.hpp"
#include "promoledger/promo/payments.hpp"
#include "promoledger/promo/simulate.hpp"

namespace promoledger::promo::views {

// A result table: headers, which columns are numbers (right-aligned in text), and the cells. The
// command prints it as text, CSV or JSON; JSON is an array of objects keyed by the headers.
struct Table {
  std::vector<std::string> headers;
  std::vector<bool> right;
  std::vector<std::vector<std::string>> rows;
};
nlohmann::json objects(const Table& table);
// The table as CSV (RFC 4180), the one writer of the command's --csv and the API's text/csv: a field
// holding a comma, a quote or a line break is quoted (quotes doubled), and every record ends with
// CRLF, as RFC 4180 and the text/csv media type have it (spreadsheets read it either way; one rule
// for both outputs, and the one the standard names).
std::string csv(const Table& table);

// A payment's result with both screens' figures (`pay --json`, POST /v1/payments).
nlohmann::json payment(const PaymentResult& result);
// A stored payment (GET /v1/payments/{id}): payment() plus payer, merchant, channel, paid_at and
// reversal (null, or its entry and business day).
nlohmann::json stored_payment(const StoredPayment& stored);
// A reversal's result (`reverse --json`, POST /v1/payments/{id}/reversal).
nlohmann::json reversal(const std::string& payment_id, const ReversalResult& result);

nlohmann::json campaign_summary(const CampaignSummary& summary);
nlohmann::json campaign(const CampaignView& view);

// `report outlets`: its rows (report_outlets has kept the level asked for), and the campaigns' budgets.
Table outlet_table(const std::vector<OutletRow>& rows);
Table budget_table(const std::vector<BudgetRow>& budgets);
// `report outlets --json`: {"from", "to", "rows": outlet_table, "budgets": budget_table}.
nlohmann::json outlet_report(const std::string& from, const std::string& to, const Table& outlets, const Table& budgets);
// `report campaign`: one row per merchant and day, then the "total" row.
Table campaign_report_table(const std::vector<CampaignDayRow>& rows);
nlohmann::json trial_balance(const ledger::TrialBalance& balance);
nlohmann::json verify(const AuditReport& report);

// ---------------------------------------------------------------------------------------------------
// One to_json per result type: the command's --json and the service's bodies call these. The named
// functions above are the same shapes under their older names (payment() is to_json(PaymentResult),
// and so on) and stay for their callers.
nlohmann::json to_json(const PaymentResult& result);
nlohmann::json to_json(const StoredPayment& stored);
nlohmann::json to_json(const CampaignSummary& summary);
nlohmann::json to_json(const CampaignView& view);
// {"from", "to", "rows": outlet_table(rows), "budgets": budget_table}: as outlet_report() above.
nlohmann::json to_json(const OutletReport& report);
// An array: the rows of campaign_report_table, the "total" row last.
nlohmann::json to_json(const CampaignReport& report);
// {"outlet", "from", "to", "subsidies": [...], "count", "total_discount", "total_payer_part", "total_merchant_part"}.
nlohmann::json to_json(const SubsidyReport& report);
nlohmann::json to_json(const ledger::TrialBalance& balance);
nlohmann::json to_json(const AuditReport& report);
// {"date", "seed", "payments", "posted", "exists", "by_channel", "discounted", "subsidy",
//  "no_discount_reasons", "rejected"}.
nlohmann::json to_json(const SimulationResult& result);
// The console's figures (insights.hpp): a campaign's days {"campaign_id", "from", "to", "budget_total",
// "subsidy_total", "days": [{"business_day", "cards_dealt", "cards_used", "used_in_band", "subsidy",
// "cumulative_subsidy"}]}; its dealt card values {"campaign_id", "bin_width", "band_low", "band_high",
// "band_share_promised", "decks", "cards", "cards_in_band", "band_share", "bins": [{"from", "to",
// "cards"}]}; the subsidy per day {"from", "to", "net_subsidy_total", "days": [{"business_day",
// "payments", "bank_app", "bank_app_share", "discounted", "subsidy", "reversed_subsidy", "net_subsidy"}]}.
nlohmann::json to_json(const CampaignDays& days);
nlohmann::json to_json(const CardValues& values);
nlohmann::json to_json(const SubsidyDays& days);
// An error body: {"error": code, "message": detail, "report"} and, for report_too_large, "rows_max".
nlohmann::json to_json(const ReportError& error);

// The text and CSV tables of the commands (their JSON is to_json above).
Table trial_balance_table(const ledger::TrialBalance& balance);  // accounts, then a "total" row
Table statement_table(const std::vector<ledger::StatementLine>& lines);
Table subsidy_table(const SubsidyReport& report);  // subsidies, then a "total" row
Table verify_table(const AuditReport& report);     // one row per check, the sample cut to 160 characters

}  // namespace promoledger::promo::views
