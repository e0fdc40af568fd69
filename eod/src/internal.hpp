#pragma once
// Helpers internal to eod/src: reading sums out of SOCI rows (sums are cast to text in SQL: numeric
// would arrive as double), day texts, and splitting one CSV line.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>
#include <soci/soci.h>

#include "promoledger/eod/refusal.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/money.hpp"

namespace promoledger::eod::detail {

// REQUIRES: column i is the text of an integer (the query casts it); a malformed one is a bug and throws.
inline ledger::WideFen wide_at(const soci::row& row, std::size_t i) {
  return ledger::parse_wide_fen(row.get<std::string>(i)).value();
}

// "20261124".
inline std::string compact_day(date::year_month_day day) {
  std::string text = ledger::format_day(day);
  return text.substr(0, 4) + text.substr(5, 2) + text.substr(8, 2);
}

// A day-wide statement (a closed day's GL summary, a reconciliation, a clearing file) reads millions of
// rows: on a busy machine that can take longer than the 30 s a posting statement is allowed, so the
// transaction that runs it allows 10 minutes (still a limit). SET LOCAL: inside a transaction only.
inline constexpr const char* day_statement_timeout_sql = "SET LOCAL statement_timeout = '10min'";

// The close time of a day as local text ("2026-11-25T00:10:03+08:00"), or nullopt while it is open.
// Asia/Shanghai has been UTC+8 without daylight saving since 1991, so the offset is written as such.
std::optional<std::string> close_time_local(soci::session& s, date::year_month_day day);

// Splits one CSV line (RFC 4180 quoting: "a ""b"", c" is one field) into fields; nullopt when a quote
// is left open. No line ends inside: the caller splits lines first.
std::optional<std::vector<std::string_view>> split_csv_line(std::string_view line, std::vector<std::string>& unquoted);

// Whether text is valid UTF-8 (no overlong forms, no surrogates); *bad_offset is the first bad byte.
bool valid_utf8(std::string_view text, std::size_t* bad_offset = nullptr);

// The 1-based line number of byte `offset` in `text`.
std::size_t line_of_offset(std::string_view text, std::size_t offset);

}  // namespace promoledger::eod::detail
