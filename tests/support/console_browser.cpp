#include "console_browser.hpp"

namespace promoledger::testing {

Answer Browser::get(const std::string& path) const {
  HttpClient client("127.0.0.1", port);
  Headers h;
  if (!cookie.empty()) h.emplace("Cookie", cookie);
  return client.get(path, h);
}

Answer Browser::post(const std::string& path, const std::string& body, const std::optional<std::string>& csrf_header,
                     const std::string& content_type) const {
  HttpClient client("127.0.0.1", port);
  Headers h;
  if (!cookie.empty()) h.emplace("Cookie", cookie);
  if (csrf_header) h.emplace("X-CSRF-Token", *csrf_header);
  return client.post(path, h, body, content_type);
}

std::string csrf_of(const std::string& page) {
  const std::string marker = R"(<meta name="csrf-token" content=")";
  const auto at = page.find(marker);
  if (at == std::string::npos) return "";
  const auto end = page.find('"', at + marker.size());
  return page.substr(at + marker.size(), end - at - marker.size());
}

std::optional<Browser> sign_in(int port, const std::string& token, Answer* refused) {
  HttpClient client("127.0.0.1", port);
  const auto a = client.post("/console/sign-in", {}, "token=" + percent_encode(token), "application/x-www-form-urlencoded");
  if (a.status != 303) {
    if (refused != nullptr) *refused = a;
    return std::nullopt;
  }
  const std::string set_cookie = a.header("Set-Cookie");
  Browser b{port, set_cookie.substr(0, set_cookie.find(';')), ""};
  const auto page = b.get("/console/campaigns");
  b.csrf = csrf_of(page.body);
  return b;
}

}  // namespace promoledger::testing
