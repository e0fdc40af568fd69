#pragma once
// Money: an amount of CNY in integer fen (1 CNY = 100 fen). There is no floating point anywhere on
// the money path: amounts are parsed from decimal text, stored as bigint fen, and summed either with
// checked 64-bit arithmetic (one entry) or with 128-bit integers (reports and totals, which cannot
// overflow for any realistic ledger: 2^127 fen).
//
// Thread safety: a value type.

#include <boost/multiprecision/cpp_int.hpp>

#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/refusal.hpp"

namespace promoledger::ledger {

// Wide integer for sums of fen: totals, trial balances, report columns.
using WideFen = boost::multiprecision::int128_t;

class Money {
 public:
  // The largest magnitude one amount may have: 10^15 fen (10 trillion CNY). Far above any payment, far
  // below int64 so that adding two amounts in checked arithmetic has headroom and a text of more
  // than 16 integer digits is rejected before any arithmetic.
  static constexpr std::int64_t fen_abs_max = 1'000'000'000'000'000;
  static_assert(fen_abs_max < std::numeric_limits<std::int64_t>::max() / 2);
  static constexpr std::size_t text_length_max = 24;

  constexpr Money() = default;
  // REQUIRES: |fen| <= fen_abs_max.
  static Money from_fen(std::int64_t fen);
  // Checked: a refusal (out_of_range) instead of an assertion for values that come from outside.
  static Expected<Money, ValueRefusal> from_fen_checked(std::int64_t fen);

  // Strict parsing of a decimal amount in CNY: digits, an optional '.' followed by one or two digits,
  // an optional leading '-' for a non-zero amount. Accepted: "95.00", "95", "0.5", "-3.05".
  // Refused (malformed, or out_of_range above fen_abs_max) with a message that says why; the field is
  // left to the caller (about()): "", "abc", "1e3", "-0", "+5", "1.234", "1.", ".5",
  // "1,000", " 5", "１０" (full-width digits), anything above fen_abs_max.
  static Expected<Money, ValueRefusal> parse(std::string_view text);

  constexpr std::int64_t fen() const { return fen_; }
  constexpr bool is_positive() const { return fen_ > 0; }
  constexpr bool is_zero() const { return fen_ == 0; }

  // "95.00", "-3.05", "0.00".
  std::string str() const;

  // Checked arithmetic: out_of_range when the result leaves [-fen_abs_max, fen_abs_max]; never wraps.
  Expected<Money, ValueRefusal> plus(Money other) const;
  Expected<Money, ValueRefusal> minus(Money other) const;

  friend constexpr auto operator<=>(Money, Money) = default;

 private:
  constexpr explicit Money(std::int64_t fen) : fen_(fen) {}
  std::int64_t fen_ = 0;
};

// Formats any number of fen as "1234.56" / "-0.07", for totals kept in WideFen.
std::string format_fen(const WideFen& fen);
std::string format_fen(std::int64_t fen);
// Parses an integer count of fen as PostgreSQL prints it (numeric sums arrive as text, never as double).
Expected<WideFen, ValueRefusal> parse_wide_fen(std::string_view digits);

}  // namespace promoledger::ledger
