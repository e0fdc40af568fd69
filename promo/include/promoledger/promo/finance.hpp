#pragma once
// Branch finance reports. They read aggregates kept by the posting path (promo.merchant_day_stats),
// by dealing and closing (promo.deck, promo.day_close) and by the ledger (ledger.account_balance),
// never the journal, so a month's report costs the same whatever the number of journal lines.
//
// Thread safety: free functions; each leases its own session.

#include <cstdint>
#include <string>
#include <vector>

#include <date/date.h>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/money.hpp"

namespace promoledger::promo {

struct ChannelFigures {
  std::int64_t payments = 0;
  ledger::WideFen amount_fen = 0;
};

// One row per outlet, then a subtotal per sub-branch and a total per branch.
struct OutletRow {
  std::string level;  // "outlet", "sub_branch" or "branch"
  std::string branch;
  std::string sub_branch;  // empty on a branch row
  std::string outlet;      // empty on sub-branch and branch rows
  ChannelFigures wechat, alipay, bank_app, total;
  std::int64_t discounted = 0;
  ledger::WideFen subsidy_fen = 0;
  ledger::WideFen payer_part_fen = 0;
  ledger::WideFen merchant_part_fen = 0;
  std::int64_t reversed = 0;
  ledger::WideFen reversed_subsidy_fen = 0;
};

// The bank-app share of payments by count, the campaign's KPI: "2.15%" (half up, integer arithmetic).
std::string share_percent(std::int64_t part, std::int64_t whole);

std::vector<OutletRow> outlet_report(ledger::Database& db, date::year_month_day from, date::year_month_day to);

struct BudgetRow {
  std::int64_t campaign_id;
  std::string name;
  std::string status;
  ledger::WideFen total_fen = 0, reserved_fen = 0, spent_fen = 0, left_fen = 0;
};
std::vector<BudgetRow> budget_report(ledger::Database& db);

// Per merchant and day of a campaign: cards dealt / used / expired, subsidy, band share of used cards.
struct CampaignDayRow {
  std::string business_day;
  std::string merchant;
  std::string outlet;
  std::string deck_status;  // open, closed, unfunded
  std::int64_t cards_dealt = 0;
  std::int64_t cards_used = 0;
  std::int64_t cards_expired = 0;  // known once the day is closed
  ledger::WideFen subsidy_fen = 0;
  std::int64_t used_in_band = 0;
};
std::vector<CampaignDayRow> campaign_report(ledger::Database& db, std::int64_t campaign_id, date::year_month_day from,
                                            date::year_month_day to);

inline constexpr std::size_t report_rows_max = 100'000;

}  // namespace promoledger::promo
