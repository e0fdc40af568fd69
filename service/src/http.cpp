#include "http.hpp"

#include <array>
#include <cassert>

#include <fmt/format.h>

namespace promoledger::service::detail {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <class Pairs>
const std::string* first_param(const Pairs& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool Request::has_header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return true;
  }
  return false;
}

std::string Request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return "";
}

bool Request::has_param(std::string_view name) const { return first_param(params, name) != nullptr; }

std::string Request::param(std::string_view name) const {
  const auto* v = first_param(params, name);
  return v != nullptr ? *v : "";
}

std::string Request::param_or(std::string_view name, std::string fallback) const {
  const auto* v = first_param(params, name);
  return v != nullptr ? *v : std::move(fallback);
}

void Response::set_header(std::string name, std::string value) {
  for (auto& h : headers) {
    if (iequals(h.name, name)) {
      h.value = std::move(value);
      return;
    }
  }
  headers.push_back(Header{std::move(name), std::move(value)});
}

std::string Response::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return "";
}

void Response::set_content(std::string content, std::string type) {
  body = std::move(content);
  content_type = std::move(type);
}

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += plus_is_space && c == '+' ? ' ' : c;
  }
  return out;
}

void parse_params(std::string_view text, std::vector<std::pair<std::string, std::string>>& out) {
  while (!text.empty()) {
    const auto amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    const auto eq = pair.find('=');
    std::string name = percent_decode(pair.substr(0, eq), true);
    if (name.empty()) continue;
    out.emplace_back(std::move(name), eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1), true));
  }
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

std::string serialize(const Response& res, bool keep_alive, bool head) {
  assert(res.status >= 100 && res.status <= 999);
  std::string out;
  out.reserve(160 + res.body.size() + 64 * res.headers.size());
  out += fmt::format("HTTP/1.1 {} {}\r\n", res.status, reason_phrase(res.status));
  if (!res.content_type.empty()) out += fmt::format("Content-Type: {}\r\n", res.content_type);
  // 304 carries no body and no length of its own (RFC 9110 §15.4.5).
  if (res.status != 304) out += fmt::format("Content-Length: {}\r\n", res.body.size());
  if (!keep_alive) out += "Connection: close\r\n";
  for (const auto& h : res.headers) {
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
  out += "\r\n";
  if (!head && res.status != 304) out += res.body;
  return out;
}

// ----------------------------------------------------------------------------------------- routing
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (;;) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

PathTemplate::PathTemplate(std::string_view templ) {
  for (const auto segment : split_path(templ)) {
    const bool parameter = segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
    segments_.emplace_back(parameter ? "{}" : std::string(segment));
  }
}

std::optional<std::vector<std::string>> PathTemplate::match(std::string_view path) const {
  const auto segments = split_path(path);
  if (segments.size() != segments_.size()) return std::nullopt;
  std::vector<std::string> parameters;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (segments_[i] == "{}") {
      if (segments[i].empty()) return std::nullopt;
      parameters.push_back(percent_decode(segments[i], false));
    } else if (segments_[i] != segments[i]) {
      return std::nullopt;
    }
  }
  return parameters;
}

}  // namespace promoledger::service::detail
