// Posting periods (issue 19; ledger/periods.hpp, sql/functions/periods.sql) against a real PostgreSQL:
// partitions by month, a month closed with chain anchors only when its days are, verify from the anchor
// on, archive -> drop -> restore -> verify, tampering found, the replay window, and the finance reports
// over an archived month refused period_archived (library, commands, service over HTTP).
#include <cstdlib>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <soci/soci.h>

#include "cli_runner.hpp"
#include "http_client.hpp"
#include "promo_fixture.hpp"
#include "promoledger/ledger/periods.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/dealing.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/insights.hpp"
#include "promoledger/promo/views.hpp"
#include "service_process.hpp"

namespace promoledger::testing {
namespace {

using promo::Channel;
namespace fs = std::filesystem;

constexpr date::year_month november{date::year{2026}, date::November};
constexpr date::year_month december{date::year{2026}, date::December};

class PeriodTest : public PromoTest {
 protected:
  void SetUp() override {
    // The fixed calendar (2026-11 and 2026-12) lies partly ahead of the clock on some days: the
    // largest future tolerance, and the tests' ten-year replay window (test_db.cpp).
    tdb_.exec_as_admin("INSERT INTO ledger.posting_policy (future_tolerance, replay_window, reason) "
                       "VALUES (interval '400 days', interval '3660 days', 'period_test: a fixed calendar')");
    PromoTest::SetUp();
    approved_campaign(pilot_params({"M1", "M2"}, "2026-11-24", "2026-12-31"));
    for (const char* d : {"2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"}) promo::deal_day(db(), day(d));
    folder_ = fs::temp_directory_path() / ("period-" + tdb_.name());
    fs::remove_all(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }

  promo::PaymentPoster::Outcome pay(const std::string& id, const char* payer, const char* merchant, const char* amount,
                                    const char* when) {
    promo::PaymentPoster poster(db());
    return poster.post(payment(id, payer, merchant, Channel::bank_app, amount, when));
  }

  // Closes every day from the bank's first (2026-11-23) through `last`.
  void close_days_through(const char* last) {
    for (auto d = date::sys_days{day("2026-11-23")}; d <= date::sys_days{day(last)}; d += date::days{1}) {
      promo::close_day(db(), date::year_month_day{d});
    }
  }

  // A month of business across the boundary: payments at the last second of November and the first of
  // December, and a late one of November posted after December's at the same payer and merchant (its
  // chains cross the month twice), then November closed day by day.
  void a_month_across_the_boundary() {
    ASSERT_TRUE(pay("b-1", "P1", "M1", "30.00", "2026-11-30T23:59:59+08:00").has_value());
    ASSERT_TRUE(pay("b-2", "P1", "M1", "40.00", "2026-12-01T00:00:00+08:00").has_value());
    ASSERT_TRUE(pay("b-3", "P1", "M1", "50.00", "2026-11-30T23:59:58+08:00").has_value());
    ASSERT_TRUE(pay("b-4", "P2", "M2", "60.00", "2026-11-29T12:00:00+08:00").has_value());
    close_days_through("2026-11-30");
  }

  std::string partition_of_entry(const std::string& external_ref) {
    return text("SELECT tableoid::regclass::text FROM ledger.journal_entry WHERE external_ref = '" + external_ref + "'");
  }

  // The month's rows of the six tables, as text, in a fixed order (to compare before and after).
  std::string month_rows(const char* first, const char* next) {
    std::string out;
    for (const char* q : {"SELECT x::text FROM ledger.journal_entry x WHERE business_day >= '{0}' AND business_day < '{1}' ORDER BY id",
                          "SELECT x::text FROM ledger.journal_line x WHERE business_day >= '{0}' AND business_day < '{1}' "
                          "ORDER BY entry_id, line_no",
                          "SELECT x::text FROM promo.payment x WHERE business_day >= '{0}' AND business_day < '{1}' "
                          "ORDER BY payment_id",
                          "SELECT x::text FROM promo.deck x WHERE business_day >= '{0}' AND business_day < '{1}' ORDER BY id",
                          "SELECT x::text FROM promo.payer_day x WHERE business_day >= '{0}' AND business_day < '{1}' "
                          "ORDER BY campaign_id, payer_id"}) {
      auto lease = db().lease();
      soci::rowset<std::string> rows = (lease->prepare << fmt::format(fmt::runtime(q), first, next));
      for (const auto& r : rows) out += r + "\n";
    }
    return out;
  }

  // November closed and archived (the replay window shortened to a day, as it would be a year on).
  void archive_november() {
    const auto closed = ledger::close_period(db(), november);
    ASSERT_TRUE(closed.has_value()) << closed.error().message;
    tdb_.exec_as_admin("INSERT INTO ledger.posting_policy (future_tolerance, replay_window, reason) "
                       "VALUES (interval '400 days', interval '1 day', 'period_test: archive November')");
    const auto archived = ledger::archive_period(db(), november, folder_);
    ASSERT_TRUE(archived.has_value()) << archived.error().message;
    ASSERT_TRUE(archived->dropped);
  }

  long long violations(const promo::AuditReport& report) {
    long long n = 0;
    for (const auto& c : report.checks) n += c.violations;
    return n;
  }

  fs::path folder_;
};

TEST_F(PeriodTest, PaymentsAcrossTheMonthBoundaryLandInTheirMonthsPartitions) {
  a_month_across_the_boundary();
  EXPECT_EQ(partition_of_entry("payment:b-1"), "ledger.journal_entry_p2026_11");
  EXPECT_EQ(partition_of_entry("payment:b-2"), "ledger.journal_entry_p2026_12");
  EXPECT_EQ(partition_of_entry("payment:b-3"), "ledger.journal_entry_p2026_11");
  EXPECT_EQ(text("SELECT tableoid::regclass::text FROM promo.payment WHERE payment_id = 'b-2'"), "promo.payment_p2026_12");
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_line_p2026_12"),
            scalar("SELECT count(*) FROM ledger.journal_line WHERE business_day = '2026-12-01'"));
  EXPECT_GE(scalar("SELECT count(*) FROM ledger.journal_line_p2026_12"), 2);
  // Each payment id is claimed once, across partitions: a replay is answered from its day.
  const auto again = pay("b-2", "P1", "M1", "40.00", "2026-12-01T00:00:00+08:00");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, promo::PaymentResult::Status::exists);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.entry_ref WHERE external_ref = 'payment:b-2'"), 1);
  // A late payment into the new month's open day posts; one into the closed old month does not.
  const auto late_open = pay("b-5", "P3", "M1", "20.00", "2026-12-01T08:00:00+08:00");
  ASSERT_TRUE(late_open.has_value());
  EXPECT_EQ(partition_of_entry("payment:b-5"), "ledger.journal_entry_p2026_12");
  const auto late_closed = pay("b-6", "P3", "M1", "20.00", "2026-11-30T23:00:00+08:00");
  ASSERT_FALSE(late_closed.has_value());
  EXPECT_EQ(late_closed.error().code, promo::Reject::business_day_closed);
  const auto report = promo::verify_all(db(), promo::VerifyScope::full);
  EXPECT_EQ(violations(report), 0) << promo::views::to_json(report).dump();
}

TEST_F(PeriodTest, AMonthClosesOnlyWhenEveryDayOfItIsClosedAndThenAnswersItsCloseAgain) {
  ASSERT_TRUE(pay("c-1", "P1", "M1", "30.00", "2026-11-29T12:00:00+08:00").has_value());
  close_days_through("2026-11-29");
  const auto refused = ledger::close_period(db(), november);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ledger::PeriodRefusal::period_not_closable);
  EXPECT_NE(refused.error().message.find("2026-11-30 to 2026-11-30"), std::string::npos) << refused.error().message;
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.period"), 0);

  close_days_through("2026-11-30");
  const std::string digest_now = text("SELECT ledger.chain_digest()");
  const auto closed = ledger::close_period(db(), november);
  ASSERT_TRUE(closed.has_value()) << closed.error().message;
  EXPECT_EQ(closed->month, "2026-11");
  EXPECT_EQ(closed->chain_digest, digest_now);
  EXPECT_EQ(closed->anchors, scalar("SELECT count(*) FROM ledger.account_balance"));
  EXPECT_GT(closed->verified_lines, 0);
  const auto again = ledger::close_period(db(), november);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->chain_digest, closed->chain_digest);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.period"), 1);
  // December is open, and a month is not its own first day.
  EXPECT_FALSE(ledger::close_period(db(), december).has_value());
  EXPECT_FALSE(ledger::parse_month("2026-13").has_value());
  EXPECT_FALSE(ledger::parse_month("2026-1").has_value());
  // The anchors are append-only, even for the owner.
  EXPECT_THROW(tdb_.exec_as_admin("UPDATE ledger.period_anchor SET line_count = line_count + 1"), ledger::DatabaseError);
}

TEST_F(PeriodTest, VerifyReadsOnlyTheMonthsAfterTheAnchorAndStartsEachChainFromIt) {
  a_month_across_the_boundary();
  const auto closed = ledger::close_period(db(), november);
  ASSERT_TRUE(closed.has_value()) << closed.error().message;
  EXPECT_GT(closed->links, 0) << "the late payment's chains cross the month: links are recorded";
  // December goes on after the anchor.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(pay(fmt::format("d-{}", i), "P1", "M1", "25.00", "2026-12-01T10:00:00+08:00").has_value());
  }
  const auto since = promo::verify_all(db());
  EXPECT_EQ(violations(since), 0) << promo::views::to_json(since).dump();
  EXPECT_EQ(since.scope, "since_anchor");
  EXPECT_EQ(since.from, "2026-12-01");
  EXPECT_EQ(since.months, std::vector<std::string>{"2026-12"});
  const auto full = promo::verify_all(db(), promo::VerifyScope::full);
  EXPECT_EQ(violations(full), 0) << promo::views::to_json(full).dump();
  EXPECT_EQ(full.months, (std::vector<std::string>{"2026-11", "2026-12"}));

  // A December line altered (the append-only guard off, as a superuser could): found from the anchor.
  tdb_.exec_as_admin("SET session_replication_role = replica; UPDATE ledger.journal_line SET amount_fen = amount_fen + 1 "
                     "WHERE entry_id = (SELECT entry_id FROM ledger.entry_ref WHERE external_ref = 'payment:d-3') "
                     "AND line_no = 1");
  const auto tampered = promo::verify_all(db());
  long long links = 0;
  for (const auto& c : tampered.checks) links += c.name == "hash_chain_links" ? c.violations : 0;
  EXPECT_GT(links, 0) << promo::views::to_json(tampered).dump();
}

TEST_F(PeriodTest, AnArchivedMonthIsDroppedOnlyAfterItsFilesVerifyAndRestoresToTheSameRows) {
  a_month_across_the_boundary();
  ASSERT_TRUE(ledger::close_period(db(), november).has_value());
  const std::string before = month_rows("2026-11-01", "2026-12-01");
  ASSERT_FALSE(before.empty());
  // Inside the replay window a replay may still come: refused.
  const auto early = ledger::archive_period(db(), november, folder_);
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(early.error().code, ledger::PeriodRefusal::period_in_replay_window);
  EXPECT_FALSE(fs::exists(folder_ / "manifest.json"));
  tdb_.exec_as_admin("INSERT INTO ledger.posting_policy (future_tolerance, replay_window, reason) "
                     "VALUES (interval '400 days', interval '1 day', 'period_test: archive November')");

  const auto archived = ledger::archive_period(db(), november, folder_);
  ASSERT_TRUE(archived.has_value()) << archived.error().message;
  EXPECT_TRUE(archived->dropped);
  EXPECT_EQ(archived->files.size(), 9u);
  EXPECT_TRUE(fs::exists(folder_ / "manifest.json"));
  EXPECT_EQ(text("SELECT coalesce(ledger.month_partition('ledger.journal_line', '2026-11-01')::text, 'none')"), "none");
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_line WHERE business_day < '2026-12-01'"), 0);
  EXPECT_EQ(ledger::archived_months(db(), day("2026-11-01"), day("2026-12-31")), std::vector<std::string>{"2026-11"});
  // December still verifies from November's anchors and links; November cannot be verified, it is away.
  EXPECT_EQ(violations(promo::verify_all(db())), 0);
  const auto away = promo::verify_month(db(), november);
  ASSERT_FALSE(away.has_value());
  EXPECT_EQ(away.error().code, ledger::PeriodRefusal::period_archived);
  // Archiving it again is refused; so is an archive into a folder that holds one.
  EXPECT_EQ(ledger::archive_period(db(), november, folder_).error().code, ledger::PeriodRefusal::period_archived);

  const auto restored = ledger::restore_period(db(), folder_);
  ASSERT_TRUE(restored.has_value()) << restored.error().message;
  EXPECT_EQ(month_rows("2026-11-01", "2026-12-01"), before);
  const auto proved = promo::verify_month(db(), november);
  ASSERT_TRUE(proved.has_value()) << proved.error().message;
  EXPECT_EQ(violations(*proved), 0) << promo::views::to_json(*proved).dump();
  EXPECT_EQ(violations(promo::verify_all(db(), promo::VerifyScope::full)), 0);
  EXPECT_EQ(ledger::restore_period(db(), folder_).error().code, ledger::PeriodRefusal::period_present);

  // Into an empty database (an auditor's copy, `db migrate` only): the month and its close, proved.
  TestDatabase copy;
  const auto into_copy = ledger::restore_period(copy.db(), folder_);
  ASSERT_TRUE(into_copy.has_value()) << into_copy.error().message;
  const auto in_copy = promo::verify_month(copy.db(), november);
  ASSERT_TRUE(in_copy.has_value()) << in_copy.error().message;
  EXPECT_EQ(violations(*in_copy), 0) << promo::views::to_json(*in_copy).dump();
  EXPECT_EQ(in_copy->chain_digest, archived->chain_digest);

  // A line changed in the copy (its guard off) is found against the links and anchors.
  copy.exec_as_admin("SET session_replication_role = replica; UPDATE ledger.journal_line SET amount_fen = amount_fen + 100 "
                     "WHERE entry_id = (SELECT min(entry_id) FROM ledger.journal_line)");
  EXPECT_GT(violations(*promo::verify_month(copy.db(), november)), 0);
  // So is an anchor changed in the copy.
  TestDatabase second;
  ASSERT_TRUE(ledger::restore_period(second.db(), folder_).has_value());
  second.exec_as_admin("SET session_replication_role = replica; UPDATE ledger.period_anchor SET line_count = line_count + 1 "
                       "WHERE account_id = (SELECT min(account_id) FROM ledger.period_anchor)");
  const auto anchors = promo::verify_month(second.db(), november);
  ASSERT_TRUE(anchors.has_value());
  EXPECT_EQ(anchors->checks.back().name, "period_anchors");
  EXPECT_EQ(anchors->checks.back().violations, 1);
}

TEST_F(PeriodTest, ATamperedArchiveFileIsRefusedByItsChecksumAndNothingIsRestored) {
  a_month_across_the_boundary();
  ASSERT_TRUE(ledger::close_period(db(), november).has_value());
  tdb_.exec_as_admin("INSERT INTO ledger.posting_policy (future_tolerance, replay_window, reason) "
                     "VALUES (interval '400 days', interval '1 day', 'period_test: archive November')");
  ASSERT_TRUE(ledger::archive_period(db(), november, folder_).has_value());
  {
    std::fstream f(folder_ / "ledger.journal_line.copy.gz", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x5a');
  }
  TestDatabase copy;
  const auto restored = ledger::restore_period(copy.db(), folder_);
  ASSERT_FALSE(restored.has_value());
  EXPECT_EQ(restored.error().code, ledger::PeriodRefusal::archive_invalid);
  EXPECT_NE(restored.error().message.find("ledger.journal_line.copy.gz"), std::string::npos) << restored.error().message;
  auto lease = copy.db().lease();
  long long periods = -1;
  *lease << "SELECT count(*) FROM ledger.period", soci::into(periods);
  EXPECT_EQ(periods, 0);
  // A missing file too.
  fs::remove(folder_ / "promo.deck.copy.gz");
  EXPECT_EQ(ledger::restore_period(copy.db(), folder_).error().code, ledger::PeriodRefusal::archive_invalid);
}

TEST_F(PeriodTest, APaymentDatedBeforeTheReplayWindowIsRefusedWhetherOrNotItWasStored) {
  ASSERT_TRUE(pay("w-1", "P1", "M1", "30.00", "2026-11-29T12:00:00+08:00").has_value());
  tdb_.exec_as_admin("INSERT INTO ledger.posting_policy (future_tolerance, replay_window, reason) "
                     "VALUES (interval '400 days', interval '1 day', 'period_test: a short window')");
  for (const char* id : {"w-1", "w-2"}) {  // stored, and new
    const auto r = pay(id, "P1", "M1", "30.00", "2026-11-29T12:00:00+08:00");
    ASSERT_FALSE(r.has_value()) << id;
    EXPECT_EQ(r.error().code, promo::Reject::replay_window_passed) << id;
  }
  // Maintenance deletes the claims before the window, and the guard refuses deleting one inside it.
  const long long claims = scalar("SELECT count(*) FROM ledger.entry_ref");
  const auto m = ledger::maintain(db());
  EXPECT_EQ(m.claims_deleted, claims);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.entry_ref"), 0);
  tdb_.exec_as_admin("INSERT INTO ledger.posting_policy (future_tolerance, replay_window, reason) "
                     "VALUES (interval '400 days', interval '3660 days', 'period_test: wide again')");
  ASSERT_TRUE(pay("w-3", "P1", "M1", "30.00", "2026-12-01T12:00:00+08:00").has_value());
  EXPECT_THROW(tdb_.exec_as_admin("DELETE FROM ledger.entry_ref WHERE external_ref = 'payment:w-3'"), ledger::DatabaseError);
  EXPECT_FALSE(m.partitions_through.empty());
}

// A report refused because its range touches November, archived: the code, the field, and a message
// that names the month and the way back.
template <class Report>
void expect_archived(const Expected<Report, promo::ReportError>& result, const std::string& what) {
  ASSERT_FALSE(result.has_value()) << what << ": answered over an archived month instead of refusing";
  EXPECT_EQ(result.error().code, promo::ReportRefusal::period_archived) << what << ": " << result.error().message;
  EXPECT_EQ(result.error().field, "from") << what;
  EXPECT_NE(result.error().message.find("2026-11"), std::string::npos) << what << ": " << result.error().message;
  EXPECT_NE(result.error().message.find("period restore --from"), std::string::npos) << what << ": " << result.error().message;
}

TEST_F(PeriodTest, ReportsOverAnArchivedMonthAreRefusedPeriodArchivedAndAnswerTheSameOnceItIsRestored) {
  a_month_across_the_boundary();
  const std::int64_t campaign = scalar("SELECT max(id) FROM promo.campaign");
  const auto outlets_before = promo::report_outlets(db(), day("2026-11-01"), day("2026-12-31"));
  const auto campaign_before = promo::report_campaign(db(), campaign, std::nullopt, std::nullopt);
  const auto subsidies_before = promo::audit_subsidies(db(), "O1", day("2026-11-01"), day("2026-12-31"));
  ASSERT_TRUE(outlets_before.has_value());
  ASSERT_TRUE(campaign_before.has_value());
  ASSERT_TRUE(subsidies_before.has_value());
  ASSERT_FALSE(campaign_before->rows.empty());
  archive_november();

  // Every report whose range touches November refuses, whichever of its tables the archive took.
  expect_archived(promo::report_outlets(db(), day("2026-11-01"), day("2026-12-31")), "report outlets");
  expect_archived(promo::report_outlets(db(), day("2026-11-30"), day("2026-11-30")), "report outlets, one day");
  expect_archived(promo::report_campaign(db(), campaign, std::nullopt, std::nullopt), "report campaign, its own days");
  expect_archived(promo::report_campaign(db(), campaign, day("2026-11-30"), day("2026-12-01")), "report campaign");
  expect_archived(promo::audit_subsidies(db(), "O1", day("2026-11-01"), day("2026-12-31")), "audit subsidies");
  expect_archived(promo::subsidy_by_day(db(), day("2026-10-01"), day("2026-12-31"), promo::report_rows_max),
                  "report outlets daily");
  expect_archived(promo::campaign_days(db(), campaign, std::nullopt, std::nullopt, promo::report_rows_max),
                  "campaign days");
  // Archived comes before too large: narrowing the rows would not make the answer whole.
  expect_archived(promo::report_outlets(db(), day("2026-11-01"), day("2026-12-31"), promo::OutletLevel::all, 1),
                  "report outlets, one row allowed");
  // Days after the archived month answer as before.
  const auto in_december = promo::report_campaign(db(), campaign, day("2026-12-01"), std::nullopt);
  ASSERT_TRUE(in_december.has_value()) << in_december.error().message;
  EXPECT_FALSE(in_december->rows.empty());
  EXPECT_TRUE(promo::report_outlets(db(), day("2026-12-01"), day("2026-12-31")).has_value());
  EXPECT_TRUE(promo::audit_subsidies(db(), "O1", day("2026-12-01"), day("2026-12-31")).has_value());

  // Restored, the month answers the figures it answered before the archive.
  const auto restored = ledger::restore_period(db(), folder_);
  ASSERT_TRUE(restored.has_value()) << restored.error().message;
  const auto outlets_after = promo::report_outlets(db(), day("2026-11-01"), day("2026-12-31"));
  const auto campaign_after = promo::report_campaign(db(), campaign, std::nullopt, std::nullopt);
  const auto subsidies_after = promo::audit_subsidies(db(), "O1", day("2026-11-01"), day("2026-12-31"));
  ASSERT_TRUE(outlets_after.has_value()) << outlets_after.error().message;
  ASSERT_TRUE(campaign_after.has_value()) << campaign_after.error().message;
  ASSERT_TRUE(subsidies_after.has_value()) << subsidies_after.error().message;
  EXPECT_EQ(promo::views::to_json(*outlets_after), promo::views::to_json(*outlets_before));
  EXPECT_EQ(promo::views::to_json(*campaign_after), promo::views::to_json(*campaign_before));
  EXPECT_EQ(promo::views::to_json(*subsidies_after), promo::views::to_json(*subsidies_before));
}

// As finance and the auditors meet it: the command (exit 1, the refusal's JSON) and the real service
// on a free 127.0.0.1 port (409 and the ReportRefusal body), each body checked against
// service/openapi.json by scripts/openapi_check.py, as the service tests' bodies are.
TEST_F(PeriodTest, TheCommandsAndTheServiceAnswerPeriodArchivedOverAnArchivedMonth) {
  const auto bin = promoledger_bin();
  ASSERT_TRUE(bin.has_value()) << "PROMOLEDGER_BIN is not set";
  a_month_across_the_boundary();
  archive_november();
  const std::string campaign = std::to_string(scalar("SELECT max(id) FROM promo.campaign"));
  const fs::path scratch = fs::temp_directory_path() / ("period-cli-" + tdb_.name());
  fs::remove_all(scratch);
  {
    CliRunner cli(*bin, tdb_.conninfo(), scratch / "cli");
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"report", "outlets", "--from", "2026-11-01", "--to", "2026-12-31"},
             {"report", "campaign", campaign},
             {"audit", "subsidies", "--outlet", "O1", "--from", "2026-11-29", "--to", "2026-11-30"}}) {
      const auto run = cli.run(args, true);
      EXPECT_EQ(run.exit_code, 1) << args[1] << ": " << run.out << run.err;
      const auto body = nlohmann::json::parse(run.out, nullptr, false);
      if (!body.is_object()) {
        ADD_FAILURE() << args[1] << ": not a refusal: " << run.out.substr(0, 200);
        continue;
      }
      EXPECT_EQ(body.value("error", ""), "period_archived") << args[1] << ": " << run.out.substr(0, 200);
      EXPECT_EQ(body.value("field", ""), "from") << args[1];
      EXPECT_NE(run.err.find("period restore --from DIR"), std::string::npos) << args[1] << ": " << run.err;
    }
    const auto december_run = cli.run({"report", "outlets", "--from", "2026-12-01", "--to", "2026-12-31"}, true);
    EXPECT_EQ(december_run.exit_code, 0) << december_run.err;

    const auto made = cli.run({"token", "create", "--name", "period-finance", "--role", "finance"}, true);
    ASSERT_EQ(made.exit_code, 0) << made.err;
    const std::string token = nlohmann::json::parse(made.out)["token"].get<std::string>();
    // Recorded for openapi_check.py: set before the client's first answer (it reads the variable once).
    const fs::path bodies = scratch / "bodies";
    fs::create_directories(bodies);
    ASSERT_EQ(::setenv("PROMOLEDGER_TEST_BODIES", bodies.c_str(), 1), 0);
    ServiceProcess svc;
    ASSERT_EQ(svc.start(*bin, {"--db", tdb_.conninfo(), "serve", "--listen", "127.0.0.1:0"}, scratch / "serve.log"), "");
    HttpClient client("127.0.0.1", svc.port());
    const Headers headers{{"Authorization", "Bearer " + token}};
    for (const auto& path : std::vector<std::string>{"/v1/reports/outlets?from=2026-11-01&to=2026-12-31",
                                                     "/v1/reports/outlets/daily?from=2026-11-30&to=2026-12-01",
                                                     "/v1/reports/campaign/" + campaign,
                                                     "/v1/campaigns/" + campaign + "/days"}) {
      const auto answer = client.get(path, headers);
      EXPECT_EQ(answer.status, 409) << path << ": " << answer.describe().substr(0, 300);
      const auto body = answer.js();
      if (!body.is_object()) {
        ADD_FAILURE() << path << ": not a refusal: " << answer.body.substr(0, 300);
        continue;
      }
      EXPECT_EQ(body.value("error", ""), "period_archived") << path;
      EXPECT_EQ(body.value("field", ""), "from") << path;
    }
    const auto whole = client.get("/v1/reports/outlets?from=2026-12-01&to=2026-12-31", headers);
    EXPECT_EQ(whole.status, 200) << whole.describe();
    client.close();
    svc.sigterm();
    EXPECT_TRUE(svc.wait_exit(std::chrono::seconds(20)).has_value());
    const std::string check = fmt::format("/usr/bin/python3 {0}/scripts/openapi_check.py --document {0}/service/openapi.json "
                                          "--bodies {1} --min 5",
                                          shell_quote(PROMOLEDGER_SOURCE_DIR), shell_quote(bodies.string()));
    EXPECT_EQ(CliRunner::run_shell(check), 0) << check;
  }
  fs::remove_all(scratch);
}

}  // namespace
}  // namespace promoledger::testing
