#pragma once
// splitmix64: a tiny generator whose output is fixed by its definition, so a seed gives the same
// simulated day on every platform and library version (std distributions are implementation-defined).
// For load generation and simulation only; the decks use HMAC-SHA256 (deck.hpp).
//
// Thread safety: a value type; one per thread.

#include <cassert>
#include <cstdint>
#include <limits>

namespace promoledger::promo {

struct SplitMix {
  std::uint64_t state;

  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n) without modulo bias.
  std::uint64_t below(std::uint64_t n) {
    assert(n > 0);
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
    std::uint64_t x = next();
    while (x >= limit) x = next();
    return x % n;
  }
};

}  // namespace promoledger::promo
