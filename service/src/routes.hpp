#pragma once
// The API's routes: who may call each, and what each does. One table (Service::routes), registered by
// the listener (server.cpp) and listed by route_list() for the OpenAPI check. Internal to service/.

#include <httplib.h>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http_support.hpp"
#include "sessions.hpp"
#include "promoledger/ledger/database.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/group_commit.hpp"
#include "promoledger/promo/payments.hpp"
#include "promoledger/service/metrics.hpp"
#include "promoledger/service/server.hpp"
#include "promoledger/service/tokens.hpp"

namespace promoledger::service::detail {

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

// The end-of-day routes (eod_routes.cpp), appended to the table; read_db is null when only listing.
std::vector<Route> eod_routes(ledger::Database* read_db);

// "/v1/payments/{payment_id}" -> "/v1/payments/([^/]+)"
std::string regex_of(std::string_view path);

// What one running service holds.
class Service {
 public:
  explicit Service(const ServiceOptions& options)
      : options_(options),
        posting_db_(ledger::DatabaseOptions{options.conninfo, options.writers + 1}),
        read_db_(ledger::DatabaseOptions{options.conninfo, options.read_sessions}),
        health_db_(ledger::DatabaseOptions{options.conninfo, 1, std::chrono::milliseconds{2'000}}),
        tokens_(read_db_),
        sessions_(options.session_idle_max, options.session_lifetime_max),
        poster_(posting_db_),
        group_(poster_, promo::GroupCommitOptions{options.writers, promo::PaymentPoster::batch_size_max,
                                                  options.queue_depth_max, promo::outlet_affinity(posting_db_)}) {}

  // The route table. `self` is only captured by the handlers, so routes(nullptr) lists the routes
  // (route_list) from the very table the server registers.
  static std::vector<Route> routes(Service* self);
  Metrics& metrics() { return metrics_; }
  TokenCache& tokens() { return tokens_; }
  SessionStore& sessions() { return sessions_; }
  promo::GroupCommitPoster& group() { return group_; }
  void set_connections(const BoundedTaskQueue* queue) { connections_.store(queue); }

 private:
  void post_payment(const httplib::Request& req, httplib::Response& res);
  void get_payment(const httplib::Request& req, httplib::Response& res);
  void reverse_payment(const httplib::Request& req, httplib::Response& res);
  void steer_campaign(const httplib::Request& req, httplib::Response& res, const std::string& action);
  void create_campaign(const httplib::Request& req, httplib::Response& res);
  void approve_campaign(const httplib::Request& req, httplib::Response& res);
  void campaign_days(const httplib::Request& req, httplib::Response& res);
  void card_values(const httplib::Request& req, httplib::Response& res);
  void outlet_report(const httplib::Request& req, httplib::Response& res);
  void subsidy_days(const httplib::Request& req, httplib::Response& res);
  void healthz(httplib::Response& res);
  void metrics_text(httplib::Response& res);
  // Runs a read; a database failure becomes 503 or 500, a report past its row limit 422
  // report_too_large (its words say how to narrow the request).
  template <class F>
  void reading(httplib::Response& res, F&& read) {
    try {
      read();
    } catch (const ledger::DatabaseError& e) {
      answer_database_error(res, e);
    } catch (const promo::ReportTooLarge& e) {
      answer_error(res, 422, std::string(promo::to_string(e.error().code)), e.error().detail);
    }
  }

  const ServiceOptions& options_;
  ledger::Database posting_db_;
  ledger::Database read_db_;
  ledger::Database health_db_;
  TokenCache tokens_;
  SessionStore sessions_;
  promo::PaymentPoster poster_;
  promo::GroupCommitPoster group_;
  Metrics metrics_;
  // Set by the server when it makes its task queue, read by /metrics on other threads.
  std::atomic<const BoundedTaskQueue*> connections_{nullptr};
};


// Who is calling: a bearer token (Authorization), else a console session (its cookie). A request
// with an Authorization header is judged by it alone: a bad token is not rescued by a cookie.
struct Caller {
  Identity identity;
  bool by_session = false;
  std::string csrf;  // the session's CSRF token (by_session only)
};
std::optional<Caller> identify(const httplib::Request& req, TokenCache& tokens, SessionStore& sessions);

// Wraps a route's handler: authentication (token or session), CSRF for a session's POST,
// authorisation, notes for the log.
Handler guarded(const Route& route, TokenCache& tokens, SessionStore& sessions);

// The console (console_routes.cpp): pages, assets, sign-in and sign-out, on the same server.
void add_console(httplib::Server& server, Service& service, const ServiceOptions& options);

}  // namespace promoledger::service::detail
