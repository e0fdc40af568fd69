#include "promoledger/ledger/money.hpp"

#include "promoledger/ledger/assert.hpp"

#include <fmt/format.h>

namespace promoledger::ledger {
namespace {

Unexpected<ValueRefusal> malformed(std::string message) {
  return unexpected(ValueRefusal{InvalidValue::malformed, "", std::move(message)});
}
Unexpected<ValueRefusal> out_of_range(std::string message) {
  return unexpected(ValueRefusal{InvalidValue::out_of_range, "", std::move(message)});
}

bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Money Money::from_fen(std::int64_t fen) {
  // An amount outside the bounds would be wrong money wherever it went next.
  PROMOLEDGER_ASSERT(fen <= fen_abs_max);
  PROMOLEDGER_ASSERT(fen >= -fen_abs_max);
  return Money(fen);
}

Expected<Money, ValueRefusal> Money::from_fen_checked(std::int64_t fen) {
  if (fen > fen_abs_max || fen < -fen_abs_max) {
    return out_of_range(fmt::format("amount of {} fen is out of range (at most {} fen)", fen, fen_abs_max));
  }
  return Money(fen);
}

Expected<Money, ValueRefusal> Money::parse(std::string_view text) {
  const std::string shown = fmt::format("\"{}\"", text.substr(0, text_length_max));
  if (text.empty()) return malformed("amount is empty");
  if (text.size() > text_length_max) {
    return malformed(fmt::format("amount {}… is too long (at most {} characters)", shown, text_length_max));
  }
  bool negative = false;
  std::string_view rest = text;
  if (rest.front() == '-') {
    negative = true;
    rest.remove_prefix(1);
  }
  const std::size_t dot = rest.find('.');
  const std::string_view whole = rest.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
  if (whole.empty()) {
    return malformed(fmt::format("amount {} must start with a digit (write 0.50, not .50)", shown));
  }
  for (const char c : whole) {
    if (!is_ascii_digit(c)) {
      return malformed(fmt::format("amount {} is not a decimal number (only digits 0-9 and one '.')", shown));
    }
  }
  if (dot != std::string_view::npos) {
    if (frac.empty()) return malformed(fmt::format("amount {} has no digits after the '.'", shown));
    if (frac.size() > 2) {
      return malformed(fmt::format("amount {} has more than two decimals (the smallest unit is 0.01)", shown));
    }
    for (const char c : frac) {
      if (!is_ascii_digit(c)) {
        return malformed(fmt::format("amount {} is not a decimal number (only digits 0-9 and one '.')", shown));
      }
    }
  }
  // 16 integer digits already exceed fen_abs_max / 100; refusing earlier keeps the arithmetic below
  // far from int64 overflow.
  if (whole.size() > 14) {
    return out_of_range(fmt::format("amount {} is out of range (at most {} CNY)", shown, fen_abs_max / 100));
  }
  std::int64_t fen = 0;
  for (const char c : whole) fen = fen * 10 + (c - '0');
  fen *= 100;
  if (frac.size() >= 1) fen += (frac[0] - '0') * 10;
  if (frac.size() == 2) fen += frac[1] - '0';
  if (fen > fen_abs_max) {
    return out_of_range(fmt::format("amount {} is out of range (at most {} CNY)", shown, fen_abs_max / 100));
  }
  if (negative && fen == 0) return malformed(fmt::format("amount {} is a negative zero", shown));
  return Money(negative ? -fen : fen);
}

std::string Money::str() const { return format_fen(fen_); }

Expected<Money, ValueRefusal> Money::plus(Money other) const {
  // Both operands are within fen_abs_max, so the int64 sum cannot overflow (static_assert above).
  return from_fen_checked(fen_ + other.fen_);
}

Expected<Money, ValueRefusal> Money::minus(Money other) const { return from_fen_checked(fen_ - other.fen_); }

std::string format_fen(const WideFen& fen) {
  const bool negative = fen < 0;
  const WideFen magnitude = negative ? WideFen(-fen) : fen;
  const WideFen yuan = magnitude / 100;
  const int cents = static_cast<int>(magnitude % 100);
  return fmt::format("{}{}.{:02d}", negative ? "-" : "", yuan.str(), cents);
}

std::string format_fen(std::int64_t fen) { return format_fen(WideFen(fen)); }

Expected<WideFen, ValueRefusal> parse_wide_fen(std::string_view digits) {
  std::string_view rest = digits;
  bool negative = false;
  if (!rest.empty() && rest.front() == '-') {
    negative = true;
    rest.remove_prefix(1);
  }
  // numeric sums of bigint have no fractional part; 36 digits stay inside int128.
  if (rest.empty() || rest.size() > 36) {
    return malformed(fmt::format("\"{}\" is not an integer count of fen", digits.substr(0, 40)));
  }
  WideFen value = 0;
  for (const char c : rest) {
    if (!is_ascii_digit(c)) return malformed(fmt::format("\"{}\" is not an integer count of fen", digits.substr(0, 40)));
    value = value * 10 + (c - '0');
  }
  return negative ? WideFen(-value) : value;
}

}  // namespace promoledger::ledger
