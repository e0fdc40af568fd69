#include "routes.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "promoledger/eod/xlsx_export.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/insights.hpp"
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
  auto reason = parse_reason_body(req.body);
  if (!reason) return answer_bad_request(res, reason.error());
  reading(res, [&] {
    promo::Campaigns campaigns(read_db_);
    // The actor recorded in the campaign's events is the token's name: who steered it, by what key.
    // The reason is kept with the event (promo.campaign_event.reason, migration 0012).
    auto status = campaigns.transition(*id, action, "api:" + t_notes.token_name, *reason);
    if (!status) return answer_rejection(res, status.error());
    json out{{"id", *id}, {"status", *status}};
    if (!reason->empty()) out["reason"] = *reason;
    answer(res, 200, out);
  });
}

namespace {

// The parameters of a campaign document (examples/pilot-campaign.json), "colour" for an unknown one.
// The library's messages name the parameter first ("max_discount: amount \"10.001\" has more than two
// decimals", "band_low (950 fen) must be <= band_high (900 fen)"): its leading word is the field,
// which is how the console puts each error next to its input. A message about an unknown key
// ("colour: is not a campaign parameter") names that key.
std::string field_of(const std::string& message) {
  std::size_t end = 0;
  while (end < message.size() && end <= 32 && ((message[end] >= 'a' && message[end] <= 'z') || message[end] == '_')) ++end;
  if (end == 0 || end > 32 || end == message.size()) return "";
  if (message[end] == ':') return message.substr(0, end);
  if (message[end] == ' ' && message.compare(end, 2, " (") == 0) return message.substr(0, end);
  return "";
}

// {"error", "message", "field" (the first's), "errors": [{"field", "message"}]}.
void answer_campaign_errors(httplib::Response& res, int status, const std::string& error, const std::string& summary,
                            const std::vector<std::string>& messages) {
  json errors = json::array();
  for (const auto& m : messages) errors.push_back(json{{"field", field_of(m)}, {"message", m}});
  json body{{"error", error}, {"message", summary}, {"errors", errors}};
  if (!messages.empty() && !field_of(messages.front()).empty()) body["field"] = field_of(messages.front());
  t_notes.error = error;
  answer(res, status, body);
}

std::string percent_of(std::int64_t part, std::int64_t whole) { return promo::share_percent(part, whole); }

}  // namespace

void Service::create_campaign(const httplib::Request& req, httplib::Response& res) {
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
    auto id = promo::Campaigns(read_db_).create(*params, document, "api:" + t_notes.token_name);
    // The organisation refuses it (no such branch or merchant, a merchant outside the branch): 422,
    // with the field the library's message names.
    if (!id) {
      return answer_campaign_errors(res, 422, std::string(promo::to_string(id.error().code)), id.error().detail,
                                    {id.error().detail});
    }
    answer(res, 201, json{{"id", *id}, {"status", "draft"}, {"created_by", "api:" + t_notes.token_name}});
  });
}

void Service::approve_campaign(const httplib::Request& req, httplib::Response& res) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  if (!req.body.empty() && req.body != "{}") {
    return answer_error(res, 400, "unknown_field", "approval takes no body (or {})");
  }
  reading(res, [&] {
    // Maker-checker is the library's (and the table's CHECK): the creator's token cannot approve.
    const std::string approver = "api:" + t_notes.token_name;
    auto status = promo::Campaigns(read_db_).approve(*id, approver);
    if (!status) return answer_rejection(res, status.error());
    answer(res, 200, json{{"id", *id}, {"status", *status}, {"approved_by", approver}});
  });
}

void Service::campaign_days(const httplib::Request& req, httplib::Response& res) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  reading(res, [&] {
    auto view = promo::Campaigns(read_db_).show(*id);
    if (!view) return answer_error(res, 404, "unknown_campaign", fmt::format("no campaign {}", *id));
    const std::string from = req.has_param("from") ? req.get_param_value("from") : view->summary.first_day;
    const std::string to = req.has_param("to") ? req.get_param_value("to") : view->summary.last_day;
    const auto range = day_range(from, to, res);
    if (!range) return;
    json days = json::array();
    ledger::WideFen cumulative = 0;
    for (const auto& d : promo::campaign_days(read_db_, *id, range->first, range->second)) {
      cumulative += d.subsidy_fen;
      days.push_back(json{{"business_day", d.business_day}, {"cards_dealt", d.cards_dealt}, {"cards_used", d.cards_used},
                          {"used_in_band", d.used_in_band}, {"subsidy", ledger::format_fen(d.subsidy_fen)},
                          {"cumulative_subsidy", ledger::format_fen(cumulative)}});
    }
    answer(res, 200, json{{"campaign_id", *id}, {"from", ledger::format_day(range->first)},
                          {"to", ledger::format_day(range->second)},
                          {"budget_total", ledger::format_fen(view->summary.budget_total_fen)},
                          {"subsidy_total", ledger::format_fen(cumulative)}, {"days", days}});
  });
}

void Service::card_values(const httplib::Request& req, httplib::Response& res) {
  const auto id = path_campaign_id(req, res);
  if (!id) return;
  reading(res, [&] {
    const auto values = promo::dealt_card_values(read_db_, *id);
    if (!values) return answer_error(res, 404, "unknown_campaign", fmt::format("no campaign {}", *id));
    json bins = json::array();
    for (const auto& b : values->bins) {
      bins.push_back(json{{"from", ledger::format_fen(b.from_fen)},
                          {"to", ledger::format_fen(b.from_fen + promo::CardValues::bin_width_fen)},
                          {"cards", b.cards}});
    }
    answer(res, 200, json{{"campaign_id", *id},
                          {"bin_width", ledger::format_fen(promo::CardValues::bin_width_fen)},
                          {"band_low", ledger::format_fen(values->band_low_fen)},
                          {"band_high", ledger::format_fen(values->band_high_fen)},
                          {"band_share_promised", percent_of(values->band_share_bp, promo::basis_points_total)},
                          {"decks", values->decks},
                          {"cards", values->cards},
                          {"cards_in_band", values->cards_in_band},
                          {"band_share", percent_of(values->cards_in_band, values->cards)},
                          {"bins", bins}});
  });
}

namespace {

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

}  // namespace

void Service::outlet_report(const httplib::Request& req, httplib::Response& res) {
  for (const char* p : {"from", "to"}) {
    if (!req.has_param(p)) return answer_error(res, 400, "missing_field", fmt::format("the query needs {}=YYYY-MM-DD", p), p);
  }
  const auto range = day_range(req.get_param_value("from"), req.get_param_value("to"), res);
  if (!range) return;
  const std::string level = req.has_param("level") ? req.get_param_value("level") : "all";
  if (level != "all" && level != "outlet" && level != "sub_branch" && level != "branch") {
    return answer_error(res, 400, "invalid_field", "level is outlet, sub_branch, branch or all", "level");
  }
  const std::string format = req.has_param("format") ? req.get_param_value("format") : "json";
  if (format != "json" && format != "csv" && format != "xlsx") {
    return answer_error(res, 400, "invalid_field", "format is json, csv or xlsx", "format");
  }
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
    if (format == "xlsx") {
      // The workbook of `report outlets --xlsx` (eod/xlsx_export.hpp): the table and the budgets.
      res.status = 200;
      res.set_header("Content-Disposition", fmt::format("attachment; filename=\"outlets-{}-{}.xlsx\"", from, to));
      res.set_content(eod::outlet_report_xlsx(promo::OutletReport{from, to, level, rows, budgets}),
                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
      return;
    }
    answer(res, 200, promo::views::outlet_report(from, to, table, promo::views::budget_table(budgets)));
  });
}

void Service::subsidy_days(const httplib::Request& req, httplib::Response& res) {
  for (const char* p : {"from", "to"}) {
    if (!req.has_param(p)) return answer_error(res, 400, "missing_field", fmt::format("the query needs {}=YYYY-MM-DD", p), p);
  }
  const auto range = day_range(req.get_param_value("from"), req.get_param_value("to"), res);
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
  std::vector<Route> table{
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
      {"POST", "/v1/campaigns", operator_, [self](const auto& req, auto& res) { self->create_campaign(req, res); }},
      {"GET", "/v1/campaigns/{campaign_id}/days", finance | auditor | operator_,
       [self](const auto& req, auto& res) { self->campaign_days(req, res); }},
      {"GET", "/v1/campaigns/{campaign_id}/card-values", finance | auditor | operator_,
       [self](const auto& req, auto& res) { self->card_values(req, res); }},
      {"POST", "/v1/campaigns/{campaign_id}/approve", operator_,
       [self](const auto& req, auto& res) { self->approve_campaign(req, res); }},
      {"POST", "/v1/campaigns/{campaign_id}/pause", operator_,
       [self](const auto& req, auto& res) { self->steer_campaign(req, res, "pause"); }},
      {"POST", "/v1/campaigns/{campaign_id}/resume", operator_,
       [self](const auto& req, auto& res) { self->steer_campaign(req, res, "resume"); }},
      {"POST", "/v1/campaigns/{campaign_id}/end", operator_,
       [self](const auto& req, auto& res) { self->steer_campaign(req, res, "end"); }},
      {"GET", "/v1/reports/outlets", finance | auditor,
       [self](const auto& req, auto& res) { self->outlet_report(req, res); }},
      {"GET", "/v1/reports/outlets/daily", finance | auditor,
       [self](const auto& req, auto& res) { self->subsidy_days(req, res); }},
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
  // The end of the day (eod_routes.cpp): GL batches, statements, reconciliations.
  auto eod = eod_routes(self != nullptr ? &self->read_db_ : nullptr);
  table.insert(table.end(), std::make_move_iterator(eod.begin()), std::make_move_iterator(eod.end()));
  return table;
}

std::optional<Caller> identify(const httplib::Request& req, TokenCache& tokens, SessionStore& sessions) {
  if (req.has_header("Authorization")) {
    const std::string header = req.get_header_value("Authorization");
    constexpr std::string_view scheme = "Bearer ";
    if (header.size() <= scheme.size() || header.compare(0, scheme.size(), scheme) != 0) return std::nullopt;
    auto identity = tokens.authenticate(std::string_view(header).substr(scheme.size()));
    if (!identity) return std::nullopt;
    return Caller{std::move(*identity), false, ""};
  }
  const std::string id = cookie_value(req.get_header_value("Cookie"), SessionStore::cookie_name);
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

Handler guarded(const Route& route, TokenCache& tokens, SessionStore& sessions) {
  return [&route, &tokens, &sessions](const httplib::Request& req, httplib::Response& res) {
    t_notes.route = route.path;
    if (route.roles != anyone) {
      const auto caller = identify(req, tokens, sessions);
      if (!caller) {
        res.set_header("WWW-Authenticate", "Bearer");
        return answer_error(res, 401, "unauthorized",
                            "a valid API token is required: Authorization: Bearer TOKEN (or a console session)");
      }
      t_notes.token_name = caller->identity.name;
      // A browser sends the cookie with any request it is made to send; only the console's own pages
      // know the session's CSRF token, so a change made with the cookie must carry it.
      if (caller->by_session && std::string_view(route.method) != "GET" &&
          !same_secret(req.get_header_value("X-CSRF-Token"), caller->csrf)) {
        return answer_error(res, 403, "csrf_token_mismatch",
                            "a request made with a console session must carry the session's X-CSRF-Token");
      }
      if ((route.roles & bit(caller->identity.role)) == 0) {
        return answer_error(res, 403, "forbidden", fmt::format("the {} role may not {} {}",
                                                               to_string(caller->identity.role), route.method, route.path));
      }
    }
    route.handle(req, res);
  };
}

}  // namespace promoledger::service::detail
