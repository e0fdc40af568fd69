#pragma once
// Browser sessions for the console (docs/console.md). Signing in with an API token opens a session;
// the browser then holds only the session's id, in an HttpOnly, SameSite=Strict cookie, and a CSRF
// token that every state-changing request made with the cookie must echo in X-CSRF-Token.
//
// A session remembers the SHA-256 of the token it was opened with, never the token: each request
// re-authenticates that hash against the TokenCache, so a revoked token ends its sessions within the
// cache's refresh interval, and a session is never worth more than its token. Sessions live in memory
// only (a restart signs everyone out), at most sessions_max of them, each ending after the idle limit without
// use or the lifetime limit after sign-in, whichever comes first. Ids and CSRF tokens are 32 bytes from
// OpenSSL's RAND_bytes; the table is keyed by the id's SHA-256, so a lookup's timing says nothing about
// the ids held.
//
// Thread safety: every member may be called from any thread.

#include <cassert>
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "promoledger/service/tokens.hpp"

namespace promoledger::service::detail {

class SessionStore {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t sessions_max = 1'000;
  // The defaults (ServiceOptions: serve --session-idle-seconds, --session-lifetime-seconds).
  static constexpr std::chrono::seconds idle_default{30 * 60};
  static constexpr std::chrono::seconds lifetime_default{12 * 3600};
  static_assert(lifetime_default > idle_default);

  // REQUIRES: 0 < idle <= lifetime.
  SessionStore(std::chrono::seconds idle = idle_default, std::chrono::seconds lifetime = lifetime_default)
      : idle_max_(idle), lifetime_max_(lifetime) {
    assert(idle.count() > 0 && idle <= lifetime);
  }

  struct Opened {
    std::string id;    // for the cookie; shown once
    std::string csrf;  // for the pages
  };
  // Opens a session for the token with this hash. When sessions_max are open, the expired ones are
  // dropped and, if that is not enough, the one unused for longest (its user signs in again).
  Opened open(const TokenHash& token);

  struct Found {
    TokenHash token;
    std::string csrf;
  };
  // The live session of that id (and its use is noted), or nullopt: unknown, idle or too old.
  std::optional<Found> use(std::string_view id);
  void close(std::string_view id);
  std::size_t size() const;

  // "pl_session": the cookie's name.
  static constexpr std::string_view cookie_name = "pl_session";

 private:
  struct Entry {
    TokenHash token;
    std::string csrf;
    Clock::time_point opened, used;
  };
  bool expired(const Entry& e, Clock::time_point now) const {
    return now - e.used > idle_max_ || now - e.opened > lifetime_max_;
  }

  const std::chrono::seconds idle_max_;
  const std::chrono::seconds lifetime_max_;
  mutable std::mutex mutex_;
  std::map<TokenHash, Entry> sessions_;  // by the id's SHA-256
};

// The value of cookie `name` in a Cookie header, or "" (RFC 6265: "a=1; b=2").
std::string cookie_value(std::string_view header, std::string_view name);
// Equal strings, compared in time independent of where they differ.
bool same_secret(std::string_view a, std::string_view b);

}  // namespace promoledger::service::detail
