// The report row limit (promo::report_rows_max): a report at its limit is whole, one row more is
// refused as a whole with report_too_large naming the report, the limit and how to narrow it, and the
// narrowed request then fits. The limit is lowered through the rows_max parameter, so a handful of rows
// stands in for 100,000. Self-contained on purpose: only the fresh database of test_db.hpp.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "pilot.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/dealing.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/payments.hpp"
#include "promoledger/promo/views.hpp"
#include "test_db.hpp"

namespace promoledger::testing {
namespace {

using promo::ReportRefusal;

date::year_month_day on(const char* text) { return ledger::parse_day(text).value(); }

// The tests' pilot campaign (tests/support/pilot.hpp) under another name.
promo::CampaignParams params(const char* name, std::vector<std::string> merchants, const char* first, const char* last) {
  promo::CampaignParams p = pilot_params(std::move(merchants), first, last);
  p.name = name;
  return p;
}

// BR1 -> SB1 -> O1 (M1), O2 (M3); payers P1, P2 with 1,000.00 each; one approved campaign on M1 and M3
// for 2026-11-24..25, dealt for both days: 4 campaign rows, 4 outlet rows (O1, O2, SB1, BR1).
class ReportLimitTest : public DbTest {
 protected:
  void SetUp() override {
    tdb_.exec_as_admin(
        "SELECT ledger.add_org_unit('BR1', 'branch', 'Branch 1', NULL);"
        "SELECT ledger.add_org_unit('SB1', 'sub_branch', 'Sub-branch 1', 'BR1');"
        "SELECT ledger.add_org_unit('O1', 'outlet', 'Outlet 1', 'SB1');"
        "SELECT ledger.add_org_unit('O2', 'outlet', 'Outlet 2', 'SB1');"
        "SELECT ledger.add_merchant('M1', 'Noodles', 'O1');"
        "SELECT ledger.add_merchant('M3', 'Tea', 'O2');"
        "SELECT ledger.open_account('bank:funding', 'funding', 'asset', NULL, NULL);"
        "SELECT ledger.add_payer('P1', 'Payer 1');"
        "SELECT ledger.add_payer('P2', 'Payer 2');");
    ledger::Ledger ledger(db());
    for (const char* payer : {"P1", "P2"}) {
      auto entry = ledger::EntryBuilder(fmt::format("open:{}", payer), "opening", on("2026-11-23"))
                       .debit("bank:funding", cny("1000.00"))
                       .credit(fmt::format("payer:{}:deposit", payer), cny("1000.00"))
                       .build();
      ASSERT_TRUE(entry.has_value());
      ASSERT_TRUE(ledger.post(*entry).has_value());
    }
    const promo::CampaignParams p = params("limit", {"M1", "M3"}, "2026-11-24", "2026-11-25");
    promo::Campaigns campaigns(db());
    auto id = campaigns.create(p, nlohmann::json{{"name", p.name}}, "alice");
    ASSERT_TRUE(id.has_value()) << id.error().message;
    ASSERT_TRUE(campaigns.approve(*id, "bob").has_value());
    campaign_id_ = *id;
    ASSERT_EQ(promo::deal_day(db(), on("2026-11-24")).decks_dealt, 2);
    ASSERT_EQ(promo::deal_day(db(), on("2026-11-25")).decks_dealt, 2);
  }

  ledger::Database& db() { return tdb_.db(4); }

  void pay(const char* id, const char* payer, const char* when) {
    promo::PaymentPoster poster(db());
    const auto paid = poster.post(promo::PaymentRequest{id, payer, "M1", promo::Channel::bank_app, cny("50.00"),
                                                        ledger::parse_timestamp(when).value()});
    ASSERT_TRUE(paid.has_value()) << id;
    ASSERT_TRUE(paid->discounted) << id;
  }

  std::int64_t campaign_id_ = 0;
};

TEST_F(ReportLimitTest, OutletReportAtItsLimitIsWholeOneRowMoreIsRefusedACoarserLevelFits) {
  const auto whole = promo::report_outlets(db(), on("2026-11-24"), on("2026-11-25"), promo::OutletLevel::all, 4);
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  ASSERT_EQ(whole->rows.size(), 4u);
  EXPECT_EQ(whole->rows.back().level, ledger::OrgKind::branch);
  EXPECT_EQ(whole->budgets.size(), 1u);

  const auto refused = promo::report_outlets(db(), on("2026-11-24"), on("2026-11-25"), promo::OutletLevel::all, 3);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ReportRefusal::report_too_large);
  EXPECT_EQ(refused.error().report, "report outlets");
  EXPECT_EQ(refused.error().rows_max, 3u);
  EXPECT_NE(refused.error().message.find("more than 3 rows"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("level sub_branch or branch"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().field, "level");  // the parameter that narrows it

  // The level is applied in SQL: the coarser report fits where the full one did not.
  const auto branch = promo::report_outlets(db(), on("2026-11-24"), on("2026-11-25"), promo::OutletLevel::branch, 1);
  ASSERT_TRUE(branch.has_value()) << branch.error().message;
  ASSERT_EQ(branch->rows.size(), 1u);
  EXPECT_EQ(branch->rows[0].branch, "BR1");
  EXPECT_EQ(branch->rows[0].level, ledger::OrgKind::branch);
  const auto outlets = promo::report_outlets(db(), on("2026-11-24"), on("2026-11-25"), promo::OutletLevel::outlet);
  ASSERT_TRUE(outlets.has_value());
  ASSERT_EQ(outlets->rows.size(), 2u);
  EXPECT_EQ(outlets->rows[1].outlet, "O2");
}

TEST_F(ReportLimitTest, TheBudgetsTableCountsAgainstTheLimitToo) {
  // One campaign: a one-row budgets table fits a limit of 1 at the branch level.
  const auto fits = promo::report_outlets(db(), on("2026-11-24"), on("2026-11-24"), promo::OutletLevel::branch, 1);
  ASSERT_TRUE(fits.has_value()) << fits.error().message;
  EXPECT_EQ(fits->budgets.size(), 1u);
  // A second campaign (a draft is enough) makes the budgets table two rows.
  tdb_.exec_as_admin("SELECT ledger.add_merchant('M9', 'Buns', 'O1');");
  const promo::CampaignParams second = params("second", {"M9"}, "2026-12-01", "2026-12-02");
  ASSERT_TRUE(promo::Campaigns(db()).create(second, nlohmann::json{{"name", second.name}}, "alice").has_value());
  const auto refused = promo::report_outlets(db(), on("2026-11-24"), on("2026-11-24"), promo::OutletLevel::branch, 1);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ReportRefusal::report_too_large);
  EXPECT_NE(refused.error().message.find("campaigns in the budgets table"), std::string::npos) << refused.error().message;
}

TEST_F(ReportLimitTest, CampaignReportAtItsLimitIsWholeOneRowMoreIsRefusedAShorterRangeFits) {
  // No days given: the campaign's own first and last day.
  const auto whole = promo::report_campaign(db(), campaign_id_, std::nullopt, std::nullopt, 4);
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  EXPECT_EQ(whole->from, "2026-11-24");
  EXPECT_EQ(whole->to, "2026-11-25");
  ASSERT_EQ(whole->rows.size(), 4u);

  const auto refused = promo::report_campaign(db(), campaign_id_, std::nullopt, std::nullopt, 3);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ReportRefusal::report_too_large);
  EXPECT_EQ(refused.error().rows_max, 3u);
  EXPECT_EQ(refused.error().report, fmt::format("report campaign {}", campaign_id_));
  EXPECT_NE(refused.error().message.find("shorter day range"), std::string::npos) << refused.error().message;
  const auto body = promo::views::to_json(refused.error());
  EXPECT_EQ(body["error"], "report_too_large");
  EXPECT_EQ(body["rows_max"], 3);
  EXPECT_EQ(body["message"], refused.error().message);
  EXPECT_EQ(body["field"], "from");

  const auto one_day = promo::report_campaign(db(), campaign_id_, on("2026-11-25"), std::nullopt, 3);
  ASSERT_TRUE(one_day.has_value()) << one_day.error().message;
  EXPECT_EQ(one_day->from, "2026-11-25");
  ASSERT_EQ(one_day->rows.size(), 2u);
  EXPECT_EQ(promo::views::to_json(*one_day).size(), 3u);  // two rows and the total

  const auto unknown = promo::report_campaign(db(), campaign_id_ + 1000, std::nullopt, std::nullopt);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ReportRefusal::unknown_campaign);
  // A given day after the campaign's last day makes the range backwards.
  const auto backwards = promo::report_campaign(db(), campaign_id_, on("2026-11-30"), std::nullopt);
  ASSERT_FALSE(backwards.has_value());
  EXPECT_EQ(backwards.error().code, ReportRefusal::bad_range);
  EXPECT_NE(backwards.error().message.find("is after"), std::string::npos) << backwards.error().message;
}

TEST_F(ReportLimitTest, SubsidiesAtTheirLimitAreWholeOneMoreIsRefused) {
  pay("s1", "P1", "2026-11-24T12:00:00+08:00");
  pay("s2", "P2", "2026-11-25T12:00:00+08:00");
  const auto whole = promo::audit_subsidies(db(), "O1", on("2026-11-24"), on("2026-11-25"), 2);
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  ASSERT_EQ(whole->rows.size(), 2u);
  EXPECT_EQ(whole->discount_fen, whole->rows[0].discount_fen + whole->rows[1].discount_fen);
  EXPECT_EQ(whole->payer_part_fen + whole->merchant_part_fen, whole->discount_fen);

  const auto refused = promo::audit_subsidies(db(), "O1", on("2026-11-24"), on("2026-11-25"), 1);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ReportRefusal::report_too_large);
  EXPECT_EQ(refused.error().report, "audit subsidies O1");
  EXPECT_EQ(refused.error().rows_max, 1u);
  EXPECT_NE(refused.error().message.find("more than 1 subsidies"), std::string::npos) << refused.error().message;

  const auto one_day = promo::audit_subsidies(db(), "O1", on("2026-11-25"), on("2026-11-25"), 1);
  ASSERT_TRUE(one_day.has_value()) << one_day.error().message;
  EXPECT_EQ(one_day->rows.size(), 1u);

  const auto unknown = promo::audit_subsidies(db(), "NOPE", on("2026-11-24"), on("2026-11-25"));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ReportRefusal::unknown_outlet);
}

// The default limit is report_rows_max itself, neither less nor more: 100,000 outlets (inserted in one
// statement as the cluster's superuser) make a report of exactly the limit at level outlet, which is
// whole; one outlet more is refused whole, naming the limit, and the coarser level still fits. A
// default one row too small fails the first half, one row too large (or none) the second.
TEST_F(ReportLimitTest, TheDefaultLimitIsReportRowsMaxExactly) {
  static_assert(promo::report_rows_max == 100'000);
  const auto add_outlets = [&](int first, int last) {
    tdb_.exec_as_admin(fmt::format(
        "INSERT INTO ledger.org_unit (code, kind, name, parent_id) "
        "SELECT 'X' || g, 'outlet', 'Outlet X' || g, (SELECT id FROM ledger.org_unit WHERE code = 'SB1') "
        "FROM generate_series({}, {}) g",
        first, last));
  };
  add_outlets(1, static_cast<int>(promo::report_rows_max) - 2);  // with O1 and O2: the limit exactly
  const auto whole = promo::report_outlets(db(), on("2026-11-24"), on("2026-11-24"), promo::OutletLevel::outlet);
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  EXPECT_EQ(whole->rows.size(), promo::report_rows_max);
  add_outlets(static_cast<int>(promo::report_rows_max) - 1, static_cast<int>(promo::report_rows_max) - 1);
  const auto refused = promo::report_outlets(db(), on("2026-11-24"), on("2026-11-24"), promo::OutletLevel::outlet);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ReportRefusal::report_too_large);
  EXPECT_EQ(refused.error().rows_max, promo::report_rows_max);
  const auto branch = promo::report_outlets(db(), on("2026-11-24"), on("2026-11-24"), promo::OutletLevel::branch);
  ASSERT_TRUE(branch.has_value()) << branch.error().message;
  EXPECT_EQ(branch->rows.size(), 1u);
}

// The statement keeps its own --limit (at most ledger::Ledger::statement_lines_max lines), but a cut
// statement says so on stderr; stdout holds whole lines only.
TEST_F(ReportLimitTest, AStatementCutByItsLimitSaysSo) {
  const auto bin = promoledger_bin();
  ASSERT_TRUE(bin.has_value()) << "PROMOLEDGER_BIN is not set";
  pay("s1", "P1", "2026-11-24T12:00:00+08:00");
  pay("s2", "P1", "2026-11-25T12:00:00+08:00");  // P1's deposit: the opening and two payments
  CliRunner cli(*bin, tdb_.conninfo(), std::filesystem::temp_directory_path() / ("report-limit-" + tdb_.name()));
  const std::vector<std::string> statement{"report", "statement", "--account", "payer:P1:deposit", "--from",
                                           "2026-11-01", "--to", "2026-11-30", "--limit"};
  auto args = statement;
  args.push_back("2");
  const CliRun cut = cli.run(args, true);
  ASSERT_EQ(cut.exit_code, 0) << cut.err;
  const auto lines = nlohmann::json::parse(cut.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1]["reference"], "payment:s1");
  EXPECT_NE(cut.err.find("only the first 2 lines; more follow"), std::string::npos) << cut.err;
  args.back() = "3";
  const CliRun whole = cli.run(args, true);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_EQ(nlohmann::json::parse(whole.out).size(), 3u);
  EXPECT_EQ(whole.err, "");
}

}  // namespace
}  // namespace promoledger::testing
