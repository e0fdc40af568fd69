#include "promoledger/promo/finance.hpp"

#include <fmt/format.h>

#include "promoledger/ledger/business_day.hpp"

namespace promoledger::promo {
namespace {

using ledger::parse_wide_fen;
using ledger::rethrow_as_database_error;

ledger::WideFen wide(const soci::row& row, std::size_t i) { return parse_wide_fen(row.get<std::string>(i)).value(); }
std::int64_t count(const soci::row& row, std::size_t i) {
  return static_cast<std::int64_t>(parse_wide_fen(row.get<std::string>(i)).value());
}

}  // namespace

std::string share_percent(std::int64_t part, std::int64_t whole) {
  if (whole <= 0) return "0.00%";
  // Hundredths of a percent, rounded half up: (part * 10000 * 2 + whole) / (2 * whole).
  const ledger::WideFen hundredths = (ledger::WideFen(part) * 20000 + whole) / (ledger::WideFen(whole) * 2);
  return fmt::format("{}.{:02d}%", (hundredths / 100).str(), static_cast<int>(hundredths % 100));
}

std::vector<OutletRow> outlet_report(ledger::Database& db, date::year_month_day from, date::year_month_day to) {
  std::vector<OutletRow> out;
  const std::string f = ledger::format_day(from), t = ledger::format_day(to);
  auto lease = db.lease();
  try {
    // Every outlet appears, with zeros when it had no payment; roll-ups by GROUPING SETS.
    soci::rowset<soci::row> rows = (lease->prepare <<
        "WITH s AS (SELECT m.outlet_id, x.* FROM promo.merchant_day_stats x JOIN ledger.merchant m ON m.id = x.merchant_id "
        "           WHERE x.business_day BETWEEN CAST(:f AS date) AND CAST(:t AS date)) "
        "SELECT b.code, coalesce(sb.code, ''), coalesce(o.code, ''), "
        "  CASE WHEN o.code IS NOT NULL THEN 'outlet' WHEN sb.code IS NOT NULL THEN 'sub_branch' ELSE 'branch' END, "
        "  coalesce(sum(s.payments) FILTER (WHERE s.channel = 'wechat'), 0)::text, "
        "  coalesce(sum(s.amount_fen) FILTER (WHERE s.channel = 'wechat'), 0)::text, "
        "  coalesce(sum(s.payments) FILTER (WHERE s.channel = 'alipay'), 0)::text, "
        "  coalesce(sum(s.amount_fen) FILTER (WHERE s.channel = 'alipay'), 0)::text, "
        "  coalesce(sum(s.payments) FILTER (WHERE s.channel = 'bank_app'), 0)::text, "
        "  coalesce(sum(s.amount_fen) FILTER (WHERE s.channel = 'bank_app'), 0)::text, "
        "  coalesce(sum(s.payments), 0)::text, coalesce(sum(s.amount_fen), 0)::text, "
        "  coalesce(sum(s.discounted), 0)::text, coalesce(sum(s.discount_fen), 0)::text, "
        "  coalesce(sum(s.payer_share_fen), 0)::text, coalesce(sum(s.merchant_share_fen), 0)::text, "
        "  coalesce(sum(s.reversed), 0)::text, coalesce(sum(s.reversed_discount_fen), 0)::text "
        "FROM ledger.org_unit o JOIN ledger.org_unit sb ON sb.id = o.parent_id JOIN ledger.org_unit b ON b.id = sb.parent_id "
        "LEFT JOIN s ON s.outlet_id = o.id WHERE o.kind = 'outlet' "
        "GROUP BY GROUPING SETS ((b.code, sb.code, o.code), (b.code, sb.code), (b.code)) "
        "ORDER BY b.code, sb.code NULLS LAST, o.code NULLS LAST LIMIT 100000",
        soci::use(f), soci::use(t));
    for (const soci::row& row : rows) {
      OutletRow r;
      r.branch = row.get<std::string>(0);
      r.sub_branch = row.get<std::string>(1);
      r.outlet = row.get<std::string>(2);
      r.level = row.get<std::string>(3);
      r.wechat = {count(row, 4), wide(row, 5)};
      r.alipay = {count(row, 6), wide(row, 7)};
      r.bank_app = {count(row, 8), wide(row, 9)};
      r.total = {count(row, 10), wide(row, 11)};
      r.discounted = count(row, 12);
      r.subsidy_fen = wide(row, 13);
      r.payer_part_fen = wide(row, 14);
      r.merchant_part_fen = wide(row, 15);
      r.reversed = count(row, 16);
      r.reversed_subsidy_fen = wide(row, 17);
      out.push_back(std::move(r));
    }
  } catch (...) {
    rethrow_as_database_error("reading the outlet report");
  }
  return out;
}

std::vector<BudgetRow> budget_report(ledger::Database& db) {
  std::vector<BudgetRow> out;
  auto lease = db.lease();
  try {
    soci::rowset<soci::row> rows = (lease->prepare <<
        "SELECT id, name, status, budget_total_fen::text, budget_reserved_fen::text, budget_spent_fen::text, "
        "(budget_total_fen - budget_reserved_fen - budget_spent_fen)::text FROM promo.campaign ORDER BY id LIMIT 10000");
    for (const soci::row& row : rows) {
      out.push_back(BudgetRow{row.get<long long>(0), row.get<std::string>(1), row.get<std::string>(2), wide(row, 3),
                              wide(row, 4), wide(row, 5), wide(row, 6)});
    }
  } catch (...) {
    rethrow_as_database_error("reading budgets");
  }
  return out;
}

std::vector<CampaignDayRow> campaign_report(ledger::Database& db, std::int64_t campaign_id, date::year_month_day from,
                                            date::year_month_day to) {
  std::vector<CampaignDayRow> out;
  const std::string f = ledger::format_day(from), t = ledger::format_day(to);
  const long long id = campaign_id;
  auto lease = db.lease();
  try {
    soci::rowset<soci::row> rows = (lease->prepare <<
        "SELECT d.business_day::text, m.code, o.code, d.status, d.card_count::text, d.used_count::text, "
        "  CASE WHEN d.status = 'closed' THEN d.card_count - d.used_count ELSE 0 END::text, "
        "  coalesce(dc.subsidy_fen, u.used_fen)::text, coalesce(dc.used_in_band, u.in_band)::text "
        "FROM promo.deck d JOIN promo.campaign c ON c.id = d.campaign_id JOIN ledger.merchant m ON m.id = d.merchant_id "
        "JOIN ledger.org_unit o ON o.id = m.outlet_id LEFT JOIN promo.day_close dc ON dc.deck_id = d.id "
        "CROSS JOIN LATERAL (SELECT coalesce(sum(x), 0) AS used_fen, "
        "  count(*) FILTER (WHERE x BETWEEN c.band_low_fen AND c.band_high_fen) AS in_band "
        "  FROM unnest(d.cards_fen) WITH ORDINALITY AS k(x, position) WHERE k.position <= d.used_count) u "
        "WHERE d.campaign_id = :id AND d.business_day BETWEEN CAST(:f AS date) AND CAST(:t AS date) "
        "UNION ALL "
        "SELECT u.business_day::text, m.code, o.code, 'unfunded', '0', '0', '0', '0', '0' FROM promo.deck_unfunded u "
        "JOIN ledger.merchant m ON m.id = u.merchant_id JOIN ledger.org_unit o ON o.id = m.outlet_id "
        "WHERE u.campaign_id = :id2 AND u.business_day BETWEEN CAST(:f2 AS date) AND CAST(:t2 AS date) "
        "ORDER BY 1, 2 LIMIT 100000",
        soci::use(id), soci::use(f), soci::use(t), soci::use(id), soci::use(f), soci::use(t));
    for (const soci::row& row : rows) {
      CampaignDayRow r;
      r.business_day = row.get<std::string>(0);
      r.merchant = row.get<std::string>(1);
      r.outlet = row.get<std::string>(2);
      r.deck_status = row.get<std::string>(3);
      r.cards_dealt = count(row, 4);
      r.cards_used = count(row, 5);
      r.cards_expired = count(row, 6);
      r.subsidy_fen = wide(row, 7);
      r.used_in_band = count(row, 8);
      out.push_back(std::move(r));
    }
  } catch (...) {
    rethrow_as_database_error(fmt::format("reading the report of campaign {}", campaign_id));
  }
  return out;
}

}  // namespace promoledger::promo
