// The clearing files' parsers (eod/clearing_file.hpp), without a database: each profile reads a good
// file, and refuses each kind of bad file whole, naming the line and the column.
#include <gtest/gtest.h>

#include "domain_helpers.hpp"
#include "eod_clearing_files.hpp"
#include "promoledger/eod/clearing_file.hpp"

namespace promoledger::testing {
namespace {

using eod::Code;
using eod::Profile;

const date::year_month_day d24 = day("2026-11-24");

eod::EodRefusal refused(Profile p, const std::string& bytes) {
  auto r = eod::parse_clearing_file(p, bytes, d24);
  EXPECT_FALSE(r.has_value()) << "accepted:\n" << bytes;
  return r ? eod::EodRefusal{Code::invalid_value, "", "accepted"} : r.error();
}

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// Everything but the last n lines (a file cut short).
std::string without_last_lines(const std::string& text, int n) {
  std::size_t end = text.size();
  for (int i = 0; i <= n; ++i) end = text.rfind('\n', end - 1);
  return text.substr(0, end + 1);
}

const std::vector<ClearingRow> rows = {
    {"p1", "100.00", "2026-11-24 09:00:00", "SUCCESS", "10.00", "bank_app"},
    {"p2", "35.50", "2026-11-24 09:05:00", "SUCCESS"},
    {"p3", "20.00", "2026-11-23 20:00:00", "REFUND"},
};

TEST(ClearingFile, EachProfileReadsItsFileIntoOneItemPerPaymentId) {
  auto platform = eod::parse_platform_file(platform_file({rows[0], rows[1], {"p4", "12.00", "2026-11-24 10:00:00", "REVERSED"},
                                                          {"p3", "20.00", "2026-11-23 20:00:00", "REFUND"}}),
                                           d24);
  ASSERT_TRUE(platform.has_value()) << platform.error().message;
  ASSERT_EQ(platform->items.size(), 4u);
  EXPECT_EQ(platform->items[0].payment_fen, 10000);
  EXPECT_EQ(platform->items[0].discount_fen, 1000);
  EXPECT_EQ(platform->items[2].payment_line, 4u);
  EXPECT_EQ(platform->items[2].refund_line, 4u);
  EXPECT_EQ(platform->items[3].payment_line, 0u);
  EXPECT_EQ(platform->payment_rows, 3);
  EXPECT_EQ(platform->refund_rows, 2);
  EXPECT_EQ(*platform->summary.rows, 4);

  auto wechat = eod::parse_wechat_file(wechat_bill({{"p2", "35.50", "2026-11-24 09:05:00", "SUCCESS"},
                                                    {"p2", "35.50", "2026-11-24 09:05:00", "REFUND"},
                                                    {"p5", "9.99", "2026-11-24 23:59:59", "SUCCESS"}}),
                                       d24);
  ASSERT_TRUE(wechat.has_value()) << wechat.error().message;
  ASSERT_EQ(wechat->items.size(), 2u);
  EXPECT_EQ(wechat->items[0].payment_id, "p2");  // the backtick is not part of the id
  EXPECT_EQ(wechat->items[0].refund_fen, 3550);
  EXPECT_EQ(wechat->payments_fen, 3550 + 999);

  auto alipay = eod::parse_alipay_file(alipay_detail({{"p6", "22.00", "2026-11-24 12:00:00", "交易"},
                                                      {"p7", "12.34", "2026-11-22 14:00:00", "退款"}}),
                                       d24);
  ASSERT_TRUE(alipay.has_value()) << alipay.error().message;
  ASSERT_EQ(alipay->items.size(), 2u);
  EXPECT_EQ(alipay->items[1].refund_fen, 1234);  // written as -12.34
  EXPECT_EQ(alipay->items[1].refund_line, 7u);
  EXPECT_EQ(*alipay->summary.rows, 2);
}

TEST(ClearingFile, AWrongEncodingIsRefusedWithItsLine) {
  // A GBK file handed in as WeChat's (UTF-8): its first Chinese byte is not UTF-8.
  const auto gbk = refused(Profile::wechat, eod::utf8_to_gbk(wechat_bill(rows)));
  EXPECT_EQ(gbk.code, Code::wrong_encoding);
  EXPECT_EQ(gbk.field, "line 1");
  // An Alipay file sent as UTF-8: read as GBK its header is other characters.
  const auto utf8 = refused(Profile::alipay, alipay_detail_utf8({{"p6", "22.00", "2026-11-24 12:00:00", "交易"}}));
  EXPECT_EQ(utf8.code, Code::wrong_encoding);
  // A byte that is not GBK at all, on line 6.
  std::string broken = alipay_detail({{"p6", "22.00", "2026-11-24 12:00:00", "交易"}});
  const auto sixth = [&] {
    std::size_t at = 0;
    for (int i = 0; i < 5; ++i) at = broken.find('\n', at) + 1;
    return at;
  }();
  broken.insert(sixth + 3, "\x81\x20");
  const auto bad = refused(Profile::alipay, broken);
  EXPECT_EQ(bad.code, Code::wrong_encoding);
  EXPECT_EQ(bad.field, "line 6");
  EXPECT_EQ(refused(Profile::platform, "payment_id,channel\n\xff\xfe\n").code, Code::wrong_encoding);
}

TEST(ClearingFile, AMissingColumnIsNamed) {
  const auto p = refused(Profile::platform, replace(platform_file(rows), "discount,", ""));
  EXPECT_EQ(p.code, Code::missing_column);
  EXPECT_NE(p.message.find("discount"), std::string::npos) << p.message;
  const auto w = refused(Profile::wechat, replace(wechat_bill(rows), "商户订单号,", "商户单号,"));
  EXPECT_EQ(w.code, Code::missing_column);
  EXPECT_NE(w.message.find("商户订单号"), std::string::npos) << w.message;
  const auto a = refused(Profile::alipay, eod::utf8_to_gbk(replace(alipay_detail_utf8({}), "订单金额（元）,", "")));
  EXPECT_EQ(a.code, Code::missing_column);
  EXPECT_EQ(a.field, "line 5: header");
  // A header whose columns sit beyond a short row's end (found by the fuzzer: the row was read past its
  // last field).
  const auto wide = refused(Profile::platform, "a,b,c,d,e,f,g,h,payment_id,channel,merchant,payer,amount,discount,paid_at,status\n"
                                               "p1,bank_app,M1,P1,1.00,0.00,2026-11-24T09:00:00+08:00,SUCCESS\n#summary,1,1.00,0.00\n");
  EXPECT_EQ(wide.code, Code::missing_column);
  EXPECT_EQ(wide.field, "line 2");
  // A row with fewer fields than the header.
  const auto short_row = refused(Profile::platform, replace(platform_file(rows), ",SUCCESS\np2", "\np2"));
  EXPECT_EQ(short_row.code, Code::missing_column);
  EXPECT_EQ(short_row.field, "line 2");
}

TEST(ClearingFile, ABrokenAmountIsRefusedWithLineAndColumn) {
  const auto p = refused(Profile::platform, replace(platform_file(rows), "35.50", "35.5O"));
  EXPECT_EQ(p.code, Code::invalid_amount);
  EXPECT_EQ(p.field, "line 3: amount");
  const auto w = refused(Profile::wechat, replace(wechat_bill(rows), "`35.50,`0.00,", "`35.505,`0.00,"));
  EXPECT_EQ(w.code, Code::invalid_amount);
  EXPECT_EQ(w.field, "line 3: 应结订单金额");
  const auto a = refused(Profile::alipay, eod::utf8_to_gbk(replace(alipay_detail_utf8({{"p6", "22.00", "2026-11-24 12:00:00", "交易"}}),
                                                                    "22.00\t,22.00", "22.0x\t,22.00")));
  EXPECT_EQ(a.code, Code::invalid_amount);
  EXPECT_EQ(a.field, "line 6: 订单金额（元）");
  EXPECT_EQ(refused(Profile::platform, replace(platform_file(rows), "100.00", "-100.00")).code, Code::invalid_amount);
}

TEST(ClearingFile, ATruncatedFileIsRefused) {
  // Cut before the summary, and with a summary that does not add up.
  const auto p = refused(Profile::platform, without_last_lines(platform_file(rows), 1));
  EXPECT_EQ(p.code, Code::truncated_file);
  const auto w = refused(Profile::wechat, without_last_lines(wechat_bill(rows), 2));
  EXPECT_EQ(w.code, Code::truncated_file);
  EXPECT_EQ(refused(Profile::wechat, without_last_lines(wechat_bill(rows), 1)).code, Code::truncated_file);
  const auto a = refused(Profile::alipay, eod::utf8_to_gbk(without_last_lines(alipay_detail_utf8({{"p6", "22.00", "2026-11-24 12:00:00", "交易"}}), 4)));
  EXPECT_EQ(a.code, Code::truncated_file);
  // A row removed from the middle: the summary says one more.
  std::string platform = platform_file(rows);
  platform = replace(platform, "p2,wechat,M1,P1,35.50,0.00,2026-11-24T09:05:00+08:00,SUCCESS\n", "");
  const auto missing = refused(Profile::platform, platform);
  EXPECT_EQ(missing.code, Code::truncated_file);
  EXPECT_EQ(missing.field, "line 4: #summary");
}

TEST(ClearingFile, ADuplicateIdNamesBothLines) {
  const auto p = refused(Profile::platform, platform_file({rows[0], rows[1], rows[1]}));
  EXPECT_EQ(p.code, Code::duplicate_id);
  EXPECT_EQ(p.field, "line 4: payment_id");
  EXPECT_NE(p.message.find("lines 3 and 4"), std::string::npos) << p.message;
  const auto w = refused(Profile::wechat, wechat_bill({{"p2", "1.00", "2026-11-24 09:05:00", "REFUND"},
                                                      {"p2", "1.00", "2026-11-24 09:06:00", "REFUND"}}));
  EXPECT_EQ(w.code, Code::duplicate_id);
  EXPECT_EQ(w.field, "line 3: 商户订单号");
  EXPECT_EQ(refused(Profile::alipay, alipay_detail({{"p6", "22.00", "2026-11-24 12:00:00", "交易"},
                                                    {"p6", "22.00", "2026-11-24 12:00:00", "交易"}})).code,
            Code::duplicate_id);
}

TEST(ClearingFile, AFileOfAnotherDayIsRefused) {
  const auto p = refused(Profile::platform, platform_file({{"p1", "1.00", "2026-11-25 00:00:00", "SUCCESS"}}));
  EXPECT_EQ(p.code, Code::wrong_day);
  EXPECT_EQ(p.field, "line 2: paid_at");
  EXPECT_EQ(refused(Profile::wechat, wechat_bill({{"p1", "1.00", "2026-11-23 23:59:59", "SUCCESS"}})).code, Code::wrong_day);
  // A refund of a later day cannot be in this day's file either.
  EXPECT_EQ(refused(Profile::wechat, wechat_bill({{"p1", "1.00", "2026-11-25 08:00:00", "REFUND"}})).code, Code::wrong_day);
  const auto a = refused(Profile::alipay, eod::utf8_to_gbk(alipay_detail_utf8({}, "2026年11月23日", "2026年11月24日")));
  EXPECT_EQ(a.code, Code::wrong_day);
  EXPECT_EQ(a.field, "line 3: 起始日期");
  // A time in another offset is converted to the business day: 16:00 UTC on the 23rd is the 24th in Shanghai.
  auto utc = eod::parse_platform_file(replace(platform_file({rows[1]}), "2026-11-24T09:05:00+08:00", "2026-11-23T16:30:00Z"), d24);
  EXPECT_TRUE(utc.has_value()) << utc.error().message;
}

TEST(ClearingFile, UnknownValuesAreRefused) {
  EXPECT_EQ(refused(Profile::platform, replace(platform_file(rows), ",SUCCESS\np2", ",PAID\np2")).field, "line 2: status");
  EXPECT_EQ(refused(Profile::platform, replace(platform_file(rows), "bank_app", "unionpay")).field, "line 2: channel");
  EXPECT_EQ(refused(Profile::wechat, replace(wechat_bill(rows), "`SUCCESS", "`CLOSED")).field, "line 2: 交易状态");
  EXPECT_EQ(refused(Profile::wechat, replace(wechat_bill(rows), "`CNY", "`USD")).field, "line 2: 货币种类");
  EXPECT_EQ(refused(Profile::wechat, replace(wechat_bill(rows), "`p1", "`p 1")).field, "line 2: 商户订单号");
  EXPECT_EQ(refused(Profile::platform, replace(platform_file(rows), "T09:00:00+08:00", "T09:00:00")).field, "line 2: paid_at");
  EXPECT_EQ(refused(Profile::platform, "").code, Code::missing_column);
}

TEST(ClearingFile, GbkRoundTripsThroughIconv) {
  const std::string text = "#交易合计：2笔，商家实收共34.34元\n";
  const std::string gbk = eod::utf8_to_gbk(text);
  EXPECT_NE(gbk, text);
  auto back = eod::gbk_to_utf8(gbk);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, text);
}

}  // namespace
}  // namespace promoledger::testing
