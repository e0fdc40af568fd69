#pragma once
// What the browser console draws (docs/console.md) and the API serves for it: a campaign's subsidy per
// day against its budget, the values of the cards it dealt (the 80 % band made visible), and the
// subsidy of all outlets per day. Like the finance reports they read the aggregates the posting path
// keeps (promo.merchant_day_stats, promo.deck), never the journal; where a finance report already
// computes a figure (campaign_report), it is summed from that report, not computed a second time.
//
// Thread safety: free functions; each leases its own session.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <date/date.h>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"
#include "promoledger/promo/finance.hpp"

namespace promoledger::promo {

// One business day of a campaign: report_campaign's rows of that day, summed over the merchants.
struct CampaignDay {
  std::string business_day;
  std::int64_t cards_dealt = 0;
  std::int64_t cards_used = 0;
  std::int64_t used_in_band = 0;
  ledger::WideFen subsidy_fen = 0;
  ledger::WideFen cumulative_subsidy_fen = 0;  // this day's and every earlier day's in the range
};
struct CampaignDays {
  std::int64_t campaign_id = 0;
  std::string from, to;  // YYYY-MM-DD, after defaults (the campaign's first and last day)
  ledger::WideFen budget_total_fen = 0;
  ledger::WideFen subsidy_total_fen = 0;  // the last day's cumulative subsidy (0 without days)
  std::vector<CampaignDay> days;           // in day order; days without a deck are left out
};
// unknown_campaign, bad_range or report_too_large, as report_campaign (whose rows it sums) decides.
// REQUIRES: rows_max >= 1.
Expected<CampaignDays, ReportError> campaign_days(ledger::Database& db, std::int64_t campaign_id,
                                                  std::optional<date::year_month_day> from,
                                                  std::optional<date::year_month_day> to,
                                                  std::size_t rows_max = report_rows_max);

// The values of every card a campaign dealt, counted in bins of bin_width_fen (a bin holds
// [from_fen, from_fen + bin_width_fen)); the band is the campaign's [band_low, band_high], and
// cards_in_band counts the cards inside it exactly (not by bin), so band_share is the rule's figure.
struct CardValueBin {
  std::int64_t from_fen = 0;
  std::int64_t cards = 0;
};
struct CardValues {
  static constexpr std::int64_t bin_width_fen = 50;  // 0.50 CNY: 19 bins between 1.00 and 10.00
  std::int64_t campaign_id = 0;
  std::int64_t band_low_fen = 0, band_high_fen = 0;
  std::int64_t band_share_bp = 0;  // what the campaign promised
  std::int64_t cards = 0, cards_in_band = 0;
  std::int64_t decks = 0;
  std::vector<CardValueBin> bins;  // ascending, only bins holding a card
};
// At most this many bins (a max_discount of 10,000.00 in 0.50 steps); more is a bug, not data.
inline constexpr std::size_t card_value_bins_max = 20'000;
// nullopt when there is no such campaign.
std::optional<CardValues> dealt_card_values(ledger::Database& db, std::int64_t campaign_id);

// Every outlet's payments and subsidy summed per business day (the outlet report's figures, by day).
struct SubsidyDay {
  std::string business_day;
  std::int64_t payments = 0;
  std::int64_t bank_app_payments = 0;
  std::int64_t discounted = 0;
  ledger::WideFen subsidy_fen = 0;
  ledger::WideFen reversed_subsidy_fen = 0;
  ledger::WideFen net_subsidy_fen = 0;  // subsidy_fen - reversed_subsidy_fen
};
struct SubsidyDays {
  std::string from, to;  // YYYY-MM-DD
  ledger::WideFen net_subsidy_total_fen = 0;  // the sum of the days' net subsidy
  std::vector<SubsidyDay> days;               // in day order; days without a payment are left out
};
// report_too_large beyond rows_max days (a range is at most ten years, far below the default).
// REQUIRES: from <= to (parse_day_range); rows_max >= 1.
Expected<SubsidyDays, ReportError> subsidy_by_day(ledger::Database& db, date::year_month_day from,
                                                  date::year_month_day to, std::size_t rows_max = report_rows_max);

}  // namespace promoledger::promo
