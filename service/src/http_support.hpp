#pragma once
// The service's answers and logs, shared by the routes (routes*.cpp, console_routes.cpp) and the
// listener (server.cpp): the JSON error answers, and the access log written in blocks. Internal to
// service/.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "http.hpp"
#include "promoledger/ledger/database.hpp"
#include "promoledger/promo/rejection.hpp"
#include "promoledger/service/request_parsing.hpp"
#include "promoledger/service/server.hpp"

namespace promoledger::service::detail {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------- answers
void answer(Response& res, int status, const nlohmann::json& body);
// {"error", "message"[, "field"]}; a 503 carries Retry-After.
void answer_error(Response& res, int status, const std::string& error, const std::string& message,
                  const std::string& field = "");
void answer_bad_request(Response& res, const BadRequest& bad);
void answer_rejection(Response& res, const promo::Rejection& r);
// A database failure while reading: 503 when the database cannot be reached (try again), 500 else.
void answer_database_error(Response& res, const ledger::DatabaseError& e);

// ------------------------------------------------------------------------------------------- logs
void configure_logging(LogFormat format);

// The access log: one line per answered request (method, path, route, status, milliseconds, remote
// address, token name, error code; never a token), in the format of the other log lines. Lines are
// gathered in memory and written to stderr in blocks, one write(2) per block: when 64 KiB are
// waiting, or 100 ms after the first line of a block, and at stop(). A write per request would cost
// the I/O thread a system call per request.
//
// Thread safety: add() may be called from any thread; stop() once, from the thread that made it.
class AccessLog {
 public:
  static constexpr std::size_t block_bytes = 64 * 1024;
  static constexpr std::chrono::milliseconds block_delay{100};
  // Beyond this many bytes waiting (stderr blocked), lines are dropped and counted, never buffered
  // without limit.
  static constexpr std::size_t waiting_bytes_max = 16 * 1024 * 1024;

  explicit AccessLog(LogFormat format);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void add(const Request& req, const Response& res, std::chrono::nanoseconds elapsed);
  // Writes what is waiting and ends the writing thread. Idempotent.
  void stop();

 private:
  void write_loop();

  const LogFormat format_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string waiting_;
  std::uint64_t dropped_ = 0;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace promoledger::service::detail
