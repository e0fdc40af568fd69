// Posting periods (issue 19; ledger/periods.hpp, sql/functions/periods.sql) against a real PostgreSQL:
// partitions by month, a month closed with chain anchors only when its days are, verify from the anchor
// on, archive -> drop -> restore -> verify, tampering found, and the replay window.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <soci/soci.h>

#include "promo_fixture.hpp"
#include "promoledger/ledger/periods.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/dealing.hpp"
#include "promoledger/promo/views.hpp"

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

}  // namespace
}  // namespace promoledger::testing
