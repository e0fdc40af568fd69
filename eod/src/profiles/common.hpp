#pragma once
// What the three profile parsers share: reading lines, finding columns by their header names,
// collecting the items per payment id (duplicates refused), strict amounts and times, and the words of
// a refusal ("line 17, column 商户订单号: ...").

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <date/date.h>

#include "promoledger/eod/clearing_file.hpp"

namespace promoledger::eod::profiles {

// Lines of a text without their "\n" or "\r\n"; numbers from 1.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  bool next(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    std::size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    line = text_.substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = end + 1;
    ++line_no_;
    return true;
  }
  std::uint64_t line_no() const { return line_no_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::uint64_t line_no_ = 0;
};

EodRefusal refusal_at(Code code, std::uint64_t line, std::string_view column, const std::string& what);

// A clearing file within clearing_file_bytes_max; file_too_large saying its size otherwise.
Expected<bool, EodRefusal> size_admitted(std::string_view bytes);

// The text of a profile's UTF-8 file: admitted by size, every byte UTF-8 (else wrong_encoding at the
// line of the first bad byte, `encoding_message` saying what the file should be), a byte-order mark
// skipped. A view into `bytes`.
Expected<std::string_view, EodRefusal> utf8_text(std::string_view bytes, std::string_view encoding_message);

// The index of each wanted column in a header row; missing_column naming every absent one.
template <std::size_t N>
Expected<std::array<std::size_t, N>, EodRefusal> find_columns(const std::vector<std::string_view>& header,
                                                              const std::array<std::string_view, N>& wanted,
                                                              std::uint64_t line, std::string_view profile);

// "12.34" (or "-12.34" when negative_ok) as fen; invalid_amount otherwise. Never double.
Expected<std::int64_t, EodRefusal> amount_at(std::string_view text, std::uint64_t line, std::string_view column,
                                             bool negative_ok = false);

// A count ("123": digits only, at most 15) or truncated_file (it is read from summary lines).
Expected<std::int64_t, EodRefusal> count_at(std::string_view text, std::uint64_t line, std::string_view column);

// "YYYY-MM-DD HH:MM:SS" (a local Asia/Shanghai time): the day, or invalid_value.
Expected<date::year_month_day, EodRefusal> local_day_at(std::string_view text, std::uint64_t line, std::string_view column);

// A payment id as the ledger stores it: 1..64 of A-Z a-z 0-9 _ . : -.
bool valid_payment_id(std::string_view id);

// Collects rows into items, one per payment id; a second payment row (or refund row) of an id is
// duplicate_id, naming both lines.
class Collector {
 public:
  explicit Collector(Profile profile, std::size_t expected_rows = 0);
  Expected<bool, EodRefusal> payment(std::uint64_t line, std::string_view id, std::int64_t fen,
                                     std::optional<std::int64_t> discount_fen, std::string_view column);
  Expected<bool, EodRefusal> refund(std::uint64_t line, std::string_view id, std::int64_t fen, std::string_view column);
  ClearingFile finish() &&;
  std::int64_t rows() const { return file_.payment_rows + file_.refund_rows; }

 private:
  ClearingItem& item(std::string_view id);
  ClearingFile file_;
  std::unordered_map<std::string, std::size_t> index_;
};

// The text of a day for messages.
std::string day_text(date::year_month_day day);

}  // namespace promoledger::eod::profiles
