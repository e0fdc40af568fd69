#pragma once
// The properties every clearing-file parser must keep (eod/clearing_file.hpp), whatever the bytes:
// never throw; a refusal has one of the file codes, a field ("line N..." or "file") and words; an
// accepted file's figures are those of its items (rows and sums per kind), every id is a payment id
// the ledger could hold, each id appears once, and its lines are within the file. The target per
// profile (fuzz/clearing_*_fuzz.cpp) feeds the input as the file of 2026-11-24.

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "promoledger/eod/clearing_file.hpp"
#include "promoledger/ledger/business_day.hpp"

namespace promoledger::fuzz {

inline bool is_file_refusal(eod::Code code) {
  switch (code) {
    case eod::Code::file_too_large:
    case eod::Code::wrong_encoding:
    case eod::Code::missing_column:
    case eod::Code::invalid_amount:
    case eod::Code::invalid_value:
    case eod::Code::truncated_file:
    case eod::Code::duplicate_id:
    case eod::Code::wrong_day:
      return true;
    default:
      return false;
  }
}

inline void check_clearing_parser(eod::Profile profile, const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  static const date::year_month_day day = ledger::parse_day("2026-11-24").value();
  FUZZ_NO_THROW({
    const auto parsed = eod::parse_clearing_file(profile, bytes, day);
    if (!parsed) {
      FUZZ_CHECK(is_file_refusal(parsed.error().code));
      FUZZ_CHECK(!parsed.error().field.empty());
      FUZZ_CHECK(!parsed.error().message.empty());
      FUZZ_CHECK(parsed.error().message.size() < 2000);
      return;
    }
    const eod::ClearingFile& f = *parsed;
    FUZZ_CHECK(f.profile == profile);
    std::int64_t payments = 0, refunds = 0;
    ledger::WideFen payments_fen = 0, refunds_fen = 0;
    std::set<std::string> ids;
    const std::size_t lines = 1 + static_cast<std::size_t>(std::count(bytes.begin(), bytes.end(), '\n'));
    for (const eod::ClearingItem& it : f.items) {
      FUZZ_CHECK(!it.payment_id.empty() && it.payment_id.size() <= 64);
      FUZZ_CHECK(ids.insert(it.payment_id).second);
      FUZZ_CHECK(it.payment_line != 0 || it.refund_line != 0);
      if (it.payment_line != 0) {
        ++payments;
        payments_fen += it.payment_fen;
        FUZZ_CHECK(it.payment_fen > 0);
        FUZZ_CHECK(it.payment_line <= lines || profile == eod::Profile::alipay);  // GBK -> UTF-8 keeps lines
      }
      if (it.refund_line != 0) {
        ++refunds;
        refunds_fen += it.refund_fen;
        FUZZ_CHECK(it.refund_fen > 0);
      }
    }
    FUZZ_CHECK(payments == f.payment_rows);
    FUZZ_CHECK(refunds == f.refund_rows);
    FUZZ_CHECK(payments_fen == f.payments_fen);
    FUZZ_CHECK(refunds_fen == f.refunds_fen);
    FUZZ_CHECK(f.summary.rows.has_value());
  });
}

}  // namespace promoledger::fuzz
