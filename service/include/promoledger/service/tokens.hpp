#pragma once
// API tokens: who may call the service, and as what. `promoledger token create` makes a token and
// shows it once; only its SHA-256 is stored (api.token, sql/migrations/0006_api_tokens.sql). The
// service keeps the active tokens' hashes in memory (TokenCache), reloaded every refresh interval, so
// a request costs no database round trip for its authentication and a revocation takes effect within
// one interval.
//
// Thread safety: the free functions lease their own sessions; TokenCache is safe to share.

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"

namespace promoledger::service {

// poster: posts, reverses and reads payments; finance: reads reports and campaigns; auditor: reads
// everything and runs verify; operator: steers campaigns and reads metrics.
enum class Role : std::uint8_t { poster, finance, auditor, operator_ };
std::string_view to_string(Role role);
std::optional<Role> role_from_string(std::string_view text);

using TokenHash = std::array<unsigned char, 32>;
TokenHash token_hash(std::string_view token);

struct TokenInfo {
  std::string name;
  Role role;
  std::string created_at_utc;
  std::string created_by;
  std::optional<std::string> revoked_at_utc;
  std::optional<std::string> revoked_by;
};

// Makes a token (plt_ and 64 hex digits from OpenSSL's RAND_bytes) and stores its hash. Returns the
// token, or why not (a bad or taken name).
Expected<std::string, std::string> create_token(ledger::Database& db, const std::string& name, Role role,
                                                const std::string& created_by);
std::vector<TokenInfo> list_tokens(ledger::Database& db);
// Revokes the active token of that name; an error when there is none.
Expected<TokenInfo, std::string> revoke_token(ledger::Database& db, const std::string& name, const std::string& by);

struct Identity {
  std::string name;
  Role role;
};

class TokenCache {
 public:
  // Loads the active tokens at once (throws DatabaseError when it cannot).
  explicit TokenCache(ledger::Database& db);
  // Reloads the active tokens; on failure keeps the last good set (and says so in the log).
  void reload();
  // The identity a bearer token belongs to. Every stored hash is compared, each in constant time
  // (CRYPTO_memcmp), so the answer's timing says nothing about how close a guess was.
  std::optional<Identity> authenticate(std::string_view token) const;
  // The same, for a token known by its hash (a console session keeps the hash, never the token).
  std::optional<Identity> authenticate_hash(const TokenHash& presented) const;
  std::size_t size() const;

 private:
  struct Entry {
    TokenHash hash;
    Identity identity;
  };
  ledger::Database& db_;
  mutable std::mutex mutex_;
  std::vector<Entry> active_;
};

}  // namespace promoledger::service
