#pragma once
// A browser's side of a console session, for the service tests: the cookie it holds and the CSRF token
// its page carries, and sign-in as the console's form does it.
#include <optional>
#include <string>

#include "http_client.hpp"

namespace promoledger::testing {

struct Browser {
  int port;
  std::string cookie;  // "pl_session=..."
  std::string csrf;

  Answer get(const std::string& path) const;
  Answer post(const std::string& path, const std::string& body, const std::optional<std::string>& csrf_header,
              const std::string& content_type = "application/json") const;
};

// The value of <meta name="csrf-token" content="..."> in a page ("" when there is none).
std::string csrf_of(const std::string& page);

// Signs in with `token` as a browser's form would; the browser keeps the cookie and the CSRF token of
// the first page. On failure, the answer is in `refused`.
std::optional<Browser> sign_in(int port, const std::string& token, Answer* refused = nullptr);

}  // namespace promoledger::testing
