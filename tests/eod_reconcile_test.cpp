// Reconciliation with the clearing side (eod/reconcile.hpp): the clean file of each profile matches
// every item; files with one planted difference of each category report exactly those; a re-run
// answers the stored run; a bad file or an open day stores nothing.
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "eod_clearing_files.hpp"
#include "eod_fixture.hpp"
#include "promoledger/eod/reconcile.hpp"

namespace promoledger::testing {
namespace {

using eod::Profile;
using eod::ReconCategory;

class ReconcileTest : public EodTest {
 protected:
  eod::ReconRun run(Profile p, const std::string& bytes, const char* business_day = "2026-11-24") {
    auto r = eod::reconcile(db(), p, day(business_day), "file.csv", bytes);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r ? *r : eod::ReconRun{};
  }
  std::string clean(Profile p) {
    auto f = eod::clearing_file_of_day(db(), p, day("2026-11-24"));
    EXPECT_TRUE(f.has_value());
    return f ? *f : "";
  }
  // The differences as payment id -> category.
  static std::map<std::string, std::string> differences(const eod::ReconRun& r) {
    std::map<std::string, std::string> out;
    for (const auto& it : r.items) out[it.payment_id] = std::string(eod::to_string(it.category));
    return out;
  }
  long long runs() { return scalar("SELECT count(*) FROM eod.recon_run"); }
};

// Rewrites a platform file's lines (a function per line, which may drop one by returning "") and
// appends extra rows, then writes the summary again from the rows, as the platform would.
std::string edit_platform(const std::string& file, const std::function<std::string(const std::string&)>& edit,
                          const std::vector<std::string>& extra) {
  std::istringstream in(file);
  std::string line, out;
  std::vector<std::string> rows;
  std::getline(in, line);
  out = line + "\n";
  while (std::getline(in, line)) {
    if (line.starts_with("#summary")) continue;
    const std::string edited = edit(line);
    if (!edited.empty()) rows.push_back(edited);
  }
  for (const auto& e : extra) rows.push_back(e);
  ledger::WideFen pays = 0, refunds = 0;
  for (const auto& r : rows) {
    std::vector<std::string> f;
    std::stringstream ss(r);
    std::string cell;
    while (std::getline(ss, cell, ',')) f.push_back(cell);
    const auto amount = fen_of(f.at(4));
    if (f.at(7) != "REFUND") pays += amount;
    if (f.at(7) != "SUCCESS") refunds += amount;
    out += r + "\n";
  }
  return out + fmt::format("#summary,{},{},{}\n", rows.size(), ledger::format_fen(pays), ledger::format_fen(refunds));
}

std::string replace_in(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST_F(ReconcileTest, TheCleanFileOfEachProfileMatchesEveryItem) {
  // The platform sees every channel: e1..e9 of the day (e4 paid and reversed) and e00's reversal.
  const auto platform = run(Profile::platform, clean(Profile::platform));
  EXPECT_EQ(platform.counts.matched, 10);
  EXPECT_EQ(platform.counts.differences(), 0);
  EXPECT_TRUE(platform.items.empty());
  EXPECT_EQ(platform.ledger_payments, 9);
  EXPECT_EQ(platform.ledger_refunds, 2);
  EXPECT_EQ(platform.clearing_payments_fen, platform.ledger_payments_fen);
  EXPECT_EQ(platform.clearing_refunds_fen, platform.ledger_refunds_fen);
  EXPECT_EQ(platform.difference_fen(), 0);
  EXPECT_EQ(*platform.summary.rows, 10);
  // WeChat: e2, e6, e8; Alipay: e5, e7.
  const auto wechat = run(Profile::wechat, clean(Profile::wechat));
  EXPECT_EQ(wechat.counts.matched, 3);
  EXPECT_EQ(wechat.counts.differences(), 0);
  EXPECT_EQ(wechat.ledger_payments_fen, 3550 + 6660 + 999);
  const auto alipay = run(Profile::alipay, clean(Profile::alipay));
  EXPECT_EQ(alipay.counts.matched, 2);
  EXPECT_EQ(alipay.counts.differences(), 0);
  EXPECT_EQ(runs(), 3);
}

TEST_F(ReconcileTest, EveryCategoryPlantedOnceIsReportedAndNothingElse) {
  // From the platform's clean file: e2 dropped (we booked, they did not), a payment nobody booked,
  // e3's amount off by a fen, e5 refunded on their side only, and e0, which the ledger has on
  // 2026-11-23 at 23:59:58, reaching them two seconds after midnight.
  const std::string planted = edit_platform(
      clean(Profile::platform),
      [](const std::string& line) {
        if (line.starts_with("e2,")) return std::string();
        if (line.starts_with("e3,")) return replace_in(line, ",48.00,", ",48.01,");
        if (line.starts_with("e5,")) return replace_in(line, ",SUCCESS", ",REVERSED");
        return line;
      },
      {"ghost-1,bank_app,M1,P1,77.00,0.00,2026-11-24T18:00:00+08:00,SUCCESS",
       "e0,wechat,M1,P9,18.00,0.00,2026-11-24T00:00:01+08:00,SUCCESS"});
  const auto r = run(Profile::platform, planted);
  EXPECT_EQ(differences(r), (std::map<std::string, std::string>{{"e2", "LEDGER_ONLY"},
                                                                 {"ghost-1", "CLEARING_ONLY"},
                                                                 {"e3", "AMOUNT_MISMATCH"},
                                                                 {"e5", "STATUS_MISMATCH"},
                                                                 {"e0", "CUTOFF"}}));
  EXPECT_EQ(r.counts.matched, 7);  // e1, e4, e6, e7, e8, e9 and e00's reversal
  EXPECT_EQ(r.counts.ledger_only, 1);
  EXPECT_EQ(r.counts.clearing_only, 1);
  EXPECT_EQ(r.counts.amount_mismatch, 1);
  EXPECT_EQ(r.counts.status_mismatch, 1);
  EXPECT_EQ(r.counts.cutoff, 1);
  // The most serious first, and each item says what it is.
  ASSERT_EQ(r.items.size(), 5u);
  EXPECT_EQ(r.items[0].category, ReconCategory::clearing_only);
  EXPECT_EQ(r.items[0].clearing_amount_fen, 7700);
  EXPECT_FALSE(r.items[0].ledger_amount_fen.has_value());
  for (const auto& it : r.items) {
    if (it.payment_id == "e3") {
      EXPECT_EQ(it.ledger_amount_fen, 4800);
      EXPECT_EQ(it.clearing_amount_fen, 4801);
      EXPECT_EQ(it.detail, "ledger 48.00, clearing 48.01");
    }
    if (it.payment_id == "e0") {
      EXPECT_EQ(it.ledger_day, "2026-11-23");
      EXPECT_NE(it.detail.find("the ledger booked it on 2026-11-23"), std::string::npos) << it.detail;
    }
    if (it.payment_id == "e5") {
      EXPECT_EQ(it.clearing_status, "paid, refunded");
    }
    if (it.payment_id == "e2") {
      EXPECT_FALSE(it.file_line.has_value());
    }
  }
  // Totals: 77.00 + 18.00 more settled, 35.50 less, 0.01 more, and e5's 22.00 refunded.
  EXPECT_EQ(r.difference_fen(), 7700 + 1800 - 3550 + 1 - 2200);
  // Stored: the run and its five differences.
  EXPECT_EQ(scalar("SELECT count(*) FROM eod.recon_item WHERE run_id = " + std::to_string(r.id)), 5);
}

TEST_F(ReconcileTest, WeChatAndAlipayFilesReportTheirPlantedDifferences) {
  // WeChat's day: e2 matches, e6 is off by a fen, e8 is missing, e0 arrives after midnight, and a
  // payment nobody booked.
  const auto w = run(Profile::wechat, wechat_bill({{"e2", "35.50", "2026-11-24 09:05:00", "SUCCESS"},
                                                   {"e6", "66.61", "2026-11-24 13:00:00", "SUCCESS"},
                                                   {"e0", "18.00", "2026-11-24 00:00:02", "SUCCESS"},
                                                   {"wx-ghost", "5.00", "2026-11-24 20:00:00", "SUCCESS"}}));
  EXPECT_EQ(differences(w), (std::map<std::string, std::string>{{"e6", "AMOUNT_MISMATCH"},
                                                                 {"e8", "LEDGER_ONLY"},
                                                                 {"e0", "CUTOFF"},
                                                                 {"wx-ghost", "CLEARING_ONLY"}}));
  EXPECT_EQ(w.counts.matched, 1);
  // Alipay's: e5 matches, e7 is refunded on their side only.
  const auto a = run(Profile::alipay, alipay_detail({{"e5", "22.00", "2026-11-24 12:00:00", "交易"},
                                                     {"e7", "12.34", "2026-11-24 14:00:00", "交易"},
                                                     {"e7", "12.34", "2026-11-24 16:00:00", "退款"}}));
  EXPECT_EQ(differences(a), (std::map<std::string, std::string>{{"e7", "STATUS_MISMATCH"}}));
  EXPECT_EQ(a.counts.matched, 1);
  EXPECT_EQ(*a.summary.rows, 3);
}

TEST_F(ReconcileTest, TheSameFileAgainAnswersTheStoredRun) {
  const std::string file = clean(Profile::wechat);
  const auto first = run(Profile::wechat, file);
  EXPECT_FALSE(first.stored_before);
  const auto again = run(Profile::wechat, file);
  EXPECT_TRUE(again.stored_before);
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.file_sha256, first.file_sha256);
  EXPECT_EQ(runs(), 1);
  // Another file of the same day is another run.
  const auto other = run(Profile::wechat, wechat_bill({{"e2", "35.50", "2026-11-24 09:05:00", "SUCCESS"}}));
  EXPECT_NE(other.id, first.id);
  EXPECT_EQ(other.counts.ledger_only, 2);
  EXPECT_EQ(runs(), 2);
  const auto listed = eod::runs_of_day(db(), day("2026-11-24"));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, other.id);  // newest first
  EXPECT_EQ(listed[0].items.size(), 2u);
}

TEST_F(ReconcileTest, ABadFileOrAnOpenDayStoresNothing) {
  const auto bad = eod::reconcile(db(), Profile::platform, day("2026-11-24"), "cut.csv",
                                  replace_in(clean(Profile::platform), "#summary", "#summery"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, eod::Code::truncated_file);
  const auto open = eod::reconcile(db(), Profile::platform, day("2026-11-25"), "next.csv", clean(Profile::platform));
  ASSERT_FALSE(open.has_value());
  EXPECT_EQ(open.error().code, eod::Code::business_day_open);
  EXPECT_EQ(eod::clearing_file_of_day(db(), Profile::platform, day("2026-11-25")).error().code,
            eod::Code::business_day_open);
  EXPECT_EQ(runs(), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM eod.recon_item"), 0);
}

}  // namespace
}  // namespace promoledger::testing
