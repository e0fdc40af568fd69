#include "common.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "../internal.hpp"
#include "promoledger/ledger/business_day.hpp"

namespace promoledger::eod::profiles {

EodRefusal refusal_at(Code code, std::uint64_t line, std::string_view column, const std::string& what) {
  std::string field = column.empty() ? fmt::format("line {}", line) : fmt::format("line {}: {}", line, column);
  std::string message = column.empty() ? fmt::format("line {}: {}", line, what)
                                        : fmt::format("line {}, column {}: {}", line, column, what);
  return refuse(code, std::move(field), std::move(message));
}

Expected<bool, EodRefusal> size_admitted(std::string_view bytes) {
  if (bytes.size() > clearing_file_bytes_max) {
    return unexpected(refuse(Code::file_too_large, "file", fmt::format("the file has {} bytes; at most {}", bytes.size(),
                                                                       clearing_file_bytes_max)));
  }
  return true;
}

Expected<std::string_view, EodRefusal> utf8_text(std::string_view bytes, std::string_view encoding_message) {
  if (auto admitted = size_admitted(bytes); !admitted) return unexpected(admitted.error());
  std::size_t bad = 0;
  if (!detail::valid_utf8(bytes, &bad)) {
    return unexpected(refusal_at(Code::wrong_encoding, detail::line_of_offset(bytes, bad), "", std::string(encoding_message)));
  }
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  return bytes;
}

template <std::size_t N>
Expected<std::array<std::size_t, N>, EodRefusal> find_columns(const std::vector<std::string_view>& header,
                                                              const std::array<std::string_view, N>& wanted,
                                                              std::uint64_t line, std::string_view profile) {
  std::array<std::size_t, N> at{};
  std::string missing;
  for (std::size_t w = 0; w < N; ++w) {
    const auto it = std::find(header.begin(), header.end(), wanted[w]);
    if (it == header.end()) {
      missing += (missing.empty() ? "" : ", ") + std::string(wanted[w]);
      continue;
    }
    at[w] = static_cast<std::size_t>(it - header.begin());
  }
  if (!missing.empty()) {
    return unexpected(refuse(Code::missing_column, fmt::format("line {}: header", line),
                             fmt::format("line {}: the {} header lacks column(s) {}", line, profile, missing)));
  }
  return at;
}
template Expected<std::array<std::size_t, 8>, EodRefusal> find_columns(const std::vector<std::string_view>&,
                                                                       const std::array<std::string_view, 8>&,
                                                                       std::uint64_t, std::string_view);
template Expected<std::array<std::size_t, 25>, EodRefusal> find_columns(const std::vector<std::string_view>&,
                                                                        const std::array<std::string_view, 25>&,
                                                                        std::uint64_t, std::string_view);
template Expected<std::array<std::size_t, 27>, EodRefusal> find_columns(const std::vector<std::string_view>&,
                                                                        const std::array<std::string_view, 27>&,
                                                                        std::uint64_t, std::string_view);
template Expected<std::array<std::size_t, 7>, EodRefusal> find_columns(const std::vector<std::string_view>&,
                                                                       const std::array<std::string_view, 7>&,
                                                                       std::uint64_t, std::string_view);

Expected<std::int64_t, EodRefusal> amount_at(std::string_view text, std::uint64_t line, std::string_view column,
                                             bool negative_ok) {
  auto money = ledger::Money::parse(text);
  if (!money) return unexpected(refusal_at(Code::invalid_amount, line, column, money.error().message));
  if (money->fen() < 0 && !negative_ok) {
    return unexpected(refusal_at(Code::invalid_amount, line, column,
                                 fmt::format("amount \"{}\" must not be negative", text.substr(0, 24))));
  }
  return money->fen();
}

Expected<std::int64_t, EodRefusal> count_at(std::string_view text, std::uint64_t line, std::string_view column) {
  std::int64_t n = 0;
  const bool digits = !text.empty() && text.size() <= 15 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    return unexpected(refusal_at(Code::truncated_file, line, column,
                                 fmt::format("\"{}\" is not a count of rows", text.substr(0, 24))));
  }
  for (char c : text) n = n * 10 + (c - '0');
  return n;
}

Expected<date::year_month_day, EodRefusal> local_day_at(std::string_view text, std::uint64_t line, std::string_view column) {
  const auto bad = [&] {
    return refusal_at(Code::invalid_value, line, column,
                      fmt::format("\"{}\" is not a time YYYY-MM-DD HH:MM:SS", text.substr(0, 32)));
  };
  if (text.size() != 19 || text[10] != ' ' || text[13] != ':' || text[16] != ':') return unexpected(bad());
  for (std::size_t i : {11, 12, 14, 15, 17, 18}) {
    if (text[i] < '0' || text[i] > '9') return unexpected(bad());
  }
  const int hh = (text[11] - '0') * 10 + (text[12] - '0');
  const int mm = (text[14] - '0') * 10 + (text[15] - '0');
  const int ss = (text[17] - '0') * 10 + (text[18] - '0');
  if (hh > 23 || mm > 59 || ss > 59) return unexpected(bad());
  auto day = ledger::parse_day(text.substr(0, 10));
  if (!day) return unexpected(bad());
  return *day;
}

bool valid_payment_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == ':' || c == '-';
  });
}

Collector::Collector(Profile profile, std::size_t expected_rows) {
  file_.profile = profile;
  if (expected_rows > 0) {
    index_.reserve(expected_rows);
    file_.items.reserve(expected_rows);
  }
}

ClearingItem& Collector::item(std::string_view id) {
  const auto [it, inserted] = index_.try_emplace(std::string(id), file_.items.size());
  if (inserted) {
    file_.items.emplace_back();
    file_.items.back().payment_id = std::string(id);
  }
  return file_.items[it->second];
}

Expected<bool, EodRefusal> Collector::payment(std::uint64_t line, std::string_view id, std::int64_t fen,
                                              std::optional<std::int64_t> discount_fen, std::string_view column) {
  if (!valid_payment_id(id)) {
    return unexpected(refusal_at(Code::invalid_value, line, column,
                                 fmt::format("\"{}\" is not a payment id (1..64 of A-Z a-z 0-9 _ . : -)", id.substr(0, 70))));
  }
  ClearingItem& it = item(id);
  if (it.payment_line != 0) {
    return unexpected(refusal_at(Code::duplicate_id, line, column,
                                 fmt::format("payment {} is settled twice (lines {} and {})", id, it.payment_line, line)));
  }
  it.payment_line = line;
  it.payment_fen = fen;
  it.discount_fen = discount_fen;
  ++file_.payment_rows;
  file_.payments_fen += fen;
  return true;
}

Expected<bool, EodRefusal> Collector::refund(std::uint64_t line, std::string_view id, std::int64_t fen,
                                             std::string_view column) {
  if (!valid_payment_id(id)) {
    return unexpected(refusal_at(Code::invalid_value, line, column,
                                 fmt::format("\"{}\" is not a payment id (1..64 of A-Z a-z 0-9 _ . : -)", id.substr(0, 70))));
  }
  ClearingItem& it = item(id);
  if (it.refund_line != 0) {
    return unexpected(refusal_at(Code::duplicate_id, line, column,
                                 fmt::format("payment {} is refunded twice (lines {} and {})", id, it.refund_line, line)));
  }
  it.refund_line = line;
  it.refund_fen = fen;
  ++file_.refund_rows;
  file_.refunds_fen += fen;
  return true;
}

ClearingFile Collector::finish() && { return std::move(file_); }

std::string day_text(date::year_month_day day) { return ledger::format_day(day); }

}  // namespace promoledger::eod::profiles
