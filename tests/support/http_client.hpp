#pragma once
// A small blocking HTTP/1.1 client for the service tests (Boost.Beast's parser and streams, plain or
// TLS): it speaks to the real process as core banking's client would. One keep-alive connection,
// opened on first use and opened again when the server has closed it; a request is never sent twice
// (a failed one answers status -1 with the reason).
//
// With $PROMOLEDGER_TEST_BODIES set to a directory, every answer is also recorded there (one JSON
// line per answer: method, path, status, content type, body), for scripts/openapi_check.py, which
// validates each body against its schema in service/openapi.json.
//
// Thread safety: one client per thread.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace promoledger::testing {

struct CaseLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using Headers = std::multimap<std::string, std::string, CaseLess>;

struct Answer {
  int status = -1;  // -1: no answer (the connection failed; error_text says how)
  std::string body;
  Headers headers;
  std::string error_text;

  nlohmann::json js() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
  std::string describe() const;
};

class HttpClient {
 public:
  // tls: HTTPS without checking the certificate (the tests make their own).
  HttpClient(std::string host, int port, bool tls = false);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  void set_connect_timeout(std::chrono::milliseconds t) { connect_timeout_ = t; }
  void set_read_timeout(std::chrono::milliseconds t) { read_timeout_ = t; }

  // `path` is sent exactly as given (no encoding). A body (even empty) goes with Content-Length and
  // `content_type`; nullopt sends none.
  Answer request(const std::string& method, const std::string& path, const Headers& headers = {},
                 const std::optional<std::string>& body = std::nullopt,
                 const std::string& content_type = "application/json");
  Answer get(const std::string& path, const Headers& headers = {}) { return request("GET", path, headers); }
  Answer post(const std::string& path, const Headers& headers, const std::string& body,
              const std::string& content_type = "application/json") {
    return request("POST", path, headers, body, content_type);
  }
  // Closes the connection (the next request opens a new one).
  void close();

 private:
  struct Impl;
  std::string host_;
  int port_;
  bool tls_;
  std::chrono::milliseconds connect_timeout_{10'000};
  std::chrono::milliseconds read_timeout_{30'000};
  std::unique_ptr<Impl> impl_;
};

// Every byte not unreserved in a URL, percent-encoded.
std::string percent_encode(const std::string& s);

}  // namespace promoledger::testing
