#pragma once
// Dealing a merchant's deck of discount cards for one business day (发牌).
//
// A deck is `cards_per_day` discount amounts in fen, taken by qualifying payments in position order.
// Exactly band_cards() of them lie in [band_low, band_high]; the others are drawn from
// [min_discount, band_low) ∪ (band_high, max_discount]. Everything is integer fen (the 0.01 grid).
//
// Deterministic and auditable: the randomness is an HMAC-SHA256 stream keyed by a seed, and the seed
// is HMAC-SHA256(campaign secret, encoding of (campaign, merchant, day, algorithm version)). Given the
// secret, an auditor re-derives the seed, checks it against the stored commitment (SHA-256 of the
// seed) and re-deals the same cards. Uniform draws use rejection sampling: no modulo bias.
//
// Values here are stored on disk with the deck (algorithm version, order names): never change what a
// version deals; add a new version instead.
//
// Thread safety: pure functions, no shared state.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "promoledger/ledger/refusal.hpp"

namespace promoledger::promo {

inline constexpr std::int32_t deck_algorithm_version = 1;
inline constexpr std::int32_t cards_per_day_max = 10'000;
// 100 % in basis points: band shares, payer shares (one constant for every share).
inline constexpr std::int32_t basis_points_total = 10'000;

enum class DeckOrder { stratified, shuffled };
std::string_view to_string(DeckOrder);
std::optional<DeckOrder> deck_order_from_string(std::string_view);

struct DeckParams {
  std::int64_t min_discount_fen;  // >= 1
  std::int64_t max_discount_fen;  // >= min
  std::int64_t band_low_fen;      // inclusive; min <= low <= high <= max
  std::int64_t band_high_fen;     // inclusive
  std::int32_t band_share_bp;     // 0..10000 (8000 = 80 %)
  std::int32_t cards_per_day;     // 1..cards_per_day_max
  DeckOrder order = DeckOrder::stratified;
};

// Every problem (out_of_range), each with the campaign document's name of its parameter as the field
// (min_discount, max_discount, band_low, band_high, band_share_bp, daily_cap). Empty = the deck can be dealt.
std::vector<ledger::ValueRefusal> validate(const DeckParams& params);
// ceil(band_share_bp * cards_per_day / 10000), in integer arithmetic.
std::int32_t band_cards(const DeckParams& params);
// Stratified group size g = 10000 / gcd(share, 10000) and out-of-band cards per complete group.
std::int32_t group_size(const DeckParams& params);
std::int32_t out_cards_per_group(const DeckParams& params);

struct DeckSeed {
  std::array<std::uint8_t, 32> bytes;
};

// HMAC-SHA256 keyed with the campaign secret over
//   "promoledger/deck-seed" 0x00 | campaign_id (8 bytes, big-endian)
//   | merchant length (4 bytes BE) | merchant code | day length (4 bytes BE) | "YYYY-MM-DD"
//   | algorithm version (4 bytes BE)
// Length prefixes make the encoding unambiguous (no two inputs share bytes).
DeckSeed derive_seed(std::string_view campaign_secret, std::int64_t campaign_id, std::string_view merchant_code,
                     std::string_view business_day_iso, std::int32_t algorithm_version = deck_algorithm_version);
std::string to_hex(const DeckSeed& seed);
// Bytes from lowercase or uppercase hex (the campaign secret as PostgreSQL's encode(…, 'hex') gives it).
// REQUIRES: an even number of hex digits.
std::string bytes_from_hex(std::string_view hex);
// Lowercase hex SHA-256 of the 32 seed bytes: stored with the deck from the start.
std::string seed_commitment_hex(const DeckSeed& seed);

// REQUIRES: validate(params).empty(). The cards in position order (position 1 first).
std::vector<std::int64_t> deal(const DeckParams& params, const DeckSeed& seed);

// The rules a dealt deck must meet (used by tests and by `audit verify`): size, range, exact band
// count, and for stratified decks the out-of-band count of every group. Empty = the deck is valid.
std::vector<std::string> check_deck(const DeckParams& params, std::span<const std::int64_t> cards);

}  // namespace promoledger::promo
