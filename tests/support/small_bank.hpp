#pragma once
// A small bank for the promotion tests: branch BR1 -> sub-branch SB1 -> outlets O1, O2; merchants
// M1, M2 (home O1) and M3 (home O2); payers P1..P40 funded with 10,000.00 each; and helpers to make,
// approve and deal the pilot campaign of the talk (pilot.hpp).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "domain_helpers.hpp"
#include "pilot.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/dealing.hpp"
#include "promoledger/promo/payments.hpp"
#include "test_db.hpp"

namespace promoledger::testing {

// The organisation of the small bank (no payers): BR1 -> SB1 -> O1 (M1, M2), O2 (M3), and the
// bank's funding account. Shared by every suite that sets up this bank.
inline constexpr const char* small_bank_sql =
    "SELECT ledger.add_org_unit('BR1', 'branch', 'Branch 1', NULL);"
    "SELECT ledger.add_org_unit('SB1', 'sub_branch', 'Sub-branch 1', 'BR1');"
    "SELECT ledger.add_org_unit('O1', 'outlet', 'Outlet 1', 'SB1');"
    "SELECT ledger.add_org_unit('O2', 'outlet', 'Outlet 2', 'SB1');"
    "SELECT ledger.add_merchant('M1', 'Noodles', 'O1');"
    "SELECT ledger.add_merchant('M2', 'Dumplings', 'O1');"
    "SELECT ledger.add_merchant('M3', 'Tea', 'O2');"
    "SELECT ledger.open_account('bank:funding', 'funding', 'asset', NULL, NULL);";

class PromoTest : public DbTest {
 protected:
  static constexpr int payers_count = 40;

  void SetUp() override {
    tdb_.exec_as_admin(small_bank_sql);
    ledger::Ledger ledger(db());
    for (int i = 1; i <= payers_count; ++i) {
      tdb_.exec_as_admin(fmt::format("SELECT ledger.add_payer('P{}', 'Payer {}')", i, i));
      auto entry = ledger::EntryBuilder(fmt::format("open:P{}", i), "opening", day("2026-11-23"))
                       .debit("bank:funding", cny("10000.00"))
                       .credit(fmt::format("payer:P{}:deposit", i), cny("10000.00"))
                       .build();
      ASSERT_TRUE(entry.has_value());
      ASSERT_TRUE(ledger.post(*entry).has_value());
    }
  }

  ledger::Database& db() { return tdb_.db(16); }

  std::int64_t approved_campaign(const promo::CampaignParams& params) {
    promo::Campaigns campaigns(db());
    auto id = campaigns.create(params, nlohmann::json{{"name", params.name}}, "alice");
    EXPECT_TRUE(id.has_value()) << (id ? "" : id.error().message);
    auto approved = campaigns.approve(*id, "bob");
    EXPECT_TRUE(approved.has_value()) << (approved ? "" : approved.error().message);
    return *id;
  }

  // Replaces a merchant's deck for a day with known cards (tests that need exact amounts).
  void set_cards(const char* merchant, const char* business_day, const std::string& cards_literal) {
    tdb_.exec_as_admin(fmt::format(
        "UPDATE promo.deck SET cards_fen = '{0}', card_count = cardinality('{0}'::integer[]) "
        "WHERE merchant_id = (SELECT id FROM ledger.merchant WHERE code = '{1}') AND business_day = '{2}'",
        cards_literal, merchant, business_day));
  }

  promo::PaymentRequest payment(std::string id, const char* payer, const char* merchant, promo::Channel channel,
                                const char* amount, const char* when) {
    return promo::PaymentRequest{std::move(id), payer, merchant, channel, cny(amount), at(when)};
  }

  long long scalar(const std::string& sql) {
    auto lease = db().lease();
    long long value = 0;
    *lease << sql, soci::into(value);
    return value;
  }

  std::string text(const std::string& sql) {
    auto lease = db().lease();
    std::string value;
    *lease << sql, soci::into(value);
    return value;
  }

  ledger::WideFen balance(const std::string& code) {
    ledger::Ledger ledger(db());
    auto b = ledger.balance(code);
    EXPECT_TRUE(b.has_value()) << code;
    return b ? b->balance_fen : ledger::WideFen(-1);
  }

  void expect_ledger_verifies() {
    ledger::Ledger ledger(db());
    for (const auto& check : ledger.verify()) {
      EXPECT_EQ(check.violations, 0) << check.name << ": " << check.sample;
    }
    const auto tb = ledger.trial_balance();
    EXPECT_EQ(tb.total_debits_fen, tb.total_credits_fen);
  }
};

}  // namespace promoledger::testing
