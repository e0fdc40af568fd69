#include "promoledger/promo/insights.hpp"

#include <cassert>
#include <map>

#include <fmt/format.h>

#include "promoledger/ledger/business_day.hpp"
#include "row_text.hpp"
#include "promoledger/promo/finance.hpp"

namespace promoledger::promo {
namespace {

using ledger::parse_wide_fen;
using ledger::rethrow_as_database_error;

using detail::count_at;
using detail::wide_at;

}  // namespace

Expected<CampaignDays, ReportError> campaign_days(ledger::Database& db, std::int64_t campaign_id,
                                                  std::optional<date::year_month_day> from,
                                                  std::optional<date::year_month_day> to, std::size_t rows_max) {
  // report_campaign already decides what a day's subsidy is (the close's figure once closed, the live
  // cards before), and the range and the limit: summing its rows keeps the chart and the report one
  // computation.
  auto report = report_campaign(db, campaign_id, from, to, rows_max);
  if (!report) return unexpected(report.error());
  CampaignDays out;
  out.campaign_id = campaign_id;
  out.from = report->from;
  out.to = report->to;
  std::map<std::string, CampaignDay> days;
  for (const auto& r : report->rows) {
    auto& d = days[r.business_day];
    d.business_day = r.business_day;
    d.cards_dealt += r.cards_dealt;
    d.cards_used += r.cards_used;
    d.used_in_band += r.used_in_band;
    d.subsidy_fen += r.subsidy_fen;
  }
  out.days.reserve(days.size());
  for (auto& [day, figures] : days) {
    out.subsidy_total_fen += figures.subsidy_fen;
    figures.cumulative_subsidy_fen = out.subsidy_total_fen;
    out.days.push_back(std::move(figures));
  }
  auto lease = db.lease();
  try {
    const long long id = campaign_id;
    std::string budget;
    *lease << "SELECT budget_total_fen::text FROM promo.campaign WHERE id = :id", soci::use(id), soci::into(budget);
    out.budget_total_fen = parse_wide_fen(budget).value();
  } catch (...) {
    rethrow_as_database_error(fmt::format("reading the budget of campaign {}", campaign_id));
  }
  return out;
}

std::optional<CardValues> dealt_card_values(ledger::Database& db, std::int64_t campaign_id) {
  CardValues out;
  out.campaign_id = campaign_id;
  auto lease = db.lease();
  soci::session& s = *lease;
  try {
    // One snapshot for the campaign's band and its decks: the figures describe one state.
    soci::transaction tx(s);
    s << "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";
    const long long id = campaign_id;
    long long low = 0, high = 0, share = 0;
    s << "SELECT band_low_fen, band_high_fen, band_share_bp FROM promo.campaign WHERE id = :id", soci::use(id),
        soci::into(low), soci::into(high), soci::into(share);
    if (!s.got_data()) return std::nullopt;
    out.band_low_fen = low;
    out.band_high_fen = high;
    out.band_share_bp = share;
    std::string decks, cards, in_band;
    s << "SELECT count(*)::text, coalesce(sum(card_count), 0)::text, "
         "  coalesce(sum((SELECT count(*) FROM unnest(d.cards_fen) v WHERE v BETWEEN :lo AND :hi)), 0)::text "
         "FROM promo.deck d WHERE d.campaign_id = :id",
        soci::use(low), soci::use(high), soci::use(id), soci::into(decks), soci::into(cards), soci::into(in_band);
    out.decks = static_cast<std::int64_t>(parse_wide_fen(decks).value());
    out.cards = static_cast<std::int64_t>(parse_wide_fen(cards).value());
    out.cards_in_band = static_cast<std::int64_t>(parse_wide_fen(in_band).value());
    // One bin more than allowed is read, so that too many bins is seen rather than cut silently.
    const long long bins_read_max = card_value_bins_max + 1;
    soci::rowset<soci::row> rows =
        (s.prepare << fmt::format("SELECT ((v / {0}) * {0})::text, count(*)::text FROM promo.deck d, "
                                  "unnest(d.cards_fen) v WHERE d.campaign_id = :id GROUP BY 1 ORDER BY min(v) LIMIT :n",
                                  CardValues::bin_width_fen),
         soci::use(id), soci::use(bins_read_max));
    for (const auto& r : rows) out.bins.push_back(CardValueBin{count_at(r, 0), count_at(r, 1)});
    tx.commit();
  } catch (...) {
    rethrow_as_database_error(fmt::format("reading the dealt cards of campaign {}", campaign_id));
  }
  if (out.bins.size() > card_value_bins_max) {
    throw ledger::DatabaseError(fmt::format("campaign {} has more than {} card value bins", campaign_id,
                                            card_value_bins_max), "");
  }
  return out;
}

Expected<SubsidyDays, ReportError> subsidy_by_day(ledger::Database& db, date::year_month_day from,
                                                  date::year_month_day to, std::size_t rows_max) {
  assert(rows_max >= 1);
  SubsidyDays out{ledger::format_day(from), ledger::format_day(to), 0, {}};
  // One row more than allowed is read: a report is refused whole rather than cut (finance.hpp).
  const long long rows_read_max = static_cast<long long>(rows_max) + 1;
  auto lease = db.lease();
  try {
    // The outlet report's source and filter (merchant_day_stats of merchants with a home outlet), by day.
    soci::rowset<soci::row> rows = (lease->prepare <<
        "SELECT to_char(x.business_day, 'YYYY-MM-DD'), sum(x.payments)::text, "
        "  coalesce(sum(x.payments) FILTER (WHERE x.channel = 'bank_app'), 0)::text, sum(x.discounted)::text, "
        "  sum(x.discount_fen)::text, sum(x.reversed_discount_fen)::text "
        "FROM promo.merchant_day_stats x JOIN ledger.merchant m ON m.id = x.merchant_id "
        "WHERE x.business_day BETWEEN CAST(:f AS date) AND CAST(:t AS date) "
        "GROUP BY x.business_day ORDER BY x.business_day LIMIT :n",
        soci::use(out.from), soci::use(out.to), soci::use(rows_read_max));
    for (const auto& r : rows) {
      if (out.days.size() == rows_max) {
        return unexpected(ReportError{ReportRefusal::report_too_large, "report outlets daily", rows_max, "from",
                                      fmt::format("report outlets daily: more than {} days (the report row limit); "
                                                  "ask for a shorter range", rows_max)});
      }
      SubsidyDay d{r.get<std::string>(0), count_at(r, 1), count_at(r, 2), count_at(r, 3), wide_at(r, 4), wide_at(r, 5), 0};
      d.net_subsidy_fen = d.subsidy_fen - d.reversed_subsidy_fen;
      out.net_subsidy_total_fen += d.net_subsidy_fen;
      out.days.push_back(std::move(d));
    }
  } catch (...) {
    rethrow_as_database_error("reading the subsidy per day");
  }
  return out;
}

}  // namespace promoledger::promo
