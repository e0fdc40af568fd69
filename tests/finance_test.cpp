// Reports and audit on a small fixed data set: library figures checked value by value, the CLI's
// output compared with golden files, and `audit verify` failing on deliberately broken databases.
// Golden files: tests/golden/*. To rewrite them after an intended change, run the test with
// PROMOLEDGER_UPDATE_GOLDEN=1 and review the diff.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "small_bank.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/finance.hpp"

#ifndef PROMOLEDGER_GOLDEN_DIR
#error "PROMOLEDGER_GOLDEN_DIR must be defined by the build"
#endif

namespace promoledger::testing {
namespace {

using promo::Channel;

class FinanceTest : public PromoTest {
 protected:
  void SetUp() override {
    PromoTest::SetUp();
    promo::Campaigns campaigns(db());
    auto id = campaigns.create(pilot_params({"M1", "M3"}), nlohmann::json{{"name", "fixed"}}, "alice");
    ASSERT_TRUE(id.has_value());
    // A fixed secret (allowed while the campaign is a draft) makes every card, and so every figure, fixed.
    tdb_.exec_as_admin(fmt::format("UPDATE promo.campaign SET secret = decode(repeat('5a', 32), 'hex') WHERE id = {}", *id));
    ASSERT_TRUE(campaigns.approve(*id, "bob").has_value());
    campaign_id_ = *id;
    ASSERT_EQ(promo::deal_day(db(), day("2026-11-24")).decks_dealt, 2);
    promo::PaymentPoster poster(db());
    struct P {
      const char* id;
      const char* payer;
      const char* merchant;
      Channel channel;
      const char* amount;
      const char* at;
    };
    for (const P& p : {P{"f1", "P1", "M1", Channel::bank_app, "100.00", "2026-11-24T12:00:00+08:00"},
                       P{"f2", "P2", "M1", Channel::wechat, "35.50", "2026-11-24T12:01:00+08:00"},
                       P{"f3", "P3", "M1", Channel::bank_app, "9.99", "2026-11-24T12:02:00+08:00"},
                       P{"f4", "P4", "M3", Channel::bank_app, "48.00", "2026-11-24T12:03:00+08:00"},
                       P{"f5", "P5", "M2", Channel::alipay, "22.00", "2026-11-24T12:04:00+08:00"},
                       P{"f6", "P6", "M3", Channel::bank_app, "10.00", "2026-11-24T12:05:00+08:00"}}) {
      ASSERT_TRUE(poster.post(payment(p.id, p.payer, p.merchant, p.channel, p.amount, p.at)).has_value()) << p.id;
    }
    ASSERT_TRUE(poster.reverse("f6", day("2026-11-24")).has_value());
    promo::close_day(db(), day("2026-11-24"));
  }

  long long card(const char* merchant, int position) {
    return scalar(fmt::format("SELECT cards_fen[{}] FROM promo.deck d JOIN ledger.merchant m ON m.id = d.merchant_id "
                              "WHERE m.code = '{}'",
                              position, merchant));
  }

  // The command's stdout and stderr together, as a terminal shows them (the golden files hold both).
  std::string cli(const std::vector<std::string>& args, int expected_exit = 0) {
    const auto bin = promoledger_bin();
    EXPECT_TRUE(bin.has_value()) << "PROMOLEDGER_BIN is not set";
    if (!bin) return "";
    const CliRunner runner(*bin, tdb_.conninfo(), std::filesystem::temp_directory_path() / ("finance-" + tdb_.name()));
    const CliRun r = runner.run_merged(args);
    EXPECT_EQ(r.exit_code, expected_exit) << fmt::format("{}", fmt::join(args, " "));
    return r.out;
  }

  void expect_golden(const std::string& name, const std::string& actual) {
    const std::filesystem::path path = std::filesystem::path(PROMOLEDGER_GOLDEN_DIR) / name;
    if (std::getenv("PROMOLEDGER_UPDATE_GOLDEN") != nullptr) {
      std::ofstream(path) << actual;
      return;
    }
    std::ifstream in(path);
    ASSERT_TRUE(in.good()) << "missing golden file " << path << " (run with PROMOLEDGER_UPDATE_GOLDEN=1 once)";
    const std::string expected((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(actual, expected) << "output differs from " << path;
  }

  std::int64_t campaign_id_ = 0;
};

TEST_F(FinanceTest, OutletReportFiguresRollUpExactly) {
  const auto report = promo::report_outlets(db(), day("2026-11-24"), day("2026-11-24"));
  ASSERT_TRUE(report.has_value()) << report.error().detail;
  const auto& rows = report->rows;
  ASSERT_EQ(rows.size(), 4u);  // O1, O2, SB1, BR1
  const auto& o1 = rows[0];
  const auto& o2 = rows[1];
  const auto& sb = rows[2];
  const auto& br = rows[3];
  EXPECT_EQ(o1.outlet, "O1");
  EXPECT_EQ(o1.total.payments, 4);
  EXPECT_EQ(o1.total.amount_fen, 10000 + 3550 + 999 + 2200);
  EXPECT_EQ(o1.bank_app.payments, 2);
  EXPECT_EQ(o1.wechat.payments, 1);
  EXPECT_EQ(o1.alipay.payments, 1);
  EXPECT_EQ(o1.discounted, 1);
  EXPECT_EQ(o1.subsidy_fen, card("M1", 1));
  EXPECT_EQ(o2.outlet, "O2");
  EXPECT_EQ(o2.total.payments, 2);
  EXPECT_EQ(o2.bank_app.payments, 2);
  EXPECT_EQ(o2.discounted, 2);
  EXPECT_EQ(o2.subsidy_fen, card("M3", 1) + card("M3", 2));
  EXPECT_EQ(o2.reversed, 1);
  EXPECT_EQ(o2.payer_part_fen + o2.merchant_part_fen, o2.subsidy_fen);
  EXPECT_EQ(sb.level, "sub_branch");
  EXPECT_EQ(br.level, "branch");
  EXPECT_EQ(sb.total.payments, 6);
  EXPECT_EQ(br.subsidy_fen, o1.subsidy_fen + o2.subsidy_fen);
  EXPECT_EQ(promo::share_percent(br.bank_app.payments, br.total.payments), "66.67%");
  EXPECT_EQ(promo::share_percent(2, 3), "66.67%");
  EXPECT_EQ(promo::share_percent(1, 8), "12.50%");
  EXPECT_EQ(promo::share_percent(0, 0), "0.00%");
  EXPECT_EQ(promo::share_percent(1, 1), "100.00%");
}

TEST_F(FinanceTest, CampaignReportCountsCardsAndBandShare) {
  const auto report = promo::report_campaign(db(), campaign_id_, day("2026-11-24"), day("2026-11-24"));
  ASSERT_TRUE(report.has_value()) << report.error().detail;
  const auto& rows = report->rows;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].merchant, "M1");
  EXPECT_EQ(rows[0].deck_status, "closed");
  EXPECT_EQ(rows[0].cards_dealt, 20);
  EXPECT_EQ(rows[0].cards_used, 1);
  EXPECT_EQ(rows[0].cards_expired, 19);
  EXPECT_EQ(rows[0].subsidy_fen, card("M1", 1));
  EXPECT_EQ(rows[1].merchant, "M3");
  EXPECT_EQ(rows[1].cards_used, 2);  // the reversed payment's card still counts
  EXPECT_EQ(rows[1].cards_expired, 18);
  const long long in_band = (card("M3", 1) >= 700 && card("M3", 1) <= 900) + (card("M3", 2) >= 700 && card("M3", 2) <= 900);
  EXPECT_EQ(rows[1].used_in_band, in_band);
}

TEST_F(FinanceTest, CliReportsMatchTheirGoldenFiles) {
  expect_golden("report-outlets.txt", cli({"report", "outlets", "--from", "2026-11-24", "--to", "2026-11-24"}));
  expect_golden("report-outlets.csv", cli({"--csv", "report", "outlets", "--from", "2026-11-24", "--to", "2026-11-24"}));
  expect_golden("report-campaign.txt",
                cli({"report", "campaign", std::to_string(campaign_id_), "--from", "2026-11-24", "--to", "2026-11-24"}));
  const std::string tb = cli({"--json", "report", "trial-balance"});
  expect_golden("trial-balance.json", tb);
  const auto parsed = nlohmann::json::parse(tb);
  EXPECT_EQ(parsed["total_debits"], parsed["total_credits"]);
  EXPECT_EQ(parsed["balanced"], true);
  expect_golden("statement-payer-P1.txt",
                cli({"report", "statement", "--account", "payer:P1:deposit", "--from", "2026-11-01", "--to", "2026-11-30"}));
}

TEST_F(FinanceTest, AuditTraceShowsTheWholeChain) {
  const auto t = promo::trace_payment(db(), "f1");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ((*t)["payment"]["amount"], "100.00");
  EXPECT_EQ((*t)["decision"]["discounted"], true);
  EXPECT_EQ((*t)["card"]["position"], 1);
  EXPECT_EQ((*t)["card"]["amount"], ledger::format_fen(card("M1", 1)));
  EXPECT_EQ((*t)["card"]["algorithm_version"], 1);
  EXPECT_FALSE((*t)["card"]["seed_revealed"].is_null());  // the day is closed
  EXPECT_EQ((*t)["campaign"]["created_by"], "alice");
  EXPECT_EQ((*t)["campaign"]["approved_by"], "bob");
  EXPECT_EQ((*t)["entry"]["lines"].size(), 3u);
  EXPECT_EQ((*t)["entry"]["lines"][1]["account"], "outlet:O1:subsidy:660101");
  EXPECT_EQ((*t)["accounts"].size(), 3u);
  const auto reversed = promo::trace_payment(db(), "f6");
  ASSERT_TRUE(reversed.has_value());
  EXPECT_TRUE(reversed->contains("reversal"));
  EXPECT_FALSE(promo::trace_payment(db(), "nope").has_value());
  const std::string text = cli({"audit", "trace", "--payment-id", "f1"});
  EXPECT_NE(text.find("approved by bob"), std::string::npos) << text;
  EXPECT_NE(cli({"audit", "trace", "--payment-id", "nope"}, 1).find("no payment nope"), std::string::npos);
  const auto subsidies = promo::outlet_subsidies(db(), "O2", day("2026-11-24"), day("2026-11-24"), 1000);
  ASSERT_TRUE(subsidies.has_value());
  ASSERT_EQ(subsidies->size(), 2u);
  EXPECT_TRUE((*subsidies)[1].reversed);
  EXPECT_FALSE(promo::outlet_subsidies(db(), "NOPE", day("2026-11-24"), day("2026-11-24"), 1000).has_value());
  EXPECT_NE(cli({"audit", "subsidies", "--outlet", "O1", "--from", "2026-11-25", "--to", "2026-11-24"}, 2).find("after"),
            std::string::npos);
  EXPECT_NE(cli({"report", "outlets", "--from", "2026-02-30", "--to", "2026-03-01"}, 2).find("not a calendar date"),
            std::string::npos);
}

class VerifyTest : public FinanceTest {
 protected:
  std::set<std::string> failing() {
    std::set<std::string> names;
    for (const auto& c : promo::verify_all(db()).checks) {
      if (!c.ok()) names.insert(c.name);
    }
    return names;
  }
  void expect_cli_fails(const std::string& check) {
    const auto out = nlohmann::json::parse(cli({"--json", "audit", "verify"}, 1));
    EXPECT_EQ(out["ok"], false);
    bool named = false;
    for (const auto& c : out["checks"]) named = named || (c["name"] == check && c["ok"] == false);
    EXPECT_TRUE(named) << check << " not failed in " << out.dump();
  }
};

TEST_F(VerifyTest, ACleanDatabasePassesEveryCheck) {
  EXPECT_TRUE(failing().empty());
  const auto out = nlohmann::json::parse(cli({"--json", "audit", "verify"}));
  EXPECT_EQ(out["ok"], true);
  // Twelve until migration 0010 added outlet_daily_budget.
  EXPECT_EQ(out["checks"].size(), 13u);
  EXPECT_EQ(out["checks"].size(), promo::audit_check_names().size());
  EXPECT_EQ(out["chain_digest"].get<std::string>().size(), 64u);
}

TEST_F(VerifyTest, ATamperedAmountFails) {
  tdb_.exec_as_admin("SET session_replication_role = replica; UPDATE ledger.journal_line SET amount_fen = amount_fen + 1 "
                     "WHERE entry_id = (SELECT entry_id FROM promo.payment WHERE payment_id = 'f2') AND line_no = 1");
  EXPECT_TRUE(failing().count("hash_chain_links"));
  expect_cli_fails("hash_chain_links");
}

TEST_F(VerifyTest, AlteredDeckCardsFail) {
  tdb_.exec_as_admin("UPDATE promo.deck SET cards_fen[20] = 1000, cards_fen[19] = 1000 "
                     "WHERE merchant_id = (SELECT id FROM ledger.merchant WHERE code = 'M1')");
  const auto names = failing();
  EXPECT_TRUE(names.count("decks_redeal"));
  expect_cli_fails("decks_redeal");
}

TEST_F(VerifyTest, APaymentOverTheCapFails) {
  tdb_.exec_as_admin(fmt::format(
      "SET session_replication_role = replica; UPDATE promo.campaign SET cards_per_day = 1 WHERE id = {}", campaign_id_));
  EXPECT_TRUE(failing().count("daily_cap"));
  expect_cli_fails("daily_cap");
}

TEST_F(VerifyTest, ASubsidyWithoutACardFails) {
  // A legal posting, but nothing on the promotion side stands behind this subsidy debit. Into
  // 2026-11-25: the fixture closed 2026-11-24, and a closed day takes no entry at all.
  ledger::Ledger ledger(db());
  ASSERT_TRUE(ledger.post(*ledger::EntryBuilder("stray", "transfer", day("2026-11-25"))
                               .debit("outlet:O1:subsidy:660101", cny("5.00"))
                               .credit("merchant:M1:settlement", cny("5.00"))
                               .build()));
  EXPECT_TRUE(failing().count("subsidy_lines_match_cards"));
  expect_cli_fails("subsidy_lines_match_cards");
}

}  // namespace
}  // namespace promoledger::testing
