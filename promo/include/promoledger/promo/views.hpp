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
#include "promoledger/promo/payments.hpp"

namespace promoledger::promo::views {

// A result table: headers, which columns are numbers (right-aligned in text), and the cells. The
// command prints it as text, CSV or JSON; JSON is an array of objects keyed by the headers.
struct Table {
  std::vector<std::string> headers;
  std::vector<bool> right;
  std::vector<std::vector<std::string>> rows;
};
nlohmann::json objects(const Table& table);

// A payment's result with both screens' figures (`pay --json`, POST /v1/payments).
nlohmann::json payment(const PaymentResult& result);
// A stored payment (GET /v1/payments/{id}): payment() plus payer, merchant, channel, paid_at and
// reversal (null, or its entry and business day).
nlohmann::json stored_payment(const StoredPayment& stored);
// A reversal's result (`reverse --json`, POST /v1/payments/{id}/reversal).
nlohmann::json reversal(const std::string& payment_id, const ReversalResult& result);

nlohmann::json campaign_summary(const CampaignSummary& summary);
nlohmann::json campaign(const CampaignView& view);

// `report outlets`: the rows at `level` ("all" keeps every level), and the campaigns' budgets.
Table outlet_table(const std::vector<OutletRow>& rows, const std::string& level);
Table budget_table(const std::vector<BudgetRow>& budgets);
// `report outlets --json`: {"from", "to", "rows": outlet_table, "budgets": budget_table}.
nlohmann::json outlet_report(const std::string& from, const std::string& to, const Table& outlets, const Table& budgets);
// `report campaign`: one row per merchant and day, then the "total" row.
Table campaign_report_table(const std::vector<CampaignDayRow>& rows);
nlohmann::json trial_balance(const ledger::TrialBalance& balance);
nlohmann::json verify(const AuditReport& report);

}  // namespace promoledger::promo::views
