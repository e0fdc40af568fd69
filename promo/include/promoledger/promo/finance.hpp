#pragma once
// Branch finance reports. They read aggregates kept by the posting path (promo.merchant_day_stats),
// by dealing and closing (promo.deck, promo.day_close) and by the ledger (ledger.account_balance),
// never the journal, so a month's report costs the same whatever the number of journal lines.
//
// Thread safety: free functions; each leases its own session.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"
#include "promoledger/ledger/organisation.hpp"
#include "promoledger/ledger/refusal.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/terms.hpp"

namespace promoledger::promo {

struct ChannelFigures {
  std::int64_t payments = 0;
  ledger::WideFen amount_fen = 0;
};

// One row per outlet, then a subtotal per sub-branch and a total per branch.
struct OutletRow {
  ledger::OrgKind level = ledger::OrgKind::outlet;  // outlet, sub_branch or branch
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

struct BudgetRow {
  std::int64_t campaign_id;
  std::string name;
  CampaignStatus status = CampaignStatus::draft;
  ledger::WideFen total_fen = 0, reserved_fen = 0, spent_fen = 0, left_fen = 0;
};
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
// ---------------------------------------------------------------------------------------------------
// The row limit. Every report holds at most `rows_max` rows (default report_rows_max): its query asks
// the database for one row more, and a result that has more is refused as a whole with
// ReportRefusal::report_too_large, naming the report, the limit and how to narrow the request. A report
// is never cut silently: a total row under a cut table would be wrong without saying so.
// 100,000 is the value the queries carried as literals (LIMIT 100000) before there was one constant;
// it was not re-measured. The tests lower it through the rows_max parameter.
inline constexpr std::size_t report_rows_max = 100'000;
static_assert(report_rows_max >= 1000, "a month of one branch must fit in one report");

// Stable names (to_string; JSON and exit messages carry them).
enum class ReportRefusal {
  unknown_campaign,
  unknown_outlet,
  bad_range,         // the day range after defaults: from after to, or longer than ten years
  report_too_large,  // more than rows_max rows: narrow the request (the message says how)
  period_archived,   // the range touches a month whose partitions are archived (ledger/periods.hpp): the
                     // message names the months and `period restore --from DIR`; field "from"
};
std::string_view to_string(ReportRefusal);

// The refusal (ledger/refusal.hpp: code; field: the parameter to change, "level" or "from" for
// report_too_large, "from" for period_archived, "campaign_id", "outlet", "from"/"to" for a bad range;
// message: what, the limit, how to narrow it), plus which report it was and the limit that was reached.
//
// Archived months. A report whose day range touches a month that `period archive` took off the primary
// is refused whole (period_archived), never answered from the partitions that remain: report_campaign
// and audit_subsidies read the archived tables (promo.deck, promo.payment) and would come out short;
// report_outlets and subsidy_by_day read promo.merchant_day_stats, which the archive keeps, but their
// figures could then no longer be traced to a single entry on the primary, so they refuse the same
// way (a restored month answers again). The check runs after the read, on the same session: an archive
// that committed before the read ended is seen by it (see finance.cpp, archived_refusal).
struct ReportError : ledger::Refusal<ReportRefusal> {
  ReportError(ReportRefusal code_, std::string report_, std::size_t rows_max_, std::string field_, std::string message_)
      : Refusal(code_, std::move(field_), std::move(message_)), report(std::move(report_)), rows_max(rows_max_) {}
  std::string report;        // which report: "report outlets", "report campaign 7", "audit subsidies O1"
  std::size_t rows_max = 0;  // the limit that was reached (report_too_large only, else 0)
};

// The rows `report outlets` holds: every level (outlets with their sub-branch and branch totals), or one.
enum class OutletLevel { all, outlet, sub_branch, branch };
std::string_view to_string(OutletLevel);
std::optional<OutletLevel> outlet_level_from_string(std::string_view);

// `report outlets` (GET /v1/reports/outlets): the rows at `level` and every campaign's budget.
struct OutletReport {
  std::string from, to;  // YYYY-MM-DD, as asked
  OutletLevel level = OutletLevel::all;
  std::vector<OutletRow> rows;
  std::vector<BudgetRow> budgets;
};
// REQUIRES: rows_max >= 1. period_archived or report_too_large.
// The level is applied in SQL, so a coarser level is the way to narrow a report of too many outlets.
Expected<OutletReport, ReportError> report_outlets(ledger::Database& db, date::year_month_day from,
                                                   date::year_month_day to, OutletLevel level = OutletLevel::all,
                                                   std::size_t rows_max = report_rows_max);

// `report campaign ID [--from] [--to]`: a missing day defaults to the campaign's first (last) day.
struct CampaignReport {
  std::int64_t campaign_id = 0;
  std::string from, to;  // YYYY-MM-DD, after defaults
  std::vector<CampaignDayRow> rows;
};
// REQUIRES: rows_max >= 1. unknown_campaign, bad_range, period_archived or report_too_large.
Expected<CampaignReport, ReportError> report_campaign(ledger::Database& db, std::int64_t campaign_id,
                                                      std::optional<date::year_month_day> from,
                                                      std::optional<date::year_month_day> to,
                                                      std::size_t rows_max = report_rows_max);

// `audit subsidies --outlet O`: every subsidy charged to the outlet, and the totals.
struct SubsidyReport {
  std::string outlet;
  std::string from, to;
  std::vector<SubsidyRow> rows;
  ledger::WideFen discount_fen = 0, payer_part_fen = 0, merchant_part_fen = 0;  // sums over rows
};
// REQUIRES: rows_max >= 1. unknown_outlet, period_archived or report_too_large.
// Reads through outlet_subsidies (audit_checks.cpp) with rows_max + 1 as its limit.
Expected<SubsidyReport, ReportError> audit_subsidies(ledger::Database& db, const std::string& outlet_code,
                                                     date::year_month_day from, date::year_month_day to,
                                                     std::size_t rows_max = report_rows_max);

}  // namespace promoledger::promo
