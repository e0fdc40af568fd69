#include "promoledger/promo/deck.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cassert>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "promoledger/ledger/assert.hpp"
#include "promoledger/ledger/names.hpp"

namespace promoledger::promo {
namespace {

static_assert(cards_per_day_max <= std::numeric_limits<std::int32_t>::max() / basis_points_total,
              "band_share_bp * cards_per_day must fit in 32 bits");

void append_be(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

std::array<std::uint8_t, 32> hmac_sha256(const void* key, std::size_t key_length, std::string_view message) {
  std::array<std::uint8_t, 32> out{};
  unsigned int length = 0;
  const unsigned char* result =
      HMAC(EVP_sha256(), key, static_cast<int>(key_length), reinterpret_cast<const unsigned char*>(message.data()),
           message.size(), out.data(), &length);
  if (result == nullptr || length != out.size()) throw std::runtime_error("HMAC-SHA256 failed");
  return out;
}

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0F];
  }
  return out;
}

// A deterministic stream of 64-bit words: HMAC-SHA256(seed, counter as 8 bytes BE), 4 words per block.
class Stream {
 public:
  explicit Stream(const DeckSeed& seed) : seed_(seed) {}

  std::uint64_t next() {
    if (word_ == 4) refill();
    std::uint64_t value = 0;
    for (int i = 0; i < 8; ++i) value = (value << 8) | block_[static_cast<std::size_t>(word_ * 8 + i)];
    ++word_;
    return value;
  }

  // Uniform in [0, n): values at or above the largest multiple of n are drawn again (no modulo bias).
  std::uint64_t below(std::uint64_t n) {
    assert(n > 0);
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
    std::uint64_t x = next();
    while (x >= limit) x = next();
    return x % n;
  }

 private:
  void refill() {
    std::string counter;
    append_be(counter, counter_++, 8);
    block_ = hmac_sha256(seed_.bytes.data(), seed_.bytes.size(), counter);
    word_ = 0;
  }

  DeckSeed seed_;
  std::array<std::uint8_t, 32> block_{};
  int word_ = 4;
  std::uint64_t counter_ = 0;
};

// Stored with each campaign (promo.campaign.deck_order): never change a name.
constexpr ledger::NameTable<DeckOrder, 2> deck_order_names{{
    {DeckOrder::stratified, "stratified"},
    {DeckOrder::shuffled, "shuffled"},
}};
static_assert(ledger::names_every_value(deck_order_names));

bool in_band(const DeckParams& p, std::int64_t card) { return card >= p.band_low_fen && card <= p.band_high_fen; }

std::int64_t out_range_size(const DeckParams& p) {
  return (p.band_low_fen - p.min_discount_fen) + (p.max_discount_fen - p.band_high_fen);
}

std::int64_t draw_band(const DeckParams& p, Stream& s) {
  const auto width = static_cast<std::uint64_t>(p.band_high_fen - p.band_low_fen + 1);
  return p.band_low_fen + static_cast<std::int64_t>(s.below(width));
}

// One index range over both sides of the band, so neither side is favoured.
std::int64_t draw_out(const DeckParams& p, Stream& s) {
  const std::int64_t below_band = p.band_low_fen - p.min_discount_fen;
  const auto u = static_cast<std::int64_t>(s.below(static_cast<std::uint64_t>(out_range_size(p))));
  return u < below_band ? p.min_discount_fen + u : p.band_high_fen + 1 + (u - below_band);
}

}  // namespace

std::string_view to_string(DeckOrder order) { return ledger::name_of(deck_order_names, order); }
std::optional<DeckOrder> deck_order_from_string(std::string_view text) {
  return ledger::value_named(deck_order_names, text);
}

std::vector<ledger::ValueRefusal> validate(const DeckParams& p) {
  std::vector<ledger::ValueRefusal> e;
  // Each problem names the campaign document's parameter (daily_cap is the deck's cards_per_day).
  const auto bad = [&e](const char* field, std::string message) {
    e.emplace_back(ledger::InvalidValue::out_of_range, field, std::move(message));
  };
  if (p.min_discount_fen < 1) bad("min_discount", fmt::format("min_discount ({} fen) must be at least 1 fen", p.min_discount_fen));
  if (p.max_discount_fen < p.min_discount_fen) {
    bad("max_discount",
        fmt::format("max_discount ({} fen) must be >= min_discount ({} fen)", p.max_discount_fen, p.min_discount_fen));
  }
  if (p.band_low_fen < p.min_discount_fen) {
    bad("band_low", fmt::format("band_low ({} fen) must be >= min_discount ({} fen)", p.band_low_fen, p.min_discount_fen));
  }
  if (p.band_high_fen > p.max_discount_fen) {
    bad("band_high", fmt::format("band_high ({} fen) must be <= max_discount ({} fen)", p.band_high_fen, p.max_discount_fen));
  }
  if (p.band_low_fen > p.band_high_fen) {
    bad("band_low", fmt::format("band_low ({} fen) must be <= band_high ({} fen)", p.band_low_fen, p.band_high_fen));
  }
  if (p.band_share_bp < 0 || p.band_share_bp > basis_points_total) {
    bad("band_share_bp", fmt::format("band_share_bp ({}) must be within 0..{}", p.band_share_bp, basis_points_total));
  }
  if (p.cards_per_day < 1 || p.cards_per_day > cards_per_day_max) {
    bad("daily_cap", fmt::format("daily_cap ({}) must be within 1..{}", p.cards_per_day, cards_per_day_max));
  }
  if (!e.empty()) return e;
  if (band_cards(p) < p.cards_per_day && out_range_size(p) == 0) {
    bad("band_share_bp",
        fmt::format("band_share_bp ({}) leaves {} card(s) a day outside the band, but [min_discount, max_discount] "
                    "has no amount outside [band_low, band_high]",
                    p.band_share_bp, p.cards_per_day - band_cards(p)));
  }
  return e;
}

std::int32_t band_cards(const DeckParams& p) {
  return (p.band_share_bp * p.cards_per_day + basis_points_total - 1) / basis_points_total;
}

std::int32_t group_size(const DeckParams& p) {
  return basis_points_total / std::gcd(p.band_share_bp, basis_points_total);
}

std::int32_t out_cards_per_group(const DeckParams& p) {
  const std::int32_t g = group_size(p);
  return g - p.band_share_bp * g / basis_points_total;
}

DeckSeed derive_seed(std::string_view campaign_secret, std::int64_t campaign_id, std::string_view merchant_code,
                     std::string_view business_day_iso, std::int32_t algorithm_version) {
  std::string message = "promoledger/deck-seed";
  message += '\0';
  append_be(message, static_cast<std::uint64_t>(campaign_id), 8);
  append_be(message, merchant_code.size(), 4);
  message += merchant_code;
  append_be(message, business_day_iso.size(), 4);
  message += business_day_iso;
  append_be(message, static_cast<std::uint32_t>(algorithm_version), 4);
  return DeckSeed{hmac_sha256(campaign_secret.data(), campaign_secret.size(), message)};
}

std::string to_hex(const DeckSeed& seed) { return hex(seed.bytes); }

std::string bytes_from_hex(std::string_view text) {
  assert(text.size() % 2 == 0);
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("not a hex digit");
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) {
    out += static_cast<char>(nibble(text[i]) * 16 + nibble(text[i + 1]));
  }
  return out;
}

std::string seed_commitment_hex(const DeckSeed& seed) {
  std::array<std::uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(seed.bytes.data(), seed.bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return hex(std::span<const std::uint8_t>(digest.data(), length));
}

std::vector<std::int64_t> deal(const DeckParams& p, const DeckSeed& seed) {
  PROMOLEDGER_ASSERT(validate(p).empty());
  Stream stream(seed);
  const std::int32_t cap = p.cards_per_day;
  const std::int32_t band_total = band_cards(p);
  const std::int32_t out_total = cap - band_total;
  // Which positions hold out-of-band cards.
  std::vector<bool> out_position(static_cast<std::size_t>(cap), false);
  if (p.order == DeckOrder::shuffled) {
    for (std::int32_t i = 0; i < out_total; ++i) out_position[static_cast<std::size_t>(band_total + i)] = true;
    for (std::int32_t i = cap - 1; i > 0; --i) {  // Fisher-Yates
      const auto j = static_cast<std::size_t>(stream.below(static_cast<std::uint64_t>(i) + 1));
      const bool tmp = out_position[static_cast<std::size_t>(i)];
      out_position[static_cast<std::size_t>(i)] = out_position[j];
      out_position[j] = tmp;
    }
  } else {
    const std::int32_t g = group_size(p);
    const std::int32_t per_group = out_cards_per_group(p);
    std::int32_t placed = 0;
    for (std::int32_t start = 0; start < cap; start += g) {
      const std::int32_t size = std::min(g, cap - start);
      // A complete group holds exactly per_group; the last partial one holds what remains.
      const std::int32_t want = size == g ? per_group : out_total - placed;
      PROMOLEDGER_ASSERT(want >= 0);
      PROMOLEDGER_ASSERT(want <= size);
      std::vector<std::int32_t> slots(static_cast<std::size_t>(size));
      std::iota(slots.begin(), slots.end(), 0);
      for (std::int32_t k = 0; k < want; ++k) {  // partial Fisher-Yates: `want` distinct random slots
        const auto j = static_cast<std::size_t>(k) + static_cast<std::size_t>(stream.below(static_cast<std::uint64_t>(size - k)));
        std::swap(slots[static_cast<std::size_t>(k)], slots[j]);
        out_position[static_cast<std::size_t>(start + slots[static_cast<std::size_t>(k)])] = true;
      }
      placed += want;
    }
    PROMOLEDGER_ASSERT(placed == out_total);
  }
  std::vector<std::int64_t> cards(static_cast<std::size_t>(cap));
  for (std::size_t i = 0; i < cards.size(); ++i) cards[i] = out_position[i] ? draw_out(p, stream) : draw_band(p, stream);
  // The deck meets the band rule before anyone can take a card from it, in every build.
  PROMOLEDGER_ASSERT(check_deck(p, cards).empty());
  return cards;
}

std::vector<std::string> check_deck(const DeckParams& p, std::span<const std::int64_t> cards) {
  std::vector<std::string> v;
  if (cards.size() != static_cast<std::size_t>(p.cards_per_day)) {
    v.push_back(fmt::format("deck has {} cards, not {}", cards.size(), p.cards_per_day));
    return v;
  }
  std::int32_t band = 0;
  for (std::size_t i = 0; i < cards.size(); ++i) {
    if (cards[i] < p.min_discount_fen || cards[i] > p.max_discount_fen) {
      v.push_back(fmt::format("card {} ({} fen) is outside [{}, {}]", i + 1, cards[i], p.min_discount_fen, p.max_discount_fen));
    }
    band += in_band(p, cards[i]) ? 1 : 0;
  }
  if (band != band_cards(p)) {
    v.push_back(fmt::format("{} cards in the band [{}, {}], not {}", band, p.band_low_fen, p.band_high_fen, band_cards(p)));
  }
  if (p.order == DeckOrder::stratified) {
    const std::int32_t g = group_size(p);
    const std::int32_t per_group = out_cards_per_group(p);
    for (std::size_t start = 0; start + static_cast<std::size_t>(g) <= cards.size(); start += static_cast<std::size_t>(g)) {
      std::int32_t out = 0;
      for (std::size_t i = start; i < start + static_cast<std::size_t>(g); ++i) out += in_band(p, cards[i]) ? 0 : 1;
      if (out != per_group) {
        v.push_back(fmt::format("cards {}..{}: {} outside the band, not {}", start + 1, start + static_cast<std::size_t>(g),
                                out, per_group));
      }
    }
  }
  return v;
}

}  // namespace promoledger::promo
