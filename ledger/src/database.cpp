#include "promoledger/ledger/database.hpp"

#include <soci/postgresql/soci-postgresql.h>

#include <cassert>
#include <cstdlib>

#include <fmt/format.h>
#include <libpq-fe.h>

namespace promoledger::ledger {

void rethrow_as_database_error(std::string_view what_doing) {
  try {
    throw;
  } catch (const DatabaseError&) {
    throw;
  } catch (const soci::postgresql_soci_error& e) {
    throw DatabaseError(fmt::format("{}: {}", what_doing, e.what()), e.sqlstate());
  } catch (const std::exception& e) {
    throw DatabaseError(fmt::format("{}: {}", what_doing, e.what()), "");
  }
}

bool is_connection_failure(const DatabaseError& error) {
  const std::string& state = error.sqlstate();
  return state.empty() || state.starts_with("08") || state.starts_with("57P");
}

void PgArrayLiteral::add(std::string_view element) {
  assert(element.find('\0') == std::string_view::npos);
  if (text_.size() > 1) text_ += ',';
  text_ += '"';
  for (char c : element) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
}

std::string PgArrayLiteral::finish() && {
  text_ += '}';
  return std::move(text_);
}

std::string DatabaseError::primary_message() const {
  const std::string_view text = what();
  const std::size_t start = text.find("ERROR:  ");
  if (start == std::string_view::npos) return std::string(text);
  const std::string_view rest = text.substr(start + 8);
  return std::string(rest.substr(0, rest.find('\n')));
}

std::atomic<std::uint64_t>& retries_taken() {
  static std::atomic<std::uint64_t> counter{0};
  return counter;
}

std::optional<std::string> conninfo_from(std::optional<std::string> explicit_conninfo) {
  if (explicit_conninfo && !explicit_conninfo->empty()) return explicit_conninfo;
  if (const char* env = std::getenv("PROMOLEDGER_DB"); env != nullptr && *env != '\0') return std::string(env);
  return std::nullopt;
}

Database::Database(DatabaseOptions options) : options_(std::move(options)) {
  if (options_.pool_size == 0 || options_.pool_size > DatabaseOptions::pool_size_max) {
    throw std::invalid_argument(
        fmt::format("pool size {} is outside 1..{}", options_.pool_size, DatabaseOptions::pool_size_max));
  }
  pool_ = std::make_unique<soci::connection_pool>(options_.pool_size);
  try {
    for (std::size_t i = 0; i < options_.pool_size; ++i) {
      soci::session& session = pool_->at(i);
      session.open(soci::postgresql, options_.conninfo);
      configure(session);
    }
  } catch (...) {
    rethrow_as_database_error("connecting to the database");
  }
}

void Database::configure(soci::session& session) {
  // Fixed session settings: timestamps cross the boundary in UTC, and nothing waits forever.
  exec_script(session,
              fmt::format("SET TimeZone = 'UTC'; SET statement_timeout = {}; SET lock_timeout = {}",
                          options_.statement_timeout.count(), options_.statement_timeout.count()),
              "configuring the session");
}

void Database::ensure_connected(soci::session& session) {
  PGconn* conn = native_handle(session);
  if (PQstatus(conn) == CONNECTION_OK) return;
  // PQreset reconnects the same PGconn with the same parameters, so SOCI's backend stays valid.
  // Server-side state (prepared statements, settings) is gone: settings are applied again here, and
  // users of prepared statements re-prepare on SQLSTATE 26000.
  PQreset(conn);
  if (PQstatus(conn) != CONNECTION_OK) {
    throw DatabaseError(fmt::format("the database cannot be reached: {}", PQerrorMessage(conn)), "08006");
  }
  configure(session);
  reconnects_.fetch_add(1, std::memory_order_relaxed);
}

Database::~Database() = default;

pg_conn* native_handle(soci::session& session) {
  // The backend's type information is not exported by libsoci_postgresql, so no dynamic_cast: the
  // backend name is checked instead.
  if (session.get_backend() == nullptr || session.get_backend_name() != "postgresql") {
    throw DatabaseError("session is not an open PostgreSQL session", "");
  }
  return static_cast<soci::postgresql_session_backend*>(session.get_backend())->conn_;
}

void exec_script(soci::session& session, const std::string& sql, std::string_view what_doing) {
  PGconn* conn = native_handle(session);
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    std::string message = fmt::format("{}: {}", what_doing, PQresultErrorMessage(result));
    std::string code = state != nullptr ? state : "";
    PQclear(result);
    throw DatabaseError(std::move(message), std::move(code));
  }
  PQclear(result);
}

}  // namespace promoledger::ledger
