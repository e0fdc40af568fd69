#include "promoledger/service/server.hpp"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <functional>
#include <iostream>
#include <mutex>
#include <regex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/group_commit.hpp"
#include "promoledger/promo/views.hpp"
#include "promoledger/service/metrics.hpp"
#include "promoledger/service/request_parsing.hpp"
#include "promoledger/service/tokens.hpp"

namespace promoledger::service {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ------------------------------------------------------------------------------------------- logs
// In JSON mode every log line is one JSON object. A request's line is built as JSON members (marked
// by a leading record separator); any other message becomes "msg".
constexpr char structured_mark = '\x1e';

class JsonPayloadFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    std::string out;
    if (!payload.empty() && payload.front() == structured_mark) {
      out = payload.substr(1);
    } else {
      out = "\"msg\":" + json(std::string(payload)).dump(-1, ' ', false, json::error_handler_t::replace);
    }
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonPayloadFlag>(); }
};

void configure_logging(LogFormat format) {
  auto logger = std::make_shared<spdlog::logger>("promoledger", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == LogFormat::json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonPayloadFlag>('*').set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%*})");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

// What the request's thread learned while answering it, for its log line and metrics. Each
// connection is served by one thread from reading the request to writing the answer, so a
// thread_local carries it from the route's handler to the logger.
struct RequestNotes {
  const char* route = nullptr;  // the route's template, or null when no route matched
  Clock::time_point started{};
  std::string token_name;
  std::string error;  // the error code answered, if any
};
thread_local RequestNotes t_notes;
// Set while a thread serves a connection beyond max_connections: every request on it gets 503.
thread_local bool t_refuse_connection = false;

// ---------------------------------------------------------------------------------- connections
// cpp-httplib hands each accepted connection to its task queue, and a thread serves the connection
// until it closes. This queue admits at most `workers` connections at once; beyond that a
// connection is served by one of two small "refusal" threads, which answer 503 with Retry-After and
// close it, so a flood neither grows the thread count nor waits unseen in a queue. When even the
// refusals queue is full, the accepting thread answers itself, which slows accepting: the kernel's
// backlog then pushes back on the clients.
class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  static constexpr std::size_t refusal_threads = 2;
  static constexpr std::size_t refusal_queue_max = 256;

  explicit BoundedTaskQueue(std::size_t workers) : workers_(workers) {
    for (std::size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { work(jobs_, false); });
    for (std::size_t i = 0; i < refusal_threads; ++i) threads_.emplace_back([this] { work(refusals_, true); });
  }
  ~BoundedTaskQueue() override = default;

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    if (admitted_ < workers_) {
      ++admitted_;
      jobs_.push_back(std::move(fn));
      ready_.notify_all();
      return;
    }
    ++refused_;
    if (refusals_.size() < refusal_queue_max) {
      refusals_.push_back(std::move(fn));
      ready_.notify_all();
      return;
    }
    lock.unlock();
    t_refuse_connection = true;
    fn();
    t_refuse_connection = false;
  }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      shutdown_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();
  }

  std::size_t open() const {
    std::lock_guard lock(mutex_);
    return admitted_;
  }
  std::uint64_t refused() const {
    std::lock_guard lock(mutex_);
    return refused_;
  }

 private:
  void work(std::deque<std::function<void()>>& queue, bool refusing) {
    t_refuse_connection = refusing;
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !queue.empty() || shutdown_; });
        if (queue.empty()) return;  // shutting down, nothing left
        fn = std::move(queue.front());
        queue.pop_front();
      }
      fn();
      if (!refusing) {
        std::lock_guard lock(mutex_);
        --admitted_;
      }
    }
  }

  const std::size_t workers_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_, refusals_;
  std::size_t admitted_ = 0;
  std::uint64_t refused_ = 0;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

// cpp-httplib 0.11 listens with a backlog of 5: a burst of connections (a client pool starting, wrk's 64)
// overflows it, and each dropped SYN costs the client a one-second retransmission. Calling listen()
// again on the bound socket raises the backlog (Linux; capped by net.core.somaxconn).
constexpr int listen_backlog = 1024;
template <class Base>
class ListeningServer : public Base {
 public:
  using Base::Base;
  bool raise_backlog() { return ::listen(this->svr_sock_, listen_backlog) == 0; }
};

// ---------------------------------------------------------------------------------------- answers
void answer(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", "application/json");
}

void answer_error(httplib::Response& res, int status, const std::string& error, const std::string& message,
                  const std::string& field = "") {
  json body{{"error", error}, {"message", message}};
  if (!field.empty()) body["field"] = field;
  t_notes.error = error;
  if (status == 503) res.set_header("Retry-After", "1");
  answer(res, status, body);
}

void answer_bad_request(httplib::Response& res, const BadRequest& bad) {
  answer_error(res, 400, bad.error, bad.message, bad.field);
}

// A business refusal: 404 when the thing named does not exist, 409 for an id already used with other
// content, 422 for the rest.
int status_of(promo::Reject code) {
  switch (code) {
    case promo::Reject::unknown_payment:
    case promo::Reject::unknown_campaign: return 404;
    case promo::Reject::exists_with_different_content: return 409;
    default: return 422;
  }
}

void answer_rejection(httplib::Response& res, const promo::Rejection& r) {
  answer_error(res, status_of(r.code), std::string(promo::to_string(r.code)), r.detail);
}

// A database failure while reading: 503 when the database cannot be reached (try again), 500 else.
void answer_database_error(httplib::Response& res, const ledger::DatabaseError& e) {
  if (ledger::is_connection_failure(e)) {
    answer_error(res, 503, "database_unavailable", "the database cannot be reached; try again shortly");
  } else {
    spdlog::error("database failure: {}", e.what());
    answer_error(res, 500, "internal", "the database refused the request; nothing was changed");
  }
}

// ------------------------------------------------------------------------------------------ routes
constexpr unsigned bit(Role r) { return 1U << static_cast<unsigned>(r); }
constexpr unsigned anyone = 0;  // a public route: no token needed
constexpr unsigned poster = bit(Role::poster);
constexpr unsigned finance = bit(Role::finance);
constexpr unsigned auditor = bit(Role::auditor);
constexpr unsigned operator_ = bit(Role::operator_);

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

struct Route {
  const char* method;
  const char* path;  // the OpenAPI template
  unsigned roles;    // who may call it; anyone (0) needs no token
  Handler handle;
};

// "/v1/payments/{payment_id}" -> "/v1/payments/([^/]+)"
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
class Service {
 public:
  explicit Service(const ServiceOptions& options)
      : options_(options),
        posting_db_(ledger::DatabaseOptions{options.conninfo, options.writers + 1}),
        read_db_(ledger::DatabaseOptions{options.conninfo, options.read_sessions}),
        health_db_(ledger::DatabaseOptions{options.conninfo, 1, std::chrono::milliseconds{2'000}}),
        tokens_(read_db_),
        poster_(posting_db_),
        group_(poster_, promo::GroupCommitOptions{options.writers, promo::PaymentPoster::batch_size_max,
                                                  options.queue_depth_max, promo::outlet_affinity(posting_db_)}) {}

  // The route table. `self` is only captured by the handlers, so routes(nullptr) lists the routes
  // (route_list) from the very table the server registers.
  static std::vector<Route> routes(Service* self);
  Metrics& metrics() { return metrics_; }
  TokenCache& tokens() { return tokens_; }
  promo::GroupCommitPoster& group() { return group_; }
  void set_connections(const BoundedTaskQueue* queue) { connections_.store(queue); }

 private:
  void post_payment(const httplib::Request& req, httplib::Response& res);
  void get_payment(const httplib::Request& req, httplib::Response& res);
  void reverse_payment(const httplib::Request& req, httplib::Response& res);
  void steer_campaign(const httplib::Request& req, httplib::Response& res, const std::string& action);
  void healthz(httplib::Response& res);
  void metrics_text(httplib::Response& res);
  // Runs a read; a database failure becomes 503 or 500.
  template <class F>
  void reading(httplib::Response& res, F&& read) {
    try {
      read();
    } catch (const ledger::DatabaseError& e) {
      answer_database_error(res, e);
    }
  }

  const ServiceOptions& options_;
  ledger::Database posting_db_;
  ledger::Database read_db_;
  ledger::Database health_db_;
  TokenCache tokens_;
  promo::PaymentPoster poster_;
  promo::GroupCommitPoster group_;
  Metrics metrics_;
  // Set by the server when it makes its task queue, read by /metrics on other threads.
  std::atomic<const BoundedTaskQueue*> connections_{nullptr};
};

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

void Service::get_payment(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (!valid_payment_id(id)) {
    return answer_error(res, 400, "invalid_field", "a payment id is 1..64 of A-Z a-z 0-9 _ . : -", "payment_id");
  }
  reading(res, [&] {
    const auto stored = promo::find_payment(read_db_, id);
    if (!stored) return answer_error(res, 404, "unknown_payment", fmt::format("no payment {}", id));
    answer(res, 200, promo::views::stored_payment(*stored));
  });
}

void Service::reverse_payment(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (!valid_payment_id(id)) {
    return answer_error(res, 400, "invalid_field", "a payment id is 1..64 of A-Z a-z 0-9 _ . : -", "payment_id");
  }
  auto day = parse_reversal_body(req.body);
  if (!day) return answer_bad_request(res, day.error());
  reading(res, [&] {
    auto result = poster_.reverse(id, *day);
    if (!result) return answer_rejection(res, result.error());
    answer(res, result->status == promo::ReversalResult::Status::posted ? 201 : 200, promo::views::reversal(id, *result));
  });
}

void Service::steer_campaign(const httplib::Request& req, httplib::Response& res, const std::string& action) {
  const auto id = parse_campaign_id(req.matches[1].str());
  if (!id) return answer_error(res, 400, "invalid_field", "a campaign id is a positive integer", "campaign_id");
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
    auto range = ledger::parse_day_range(req.get_param_value("from"), req.get_param_value("to"));
    if (!range) {
      answer_error(res, 400, "invalid_field", range.error(), range.error().rfind("to", 0) == 0 ? "to" : "from");
      return std::nullopt;
    }
    return *range;
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
         const auto id = parse_campaign_id(req.matches[1].str());
         if (!id) return answer_error(res, 400, "invalid_field", "a campaign id is a positive integer", "campaign_id");
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
         const auto id = parse_campaign_id(req.matches[1].str());
         if (!id) return answer_error(res, 400, "invalid_field", "a campaign id is a positive integer", "campaign_id");
         self->reading(res, [&] {
           auto view = promo::Campaigns(self->read_db_).show(*id);
           if (!view) return answer_error(res, 404, "unknown_campaign", fmt::format("no campaign {}", *id));
           const std::string from = req.has_param("from") ? req.get_param_value("from") : view->summary.first_day;
           const std::string to = req.has_param("to") ? req.get_param_value("to") : view->summary.last_day;
           auto range = ledger::parse_day_range(from, to);
           if (!range) {
             return answer_error(res, 400, "invalid_field", range.error(), range.error().rfind("to", 0) == 0 ? "to" : "from");
           }
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
         const std::string id = req.matches[1];
         if (!valid_payment_id(id)) {
           return answer_error(res, 400, "invalid_field", "a payment id is 1..64 of A-Z a-z 0-9 _ . : -", "payment_id");
         }
         self->reading(res, [&] {
           auto trace = promo::trace_payment(self->read_db_, id);
           if (!trace) return answer_error(res, 404, "unknown_payment", fmt::format("no payment {}", id));
           answer(res, 200, *trace);
         });
       }},
      {"POST", "/v1/audit/verify", auditor,
       [self](const auto&, auto& res) { self->reading(res, [&] { answer(res, 200, promo::views::verify(promo::verify_all(self->read_db_))); }); }},
  };
}

// Wraps a route's handler: authentication, authorisation, notes for the log.
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

void log_request(LogFormat format, const httplib::Request& req, const httplib::Response& res) {
  const double ms = t_notes.started == Clock::time_point{}
                        ? 0.0
                        : std::chrono::duration<double, std::milli>(Clock::now() - t_notes.started).count();
  const std::string route = t_notes.route != nullptr ? t_notes.route : "-";
  if (format == LogFormat::json) {
    json line{{"event", "request"}, {"method", req.method}, {"path", req.path}, {"route", route},
              {"status", res.status}, {"ms", std::round(ms * 1000) / 1000}, {"remote", req.remote_addr}};
    if (!t_notes.token_name.empty()) line["token"] = t_notes.token_name;
    if (!t_notes.error.empty()) line["error"] = t_notes.error;
    const std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace);
    spdlog::info("{}{}", structured_mark, std::string_view(text).substr(1, text.size() - 2));
  } else {
    spdlog::info("{} {} {} {:.3f}ms route={} remote={} token={}{}{}", req.method,
                 json(req.path).dump(-1, ' ', false, json::error_handler_t::replace), res.status, ms, route,
                 req.remote_addr, t_notes.token_name.empty() ? "-" : t_notes.token_name,
                 t_notes.error.empty() ? "" : " error=", t_notes.error);
  }
}

template <class Server>
int serve(ListeningServer<Server>& server, Service& service, const ServiceOptions& options, const std::vector<Route>& routes,
          std::atomic<bool>& draining, std::atomic<bool>& listen_ended) {
  if (!server.is_valid()) {
    spdlog::error("cannot start: the TLS certificate or key could not be loaded");
    return 2;
  }
  // The server owns the queue it makes (and deletes it when listen returns); /metrics reads it until then.
  server.new_task_queue = [&service, &options] {
    auto* queue = new BoundedTaskQueue(options.max_connections);
    service.set_connections(queue);
    return queue;
  };
  server.set_read_timeout(options.read_timeout.count(), 0);
  server.set_write_timeout(options.write_timeout.count(), 0);
  server.set_keep_alive_timeout(options.keep_alive_timeout.count());
  server.set_keep_alive_max_count(100'000);
  server.set_payload_max_length(options.body_bytes_max);
  server.set_tcp_nodelay(true);

  server.set_pre_routing_handler([&draining](const httplib::Request& req, httplib::Response& res) {
    t_notes = RequestNotes{};
    t_notes.started = Clock::now();
    if (t_refuse_connection) {
      res.set_header("Connection", "close");
      answer_error(res, 503, "too_many_connections", "the service serves as many connections as it may; try again shortly");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (draining.load()) {
      res.set_header("Connection", "close");
      answer_error(res, 503, "shutting_down", "the service is stopping; nothing was done, try again shortly");
      return httplib::Server::HandlerResponse::Handled;
    }
    // HTTP/1.1 lets a request without Content-Length or chunked encoding carry no body, but this
    // httplib reads such a POST's body until the client closes: refuse it at once instead.
    // A chunked body is refused too: this httplib applies the body limit only to a Content-Length,
    // and would buffer a chunked body of any size.
    if (req.has_header("Transfer-Encoding") || (req.method == "POST" && !req.has_header("Content-Length"))) {
      res.set_header("Connection", "close");
      answer_error(res, 411, "length_required",
                   "a request body needs Content-Length (0 when there is none); chunked bodies are not accepted");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  for (const auto& route : routes) {
    const std::string pattern = regex_of(route.path);
    if (std::string_view(route.method) == "GET") {
      server.Get(pattern, guarded(route, service.tokens()));
    } else {
      server.Post(pattern, guarded(route, service.tokens()));
    }
  }
  // Answers httplib itself gives (no route, body too large, unreadable request) get a JSON body too;
  // a path that exists under another method gets 405 and Allow.
  std::vector<std::pair<std::regex, std::string>> patterns;
  for (const auto& route : routes) patterns.emplace_back(std::regex(regex_of(route.path)), route.method);
  server.set_error_handler(httplib::Server::HandlerWithResponse([patterns = std::move(patterns), &options](
                                                                   const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // the route's own error
    if (res.status == 404) {
      std::string allow;
      for (const auto& [pattern, method] : patterns) {
        if (std::regex_match(req.path, pattern)) allow += (allow.empty() ? "" : ", ") + method;
      }
      if (!allow.empty()) {
        res.set_header("Allow", allow);
        answer_error(res, 405, "method_not_allowed", fmt::format("{} takes {}", req.path, allow));
        return httplib::Server::HandlerResponse::Handled;
      }
      answer_error(res, 404, "not_found", "no such route (see /v1/openapi.json)");
    } else if (res.status == 414) {
      answer_error(res, 414, "uri_too_long", "the request line is longer than this service reads");
    } else if (res.status == 413) {
      answer_error(res, 413, "body_too_large", fmt::format("a request body may hold at most {} bytes", options.body_bytes_max));
    } else {
      answer_error(res, res.status, "bad_request", "the request could not be read as HTTP/1.1");
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("request failed: {}", what);
    answer_error(res, 500, "internal", "the request failed inside the service; see its log");
  });
  server.set_logger([&service, &options](const httplib::Request& req, const httplib::Response& res) {
    service.metrics().count_request(req.method, t_notes.route != nullptr ? t_notes.route : "unmatched", res.status);
    log_request(options.log_format, req, res);
    t_notes = RequestNotes{};  // the next request on this thread starts clean, routed or not
  });

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port(options.host);
    if (port <= 0) {
      spdlog::error("cannot listen on {}: no free port could be bound", options.host);
      return 3;
    }
  } else if (!server.bind_to_port(options.host, port)) {
    spdlog::error("cannot listen on {}:{} (in use, or not an address of this host)", options.host, port);
    return 3;
  }
  if (!server.raise_backlog()) spdlog::warn("could not raise the listen backlog to {}", listen_backlog);
  const bool tls = options.tls_cert_file.has_value();
  std::cout << fmt::format("promoledger serve: listening on {}://{}:{}", tls ? "https" : "http", options.host, port)
            << std::endl;
  spdlog::info("listening on {}:{} ({} writers, {} connections at most, TLS {})", options.host, port, options.writers,
               options.max_connections, tls ? "on" : "off");
  const bool ok = server.listen_after_bind();
  listen_ended = true;
  service.set_connections(nullptr);
  return ok || draining.load() ? 0 : 3;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> route_list() {
  std::vector<std::pair<std::string, std::string>> list;
  for (const auto& route : Service::routes(nullptr)) list.emplace_back(route.method, route.path);
  return list;
}

int run_service(const ServiceOptions& options) {
  configure_logging(options.log_format);
  // SIGTERM and SIGINT are taken by one thread with sigwait: blocked here, before any thread starts,
  // so every thread inherits the mask and no handler runs at an arbitrary point.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<Service> service;
  try {
    service = std::make_unique<Service>(options);
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 3;
  }
  const std::vector<Route> routes = Service::routes(service.get());
  std::atomic<bool> draining{false}, listen_ended{false}, stop_tokens{false};
  std::unique_ptr<ListeningServer<httplib::Server>> plain;
  std::unique_ptr<ListeningServer<httplib::SSLServer>> tls;
  httplib::Server* server = nullptr;
  if (options.tls_cert_file) {
    tls = std::make_unique<ListeningServer<httplib::SSLServer>>(options.tls_cert_file->c_str(),
                                                                options.tls_key_file.value_or("").c_str());
    server = tls.get();
  } else {
    plain = std::make_unique<ListeningServer<httplib::Server>>();
    server = plain.get();
  }

  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    if (listen_ended.load()) return;  // woken by the exit path below
    spdlog::info("signal {}: refusing new requests, finishing those in flight", signal);
    draining = true;
    // stop() only acts on a running server: wait until it runs (or has given up).
    while (!server->is_running() && !listen_ended.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    server->stop();
  });
  std::mutex token_mutex;
  std::condition_variable token_wake;
  std::thread token_thread([&] {
    std::unique_lock lock(token_mutex);
    while (!token_wake.wait_for(lock, options.token_refresh, [&] { return stop_tokens.load(); })) {
      service->tokens().reload();
    }
  });

  const int code = tls ? serve(*tls, *service, options, routes, draining, listen_ended)
                       : serve(*plain, *service, options, routes, draining, listen_ended);
  listen_ended = true;
  if (!draining.load()) kill(getpid(), SIGTERM);  // wake the signal thread, which sees listen_ended
  signal_thread.join();
  {
    std::lock_guard lock(token_mutex);
    stop_tokens = true;
  }
  token_wake.notify_all();
  token_thread.join();
  // Every handler has returned, so every payment it submitted was answered; stop the writers.
  service->group().stop();
  const auto stats = service->group().stats();
  spdlog::info("stopped: {} payments in {} batches; exit {}", stats.payments, stats.batches, code);
  return code;
}

}  // namespace promoledger::service
