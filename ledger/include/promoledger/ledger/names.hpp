#pragma once
// Stable names of enum values (statuses, reasons, kinds stored as text): one table of (value, name)
// pairs per enum, and these two lookups over it, so every enum maps both ways the same way.
//
// Thread safety: pure functions over constant tables.

#include <array>
#include <cassert>
#include <optional>
#include <string_view>
#include <utility>

namespace promoledger::ledger {

template <class E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

// REQUIRES: every value of E that is passed has a row (a missing one is a programmer error).
template <class E, std::size_t N>
constexpr std::string_view name_of(const NameTable<E, N>& names, E value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  assert(false && "an enum value without a stable name");
  return "?";
}

template <class E, std::size_t N>
constexpr std::optional<E> value_named(const NameTable<E, N>& names, std::string_view text) {
  for (const auto& [v, name] : names) {
    if (name == text) return v;
  }
  return std::nullopt;
}

}  // namespace promoledger::ledger
