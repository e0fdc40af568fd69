#pragma once
// The storage boundary: one connection pool built at start-up, a session leased per unit of work.
// Database failures surface as DatabaseError (an exception: they end the operation); business
// outcomes never do.
//
// Thread safety: Database is safe to share between threads; each leased session belongs to one thread.

#include <soci/soci.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

struct pg_conn;

namespace promoledger::ledger {

// SQLSTATEs the project raises itself (sql/migrations/0001_roles_and_ledger.sql) or translates.
namespace sqlstate {
inline constexpr std::string_view insufficient_funds = "PL001";
inline constexpr std::string_view unbalanced_at_commit = "PL003";
inline constexpr std::string_view append_only = "PL004";
inline constexpr std::string_view invalid_reference = "PL005";
inline constexpr std::string_view campaign_frozen = "PL006";
inline constexpr std::string_view business_day_closed = "PL007";
inline constexpr std::string_view period_not_closable = "PL008";
inline constexpr std::string_view unique_violation = "23505";
inline constexpr std::string_view check_violation = "23514";
inline constexpr std::string_view serialization_failure = "40001";
inline constexpr std::string_view deadlock_detected = "40P01";
inline constexpr std::string_view insufficient_privilege = "42501";
}  // namespace sqlstate

class DatabaseError : public std::runtime_error {
 public:
  DatabaseError(std::string message, std::string sqlstate_code)
      : std::runtime_error(std::move(message)), sqlstate_(std::move(sqlstate_code)) {}
  // Five characters, or empty when the failure did not come from the server.
  const std::string& sqlstate() const { return sqlstate_; }
  // PostgreSQL's primary message alone ("insufficient_funds: account … would fall below …"), without
  // SOCI's context and the statement text: what a rejection shows to a person.
  std::string primary_message() const;
  bool retryable() const {
    return sqlstate_ == sqlstate::serialization_failure || sqlstate_ == sqlstate::deadlock_detected;
  }

 private:
  std::string sqlstate_;
};

// The connection failed while a unit of work was in flight, so it may or may not have committed.
// Idempotent work (a payment, by its id) may be re-sent safely; the next lease reconnects.
class OutcomeUnknown : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

// Whether a failure means the connection, not the statement, failed: no SQLSTATE, class 08
// (connection exception) or 57P (the server shut down or terminated the session).
bool is_connection_failure(const DatabaseError& error);

// Rethrows a SOCI error (or any std::exception) as DatabaseError, keeping its SQLSTATE.
[[noreturn]] void rethrow_as_database_error(std::string_view what_doing);

// The connection string: an explicit one wins, else PROMOLEDGER_DB, else nothing.
std::optional<std::string> conninfo_from(std::optional<std::string> explicit_conninfo);

// Which server of a multi-host connection string a pool wants (libpq's target_session_attrs).
enum class Target {
  primary,         // read-write: posting, audit verify, every command
  prefer_standby,  // reports, traces and the console: a standby when one answers, else the primary
};

// The connection string a Database uses: the caller's (key=value or URI), with what a formation needs
// added where the caller said nothing (the caller's own settings always win):
//   target_session_attrs  read-write (Target::primary) or prefer-standby, when the string names more than
//                         one host: libpq then tries them in order until one fits, so a failover needs
//                         no configuration change;
//   connect_timeout=2     seconds per host, so a dead machine costs 2 s, not the kernel's minutes;
//   keepalives=1 keepalives_idle=10 keepalives_interval=3 keepalives_count=3
//                         an idle connection to a vanished machine is noticed within about 20 s;
//   tcp_user_timeout=10000  data unacknowledged for 10 s breaks the connection (a machine that died
//                         while a statement was being sent), instead of TCP's 15 minutes.
// Throws std::invalid_argument (with libpq's words, never the password) when the string does not parse.
std::string complete_conninfo(std::string_view conninfo, Target target);

// host:port of the server a session is connected to now (with several hosts: the one libpq chose).
std::string server_address(soci::session& session);

// Warnings the server sent while this thread ran statements. The one warning a commit can bring is
// PostgreSQL's "canceling wait for synchronous replication ...: the transaction has already committed
// locally, but might not have been replicated to the standby": the commit is on the primary alone and
// a failover may lose it, so it is not a success. Its text depends on the server's lc_messages, so any
// WARNING counts (no promoledger function raises one). with_retry watches its unit of work with these.
// Thread safety: per thread (libpq calls the notice receiver in the thread that reads the result).
void clear_server_warnings();
std::optional<std::string> first_server_warning();

struct DatabaseOptions {
  std::string conninfo;             // a libpq connection string (completed by complete_conninfo)
  std::size_t pool_size = 4;        // sessions opened at start-up; 1..pool_size_max
  static constexpr std::size_t pool_size_max = 64;
  // Statements taking longer are cancelled by the server: no operation may hang forever. A commit's
  // wait for the synchronous standby is not part of a statement: the server never cancels it for this.
  std::chrono::milliseconds statement_timeout{30'000};
  // Which server of a multi-host string (complete_conninfo).
  Target target = Target::primary;
};

class Database {
 public:
  explicit Database(DatabaseOptions options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // A session leased from the pool; returned when the Lease is destroyed. Blocks while all are leased.
  // A session whose connection was lost (or closed by the server while idle: a primary that died or
  // was demoted) is reconnected and configured again before it is handed out, to the server its
  // connection string now designates; if none can be reached, the lease throws DatabaseError
  // (SQLSTATE 08006) and nothing was sent.
  class Lease {
   public:
    explicit Lease(Database& database) : database_(database), session_(*database.pool_) {
      database.ensure_connected(session_);
      database_.in_use_.fetch_add(1, std::memory_order_relaxed);
    }
    ~Lease() { database_.in_use_.fetch_sub(1, std::memory_order_relaxed); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    soci::session& operator*() { return session_; }
    soci::session* operator->() { return &session_; }

   private:
    Database& database_;
    soci::session session_;
  };
  Lease lease() { return Lease(*this); }

  const DatabaseOptions& options() const { return options_; }
  // Connections re-established since start-up (for monitoring).
  std::uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  // Sessions leased now (for monitoring).
  std::size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }

 private:
  void configure(soci::session& session);
  void ensure_connected(soci::session& session);
  std::atomic<std::uint64_t> reconnects_{0};
  std::atomic<std::size_t> in_use_{0};
  DatabaseOptions options_;
  std::unique_ptr<soci::connection_pool> pool_;
};

// libpq's handle behind a SOCI session, for what SOCI cannot do (multi-statement scripts).
pg_conn* native_handle(soci::session& session);

// Runs a script of one or more statements through libpq; throws DatabaseError with the SQLSTATE.
void exec_script(soci::session& session, const std::string& sql, std::string_view what_doing);

// Builds a PostgreSQL array literal ('{"a","b\\"c"}') for a text[], bigint[], timestamptz[] or date[]
// parameter: every element quoted and escaped, so any text travels unchanged.
// REQUIRES: no element contains a NUL byte (libpq cannot send one; callers refuse such input first).
class PgArrayLiteral {
 public:
  void add(std::string_view element);
  std::string finish() &&;

 private:
  std::string text_ = "{";
};

// Retries taken by with_retry in this process (for benchmarks and monitoring).
std::atomic<std::uint64_t>& retries_taken();

// Bounded retry of a unit of work on serialization failures and deadlocks (at most retries_max
// attempts; each retry is counted once in retries_taken()). SOCI errors thrown by the unit are
// translated here (rethrow_as_database_error, keeping the SQLSTATE), so a closure may use SOCI directly;
// every other exception passes through untouched, on the first attempt.
// REQUIRES: the unit of work is idempotent and starts its own transaction: a failed attempt has been
// rolled back by the server, and the next one must begin from nothing (reset any results it fills).
inline constexpr int retries_max = 5;
// A unit that ends normally while the server sent a WARNING (first_server_warning) ends with
// OutcomeUnknown instead: its commit may not have reached the synchronous standby.
[[noreturn]] void throw_unconfirmed_commit(const std::string& warning);
template <class F>
auto with_retry(F&& unit_of_work) -> decltype(unit_of_work()) {
  for (int attempt = 1;; ++attempt) {
    try {
      try {
        clear_server_warnings();
        if constexpr (std::is_void_v<decltype(unit_of_work())>) {
          unit_of_work();
          if (auto warning = first_server_warning()) throw_unconfirmed_commit(*warning);
          return;
        } else {
          auto result = unit_of_work();
          if (auto warning = first_server_warning()) throw_unconfirmed_commit(*warning);
          return result;
        }
      } catch (const soci::soci_error&) {
        rethrow_as_database_error("a unit of work");
      }
    } catch (const DatabaseError& e) {
      if (!e.retryable() || attempt >= retries_max) throw;
      retries_taken().fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace promoledger::ledger
