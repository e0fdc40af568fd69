// WeChat Pay's `downloadbill` (bill_type ALL): UTF-8 CSV, the 27-column header, every value prefixed
// by a backtick (`), amounts in yuan with two decimals, and as its last two lines a summary header
// (总交易单数, 应结订单总金额, 退款总金额, 充值券退款总金额, 手续费总金额, 订单总金额, 申请退款总金额)
// and its values. docs/integration.md, "WeChat Pay downloadbill", says which columns are read:
//   交易状态 SUCCESS  a payment row: 商户订单号 (our payment id), 订单金额 (compared with the ledger's
//                     amount), 应结订单金额 (summed for the summary), 交易时间 on the file's day
//   交易状态 REFUND   a refund row: 退款金额 (compared with the ledger's amount), 交易时间 not after the day
// The summary must add up (总交易单数 = rows, 应结订单总金额 and 订单总金额 over SUCCESS rows,
// 退款总金额 over REFUND rows); a file without it, or whose summary disagrees, is cut short.
#include <algorithm>

#include <fmt/format.h>

#include "../internal.hpp"
#include "common.hpp"

namespace promoledger::eod {
namespace {

using profiles::refusal_at;

constexpr std::array<std::string_view, 27> columns{
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号", "用户标识", "交易类型",
    "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额", "微信退款单号", "商户退款单号", "退款金额",
    "充值券退款金额", "退款类型", "退款状态", "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额",
    "费率备注"};
enum Column { c_time = 0, c_order = 6, c_status = 9, c_currency = 11, c_settled = 12, c_refund = 16, c_amount = 24 };

constexpr std::array<std::string_view, 7> summary_columns{"总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额",
                                                          "手续费总金额", "订单总金额", "申请退款总金额"};

// A value without its backtick prefix (a value without one is taken as it is).
std::string_view value(std::string_view v) {
  if (!v.empty() && v.front() == '`') v.remove_prefix(1);
  return v;
}

}  // namespace

Expected<ClearingFile, EodRefusal> parse_wechat_file(std::string_view bytes, date::year_month_day day) {
  const auto text = profiles::utf8_text(bytes, "WeChat Pay's bill is UTF-8, and this byte is not (a GBK file?)");
  if (!text) return unexpected(text.error());
  bytes = *text;
  profiles::LineReader reader(bytes);
  profiles::Collector collected(Profile::wechat, bytes.size() / 250);
  std::vector<std::string> unquoted;
  std::array<std::size_t, 27> at{};
  std::array<std::size_t, 7> sum_at{};
  std::size_t width = 0, sum_width = 0;  // the fields a row needs: the last column read, plus one
  enum class State { header, rows, summary_values, done } state = State::header;
  std::string_view line;
  std::int64_t rows = 0;
  ledger::WideFen settled_total = 0, amount_total = 0, refund_total = 0;
  ClearingSummary summary;
  std::uint64_t summary_line = 0;
  ledger::WideFen summary_settled = 0;
  while (reader.next(line)) {
    const std::uint64_t n = reader.line_no();
    if (line.empty()) continue;
    if (line.size() > clearing_line_bytes_max) {
      return unexpected(refusal_at(Code::invalid_value, n, "", fmt::format("the line is longer than {} bytes", clearing_line_bytes_max)));
    }
    if (state == State::done) return unexpected(refusal_at(Code::invalid_value, n, "", "a line after the summary"));
    const auto fields = detail::split_csv_line(line, unquoted);
    if (!fields) return unexpected(refusal_at(Code::invalid_value, n, "", "a quote is not closed"));
    if (state == State::header) {
      auto found = profiles::find_columns(*fields, columns, n, "WeChat Pay bill");
      if (!found) return unexpected(found.error());
      at = *found;
      width = *std::max_element(at.begin(), at.end()) + 1;
      state = State::rows;
      continue;
    }
    if (state == State::rows && (*fields)[0] == summary_columns[0]) {
      auto found = profiles::find_columns(*fields, summary_columns, n, "WeChat Pay summary");
      if (!found) return unexpected(found.error());
      sum_at = *found;
      sum_width = *std::max_element(sum_at.begin(), sum_at.end()) + 1;
      state = State::summary_values;
      summary_line = n;
      continue;
    }
    if (state == State::summary_values) {
      if (fields->size() < sum_width) {
        return unexpected(refusal_at(Code::truncated_file, n, "", "the summary values are incomplete"));
      }
      auto count = profiles::count_at(value((*fields)[sum_at[0]]), n, summary_columns[0]);
      if (!count) return unexpected(count.error());
      auto settled = profiles::amount_at(value((*fields)[sum_at[1]]), n, summary_columns[1]);
      if (!settled) return unexpected(settled.error());
      auto refunds = profiles::amount_at(value((*fields)[sum_at[2]]), n, summary_columns[2]);
      if (!refunds) return unexpected(refunds.error());
      auto amounts = profiles::amount_at(value((*fields)[sum_at[5]]), n, summary_columns[5]);
      if (!amounts) return unexpected(amounts.error());
      summary.rows = *count;
      summary.payments_fen = *amounts;
      summary.refunds_fen = *refunds;
      summary_settled = *settled;
      summary_line = n;
      state = State::done;
      continue;
    }
    // A row of the bill.
    if (fields->size() < width) {
      return unexpected(refusal_at(Code::missing_column, n, "",
                                   fmt::format("{} fields; the bill's header needs {}", fields->size(), width)));
    }
    if (static_cast<std::size_t>(rows) == clearing_rows_max) {
      return unexpected(refusal_at(Code::file_too_large, n, "", fmt::format("more than {} rows", clearing_rows_max)));
    }
    ++rows;
    const auto f = [&](int c) { return value((*fields)[at[static_cast<std::size_t>(c)]]); };
    if (f(c_currency) != "CNY") {
      return unexpected(refusal_at(Code::invalid_value, n, columns[c_currency],
                                   fmt::format("\"{}\": only CNY is booked", f(c_currency).substr(0, 8))));
    }
    auto when = profiles::local_day_at(f(c_time), n, columns[c_time]);
    if (!when) return unexpected(when.error());
    const std::string_view status = f(c_status);
    if (status == "SUCCESS") {
      if (*when != day) {
        return unexpected(refusal_at(Code::wrong_day, n, columns[c_time],
                                     fmt::format("a payment of {} in a bill for {}", profiles::day_text(*when),
                                                 profiles::day_text(day))));
      }
      auto amount = profiles::amount_at(f(c_amount), n, columns[c_amount]);
      if (!amount) return unexpected(amount.error());
      auto settled = profiles::amount_at(f(c_settled), n, columns[c_settled]);
      if (!settled) return unexpected(settled.error());
      auto ok = collected.payment(n, f(c_order), *amount, std::nullopt, columns[c_order]);
      if (!ok) return unexpected(ok.error());
      amount_total += *amount;
      settled_total += *settled;
    } else if (status == "REFUND") {
      if (*when > day) {
        return unexpected(refusal_at(Code::wrong_day, n, columns[c_time],
                                     fmt::format("a refund of {} in a bill for {}", profiles::day_text(*when),
                                                 profiles::day_text(day))));
      }
      auto refund = profiles::amount_at(f(c_refund), n, columns[c_refund]);
      if (!refund) return unexpected(refund.error());
      auto ok = collected.refund(n, f(c_order), *refund, columns[c_order]);
      if (!ok) return unexpected(ok.error());
      refund_total += *refund;
    } else {
      return unexpected(refusal_at(Code::invalid_value, n, columns[c_status],
                                   fmt::format("\"{}\" is neither SUCCESS nor REFUND", status.substr(0, 20))));
    }
  }
  if (state == State::header) return unexpected(refusal_at(Code::missing_column, 1, "", "the bill is empty: no header line"));
  if (state != State::done) {
    return unexpected(refusal_at(Code::truncated_file, reader.line_no(), "总交易单数",
                                 "the bill ends without its two summary lines: it is cut short"));
  }
  if (*summary.rows != rows || *summary.payments_fen != amount_total || summary_settled != settled_total ||
      *summary.refunds_fen != refund_total) {
    return unexpected(refusal_at(Code::truncated_file, summary_line, "总交易单数",
                                 fmt::format("the summary says {} rows, 订单总金额 {}, 应结订单总金额 {}, 退款总金额 {}; the bill "
                                             "has {} rows, {}, {}, {}",
                                             *summary.rows, ledger::format_fen(*summary.payments_fen),
                                             ledger::format_fen(summary_settled), ledger::format_fen(*summary.refunds_fen),
                                             rows, ledger::format_fen(amount_total), ledger::format_fen(settled_total),
                                             ledger::format_fen(refund_total))));
  }
  ClearingFile file = std::move(collected).finish();
  file.summary = summary;
  return file;
}

}  // namespace promoledger::eod
