#include "promoledger/promo/finance.hpp"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

#include "archived_refusal.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/names.hpp"
#include "promoledger/ledger/periods.hpp"
#include "row_text.hpp"

namespace promoledger::promo {
namespace {

using ledger::rethrow_as_database_error;

using detail::count_at;
using detail::wide_at;

// The LIMIT of a report query: one row more than the report may hold, so that "more" is seen.
long long limit_of(std::size_t rows_max) {
  assert(rows_max >= 1);
  return static_cast<long long>(rows_max) + 1;
}

constexpr ledger::NameTable<ReportRefusal, 5> refusal_names{{
    {ReportRefusal::unknown_campaign, "unknown_campaign"},
    {ReportRefusal::unknown_outlet, "unknown_outlet"},
    {ReportRefusal::bad_range, "bad_range"},
    {ReportRefusal::report_too_large, "report_too_large"},
    {ReportRefusal::period_archived, "period_archived"},
}};
static_assert(ledger::names_every_value(refusal_names));

// The same words as OutletRow's levels (ledger::OrgKind) and "all"; the query compares them in SQL.
constexpr ledger::NameTable<OutletLevel, 4> level_names{{
    {OutletLevel::all, "all"},
    {OutletLevel::outlet, "outlet"},
    {OutletLevel::sub_branch, "sub_branch"},
    {OutletLevel::branch, "branch"},
}};
static_assert(ledger::names_every_value(level_names));

// `field` is the parameter that narrows the report (level, from), empty when none can.
ReportError too_many_rows(std::string report, std::size_t rows_max, const std::string& what, std::string field,
                          const std::string& narrow) {
  std::string message = fmt::format("{}: more than {} {} (the report row limit); {}", report, rows_max, what, narrow);
  return ReportError{ReportRefusal::report_too_large, std::move(report), rows_max, std::move(field), std::move(message)};
}

ReportError too_many_outlet_rows(OutletLevel level, std::size_t rows_max) {
  switch (level) {
    case OutletLevel::branch:
      return too_many_rows("report outlets", rows_max, "rows", "", "the organisation has more branches than one report holds");
    case OutletLevel::sub_branch:
      return too_many_rows("report outlets", rows_max, "rows", "level", "narrow it with level branch");
    case OutletLevel::all:
    case OutletLevel::outlet: break;
  }
  return too_many_rows("report outlets", rows_max, "rows", "level", "narrow it with level sub_branch or branch");
}

// Every outlet appears, with zeros when it had no payment; roll-ups by GROUPING SETS; the level is
// kept in SQL (HAVING) so that the limit counts the rows the caller asked for.
Expected<std::vector<OutletRow>, ReportError> outlet_rows(soci::session& s, const std::string& f, const std::string& t,
                                                          OutletLevel level, std::size_t rows_max) {
  std::vector<OutletRow> out;
  const long long limit = limit_of(rows_max);
  const std::string level_name(to_string(level));
  soci::rowset<soci::row> rows = (s.prepare <<
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
      "HAVING CAST(:level AS text) IN ('all', CASE WHEN o.code IS NOT NULL THEN 'outlet' "
      "                                            WHEN sb.code IS NOT NULL THEN 'sub_branch' ELSE 'branch' END) "
      "ORDER BY b.code, sb.code NULLS LAST, o.code NULLS LAST LIMIT :n",
      soci::use(f), soci::use(t), soci::use(level_name), soci::use(limit));
  for (const soci::row& row : rows) {
    if (out.size() == rows_max) return unexpected(too_many_outlet_rows(level, rows_max));
    OutletRow r;
    r.branch = row.get<std::string>(0);
    r.sub_branch = row.get<std::string>(1);
    r.outlet = row.get<std::string>(2);
    const auto kind = ledger::org_kind_from_string(row.get<std::string>(3));
    if (!kind) throw ledger::DatabaseError("the outlet report's query returned an unknown level", "");
    r.level = *kind;
    r.wechat = {count_at(row, 4), wide_at(row, 5)};
    r.alipay = {count_at(row, 6), wide_at(row, 7)};
    r.bank_app = {count_at(row, 8), wide_at(row, 9)};
    r.total = {count_at(row, 10), wide_at(row, 11)};
    r.discounted = count_at(row, 12);
    r.subsidy_fen = wide_at(row, 13);
    r.payer_part_fen = wide_at(row, 14);
    r.merchant_part_fen = wide_at(row, 15);
    r.reversed = count_at(row, 16);
    r.reversed_subsidy_fen = wide_at(row, 17);
    out.push_back(std::move(r));
  }
  return out;
}

Expected<std::vector<BudgetRow>, ReportError> budget_rows(soci::session& s, std::size_t rows_max) {
  std::vector<BudgetRow> out;
  const long long limit = limit_of(rows_max);
  soci::rowset<soci::row> rows = (s.prepare <<
      "SELECT id, name, status, budget_total_fen::text, budget_reserved_fen::text, budget_spent_fen::text, "
      "(budget_total_fen - budget_reserved_fen - budget_spent_fen)::text FROM promo.campaign ORDER BY id LIMIT :n",
      soci::use(limit));
  for (const soci::row& row : rows) {
    if (out.size() == rows_max) {
      return unexpected(too_many_rows("report outlets", rows_max, "campaigns in the budgets table", "",
                                      "there are more campaigns than one report holds"));
    }
    const auto status = campaign_status_from_string(row.get<std::string>(2));
    if (!status) throw ledger::DatabaseError("promo.campaign holds an unknown status", "");
    out.push_back(BudgetRow{row.get<long long>(0), row.get<std::string>(1), *status, wide_at(row, 3), wide_at(row, 4),
                            wide_at(row, 5), wide_at(row, 6)});
  }
  return out;
}

Expected<std::vector<CampaignDayRow>, ReportError> campaign_rows(soci::session& s, std::int64_t campaign_id,
                                                                 const std::string& f, const std::string& t,
                                                                 std::size_t rows_max) {
  std::vector<CampaignDayRow> out;
  const long long id = campaign_id;
  const long long limit = limit_of(rows_max);
  soci::rowset<soci::row> rows = (s.prepare <<
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
      "ORDER BY 1, 2 LIMIT :n",
      soci::use(id), soci::use(f), soci::use(t), soci::use(id), soci::use(f), soci::use(t), soci::use(limit));
  for (const soci::row& row : rows) {
    if (out.size() == rows_max) {
      return unexpected(too_many_rows(fmt::format("report campaign {}", campaign_id), rows_max, "rows (merchants x days)",
                                      "from", "narrow it with a shorter day range (from, to)"));
    }
    CampaignDayRow r;
    r.business_day = row.get<std::string>(0);
    r.merchant = row.get<std::string>(1);
    r.outlet = row.get<std::string>(2);
    r.deck_status = row.get<std::string>(3);
    r.cards_dealt = count_at(row, 4);
    r.cards_used = count_at(row, 5);
    r.cards_expired = count_at(row, 6);
    r.subsidy_fen = wide_at(row, 7);
    r.used_in_band = count_at(row, 8);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

namespace detail {

std::optional<ReportError> archived_refusal(soci::session& s, const std::string& report, date::year_month_day from,
                                            date::year_month_day to) {
  const std::vector<std::string> months = ledger::archived_months(s, from, to);
  if (months.empty()) return std::nullopt;
  std::string named;
  for (const auto& m : months) named += (named.empty() ? "" : ", ") + m;
  return ReportError{ReportRefusal::period_archived, report, 0, "from",
                     fmt::format("{}: {} to {} touches {} {} archived (its rows are off the primary, so the report "
                                 "would be short); restore {} with `promoledger period restore --from DIR` (the "
                                 "month's archive folder), or ask for days outside {}",
                                 report, ledger::format_day(from), ledger::format_day(to), named,
                                 months.size() == 1 ? "month" : "months", months.size() == 1 ? "it" : "them",
                                 months.size() == 1 ? "it" : "them")};
}

}  // namespace detail

std::string_view to_string(ReportRefusal code) { return ledger::name_of(refusal_names, code); }
std::string_view to_string(OutletLevel level) { return ledger::name_of(level_names, level); }
std::optional<OutletLevel> outlet_level_from_string(std::string_view text) {
  return ledger::value_named(level_names, text);
}

std::string share_percent(std::int64_t part, std::int64_t whole) {
  if (whole <= 0) return "0.00%";
  // Hundredths of a percent, rounded half up: (part * 10000 * 2 + whole) / (2 * whole).
  const ledger::WideFen hundredths = (ledger::WideFen(part) * 20000 + whole) / (ledger::WideFen(whole) * 2);
  return fmt::format("{}.{:02d}%", (hundredths / 100).str(), static_cast<int>(hundredths % 100));
}

Expected<OutletReport, ReportError> report_outlets(ledger::Database& db, date::year_month_day from,
                                                   date::year_month_day to, OutletLevel level,
                                                   std::size_t rows_max) {
  OutletReport report{ledger::format_day(from), ledger::format_day(to), level, {}, {}};
  auto lease = db.lease();
  try {
    auto rows = outlet_rows(*lease, report.from, report.to, level, rows_max);
    // After the read (archived_refusal.hpp says why), and before any other refusal of it.
    if (auto archived = detail::archived_refusal(*lease, "report outlets", from, to)) return unexpected(*archived);
    if (!rows) return unexpected(rows.error());
    auto budgets = budget_rows(*lease, rows_max);
    if (!budgets) return unexpected(budgets.error());
    report.rows = std::move(rows).value();
    report.budgets = std::move(budgets).value();
  } catch (...) {
    rethrow_as_database_error("reading the outlet report");
  }
  return report;
}

Expected<CampaignReport, ReportError> report_campaign(ledger::Database& db, std::int64_t campaign_id,
                                                      std::optional<date::year_month_day> from,
                                                      std::optional<date::year_month_day> to, std::size_t rows_max) {
  const std::string report_name = fmt::format("report campaign {}", campaign_id);
  CampaignReport report{campaign_id, {}, {}, {}};
  auto lease = db.lease();
  try {
    // The campaign's own days stand in for a missing end, and tell "no such campaign" from "nothing
    // in that range".
    const long long id = campaign_id;
    std::string first, last;
    *lease << "SELECT first_day::text, last_day::text FROM promo.campaign WHERE id = :id", soci::use(id),
        soci::into(first), soci::into(last);
    if (!lease->got_data()) {
      return unexpected(ReportError{ReportRefusal::unknown_campaign, report_name, 0, "campaign_id",
                                    fmt::format("no campaign {}", campaign_id)});
    }
    const auto range = ledger::parse_day_range(from ? ledger::format_day(*from) : first, to ? ledger::format_day(*to) : last);
    if (!range) {
      return unexpected(ReportError{ReportRefusal::bad_range, report_name, 0, range.error().field, range.error().message});
    }
    report.from = ledger::format_day(range->first);
    report.to = ledger::format_day(range->second);
    auto rows = campaign_rows(*lease, campaign_id, report.from, report.to, rows_max);
    // After the read (archived_refusal.hpp says why), and before any other refusal of it.
    if (auto archived = detail::archived_refusal(*lease, report_name, range->first, range->second)) {
      return unexpected(*archived);
    }
    if (!rows) return unexpected(rows.error());
    report.rows = std::move(rows).value();
  } catch (...) {
    rethrow_as_database_error(fmt::format("reading the report of campaign {}", campaign_id));
  }
  return report;
}

Expected<SubsidyReport, ReportError> audit_subsidies(ledger::Database& db, const std::string& outlet_code,
                                                     date::year_month_day from, date::year_month_day to,
                                                     std::size_t rows_max) {
  assert(rows_max >= 1);
  const std::string report_name = fmt::format("audit subsidies {}", outlet_code);
  auto rows = outlet_subsidies(db, outlet_code, from, to, rows_max + 1);  // one more: "more" is seen
  if (!rows) {
    return unexpected(
        ReportError{ReportRefusal::unknown_outlet, report_name, 0, "outlet", fmt::format("no outlet {}", outlet_code)});
  }
  // After the read (archived_refusal.hpp says why): outlet_subsidies' statement has ended, so an archive
  // that dropped a partition under it has committed and is seen here.
  {
    auto lease = db.lease();
    std::optional<ReportError> archived;
    try {
      archived = detail::archived_refusal(*lease, report_name, from, to);
    } catch (...) {
      rethrow_as_database_error("reading the subsidies' months");
    }
    if (archived) return unexpected(*archived);
  }
  if (rows->size() > rows_max) {
    return unexpected(
        too_many_rows(report_name, rows_max, "subsidies", "from", "narrow it with a shorter day range (from, to)"));
  }
  SubsidyReport report{outlet_code, ledger::format_day(from), ledger::format_day(to), std::move(*rows), 0, 0, 0};
  for (const auto& r : report.rows) {
    report.discount_fen += r.discount_fen;
    report.payer_part_fen += r.payer_share_fen;
    report.merchant_part_fen += r.merchant_share_fen;
  }
  return report;
}

}  // namespace promoledger::promo
