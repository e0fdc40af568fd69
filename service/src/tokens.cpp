#include "promoledger/service/tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <regex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace promoledger::service {
namespace {

constexpr std::size_t token_random_bytes = 32;
constexpr std::size_t tokens_max = 10'000;  // active tokens the service keeps in memory

std::string hex(const unsigned char* data, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0F];
  }
  return out;
}

std::string bytea_literal(const TokenHash& hash) { return "\\x" + hex(hash.data(), hash.size()); }

TokenHash hash_from_hex(const std::string& text) {
  // PostgreSQL's bytea output: "\x" and 64 hex digits.
  TokenHash out{};
  if (text.size() != 2 + 2 * out.size()) throw ledger::DatabaseError("api.token.sha256 is not 32 bytes", "");
  const auto nibble = [](char c) -> unsigned char {
    if (c >= '0' && c <= '9') return static_cast<unsigned char>(c - '0');
    if (c >= 'a' && c <= 'f') return static_cast<unsigned char>(c - 'a' + 10);
    throw ledger::DatabaseError("api.token.sha256 is not hex", "");
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<unsigned char>(nibble(text[2 + 2 * i]) << 4 | nibble(text[3 + 2 * i]));
  }
  return out;
}

}  // namespace

std::string_view to_string(Role role) {
  switch (role) {
    case Role::poster: return "poster";
    case Role::finance: return "finance";
    case Role::auditor: return "auditor";
    case Role::operator_: return "operator";
  }
  return "?";
}

std::optional<Role> role_from_string(std::string_view text) {
  for (Role r : {Role::poster, Role::finance, Role::auditor, Role::operator_}) {
    if (to_string(r) == text) return r;
  }
  return std::nullopt;
}

TokenHash token_hash(std::string_view token) {
  TokenHash out{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out.data());
  return out;
}

Expected<std::string, std::string> create_token(ledger::Database& db, const std::string& name, Role role,
                                                const std::string& created_by) {
  // 60, not the table's 64: the service records "api:<name>" as the actor of campaign steps, and an
  // actor is at most 64 characters, so a longer name could read but never steer.
  static const std::regex name_pattern("[A-Za-z0-9_.-]{1,60}");
  if (!std::regex_match(name, name_pattern)) {
    return unexpected(fmt::format("token name \"{}\" must be 1..60 of A-Z a-z 0-9 _ . -", name.substr(0, 80)));
  }
  std::array<unsigned char, token_random_bytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed: no token was made");
  }
  const std::string token = "plt_" + hex(random.data(), random.size());
  const std::string hash = bytea_literal(token_hash(token));
  const std::string role_text(to_string(role));
  auto lease = db.lease();
  try {
    int inserted = 0;
    *lease << "WITH t AS (INSERT INTO api.token (name, role, sha256, created_by) "
              "VALUES (:name, :role, decode(substr(:hash, 3), 'hex'), :by) ON CONFLICT (name) DO NOTHING RETURNING 1) "
              "SELECT count(*) FROM t",
        soci::use(name), soci::use(role_text), soci::use(hash), soci::use(created_by), soci::into(inserted);
    if (inserted == 0) return unexpected(fmt::format("a token named \"{}\" exists already (names are never reused)", name));
  } catch (...) {
    ledger::rethrow_as_database_error("create_token");
  }
  return token;
}

std::vector<TokenInfo> list_tokens(ledger::Database& db) {
  std::vector<TokenInfo> out;
  auto lease = db.lease();
  try {
    soci::rowset<soci::row> rows = lease->prepare
        << "SELECT name, role, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), created_by, "
           "to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), revoked_by FROM api.token ORDER BY name";
    for (const auto& r : rows) {
      TokenInfo t{r.get<std::string>(0), role_from_string(r.get<std::string>(1)).value_or(Role::poster),
                  r.get<std::string>(2), r.get<std::string>(3), std::nullopt, std::nullopt};
      if (r.get_indicator(4) == soci::i_ok) t.revoked_at_utc = r.get<std::string>(4);
      if (r.get_indicator(5) == soci::i_ok) t.revoked_by = r.get<std::string>(5);
      out.push_back(std::move(t));
    }
  } catch (...) {
    ledger::rethrow_as_database_error("list_tokens");
  }
  return out;
}

Expected<TokenInfo, std::string> revoke_token(ledger::Database& db, const std::string& name, const std::string& by) {
  {
    // Returned before list_tokens leases again: the command's pool has one session, and holding this
    // one while asking for another waited forever.
    auto lease = db.lease();
    try {
      int revoked = 0;
      *lease << "WITH t AS (UPDATE api.token SET revoked_at = now(), revoked_by = :by "
                "WHERE name = :name AND revoked_at IS NULL RETURNING 1) SELECT count(*) FROM t",
          soci::use(by), soci::use(name), soci::into(revoked);
      if (revoked == 0) return unexpected(fmt::format("no active token named \"{}\"", name.substr(0, 80)));
    } catch (...) {
      ledger::rethrow_as_database_error("revoke_token");
    }
  }
  for (auto& t : list_tokens(db)) {
    if (t.name == name) return t;
  }
  return unexpected(fmt::format("token \"{}\" vanished after its revocation", name));
}

TokenCache::TokenCache(ledger::Database& db) : db_(db) {
  std::vector<Entry> loaded;
  auto lease = db_.lease();
  try {
    soci::rowset<soci::row> rows = lease->prepare
        << "SELECT name, role, sha256::text FROM api.token WHERE revoked_at IS NULL ORDER BY name LIMIT "
        << tokens_max;
    for (const auto& r : rows) {
      const auto role = role_from_string(r.get<std::string>(1));
      if (!role) continue;  // the table's CHECK makes this impossible; never grant a role we do not know
      loaded.push_back(Entry{hash_from_hex(r.get<std::string>(2)), Identity{r.get<std::string>(0), *role}});
    }
  } catch (const ledger::DatabaseError&) {
    throw;
  } catch (...) {
    ledger::rethrow_as_database_error("loading the API tokens");
  }
  std::lock_guard lock(mutex_);
  active_ = std::move(loaded);
}

void TokenCache::reload() {
  try {
    TokenCache fresh(db_);
    std::scoped_lock lock(mutex_, fresh.mutex_);
    active_.swap(fresh.active_);
  } catch (const std::exception& e) {
    spdlog::warn("could not reload the API tokens (keeping the {} loaded before): {}", size(), e.what());
  }
}

std::optional<Identity> TokenCache::authenticate(std::string_view token) const {
  return authenticate_hash(token_hash(token));
}

std::optional<Identity> TokenCache::authenticate_hash(const TokenHash& presented) const {
  std::optional<Identity> found;
  std::lock_guard lock(mutex_);
  for (const auto& e : active_) {
    // No early exit: every hash is compared, whatever matches.
    if (CRYPTO_memcmp(e.hash.data(), presented.data(), presented.size()) == 0) found = e.identity;
  }
  return found;
}

std::size_t TokenCache::size() const {
  std::lock_guard lock(mutex_);
  return active_.size();
}

}  // namespace promoledger::service
