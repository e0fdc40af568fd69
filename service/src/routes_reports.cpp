// Branch finance's reports: outlets (JSON, CSV or xlsx), outlets per day, a campaign's report, the trial
// balance.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "promoledger/eod/xlsx_export.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/insights.hpp"
#include "promoledger/promo/views.hpp"
#include "routes.hpp"

namespace promoledger::service::detail {

using nlohmann::json;

namespace {

// The query's from and to, both required: a 400 names the one missing or wrong.
std::optional<std::pair<date::year_month_day, date::year_month_day>> required_range(const Request& req, Response& res) {
  for (const char* p : {"from", "to"}) {
    if (!req.has_param(p)) {
      answer_error(res, 400, "missing_field", fmt::format("the query needs {}=YYYY-MM-DD", p), p);
      return std::nullopt;
    }
  }
  return day_range(req.param("from"), req.param("to"), res);
}

}  // namespace

// The level is applied in SQL (promo::report_outlets, as `report outlets --level` does), so a coarser
// level is how a report of too many outlets is narrowed: the 422 says so.
void Service::outlet_report(const Request& req, Response& res) {
  const auto range = required_range(req, res);
  if (!range) return;
  const auto level = promo::outlet_level_from_string(req.param_or("level", "all"));
  if (!level) return answer_error(res, 400, "invalid_field", "level is outlet, sub_branch, branch or all", "level");
  const std::string format = req.param_or("format", "json");
  if (format != "json" && format != "csv" && format != "xlsx") {
    return answer_error(res, 400, "invalid_field", "format is json, csv or xlsx", "format");
  }
  reading(res, [&] {
    const auto report = promo::report_outlets(reports_db(), range->first, range->second, *level, options_.report_rows_max);
    if (!report) return answer_report_error(res, report.error());
    if (format == "csv") {
      // The same table as the JSON's rows, for a spreadsheet; the file name carries the range.
      res.status = 200;
      res.set_header("Content-Disposition", fmt::format("attachment; filename=\"outlets-{}-{}.csv\"", report->from, report->to));
      res.set_content(promo::views::csv(promo::views::outlet_table(report->rows)), "text/csv; charset=utf-8");
      return;
    }
    if (format == "xlsx") {
      // The workbook of `report outlets --xlsx` (eod/xlsx_export.hpp): the table and the budgets.
      res.status = 200;
      res.set_header("Content-Disposition", fmt::format("attachment; filename=\"outlets-{}-{}.xlsx\"", report->from, report->to));
      res.set_content(eod::outlet_report_xlsx(*report), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
      return;
    }
    answer(res, 200, promo::views::to_json(*report));
  });
}

void Service::subsidy_days(const Request& req, Response& res) {
  const auto range = required_range(req, res);
  if (!range) return;
  reading(res, [&] {
    const auto days = promo::subsidy_by_day(reports_db(), range->first, range->second, options_.report_rows_max);
    if (!days) return answer_report_error(res, days.error());
    answer(res, 200, promo::views::to_json(*days));
  });
}

void Service::campaign_report(const Request& req, Response& res) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  const auto from = query_day(req, "from", res);
  if (!from) return;
  const auto to = query_day(req, "to", res);
  if (!to) return;
  reading(res, [&] {
    const auto report = promo::report_campaign(reports_db(), *id, *from, *to, options_.report_rows_max);
    if (!report) return answer_report_error(res, report.error());
    answer(res, 200, promo::views::to_json(*report));
  });
}

void Service::trial_balance(const Request&, Response& res) {
  reading(res, [&] { answer(res, 200, promo::views::to_json(ledger::Ledger(reports_db()).trial_balance())); });
}

}  // namespace promoledger::service::detail
