// Fuzzes ledger::Money::parse (every amount that comes from outside: API bodies, CSV files, campaign
// documents) against an independent reference parser of the documented grammar
//   -?[0-9]{1,14}(\.[0-9]{1,2})?   at most 24 characters, |value| <= fen_abs_max, no negative zero,
// and checks that an accepted amount formats back (str()) to text that parses to the same fen.
// Also: parse_wide_fen (PostgreSQL numeric sums), format_fen, and the checked plus/minus.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "promoledger/ledger/money.hpp"

using promoledger::ledger::Money;
using promoledger::ledger::WideFen;

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

// The grammar of money.hpp, written independently of money.cpp:
//   -?[0-9]{1,14}(\.[0-9]{1,2})?, at most 24 characters, |fen| <= fen_abs_max, no negative zero.
std::optional<std::int64_t> reference_parse(std::string_view s) {
  if (s.empty() || s.size() > Money::text_length_max) return std::nullopt;
  std::size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) ++i;
  __int128 whole = 0;
  std::size_t whole_digits = 0;
  while (i < s.size() && digit(s[i])) {
    whole = whole * 10 + (s[i] - '0');
    ++i;
    ++whole_digits;
  }
  // money.cpp refuses more than 14 integer digits before any arithmetic (14 digits already exceed
  // fen_abs_max / 100), also when they are leading zeros: "000000000000005" is refused, "0005" is not.
  if (whole_digits == 0 || whole_digits > 14) return std::nullopt;
  int cents = 0;
  if (i < s.size()) {
    if (s[i] != '.') return std::nullopt;
    ++i;
    const std::size_t frac_digits = s.size() - i;
    if (frac_digits < 1 || frac_digits > 2) return std::nullopt;
    for (std::size_t k = i; k < s.size(); ++k) {
      if (!digit(s[k])) return std::nullopt;
    }
    cents = (s[i] - '0') * 10 + (frac_digits == 2 ? s[i + 1] - '0' : 0);
  }
  const __int128 fen = whole * 100 + cents;
  if (fen > Money::fen_abs_max) return std::nullopt;
  if (negative && fen == 0) return std::nullopt;
  return static_cast<std::int64_t>(negative ? -fen : fen);
}

void check_amount_text(std::string_view text) {
  std::optional<promoledger::Expected<Money, promoledger::ledger::ValueRefusal>> parsed;
  FUZZ_NO_THROW(parsed.emplace(Money::parse(text)));
  const auto expected = reference_parse(text);
  FUZZ_CHECK(parsed->has_value() == expected.has_value());
  if (!*parsed) {
    FUZZ_CHECK(!parsed->error().message.empty());
    return;
  }
  const Money m = parsed->value();
  FUZZ_CHECK(m.fen() == *expected);
  FUZZ_CHECK(m.fen() <= Money::fen_abs_max && m.fen() >= -Money::fen_abs_max);
  // Round trip: the canonical text parses to the same amount and is a fixed point of str().
  const std::string canonical = m.str();
  auto again = Money::parse(canonical);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->fen() == m.fen());
  FUZZ_CHECK(again->str() == canonical);
  FUZZ_CHECK(canonical == promoledger::ledger::format_fen(m.fen()));
  // Canonical text always has exactly two decimals.
  FUZZ_CHECK(canonical.size() >= 4 && canonical[canonical.size() - 3] == '.');
  // The fen count as PostgreSQL would print it reads back the same.
  auto wide = promoledger::ledger::parse_wide_fen(std::to_string(m.fen()));
  FUZZ_CHECK(wide.has_value() && *wide == WideFen(m.fen()));
}

void check_wide_fen_text(std::string_view text) {
  std::optional<promoledger::Expected<WideFen, promoledger::ledger::ValueRefusal>> parsed;
  FUZZ_NO_THROW(parsed.emplace(promoledger::ledger::parse_wide_fen(text)));
  if (!*parsed) return;
  // Accepted: -?[0-9]{1,36}. Printed back it equals the input without leading zeros.
  std::string_view digits = text;
  const bool negative = !digits.empty() && digits[0] == '-';
  if (negative) digits.remove_prefix(1);
  FUZZ_CHECK(!digits.empty() && digits.size() <= 36);
  for (char c : digits) FUZZ_CHECK(digit(c));
  const WideFen v = parsed->value();
  const WideFen magnitude = v < 0 ? WideFen(-v) : v;
  std::string_view stripped = digits.substr(std::min(digits.find_first_not_of('0'), digits.size() - 1));
  FUZZ_CHECK(magnitude.str() == std::string(stripped));
  // format_fen of a wide sum: yuan.cents, and a sign only for a negative value.
  const std::string shown = promoledger::ledger::format_fen(v);
  FUZZ_CHECK((shown[0] == '-') == (v < 0));
}

void check_arithmetic(const std::uint8_t* data) {
  std::int64_t a = 0;
  std::int64_t b = 0;
  std::memcpy(&a, data, sizeof a);
  std::memcpy(&b, data + sizeof a, sizeof b);
  auto ma = Money::from_fen_checked(a);
  auto mb = Money::from_fen_checked(b);
  FUZZ_CHECK(ma.has_value() == (a >= -Money::fen_abs_max && a <= Money::fen_abs_max));
  FUZZ_CHECK(mb.has_value() == (b >= -Money::fen_abs_max && b <= Money::fen_abs_max));
  if (!ma || !mb) return;
  const __int128 sum = static_cast<__int128>(a) + b;
  const __int128 diff = static_cast<__int128>(a) - b;
  auto plus = ma->plus(*mb);
  auto minus = ma->minus(*mb);
  FUZZ_CHECK(plus.has_value() == (sum >= -Money::fen_abs_max && sum <= Money::fen_abs_max));
  FUZZ_CHECK(minus.has_value() == (diff >= -Money::fen_abs_max && diff <= Money::fen_abs_max));
  if (plus) FUZZ_CHECK(plus->fen() == sum);
  if (minus) FUZZ_CHECK(minus->fen() == diff);
  // Any in-range amount prints as text that parses back to it.
  auto back = Money::parse(ma->str());
  FUZZ_CHECK(back.has_value() && back->fen() == a);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = promoledger::fuzz::as_text(data, size);
  check_amount_text(text);
  check_wide_fen_text(text);
  if (size >= 16) check_arithmetic(data);
  return 0;
}
