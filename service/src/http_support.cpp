#include "http_support.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace promoledger::service::detail {

using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// In JSON mode every log line is one JSON object: {"ts", "level", then "msg" or the request's members}.
class JsonPayloadFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string out = "\"msg\":" + dump(json(std::string(msg.payload.data(), msg.payload.size())));
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonPayloadFlag>(); }
};

// The time as the other log lines carry it (configure_logging's patterns): UTC, milliseconds in text,
// microseconds and a Z in JSON.
std::string log_time(LogFormat format) {
  const auto now = std::chrono::system_clock::now();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(us / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  const auto fraction = us % 1'000'000;
  return format == LogFormat::json
             ? fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                           utc.tm_hour, utc.tm_min, utc.tm_sec, fraction)
             : fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                           utc.tm_hour, utc.tm_min, utc.tm_sec, fraction / 1000);
}

void write_all(int fd, const std::string& bytes) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + at, bytes.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // stderr is gone: nothing better to do with a log line
    at += static_cast<std::size_t>(n);
  }
}

}  // namespace

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

// ---------------------------------------------------------------------------------------- answers
void answer(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body) + "\n", "application/json");
}

void answer_error(Response& res, int status, const std::string& error, const std::string& message,
                  const std::string& field) {
  json body{{"error", error}, {"message", message}};
  if (!field.empty()) body["field"] = field;
  res.error = error;
  if (status == 503) res.set_header("Retry-After", "1");
  answer(res, status, body);
}

void answer_bad_request(Response& res, const BadRequest& bad) { answer_error(res, 400, bad.error, bad.message, bad.field); }

namespace {
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
}  // namespace

void answer_rejection(Response& res, const promo::Rejection& r) {
  answer_error(res, status_of(r.code), std::string(promo::to_string(r.code)), r.message, r.field);
}

void answer_database_error(Response& res, const ledger::DatabaseError& e) {
  if (ledger::is_connection_failure(e)) {
    answer_error(res, 503, "database_unavailable", "the database cannot be reached; try again shortly");
  } else {
    spdlog::error("database failure: {}", e.what());
    answer_error(res, 500, "internal", "the database refused the request; nothing was changed");
  }
}

// ------------------------------------------------------------------------------------------- logs
AccessLog::AccessLog(LogFormat format) : format_(format), writer_([this] { write_loop(); }) {}

AccessLog::~AccessLog() { stop(); }

void AccessLog::add(const Request& req, const Response& res, std::chrono::nanoseconds elapsed) {
  const double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  const std::string route = res.route != nullptr ? res.route : "-";
  std::string line;
  if (format_ == LogFormat::json) {
    json j{{"ts", log_time(format_)}, {"level", "info"},     {"event", "request"},   {"method", req.method},
           {"path", req.path},        {"route", route},      {"status", res.status}, {"ms", std::round(ms * 1000) / 1000},
           {"remote", req.remote_addr}};
    if (!res.token_name.empty()) j["token"] = res.token_name;
    if (!res.error.empty()) j["error"] = res.error;
    line = dump(j);
  } else {
    line = fmt::format("{} info {} {} {} {:.3f}ms route={} remote={} token={}{}{}", log_time(format_), req.method,
                       dump(json(req.path)), res.status, ms, route, req.remote_addr,
                       res.token_name.empty() ? "-" : res.token_name, res.error.empty() ? "" : " error=", res.error);
  }
  line += '\n';
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (waiting_.size() + line.size() > waiting_bytes_max) {
      ++dropped_;
      return;
    }
    wake = waiting_.empty() || waiting_.size() + line.size() >= block_bytes;
    waiting_ += line;
  }
  if (wake) wake_.notify_one();
}

void AccessLog::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
}

void AccessLog::write_loop() {
  std::string block;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return !waiting_.empty() || stopping_; });
    // A block gathers for up to block_delay after its first line, unless it is full already.
    wake_.wait_for(lock, block_delay, [&] { return waiting_.size() >= block_bytes || stopping_; });
    block.clear();
    block.swap(waiting_);
    const std::uint64_t dropped = std::exchange(dropped_, 0);
    const bool last = stopping_;
    lock.unlock();
    if (dropped > 0) block += fmt::format("{} access log lines dropped: stderr did not keep up\n", dropped);
    if (!block.empty()) write_all(STDERR_FILENO, block);
    lock.lock();
    if (last && waiting_.empty()) return;
  }
}

}  // namespace promoledger::service::detail
