// The double-entry core against a real PostgreSQL: building and posting entries, atomicity,
// idempotency under concurrency, limits under concurrency, append-only, reversal, as-of reads,
// tamper evidence and migrations.
#include <barrier>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <soci/postgresql/soci-postgresql.h>

#include "promoledger/ledger/ledger.hpp"
#include "promoledger/ledger/migrations.hpp"
#include "test_db.hpp"

namespace promoledger::testing {
namespace {

using ledger::EntryBuilder;
using ledger::Money;
using ledger::PostResult;
using ledger::Reject;

date::year_month_day day(const char* text) { return ledger::parse_day(text).value(); }
Money cny(const char* text) { return Money::parse(text).value(); }

class LedgerTest : public DbTest {
 protected:
  void SetUp() override {
    ledger::Ledger l(db());
    l.open_account({"bank:cash", "cash", ledger::AccountType::asset, std::nullopt});
    l.open_account({"payer:P1:deposit", "payer 1", ledger::AccountType::liability, Money()});
    l.open_account({"merchant:M1:settlement", "merchant 1", ledger::AccountType::liability, std::nullopt});
    l.open_account({"outlet:O1:subsidy:660101", "subsidy O1", ledger::AccountType::expense, std::nullopt});
  }
  ledger::Database& db() { return tdb_.db(8); }
  ledger::Ledger ledger_{tdb_.db(8)};

  long long scalar(const std::string& sql) {
    auto lease = db().lease();
    long long v = 0;
    *lease << sql, soci::into(v);
    return v;
  }
  ledger::WideFen balance(const std::string& code) { return ledger_.balance(code)->balance_fen; }
  PostResult post_ok(const Expected<ledger::Entry, ledger::Rejection>& entry) {
    EXPECT_TRUE(entry.has_value()) << (entry ? "" : entry.error().detail);
    auto r = ledger_.post(*entry);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().detail);
    return *r;
  }
  void fund(const char* account, const char* amount, const std::string& ref) {
    post_ok(EntryBuilder(ref, "opening", day("2026-11-23")).debit("bank:cash", cny(amount)).credit(account, cny(amount)).build());
  }
  void expect_verified() {
    for (const auto& check : ledger_.verify()) EXPECT_EQ(check.violations, 0) << check.name << ": " << check.sample;
  }
  std::vector<ledger::VerifyCheck> failing_checks() {
    std::vector<ledger::VerifyCheck> out;
    for (const auto& check : ledger_.verify()) {
      if (check.violations > 0) out.push_back(check);
    }
    return out;
  }
};

TEST_F(LedgerTest, BuilderRejectsEveryMalformedEntryWithItsReason) {
  const auto d = day("2026-11-24");
  auto unbalanced = EntryBuilder("u", "transfer", d).debit("bank:cash", cny("105.00")).credit("payer:P1:deposit", cny("104.99")).build();
  ASSERT_FALSE(unbalanced.has_value());
  EXPECT_EQ(unbalanced.error().code, Reject::unbalanced);
  EXPECT_EQ(unbalanced.error().detail, "debits 105.00 <> credits 104.99");
  EXPECT_EQ(EntryBuilder("e", "transfer", d).build().error().code, Reject::too_few_lines);
  EXPECT_EQ(EntryBuilder("s", "transfer", d).debit("bank:cash", cny("1")).build().error().code, Reject::too_few_lines);
  EXPECT_EQ(EntryBuilder("z", "transfer", d).debit("bank:cash", Money()).credit("payer:P1:deposit", Money()).build().error().code,
            Reject::amount_must_be_positive);
  EXPECT_EQ(EntryBuilder("n", "transfer", d).debit("bank:cash", cny("-1")).credit("payer:P1:deposit", cny("-1")).build().error().code,
            Reject::amount_must_be_positive);
  EntryBuilder many("m", "transfer", d);
  for (int i = 0; i < 65; ++i) many.debit("bank:cash", cny("1"));
  EXPECT_EQ(many.build().error().code, Reject::too_many_lines);
  EXPECT_EQ(EntryBuilder("c", "transfer", d).debit("bank cash", cny("1")).credit("payer:P1:deposit", cny("1")).build().error().code,
            Reject::invalid_account_code);
  EXPECT_EQ(EntryBuilder("", "transfer", d).debit("bank:cash", cny("1")).credit("payer:P1:deposit", cny("1")).build().error().code,
            Reject::invalid_external_ref);
  EXPECT_EQ(EntryBuilder("k", "Bad Kind", d).debit("bank:cash", cny("1")).credit("payer:P1:deposit", cny("1")).build().error().code,
            Reject::invalid_kind);
}

TEST_F(LedgerTest, DatabaseRejectsTheSameShapesOnItsOwnPath) {
  auto lease = db().lease();
  const auto status_of = [&](const std::string& args) {
    std::string status;
    *lease << "SELECT status FROM ledger.post_entry(" + args + ")", soci::into(status);
    return status;
  };
  EXPECT_EQ(status_of("'a', 'transfer', '2026-11-24', '', '{bank:cash,payer:P1:deposit}', '{D,C}', '{100,99}'"), "unbalanced");
  EXPECT_EQ(status_of("'b', 'transfer', '2026-11-24', '', '{bank:cash}', '{D}', '{100}'"), "too_few_lines");
  EXPECT_EQ(status_of("'c', 'transfer', '2026-11-24', '', '{bank:cash,payer:P1:deposit}', '{D,C}', '{0,0}'"),
            "amount_must_be_positive");
  EXPECT_EQ(status_of("'d', 'transfer', '2026-11-24', '', '{bank:cash,payer:P1:deposit}', '{D,C}', '{-5,-5}'"),
            "amount_must_be_positive");
  EXPECT_EQ(status_of("'e', 'transfer', '2026-11-24', '', '{bank:cash,nope}', '{D,C}', '{5,5}'"), "unknown_account");
  EXPECT_EQ(status_of("'f', 'transfer', '2026-11-24', '', '{bank:cash,payer:P1:deposit}', '{D,X}', '{5,5}'"), "invalid_side");
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_line"), 0);
}

TEST_F(LedgerTest, TheWorkedExampleBalancesToTheFen) {
  fund("payer:P1:deposit", "100.00", "open");
  const auto r = post_ok(EntryBuilder("pay-1", "payment", day("2026-11-24"))
                             .debit("payer:P1:deposit", cny("95.00"))
                             .debit("outlet:O1:subsidy:660101", cny("10.00"))
                             .credit("merchant:M1:settlement", cny("105.00"))
                             .build());
  EXPECT_EQ(r.status, PostResult::Status::posted);
  EXPECT_EQ(balance("payer:P1:deposit"), 500);
  EXPECT_EQ(balance("outlet:O1:subsidy:660101"), 1000);
  EXPECT_EQ(balance("merchant:M1:settlement"), 10500);
  EXPECT_EQ(balance("bank:cash"), 10000);
  const auto tb = ledger_.trial_balance();
  EXPECT_TRUE(tb.balanced());
  EXPECT_EQ(tb.total_debits_fen, 10000 + 9500 + 1000);
  expect_verified();
}

TEST_F(LedgerTest, AFailureInTheMiddleLeavesNothingBehind) {
  fund("payer:P1:deposit", "10.00", "open");
  const long long entries = scalar("SELECT count(*) FROM ledger.journal_entry");
  // The entry header is already inserted when the payer's limit fails: the whole transaction is undone.
  auto r = ledger_.post(*EntryBuilder("over", "transfer", day("2026-11-24"))
                             .debit("payer:P1:deposit", cny("10.01"))
                             .credit("merchant:M1:settlement", cny("10.01"))
                             .build());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Reject::insufficient_funds);
  EXPECT_NE(r.error().detail.find("payer:P1:deposit"), std::string::npos) << r.error().detail;
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry"), entries);
  EXPECT_EQ(balance("merchant:M1:settlement"), 0);
  EXPECT_EQ(balance("payer:P1:deposit"), 1000);
  // The deferred check at commit: a header with one unbalanced line cannot be committed.
  try {
    tdb_.exec_as_admin(
        "BEGIN; INSERT INTO ledger.journal_entry (external_ref, kind, business_day, content_hash) "
        "VALUES ('manual', 'transfer', '2026-11-24', sha256('x')); "
        "INSERT INTO ledger.journal_line VALUES (currval('ledger.journal_entry_id_seq'), 1, 1, 'D', 100, 99, 0, sha256('y')); "
        "COMMIT;");
    ADD_FAILURE() << "an unbalanced entry was committed";
  } catch (const ledger::DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), "PL003") << e.what();
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'manual'"), 0);
  expect_verified();
}

TEST_F(LedgerTest, ReplaysAreIdempotentAlsoFromEightThreadsAtOnce) {
  fund("payer:P1:deposit", "100.00", "open");
  const auto entry = *EntryBuilder("t-1", "transfer", day("2026-11-24"))
                          .debit("payer:P1:deposit", cny("30.00"))
                          .credit("merchant:M1:settlement", cny("30.00"))
                          .build();
  const auto first = ledger_.post(entry);
  const auto again = ledger_.post(entry);
  ASSERT_TRUE(first && again);
  EXPECT_EQ(again->status, PostResult::Status::exists);
  EXPECT_EQ(again->entry_id, first->entry_id);
  const auto other = ledger_.post(*EntryBuilder("t-1", "transfer", day("2026-11-24"))
                                       .debit("payer:P1:deposit", cny("30.01"))
                                       .credit("merchant:M1:settlement", cny("30.01"))
                                       .build());
  ASSERT_FALSE(other.has_value());
  EXPECT_EQ(other.error().code, Reject::exists_with_different_content);
  EXPECT_EQ(balance("merchant:M1:settlement"), 3000);

  const auto burst = *EntryBuilder("burst", "transfer", day("2026-11-24"))
                          .debit("payer:P1:deposit", cny("7.00"))
                          .credit("merchant:M1:settlement", cny("7.00"))
                          .build();
  std::barrier start(8);
  std::atomic<int> posted{0}, exists{0}, other_outcome{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      auto r = ledger_.post(burst);
      if (!r) ++other_outcome;
      else if (r->status == PostResult::Status::posted) ++posted;
      else ++exists;
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(posted.load(), 1);
  EXPECT_EQ(exists.load(), 7);
  EXPECT_EQ(other_outcome.load(), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'burst'"), 1);
  EXPECT_EQ(balance("merchant:M1:settlement"), 3700);
}

TEST_F(LedgerTest, EightThreadsTimesAThousandRandomTransfersKeepEveryInvariant) {
  constexpr int accounts = 10, threads = 8, per_thread = 1000;
  for (int a = 0; a < accounts; ++a) {
    ledger_.open_account({fmt::format("test:acct{}", a), "test", ledger::AccountType::asset, std::nullopt});
  }
  const long long entries_before = scalar("SELECT count(*) FROM ledger.journal_entry");
  std::vector<std::thread> pool;
  std::atomic<int> failures{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) * 7919 + 1);
      for (int i = 0; i < per_thread; ++i) {
        const int from = static_cast<int>(rng() % accounts);
        const int to = (from + 1 + static_cast<int>(rng() % (accounts - 1))) % accounts;
        const auto amount = Money::from_fen(1 + static_cast<std::int64_t>(rng() % 10000));
        auto entry = EntryBuilder(fmt::format("rt-{}-{}", t, i), "transfer", day("2026-11-24"))
                         .debit(fmt::format("test:acct{}", to), amount)
                         .credit(fmt::format("test:acct{}", from), amount)
                         .build();
        auto r = ledger_.post(*entry);
        if (!r || r->status != PostResult::Status::posted) ++failures;
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry") - entries_before, threads * per_thread);
  // Every stored balance equals the sum of its lines; the trial balance nets to zero.
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.account_balance b WHERE (b.debits_fen, b.credits_fen) <> "
                   "(SELECT coalesce(sum(amount_fen) FILTER (WHERE side = 'D'), 0), "
                   "coalesce(sum(amount_fen) FILTER (WHERE side = 'C'), 0) FROM ledger.journal_line l "
                   "WHERE l.account_id = b.account_id)"),
            0);
  const auto tb = ledger_.trial_balance();
  EXPECT_EQ(tb.total_debits_fen, tb.total_credits_fen);
  ledger::WideFen net = 0;
  for (const auto& a : tb.accounts) net += a.debits_fen - a.credits_fen;
  EXPECT_EQ(net, 0);
  expect_verified();
}

TEST_F(LedgerTest, ALimitedAccountIsNeverOverdrawnUnderConcurrency) {
  fund("payer:P1:deposit", "50.00", "open");
  std::barrier start(8);
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < 20; ++i) {
        auto r = ledger_.post(*EntryBuilder(fmt::format("d-{}-{}", t, i), "transfer", day("2026-11-24"))
                                   .debit("payer:P1:deposit", cny("1.00"))
                                   .credit("merchant:M1:settlement", cny("1.00"))
                                   .build());
        if (r) ++ok;
        else if (r.error().code == Reject::insufficient_funds) ++refused;
        else ++other;
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(refused.load(), 110);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(balance("payer:P1:deposit"), 0);
  EXPECT_EQ(scalar("SELECT min(balance_after_fen) FROM ledger.journal_line l JOIN ledger.account a ON a.id = l.account_id "
                   "WHERE a.code = 'payer:P1:deposit'"),
            0);
  // The CHECK constraint refuses an overdraft even from the owner.
  EXPECT_THROW(tdb_.exec_as_admin("UPDATE ledger.account_balance SET debits_fen = debits_fen + 1 WHERE account_id = "
                                  "(SELECT id FROM ledger.account WHERE code = 'payer:P1:deposit')"),
               ledger::DatabaseError);
}

TEST_F(LedgerTest, JournalRowsCannotBeChangedAndRolesHaveOnlyTheirRights) {
  fund("payer:P1:deposit", "10.00", "open");
  for (const char* sql : {"UPDATE ledger.journal_line SET amount_fen = 1", "DELETE FROM ledger.journal_line",
                          "UPDATE ledger.journal_entry SET description = 'x'", "DELETE FROM ledger.journal_entry",
                          "TRUNCATE ledger.journal_line", "TRUNCATE ledger.journal_entry CASCADE"}) {
    try {
      tdb_.exec_as_admin(sql);
      ADD_FAILURE() << "allowed: " << sql;
    } catch (const ledger::DatabaseError& e) {
      EXPECT_EQ(e.sqlstate(), "PL004") << sql << ": " << e.what();
    }
  }
  soci::session s(soci::postgresql, tdb_.conninfo());
  const auto state_of = [&](const std::string& sql) -> std::string {
    try {
      ledger::exec_script(s, sql, "as role");
      return "ok";
    } catch (const ledger::DatabaseError& e) {
      return e.sqlstate();
    }
  };
  ledger::exec_script(s, "SET ROLE promoledger_app", "role");
  EXPECT_EQ(state_of("UPDATE ledger.journal_line SET amount_fen = 1"), "42501");
  EXPECT_EQ(state_of("DELETE FROM ledger.journal_entry"), "42501");
  EXPECT_EQ(state_of("INSERT INTO ledger.journal_line SELECT * FROM ledger.journal_line LIMIT 1"), "42501");
  EXPECT_EQ(state_of("UPDATE ledger.account_balance SET debits_fen = 0"), "42501");
  EXPECT_EQ(state_of("SELECT secret FROM promo.campaign"), "42501");
  EXPECT_EQ(state_of("SELECT * FROM ledger.post_entry('app-1', 'transfer', '2026-11-24', '', "
                     "'{payer:P1:deposit,merchant:M1:settlement}', '{D,C}', '{100,100}')"),
            "ok");
  ledger::exec_script(s, "RESET ROLE; SET ROLE promoledger_auditor", "role");
  EXPECT_EQ(state_of("SELECT count(*) FROM ledger.journal_line"), "ok");
  EXPECT_EQ(state_of("SELECT * FROM ledger.post_entry('aud-1', 'transfer', '2026-11-24', '', "
                     "'{payer:P1:deposit,merchant:M1:settlement}', '{D,C}', '{100,100}')"),
            "42501");
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'aud-1'"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'app-1'"), 1);
}

TEST_F(LedgerTest, ReversalRestoresBalancesOnceAndOnlyOnce) {
  fund("payer:P1:deposit", "100.00", "open");
  const auto paid = post_ok(EntryBuilder("pay", "payment", day("2026-11-24"))
                                .debit("payer:P1:deposit", cny("95.00"))
                                .debit("outlet:O1:subsidy:660101", cny("10.00"))
                                .credit("merchant:M1:settlement", cny("105.00"))
                                .build());
  auto rev = ledger_.reverse(paid.entry_id, "rev:pay", day("2026-11-25"), "customer refund");
  ASSERT_TRUE(rev.has_value()) << rev.error().detail;
  EXPECT_EQ(rev->status, PostResult::Status::posted);
  EXPECT_EQ(balance("payer:P1:deposit"), 10000);
  EXPECT_EQ(balance("merchant:M1:settlement"), 0);
  EXPECT_EQ(balance("outlet:O1:subsidy:660101"), 0);
  EXPECT_EQ(scalar(fmt::format("SELECT reverses_entry_id FROM ledger.journal_entry WHERE id = {}", rev->entry_id)),
            paid.entry_id);
  auto same = ledger_.reverse(paid.entry_id, "rev:pay", day("2026-11-25"), "customer refund");
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->status, PostResult::Status::exists);
  auto twice = ledger_.reverse(paid.entry_id, "rev:pay:again", day("2026-11-25"), "again");
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code, Reject::already_reversed);
  auto of_reversal = ledger_.reverse(rev->entry_id, "rev:rev", day("2026-11-25"), "");
  ASSERT_FALSE(of_reversal.has_value());
  EXPECT_EQ(of_reversal.error().code, Reject::cannot_reverse_a_reversal);
  auto unknown = ledger_.reverse(999999, "rev:none", day("2026-11-25"), "");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, Reject::unknown_entry);
  expect_verified();
}

TEST_F(LedgerTest, BalancesAsOfDayAndTimeAndStatementsWithRunningBalance) {
  fund("payer:P1:deposit", "100.00", "open");  // business day 2026-11-23
  post_ok(EntryBuilder("d24", "transfer", day("2026-11-24")).debit("payer:P1:deposit", cny("30.00")).credit("merchant:M1:settlement", cny("30.00")).build());
  post_ok(EntryBuilder("d25", "transfer", day("2026-11-25")).debit("payer:P1:deposit", cny("20.00")).credit("merchant:M1:settlement", cny("20.00")).build());
  EXPECT_EQ(ledger_.balance_as_of_day("payer:P1:deposit", day("2026-11-22"))->balance_fen, 0);
  EXPECT_EQ(ledger_.balance_as_of_day("payer:P1:deposit", day("2026-11-23"))->balance_fen, 10000);
  EXPECT_EQ(ledger_.balance_as_of_day("payer:P1:deposit", day("2026-11-24"))->balance_fen, 7000);
  EXPECT_EQ(ledger_.balance_as_of_day("payer:P1:deposit", day("2026-11-25"))->balance_fen, 5000);
  // As of a time: just before and at the posting time of the last entry.
  auto lease = db().lease();
  std::string posted;
  *lease << "SELECT to_char(posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM ledger.journal_entry "
            "WHERE external_ref = 'd25'",
      soci::into(posted);
  const auto at = ledger::parse_timestamp(posted).value();
  EXPECT_EQ(ledger_.balance_as_of("payer:P1:deposit", at)->balance_fen, 5000);
  EXPECT_EQ(ledger_.balance_as_of("payer:P1:deposit", at - std::chrono::microseconds{1})->balance_fen, 7000);
  auto statement = ledger_.statement("payer:P1:deposit", day("2026-11-01"), day("2026-11-30"));
  ASSERT_TRUE(statement.has_value());
  ASSERT_EQ(statement->size(), 3u);
  EXPECT_EQ((*statement)[0].balance_after_fen, 10000);
  EXPECT_EQ((*statement)[1].balance_after_fen, 7000);
  EXPECT_EQ((*statement)[2].balance_after_fen, 5000);
  EXPECT_EQ((*statement)[2].external_ref, "d25");
  auto only24 = ledger_.statement("payer:P1:deposit", day("2026-11-24"), day("2026-11-24"));
  ASSERT_EQ(only24->size(), 1u);
  EXPECT_EQ(ledger_.balance("nope").error().code, Reject::unknown_account);
}

TEST_F(LedgerTest, TamperingIsFoundByVerify) {
  fund("payer:P1:deposit", "100.00", "open");
  for (int i = 0; i < 5; ++i) {
    post_ok(EntryBuilder(fmt::format("p{}", i), "payment", day("2026-11-24"))
                .debit("payer:P1:deposit", cny("9.50"))
                .debit("outlet:O1:subsidy:660101", cny("1.00"))
                .credit("merchant:M1:settlement", cny("10.50"))
                .build());
  }
  expect_verified();
  const std::string digest = ledger_.chain_digest();
  post_ok(EntryBuilder("p-last", "transfer", day("2026-11-24")).debit("payer:P1:deposit", cny("1")).credit("merchant:M1:settlement", cny("1")).build());
  EXPECT_NE(ledger_.chain_digest(), digest);

  // (a) An altered amount, with the balance row "fixed" too so that only the chain can tell.
  tdb_.exec_as_admin(
      "SET session_replication_role = replica;"
      "UPDATE ledger.journal_line SET amount_fen = 1 WHERE entry_id = (SELECT id FROM ledger.journal_entry WHERE external_ref = 'p2') AND line_no = 2;"
      "UPDATE ledger.journal_line SET amount_fen = 1000 WHERE entry_id = (SELECT id FROM ledger.journal_entry WHERE external_ref = 'p3') AND line_no = 2;");
  auto failing = failing_checks();
  ASSERT_FALSE(failing.empty());
  bool chain = false;
  for (const auto& c : failing) chain = chain || c.name == "hash_chain_links";
  EXPECT_TRUE(chain);
}

TEST_F(LedgerTest, DeletedLineAndInsertedEntryAreFound) {
  fund("payer:P1:deposit", "100.00", "open");
  for (int i = 0; i < 3; ++i) {
    post_ok(EntryBuilder(fmt::format("p{}", i), "transfer", day("2026-11-24")).debit("payer:P1:deposit", cny("5")).credit("merchant:M1:settlement", cny("5")).build());
  }
  expect_verified();
  tdb_.exec_as_admin(
      "SET session_replication_role = replica;"
      "DELETE FROM ledger.journal_line WHERE entry_id = (SELECT id FROM ledger.journal_entry WHERE external_ref = 'p1') AND line_no = 1;");
  auto failing = failing_checks();
  std::set<std::string> names;
  for (const auto& c : failing) names.insert(c.name);
  EXPECT_TRUE(names.count("entries_balance")) << "the entry lost a line";
  EXPECT_TRUE(names.count("hash_chain_links")) << "the payer's sequence has a gap";
}

TEST_F(LedgerTest, AFabricatedEntryIsFound) {
  fund("payer:P1:deposit", "100.00", "open");
  post_ok(EntryBuilder("p0", "transfer", day("2026-11-24")).debit("payer:P1:deposit", cny("5")).credit("merchant:M1:settlement", cny("5")).build());
  expect_verified();
  // Balanced, next sequence numbers, balances updated: only the hashes are made up.
  tdb_.exec_as_admin(
      "SET session_replication_role = replica;"
      "INSERT INTO ledger.journal_entry (external_ref, kind, business_day, content_hash) VALUES ('forged', 'transfer', '2026-11-24', sha256('f'));"
      "INSERT INTO ledger.journal_line SELECT currval('ledger.journal_entry_id_seq'), 1, a.id, 'D', 500, b.line_count + 1, "
      "  b.credits_fen - b.debits_fen - 500, sha256('x') FROM ledger.account a JOIN ledger.account_balance b ON b.account_id = a.id "
      "  WHERE a.code = 'payer:P1:deposit';"
      "INSERT INTO ledger.journal_line SELECT currval('ledger.journal_entry_id_seq'), 2, a.id, 'C', 500, b.line_count + 1, "
      "  b.credits_fen - b.debits_fen + 500, sha256('y') FROM ledger.account a JOIN ledger.account_balance b ON b.account_id = a.id "
      "  WHERE a.code = 'merchant:M1:settlement';"
      "UPDATE ledger.account_balance SET debits_fen = debits_fen + 500, line_count = line_count + 1 WHERE account_id = "
      "  (SELECT id FROM ledger.account WHERE code = 'payer:P1:deposit');"
      "UPDATE ledger.account_balance SET credits_fen = credits_fen + 500, line_count = line_count + 1 WHERE account_id = "
      "  (SELECT id FROM ledger.account WHERE code = 'merchant:M1:settlement');");
  std::set<std::string> names;
  for (const auto& c : failing_checks()) names.insert(c.name);
  EXPECT_TRUE(names.count("hash_chain_links"));
  EXPECT_TRUE(names.count("hash_chain_heads"));
  EXPECT_FALSE(names.count("entries_balance")) << "the forgery balances; only the chain finds it";
}

TEST_F(LedgerTest, MigrationsAreRecordedAndNeverRewritten) {
  auto lease = db().lease();
  const auto again = ledger::migrate(*lease);
  EXPECT_TRUE(again.applied_now.empty());
  EXPECT_EQ(again.already_applied, ledger::embedded_migrations().size());
  for (const auto& m : ledger::migration_status(*lease)) {
    EXPECT_TRUE(m.applied_at.has_value()) << m.name;
    EXPECT_FALSE(m.changed()) << m.name;
  }
  ledger::exec_script(*lease, "UPDATE public.promoledger_migration SET checksum = 'x' WHERE name = '0002_parties.sql'", "tamper");
  try {
    ledger::migrate(*lease);
    ADD_FAILURE() << "a changed migration was accepted";
  } catch (const ledger::DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("0002_parties.sql"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace promoledger::testing
