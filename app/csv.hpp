#pragma once
// A strict CSV reader (RFC 4180: commas, double-quoted fields with "" escapes, LF or CRLF).
// Strict because a bad line must be reported, never guessed at: a wrong number of fields, an
// unterminated quote or stray text after a closing quote is an error naming the file and line.
// Blank lines are skipped; a UTF-8 byte-order mark at the start is accepted.

#include <string>
#include <string_view>
#include <vector>

#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/refusal.hpp"

namespace promoledger::app {

struct CsvRow {
  std::size_t line;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

inline constexpr std::size_t csv_rows_max = 5'000'000;
inline constexpr std::size_t csv_field_length_max = 1'000;

// Every record must have exactly `fields` fields. Refused as malformed (out_of_range past csv_rows_max
// records) with words that start with "FILE:LINE: ".
Expected<std::vector<CsvRow>, ledger::ValueRefusal> parse_csv(std::string_view text, std::string_view file, std::size_t fields);

}  // namespace promoledger::app
