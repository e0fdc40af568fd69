#include "promoledger/service/server.hpp"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <regex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http_support.hpp"
#include "routes.hpp"

namespace promoledger::service {
namespace {

using namespace detail;

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
      server.Get(pattern, guarded(route, service.tokens(), service.sessions()));
    } else {
      server.Post(pattern, guarded(route, service.tokens(), service.sessions()));
    }
  }
  add_console(server, service, options);
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

  if (options.session_idle_max.count() <= 0 || options.session_idle_max > options.session_lifetime_max ||
      options.session_lifetime_max > ServiceOptions::session_lifetime_limit) {
    spdlog::error("cannot start: console sessions need 0 < idle ({} s) <= lifetime ({} s) <= {} s",
                  options.session_idle_max.count(), options.session_lifetime_max.count(),
                  ServiceOptions::session_lifetime_limit.count());
    return 2;
  }
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
