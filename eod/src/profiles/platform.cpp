// The aggregated-QR platform's own daily file (ours to define; docs/integration.md, "The platform's
// file"): UTF-8 CSV, a header naming the eight columns (in any order), one row per payment, and the
// summary line `#summary,<rows>,<payments amount>,<refunds amount>` last.
//
//   status SUCCESS   paid on the day and still paid when the file was cut: a payment row
//          REVERSED  paid on the day and reversed on the day: a payment row and a refund row
//          REFUND    a payment of an earlier day reversed on this day (paid_at is the payment's time)
#include <algorithm>

#include <fmt/format.h>

#include "../internal.hpp"
#include "common.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/promo/terms.hpp"

namespace promoledger::eod {
namespace {

using profiles::refusal_at;

constexpr std::array<std::string_view, 8> columns{"payment_id", "channel", "merchant", "payer",
                                                  "amount",     "discount", "paid_at", "status"};
enum Column { c_id, c_channel, c_merchant, c_payer, c_amount, c_discount, c_paid_at, c_status };

bool valid_code(std::string_view code) {
  if (code.empty() || code.size() > 32) return false;
  for (char c : code) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// The business day of a paid_at text. "+08:00" (how the platform writes) is read directly; any other
// offset goes through the tz database.
Expected<date::year_month_day, EodRefusal> paid_day(std::string_view text, std::uint64_t line) {
  const auto bad = [&](const std::string& why) {
    return refusal_at(Code::invalid_value, line, "paid_at", fmt::format("\"{}\": {}", text.substr(0, 40), why));
  };
  if (!ledger::has_utc_offset(text)) return unexpected(bad("a time with its offset is required (+08:00)"));
  auto at = ledger::parse_timestamp(text);
  if (!at) return unexpected(bad(at.error().message));
  if (text.size() >= 6 && text.substr(text.size() - 6) == "+08:00") {
    auto day = ledger::parse_day(text.substr(0, 10));
    if (day) return *day;
  }
  return ledger::business_day_of(*at);
}

}  // namespace

Expected<ClearingFile, EodRefusal> parse_platform_file(std::string_view bytes, date::year_month_day day) {
  const auto text = profiles::utf8_text(bytes, "the platform's file is UTF-8, and this byte is not");
  if (!text) return unexpected(text.error());
  bytes = *text;
  profiles::LineReader reader(bytes);
  profiles::Collector collected(Profile::platform, bytes.size() / 80);
  std::vector<std::string> unquoted;
  std::array<std::size_t, 8> at{};
  std::size_t width = 0;  // the fields a row needs: the header's last column we read, plus one
  bool header = false;
  bool summary_seen = false;
  std::uint64_t summary_line = 0;
  std::string_view line;
  std::int64_t rows = 0;
  ledger::WideFen pay_total = 0, refund_total = 0;
  ClearingSummary summary;
  while (reader.next(line)) {
    const std::uint64_t n = reader.line_no();
    if (line.empty()) continue;
    if (line.size() > clearing_line_bytes_max) {
      return unexpected(refusal_at(Code::invalid_value, n, "", fmt::format("the line is longer than {} bytes", clearing_line_bytes_max)));
    }
    if (summary_seen) return unexpected(refusal_at(Code::invalid_value, n, "", "a line after the #summary line"));
    const auto fields = detail::split_csv_line(line, unquoted);
    if (!fields) return unexpected(refusal_at(Code::invalid_value, n, "", "a quote is not closed"));
    if (!header) {
      auto found = profiles::find_columns(*fields, columns, n, "platform");
      if (!found) return unexpected(found.error());
      at = *found;
      width = *std::max_element(at.begin(), at.end()) + 1;
      header = true;
      continue;
    }
    if ((*fields)[0] == "#summary") {
      if (fields->size() != 4) return unexpected(refusal_at(Code::truncated_file, n, "#summary", "expected #summary,<rows>,<payments>,<refunds>"));
      auto count = profiles::count_at((*fields)[1], n, "#summary rows");
      auto pays = profiles::amount_at((*fields)[2], n, "#summary payments");
      auto refs = profiles::amount_at((*fields)[3], n, "#summary refunds");
      if (!count) return unexpected(count.error());
      if (!pays) return unexpected(pays.error());
      if (!refs) return unexpected(refs.error());
      summary.rows = *count;
      summary.payments_fen = *pays;
      summary.refunds_fen = *refs;
      summary_seen = true;
      summary_line = n;
      continue;
    }
    if ((*fields)[0].starts_with('#')) continue;  // a comment
    if (fields->size() < width) {
      return unexpected(refusal_at(Code::missing_column, n, "", fmt::format("{} fields; the header's columns need {}", fields->size(), width)));
    }
    if (static_cast<std::size_t>(rows) == clearing_rows_max) {
      return unexpected(refusal_at(Code::file_too_large, n, "", fmt::format("more than {} rows", clearing_rows_max)));
    }
    ++rows;
    const auto f = [&](Column c) { return (*fields)[at[c]]; };
    if (!promo::channel_from_string(f(c_channel))) {
      return unexpected(refusal_at(Code::invalid_value, n, "channel",
                                   fmt::format("\"{}\" is not bank_app, wechat or alipay", f(c_channel).substr(0, 20))));
    }
    if (!valid_code(f(c_merchant))) return unexpected(refusal_at(Code::invalid_value, n, "merchant", "not a merchant code"));
    if (!valid_code(f(c_payer))) return unexpected(refusal_at(Code::invalid_value, n, "payer", "not a payer code"));
    auto amount = profiles::amount_at(f(c_amount), n, "amount");
    if (!amount) return unexpected(amount.error());
    if (*amount == 0) return unexpected(refusal_at(Code::invalid_amount, n, "amount", "a payment of 0.00"));
    auto discount = profiles::amount_at(f(c_discount), n, "discount");
    if (!discount) return unexpected(discount.error());
    auto paid = paid_day(f(c_paid_at), n);
    if (!paid) return unexpected(paid.error());
    const std::string_view status = f(c_status);
    const bool pays = status == "SUCCESS" || status == "REVERSED";
    const bool refunds = status == "REVERSED" || status == "REFUND";
    if (!pays && !refunds) {
      return unexpected(refusal_at(Code::invalid_value, n, "status",
                                   fmt::format("\"{}\" is not SUCCESS, REVERSED or REFUND", status.substr(0, 20))));
    }
    if (pays && *paid != day) {
      return unexpected(refusal_at(Code::wrong_day, n, "paid_at",
                                   fmt::format("a payment of {} in a file for {}", profiles::day_text(*paid),
                                               profiles::day_text(day))));
    }
    if (!pays && *paid > day) {
      return unexpected(refusal_at(Code::wrong_day, n, "paid_at",
                                   fmt::format("a refund of a payment made {}, after the file's day {}",
                                               profiles::day_text(*paid), profiles::day_text(day))));
    }
    if (pays) {
      auto ok = collected.payment(n, f(c_id), *amount, *discount, "payment_id");
      if (!ok) return unexpected(ok.error());
      pay_total += *amount;
    }
    if (refunds) {
      auto ok = collected.refund(n, f(c_id), *amount, "payment_id");
      if (!ok) return unexpected(ok.error());
      refund_total += *amount;
    }
  }
  if (!header) return unexpected(refusal_at(Code::missing_column, 1, "", "the file is empty: no header line"));
  if (!summary_seen) {
    return unexpected(refusal_at(Code::truncated_file, reader.line_no(), "#summary",
                                 "the file ends without its #summary line: it is cut short"));
  }
  if (*summary.rows != rows || *summary.payments_fen != pay_total || *summary.refunds_fen != refund_total) {
    return unexpected(refusal_at(Code::truncated_file, summary_line, "#summary",
                                 fmt::format("the summary says {} rows, payments {}, refunds {}; the file has {} rows, "
                                             "payments {}, refunds {}",
                                             *summary.rows, ledger::format_fen(*summary.payments_fen),
                                             ledger::format_fen(*summary.refunds_fen), rows, ledger::format_fen(pay_total),
                                             ledger::format_fen(refund_total))));
  }
  ClearingFile file = std::move(collected).finish();
  file.summary = summary;
  return file;
}

}  // namespace promoledger::eod
