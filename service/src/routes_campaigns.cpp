// Campaigns: list, show, create (operator), approve (another operator), pause/resume/end, and the
// console's figures of one campaign (subsidy per day, dealt card values).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/insights.hpp"
#include "promoledger/promo/views.hpp"
#include "promoledger/service/request_parsing.hpp"
#include "routes.hpp"

namespace promoledger::service::detail {

using nlohmann::json;

namespace {

// {"error", "message", "field" (the first's), "errors": [{"field", "message"}]}.
void answer_campaign_errors(Response& res, int status, const std::string& error, const std::string& summary,
                            const std::vector<promo::Rejection>& problems) {
  json errors = json::array();
  for (const auto& p : problems) errors.push_back(json{{"field", p.field}, {"message", p.message}});
  json body{{"error", error}, {"message", summary}, {"errors", errors}};
  if (!problems.empty() && !problems.front().field.empty()) body["field"] = problems.front().field;
  res.error = error;
  answer(res, status, body);
}

}  // namespace

void Service::list_campaigns(const Request&, Response& res) {
  reading(res, [&] {
    json out = json::array();
    for (const auto& s : promo::Campaigns(work_db_).list()) out.push_back(promo::views::campaign_summary(s));
    answer(res, 200, out);
  });
}

void Service::show_campaign(const Request& req, Response& res) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  reading(res, [&] {
    auto view = promo::Campaigns(work_db_).show(*id);
    if (!view) return answer_error(res, 404, "unknown_campaign", fmt::format("no campaign {}", *id));
    answer(res, 200, promo::views::campaign(*view));
  });
}

void Service::create_campaign(const Request& req, Response& res) {
  const json document = json::parse(req.body, nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return answer_error(res, 400, "invalid_json", "the body must be one campaign document, a JSON object");
  }
  // The same two steps, in the same order, as `campaign create`: read every parameter, then judge the
  // whole (feasibility); each error names its parameter.
  auto params = promo::parse_campaign(document);
  if (!params) {
    return answer_campaign_errors(res, 400, "invalid_parameters",
                                  fmt::format("{} problem(s) in the campaign's parameters", params.error().size()),
                                  params.error());
  }
  if (auto errors = promo::validate(*params); !errors.empty()) {
    return answer_campaign_errors(res, 422, "infeasible_campaign",
                                  fmt::format("the campaign cannot work as given: {} problem(s)", errors.size()), errors);
  }
  reading(res, [&] {
    // Like the other campaign steps (steer_campaign), on the reading pool: the posting pool's sessions
    // are the group-commit writers', and a campaign is created rarely.
    auto id = promo::Campaigns(work_db_).create(*params, document, "api:" + req.token_name);
    // The organisation refuses it (no such branch or merchant, a merchant outside the branch): 422,
    // with the field the library's message names.
    if (!id) {
      return answer_campaign_errors(res, 422, std::string(promo::to_string(id.error().code)), id.error().message,
                                    {id.error()});
    }
    answer(res, 201, json{{"id", *id}, {"status", "draft"}, {"created_by", "api:" + req.token_name}});
  });
}

void Service::approve_campaign(const Request& req, Response& res) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  if (!req.body.empty() && req.body != "{}") {
    return answer_error(res, 400, "unknown_field", "approval takes no body (or {})");
  }
  reading(res, [&] {
    // Maker-checker is the library's (and the table's CHECK): the creator's token cannot approve.
    const std::string approver = "api:" + req.token_name;
    auto status = promo::Campaigns(work_db_).approve(*id, approver);
    if (!status) return answer_rejection(res, status.error());
    answer(res, 200, json{{"id", *id}, {"status", promo::to_string(*status)}, {"approved_by", approver}});
  });
}

void Service::steer_campaign(const Request& req, Response& res, promo::CampaignAction action) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  auto reason = parse_reason_body(req.body);
  if (!reason) return answer_bad_request(res, reason.error());
  reading(res, [&] {
    promo::Campaigns campaigns(work_db_);
    // The actor recorded in the campaign's events is the token's name: who steered it, by what key.
    // The reason is kept with the event (promo.campaign_event.reason, migration 0012).
    auto status = campaigns.transition(*id, action, "api:" + req.token_name, *reason);
    if (!status) return answer_rejection(res, status.error());
    json out{{"id", *id}, {"status", promo::to_string(*status)}};
    if (!reason->empty()) out["reason"] = *reason;
    answer(res, 200, out);
  });
}

void Service::campaign_days(const Request& req, Response& res) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  const auto from = query_day(req, "from", res);
  if (!from) return;
  const auto to = query_day(req, "to", res);
  if (!to) return;
  reading(res, [&] {
    const auto days = promo::campaign_days(reports_db(), *id, *from, *to, options_.report_rows_max);
    if (!days) return answer_report_error(res, days.error());
    answer(res, 200, promo::views::to_json(*days));
  });
}

void Service::card_values(const Request& req, Response& res) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  reading(res, [&] {
    const auto values = promo::dealt_card_values(reports_db(), *id);
    if (!values) return answer_error(res, 404, "unknown_campaign", fmt::format("no campaign {}", *id));
    answer(res, 200, promo::views::to_json(*values));
  });
}

}  // namespace promoledger::service::detail
