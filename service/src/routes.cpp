// The route table, and how a request reaches its handler: match by path segments, 404 or 405,
// authenticate and authorise, then run the handler where the route says.
#include "routes.hpp"

#include <cassert>
#include <exception>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/promo/views.hpp"

namespace promoledger::service::detail {

namespace {

// The read node's pools (--read-db): libpq's prefer-standby when the string names several hosts.
std::unique_ptr<ledger::Database> read_node_pool(const ServiceOptions& options, std::size_t sessions,
                                                 std::chrono::milliseconds statement_timeout) {
  if (!options.read_conninfo) return nullptr;
  ledger::DatabaseOptions pool{*options.read_conninfo, sessions, statement_timeout};
  pool.target = ledger::Target::prefer_standby;
  return std::make_unique<ledger::Database>(std::move(pool));
}

}  // namespace

Service::Service(const ServiceOptions& options)
    : options_(options),
      posting_db_(ledger::DatabaseOptions{options.conninfo, options.writers + 1}),
      work_db_(ledger::DatabaseOptions{options.conninfo, options.read_sessions}),
      health_db_(ledger::DatabaseOptions{options.conninfo, 1, std::chrono::milliseconds{2'000}}),
      replica_db_(read_node_pool(options, options.read_sessions, ledger::DatabaseOptions{}.statement_timeout)),
      replica_health_db_(read_node_pool(options, 1, std::chrono::milliseconds{2'000})),
      tokens_(work_db_),
      sessions_(options.session_idle_max, options.session_lifetime_max),
      poster_(posting_db_),
      group_(poster_, promo::GroupCommitOptions{options.writers, promo::PaymentPoster::batch_size_max,
                                                options.queue_depth_max, promo::outlet_affinity(posting_db_)}),
      routes_(routes(this)) {
  for (auto& r : console_routes(*this)) routes_.push_back(std::move(r));
  for (const auto& r : routes_) templates_.emplace_back(r.path);
}

std::vector<Route> Service::routes(Service* self) {
  // A synchronous handler: a member function, run by the dispatcher where the route says.
  const auto sync = [self](void (Service::*f)(const Request&, Response&)) -> Handler {
    return [self, f](const Request& req, Response& res) { (self->*f)(req, res); };
  };
  const auto steer = [self](promo::CampaignAction action) -> Handler {
    return [self, action](const Request& req, Response& res) { self->steer_campaign(req, res, action); };
  };
  const Handler none;
  std::vector<Route> table{
      {"GET", "/healthz", anyone, Runs::pool, sync(&Service::healthz)},
      {"GET", "/metrics", operator_ | auditor, Runs::io, sync(&Service::metrics_text)},
      {"GET", "/v1/openapi.json", anyone, Runs::io,
       [](const Request&, Response& res) {
         res.status = 200;
         res.set_content(openapi_document(), "application/json");
       }},
      {"POST", "/v1/payments", poster, Runs::async, none,
       [self](Request req, Reply reply) { self->post_payment(std::move(req), std::move(reply)); }},
      {"GET", "/v1/payments/{payment_id}", poster | auditor, Runs::pool, sync(&Service::get_payment)},
      {"POST", "/v1/payments/{payment_id}/reversal", poster, Runs::pool, sync(&Service::reverse_payment)},
      {"GET", "/v1/campaigns", finance | auditor | operator_, Runs::pool, sync(&Service::list_campaigns)},
      {"GET", "/v1/campaigns/{campaign_id}", finance | auditor | operator_, Runs::pool, sync(&Service::show_campaign)},
      {"POST", "/v1/campaigns", operator_, Runs::pool, sync(&Service::create_campaign)},
      on_replica({"GET", "/v1/campaigns/{campaign_id}/days", finance | auditor | operator_, Runs::pool,
                  sync(&Service::campaign_days)}),
      on_replica({"GET", "/v1/campaigns/{campaign_id}/card-values", finance | auditor | operator_, Runs::pool,
                  sync(&Service::card_values)}),
      {"POST", "/v1/campaigns/{campaign_id}/approve", operator_, Runs::pool, sync(&Service::approve_campaign)},
      {"POST", "/v1/campaigns/{campaign_id}/pause", operator_, Runs::pool, steer(promo::CampaignAction::pause)},
      {"POST", "/v1/campaigns/{campaign_id}/resume", operator_, Runs::pool, steer(promo::CampaignAction::resume)},
      {"POST", "/v1/campaigns/{campaign_id}/end", operator_, Runs::pool, steer(promo::CampaignAction::end)},
      on_replica({"GET", "/v1/reports/outlets", finance | auditor, Runs::pool, sync(&Service::outlet_report)}),
      on_replica({"GET", "/v1/reports/outlets/daily", finance | auditor, Runs::pool, sync(&Service::subsidy_days)}),
      on_replica({"GET", "/v1/reports/campaign/{campaign_id}", finance | auditor, Runs::pool,
                  sync(&Service::campaign_report)}),
      on_replica({"GET", "/v1/reports/trial-balance", finance | auditor, Runs::pool, sync(&Service::trial_balance)}),
      on_replica({"GET", "/v1/audit/trace/{payment_id}", auditor, Runs::pool, sync(&Service::trace)}),
      // On the primary always: an audit must judge the books of record, not a copy that may lag.
      {"POST", "/v1/audit/verify", auditor, Runs::pool, sync(&Service::verify)},
  };
  // The end of the day (eod_routes.cpp): GL batches, statements, reconciliations; reads that may lag.
  for (auto& route : eod_routes(self != nullptr ? &self->reports_db() : nullptr)) table.push_back(on_replica(std::move(route)));
  return table;
}

void Service::dispatch(Request req, Reply reply) {
  // HEAD is GET without the body (the listener leaves the body out).
  const std::string_view method = req.method == "HEAD" ? std::string_view("GET") : std::string_view(req.method);
  std::string allow;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    auto parameters = templates_[i].match(req.path);
    if (!parameters) continue;
    const Route& route = routes_[i];
    if (method != route.method) {
      if (allow.find(route.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + std::string(route.method);
      continue;
    }
    req.path_params = std::move(*parameters);
    return run(route, std::move(req), std::move(reply));
  }
  Response res;
  if (!allow.empty()) {
    res.set_header("Allow", allow);
    answer_error(res, 405, "method_not_allowed", fmt::format("{} takes {}", req.path, allow));
  } else {
    answer_error(res, 404, "not_found", "no such route (see /v1/openapi.json)");
  }
  reply(std::move(res));
}

void Service::run(const Route& route, Request req, Reply reply) {
  Response refusal;
  refusal.route = route.path;
  if (route.api && !admit(route, req, refusal, tokens_, sessions_)) return reply(std::move(refusal));
  // The answer carries the notes the log line needs, whichever thread fills it in.
  Reply noted = [reply = std::move(reply), path = route.path, name = req.token_name](Response res) mutable {
    res.route = path;
    if (res.token_name.empty()) res.token_name = name;
    reply(std::move(res));
  };
  const auto guarded = [](const Handler& handle, const Request& r) {
    Response res;
    try {
      handle(r, res);
    } catch (const std::exception& e) {
      spdlog::error("request failed: {}", e.what());
      res = Response{};
      answer_error(res, 500, "internal", "the request failed inside the service; see its log");
    }
    return res;
  };
  switch (route.runs) {
    case Runs::io: return noted(guarded(route.handle, req));
    case Runs::pool:
      if (route.replica && has_read_node()) {
        return run_blocking_([this, handle = &route.handle, req = std::move(req), noted = std::move(noted)]() mutable {
          noted(run_on_read_node(*handle, req));
        });
      }
      return run_blocking_([handle = &route.handle, req = std::move(req), noted = std::move(noted), guarded]() mutable {
        noted(guarded(*handle, req));
      });
    case Runs::async:
      try {
        return route.handle_async(std::move(req), noted);
      } catch (const std::exception& e) {
        spdlog::error("request failed: {}", e.what());
        Response res;
        answer_error(res, 500, "internal", "the request failed inside the service; see its log");
        return noted(std::move(res));
      }
  }
}

Response Service::run_on_read_node(const Handler& handle, const Request& req) {
  assert(has_read_node());
  Response res;
  try {
    std::optional<ledger::ServerState> state;
    try {
      auto lease = replica_db_->lease();
      state = ledger::server_state(*lease);
    } catch (const ledger::DatabaseError& e) {
      record_read_node(std::nullopt);
      answer_database_error(res, e);
      return res;
    }
    record_read_node(state);
    handle(req, res);
    annotate_replica(res, *state);
  } catch (const std::exception& e) {
    spdlog::error("request failed: {}", e.what());
    res = Response{};
    answer_error(res, 500, "internal", "the request failed inside the service; see its log");
  }
  return res;
}

void Service::record_read_node(const std::optional<ledger::ServerState>& state) {
  read_node_standby_.store(state ? static_cast<int>(state->standby) : -1, std::memory_order_relaxed);
  read_node_lag_ms_.store(state && state->replica_lag_ms ? *state->replica_lag_ms : -1, std::memory_order_relaxed);
}

void Service::watch_read_node() {
  assert(has_read_node());
  try {
    auto lease = replica_health_db_->lease();
    record_read_node(ledger::server_state(*lease));
  } catch (const std::exception& e) {
    record_read_node(std::nullopt);
    spdlog::debug("the read node does not answer: {}", e.what());
  }
}

void annotate_replica(Response& res, const ledger::ServerState& state) {
  const std::string lag = state.replica_lag_ms ? std::to_string(*state.replica_lag_ms) : std::string("null");
  res.set_header(replica_lag_header, state.replica_lag_ms ? lag : std::string("unknown"));
  res.set_header(read_node_header, state.address);
  // Error bodies keep their one shape {"error", "field", "message"}; a 200's JSON object gains the
  // member first, without parsing the body again (a report may be large).
  if (res.status != 200 || res.content_type.rfind("application/json", 0) != 0 || res.body.empty() || res.body.front() != '{') {
    return;
  }
  const bool empty_object = res.body.size() >= 2 && res.body[1] == '}';
  res.body.insert(1, fmt::format("\"replica_lag_ms\":{}{}", lag, empty_object ? "" : ","));
}

std::optional<Caller> identify(const Request& req, TokenCache& tokens, SessionStore& sessions) {
  if (req.has_header("Authorization")) {
    const std::string header = req.header("Authorization");
    constexpr std::string_view scheme = "Bearer ";
    if (header.size() <= scheme.size() || header.compare(0, scheme.size(), scheme) != 0) return std::nullopt;
    auto identity = tokens.authenticate(std::string_view(header).substr(scheme.size()));
    if (!identity) return std::nullopt;
    return Caller{std::move(*identity), false, ""};
  }
  const std::string id = cookie_value(req.header("Cookie"), SessionStore::cookie_name);
  if (id.empty()) return std::nullopt;
  const auto session = sessions.use(id);
  if (!session) return std::nullopt;
  // The token behind the session, as the cache knows it now: a revoked token ends its sessions.
  auto identity = tokens.authenticate_hash(session->token);
  if (!identity) {
    sessions.close(id);
    return std::nullopt;
  }
  return Caller{std::move(*identity), true, session->csrf};
}

bool admit(const Route& route, Request& req, Response& res, TokenCache& tokens, SessionStore& sessions) {
  if (route.roles == anyone) return true;
  const auto caller = identify(req, tokens, sessions);
  if (!caller) {
    res.set_header("WWW-Authenticate", "Bearer");
    answer_error(res, 401, "unauthorized",
                 "a valid API token is required: Authorization: Bearer TOKEN (or a console session)");
    return false;
  }
  req.token_name = caller->identity.name;
  res.token_name = caller->identity.name;
  // A browser sends the cookie with any request it is made to send; only the console's own pages know
  // the session's CSRF token, so a change made with the cookie must carry it.
  if (caller->by_session && std::string_view(route.method) != "GET" &&
      !same_secret(req.header("X-CSRF-Token"), caller->csrf)) {
    answer_error(res, 403, "csrf_token_mismatch", "a request made with a console session must carry the session's X-CSRF-Token");
    return false;
  }
  if ((route.roles & bit(caller->identity.role)) == 0) {
    answer_error(res, 403, "forbidden",
                 fmt::format("the {} role may not {} {}", to_string(caller->identity.role), route.method, route.path));
    return false;
  }
  return true;
}

std::optional<std::string> path_payment_id(const Request& req, Response& res) {
  if (!req.path_params.empty() && valid_payment_id(req.path_params[0])) return req.path_params[0];
  answer_error(res, 400, "invalid_field", "a payment id is 1..64 of A-Z a-z 0-9 _ . : -", "payment_id");
  return std::nullopt;
}

std::optional<std::int64_t> path_campaign_id(const Request& req, Response& res) {
  const auto id = req.path_params.empty() ? std::nullopt : parse_campaign_id(req.path_params[0]);
  if (!id) answer_error(res, 400, "invalid_field", "a campaign id is a positive integer", "campaign_id");
  return id;
}

std::optional<std::pair<date::year_month_day, date::year_month_day>> day_range(const std::string& from,
                                                                               const std::string& to, Response& res) {
  auto range = ledger::parse_day_range(from, to);
  if (range) return *range;
  answer_error(res, 400, "invalid_field", range.error().message, range.error().field);
  return std::nullopt;
}

std::optional<std::optional<date::year_month_day>> query_day(const Request& req, const char* name, Response& res) {
  if (!req.has_param(name)) return std::optional<date::year_month_day>{};
  auto day = ledger::parse_day(req.param(name));
  if (day) return std::optional<date::year_month_day>{*day};
  answer_error(res, 400, "invalid_field", fmt::format("{}: {}", name, day.error().message), name);
  return std::nullopt;
}

void answer_report_error(Response& res, const promo::ReportError& error) {
  switch (error.code) {
    case promo::ReportRefusal::unknown_campaign:
    case promo::ReportRefusal::unknown_outlet:
      return answer_error(res, 404, std::string(promo::to_string(error.code)), error.message, error.field);
    case promo::ReportRefusal::bad_range:
      return answer_error(res, 400, "invalid_field", error.message, error.field);
    case promo::ReportRefusal::report_too_large:
      res.error = std::string(promo::to_string(error.code));
      return answer(res, 422, promo::views::to_json(error));
    case promo::ReportRefusal::period_archived:  // the month is off the primary: a state, not a bad request
      res.error = std::string(promo::to_string(error.code));
      return answer(res, 409, promo::views::to_json(error));
  }
}

}  // namespace promoledger::service::detail

namespace promoledger::service {

std::vector<std::pair<std::string, std::string>> route_list() {
  std::vector<std::pair<std::string, std::string>> list;
  for (const auto& route : detail::Service::routes(nullptr)) list.emplace_back(route.method, route.path);
  return list;
}

}  // namespace promoledger::service
