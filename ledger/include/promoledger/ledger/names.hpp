#pragma once
// Stable names of enum values (statuses, reasons, kinds, refusal codes stored or sent as text): one
// table of (value, name) pairs per enum, and these two lookups over it, so every enum maps both ways the
// same way. Each table is checked at compile time to name every value of its enum once
// (static_assert(names_every_value(table)) beside the table): adding a value to an enum without a name
// does not build.
//
// Thread safety: pure functions over constant tables.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

#include "promoledger/ledger/assert.hpp"

namespace promoledger::ledger {

template <class E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

// REQUIRES: every value of E that is passed has a row (names_every_value holds for the table).
template <class E, std::size_t N>
constexpr std::string_view name_of(const NameTable<E, N>& names, E value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  PROMOLEDGER_ASSERT(false && "an enum value without a stable name");
  return "?";
}

template <class E, std::size_t N>
constexpr std::optional<E> value_named(const NameTable<E, N>& names, std::string_view text) {
  for (const auto& [v, name] : names) {
    if (name == text) return v;
  }
  return std::nullopt;
}

namespace names_detail {

// Whether V is a named enumerator. C++20 has no reflection; GCC and Clang spell the template argument
// in __PRETTY_FUNCTION__ as "V = ns::E::name" for an enumerator and "V = (ns::E)17" for a value
// without a name, so a ')' followed by a digit or '-' marks the latter (an enum in an anonymous
// namespace reads "(anonymous namespace)::E::name": a ')' followed by ':'). magic_enum uses the same
// property; it is not in Debian 12.
template <auto V>
constexpr bool is_enumerator() {
  constexpr std::string_view f = __PRETTY_FUNCTION__;
  constexpr std::size_t at = f.find("V = ");
  static_assert(at != std::string_view::npos, "unexpected __PRETTY_FUNCTION__ form");
  for (std::size_t i = at + 4; i + 1 < f.size(); ++i) {
    if (f[i] == ')' && ((f[i + 1] >= '0' && f[i + 1] <= '9') || f[i + 1] == '-')) return false;
  }
  return true;
}

template <class E, std::size_t... I>
constexpr std::size_t count_from_zero(std::index_sequence<I...>) {
  std::size_t n = 0;
  bool named = true;
  ((named = named && is_enumerator<static_cast<E>(I)>(), n += named ? 1 : 0), ...);
  return n;
}

}  // namespace names_detail

// The most values an enum with a name table may have (the compile-time count looks this far).
inline constexpr std::size_t named_enum_values_max = 128;

// The number of enumerators of E. REQUIRES: E is a scoped enum numbered 0, 1, 2, ... (the default).
template <class E>
constexpr std::size_t enum_count() {
  return names_detail::count_from_zero<E>(std::make_index_sequence<named_enum_values_max>{});
}

// Whether the table names each value of E exactly once, with distinct, non-empty names.
template <class E, std::size_t N>
constexpr bool names_every_value(const NameTable<E, N>& names) {
  if (N != enum_count<E>() || N >= named_enum_values_max) return false;
  for (std::size_t value = 0; value < N; ++value) {
    std::size_t rows = 0;
    for (const auto& [v, name] : names) rows += static_cast<std::size_t>(v) == value ? 1 : 0;
    if (rows != 1) return false;
  }
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i].second.empty()) return false;
    for (std::size_t j = i + 1; j < N; ++j) {
      if (names[i].second == names[j].second) return false;
    }
  }
  return true;
}

}  // namespace promoledger::ledger
