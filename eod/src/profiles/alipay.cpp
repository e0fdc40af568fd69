// Alipay's 业务明细 (the "business details" CSV inside the downloaded zip): GBK-encoded (converted to
// UTF-8 with glibc's iconv first), `#` comment lines before and after the table, the 25-column header,
// values often followed by a tab. docs/integration.md, "Alipay 业务明细", says what is read:
//   #起始日期：[YYYY年MM月DD日 ...]            must be the file's day
//   业务类型 交易   a payment row: 商户订单号 (our payment id), 订单金额（元） (compared with the
//                   ledger's amount), 商家实收（元） (summed for the footer), 完成时间 on the day
//   业务类型 退款   a refund row: |订单金额（元）| (compared with the ledger's amount), 完成时间 not after
//   #-----...业务明细列表结束...                  the end of the table: without it the file is cut short
//   #交易合计：N笔，商家实收共X元...  #退款合计：M笔，商家实收退款共Y元...   must add up
#include <algorithm>

#include <fmt/format.h>

#include "../internal.hpp"
#include "common.hpp"

namespace promoledger::eod {
namespace {

using profiles::refusal_at;

constexpr std::array<std::string_view, 25> columns{
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号", "门店名称", "操作员",
    "终端号", "对方账户", "订单金额（元）", "商家实收（元）", "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）",
    "商家优惠（元）", "券核销金额（元）", "券名称", "商家红包消费金额（元）", "卡消费金额（元）", "退款批次号/请求号",
    "服务费（元）", "分润（元）", "备注"};
enum Column { c_order = 1, c_type = 2, c_done = 5, c_amount = 11, c_received = 12 };

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// "#交易合计：12笔，商家实收共1234.50元，..." -> (12, 123450 fen).
Expected<std::pair<std::int64_t, std::int64_t>, EodRefusal> footer_figures(std::string_view line, std::uint64_t n,
                                                                          std::string_view what) {
  const auto bad = [&] {
    return refusal_at(Code::truncated_file, n, what, fmt::format("cannot read \"{}\"", line.substr(0, 120)));
  };
  const std::size_t colon = line.find("：");
  const std::size_t bi = line.find("笔");
  if (colon == std::string_view::npos || bi == std::string_view::npos || bi < colon) return unexpected(bad());
  auto count = profiles::count_at(trim(line.substr(colon + 3, bi - colon - 3)), n, what);
  if (!count) return unexpected(count.error());
  const std::size_t gong = line.find("共", bi);
  const std::size_t yuan = gong == std::string_view::npos ? gong : line.find("元", gong);
  if (yuan == std::string_view::npos) return unexpected(bad());
  auto amount = profiles::amount_at(trim(line.substr(gong + 3, yuan - gong - 3)), n, what, true);
  if (!amount) return unexpected(amount.error());
  return std::pair{*count, *amount < 0 ? -*amount : *amount};
}

// "#起始日期：[2026年11月24日 00:00:00] ..." -> the day, when the line has one.
std::optional<date::year_month_day> start_day(std::string_view line) {
  const std::size_t open = line.find('[');
  if (open == std::string_view::npos || line.size() < open + 1 + 14) return std::nullopt;
  const std::string_view d = line.substr(open + 1);
  // YYYY年MM月DD日: 年 月 日 are three bytes each in UTF-8.
  if (d.size() < 4 + 3 + 2 + 3 + 2 + 3 || d.substr(4, 3) != "年" || d.substr(9, 3) != "月" || d.substr(14, 3) != "日") {
    return std::nullopt;
  }
  const std::string text = std::string(d.substr(0, 4)) + "-" + std::string(d.substr(7, 2)) + "-" + std::string(d.substr(12, 2));
  auto day = ledger::parse_day(text);
  if (!day) return std::nullopt;
  return *day;
}

}  // namespace

Expected<ClearingFile, EodRefusal> parse_alipay_file(std::string_view bytes, date::year_month_day day) {
  if (auto admitted = profiles::size_admitted(bytes); !admitted) return unexpected(admitted.error());
  auto converted = gbk_to_utf8(bytes);
  if (!converted) return unexpected(converted.error());
  const std::string& text = *converted;
  profiles::LineReader reader(text);
  profiles::Collector collected(Profile::alipay, text.size() / 250);
  std::vector<std::string> unquoted;
  std::array<std::size_t, 25> at{};
  std::size_t width = 0;  // the fields a row needs: the header's last column we read, plus one
  bool header = false, ended = false;
  std::optional<std::pair<std::int64_t, std::int64_t>> trades_footer, refunds_footer;
  std::uint64_t footer_line = 0;
  std::string_view line;
  std::int64_t trade_rows = 0, refund_rows = 0;
  ledger::WideFen received_total = 0, refunded_total = 0;
  while (reader.next(line)) {
    const std::uint64_t n = reader.line_no();
    if (line.size() > clearing_line_bytes_max) {
      return unexpected(refusal_at(Code::invalid_value, n, "", fmt::format("the line is longer than {} bytes", clearing_line_bytes_max)));
    }
    if (trim(line).empty()) continue;
    if (line.starts_with('#')) {
      if (line.find("起始日期") != std::string_view::npos) {
        const auto start = start_day(line);
        if (start && *start != day) {
          return unexpected(refusal_at(Code::wrong_day, n, "起始日期",
                                       fmt::format("the file starts on {}, not {}", profiles::day_text(*start),
                                                   profiles::day_text(day))));
        }
      } else if (line.find("业务明细列表结束") != std::string_view::npos) {
        ended = true;
      } else if (line.find("交易合计") != std::string_view::npos) {
        auto f = footer_figures(line, n, "交易合计");
        if (!f) return unexpected(f.error());
        trades_footer = *f;
        footer_line = n;
      } else if (line.find("退款合计") != std::string_view::npos) {
        auto f = footer_figures(line, n, "退款合计");
        if (!f) return unexpected(f.error());
        refunds_footer = *f;
        footer_line = n;
      }
      continue;
    }
    if (ended) return unexpected(refusal_at(Code::invalid_value, n, "", "a row after the end of the table"));
    const auto fields = detail::split_csv_line(line, unquoted);
    if (!fields) return unexpected(refusal_at(Code::invalid_value, n, "", "a quote is not closed"));
    std::vector<std::string_view> trimmed(fields->size());
    std::transform(fields->begin(), fields->end(), trimmed.begin(), trim);
    if (!header) {
      auto found = profiles::find_columns(trimmed, columns, n, "Alipay 业务明细");
      if (!found) {
        // A UTF-8 file read as GBK decodes to other characters: say which encoding is expected.
        EodRefusal r = found.error();
        if (detail::valid_utf8(bytes)) {
          r.code = Code::wrong_encoding;
          r.message += " (the file reads as UTF-8: Alipay's 业务明细 is GBK)";
        }
        return unexpected(r);
      }
      at = *found;
      width = *std::max_element(at.begin(), at.end()) + 1;
      header = true;
      continue;
    }
    if (trimmed.size() < width) {
      return unexpected(refusal_at(Code::missing_column, n, "",
                                   fmt::format("{} fields; the table's header needs {}", trimmed.size(), width)));
    }
    if (static_cast<std::size_t>(trade_rows + refund_rows) == clearing_rows_max) {
      return unexpected(refusal_at(Code::file_too_large, n, "", fmt::format("more than {} rows", clearing_rows_max)));
    }
    const auto f = [&](int c) { return trimmed[at[static_cast<std::size_t>(c)]]; };
    auto when = profiles::local_day_at(f(c_done), n, columns[c_done]);
    if (!when) return unexpected(when.error());
    auto amount = profiles::amount_at(f(c_amount), n, columns[c_amount], true);
    if (!amount) return unexpected(amount.error());
    auto received = profiles::amount_at(f(c_received), n, columns[c_received], true);
    if (!received) return unexpected(received.error());
    const std::string_view type = f(c_type);
    if (type == "交易") {
      if (*when != day) {
        return unexpected(refusal_at(Code::wrong_day, n, columns[c_done],
                                     fmt::format("a payment of {} in a file for {}", profiles::day_text(*when),
                                                 profiles::day_text(day))));
      }
      if (*amount <= 0) return unexpected(refusal_at(Code::invalid_amount, n, columns[c_amount], "a payment must be positive"));
      auto ok = collected.payment(n, f(c_order), *amount, std::nullopt, columns[c_order]);
      if (!ok) return unexpected(ok.error());
      ++trade_rows;
      received_total += *received;
    } else if (type == "退款") {
      if (*when > day) {
        return unexpected(refusal_at(Code::wrong_day, n, columns[c_done],
                                     fmt::format("a refund of {} in a file for {}", profiles::day_text(*when),
                                                 profiles::day_text(day))));
      }
      if (*amount == 0) return unexpected(refusal_at(Code::invalid_amount, n, columns[c_amount], "a refund of 0.00"));
      auto ok = collected.refund(n, f(c_order), *amount < 0 ? -*amount : *amount, columns[c_order]);
      if (!ok) return unexpected(ok.error());
      ++refund_rows;
      refunded_total += *received < 0 ? -*received : *received;
    } else {
      return unexpected(refusal_at(Code::invalid_value, n, columns[c_type],
                                   fmt::format("\"{}\" is neither 交易 nor 退款", type.substr(0, 30))));
    }
  }
  if (!header) return unexpected(refusal_at(Code::missing_column, reader.line_no(), "", "no table header in the file"));
  if (!ended || !trades_footer || !refunds_footer) {
    return unexpected(refusal_at(Code::truncated_file, reader.line_no(), "业务明细列表结束",
                                 "the file ends without the end of its table and its 交易合计/退款合计 lines: it is cut short"));
  }
  if (trades_footer->first != trade_rows || trades_footer->second != received_total ||
      refunds_footer->first != refund_rows || refunds_footer->second != refunded_total) {
    return unexpected(refusal_at(Code::truncated_file, footer_line, "交易合计",
                                 fmt::format("the footer says {} trades (商家实收 {}) and {} refunds ({}); the table has "
                                             "{} ({}) and {} ({})",
                                             trades_footer->first, ledger::format_fen(trades_footer->second),
                                             refunds_footer->first, ledger::format_fen(refunds_footer->second), trade_rows,
                                             ledger::format_fen(received_total), refund_rows,
                                             ledger::format_fen(refunded_total))));
  }
  ClearingFile file = std::move(collected).finish();
  file.summary.rows = trade_rows + refund_rows;
  file.summary.payments_fen = received_total;
  file.summary.refunds_fen = refunded_total;
  return file;
}

}  // namespace promoledger::eod
