#include "http_support.hpp"

#include <cmath>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace promoledger::service::detail {

using nlohmann::json;

thread_local RequestNotes t_notes;
thread_local bool t_refuse_connection = false;

namespace {

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
void answer(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", "application/json");
}

void answer_error(httplib::Response& res, int status, const std::string& error, const std::string& message,
                  const std::string& field) {
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
namespace {
int status_of(promo::Reject code) {
  switch (code) {
    case promo::Reject::unknown_payment:
    case promo::Reject::unknown_campaign: return 404;
    case promo::Reject::exists_with_different_content: return 409;
    default: return 422;
  }
}

}  // namespace

void answer_rejection(httplib::Response& res, const promo::Rejection& r) {
  answer_error(res, status_of(r.code), std::string(promo::to_string(r.code)), r.message, r.field);
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


}  // namespace promoledger::service::detail
