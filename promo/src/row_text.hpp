#pragma once
// Reading sums out of a SOCI row (internal to promo/src). A sum of bigints is numeric in PostgreSQL,
// which SOCI would hand over as double: report queries cast sums and counts to text, read here.

#include <cstddef>
#include <cstdint>
#include <string>

#include <soci/soci.h>

#include "promoledger/ledger/money.hpp"

namespace promoledger::promo::detail {

// REQUIRES: column i is the text of an integer (the query casts it); a malformed one is a bug and throws.
inline ledger::WideFen wide_at(const soci::row& row, std::size_t i) {
  return ledger::parse_wide_fen(row.get<std::string>(i)).value();
}
inline std::int64_t count_at(const soci::row& row, std::size_t i) { return static_cast<std::int64_t>(wide_at(row, i)); }

}  // namespace promoledger::promo::detail
