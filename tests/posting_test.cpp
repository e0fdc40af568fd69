// The posting rules every path shares (docs/accounting.md, "Closed days and impossible times"): the
// future tolerance against the database clock, closed days for general entries and reversals too, the
// closing lock that makes a close and a posting take turns, the journal's own closed-day trigger, the
// bounded retry, and the organisation import through the one posting path.

#include <atomic>
#include <chrono>
#include <future>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include "promo_fixture.hpp"
#include "promoledger/ledger/account_codes.hpp"
#include "promoledger/ledger/organisation.hpp"
#include "promoledger/ledger/posting_policy.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/terms.hpp"

namespace promoledger::testing {
namespace {

using ledger::Reject;
using namespace std::chrono_literals;

constexpr const char* closed_day = "2026-11-24";

class PostingTest : public PromoTest {
 protected:
  // A payment at M3 (no campaign): only the posting rules decide it.
  promo::PaymentRequest plain(std::string id, ledger::Timestamp when) {
    return promo::PaymentRequest{std::move(id), "P1", "M3", promo::Channel::wechat, cny("12.00"), when};
  }

  Expected<ledger::PostResult, ledger::Rejection> transfer(const std::string& ref, date::year_month_day on) {
    ledger::Ledger ledger(db());
    auto entry = ledger::EntryBuilder(ref, "transfer", on)
                     .debit("payer:P2:deposit", cny("1.00"))
                     .credit("payer:P3:deposit", cny("1.00"))
                     .build();
    EXPECT_TRUE(entry.has_value());
    return ledger.post(*entry);
  }

  // Waits (at most 10 s) until some session waits for an advisory lock: the closing lock.
  bool someone_waits_for_the_closing_lock() {
    for (int i = 0; i < 200; ++i) {
      if (scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") > 0) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  long long entries_on(const char* business_day) {
    return scalar(fmt::format("SELECT count(*) FROM ledger.journal_entry WHERE business_day = '{}'", business_day));
  }
};

date::year_month_day days_from_today(int days) {
  return date::year_month_day(date::sys_days(ledger::business_day_of(ledger::now())) + date::days(days));
}

// ------------------------------------------------------------------------------ future tolerance

TEST_F(PostingTest, APaymentFurtherAheadThanTheToleranceIsRefusedOnEveryPath) {
  EXPECT_EQ(ledger::posting_policy(db()).future_tolerance, ledger::future_tolerance_default);
  promo::PaymentPoster poster(db());
  const auto ahead = ledger::now() + 1h;
  const auto single = poster.post(plain("f-1", ahead));
  ASSERT_FALSE(single.has_value());
  EXPECT_EQ(single.error().code, promo::Reject::paid_at_in_future);
  EXPECT_NE(single.error().message.find("tolerance is 00:05:00"), std::string::npos) << single.error().message;
  // In a batch, only that payment is refused.
  const std::vector<promo::PaymentRequest> batch{plain("f-2", ledger::now()), plain("f-3", ledger::now() + 24h * 180),
                                                 plain("f-4", ledger::now() + 2min)};
  const auto outcomes = poster.post_batch(batch);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes[0].has_value());
  ASSERT_FALSE(outcomes[1].has_value());
  EXPECT_EQ(outcomes[1].error().code, promo::Reject::paid_at_in_future);
  EXPECT_TRUE(outcomes[2].has_value()) << "two minutes ahead is within the five-minute tolerance";
  EXPECT_EQ(scalar("SELECT count(*) FROM promo.payment WHERE payment_id IN ('f-1', 'f-3')"), 0);
  expect_ledger_verifies();
}

TEST_F(PostingTest, TheToleranceIsSetWithAReasonAndKeptInTheHistory) {
  ASSERT_FALSE(ledger::set_future_tolerance(db(), ledger::future_tolerance_max + 1s, "too far").has_value());
  ASSERT_FALSE(ledger::set_future_tolerance(db(), -1s, "negative").has_value());
  ASSERT_FALSE(ledger::set_future_tolerance(db(), 1h, "").has_value());
  const auto set = ledger::set_future_tolerance(db(), 24h * 400, "a simulation of the pilot's future days");
  ASSERT_TRUE(set.has_value()) << set.error().message;
  EXPECT_EQ(set->future_tolerance, 24h * 400);
  promo::PaymentPoster poster(db());
  EXPECT_TRUE(poster.post(plain("sim-1", ledger::now() + 24h * 30)).has_value());
  // The migration's row, the test database's wider replay window (support/test_db.cpp), then this one.
  const auto history = ledger::posting_policy_history(db());
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].future_tolerance, 5min);
  EXPECT_EQ(history[1].future_tolerance, 5min);
  EXPECT_EQ(history[2].reason, "a simulation of the pilot's future days");
  EXPECT_FALSE(history[2].changed_by.empty());
  // The history is append-only, and the application role may not change the policy.
  EXPECT_THROW(tdb_.exec_as_admin("UPDATE ledger.posting_policy SET future_tolerance = '1 day'"), ledger::DatabaseError);
  EXPECT_THROW(tdb_.exec_as_admin("DELETE FROM ledger.posting_policy"), ledger::DatabaseError);
  try {
    tdb_.exec_as_admin("SET ROLE promoledger_app; INSERT INTO ledger.posting_policy (future_tolerance, reason) "
                       "VALUES ('400 days', 'app')");
    ADD_FAILURE() << "the application role changed the posting policy";
  } catch (const ledger::DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), ledger::sqlstate::insufficient_privilege) << e.what();
  }
  EXPECT_EQ(ledger::posting_policy_history(db()).size(), 3u);
}

TEST_F(PostingTest, ToleranceTextParsesAndPrints) {
  EXPECT_EQ(ledger::parse_tolerance("5m").value(), 5min);
  EXPECT_EQ(ledger::parse_tolerance("90s").value(), 90s);
  EXPECT_EQ(ledger::parse_tolerance("400d").value(), ledger::future_tolerance_max);
  for (const char* bad : {"", "5", "m", "-5m", "5x", "401d", "5 m", "99999999999d"}) {
    EXPECT_FALSE(ledger::parse_tolerance(bad).has_value()) << bad;
  }
  EXPECT_EQ(ledger::format_tolerance(300s), "5m");
  EXPECT_EQ(ledger::format_tolerance(90s), "90s");
  EXPECT_EQ(ledger::format_tolerance(24h * 400), "400d");
  EXPECT_EQ(ledger::format_tolerance(0s), "0s");
}

TEST_F(PostingTest, GeneralEntriesAndReversalsAfterTheBanksDateAreRefused) {
  const auto entry = transfer("t-future", days_from_today(30));
  ASSERT_FALSE(entry.has_value());
  EXPECT_EQ(entry.error().code, Reject::business_day_in_future);
  EXPECT_TRUE(transfer("t-today", days_from_today(0)).has_value());
  promo::PaymentPoster poster(db());
  ASSERT_TRUE(poster.post(plain("r-1", ledger::now())).has_value());
  const auto reversal = poster.reverse("r-1", days_from_today(30));
  ASSERT_FALSE(reversal.has_value());
  EXPECT_EQ(reversal.error().code, promo::Reject::business_day_in_future);
  EXPECT_TRUE(poster.reverse("r-1", days_from_today(0)).has_value());
}

// ----------------------------------------------------------------------------------- closed days

TEST_F(PostingTest, GeneralEntriesIntoAClosedDayAreRefusedAndReplaysStillAnswered) {
  ASSERT_TRUE(transfer("t-1", day(closed_day)).has_value());
  promo::close_day(db(), day(closed_day));
  const auto late = transfer("t-2", day(closed_day));
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, Reject::business_day_closed);
  // Every day before the closed one is closed too.
  const auto older = transfer("t-3", day("2019-06-01"));
  ASSERT_FALSE(older.has_value());
  EXPECT_EQ(older.error().code, Reject::business_day_closed);
  const auto replay = transfer("t-1", day(closed_day));
  ASSERT_TRUE(replay.has_value());
  EXPECT_EQ(replay->status, ledger::PostResult::Status::exists);
  EXPECT_EQ(entries_on(closed_day), 1);
}

TEST_F(PostingTest, TheJournalItselfRefusesAnEntryIntoAClosedDay) {
  promo::close_day(db(), day(closed_day));
  try {
    tdb_.exec_as_admin("INSERT INTO ledger.journal_entry (external_ref, kind, business_day, content_hash) "
                       "VALUES ('stray', 'transfer', '2026-11-24', sha256('stray'))");
    ADD_FAILURE() << "an entry reached a closed day";
  } catch (const ledger::DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), ledger::sqlstate::business_day_closed) << e.what();
  }
  EXPECT_EQ(entries_on(closed_day), 0);
}

// A posting that read the closed days before a close commits before the close does: the close waits.
TEST_F(PostingTest, ACloseWaitsForAPostingInFlight) {
  soci::session in_flight(soci::postgresql, tdb_.conninfo());
  in_flight << "BEGIN";
  std::string status;
  in_flight << "SELECT status FROM promo.post_payment('inflight', 'P1', 'M3', 'wechat', 1200, "
               "'2026-11-24T12:00:00+08:00', '2026-11-24')",
      soci::into(status);
  ASSERT_EQ(status, "posted");
  auto close = std::async(std::launch::async, [this] { return promo::close_day(db(), day(closed_day)); });
  ASSERT_TRUE(someone_waits_for_the_closing_lock()) << "close-day did not wait for the posting in flight";
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.business_day_close"), 0);
  in_flight << "COMMIT";
  close.get();
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.business_day_close"), 1);
  EXPECT_EQ(entries_on(closed_day), 1);
  promo::PaymentPoster poster(db());
  const auto after = poster.post(plain("after", at("2026-11-24T13:00:00+08:00")));
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code, promo::Reject::business_day_closed);
}

// A posting that starts while a close is in flight waits for it, then sees the day closed: no
// undiscounted payment can slip into a day after its close (the race left open before 0009).
TEST_F(PostingTest, APostingDuringACloseWaitsAndIsRefused) {
  soci::session closing(soci::postgresql, tdb_.conninfo());
  closing << "BEGIN";
  closing << "INSERT INTO ledger.business_day_close (business_day) VALUES ('2026-11-24')";
  promo::PaymentPoster poster(db());
  auto posting = std::async(std::launch::async,
                            [&] { return poster.post(plain("during", at("2026-11-24T23:59:00+08:00"))); });
  ASSERT_TRUE(someone_waits_for_the_closing_lock()) << "the posting did not wait for the close in flight";
  closing << "COMMIT";
  const auto outcome = posting.get();
  ASSERT_FALSE(outcome.has_value()) << "posted into a day closed while it waited";
  EXPECT_EQ(outcome.error().code, promo::Reject::business_day_closed);
  EXPECT_EQ(entries_on(closed_day), 0);
}

// -------------------------------------------------------------------------------- bounded retry

TEST_F(PostingTest, WithRetryRetriesASerializationFailureAndCountsItOnce) {
  auto& database = db();
  const auto before = ledger::retries_taken().load();
  int attempts = 0;
  const int result = ledger::with_retry([&] {
    ++attempts;
    auto lease = database.lease();
    // A SOCI error, as the closures of deal_day and close_day throw: translated by with_retry itself.
    if (attempts == 1) *lease << "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$";
    return 7;
  });
  EXPECT_EQ(result, 7);
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(ledger::retries_taken().load() - before, 1u);

  attempts = 0;
  try {
    ledger::with_retry([&] {
      ++attempts;
      auto lease = database.lease();
      *lease << "DO $$ BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '23514'; END $$";
      return 0;
    });
    ADD_FAILURE() << "a check violation passed";
  } catch (const ledger::DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), ledger::sqlstate::check_violation);
  }
  EXPECT_EQ(attempts, 1) << "a failure that is not a conflict is not retried";

  attempts = 0;
  EXPECT_THROW(ledger::with_retry([&]() -> int {
                 ++attempts;
                 throw std::logic_error("a bug");
               }),
               std::logic_error);
  EXPECT_EQ(attempts, 1);

  attempts = 0;
  EXPECT_THROW(ledger::with_retry([&] {
                 ++attempts;
                 auto lease = database.lease();
                 *lease << "DO $$ BEGIN RAISE EXCEPTION 'always' USING ERRCODE = '40P01'; END $$";
                 return 0;
               }),
               ledger::DatabaseError);
  EXPECT_EQ(attempts, ledger::retries_max);
}

// ---------------------------------------------------------------------------------- domain terms

// The quoted values of the CHECK constraint of `table` whose definition starts with `prefix`.
std::set<std::string> check_values(ledger::Database& db, const std::string& table, const std::string& prefix) {
  auto lease = db.lease();
  std::string definition;
  *lease << "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
            "AND contype = 'c' AND starts_with(pg_get_constraintdef(oid), :p)",
      soci::use(table), soci::use(prefix), soci::into(definition);
  EXPECT_TRUE(lease->got_data()) << "no CHECK on " << table << " starting with " << prefix;
  std::set<std::string> values;
  const std::regex quoted("'([a-z_]+)'");
  for (auto it = std::sregex_iterator(definition.begin(), definition.end(), quoted); it != std::sregex_iterator(); ++it) {
    values.insert((*it)[1]);
  }
  return values;
}

// The rows of a one-column text query, in its order.
std::vector<std::string> rows_of(ledger::Database& db, const std::string& sql) {
  auto lease = db.lease();
  std::vector<std::string> out;
  soci::rowset<std::string> rows = (lease->prepare << sql);
  for (const auto& r : rows) out.push_back(r);
  return out;
}

template <class Term, std::size_t N>
std::set<std::string> names(const std::array<Term, N>& terms) {
  std::set<std::string> out;
  for (Term t : terms) out.insert(std::string(promo::to_string(t)));
  return out;
}

TEST_F(PostingTest, DomainTermsHaveOneListOnBothSides) {
  EXPECT_EQ(check_values(db(), "promo.payment", "CHECK ((reason = ANY"), names(promo::no_discount_reasons));
  EXPECT_EQ(check_values(db(), "promo.campaign", "CHECK ((status = ANY"), names(promo::campaign_statuses));
  EXPECT_EQ(check_values(db(), "promo.payment", "CHECK ((channel = ANY"), names(promo::all_channels));
  EXPECT_EQ(check_values(db(), "promo.campaign", "CHECK ((channel = ANY"), names(promo::all_channels));
  // The channel list promo.post_payments checks a payment against (promo.channels()).
  const auto channels = rows_of(db(), "SELECT unnest(promo.channels())");
  EXPECT_EQ(std::set<std::string>(channels.begin(), channels.end()), names(promo::all_channels));
  EXPECT_EQ(channels.size(), promo::all_channels.size());
  for (auto reason : promo::no_discount_reasons) {
    EXPECT_EQ(promo::no_discount_reason_from_string(promo::to_string(reason)), reason);
  }
  EXPECT_FALSE(promo::no_discount_reason_from_string("cap_reached").has_value());
  // The store refuses a reason outside the list, even from the owner.
  promo::PaymentPoster poster(db());
  const auto plain_payment = poster.post(plain("dt-1", ledger::now()));
  ASSERT_TRUE(plain_payment.has_value());
  EXPECT_EQ(plain_payment->reason, promo::NoDiscountReason::no_active_campaign);
  EXPECT_THROW(tdb_.exec_as_admin("SET session_replication_role = replica; "
                                  "UPDATE promo.payment SET reason = 'lucky' WHERE reason IS NOT NULL"),
               ledger::DatabaseError);
  // The account codes the SQL functions open are the ones C++ formats.
  approved_campaign(pilot_params({"M1", "M3"}));
  for (const std::string& code : {ledger::payer_deposit_account("P1"), ledger::merchant_settlement_account("M1"),
                                  ledger::outlet_subsidy_account("O1", "660101"),
                                  ledger::outlet_subsidy_account("O2", "660101"),
                                  std::string(ledger::bank_funding_account)}) {
    EXPECT_EQ(scalar(fmt::format("SELECT count(*) FROM ledger.account WHERE code = '{}'", code)), 1) << code;
  }
}

// audit verify's checks are ledger.verify's, promo.verify's and the decks' pass in C++: the names C++
// reports in the middle are the ones promo.verify runs, in its order, and an unknown name is refused.
TEST_F(PostingTest, PromoVerifyRunsTheChecksAuditVerifyNamesInItsOrder) {
  const auto all = promo::audit_check_names();
  ASSERT_EQ(all.size(), 13u);
  const std::vector<std::string> middle(all.begin() + 4, all.begin() + 11);
  EXPECT_EQ(rows_of(db(), "SELECT check_name FROM promo.verify()"), middle);
  EXPECT_EQ(rows_of(db(), "SELECT x FROM unnest(promo.verify_check_names()) WITH ORDINALITY AS t(x, n) ORDER BY n"), middle);
  EXPECT_EQ(rows_of(db(), "SELECT check_name || ' ' || violations FROM promo.verify(ARRAY['daily_cap', 'cards_used_once'])"),
            (std::vector<std::string>{"cards_used_once 0", "daily_cap 0"}));
  EXPECT_THROW(scalar("SELECT count(*) FROM promo.verify(ARRAY['daily_cap', 'lucky_day'])"), soci::soci_error);
  const auto report = promo::verify_checks(db(), {"daily_cap", "decks_redeal", "entries_balance"});
  ASSERT_EQ(report.checks.size(), 3u);
  EXPECT_EQ(report.checks[0].name, "entries_balance");
  EXPECT_EQ(report.checks[1].name, "daily_cap");
  EXPECT_EQ(report.checks[2].name, "decks_redeal");
}

// ------------------------------------------------------------------ organisation import, one path

TEST(OrgImportTest, OpeningDepositsGoThroughTheLedgerAndAnImportIsAllOrNothing) {
  TestDatabase tdb;
  auto& db = tdb.db();
  using K = ledger::OrgKind;
  std::vector<ledger::OrgRecord> records{
      {2, K::branch, "BR1", "Branch", "", std::nullopt},     {3, K::sub_branch, "SB1", "Sub", "BR1", std::nullopt},
      {4, K::outlet, "O1", "Outlet", "SB1", std::nullopt},   {5, K::merchant, "M1", "面馆", "O1", std::nullopt},
      {6, K::payer, "P1", "Payer", "", cny("500.00")},       {7, K::payer, "P2", "Payer two", "", cny("20.00")},
  };
  const auto first = ledger::import_organisation(db, records, day("2026-11-23"));
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->openings_posted, 2u);
  EXPECT_EQ(first->records[static_cast<std::size_t>(K::payer)], 2u);
  // Again on another day: the same amounts are the same openings, not new ones.
  const auto again = ledger::import_organisation(db, records, day("2026-11-25"));
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->openings_posted, 0u);
  EXPECT_EQ(again->openings_existing, 2u);
  ledger::Ledger ledger(db);
  EXPECT_EQ(ledger.balance("payer:P1:deposit")->balance_fen, 50'000);
  // Another amount for P2, with a new payer before it: refused, and the new payer is not written.
  records.push_back({8, K::payer, "P3", "Payer three", "", cny("1.00")});
  records[5].opening_balance = cny("21.00");
  const auto changed = ledger::import_organisation(db, records, day("2026-11-25"));
  ASSERT_FALSE(changed.has_value());
  EXPECT_EQ(changed.error().code, ledger::OrgImportReject::exists_with_different_content);
  EXPECT_NE(changed.error().message.find("payer:P2:deposit was opened with 20.00"), std::string::npos)
      << changed.error().message;
  EXPECT_FALSE(ledger.balance("payer:P3:deposit").has_value());
  // A record that cannot be one is named by its line before anything is written.
  std::vector<ledger::OrgRecord> bad{{2, K::branch, "BR2", "Branch 2", "", std::nullopt},
                                     {3, K::outlet, "O9", "Outlet", "", std::nullopt}};
  const auto refused = ledger::import_organisation(db, bad, day("2026-11-25"));
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().line, 3u);
  EXPECT_NE(refused.error().message.find("needs a parent"), std::string::npos);
  // An unknown parent is found by the database: the line, and nothing written.
  std::vector<ledger::OrgRecord> orphan{{2, K::branch, "BR3", "Branch 3", "", std::nullopt},
                                        {3, K::sub_branch, "SB9", "Sub", "NOPE", std::nullopt}};
  const auto unknown = ledger::import_organisation(db, orphan, day("2026-11-25"));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ledger::OrgImportReject::invalid_input);
  EXPECT_EQ(unknown.error().line, 3u);
  auto lease = db.lease();
  long long branches = 0;
  *lease << "SELECT count(*) FROM ledger.org_unit WHERE kind = 'branch'", soci::into(branches);
  EXPECT_EQ(branches, 1);
}

}  // namespace
}  // namespace promoledger::testing
