// The deck dealing algorithm, without a database: the band rule, the range and grid, the stratified
// group property, reproducibility, the seed encoding, and the absence of obvious bias.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "promoledger/promo/deck.hpp"

namespace promoledger::promo {
namespace {

DeckParams pilot(DeckOrder order = DeckOrder::stratified) { return DeckParams{100, 1000, 700, 900, 8000, 20, order}; }

std::string secret() {
  std::string s;
  for (int i = 0; i < 32; ++i) s += static_cast<char>(i);
  return s;
}

DeckSeed seed_n(int n) { return derive_seed(secret(), 1, "M" + std::to_string(n), "2026-11-24"); }

// Whether a problem is about `field` (the campaign document's name of the parameter).
bool has(const std::vector<promoledger::ledger::ValueRefusal>& errors, const std::string& field) {
  for (const auto& e : errors) {
    if (e.field == field) return true;
  }
  return false;
}

// Whether a finding of check_deck (an audit's words, not a refusal) mentions `words`.
bool has(const std::vector<std::string>& findings, const std::string& words) {
  for (const auto& f : findings) {
    if (f.find(words) != std::string::npos) return true;
  }
  return false;
}

bool says(const std::vector<promoledger::ledger::ValueRefusal>& errors, const std::string& words) {
  for (const auto& e : errors) {
    if (e.message.find(words) != std::string::npos) return true;
  }
  return false;
}

TEST(Deck, PilotParametersAreFeasibleAndInfeasibleOnesNameTheirParameter) {
  EXPECT_TRUE(validate(pilot()).empty());
  EXPECT_EQ(band_cards(pilot()), 16);
  EXPECT_EQ(group_size(pilot()), 5);
  EXPECT_EQ(out_cards_per_group(pilot()), 1);
  auto p = pilot();
  p.min_discount_fen = 0;
  EXPECT_TRUE(has(validate(p), "min_discount"));
  p = pilot();
  p.band_low_fen = 50;
  EXPECT_TRUE(has(validate(p), "band_low"));
  p = pilot();
  p.band_high_fen = 1001;
  EXPECT_TRUE(has(validate(p), "band_high"));
  p = pilot();
  p.band_low_fen = 950;
  EXPECT_TRUE(has(validate(p), "band_low"));
  p = pilot();
  p.band_share_bp = 10001;
  EXPECT_TRUE(has(validate(p), "band_share_bp"));
  p = pilot();
  p.cards_per_day = 0;
  EXPECT_TRUE(has(validate(p), "daily_cap"));
  p = pilot();
  p.max_discount_fen = 90;
  EXPECT_TRUE(has(validate(p), "max_discount"));
  // The band covers the whole range, yet 4 cards must lie outside it.
  p = DeckParams{700, 900, 700, 900, 8000, 20, DeckOrder::stratified};
  EXPECT_TRUE(says(validate(p), "outside the band"));
  EXPECT_TRUE(has(validate(p), "band_share_bp"));
  p.band_share_bp = 10000;  // all cards in the band: feasible
  EXPECT_TRUE(validate(p).empty());
}

TEST(Deck, ThousandsOfDecksMeetBandRangeGridAndGroupRules) {
  for (DeckOrder order : {DeckOrder::stratified, DeckOrder::shuffled}) {
    const DeckParams p = pilot(order);
    for (int n = 0; n < 5000; ++n) {
      const auto cards = deal(p, seed_n(n));
      ASSERT_EQ(cards.size(), 20u);
      int band = 0;
      for (std::int64_t c : cards) {
        ASSERT_GE(c, 100);
        ASSERT_LE(c, 1000);
        band += (c >= 700 && c <= 900) ? 1 : 0;
      }
      ASSERT_EQ(band, 16) << "seed " << n;
      if (order == DeckOrder::stratified) {
        for (std::size_t g = 0; g < 20; g += 5) {
          int out = 0;
          for (std::size_t i = g; i < g + 5; ++i) out += (cards[i] < 700 || cards[i] > 900) ? 1 : 0;
          ASSERT_EQ(out, 1) << "seed " << n << " group " << g / 5;
        }
      }
      ASSERT_TRUE(check_deck(p, cards).empty()) << "seed " << n;
    }
  }
}

TEST(Deck, PartlyUsedDaysKeepTheBandShareWhenStratified) {
  // With 10 payments, 8 of the first 10 cards are in the band, always; a plain shuffle cannot promise it.
  int shuffled_short = 0;
  for (int n = 0; n < 2000; ++n) {
    const auto strat = deal(pilot(DeckOrder::stratified), seed_n(n));
    const auto shuf = deal(pilot(DeckOrder::shuffled), seed_n(n));
    int strat_band = 0, shuf_band = 0;
    for (int i = 0; i < 10; ++i) {
      strat_band += (strat[static_cast<std::size_t>(i)] >= 700 && strat[static_cast<std::size_t>(i)] <= 900) ? 1 : 0;
      shuf_band += (shuf[static_cast<std::size_t>(i)] >= 700 && shuf[static_cast<std::size_t>(i)] <= 900) ? 1 : 0;
    }
    ASSERT_EQ(strat_band, 8);
    shuffled_short += shuf_band < 8 ? 1 : 0;
  }
  // About one day in four for a shuffled deck (DOMAIN.md): between 10 % and 40 % of 2000 here.
  EXPECT_GT(shuffled_short, 200);
  EXPECT_LT(shuffled_short, 800);
}

TEST(Deck, SameSeedSameDeckAndEveryInputChangesTheSeed) {
  EXPECT_EQ(deal(pilot(), seed_n(7)), deal(pilot(), seed_n(7)));
  EXPECT_NE(deal(pilot(), seed_n(7)), deal(pilot(), seed_n(8)));
  const auto base = to_hex(derive_seed(secret(), 1, "M1", "2026-11-24", 1));
  std::set<std::string> seeds{base};
  seeds.insert(to_hex(derive_seed(secret(), 2, "M1", "2026-11-24", 1)));
  seeds.insert(to_hex(derive_seed(secret(), 1, "M2", "2026-11-24", 1)));
  seeds.insert(to_hex(derive_seed(secret(), 1, "M1", "2026-11-25", 1)));
  seeds.insert(to_hex(derive_seed(secret(), 1, "M1", "2026-11-24", 2)));
  seeds.insert(to_hex(derive_seed(secret() + "x", 1, "M1", "2026-11-24", 1)));
  // Length prefixes: moving a character between merchant and day gives another seed.
  seeds.insert(to_hex(derive_seed(secret(), 1, "M12", "026-11-24", 1)));
  EXPECT_EQ(seeds.size(), 7u);
}

TEST(Deck, SeedEncodingKnownAnswer) {
  // Computed independently (Python hmac/hashlib) from the encoding documented in deck.hpp.
  const auto seed = derive_seed(secret(), 42, "M001", "2026-11-24", 1);
  EXPECT_EQ(to_hex(seed), "2b48cd8bc9f476032475017a4dccb25cacd030ae032f1e5cb461d8121174a153");
  EXPECT_EQ(seed_commitment_hex(seed), "cdc87e4e1f469102a61371bac6819985ef1c9f54cc4fbf4c358d985236aa3d05");
}

TEST(Deck, CheckDeckFindsBrokenDecks) {
  const DeckParams p = pilot();
  auto cards = deal(p, seed_n(1));
  ASSERT_TRUE(check_deck(p, cards).empty());
  auto short_deck = cards;
  short_deck.pop_back();
  EXPECT_TRUE(has(check_deck(p, short_deck), "19 cards"));
  auto too_big = cards;
  too_big[0] = 1001;
  EXPECT_TRUE(has(check_deck(p, too_big), "outside [100, 1000]"));
  // Swap an out-of-band card of group 1 with a band card of group 2: counts stay, groups break.
  auto swapped = cards;
  std::size_t out1 = 0, band2 = 5;
  while (swapped[out1] >= 700 && swapped[out1] <= 900) ++out1;
  while (swapped[band2] < 700 || swapped[band2] > 900) ++band2;
  std::swap(swapped[out1], swapped[band2]);
  EXPECT_TRUE(has(check_deck(p, swapped), "outside the band, not 1"));
  auto all_band = cards;
  for (auto& c : all_band) c = 800;
  EXPECT_TRUE(has(check_deck(p, all_band), "20 cards in the band"));
}

TEST(Deck, DrawsAreUnbiasedOnSmallRanges) {
  // Band 7.00..7.02 (three values) and out-of-band 6.99 or 7.03 (one value each side).
  const DeckParams p{699, 703, 700, 702, 8000, 20, DeckOrder::stratified};
  std::map<std::int64_t, int> counts;
  for (int n = 0; n < 3000; ++n) {
    for (std::int64_t c : deal(p, seed_n(n))) ++counts[c];
  }
  // 3000 decks x 16 band cards / 3 values = 16,000 each; x 4 out cards / 2 values = 6,000 each.
  for (std::int64_t v : {700, 701, 702}) {
    EXPECT_NEAR(counts[v], 16000, 600) << v;
  }
  for (std::int64_t v : {699, 703}) {
    EXPECT_NEAR(counts[v], 6000, 400) << v;
  }
}

TEST(Deck, OutOfBandCardsTakeEveryPositionOfTheirGroup) {
  std::map<int, int> position_counts;
  for (int n = 0; n < 2000; ++n) {
    const auto cards = deal(pilot(), seed_n(n));
    for (int i = 0; i < 5; ++i) {
      if (cards[static_cast<std::size_t>(i)] < 700 || cards[static_cast<std::size_t>(i)] > 900) ++position_counts[i];
    }
  }
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(position_counts[i], 400, 100) << "position " << i;
}

TEST(Deck, GeneralSharesAndCapsThatAreNotAMultipleOfTheGroup) {
  struct Case {
    std::int32_t share_bp, cap, group, out_per_group, band;
  };
  for (const Case& c : {Case{7500, 20, 4, 1, 15}, Case{8500, 20, 20, 3, 17}, Case{10000, 20, 1, 0, 20},
                        Case{0, 20, 1, 1, 0}, Case{8000, 7, 5, 1, 6}, Case{8000, 1, 5, 1, 1}}) {
    const DeckParams p{100, 1000, 700, 900, c.share_bp, c.cap, DeckOrder::stratified};
    ASSERT_TRUE(validate(p).empty()) << c.share_bp;
    EXPECT_EQ(group_size(p), c.group) << c.share_bp;
    EXPECT_EQ(out_cards_per_group(p), c.out_per_group) << c.share_bp;
    EXPECT_EQ(band_cards(p), c.band) << c.share_bp << "/" << c.cap;
    for (int n = 0; n < 300; ++n) {
      const auto cards = deal(p, seed_n(n));
      ASSERT_TRUE(check_deck(p, cards).empty()) << c.share_bp << "/" << c.cap << " seed " << n;
    }
  }
}

}  // namespace
}  // namespace promoledger::promo
