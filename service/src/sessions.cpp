#include "sessions.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace promoledger::service::detail {
namespace {

constexpr std::size_t secret_bytes = 32;

std::string random_hex() {
  std::array<unsigned char, secret_bytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed: no session was opened");
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * random.size());
  for (unsigned char b : random) {
    out += digits[b >> 4];
    out += digits[b & 0x0F];
  }
  return out;
}

}  // namespace

SessionStore::Opened SessionStore::open(const TokenHash& token) {
  Opened opened{random_hex(), random_hex()};
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  if (sessions_.size() >= sessions_max) {
    std::erase_if(sessions_, [&](const auto& kv) { return expired(kv.second, now); });
  }
  if (sessions_.size() >= sessions_max) {
    const auto oldest = std::min_element(sessions_.begin(), sessions_.end(),
                                         [](const auto& a, const auto& b) { return a.second.used < b.second.used; });
    sessions_.erase(oldest);
  }
  sessions_[token_hash(opened.id)] = Entry{token, opened.csrf, now, now};
  return opened;
}

std::optional<SessionStore::Found> SessionStore::use(std::string_view id) {
  if (id.size() != 2 * secret_bytes) return std::nullopt;
  const TokenHash key = token_hash(id);
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  if (expired(it->second, now)) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.used = now;
  return Found{it->second.token, it->second.csrf};
}

void SessionStore::close(std::string_view id) {
  const TokenHash key = token_hash(id);
  std::lock_guard lock(mutex_);
  sessions_.erase(key);
}

std::size_t SessionStore::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
  }
  return "";
}

bool same_secret(std::string_view a, std::string_view b) {
  // The length of a CSRF token is public (64); only its content must not leak through timing.
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace promoledger::service::detail
