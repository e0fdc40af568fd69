// The listener: Boost.Asio and Boost.Beast, and the only file of the service that includes them (they
// compile slowly). One or two I/O threads, each running its own io_context; every connection lives on
// one of them from accept to close, so a connection's state needs no lock. Requests are read with
// Beast's parser into a detail::Request, dispatched (routes.cpp), and their answers come back through
// a Reply that posts them onto the connection's executor, from whichever thread produced them (the
// I/O thread itself, the blocking pool, or a group-commit writer after its commit). Answers are
// written in request order, one write outstanding per connection, status line, headers and body in
// one buffer.
#include <utility>  // before Asio: Boost 1.74's awaitable header needs std::exchange under -std=c++20

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http_support.hpp"
#include "routes.hpp"

namespace promoledger::service {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace detail;

// Connections waiting in the kernel's accept queue (Linux caps it at net.core.somaxconn): a burst of
// connections (a client pool starting, wrk's 64) must not overflow it, or each dropped SYN costs the
// client a one-second retransmission.
constexpr int listen_backlog = 1024;
// Requests read ahead of their answers on one connection (HTTP/1.1 pipelining); beyond it the
// connection is not read until answers have gone out. With max_connections this bounds the work the
// service holds.
constexpr std::size_t pipeline_depth_max = 32;
// Connections beyond max_connections that are answered 503 at once; beyond this many being refused
// at the same time, a connection is closed unanswered.
constexpr std::size_t refusing_max = 256;
// A request line and its headers; the request line alone at most request_line_bytes_max (else 414).
constexpr std::size_t header_bytes_max = 16 * 1024;
constexpr std::size_t request_line_bytes_max = 8 * 1024;
// After an answer given before its request was read whole (411, 413, a refused connection), the
// sending side is shut down and what the client still sends is read and dropped, for at most this
// long and this many bytes: closing with unread data would reset the connection, and the client
// could lose the answer before reading it.
constexpr std::chrono::seconds linger_max{5};
constexpr std::size_t linger_bytes_max = 8 * 1024 * 1024;

using TlsStream = asio::ssl::stream<tcp::socket>;
// Beast 1.74's string_view is Boost's.
std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

tcp::socket& socket_of(tcp::socket& s) { return s; }
tcp::socket& socket_of(TlsStream& s) { return s.next_layer(); }

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Stop reading new requests: answer those in flight, then close. Runs on the connection's executor.
  virtual void drain() = 0;
  virtual asio::any_io_executor executor() const = 0;
};

class Server {
 public:
  Server(Service& service, const ServiceOptions& options, AccessLog& log, asio::ssl::context* tls);
  // Binds and listens: 0, or 3 with the reason logged.
  int listen();
  int port() const { return port_; }
  // Runs the I/O threads and the blocking pool until a drain has ended; then every connection is
  // closed and every request it read has been answered.
  void run();
  // Stops accepting, lets every connection finish what it read, then ends run(). Any thread.
  void drain();

  Service& service() { return service_; }
  const ServiceOptions& options() const { return options_; }
  AccessLog& log() { return log_; }
  bool draining() const { return draining_.load(); }
  void opened(ConnectionBase* c, std::weak_ptr<ConnectionBase> self);
  void closed(ConnectionBase* c, bool admitted);

 private:
  void accept();
  void on_accept(error_code ec, tcp::socket socket);
  template <class Stream>
  void start(Stream stream, bool admitted, std::string remote);
  void finish();

  Service& service_;
  const ServiceOptions& options_;
  AccessLog& log_;
  asio::ssl::context* tls_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  asio::thread_pool pool_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::size_t next_context_ = 0;
  int port_ = 0;
  std::atomic<bool> draining_{false};
  bool finished_ = false;  // on contexts_[0]
  std::atomic<std::size_t> admitted_{0}, refusing_{0}, live_{0};
  std::mutex registry_mutex_;
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> registry_;
};

// ----------------------------------------------------------------------------------- a connection
template <class Stream>
class Connection final : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(Server& server, Stream stream, bool admitted, std::string remote)
      : server_(server),
        stream_(std::move(stream)),
        executor_(socket_of(stream_).get_executor()),
        timer_(executor_),
        admitted_(admitted),
        remote_(std::move(remote)) {}
  ~Connection() override { server_.closed(this, admitted_); }

  asio::any_io_executor executor() const override { return executor_; }

  void start() {
    server_.opened(this, this->shared_from_this());
    if (server_.draining()) return close();  // accepted just before the drain began
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      handshaking_ = true;
      read_deadline_ = Clock::now() + server_.options().read_timeout;
      arm();
      stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](error_code ec) {
        self->handshaking_ = false;
        if (self->closed_) return;
        if (ec) return self->close();
        self->read_request();
      });
    } else {
      read_request();
    }
  }

  void drain() override {
    if (closed_ || stop_reading_) return;
    if (request_started_) return;  // this request is read to its end, then answered shutting_down
    stop_reading_ = true;
    if (slots_.empty() && !writing_) return close();
    maybe_finish();
  }

 private:
  // One request read, waiting for its answer or being written: answers leave in this order.
  struct Slot {
    Request logged;  // method, path and remote address, for the log line
    Clock::time_point started;
    bool head = false;  // a HEAD request: no body in the answer
    bool last = false;  // the connection closes after this answer
    bool ready = false;
    std::string bytes;
  };

  // ------------------------------------------------------------------------------------- reading
  void read_request() {
    if (closed_ || stop_reading_) return maybe_finish();
    if (slots_.size() >= pipeline_depth_max) {
      paused_ = true;
      return;
    }
    parser_.emplace();
    parser_->header_limit(header_bytes_max);
    parser_->body_limit(server_.options().body_bytes_max);
    request_started_ = buffer_.size() > 0;
    if (request_started_) read_deadline_ = Clock::now() + server_.options().read_timeout;
    if (slots_.empty() && !writing_) idle_deadline_ = Clock::now() + server_.options().keep_alive_timeout;
    parse_header();
  }

  // Feeds what has arrived to the parser until its header is complete, reading more as needed.
  void parse_header() {
    while (buffer_.size() > 0) {
      error_code ec;
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) return refuse_framing(ec);
      if (parser_->is_header_done()) return on_header();
    }
    read_some();
  }

  void read_some() {
    reading_ = true;
    arm();
    stream_.async_read_some(buffer_.prepare(4096), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      self->reading_ = false;
      if (self->closed_) return;
      if (self->closing_) return ec ? self->close() : self->linger();
      if (ec) return self->on_read_error(ec);
      self->buffer_.commit(n);
      if (!self->request_started_) {
        self->request_started_ = true;
        self->read_deadline_ = Clock::now() + self->server_.options().read_timeout;
      }
      self->parse_header();
    });
  }

  void on_read_error(error_code ec) {
    // The client closed its side between requests: answer what was read, then close.
    if (ec == asio::error::eof && !request_started_) {
      stop_reading_ = true;
      return maybe_finish();
    }
    close();
  }

  void on_header() {
    auto& message = parser_->get();
    // RFC 9112 §6.3: a request with neither Content-Length nor Transfer-Encoding has no body, and the
    // parser reads it so. A chunked body is refused before it is read: its size is not known ahead.
    if (message.find(http::field::transfer_encoding) != message.end()) {
      return refuse(411, "length_required",
                    "a request body needs Content-Length (0 when there is none); chunked bodies are not accepted");
    }
    if (const auto length = parser_->content_length(); length && *length > server_.options().body_bytes_max) {
      return refuse(413, "body_too_large",
                    fmt::format("a request body may hold at most {} bytes", server_.options().body_bytes_max));
    }
    if (parser_->is_done()) return on_message();
    // A client that waits for "100 Continue" gets it when nothing else is being written; otherwise it
    // sends the body after its own wait (RFC 9110 §10.1.1 allows both).
    if (beast::iequals(message[http::field::expect], "100-continue") && slots_.empty() && !writing_) {
      writing_ = true;
      write_deadline_ = Clock::now() + server_.options().write_timeout;
      arm();
      static const std::string continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(continue_line), [self = this->shared_from_this()](error_code ec, std::size_t) {
        self->writing_ = false;
        if (self->closed_) return;
        if (ec) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    reading_ = true;
    arm();
    http::async_read(stream_, buffer_, *parser_, [self = this->shared_from_this()](error_code ec, std::size_t) {
      self->reading_ = false;
      if (self->closed_) return;
      if (ec == http::error::body_limit) {
        return self->refuse(413, "body_too_large",
                            fmt::format("a request body may hold at most {} bytes", self->server_.options().body_bytes_max));
      }
      if (ec) return self->close();
      self->on_message();
    });
  }

  // A request the parser cannot read: answered, and the connection closes after the answer.
  void refuse_framing(error_code ec) {
    // The parser judges a Content-Length against the body limit as soon as it reads the header.
    if (ec == http::error::body_limit) {
      return refuse(413, "body_too_large",
                    fmt::format("a request body may hold at most {} bytes", server_.options().body_bytes_max));
    }
    if (ec == http::error::header_limit) {
      // The request line alone too long: 414; else the headers: 431.
      const auto* bytes = static_cast<const char*>(parser_->is_header_done() ? nullptr : buffer_.data().data());
      const std::string_view seen(bytes != nullptr ? bytes : "", bytes != nullptr ? buffer_.size() : 0);
      const auto eol = seen.find("\r\n");
      if (eol == std::string_view::npos || eol > request_line_bytes_max) {
        return refuse(414, "uri_too_long", "the request line is longer than this service reads");
      }
      return refuse(431, "headers_too_large", fmt::format("the request's headers exceed {} bytes", header_bytes_max));
    }
    refuse(400, "bad_request", "the request could not be read as HTTP/1.1");
  }

  void refuse(int status, const char* error, const std::string& message) {
    Request logged;
    if (parser_->is_header_done()) {
      const std::string_view target = view(parser_->get().target());
      logged.method = std::string(view(parser_->get().method_string()));
      logged.path = std::string(target.substr(0, target.find('?')));
    } else {
      logged.method = logged.path = "-";
    }
    logged.remote_addr = remote_;
    stop_reading_ = true;
    request_started_ = false;
    linger_ = true;
    const auto seq = add_slot(std::move(logged), false, true);
    Response res;
    answer_error(res, status, error, message);
    complete(seq, std::move(res));
  }

  void on_message() {
    auto message = parser_->release();
    parser_.reset();
    request_started_ = false;
    Request req;
    req.method = std::string(view(message.method_string()));
    const std::string_view target = view(message.target());
    const auto question = target.find('?');
    req.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos) parse_params(target.substr(question + 1), req.params);
    req.headers.reserve(8);
    for (const auto& field : message) {
      req.headers.push_back(Header{std::string(view(field.name_string())), std::string(view(field.value()))});
    }
    req.body = std::move(message.body());
    req.remote_addr = remote_;
    if (req.header("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) parse_params(req.body, req.params);

    const bool last = !message.keep_alive() || !admitted_ || server_.draining();
    if (last) stop_reading_ = true;
    if (!admitted_) linger_ = true;
    Request logged;
    logged.method = req.method;
    logged.path = req.path;
    logged.remote_addr = remote_;
    const auto seq = add_slot(std::move(logged), req.method == "HEAD", last);
    if (!admitted_) {
      Response res;
      answer_error(res, 503, "too_many_connections", "the service serves as many connections as it may; try again shortly");
      complete(seq, std::move(res));
    } else if (server_.draining()) {
      Response res;
      answer_error(res, 503, "shutting_down", "the service is stopping; nothing was done, try again shortly");
      complete(seq, std::move(res));
    } else {
      server_.service().dispatch(std::move(req), reply_for(seq));
    }
    read_request();  // the next request, while this one is answered (pipelining)
  }

  // ------------------------------------------------------------------------------------- answers
  std::uint64_t add_slot(Request logged, bool head, bool last) {
    slots_.push_back(Slot{std::move(logged), Clock::now(), head, last, false, {}});
    return next_seq_++;
  }

  // Hands an answer back from any thread: posted onto this connection's executor, where complete()
  // writes it. The caller's thread never touches the socket.
  Reply reply_for(std::uint64_t seq) {
    return [self = this->shared_from_this(), seq](Response res) mutable {
      // Moved out, so that this connection's last reference is dropped on its own thread.
      auto connection = std::move(self);
      const auto executor = connection->executor_;
      asio::post(executor, [connection = std::move(connection), seq, res = std::move(res)]() mutable {
        connection->complete(seq, std::move(res));
      });
    };
  }

  void complete(std::uint64_t seq, Response res) {
    assert(seq >= head_seq_ && seq < next_seq_);
    Slot& slot = slots_[seq - head_seq_];
    assert(!slot.ready);
    server_.service().metrics().count_request(slot.logged.method, res.route != nullptr ? res.route : "unmatched", res.status);
    server_.log().add(slot.logged, res, Clock::now() - slot.started);
    slot.bytes = serialize(res, !slot.last, slot.head);
    slot.ready = true;
    write_next();
  }

  void write_next() {
    if (closed_ || writing_) return;
    if (slots_.empty() || !slots_.front().ready) return maybe_finish();
    writing_ = true;
    write_deadline_ = Clock::now() + server_.options().write_timeout;
    arm();
    asio::async_write(stream_, asio::buffer(slots_.front().bytes), [self = this->shared_from_this()](error_code ec, std::size_t) {
      self->on_written(ec);
    });
  }

  void on_written(error_code ec) {
    writing_ = false;
    if (closed_) return;
    if (ec) return close();
    const bool last = slots_.front().last;
    slots_.pop_front();
    ++head_seq_;
    if (last) {
      stop_reading_ = true;
      return maybe_finish();
    }
    if (slots_.empty()) idle_deadline_ = Clock::now() + server_.options().keep_alive_timeout;
    if (paused_ && slots_.size() < pipeline_depth_max) {
      paused_ = false;
      read_request();
    }
    arm();
    write_next();
  }

  // ------------------------------------------------------------------------------------- closing
  void maybe_finish() {
    if (closed_ || closing_ || !stop_reading_ || !slots_.empty() || writing_) return;
    if (!linger_) return close();
    closing_ = true;
    error_code ignored;
    socket_of(stream_).shutdown(tcp::socket::shutdown_send, ignored);
    linger_deadline_ = Clock::now() + linger_max;
    arm();
    if (!reading_) linger();
  }

  // Reads and drops what the client still sends until it closes (or linger_max passes).
  void linger() {
    if (lingered_bytes_ > linger_bytes_max) return close();
    reading_ = true;
    socket_of(stream_).async_read_some(asio::buffer(scratch_), [self = this->shared_from_this()](error_code ec, std::size_t n) {
      self->reading_ = false;
      if (self->closed_) return;
      if (ec) return self->close();
      self->lingered_bytes_ += n;
      self->linger();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    socket_of(stream_).shutdown(tcp::socket::shutdown_both, ignored);
    socket_of(stream_).close(ignored);
    timer_.cancel();
  }

  // ------------------------------------------------------------------------------------ timeouts
  // The earliest deadline that applies now: the TLS handshake and a request being received (read
  // timeout), an answer being written (write timeout), a connection with nothing to do (idle: the
  // keep-alive timeout; not while the client waits for an answer), the linger after the last answer.
  Clock::time_point deadline() const {
    auto at = Clock::time_point::max();
    if (closing_) return linger_deadline_;
    if (handshaking_ || request_started_) at = std::min(at, read_deadline_);
    if (writing_) at = std::min(at, write_deadline_);
    if (reading_ && !request_started_ && slots_.empty() && !writing_) at = std::min(at, idle_deadline_);
    return at;
  }

  void arm() {
    if (closed_) return;
    const auto at = deadline();
    if (at == Clock::time_point::max()) return;
    if (timer_waiting_ && timer_at_ <= at) return;  // it fires earlier and looks again
    timer_at_ = at;
    timer_waiting_ = true;
    timer_.expires_at(at);
    timer_.async_wait([self = this->shared_from_this(), generation = ++timer_generation_](error_code) {
      if (generation != self->timer_generation_ || self->closed_) return;
      self->timer_waiting_ = false;
      if (self->deadline() <= Clock::now()) {
        if (!self->closing_ && self->request_started_ && !self->handshaking_) {
          spdlog::debug("connection from {}: a request not received within the read timeout", self->remote_);
        }
        return self->close();
      }
      self->arm();
    });
  }

  Server& server_;
  Stream stream_;
  const asio::any_io_executor executor_;
  asio::steady_timer timer_;
  const bool admitted_;  // false: beyond max_connections, answered 503 and closed
  const std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<Slot> slots_;
  std::uint64_t head_seq_ = 0, next_seq_ = 0;  // the sequence numbers of slots_.front() and of the next request
  bool handshaking_ = false, reading_ = false, writing_ = false, paused_ = false;
  bool request_started_ = false;  // bytes of a request have arrived, and it is not complete yet
  bool stop_reading_ = false, closing_ = false, closed_ = false;
  bool linger_ = false;  // the client may still be sending: read and drop it before closing
  bool timer_waiting_ = false;
  std::uint64_t timer_generation_ = 0;
  Clock::time_point read_deadline_{}, write_deadline_{}, idle_deadline_{}, linger_deadline_{}, timer_at_{};
  std::array<char, 4096> scratch_{};
  std::size_t lingered_bytes_ = 0;
};

// ------------------------------------------------------------------------------------------ server
std::vector<std::unique_ptr<asio::io_context>> make_contexts(std::size_t count) {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  // Concurrency hint 1: each context is run by one thread, so Asio may skip its internal locking.
  for (std::size_t i = 0; i < count; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  return contexts;
}

Server::Server(Service& service, const ServiceOptions& options, AccessLog& log, asio::ssl::context* tls)
    : service_(service),
      options_(options),
      log_(log),
      tls_(tls),
      contexts_(make_contexts(options.io_threads)),
      pool_(options.read_sessions),
      acceptor_(*contexts_[0]),
      accept_retry_(*contexts_[0]) {
  for (auto& c : contexts_) guards_.push_back(asio::make_work_guard(*c));
  service_.set_run_blocking([this](std::function<void()> job) { asio::post(pool_, std::move(job)); });
}

int Server::listen() {
  try {
    tcp::resolver resolver(*contexts_[0]);
    const auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port), tcp::resolver::passive);
    if (endpoints.empty()) throw std::runtime_error("no address");
    const tcp::endpoint endpoint = *endpoints.begin();
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(listen_backlog);
    port_ = acceptor_.local_endpoint().port();
  } catch (const std::exception& e) {
    spdlog::error("cannot listen on {}:{} (in use, or not an address of this host): {}", options_.host, options_.port, e.what());
    return 3;
  }
  return 0;
}

void Server::run() {
  accept();
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts_.size(); ++i) threads.emplace_back([this, i] { contexts_[i]->run(); });
  contexts_[0]->run();
  for (auto& t : threads) t.join();
  pool_.join();
}

void Server::drain() {
  asio::post(*contexts_[0], [this] {
    if (draining_.exchange(true)) return;
    error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
    std::vector<std::shared_ptr<ConnectionBase>> open;
    {
      std::lock_guard lock(registry_mutex_);
      for (auto& [raw, weak] : registry_) {
        if (auto c = weak.lock()) open.push_back(std::move(c));
      }
    }
    for (auto& c : open) {
      const auto executor = c->executor();
      asio::post(executor, [c = std::move(c)] { c->drain(); });
    }
    if (live_.load() == 0) finish();
  });
}

void Server::finish() {
  if (finished_) return;
  finished_ = true;
  for (auto& g : guards_) g.reset();
}

void Server::opened(ConnectionBase* c, std::weak_ptr<ConnectionBase> self) {
  std::lock_guard lock(registry_mutex_);
  registry_.emplace(c, std::move(self));
}

void Server::closed(ConnectionBase* c, bool admitted) {
  {
    std::lock_guard lock(registry_mutex_);
    registry_.erase(c);
  }
  if (admitted) {
    --admitted_;
    --service_.connections_open;
  } else {
    --refusing_;
  }
  if (--live_ == 0 && draining_.load()) asio::post(*contexts_[0], [this] { finish(); });
}

void Server::accept() {
  auto& context = *contexts_[next_context_++ % contexts_.size()];
  acceptor_.async_accept(context, [this](error_code ec, tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void Server::on_accept(error_code ec, tcp::socket socket) {
  if (draining_.load() || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of file descriptors, say: try again shortly rather than spin.
    spdlog::warn("accept failed: {}", ec.message());
    accept_retry_.expires_after(std::chrono::milliseconds(50));
    accept_retry_.async_wait([this](error_code wait) {
      if (!wait && !draining_.load()) accept();
    });
    return;
  }
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const auto remote = socket.remote_endpoint(ignored);
  std::string address = ignored ? "-" : remote.address().to_string();
  bool admitted = true;
  if (admitted_.load() >= options_.max_connections) {
    admitted = false;
    ++service_.connections_refused;
    if (refusing_.load() >= refusing_max) {
      socket.close(ignored);
      return accept();
    }
  }
  if (admitted) {
    ++admitted_;
    ++service_.connections_open;
  } else {
    ++refusing_;
  }
  ++live_;
  if (tls_ != nullptr) {
    start(TlsStream(std::move(socket), *tls_), admitted, std::move(address));
  } else {
    start(std::move(socket), admitted, std::move(address));
  }
  accept();
}

template <class Stream>
void Server::start(Stream stream, bool admitted, std::string remote) {
  auto connection = std::make_shared<Connection<Stream>>(*this, std::move(stream), admitted, std::move(remote));
  const auto executor = connection->executor();
  asio::post(executor, [connection = std::move(connection)] { connection->start(); });
}

}  // namespace

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
  if (options.report_rows_max < 1 || options.report_rows_max > promo::report_rows_max) {
    spdlog::error("cannot start: --report-rows-max {} is outside 1..{}", options.report_rows_max, promo::report_rows_max);
    return 2;
  }
  if (options.io_threads < 1 || options.io_threads > ServiceOptions::io_threads_max) {
    spdlog::error("cannot start: --io-threads {} is outside 1..{}", options.io_threads, ServiceOptions::io_threads_max);
    return 2;
  }
  std::optional<asio::ssl::context> tls;
  if (options.tls_cert_file) {
    try {
      tls.emplace(asio::ssl::context::tls_server);
      tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      tls->use_certificate_chain_file(*options.tls_cert_file);
      tls->use_private_key_file(options.tls_key_file.value_or(""), asio::ssl::context::pem);
    } catch (const std::exception& e) {
      spdlog::error("cannot start: the TLS certificate or key could not be loaded ({})", e.what());
      return 2;
    }
  }
  std::unique_ptr<Service> service;
  try {
    service = std::make_unique<Service>(options);
  } catch (const std::exception& e) {
    spdlog::error("cannot start: {}", e.what());
    return 3;
  }
  AccessLog access_log(options.log_format);
  Server server(*service, options, access_log, tls ? &*tls : nullptr);
  if (const int code = server.listen(); code != 0) return code;
  std::cout << fmt::format("promoledger serve: listening on {}://{}:{}", tls ? "https" : "http", options.host, server.port())
            << std::endl;
  spdlog::info("listening on {}:{} ({} I/O threads, {} writers, {} connections at most, TLS {}, reports read {})",
               options.host, server.port(), options.io_threads, options.writers, options.max_connections,
               tls ? "on" : "off", service->has_read_node() ? "on the read node (--read-db)" : "on the primary");

  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("signal {}: refusing new requests, finishing those in flight", signal);
    server.drain();
  });
  std::mutex token_mutex;
  std::condition_variable token_wake;
  bool stop_tokens = false;
  std::thread token_thread([&] {
    std::unique_lock lock(token_mutex);
    while (!token_wake.wait_for(lock, options.token_refresh, [&] { return stop_tokens; })) {
      lock.unlock();
      service->tokens().reload();
      lock.lock();
    }
  });

  // With --read-db: the read node's state (standby or not, lag) sampled for /metrics, on a thread of
  // its own (a read node that stalls must not stop the tokens from refreshing).
  std::thread watch_thread;
  if (service->has_read_node()) {
    watch_thread = std::thread([&] {
      std::unique_lock lock(token_mutex);
      do {
        lock.unlock();
        service->watch_read_node();
        lock.lock();
      } while (!token_wake.wait_for(lock, options.replica_watch, [&] { return stop_tokens; }));
    });
  }

  server.run();  // returns once drained: every connection closed, every request read answered
  signal_thread.join();
  {
    std::lock_guard lock(token_mutex);
    stop_tokens = true;
  }
  token_wake.notify_all();
  token_thread.join();
  if (watch_thread.joinable()) watch_thread.join();
  // Every payment a connection submitted has been answered; stop the writers.
  service->group().stop();
  access_log.stop();
  const auto stats = service->group().stats();
  spdlog::info("stopped: {} payments in {} batches; exit 0", stats.payments, stats.batches);
  return 0;
}

}  // namespace promoledger::service
