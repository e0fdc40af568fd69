#pragma once
// The service's view of HTTP, free of the HTTP library: a request as the routes read it, an answer as
// they fill it in, its bytes on the wire, and routing by path segments. The listener (server.cpp, the
// only file that includes Boost.Beast) reads each request into a Request and writes each Response out,
// so the routes compile without Beast and can be read without knowing it. Internal to service/.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promoledger::service::detail {

struct Header {
  std::string name;
  std::string value;
};

// One request, read whole (the body too) before a route sees it.
struct Request {
  std::string method;  // as sent ("GET", "POST", ...)
  std::string path;    // the target up to '?', as sent (not decoded)
  std::vector<Header> headers;
  std::string body;
  std::string remote_addr;
  // The route's {parameter} segments, percent-decoded, in the template's order.
  std::vector<std::string> path_params;
  // The query's parameters, then an application/x-www-form-urlencoded body's, percent-decoded.
  std::vector<std::pair<std::string, std::string>> params;
  // Who called: the token's name, once the route's guard has authenticated the caller.
  std::string token_name;

  bool has_header(std::string_view name) const;        // names compare case-insensitively
  std::string header(std::string_view name) const;     // the first value, "" when absent
  bool has_param(std::string_view name) const;
  std::string param(std::string_view name) const;      // the first value, "" when absent
  std::string param_or(std::string_view name, std::string fallback) const;
};

// One answer. The status, headers and body are what the client gets; route and error are notes for
// the log line and the metrics.
struct Response {
  int status = 500;
  std::vector<Header> headers;  // besides Content-Type, Content-Length and Connection
  std::string content_type;
  std::string body;
  const char* route = nullptr;  // the route's template, or null when no route matched
  std::string error;            // the error code answered, if any
  std::string token_name;       // who called, if known

  void set_header(std::string name, std::string value);
  std::string header(std::string_view name) const;  // "" when absent
  void set_content(std::string content, std::string type);
};

// %XX decoded; '+' becomes a space when plus_is_space (query strings and form bodies). A malformed
// escape is kept as it is.
std::string percent_decode(std::string_view text, bool plus_is_space);
// "a=1&b=x%20y" appended to `out` as decoded pairs; an empty name is skipped.
void parse_params(std::string_view text, std::vector<std::pair<std::string, std::string>>& out);

// The bytes of an answer: status line, headers, body, ready for one write. `keep_alive` false adds
// "Connection: close"; `head` leaves the body out (a HEAD request) but keeps its Content-Length.
std::string serialize(const Response& res, bool keep_alive, bool head);
// "OK", "Not Found", ...: the reason phrase of a status this service answers ("" for others).
std::string_view reason_phrase(int status);

bool iequals(std::string_view a, std::string_view b);

// ----------------------------------------------------------------------------------------- routing
// A path template ("/v1/payments/{payment_id}/reversal") split at '/': literal segments compare
// exactly, a {parameter} segment takes any one non-empty segment, percent-decoded. No regular
// expressions: a path is matched by walking its segments once against each template.
class PathTemplate {
 public:
  explicit PathTemplate(std::string_view templ);
  // The decoded parameters when `path` matches, else nullopt.
  std::optional<std::vector<std::string>> match(std::string_view path) const;

 private:
  std::vector<std::string> segments_;  // "{}" marks a parameter
};

// The segments of a path: "/a/b" -> {"a", "b"}; "/" -> {""}; "/a/" -> {"a", ""}.
std::vector<std::string_view> split_path(std::string_view path);

}  // namespace promoledger::service::detail
