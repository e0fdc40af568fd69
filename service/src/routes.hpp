#pragma once
// The API's routes: who may call each, where it runs, and what it does. One table (Service::routes)
// that the dispatcher matches, route_list() lists for the OpenAPI check, and the role-matrix test
// reads through it. The handlers live by resource: routes_payments.cpp, routes_campaigns.cpp,
// routes_reports.cpp, routes_audit.cpp, routes_operations.cpp; the console's pages in
// console_routes.cpp. Internal to service/.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "http.hpp"
#include "http_support.hpp"
#include "sessions.hpp"
#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/server_state.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/group_commit.hpp"
#include "promoledger/promo/payments.hpp"
#include "promoledger/service/metrics.hpp"
#include "promoledger/service/server.hpp"
#include "promoledger/service/tokens.hpp"

namespace promoledger::service::detail {

constexpr unsigned bit(Role r) { return 1U << static_cast<unsigned>(r); }
constexpr unsigned anyone = 0;  // a public route: no token needed
constexpr unsigned poster = bit(Role::poster);
constexpr unsigned finance = bit(Role::finance);
constexpr unsigned auditor = bit(Role::auditor);
constexpr unsigned operator_ = bit(Role::operator_);

// Gives a request's answer to its connection. Callable once, from any thread: it only hands the
// answer over (the listener posts it onto the connection's executor), never touches the socket.
using Reply = std::function<void(Response)>;
using Handler = std::function<void(const Request&, Response&)>;
using AsyncHandler = std::function<void(Request, Reply)>;

// Where a handler runs. io: on the connection's I/O thread (it neither blocks nor waits: no database);
// pool: on the blocking pool (it reads or writes the database); async: on the I/O thread, and it
// answers later through its Reply (a payment, answered by the group-commit writer's completion).
enum class Runs { io, pool, async };

struct Route {
  const char* method;
  const char* path;  // the OpenAPI template
  unsigned roles;    // who may call it; anyone (0) needs no token
  Runs runs;
  Handler handle = {};            // io and pool
  AsyncHandler handle_async = {};  // async
  // false for the console's pages: not in the OpenAPI document, and they judge their callers themselves.
  bool api = true;
  // A read that may lag (reports, traces, the console's figures): with --read-db its handler reads on
  // Service::reports_db() (the read node), and the dispatcher measures the read node's lag before the
  // handler runs and puts it on the answer. Its handler must read through reports_db() and nothing
  // else: writes, a payment's lookup by its poster and audit verify stay on the primary.
  bool replica = false;
};

// The route, marked as a read served by the read node (Route::replica).
inline Route on_replica(Route route) {
  route.replica = true;
  return route;
}

// The answer's header that says how far behind the primary a read node's answer may be, in
// milliseconds ("unknown" when the standby cannot tell), and the header naming the node (host:port).
inline constexpr const char* replica_lag_header = "X-Replica-Lag-Ms";
inline constexpr const char* read_node_header = "X-Read-Node";
// Puts the read node's state on an answer: the two headers, and "replica_lag_ms" as the first member
// of a 200 answer whose body is a JSON object (error bodies keep their one shape).
void annotate_replica(Response& res, const ledger::ServerState& state);

// The end-of-day routes (eod_routes.cpp), appended to the table; read_db is null when only listing.
// They are reads that may lag (on_replica): read_db is Service::reports_db().
std::vector<Route> eod_routes(ledger::Database* read_db);

// What one running service holds.
class Service {
 public:
  // Runs a job on the blocking pool (set by the listener before the first request).
  using RunBlocking = std::function<void(std::function<void()>)>;

  explicit Service(const ServiceOptions& options);

  // The API's route table. `self` is only captured by the handlers, so routes(nullptr) lists the
  // routes (route_list) from the very table the dispatcher matches.
  static std::vector<Route> routes(Service* self);

  // Routes one request and answers it through `reply`, exactly once: 404/405, authentication and
  // roles, then the route's handler where it runs. Called on the connection's I/O thread.
  void dispatch(Request req, Reply reply);

  void set_run_blocking(RunBlocking run) { run_blocking_ = std::move(run); }
  Metrics& metrics() { return metrics_; }
  TokenCache& tokens() { return tokens_; }
  SessionStore& sessions() { return sessions_; }
  promo::GroupCommitPoster& group() { return group_; }
  const ServiceOptions& options() const { return options_; }

  // Where reads that may lag go (Route::replica): the read node's pool with --read-db, else the
  // primary's work pool.
  ledger::Database& reports_db() { return replica_db_ ? *replica_db_ : work_db_; }
  bool has_read_node() const { return replica_db_ != nullptr; }
  // Samples the read node's state on its health session and keeps it for /metrics; called every
  // options().replica_watch by the service's watch thread. Never throws: a failure is kept as "no
  // answer". REQUIRES: has_read_node().
  void watch_read_node();

  // Connections, kept by the listener and read by /metrics.
  std::atomic<std::size_t> connections_open{0};
  std::atomic<std::uint64_t> connections_refused{0};

 private:
  // routes_payments.cpp
  void post_payment(Request req, Reply reply);
  void get_payment(const Request& req, Response& res);
  void reverse_payment(const Request& req, Response& res);
  // routes_campaigns.cpp
  void list_campaigns(const Request& req, Response& res);
  void show_campaign(const Request& req, Response& res);
  void create_campaign(const Request& req, Response& res);
  void approve_campaign(const Request& req, Response& res);
  void steer_campaign(const Request& req, Response& res, promo::CampaignAction action);
  void campaign_days(const Request& req, Response& res);
  void card_values(const Request& req, Response& res);
  // routes_reports.cpp
  void outlet_report(const Request& req, Response& res);
  void subsidy_days(const Request& req, Response& res);
  void campaign_report(const Request& req, Response& res);
  void trial_balance(const Request& req, Response& res);
  // routes_audit.cpp
  void trace(const Request& req, Response& res);
  void verify(const Request& req, Response& res);
  // routes_operations.cpp
  void healthz(const Request& req, Response& res);
  void metrics_text(const Request& req, Response& res);

  // Runs a read; a database failure becomes 503 or 500.
  template <class F>
  void reading(Response& res, F&& read) {
    try {
      read();
    } catch (const ledger::DatabaseError& e) {
      answer_database_error(res, e);
    }
  }
  void run(const Route& route, Request req, Reply reply);
  // A replica route's handler: the read node's state is read first, on the pool that then serves the
  // read (a standby's replay only moves forward, so the answer is at most that far behind, plus the
  // read's own time), and put on the answer.
  Response run_on_read_node(const Handler& handle, const Request& req);
  // Keeps a sample of the read node's state for /metrics.
  void record_read_node(const std::optional<ledger::ServerState>& state);

  const ServiceOptions& options_;
  ledger::Database posting_db_;  // the group-commit writers (+1 for outlet routing)
  // Work on the primary besides posting: reversals, campaign actions, audit verify, a payment's
  // lookup, tokens; and, without --read-db, every read.
  ledger::Database work_db_;
  ledger::Database health_db_;
  // With --read-db: the reports' pool on the read node, and one session for its health and watch.
  std::unique_ptr<ledger::Database> replica_db_;
  std::unique_ptr<ledger::Database> replica_health_db_;
  // The read node's last sampled state, for /metrics: lag in ms (-1 unknown), standby 1/0 (-1: the
  // read node did not answer).
  std::atomic<std::int64_t> read_node_lag_ms_{-1};
  std::atomic<int> read_node_standby_{-1};
  TokenCache tokens_;
  SessionStore sessions_;
  promo::PaymentPoster poster_;
  promo::GroupCommitPoster group_;
  Metrics metrics_;
  RunBlocking run_blocking_;
  std::vector<Route> routes_;  // the API's, then the console's
  std::vector<PathTemplate> templates_;  // routes_[i]'s
};

// Who is calling: a bearer token (Authorization), else a console session (its cookie). A request
// with an Authorization header is judged by it alone: a bad token is not rescued by a cookie.
struct Caller {
  Identity identity;
  bool by_session = false;
  std::string csrf;  // the session's CSRF token (by_session only)
};
std::optional<Caller> identify(const Request& req, TokenCache& tokens, SessionStore& sessions);

// The checks of an API route before its handler: authentication (token or session), CSRF for a
// session's POST, the route's roles. False when `res` holds the refusal.
bool admit(const Route& route, Request& req, Response& res, TokenCache& tokens, SessionStore& sessions);

// The console (console_routes.cpp): pages, assets, sign-in and sign-out, served beside the API.
std::vector<Route> console_routes(Service& service);

// Path parameters and query values, each with the 400 that names it when it is wrong (answered into
// `res`, and nothing returned).
std::optional<std::string> path_payment_id(const Request& req, Response& res);
std::optional<std::int64_t> path_campaign_id(const Request& req, Response& res);
// A day range (from, to: YYYY-MM-DD), or a 400 naming the parameter at fault.
std::optional<std::pair<date::year_month_day, date::year_month_day>> day_range(const std::string& from,
                                                                               const std::string& to, Response& res);
// An optional day of the query: nullopt inside when absent; nothing (and a 400 naming it) when malformed.
std::optional<std::optional<date::year_month_day>> query_day(const Request& req, const char* name, Response& res);
// A report's refusal: 404 for what does not exist, 400 for a backwards or too long range (naming from
// or to), 422 report_too_large with the report, its limit and how to narrow it.
void answer_report_error(Response& res, const promo::ReportError& error);

}  // namespace promoledger::service::detail
