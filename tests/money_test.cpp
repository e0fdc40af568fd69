#include <gtest/gtest.h>

#include "promoledger/ledger/money.hpp"

using promoledger::ledger::format_fen;
using promoledger::ledger::Money;
using promoledger::ledger::WideFen;

TEST(Money, ParsesAcceptedForms) {
  EXPECT_EQ(Money::parse("95.00")->fen(), 9500);
  EXPECT_EQ(Money::parse("95")->fen(), 9500);
  EXPECT_EQ(Money::parse("0.5")->fen(), 50);
  EXPECT_EQ(Money::parse("0.05")->fen(), 5);
  EXPECT_EQ(Money::parse("0")->fen(), 0);
  EXPECT_EQ(Money::parse("-3.05")->fen(), -305);
  EXPECT_EQ(Money::parse("7.37")->fen(), 737);
  EXPECT_EQ(Money::parse("10000000000000")->fen(), Money::fen_abs_max);
}

TEST(Money, RejectsMalformedWithAMessage) {
  for (const char* bad : {"1e3", "-0", "-0.00", "abc", "1.234", "", "１０", "+5", "1.", ".5", "1,000", " 5", "5 ",
                          "0x10", "1..2", "--1", "NaN", "inf", "10000000000000.01", "99999999999999999999"}) {
    auto parsed = Money::parse(bad);
    EXPECT_FALSE(parsed.has_value()) << "accepted \"" << bad << "\"";
    if (!parsed) {
      EXPECT_FALSE(parsed.error().message.empty()) << bad;
      EXPECT_TRUE(parsed.error().field.empty()) << "the caller names the field: " << bad;
    }
  }
  EXPECT_NE(Money::parse("1.234").error().message.find("two decimals"), std::string::npos);
  EXPECT_EQ(Money::parse("1.234").error().code, promoledger::ledger::InvalidValue::malformed);
  EXPECT_NE(Money::parse("abc").error().message.find("\"abc\""), std::string::npos);
  EXPECT_EQ(Money::parse("99999999999999999999").error().code, promoledger::ledger::InvalidValue::out_of_range);
  EXPECT_EQ(Money::parse("10000000000000.01").error().code, promoledger::ledger::InvalidValue::out_of_range);
  // about(): the caller's field, and the message says it first.
  const auto named = promoledger::ledger::about("amount", Money::parse("1.234").error());
  EXPECT_EQ(named.field, "amount");
  EXPECT_EQ(named.message.rfind("amount: amount \"1.234\"", 0), 0u) << named.message;
}

TEST(Money, FormatsBack) {
  EXPECT_EQ(Money::parse("95")->str(), "95.00");
  EXPECT_EQ(Money::parse("0.5")->str(), "0.50");
  EXPECT_EQ(Money::parse("-3.05")->str(), "-3.05");
  EXPECT_EQ(Money::from_fen(-7).str(), "-0.07");
  EXPECT_EQ(Money().str(), "0.00");
  for (const char* text : {"0.01", "12.30", "105.00", "10000000000000.00"}) EXPECT_EQ(Money::parse(text)->str(), text);
}

TEST(Money, CheckedArithmeticNeverWraps) {
  const Money max = Money::from_fen(Money::fen_abs_max);
  EXPECT_FALSE(max.plus(Money::from_fen(1)).has_value());
  EXPECT_FALSE(Money::from_fen(-Money::fen_abs_max).minus(Money::from_fen(1)).has_value());
  EXPECT_EQ(max.minus(Money::from_fen(1))->fen(), Money::fen_abs_max - 1);
  EXPECT_EQ(Money::from_fen(9500).plus(Money::from_fen(1000))->fen(), 10500);
  EXPECT_FALSE(Money::from_fen_checked(Money::fen_abs_max + 1).has_value());
}

TEST(Money, WideSumsDoNotOverflow) {
  WideFen total = 0;
  for (int i = 0; i < 100; ++i) total += Money::fen_abs_max;  // 10^17 fen: beyond nothing, but far beyond int64 * 0.01
  total *= 1000;                                               // 10^20 fen: beyond int64
  EXPECT_EQ(format_fen(total), "1000000000000000000.00");
  EXPECT_EQ(format_fen(WideFen(-12345)), "-123.45");
  EXPECT_EQ(promoledger::ledger::parse_wide_fen("100000000000000000000").value(), total);
  EXPECT_FALSE(promoledger::ledger::parse_wide_fen("12a").has_value());
  EXPECT_FALSE(promoledger::ledger::parse_wide_fen("").has_value());
}
