#include "routes.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/views.hpp"
#include "promoledger/service/request_parsing.hpp"

namespace promoledger::service::detail {

using nlohmann::json;

std::string regex_of(std::string_view path) {
  std::string out;
  bool in_parameter = false;
  for (char c : path) {
    if (c == '{') {
      in_parameter = true;
      out += "([^/]+)";
    } else if (c == '}') {
      in_parameter = false;
    } else if (!in_parameter) {
      if (c == '.') out += '\\';
      out += c;
    }
  }
  return out;
}

// What one running service holds.

void Service::post_payment(const httplib::Request& req, httplib::Response& res) {
  auto request = parse_payment_body(req.body);
  if (!request) return answer_bad_request(res, request.error());
  const auto started = Clock::now();
  std::future<promo::PaymentPoster::Outcome> pending;
  try {
    pending = group_.submit(std::move(*request));
  } catch (const promo::QueueFull&) {
    metrics_.count_rejection("queue_full");
    return answer_error(res, 503, "queue_full", "the posting queue is full; nothing was stored, try again shortly");
  } catch (const promo::PosterStopped&) {
    return answer_error(res, 503, "shutting_down", "the service is stopping; nothing was stored, try another instance");
  }
  std::optional<promo::PaymentPoster::Outcome> outcome;
  try {
    outcome = pending.get();
  } catch (const ledger::OutcomeUnknown& e) {
    spdlog::warn("payment outcome unknown: {}", e.what());
    metrics_.count_rejection("outcome_unknown");
    return answer_error(res, 503, "outcome_unknown",
                        "the database connection failed while the payment was being committed: it may or may not be "
                        "stored; re-send it with the same payment_id (a stored one answers exists)");
  } catch (const ledger::DatabaseError& e) {
    metrics_.count_rejection("database");
    if (ledger::is_connection_failure(e)) {
      return answer_error(res, 503, "database_unavailable",
                          "the database cannot be reached; nothing was stored, re-send with the same payment_id");
    }
    spdlog::error("payment batch failed: {}", e.what());
    return answer_error(res, 500, "internal",
                        "the batch holding this payment failed; nothing of it was stored, re-send with the same payment_id");
  }
  metrics_.observe_posting(Clock::now() - started);
  if (!*outcome) {
    metrics_.count_rejection(std::string(promo::to_string(outcome->error().code)));
    return answer_rejection(res, outcome->error());
  }
  const promo::PaymentResult& result = **outcome;
  answer(res, result.status == promo::PaymentResult::Status::posted ? 201 : 200, promo::views::payment(result));
}

namespace {

// The path's payment id ({payment_id}), or a 400 answered and nothing.
std::optional<std::string> path_payment_id(const httplib::Request& req, httplib::Response& res) {
  std::string id = req.matches[1];
  if (valid_payment_id(id)) return id;
  answer_error(res, 400, "invalid_field", "a payment id is 1..64 of A-Z a-z 0-9 _ . : -", "payment_id");
  return std::nullopt;
}

// The path's campaign id ({campaign_id}), or a 400 answered and nothing.
std::optional<std::int64_t> path_campaign_id(const httplib::Request& req, httplib::Response& res) {
  const auto id = parse_campaign_id(req.matches[1].str());
  if (!id) answer_error(res, 400, "invalid_field", "a campaign id is a positive integer", "campaign_id");
  return id;
}

// A report's day range from its query (from, to), or a 400 naming the parameter at fault.
std::optional<std::pair<date::year_month_day, date::year_month_day>> day_range(const std::string& from,
                                                                               const std::string& to,
                                                                               httplib::Response& res) {
  auto range = ledger::parse_day_range(from, to);
  if (range) return *range;
  answer_error(res, 400, "invalid_field", range.error(), range.error().rfind("to", 0) == 0 ? "to" : "from");
  return std::nullopt;
}

}  // namespace

void Service::get_payment(const httplib::Request& req, httplib::Response& res) {
  const auto id = path_payment_id(req, res);
  if (!id) return;
  reading(res, [&] {
    const auto stored = promo::find_payment(read_db_, *id);
    if (!stored) return answer_error(res, 404, "unknown_payment", fmt::format("no payment {}", *id));
    answer(res, 200, promo::views::stored_payment(*stored));
  });
}

void Service::reverse_payment(const httplib::Request& req, httplib::Response& res) {
  const auto id = path_payment_id(req, res);
  if (!id) return;
  auto day = parse_reversal_body(req.body);
  if (!day) return answer_bad_request(res, day.error());
  reading(res, [&] {
    auto result = poster_.reverse(*id, *day);
    if (!result) return answer_rejection(res, result.error());
    answer(res, result->status == promo::ReversalResult::Status::posted ? 201 : 200, promo::views::reversal(*id, *result));
  });
}

void Service::steer_campaign(const httplib::Request& req, httplib::Response& res, const std::string& action) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  reading(res, [&] {
    promo::Campaigns campaigns(read_db_);
    // The actor recorded in the campaign's events is the token's name: who steered it, by what key.
    auto status = campaigns.transition(*id, action, "api:" + t_notes.token_name);
    if (!status) return answer_rejection(res, status.error());
    answer(res, 200, json{{"id", *id}, {"status", *status}});
  });
}

void Service::healthz(httplib::Response& res) {
  try {
    auto lease = health_db_.lease();
    int one = 0;
    *lease << "SELECT 1", soci::into(one);
    answer(res, 200, json{{"status", "ok"}});
  } catch (const std::exception&) {
    t_notes.error = "database_unavailable";
    answer(res, 503, json{{"error", "database_unavailable"}, {"message", "the database does not answer"}});
  }
}

void Service::metrics_text(httplib::Response& res) {
  Metrics::Gauges g;
  g.poster = group_.stats();
  g.pool_in_use = posting_db_.in_use() + read_db_.in_use() + health_db_.in_use();
  g.pool_size = posting_db_.options().pool_size + read_db_.options().pool_size + health_db_.options().pool_size;
  g.reconnects = posting_db_.reconnects() + read_db_.reconnects() + health_db_.reconnects();
  const BoundedTaskQueue* connections = connections_.load();
  g.connections_open = connections != nullptr ? connections->open() : 0;
  g.connections_max = options_.max_connections;
  g.connections_refused = connections != nullptr ? connections->refused() : 0;
  g.tokens_active = tokens_.size();
  res.status = 200;
  res.set_content(metrics_.render(g), "text/plain; version=0.0.4");
}

std::vector<Route> Service::routes(Service* self) {
  const auto report_range = [](const httplib::Request& req, httplib::Response& res)
      -> std::optional<std::pair<date::year_month_day, date::year_month_day>> {
    for (const char* p : {"from", "to"}) {
      if (!req.has_param(p)) {
        answer_error(res, 400, "missing_field", fmt::format("the query needs {}=YYYY-MM-DD", p), p);
        return std::nullopt;
      }
    }
    return day_range(req.get_param_value("from"), req.get_param_value("to"), res);
  };
  return {
      {"GET", "/healthz", anyone, [self](const auto&, auto& res) { self->healthz(res); }},
      {"GET", "/metrics", operator_ | auditor, [self](const auto&, auto& res) { self->metrics_text(res); }},
      {"GET", "/v1/openapi.json", anyone,
       [](const auto&, auto& res) {
         res.status = 200;
         res.set_content(openapi_document(), "application/json");
       }},
      {"POST", "/v1/payments", poster, [self](const auto& req, auto& res) { self->post_payment(req, res); }},
      {"GET", "/v1/payments/{payment_id}", poster | auditor, [self](const auto& req, auto& res) { self->get_payment(req, res); }},
      {"POST", "/v1/payments/{payment_id}/reversal", poster,
       [self](const auto& req, auto& res) { self->reverse_payment(req, res); }},
      {"GET", "/v1/campaigns", finance | auditor | operator_,
       [self](const auto&, auto& res) {
         self->reading(res, [&] {
           json out = json::array();
           for (const auto& s : promo::Campaigns(self->read_db_).list()) out.push_back(promo::views::campaign_summary(s));
           answer(res, 200, out);
         });
       }},
      {"GET", "/v1/campaigns/{campaign_id}", finance | auditor | operator_,
       [self](const auto& req, auto& res) {
         const auto id = path_campaign_id(req, res);
         if (!id) return;
         self->reading(res, [&] {
           auto view = promo::Campaigns(self->read_db_).show(*id);
           if (!view) return answer_error(res, 404, "unknown_campaign", fmt::format("no campaign {}", *id));
           answer(res, 200, promo::views::campaign(*view));
         });
       }},
      {"POST", "/v1/campaigns/{campaign_id}/pause", operator_,
       [self](const auto& req, auto& res) { self->steer_campaign(req, res, "pause"); }},
      {"POST", "/v1/campaigns/{campaign_id}/resume", operator_,
       [self](const auto& req, auto& res) { self->steer_campaign(req, res, "resume"); }},
      {"POST", "/v1/campaigns/{campaign_id}/end", operator_,
       [self](const auto& req, auto& res) { self->steer_campaign(req, res, "end"); }},
      {"GET", "/v1/reports/outlets", finance | auditor,
       [self, report_range](const auto& req, auto& res) {
         const auto range = report_range(req, res);
         if (!range) return;
         const std::string level = req.has_param("level") ? req.get_param_value("level") : "all";
         if (level != "all" && level != "outlet" && level != "sub_branch" && level != "branch") {
           return answer_error(res, 400, "invalid_field", "level is outlet, sub_branch, branch or all", "level");
         }
         self->reading(res, [&] {
           const auto rows = promo::outlet_report(self->read_db_, range->first, range->second);
           const auto budgets = promo::budget_report(self->read_db_);
           answer(res, 200,
                  promo::views::outlet_report(ledger::format_day(range->first), ledger::format_day(range->second),
                                              promo::views::outlet_table(rows, level), promo::views::budget_table(budgets)));
         });
       }},
      {"GET", "/v1/reports/campaign/{campaign_id}", finance | auditor,
       [self](const auto& req, auto& res) {
         const auto id = path_campaign_id(req, res);
         if (!id) return;
         self->reading(res, [&] {
           auto view = promo::Campaigns(self->read_db_).show(*id);
           if (!view) return answer_error(res, 404, "unknown_campaign", fmt::format("no campaign {}", *id));
           const std::string from = req.has_param("from") ? req.get_param_value("from") : view->summary.first_day;
           const std::string to = req.has_param("to") ? req.get_param_value("to") : view->summary.last_day;
           const auto range = day_range(from, to, res);
           if (!range) return;
           const auto rows = promo::campaign_report(self->read_db_, *id, range->first, range->second);
           answer(res, 200, promo::views::objects(promo::views::campaign_report_table(rows)));
         });
       }},
      {"GET", "/v1/reports/trial-balance", finance | auditor,
       [self](const auto&, auto& res) {
         self->reading(res, [&] { answer(res, 200, promo::views::trial_balance(ledger::Ledger(self->read_db_).trial_balance())); });
       }},
      {"GET", "/v1/audit/trace/{payment_id}", auditor,
       [self](const auto& req, auto& res) {
         const auto id = path_payment_id(req, res);
         if (!id) return;
         self->reading(res, [&] {
           auto trace = promo::trace_payment(self->read_db_, *id);
           if (!trace) return answer_error(res, 404, "unknown_payment", fmt::format("no payment {}", *id));
           answer(res, 200, *trace);
         });
       }},
      {"POST", "/v1/audit/verify", auditor,
       [self](const auto&, auto& res) { self->reading(res, [&] { answer(res, 200, promo::views::verify(promo::verify_all(self->read_db_))); }); }},
  };
}

Handler guarded(const Route& route, TokenCache& tokens) {
  return [&route, &tokens](const httplib::Request& req, httplib::Response& res) {
    t_notes.route = route.path;
    if (route.roles != anyone) {
      const std::string header = req.get_header_value("Authorization");
      constexpr std::string_view scheme = "Bearer ";
      const auto identity = header.size() > scheme.size() && header.compare(0, scheme.size(), scheme) == 0
                                ? tokens.authenticate(std::string_view(header).substr(scheme.size()))
                                : std::nullopt;
      if (!identity) {
        res.set_header("WWW-Authenticate", "Bearer");
        return answer_error(res, 401, "unauthorized", "a valid API token is required: Authorization: Bearer TOKEN");
      }
      t_notes.token_name = identity->name;
      if ((route.roles & bit(identity->role)) == 0) {
        return answer_error(res, 403, "forbidden",
                            fmt::format("the {} role may not {} {}", to_string(identity->role), route.method, route.path));
      }
    }
    route.handle(req, res);
  };
}

}  // namespace promoledger::service::detail
