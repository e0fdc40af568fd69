#pragma once
// promoledger serve: the HTTP/JSON API for core banking (payments), branch finance (reports) and
// auditors (trace, verify). See docs/architecture.md ("The service") and docs/operations.md.
//
// One process: an HTTP/1.1 server on Boost.Beast (io_threads I/O threads, asynchronous reads and
// writes, no thread per connection, at most max_connections), a GroupCommitPoster that clears every
// payment (batched, routed by outlet), a blocking pool for the reads (read_sessions threads), and
// small pools of database sessions: on the primary (posting, work, health) and, with --read-db, on
// the read node (reports, and its health). A payment is answered only after its batch commits.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "promoledger/promo/finance.hpp"

namespace promoledger::service {

enum class LogFormat { text, json };

struct ServiceOptions {
  std::string conninfo;  // the primary (--db): payments, reversals, campaign actions, audit verify, tokens
  // --read-db: reports, traces and the console's figures are read on a second pool on this server (a
  // standby: target_session_attrs=prefer-standby), and each such answer says how far behind the
  // primary it is (X-Replica-Lag-Ms, and "replica_lag_ms" in a JSON object). Unset: every read on the
  // primary, as before.
  std::optional<std::string> read_conninfo;
  // How often the read node's state (standby or not, lag) is sampled for /metrics.
  std::chrono::milliseconds replica_watch{1000};
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (printed on stdout once listening)
  std::size_t writers = 2;           // group-commit writers; 1..16
  std::size_t read_sessions = 4;     // sessions for reads (reports, trace, verify); 1..32
  std::size_t io_threads = 1;        // threads reading and writing connections; 1..io_threads_max
  static constexpr std::size_t io_threads_max = 4;
  std::size_t max_connections = 256; // served at once; more are answered 503 and closed
  static constexpr std::size_t max_connections_limit = 4096;
  std::size_t queue_depth_max = 10'000;  // payments waiting for a writer before 503 + Retry-After
  std::size_t body_bytes_max = 16 * 1024;
  // Rows a report may hold, 1..promo::report_rows_max (the default); beyond, 422 report_too_large.
  std::size_t report_rows_max = promo::report_rows_max;
  // A request must arrive whole within read_timeout of its first byte (and a TLS handshake complete
  // within it); an answer must be written within write_timeout; a connection with nothing in flight
  // is closed after keep_alive_timeout without a new request. A client waiting for its answer (a
  // payment waiting for its commit) is not timed out.
  std::chrono::seconds read_timeout{5};
  std::chrono::seconds write_timeout{5};
  std::chrono::seconds keep_alive_timeout{5};
  std::chrono::milliseconds token_refresh{1000};  // a revoked token stops working within this
  // A console session ends after this long unused, or this long after sign-in, whichever comes first.
  std::chrono::seconds session_idle_max{30 * 60};
  std::chrono::seconds session_lifetime_max{12 * 3600};
  static constexpr std::chrono::seconds session_lifetime_limit{7 * 24 * 3600};
  std::optional<std::string> tls_cert_file, tls_key_file;
  LogFormat log_format = LogFormat::text;
};

// Runs the service until SIGTERM or SIGINT: then it stops accepting, finishes the requests in flight
// (every queued payment is posted and answered), and returns 0. Prints one line
// "promoledger serve: listening on http(s)://HOST:PORT" on stdout when it accepts connections.
// Returns non-zero, with the reason logged, when it cannot start (bad options, database, port, TLS).
// REQUIRES: SIGTERM and SIGINT are not yet handled by anything else in the process.
int run_service(const ServiceOptions& options);

// The routes the server has: (method, OpenAPI path template), in the order they are matched.
std::vector<std::pair<std::string, std::string>> route_list();

// The OpenAPI 3 document served at /v1/openapi.json (service/openapi.json, embedded at build time).
const std::string& openapi_document();

}  // namespace promoledger::service
