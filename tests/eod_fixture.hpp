#pragma once
// The end-of-day tests' bank: the small bank (small_bank.hpp: BR1 -> SB1 -> O1 (M1, M2), O2 (M3), payers
// P1..P40 opened on 2026-11-23) plus a second branch BR2 -> SB2 -> O3 (M4), the pilot campaign on M1, M2
// and M3, and a day of payments:
//   2026-11-23  e0 (P9 -> M1, wechat 18.00, 23:59:58: it reaches the clearing side after midnight),
//               e00 (P10 -> M3, bank_app 30.00, reversed on 2026-11-24)
//   2026-11-24  e1..e9 across channels, merchants and both branches; e4 reversed the same day; and a
//               general entry with two lines in one GL record (fees from P11 and P12 to bank:funding)
// and 2026-11-24 closed (which closes 2026-11-23 too). The GL mapping is set by map_everything().

#include <string>
#include <vector>

#include <fmt/format.h>

#include "small_bank.hpp"

namespace promoledger::testing {

struct DayPayment {
  const char* id;
  const char* payer;
  const char* merchant;
  promo::Channel channel;
  const char* amount;
  const char* at;
};

inline const std::vector<DayPayment>& eod_day_payments() {
  using promo::Channel;
  static const std::vector<DayPayment> payments = {
      {"e1", "P1", "M1", Channel::bank_app, "100.00", "2026-11-24T09:00:00+08:00"},
      {"e2", "P2", "M1", Channel::wechat, "35.50", "2026-11-24T09:05:00+08:00"},
      {"e3", "P3", "M2", Channel::bank_app, "48.00", "2026-11-24T10:00:00+08:00"},
      {"e4", "P4", "M3", Channel::bank_app, "20.00", "2026-11-24T11:00:00+08:00"},
      {"e5", "P5", "M3", Channel::alipay, "22.00", "2026-11-24T12:00:00+08:00"},
      {"e6", "P6", "M4", Channel::wechat, "66.60", "2026-11-24T13:00:00+08:00"},
      {"e7", "P7", "M4", Channel::alipay, "12.34", "2026-11-24T14:00:00+08:00"},
      {"e8", "P8", "M2", Channel::wechat, "9.99", "2026-11-24T15:00:00+08:00"},
      {"e9", "P1", "M1", Channel::bank_app, "250.00", "2026-11-24T23:59:59+08:00"},
  };
  return payments;
}

class EodTest : public PromoTest {
 protected:
  void SetUp() override {
    PromoTest::SetUp();
    tdb_.exec_as_admin(
        "SELECT ledger.add_org_unit('BR2', 'branch', 'Branch 2', NULL);"
        "SELECT ledger.add_org_unit('SB2', 'sub_branch', 'Sub-branch 2', 'BR2');"
        "SELECT ledger.add_org_unit('O3', 'outlet', 'Outlet 3', 'SB2');"
        "SELECT ledger.add_merchant('M4', 'Buns', 'O3');");
    campaign_ = approved_campaign(pilot_params({"M1", "M2", "M3"}, "2026-11-23", "2026-11-30"));
    ASSERT_GT(promo::deal_day(db(), day("2026-11-23")).decks_dealt, 0);
    ASSERT_GT(promo::deal_day(db(), day("2026-11-24")).decks_dealt, 0);
    promo::PaymentPoster poster(db());
    post(poster, {"e0", "P9", "M1", promo::Channel::wechat, "18.00", "2026-11-23T23:59:58+08:00"});
    post(poster, {"e00", "P10", "M3", promo::Channel::bank_app, "30.00", "2026-11-23T20:00:00+08:00"});
    for (const DayPayment& p : eod_day_payments()) post(poster, p);
    ASSERT_TRUE(poster.reverse("e4", day("2026-11-24")).has_value());
    ASSERT_TRUE(poster.reverse("e00", day("2026-11-24")).has_value());
    auto fees = ledger::EntryBuilder("fees:2026-11-24", "fee", day("2026-11-24"))
                    .debit("payer:P11:deposit", cny("1.00"))
                    .debit("payer:P12:deposit", cny("2.00"))
                    .credit("bank:funding", cny("3.00"))
                    .build();
    ASSERT_TRUE(fees.has_value());
    ASSERT_TRUE(ledger::Ledger(db()).post(*fees).has_value());
    promo::close_day(db(), day("2026-11-24"));
  }

  void post(promo::PaymentPoster& poster, const DayPayment& p) {
    auto r = poster.post(payment(p.id, p.payer, p.merchant, p.channel, p.amount, p.at));
    ASSERT_TRUE(r.has_value()) << p.id << ": " << (r ? "" : r.error().message);
  }

  // payer deposits and bank funding booked at BR1 (payers have no home unit), merchants' transit and the
  // subsidies at their outlet, inter-unit balancing at each unit.
  void map_everything() {
    tdb_.exec_as_admin(
        "INSERT INTO eod.gl_mapping (account_class, gl_account, booking, org_unit_id, reason) VALUES "
        "('payer_deposit', '201101', 'fixed', (SELECT id FROM ledger.org_unit WHERE code = 'BR1'), 'deposits'),"
        "('bank_funding', '100101', 'fixed', (SELECT id FROM ledger.org_unit WHERE code = 'BR1'), 'funding'),"
        "('merchant_settlement', '224101', 'account_unit', NULL, 'transit'),"
        "('outlet_subsidy', NULL, 'account_unit', NULL, 'campaign GL'),"
        "('inter_unit', '300101', 'account_unit', NULL, 'inter-unit')");
  }

  std::int64_t campaign_ = 0;
};

}  // namespace promoledger::testing
