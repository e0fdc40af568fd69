#include "http_client.hpp"

#include <utility>  // before Asio (Boost 1.74 under -std=c++20)

#include <poll.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fmt/format.h>

namespace promoledger::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

bool CaseLess::operator()(const std::string& a, const std::string& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
  });
}

std::string Answer::describe() const { return fmt::format("status {} body {} {}", status, body, error_text); }

std::string percent_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned>(c));
    }
  }
  return out;
}

namespace {

// One JSON line per answer, for scripts/openapi_check.py (PROMOLEDGER_TEST_BODIES).
void record(const std::string& method, const std::string& path, const Answer& a) {
  static const char* dir = std::getenv("PROMOLEDGER_TEST_BODIES");
  if (dir == nullptr || *dir == '\0' || a.status < 0) return;
  static std::mutex mutex;
  static const std::filesystem::path file =
      std::filesystem::path(dir) / fmt::format("bodies-{}.jsonl", static_cast<long>(::getpid()));
  const nlohmann::json line{{"method", method}, {"path", path}, {"status", a.status},
                            {"content_type", a.header("Content-Type")}, {"body", a.body}};
  std::lock_guard lock(mutex);
  std::ofstream out(file, std::ios::app);
  out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace

struct HttpClient::Impl {
  asio::io_context io;
  asio::ssl::context ssl{asio::ssl::context::tls_client};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  bool open() { return plain.has_value() || secure.has_value(); }

  // Runs one asynchronous operation to its end (the stream's expiry bounds it).
  template <class Start>
  error_code run(Start start) {
    error_code result = asio::error::would_block;
    start([&result](error_code ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  }

  // A kept connection the server has closed (or sent something unasked on) is readable: not reusable.
  bool still_usable() {
    pollfd p{lowest().socket().native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
  }

  void shut() {
    if (!open()) return;
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().socket().close(ignored);
    plain.reset();
    secure.reset();
    buffer.clear();
  }
};

HttpClient::HttpClient(std::string host, int port, bool tls)
    : host_(std::move(host)), port_(port), tls_(tls), impl_(std::make_unique<Impl>()) {
  impl_->ssl.set_verify_mode(asio::ssl::verify_none);
}

HttpClient::~HttpClient() { close(); }

void HttpClient::close() { impl_->shut(); }

Answer HttpClient::request(const std::string& method, const std::string& path, const Headers& headers,
                           const std::optional<std::string>& body, const std::string& content_type) {
  Impl& i = *impl_;
  Answer answer;
  const auto fail = [&](const std::string& what, error_code ec) {
    answer.status = -1;
    answer.error_text = fmt::format("{}: {}", what, ec.message());
    i.shut();
    return answer;
  };
  if (i.open() && !i.still_usable()) i.shut();
  if (!i.open()) {
    error_code ec;
    const auto address = asio::ip::make_address(host_, ec);
    if (ec) return fail("address " + host_, ec);
    const tcp::endpoint endpoint(address, static_cast<unsigned short>(port_));
    if (tls_) {
      i.secure.emplace(i.io, i.ssl);
    } else {
      i.plain.emplace(i.io);
    }
    i.lowest().expires_after(connect_timeout_);
    ec = i.run([&](auto done) { i.lowest().async_connect(endpoint, done); });
    if (ec) return fail("connect", ec);
    i.lowest().socket().set_option(tcp::no_delay(true), ec);
    if (tls_) {
      i.lowest().expires_after(connect_timeout_);
      ec = i.run([&](auto done) { i.secure->async_handshake(asio::ssl::stream_base::client, done); });
      if (ec) return fail("TLS handshake", ec);
    }
  }
  http::request<http::string_body> req;
  req.version(11);
  req.method_string(method);
  req.target(path);
  req.set(http::field::host, fmt::format("{}:{}", host_, port_));
  for (const auto& [name, value] : headers) req.insert(name, value);
  if (body) {
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = *body;
    req.content_length(body->size());
  }
  i.lowest().expires_after(read_timeout_);
  error_code ec = i.run([&](auto done) {
    if (i.secure) {
      http::async_write(*i.secure, req, done);
    } else {
      http::async_write(*i.plain, req, done);
    }
  });
  if (ec) return fail("write", ec);
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  parser.skip(method == "HEAD");
  i.lowest().expires_after(read_timeout_);
  ec = i.run([&](auto done) {
    if (i.secure) {
      http::async_read(*i.secure, i.buffer, parser, done);
    } else {
      http::async_read(*i.plain, i.buffer, parser, done);
    }
  });
  if (ec) return fail("read", ec);
  const auto& res = parser.get();
  answer.status = static_cast<int>(res.result_int());
  answer.body = res.body();
  for (const auto& field : res) {
    answer.headers.emplace(std::string(field.name_string().data(), field.name_string().size()),
                           std::string(field.value().data(), field.value().size()));
  }
  if (!res.keep_alive()) i.shut();
  record(method, path, answer);
  return answer;
}

}  // namespace promoledger::testing
