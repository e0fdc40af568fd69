#pragma once
// The clearing side's daily files, one parser per profile (eod/src/profiles/): the aggregated-QR
// platform's own file (ours, docs/integration.md), WeChat Pay's downloadbill (UTF-8, every value
// prefixed by a backtick, two summary lines at the end) and Alipay's 业务明细 (GBK, `#` comment lines,
// converted with glibc's iconv). Each parser reads the whole file before anything is stored and refuses
// it whole on the first fault, naming the line and the column: a wrong encoding, a missing column, a
// broken amount, a truncated file (no summary, or a summary that does not add up), a duplicate id, a
// file of another day.
//
// Thread safety: pure functions.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "promoledger/eod/refusal.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"

namespace promoledger::eod {

enum class Profile { platform, wechat, alipay };
std::string_view to_string(Profile);
std::optional<Profile> profile_from_string(std::string_view);

// What the clearing side says of one payment id in the file: that it settled the payment (a payment
// row), that it refunded it (a refund row), or both. The profiles' rows are combined per id.
struct ClearingItem {
  std::string payment_id;  // the merchant order number (商户订单号): our payment id
  std::uint64_t payment_line = 0;  // 0: no payment row
  std::int64_t payment_fen = 0;
  std::optional<std::int64_t> discount_fen;  // the platform's file only
  std::uint64_t refund_line = 0;  // 0: no refund row
  std::int64_t refund_fen = 0;
};

// The figures the file states about itself (its summary line), where the profile has them.
struct ClearingSummary {
  std::optional<std::int64_t> rows;
  std::optional<ledger::WideFen> payments_fen;
  std::optional<ledger::WideFen> refunds_fen;
};

struct ClearingFile {
  Profile profile = Profile::platform;
  std::vector<ClearingItem> items;  // in the order of their first row
  std::int64_t payment_rows = 0;
  std::int64_t refund_rows = 0;
  ledger::WideFen payments_fen = 0;  // sums over the rows, as compared with the ledger
  ledger::WideFen refunds_fen = 0;
  ClearingSummary summary;
};

inline constexpr std::size_t clearing_file_bytes_max = std::size_t{1} << 30;  // 1 GiB
inline constexpr std::size_t clearing_rows_max = 5'000'000;
inline constexpr std::size_t clearing_line_bytes_max = 8192;

// Parses a file of `profile` for business day `day`. Refusals (field "line N: column"):
// file_too_large, wrong_encoding, missing_column, invalid_amount, invalid_value, truncated_file,
// duplicate_id, wrong_day.
Expected<ClearingFile, EodRefusal> parse_clearing_file(Profile profile, std::string_view bytes, date::year_month_day day);

// The profiles one by one (what parse_clearing_file dispatches to; the fuzz targets call them).
Expected<ClearingFile, EodRefusal> parse_platform_file(std::string_view bytes, date::year_month_day day);
Expected<ClearingFile, EodRefusal> parse_wechat_file(std::string_view bytes, date::year_month_day day);
Expected<ClearingFile, EodRefusal> parse_alipay_file(std::string_view bytes, date::year_month_day day);

// GBK bytes to UTF-8 with glibc's iconv; wrong_encoding naming the line of the first byte that is not
// GBK. Exposed for tests.
Expected<std::string, EodRefusal> gbk_to_utf8(std::string_view bytes);
// UTF-8 to GBK (the tests write Alipay files as Alipay does). Throws on text GBK cannot hold.
std::string utf8_to_gbk(std::string_view text);

}  // namespace promoledger::eod
