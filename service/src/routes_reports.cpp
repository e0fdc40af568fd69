// Branch finance's reports: outlets (JSON or CSV), outlets per day, a campaign's report, the trial
// balance.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/insights.hpp"
#include "promoledger/promo/views.hpp"
#include "routes.hpp"

namespace promoledger::service::detail {

using nlohmann::json;

namespace {

std::string percent_of(std::int64_t part, std::int64_t whole) { return promo::share_percent(part, whole); }

// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_of(const promo::views::Table& table) {
  std::string out;
  const auto line = [&out](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) out += (i == 0 ? "" : ",") + csv_field(cells[i]);
    out += "\r\n";
  };
  line(table.headers);
  for (const auto& row : table.rows) line(row);
  return out;
}

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

void Service::outlet_report(const Request& req, Response& res) {
  const auto range = required_range(req, res);
  if (!range) return;
  const std::string level = req.param_or("level", "all");
  if (level != "all" && level != "outlet" && level != "sub_branch" && level != "branch") {
    return answer_error(res, 400, "invalid_field", "level is outlet, sub_branch, branch or all", "level");
  }
  const std::string format = req.param_or("format", "json");
  if (format != "json" && format != "csv") return answer_error(res, 400, "invalid_field", "format is json or csv", "format");
  reading(res, [&] {
    const auto rows = promo::outlet_report(read_db_, range->first, range->second);
    const std::string from = ledger::format_day(range->first), to = ledger::format_day(range->second);
    const auto table = promo::views::outlet_table(rows, level);
    if (format == "csv") {
      // The same table as the JSON, for a spreadsheet; the file name carries the range.
      res.status = 200;
      res.set_header("Content-Disposition", fmt::format("attachment; filename=\"outlets-{}-{}.csv\"", from, to));
      res.set_content(csv_of(table), "text/csv; charset=utf-8");
      return;
    }
    const auto budgets = promo::budget_report(read_db_);
    answer(res, 200, promo::views::outlet_report(from, to, table, promo::views::budget_table(budgets)));
  });
}

void Service::subsidy_days(const Request& req, Response& res) {
  const auto range = required_range(req, res);
  if (!range) return;
  reading(res, [&] {
    json days = json::array();
    ledger::WideFen total = 0;
    for (const auto& d : promo::subsidy_by_day(read_db_, range->first, range->second)) {
      total += d.subsidy_fen - d.reversed_subsidy_fen;
      days.push_back(json{{"business_day", d.business_day}, {"payments", d.payments},
                          {"bank_app", d.bank_app_payments}, {"bank_app_share", percent_of(d.bank_app_payments, d.payments)},
                          {"discounted", d.discounted}, {"subsidy", ledger::format_fen(d.subsidy_fen)},
                          {"reversed_subsidy", ledger::format_fen(d.reversed_subsidy_fen)},
                          {"net_subsidy", ledger::format_fen(d.subsidy_fen - d.reversed_subsidy_fen)}});
    }
    answer(res, 200, json{{"from", ledger::format_day(range->first)}, {"to", ledger::format_day(range->second)},
                          {"net_subsidy_total", ledger::format_fen(total)}, {"days", days}});
  });
}

void Service::campaign_report(const Request& req, Response& res) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  reading(res, [&] {
    auto view = promo::Campaigns(read_db_).show(*id);
    if (!view) return answer_error(res, 404, "unknown_campaign", fmt::format("no campaign {}", *id));
    const auto range = day_range(req.param_or("from", view->summary.first_day), req.param_or("to", view->summary.last_day), res);
    if (!range) return;
    const auto rows = promo::campaign_report(read_db_, *id, range->first, range->second);
    answer(res, 200, promo::views::objects(promo::views::campaign_report_table(rows)));
  });
}

void Service::trial_balance(const Request&, Response& res) {
  reading(res, [&] { answer(res, 200, promo::views::trial_balance(ledger::Ledger(read_db_).trial_balance())); });
}

}  // namespace promoledger::service::detail
