// The double-entry core against a real PostgreSQL: building and posting entries, atomicity,
// idempotency under concurrency, limits under concurrency, append-only, reversal (also raced), as-of
// reads, tamper evidence and migrations.
#include <algorithm>
#include <barrier>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <soci/postgresql/soci-postgresql.h>

#include "promoledger/ledger/ledger.hpp"
#include "domain_helpers.hpp"
#include "promoledger/ledger/migrations.hpp"
#include "test_db.hpp"

namespace promoledger::testing {
namespace {

using ledger::EntryBuilder;
using ledger::Money;
using ledger::PostResult;
using ledger::Reject;

constexpr const char* bank = "bank:cash";
constexpr const char* payer1 = "payer:P1:deposit";
constexpr const char* payer2 = "payer:P2:deposit";  // opened only by the tests that need it
constexpr const char* merchant = "merchant:M1:settlement";
constexpr const char* subsidy = "outlet:O1:subsidy:660101";

// Runs body(thread_index) on `threads` threads that all start at the same moment.
template <class Body>
void run_together(std::size_t threads, Body&& body) {
  std::barrier start(static_cast<std::ptrdiff_t>(threads));
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  for (auto& th : pool) th.join();
}

// What ledger.post_entry returned when called through SQL directly.
struct SqlPost {
  std::string status;
  std::optional<std::int64_t> entry_id;
  std::string detail;
};

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
    EXPECT_TRUE(entry.has_value()) << (entry ? "" : entry.error().message);
    auto r = ledger_.post(*entry);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return *r;
  }
  PostResult fund(const char* account, const char* amount, const std::string& ref) {
    return post_ok(EntryBuilder(ref, "opening", day("2026-11-23")).debit("bank:cash", cny(amount)).credit(account, cny(amount)).build());
  }
  // A second limited deposit; opened after payer:P1:deposit, so its id is the higher one.
  void open_payer2() { ledger_.open_account({payer2, "payer 2", ledger::AccountType::liability, Money()}); }
  std::string text(const std::string& sql) {
    auto lease = db().lease();
    std::string v;
    *lease << sql, soci::into(v);
    return v;
  }
  long long account_id(const char* code) { return scalar(fmt::format("SELECT id FROM ledger.account WHERE code = '{}'", code)); }
  long long entry_count() { return scalar("SELECT count(*) FROM ledger.journal_entry"); }
  long long line_count() { return scalar("SELECT count(*) FROM ledger.journal_line"); }
  ledger::Timestamp posted_at(const std::string& ref) {
    return ledger::parse_timestamp(text(fmt::format("SELECT to_char(posted_at AT TIME ZONE 'UTC', "
                                                    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM ledger.journal_entry "
                                                    "WHERE external_ref = '{}'",
                                                    ref)))
        .value();
  }
  SqlPost post_sql(const std::string& arguments) {
    auto lease = db().lease();
    SqlPost out;
    long long id = 0;
    soci::indicator id_ind = soci::i_null;
    *lease << "SELECT status, entry_id, coalesce(detail, '') FROM ledger.post_entry(" + arguments + ")",
        soci::into(out.status), soci::into(id, id_ind), soci::into(out.detail);
    if (id_ind == soci::i_ok) out.entry_id = id;
    return out;
  }
  // Violations per check name, as ledger.verify() reports them.
  std::map<std::string, std::int64_t> verify_counts() {
    std::map<std::string, std::int64_t> out;
    for (const auto& check : ledger_.verify()) out[check.name] = check.violations;
    return out;
  }
  static std::map<std::string, std::int64_t> counts(std::int64_t entries, std::int64_t balances, std::int64_t links,
                                                    std::int64_t heads) {
    return {{"entries_balance", entries},
            {"balances_equal_lines", balances},
            {"hash_chain_links", links},
            {"hash_chain_heads", heads}};
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
  EXPECT_EQ(unbalanced.error().message, "debits 105.00 <> credits 104.99");
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

TEST_F(LedgerTest, BuilderRejectionsSayWhatAndWhereAndLengthsAreBounded) {
  const auto d = day("2026-11-24");

  const auto empty = EntryBuilder("e", "transfer", d).build();
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().code, Reject::too_few_lines);
  EXPECT_EQ(empty.error().message, "0 line(s); an entry needs at least 2");

  const auto single = EntryBuilder("s", "transfer", d).debit(bank, cny("1.00")).build();
  ASSERT_FALSE(single.has_value());
  EXPECT_EQ(single.error().code, Reject::too_few_lines);
  EXPECT_EQ(single.error().message, "1 line(s); an entry needs at least 2");

  const auto zero = EntryBuilder("z", "transfer", d).debit(bank, Money()).credit(payer1, Money()).build();
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().code, Reject::amount_must_be_positive);
  EXPECT_EQ(zero.error().message, "line 1 (bank:cash): amount 0.00 must be > 0");

  // A positive debit balanced by a negative credit is still refused: a side is chosen by debit/credit.
  const auto negative = EntryBuilder("n", "transfer", d).debit(bank, cny("5.00")).credit(payer1, cny("-5.00")).build();
  ASSERT_FALSE(negative.has_value());
  EXPECT_EQ(negative.error().code, Reject::amount_must_be_positive);
  EXPECT_EQ(negative.error().message, "line 2 (payer:P1:deposit): amount -5.00 must be > 0");

  // 65 lines that balance (64 x 1.00 against 64.00): refused for the count alone.
  EntryBuilder many("m", "transfer", d);
  for (int i = 0; i < 64; ++i) many.debit(bank, cny("1.00"));
  many.credit(payer1, cny("64.00"));
  const auto too_many = many.build();
  ASSERT_FALSE(too_many.has_value());
  EXPECT_EQ(too_many.error().code, Reject::too_many_lines);
  EXPECT_EQ(too_many.error().message, "65 lines; at most 64");

  const auto bad_code = EntryBuilder("c", "transfer", d).debit("bank cash", cny("1.00")).credit(payer1, cny("1.00")).build();
  ASSERT_FALSE(bad_code.has_value());
  EXPECT_EQ(bad_code.error().code, Reject::invalid_account_code);
  EXPECT_EQ(bad_code.error().message, "line 1: account code \"bank cash\" must be 1..80 of A-Z a-z 0-9 _ . : -");
  const auto long_code =
      EntryBuilder("c2", "transfer", d).debit(std::string(81, 'a'), cny("1.00")).credit(payer1, cny("1.00")).build();
  ASSERT_FALSE(long_code.has_value());
  EXPECT_EQ(long_code.error().code, Reject::invalid_account_code);
  const auto empty_code = EntryBuilder("c3", "transfer", d).debit(bank, cny("1.00")).credit("", cny("1.00")).build();
  ASSERT_FALSE(empty_code.has_value());
  EXPECT_EQ(empty_code.error().code, Reject::invalid_account_code);

  const auto long_ref =
      EntryBuilder(std::string(129, 'r'), "transfer", d).debit(bank, cny("1.00")).credit(payer1, cny("1.00")).build();
  ASSERT_FALSE(long_ref.has_value());
  EXPECT_EQ(long_ref.error().code, Reject::invalid_external_ref);
}

TEST_F(LedgerTest, BuilderAndDatabaseAcceptTheBoundaries) {
  // 64 lines (63 x 1.00 against 63.00), a 128-character reference and an 80-character code are allowed,
  // and the database takes them too.
  const std::string ref(128, 'r');
  EntryBuilder many(ref, "transfer", day("2026-11-24"));
  for (int i = 0; i < 63; ++i) many.debit(bank, cny("1.00"));
  many.credit(payer1, cny("63.00"));
  const auto built = many.build();
  ASSERT_TRUE(built.has_value()) << built.error().message;
  EXPECT_EQ(built->lines().size(), 64u);
  const auto r = post_ok(built);
  EXPECT_EQ(scalar(fmt::format("SELECT count(*) FROM ledger.journal_line WHERE entry_id = {}", r.entry_id)), 64);
  EXPECT_EQ(balance(bank), 6300);
  EXPECT_EQ(balance(payer1), 6300);
  EXPECT_EQ(ledger_.balance(bank)->line_count, 63);

  const std::string code(80, 'x');
  ledger_.open_account({code, "long code", ledger::AccountType::asset, std::nullopt});
  post_ok(EntryBuilder("long-code", "transfer", day("2026-11-24")).debit(code, cny("0.01")).credit(merchant, cny("0.01")).build());
  EXPECT_EQ(balance(code), 1);
  EXPECT_EQ(verify_counts(), counts(0, 0, 0, 0));
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

TEST_F(LedgerTest, PostEntryInSqlSaysWhyAndRefusesEveryOtherShape) {
  // ledger.post_entry called directly, as a client that bypasses the C++ builder would: the details,
  // and the shapes DatabaseRejectsTheSameShapesOnItsOwnPath does not try.
  const auto unbalanced = post_sql("'u', 'payment', '2026-11-24', '', '{payer:P1:deposit,outlet:O1:subsidy:660101,"
                                   "merchant:M1:settlement}', '{D,D,C}', '{9500,1000,10499}'");
  EXPECT_EQ(unbalanced.status, "unbalanced");
  EXPECT_EQ(unbalanced.detail, "debits 10500 fen <> credits 10499 fen");
  EXPECT_FALSE(unbalanced.entry_id.has_value());

  const auto empty = post_sql("'e', 'transfer', '2026-11-24', '', '{}', '{}', '{}'");
  EXPECT_EQ(empty.status, "too_few_lines");
  EXPECT_EQ(empty.detail, "0 line(s); an entry needs at least 2");
  const auto nulls = post_sql("'e2', 'transfer', '2026-11-24', '', NULL, NULL, NULL");
  EXPECT_EQ(nulls.status, "too_few_lines");
  const auto single = post_sql("'s', 'transfer', '2026-11-24', '', '{bank:cash}', '{D}', '{100}'");
  EXPECT_EQ(single.status, "too_few_lines");
  EXPECT_EQ(single.detail, "1 line(s); an entry needs at least 2");

  EXPECT_EQ(post_sql("'n2', 'transfer', '2026-11-24', '', '{bank:cash,payer:P1:deposit}', '{D,C}', '{5,NULL}'").status,
            "amount_must_be_positive");

  // 65 lines that balance: 64 debits of 1 fen against one credit of 64 fen.
  std::string codes = "{", sides = "{", amounts = "{";
  for (int i = 0; i < 64; ++i) {
    codes += "bank:cash,";
    sides += "D,";
    amounts += "1,";
  }
  codes += "payer:P1:deposit}";
  sides += "C}";
  amounts += "64}";
  const auto too_many = post_sql(fmt::format("'m', 'transfer', '2026-11-24', '', '{}', '{}', '{}'", codes, sides, amounts));
  EXPECT_EQ(too_many.status, "too_many_lines");
  EXPECT_EQ(too_many.detail, "65 lines; at most 64");

  // An account code the builder refuses is, on this path, simply no account.
  const auto bad_code = post_sql("'c', 'transfer', '2026-11-24', '', '{bank cash,payer:P1:deposit}', '{D,C}', '{5,5}'");
  EXPECT_EQ(bad_code.status, "unknown_account");
  EXPECT_EQ(bad_code.detail, "no account with code bank cash");
  EXPECT_EQ(post_sql("'l', 'transfer', '2026-11-24', '', '{bank:cash,payer:P1:deposit}', '{D,C}', '{5,5,5}'").status,
            "malformed_lines");
  EXPECT_EQ(post_sql("'', 'transfer', '2026-11-24', '', '{bank:cash,payer:P1:deposit}', '{D,C}', '{5,5}'").status,
            "invalid_external_ref");

  // The kind has no status of its own: the table's CHECK refuses it, and the statement is undone.
  try {
    post_sql("'k', 'Bad Kind', '2026-11-24', '', '{bank:cash,payer:P1:deposit}', '{D,C}', '{5,5}'");
    ADD_FAILURE() << "an invalid kind was accepted";
  } catch (const soci::postgresql_soci_error& e) {
    EXPECT_EQ(e.sqlstate(), ledger::sqlstate::check_violation) << e.what();
  }

  EXPECT_EQ(entry_count(), 0);
  EXPECT_EQ(line_count(), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.account_balance WHERE debits_fen <> 0 OR credits_fen <> 0 "
                   "OR line_count <> 0"),
            0);
}

TEST_F(LedgerTest, AnUnknownAccountPassesTheBuilderButNotTheDatabase) {
  const auto r = ledger_.post(*EntryBuilder("u", "transfer", day("2026-11-24"))
                                   .debit(bank, cny("1.00"))
                                   .credit("payer:NOPE:deposit", cny("1.00"))
                                   .build());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Reject::unknown_account);
  EXPECT_EQ(r.error().message, "no account with code payer:NOPE:deposit");
  EXPECT_EQ(entry_count(), 0);
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
  EXPECT_NE(r.error().message.find("payer:P1:deposit"), std::string::npos) << r.error().message;
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry"), entries);
  EXPECT_EQ(balance("merchant:M1:settlement"), 0);
  EXPECT_EQ(balance("payer:P1:deposit"), 1000);
  // The deferred check at commit: a header with one unbalanced line cannot be committed.
  try {
    tdb_.exec_as_admin(
        "BEGIN; INSERT INTO ledger.journal_entry (external_ref, kind, business_day, content_hash) "
        "VALUES ('manual', 'transfer', '2026-11-24', sha256('x')); "
        "INSERT INTO ledger.journal_line VALUES (currval('ledger.journal_entry_id_seq'), 1, 1, 'D', 100, 99, 0, sha256('y'), "
        "'2026-11-24'); "
        "COMMIT;");
    ADD_FAILURE() << "an unbalanced entry was committed";
  } catch (const ledger::DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), "PL003") << e.what();
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'manual'"), 0);
  expect_verified();
}

TEST_F(LedgerTest, ALimitFailingOnALaterLineLeavesNothingBehind) {
  open_payer2();
  fund(payer1, "100.00", "open:P1");
  fund(payer2, "10.00", "open:P2");
  // payer1's line is applied first (accounts are taken in ascending id order), payer2's then fails.
  ASSERT_LT(account_id(payer1), account_id(payer2));
  const long long entries_before = entry_count();
  const long long lines_before = line_count();
  const std::string digest_before = ledger_.chain_digest();

  const auto shared = EntryBuilder("shared-bill", "transfer", day("2026-11-24"))
                          .debit(payer1, cny("30.00"))
                          .debit(payer2, cny("20.00"))
                          .credit(merchant, cny("50.00"));
  const auto r = ledger_.post(*shared.build());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Reject::insufficient_funds);
  EXPECT_EQ(r.error().message,
            "insufficient_funds: account payer:P2:deposit would fall below its limit of 0 fen (line 2: D 2000)");

  EXPECT_EQ(entry_count(), entries_before);
  EXPECT_EQ(line_count(), lines_before);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'shared-bill'"), 0);
  const auto p1 = ledger_.balance(payer1).value();
  EXPECT_EQ(p1.balance_fen, 10000);
  EXPECT_EQ(p1.line_count, 1);
  EXPECT_EQ(balance(payer2), 1000);
  EXPECT_EQ(balance(merchant), 0);
  EXPECT_EQ(ledger_.chain_digest(), digest_before);
  EXPECT_EQ(verify_counts(), counts(0, 0, 0, 0));

  // The reference was not used up: once payer2 has the money, the same entry posts.
  fund(payer2, "10.00", "open:P2:more");
  const auto again = ledger_.post(*shared.build());
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(again->status, PostResult::Status::posted);
  EXPECT_EQ(balance(payer1), 7000);
  EXPECT_EQ(balance(payer2), 0);
  EXPECT_EQ(balance(merchant), 5000);
}

TEST_F(LedgerTest, TwoLinesOnOneLimitedAccountAreCheckedTogether) {
  fund(payer1, "15.00", "open:P1");
  // Each line alone fits in 15.00; together they do not.
  const auto r = ledger_.post(*EntryBuilder("twice", "transfer", day("2026-11-24"))
                                   .debit(payer1, cny("10.00"))
                                   .debit(payer1, cny("10.00"))
                                   .credit(merchant, cny("20.00"))
                                   .build());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Reject::insufficient_funds);
  EXPECT_NE(r.error().message.find("(line 2: D 1000)"), std::string::npos) << r.error().message;
  EXPECT_EQ(entry_count(), 1);
  EXPECT_EQ(balance(payer1), 1500);

  // Within the limit, both lines are chained one after the other on the account.
  const auto ok = post_ok(EntryBuilder("twice-ok", "transfer", day("2026-11-24"))
                              .debit(payer1, cny("10.00"))
                              .debit(payer1, cny("5.00"))
                              .credit(merchant, cny("15.00"))
                              .build());
  EXPECT_EQ(text(fmt::format("SELECT string_agg(account_seq || ':' || balance_after_fen, ',' ORDER BY line_no) "
                             "FROM ledger.journal_line WHERE entry_id = {} AND side = 'D'",
                             ok.entry_id)),
            "2:500,3:0");
  EXPECT_EQ(balance(payer1), 0);
  EXPECT_EQ(verify_counts(), counts(0, 0, 0, 0));
}

TEST_F(LedgerTest, TheDeferredCheckRefusesEveryUnbalancedEntryAtCommit) {
  // Written by hand as the superuser, past post_entry: only the constraint trigger at commit stands
  // in the way. One line, two unequal lines, no line at all.
  const long long bank_id = account_id(bank);
  const auto try_commit = [&](const std::string& lines_sql) -> std::string {
    try {
      tdb_.exec_as_admin(
          "BEGIN;"
          "INSERT INTO ledger.journal_entry (external_ref, kind, business_day, content_hash) "
          "VALUES ('by-hand', 'transfer', '2026-11-24', sha256('x'));" +
          lines_sql + "COMMIT;");
      return "committed";
    } catch (const ledger::DatabaseError& e) {
      EXPECT_NE(e.primary_message().find("unbalanced_at_commit"), std::string::npos) << e.what();
      return e.sqlstate();
    }
  };
  const std::string line1 = fmt::format(
      "INSERT INTO ledger.journal_line VALUES (currval('ledger.journal_entry_id_seq'), 1, {}, 'D', 100, 1, 100, "
      "sha256('y'), '2026-11-24');",
      bank_id);
  const std::string line2_unequal = fmt::format(
      "INSERT INTO ledger.journal_line VALUES (currval('ledger.journal_entry_id_seq'), 2, {}, 'C', 99, 2, 1, "
      "sha256('z'), '2026-11-24');",
      bank_id);
  EXPECT_EQ(try_commit(line1), ledger::sqlstate::unbalanced_at_commit);
  EXPECT_EQ(try_commit(line1 + line2_unequal), ledger::sqlstate::unbalanced_at_commit);
  EXPECT_EQ(try_commit(""), ledger::sqlstate::unbalanced_at_commit);  // a header without lines

  EXPECT_EQ(entry_count(), 0);
  EXPECT_EQ(line_count(), 0);
  EXPECT_EQ(verify_counts(), counts(0, 0, 0, 0));
}

TEST_F(LedgerTest, AReplayDifferingInAnyOneFieldIsRefused) {
  open_payer2();
  fund(payer1, "100.00", "open:P1");
  const auto builder = EntryBuilder("t-1", "transfer", day("2026-11-24"))
                           .description("rent")
                           .debit(payer1, cny("30.00"))
                           .credit(merchant, cny("30.00"));
  const auto first = ledger_.post(*builder.build());
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->status, PostResult::Status::posted);
  const long long entries = entry_count();

  // Each of these differs from the original in one respect: amount, description, day, kind, line
  // order, account.
  const std::vector<EntryBuilder> others{
      EntryBuilder("t-1", "transfer", day("2026-11-24")).description("rent").debit(payer1, cny("30.01")).credit(merchant, cny("30.01")),
      EntryBuilder("t-1", "transfer", day("2026-11-24")).description("Rent").debit(payer1, cny("30.00")).credit(merchant, cny("30.00")),
      EntryBuilder("t-1", "transfer", day("2026-11-25")).description("rent").debit(payer1, cny("30.00")).credit(merchant, cny("30.00")),
      EntryBuilder("t-1", "payment", day("2026-11-24")).description("rent").debit(payer1, cny("30.00")).credit(merchant, cny("30.00")),
      EntryBuilder("t-1", "transfer", day("2026-11-24")).description("rent").credit(merchant, cny("30.00")).debit(payer1, cny("30.00")),
      EntryBuilder("t-1", "transfer", day("2026-11-24")).description("rent").debit(payer2, cny("30.00")).credit(merchant, cny("30.00")),
  };
  for (std::size_t i = 0; i < others.size(); ++i) {
    const auto other = ledger_.post(*others[i].build());
    ASSERT_FALSE(other.has_value()) << "variant " << i;
    EXPECT_EQ(other.error().code, Reject::exists_with_different_content) << "variant " << i;
    EXPECT_EQ(other.error().message, fmt::format("entry {} was posted under t-1 with other content", first->entry_id));
  }
  EXPECT_EQ(entry_count(), entries);
  EXPECT_EQ(balance(payer1), 7000);
  EXPECT_EQ(balance(payer2), 0);
  EXPECT_EQ(balance(merchant), 3000);
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

TEST_F(LedgerTest, OneReferenceWithTwoContentsFromEightThreadsPostsOneOfThem) {
  fund(payer1, "100.00", "open");
  // Even threads post 7.00, odd threads 8.00, all under one reference: the first one in wins, its
  // group is told `exists`, the other group is refused.
  const auto seven = *EntryBuilder("race", "transfer", day("2026-11-24")).debit(payer1, cny("7.00")).credit(merchant, cny("7.00")).build();
  const auto eight = *EntryBuilder("race", "transfer", day("2026-11-24")).debit(payer1, cny("8.00")).credit(merchant, cny("8.00")).build();
  std::atomic<int> posted_seven{0}, posted_eight{0}, exists_seven{0}, exists_eight{0}, refused_seven{0},
      refused_eight{0}, other{0};
  run_together(8, [&](std::size_t t) {
    const bool is_seven = t % 2 == 0;
    const auto r = ledger_.post(is_seven ? seven : eight);
    if (!r) {
      if (r.error().code != Reject::exists_with_different_content) ++other;
      else (is_seven ? refused_seven : refused_eight)++;
    } else if (r->status == PostResult::Status::posted) {
      (is_seven ? posted_seven : posted_eight)++;
    } else {
      (is_seven ? exists_seven : exists_eight)++;
    }
  });
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(posted_seven.load() + posted_eight.load(), 1);
  if (posted_seven.load() == 1) {
    EXPECT_EQ(exists_seven.load(), 3);
    EXPECT_EQ(refused_eight.load(), 4);
    EXPECT_EQ(balance(merchant), 700);
  } else {
    EXPECT_EQ(exists_eight.load(), 3);
    EXPECT_EQ(refused_seven.load(), 4);
    EXPECT_EQ(balance(merchant), 800);
  }
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'race'"), 1);
  EXPECT_EQ(verify_counts(), counts(0, 0, 0, 0));
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

TEST_F(LedgerTest, TheApplicationRoleMayOnlyPostAndTheAuditorOnlyRead) {
  fund(payer1, "10.00", "open:P1");
  soci::session s(soci::postgresql, tdb_.conninfo());
  // "ok", or the SQLSTATE the statement failed with.
  const auto outcome = [&s](const std::string& sql) -> std::string {
    try {
      ledger::exec_script(s, sql, "as a role");
      return "ok";
    } catch (const ledger::DatabaseError& e) {
      return e.sqlstate();
    }
  };
  const auto first_text = [&s](const std::string& sql) {
    std::string value;
    s << sql, soci::into(value);
    return value;
  };
  const std::string denied(ledger::sqlstate::insufficient_privilege);

  ledger::exec_script(s, "SET ROLE promoledger_app", "becoming the application");
  EXPECT_EQ(first_text("SELECT current_user"), "promoledger_app");
  EXPECT_EQ(outcome("UPDATE ledger.journal_line SET amount_fen = 1"), denied);
  EXPECT_EQ(outcome("DELETE FROM ledger.journal_line"), denied);
  EXPECT_EQ(outcome("INSERT INTO ledger.journal_line SELECT * FROM ledger.journal_line LIMIT 1"), denied);
  EXPECT_EQ(outcome("INSERT INTO ledger.journal_entry (external_ref, kind, business_day, content_hash) "
                    "VALUES ('x', 'transfer', '2026-11-24', sha256('x'))"),
            denied);
  EXPECT_EQ(outcome("UPDATE ledger.account_balance SET credits_fen = credits_fen + 100"), denied);
  EXPECT_EQ(outcome("TRUNCATE ledger.journal_line"), denied);
  // The internal helper is not callable on its own (it would skip every guard of post_entry).
  EXPECT_EQ(outcome("SELECT ledger.apply_lines(e, '{1,2}', '{D,C}', '{1,1}') FROM ledger.journal_entry e LIMIT 1"),
            denied);
  EXPECT_EQ(first_text("SELECT status FROM ledger.post_entry('app-1', 'transfer', '2026-11-24', '', "
                       "'{payer:P1:deposit,merchant:M1:settlement}', '{D,C}', '{100,100}')"),
            "posted");
  EXPECT_EQ(first_text("SELECT count(*)::text FROM ledger.journal_line"), "4");

  ledger::exec_script(s, "RESET ROLE; SET ROLE promoledger_auditor", "becoming the auditor");
  EXPECT_EQ(first_text("SELECT current_user"), "promoledger_auditor");
  EXPECT_EQ(first_text("SELECT count(*)::text FROM ledger.journal_line"), "4");
  EXPECT_EQ(first_text("SELECT sum(violations)::text FROM ledger.verify()"), "0");
  EXPECT_EQ(outcome("SELECT * FROM ledger.post_entry('aud-1', 'transfer', '2026-11-24', '', "
                    "'{payer:P1:deposit,merchant:M1:settlement}', '{D,C}', '{100,100}')"),
            denied);
  EXPECT_EQ(outcome("SELECT * FROM ledger.reverse_entry(1, 'aud-rev', '2026-11-24', '')"), denied);
  EXPECT_EQ(outcome("SELECT ledger.open_account('aud:x', 'x', 'asset', NULL, NULL)"), denied);
  EXPECT_EQ(outcome("UPDATE ledger.journal_entry SET description = 'x'"), denied);

  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'app-1'"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'aud-1'"), 0);
  EXPECT_EQ(balance(payer1), 900);
  EXPECT_EQ(balance(merchant), 100);
}

TEST_F(LedgerTest, ReversalRestoresBalancesOnceAndOnlyOnce) {
  fund("payer:P1:deposit", "100.00", "open");
  const auto paid = post_ok(EntryBuilder("pay", "payment", day("2026-11-24"))
                                .debit("payer:P1:deposit", cny("95.00"))
                                .debit("outlet:O1:subsidy:660101", cny("10.00"))
                                .credit("merchant:M1:settlement", cny("105.00"))
                                .build());
  auto rev = ledger_.reverse(paid.entry_id, "rev:pay", day("2026-11-25"), "customer refund");
  ASSERT_TRUE(rev.has_value()) << rev.error().message;
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

TEST_F(LedgerTest, AReversalRespectsLimitsToo) {
  open_payer2();
  const auto opening = fund(payer2, "10.00", "open:P2");
  post_ok(EntryBuilder("spend", "transfer", day("2026-11-24")).debit(payer2, cny("10.00")).credit(merchant, cny("10.00")).build());
  // Reversing the opening would take 10.00 from a deposit that is already empty.
  const long long entries = entry_count();
  const auto r = ledger_.reverse(opening.entry_id, "rev:open:P2", day("2026-11-24"), "");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Reject::insufficient_funds);
  EXPECT_EQ(entry_count(), entries);
  EXPECT_EQ(balance(payer2), 0);
  EXPECT_EQ(balance(bank), 1000);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE reverses_entry_id IS NOT NULL"), 0);
}

TEST_F(LedgerTest, OneEntryReversedFromEightThreadsIsReversedOnce) {
  fund(payer1, "100.00", "open");
  const auto paid =
      post_ok(EntryBuilder("pay", "payment", day("2026-11-24")).debit(payer1, cny("60.00")).credit(merchant, cny("60.00")).build());

  // Under eight different references: one reversal, seven already_reversed.
  std::atomic<int> posted{0}, refused{0}, other{0};
  run_together(8, [&](std::size_t t) {
    const auto r = ledger_.reverse(paid.entry_id, fmt::format("rev-{}", t), day("2026-11-24"), "");
    if (r && r->status == PostResult::Status::posted) ++posted;
    else if (!r && r.error().code == Reject::already_reversed) ++refused;
    else ++other;
  });
  EXPECT_EQ(posted.load(), 1);
  EXPECT_EQ(refused.load(), 7);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(balance(payer1), 10000);
  EXPECT_EQ(balance(merchant), 0);

  // Under one reference: one reversal, seven replays of it (post_entry locks the original entry, so a
  // replay waits for the first reversal and answers `exists` instead of failing on the unique index).
  const auto paid2 =
      post_ok(EntryBuilder("pay2", "payment", day("2026-11-24")).debit(payer1, cny("30.00")).credit(merchant, cny("30.00")).build());
  std::atomic<int> posted2{0}, exists2{0};
  std::mutex others_mutex;
  std::vector<std::string> others;  // what the other outcomes said, for the failure message
  run_together(8, [&](std::size_t) {
    const auto r = ledger_.reverse(paid2.entry_id, "rev-pay2", day("2026-11-24"), "");
    if (r && r->status == PostResult::Status::posted) {
      ++posted2;
    } else if (r && r->status == PostResult::Status::exists) {
      ++exists2;
    } else {
      const std::lock_guard lock(others_mutex);
      others.push_back(r ? "?" : fmt::format("{}: {}", ledger::to_string(r.error().code), r.error().message));
    }
  });
  EXPECT_EQ(posted2.load(), 1);
  EXPECT_EQ(exists2.load(), 7);
  EXPECT_TRUE(others.empty()) << fmt::format("{}", fmt::join(others, "\n"));
  EXPECT_EQ(balance(payer1), 10000);
  EXPECT_EQ(balance(merchant), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE reverses_entry_id IS NOT NULL"), 2);
  EXPECT_EQ(verify_counts(), counts(0, 0, 0, 0));
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

TEST_F(LedgerTest, ABackDatedEntryCountsForItsDayButNotBeforeItWasPosted) {
  fund(payer1, "100.00", "open:P1");  // business day 2026-11-23
  post_ok(EntryBuilder("d24", "transfer", day("2026-11-24")).debit(payer1, cny("30.00")).credit(merchant, cny("30.00")).build());
  post_ok(EntryBuilder("d25", "transfer", day("2026-11-25")).debit(payer1, cny("20.00")).credit(merchant, cny("20.00")).build());
  const auto as_of_day = [&](const char* d) { return ledger_.balance_as_of_day(payer1, day(d)).value().balance_fen; };
  const auto as_of = [&](ledger::Timestamp at) { return ledger_.balance_as_of(payer1, at).value().balance_fen; };
  const auto t25 = posted_at("d25");
  EXPECT_EQ(as_of_day("2026-11-22"), 0);
  EXPECT_EQ(as_of(t25), 5000);

  // Business day and posting time are two axes: an entry back-dated to the 22nd, posted last, counts
  // for that day but not for any time before it was posted.
  post_ok(EntryBuilder("d22-late", "opening", day("2026-11-22")).debit(bank, cny("10.00")).credit(payer1, cny("10.00")).build());
  EXPECT_EQ(as_of_day("2026-11-22"), 1000);
  EXPECT_EQ(as_of_day("2026-11-25"), 6000);
  EXPECT_EQ(as_of(t25), 5000);
  EXPECT_EQ(as_of(posted_at("d22-late")), 6000);
  EXPECT_EQ(balance(payer1), 6000);
}

TEST_F(LedgerTest, AnAlteredAmountWithEverythingElseMadeConsistentIsFoundByTheChainAlone) {
  fund(payer1, "100.00", "open:P1");
  for (int i = 0; i < 3; ++i) {
    post_ok(EntryBuilder(fmt::format("p{}", i), "transfer", day("2026-11-24")).debit(payer1, cny("5.00")).credit(merchant, cny("5.00")).build());
  }
  ASSERT_EQ(verify_counts(), counts(0, 0, 0, 0));
  const std::string digest = ledger_.chain_digest();
  // p2 (the last entry) becomes 4.00 on both sides, with the running balances and the stored
  // balances fixed to match: every sum agrees, only the line hashes can tell.
  tdb_.exec_as_admin(
      "SET session_replication_role = replica;"
      "UPDATE ledger.journal_line SET amount_fen = 400, "
      "  balance_after_fen = balance_after_fen + CASE side WHEN 'D' THEN 100 ELSE -100 END "
      "  WHERE entry_id = (SELECT id FROM ledger.journal_entry WHERE external_ref = 'p2');"
      "UPDATE ledger.account_balance SET debits_fen = debits_fen - 100 WHERE account_id = "
      "  (SELECT id FROM ledger.account WHERE code = 'payer:P1:deposit');"
      "UPDATE ledger.account_balance SET credits_fen = credits_fen - 100 WHERE account_id = "
      "  (SELECT id FROM ledger.account WHERE code = 'merchant:M1:settlement');");
  EXPECT_EQ(balance(payer1), 8600);
  EXPECT_EQ(balance(merchant), 1400);
  EXPECT_EQ(verify_counts(), counts(0, 0, 2, 0));
  for (const auto& c : ledger_.verify()) {
    if (c.name == "hash_chain_links") {
      EXPECT_NE(c.sample.find("hash does not match its content and predecessor"), std::string::npos) << c.sample;
    }
  }
  // The digest covers head hashes and line counts, neither of which changed: verify is what finds this.
  EXPECT_EQ(ledger_.chain_digest(), digest);
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
      "  b.credits_fen - b.debits_fen - 500, sha256('x'), '2026-11-24' FROM ledger.account a JOIN ledger.account_balance b ON b.account_id = a.id "
      "  WHERE a.code = 'payer:P1:deposit';"
      "INSERT INTO ledger.journal_line SELECT currval('ledger.journal_entry_id_seq'), 2, a.id, 'C', 500, b.line_count + 1, "
      "  b.credits_fen - b.debits_fen + 500, sha256('y'), '2026-11-24' FROM ledger.account a JOIN ledger.account_balance b ON b.account_id = a.id "
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

TEST_F(LedgerTest, AnEmptyDatabaseIsMigratedOnceInOrder) {
  const std::string name = tdb_.name() + "_empty";
  soci::session admin(soci::postgresql, admin_conninfo() + " dbname=postgres");
  ledger::exec_script(admin, "CREATE DATABASE " + name, "creating an empty database");
  struct Drop {
    soci::session& admin;
    std::string name;
    ~Drop() {
      try {
        ledger::exec_script(admin, "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", "dropping");
      } catch (...) {
        // A leftover database is harmless: the test cluster is thrown away.
      }
    }
  } drop{admin, name};
  // Every numbered migration in name order, then every function file.
  std::vector<std::string> expected;
  for (const auto& m : ledger::embedded_migrations()) expected.emplace_back(m.name);
  for (const auto& f : ledger::embedded_function_files()) expected.emplace_back(f.name);
  ASSERT_TRUE(std::is_sorted(ledger::embedded_migrations().begin(), ledger::embedded_migrations().end(),
                             [](const auto& a, const auto& b) { return std::string_view(a.name) < b.name; }));
  {
    soci::session s(soci::postgresql, admin_conninfo() + " dbname=" + name);
    const auto first = ledger::migrate(s);
    EXPECT_EQ(first.applied_now, expected);
    EXPECT_EQ(first.already_applied, 0u);
    const auto second = ledger::migrate(s);
    EXPECT_TRUE(second.applied_now.empty());
    EXPECT_EQ(second.already_applied, ledger::embedded_migrations().size());
    EXPECT_EQ(second.functions_unchanged, ledger::embedded_function_files().size());
  }
}

}  // namespace
}  // namespace promoledger::testing
