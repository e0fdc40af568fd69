#pragma once
// The service's HTTP plumbing, shared by the routes (routes.cpp) and the listener (server.cpp):
// what a request's thread notes for its log line, the bounded connection queue, the error answers,
// and the log format. Internal to service/.

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "promoledger/ledger/database.hpp"
#include "promoledger/promo/rejection.hpp"
#include "promoledger/service/request_parsing.hpp"
#include "promoledger/service/server.hpp"

namespace promoledger::service::detail {

using Clock = std::chrono::steady_clock;

// What the request's thread learned while answering it, for its log line and metrics. Each
// connection is served by one thread from reading the request to writing the answer, so a
// thread_local carries it from the route's handler to the logger.
struct RequestNotes {
  const char* route = nullptr;  // the route's template, or null when no route matched
  Clock::time_point started{};
  std::string token_name;
  std::string error;  // the error code answered, if any
};
extern thread_local RequestNotes t_notes;
// Set while a thread serves a connection beyond max_connections: every request on it gets 503.
extern thread_local bool t_refuse_connection;

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


// ---------------------------------------------------------------------------------------- answers
void answer(httplib::Response& res, int status, const nlohmann::json& body);
// {"error", "message"[, "field"]}; a 503 carries Retry-After.
void answer_error(httplib::Response& res, int status, const std::string& error, const std::string& message,
                  const std::string& field = "");
void answer_bad_request(httplib::Response& res, const BadRequest& bad);
void answer_rejection(httplib::Response& res, const promo::Rejection& r);
// A database failure while reading: 503 when the database cannot be reached (try again), 500 else.
void answer_database_error(httplib::Response& res, const ledger::DatabaseError& e);

// ------------------------------------------------------------------------------------------- logs
void configure_logging(LogFormat format);
// One line per request, from the thread's notes.
void log_request(LogFormat format, const httplib::Request& req, const httplib::Response& res);

}  // namespace promoledger::service::detail
