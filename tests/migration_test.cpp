// Migrating an existing database in place: a database built by migrations 0001..0004 (the old
// per-payment promo.post_payment and ledger.apply_lines) holds payments, is migrated to the current
// schema and functions, takes more payments by the new batch path on the same accounts, decks and
// payers, and `audit verify` passes over both generations of lines.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include "promo_fixture.hpp"
#include "promoledger/ledger/migrations.hpp"
#include "promoledger/promo/audit_checks.hpp"

namespace promoledger::testing {
namespace {

using ledger::Money;
using promo::Channel;
using promo::PaymentPoster;
using promo::PaymentRequest;
using promo::PaymentResult;
using Outcome = PaymentPoster::Outcome;

// An empty database of its own on the test cluster (not a copy of the migrated template), dropped
// when the test ends, also when it fails.
class ScratchDatabase {
 public:
  ScratchDatabase() {
    std::random_device rd;
    name_ = fmt::format("migration_test_{:08x}{:08x}", rd(), rd());
    soci::session admin(soci::postgresql, admin_conninfo() + " dbname=postgres");
    ledger::exec_script(admin, fmt::format("CREATE DATABASE {}", name_), "creating the scratch database");
    conninfo_ = admin_conninfo() + " dbname=" + name_;
  }
  ~ScratchDatabase() {
    try {
      soci::session admin(soci::postgresql, admin_conninfo() + " dbname=postgres");
      ledger::exec_script(admin, fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_), "dropping");
    } catch (...) {
      // A leftover database is harmless: the cluster is thrown away after the run.
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  const std::string& conninfo() const { return conninfo_; }

 private:
  std::string name_;
  std::string conninfo_;
};

// Applies migrations 0001..0004 exactly as ledger::migrate does (same tables, one transaction per
// file, recorded with its checksum), and nothing else: the state a database of the old code is in.
void migrate_to_old_code(soci::session& s) {
  ledger::exec_script(s,
                      "CREATE TABLE IF NOT EXISTS public.promoledger_migration ("
                      "  name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
                      "  applied_by text NOT NULL DEFAULT current_user);"
                      "CREATE TABLE IF NOT EXISTS public.promoledger_function_history ("
                      "  name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
                      "  applied_by text NOT NULL DEFAULT current_user)",
                      "creating the migration tables");
  const auto all = ledger::embedded_migrations();
  // 0005 changed how payments are posted (what this test is about); 0006 only adds the API tokens,
  // 0007 only TRUNCATE guards, 0008 the record of closed days (none here), 0009 the posting policy and
  // the closing lock (the payments here are dated 2026-11-24/25, before today: within any tolerance),
  // 0010 the outlet daily budget's triggers (decks checked once), 0011 the CHECK on no-discount
  // reasons (the old function wrote only listed ones), 0012 the reason column of campaign events, 0013
  // the types of promo.post_payments' parts and the payment-id CHECK through promo.payment_id_valid
  // (the same rule, which every stored id meets), 0014 the posting periods (partitions, claims, anchors;
  // every row copied unchanged, which this test proves), 0020 the end-of-day tables (schema eod: nothing
  // on the posting path), 0030 the reason's type in bytes and the CHECK on campaign actions (the old code
  // wrote only those).
  ASSERT_EQ(all.size(), 16u) << "this test knows the history up to 0030; a new migration needs a look here";
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& m = all[i];
    ASSERT_EQ(std::string(m.name).substr(0, 5), fmt::format("000{}_", i + 1)) << m.name;
    ledger::exec_script(s, "BEGIN", "begin");
    ledger::exec_script(s, m.sql, m.name);
    const std::string name(m.name), checksum = ledger::sha256_hex(m.sql);
    s << "INSERT INTO public.promoledger_migration (name, checksum) VALUES (:n, :c)", soci::use(name, "n"),
        soci::use(checksum, "c");
    ledger::exec_script(s, "COMMIT", "commit");
  }
}

// What a caller was told about a payment, in a form both generations can produce.
struct Told {
  std::string status;
  std::int64_t entry_id = 0;
  bool discounted = false;
  std::string reason;  // "-" when discounted
  std::int64_t discount_fen = 0, payer_share_fen = 0, merchant_share_fen = 0;
  std::int32_t card_position = 0;  // 0: no card
  std::int64_t deck_id = 0;
  std::string business_day;
  bool operator==(const Told&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Told& t) {
  return os << fmt::format("{} entry={} discounted={} reason={} discount={} payer={} merchant={} card={} deck={} day={}",
                           t.status, t.entry_id, t.discounted, t.reason, t.discount_fen, t.payer_share_fen,
                           t.merchant_share_fen, t.card_position, t.deck_id, t.business_day);
}

Told told_by_new(const Outcome& o) {
  if (!o) {
    Told t;
    t.status = promo::to_string(o.error().code);
    return t;
  }
  const PaymentResult& r = *o;
  return Told{std::string(promo::to_string(r.status)), r.entry_id, r.discounted, r.reason ? std::string(promo::to_string(*r.reason)) : "-",
              r.discount.fen(), r.payer_discount.fen(), r.merchant_reward.fen(), r.card_position.value_or(0),
              r.deck_id.value_or(0), r.business_day};
}

// The old code's call: one payment, one statement, promo.post_payment of 0003/0004.
Told post_old(soci::session& s, const PaymentRequest& p) {
  const std::string channel(promo::to_string(p.channel)), paid_at = ledger::format_timestamp_utc(p.paid_at),
      business_day = ledger::format_day(ledger::business_day_of(p.paid_at));
  const long long amount = p.amount.fen();
  soci::row row;
  s << "SELECT status, coalesce(entry_id, 0), coalesce(discounted, false)::int, coalesce(reason, '-'), "
       "coalesce(discount_fen, 0), coalesce(payer_share_fen, 0), coalesce(merchant_share_fen, 0), "
       "coalesce(card_position, 0), coalesce(deck_id, 0), coalesce(business_day::text, ''), coalesce(detail, '') "
       "FROM promo.post_payment(:id, :payer, :merchant, :channel, :amount, CAST(:paid_at AS timestamptz), "
       "CAST(:day AS date))",
      soci::use(p.payment_id, "id"), soci::use(p.payer, "payer"), soci::use(p.merchant, "merchant"),
      soci::use(channel, "channel"), soci::use(amount, "amount"), soci::use(paid_at, "paid_at"),
      soci::use(business_day, "day"), soci::into(row);
  Told t{row.get<std::string>(0), row.get<long long>(1), row.get<int>(2) != 0, row.get<std::string>(3),
         row.get<long long>(4), row.get<long long>(5), row.get<long long>(6), row.get<int>(7),
         row.get<long long>(8), row.get<std::string>(9)};
  EXPECT_EQ(t.status, "posted") << p.payment_id << ": " << row.get<std::string>(10);
  return t;
}

long long scalar(soci::session& s, const std::string& sql) {
  long long v = 0;
  s << sql, soci::into(v);
  return v;
}

PaymentRequest request(std::string id, int payer, const char* merchant, Channel channel, std::int64_t fen,
                       const char* when) {
  return PaymentRequest{std::move(id), fmt::format("P{}", payer), merchant, channel, Money::from_fen(fen), at(when)};
}

// i-th payment of a generation: M1, M2 (in the campaign), M3 (not); every fifth by WeChat (not
// eligible), every seventh below the 10.00 minimum; payers P1..P30.
PaymentRequest nth_payment(const std::string& prefix, int i, const char* when) {
  static const char* const merchants[] = {"M1", "M2", "M3"};
  const Channel channel = i % 5 == 4 ? Channel::wechat : Channel::bank_app;
  const std::int64_t fen = i % 7 == 6 ? 550 : 1200 + 137 * i;
  return request(fmt::format("{}-{}", prefix, i), 1 + i, merchants[i % 3], channel, fen, when);
}

TEST(MigrationTest, ADatabaseWithOldPaymentsMigratesInPlaceAndVerifiesWithNewOnesOnTheSameChains) {
  const auto started = std::chrono::steady_clock::now();
  ScratchDatabase scratch;
  // Declared after the scratch database: closed before it is dropped.
  ledger::Database db(ledger::DatabaseOptions{scratch.conninfo(), 4});
  auto lease = db.lease();
  soci::session& s = *lease;

  // 1. The old code's database: migrations 0001..0004 only.
  ASSERT_NO_FATAL_FAILURE(migrate_to_old_code(s));
  ASSERT_EQ(scalar(s, "SELECT count(*) FROM pg_proc WHERE oid = 'promo.post_payment(text, text, text, text, bigint, "
                      "timestamptz, date)'::regprocedure"),
            1);
  ASSERT_EQ(scalar(s, "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                      "WHERE n.nspname = 'promo' AND p.proname = 'post_payments'"),
            0)
      << "the new batch function exists before 0005: this is not the old code";

  // 2. The bank of PromoTest, a campaign on M1 and M2 (M3 is outside it), decks for two days.
  std::string bank = small_bank_sql;
  for (int i = 1; i <= 40; ++i) {
    bank += fmt::format("SELECT ledger.add_payer('P{0}', 'Payer {0}');", i);
    bank += fmt::format(
        "SELECT 1/(status = 'posted')::int FROM ledger.post_entry('open:P{0}', 'opening', '2026-11-23', 'opening', "
        "ARRAY['bank:funding', 'payer:P{0}:deposit'], ARRAY['D', 'C'], ARRAY[1000000, 1000000]::bigint[]);",
        i);
  }
  ledger::exec_script(s, bank, "opening the bank");
  const auto params = pilot_params({"M1", "M2"});
  promo::Campaigns campaigns(db);
  auto campaign = campaigns.create(params, nlohmann::json{{"name", params.name}}, "alice");
  ASSERT_TRUE(campaign.has_value()) << campaign.error().message;
  auto approved = campaigns.approve(*campaign, "bob");
  ASSERT_TRUE(approved.has_value()) << approved.error().message;
  ASSERT_EQ(promo::deal_day(db, day("2026-11-24")).decks_dealt, 2);
  ASSERT_EQ(promo::deal_day(db, day("2026-11-25")).decks_dealt, 2);

  // 3. Thirty payments by the old function, one reversed by the old reversal.
  std::map<std::string, PaymentRequest> old_requests;
  std::map<std::string, Told> old_told;
  std::map<std::string, std::int32_t> last_card_old;  // merchant -> highest position taken on 2026-11-24
  for (int i = 0; i < 30; ++i) {
    const auto p = nth_payment("old", i, "2026-11-24T11:00:00+08:00");
    const Told t = post_old(s, p);
    if (t.discounted) last_card_old[p.merchant] = std::max(last_card_old[p.merchant], t.card_position);
    old_requests.emplace(p.payment_id, p);
    old_told.emplace(p.payment_id, t);
  }
  const auto discounted_old = std::count_if(old_told.begin(), old_told.end(), [](const auto& e) { return e.second.discounted; });
  EXPECT_GE(discounted_old, 10);
  ASSERT_GT(last_card_old["M1"], 0);
  ASSERT_GT(last_card_old["M2"], 0);
  EXPECT_EQ(last_card_old.count("M3"), 0u) << "M3 is outside the campaign";
  EXPECT_EQ(old_told.at("old-2").reason, "no_active_campaign");
  ASSERT_TRUE(old_told.at("old-3").discounted);
  {
    std::string status;
    s << "SELECT status FROM promo.reverse_payment('old-3', '2026-11-24')", soci::into(status);
    EXPECT_EQ(status, "posted");
  }
  // And six on a second month (no campaign then), so that the migration spreads rows over two months'
  // partitions (0014).
  for (int i = 0; i < 6; ++i) {
    const auto p = nth_payment("old-dec", i, "2026-12-01T10:00:00+08:00");
    old_requests.emplace(p.payment_id, p);
    old_told.emplace(p.payment_id, post_old(s, p));
  }
  const long long last_old_entry = scalar(s, "SELECT max(id) FROM ledger.journal_entry");
  // Every stored row of the journal's tables, as text of the columns both generations have: the
  // migration moves them into partitions and must keep each one as it was.
  const std::string rows_sql =
      "SELECT md5(string_agg(x, '|' ORDER BY x)) FROM ("
      "SELECT concat_ws(',', id, external_ref, kind, business_day, posted_at, description, encode(content_hash, 'hex'), "
      "reverses_entry_id) AS x FROM ledger.journal_entry UNION ALL "
      "SELECT concat_ws(',', entry_id, line_no, account_id, side, amount_fen, account_seq, balance_after_fen, "
      "encode(line_hash, 'hex')) FROM ledger.journal_line UNION ALL "
      "SELECT concat_ws(',', payment_id, payer_id, merchant_id, outlet_id, channel, amount_fen, paid_at, business_day, "
      "campaign_id, deck_id, card_position, discount_fen, payer_share_fen, merchant_share_fen, reason, entry_id) "
      "FROM promo.payment UNION ALL "
      "SELECT concat_ws(',', payment_id, entry_id, business_day, reversed_at) FROM promo.payment_reversal UNION ALL "
      "SELECT concat_ws(',', campaign_id, payer_id, business_day, discounts) FROM promo.payer_day UNION ALL "
      "SELECT concat_ws(',', id, campaign_id, merchant_id, business_day, cards_fen, used_count, seed_commitment, status) "
      "FROM promo.deck) r";
  std::string rows_before;
  s << rows_sql, soci::into(rows_before);

  // 4. Migrate in place: exactly the new migrations and both function files.
  const auto report = ledger::migrate(s);
  std::vector<std::string> expected_now;
  for (std::size_t i = 4; i < ledger::embedded_migrations().size(); ++i) {
    expected_now.emplace_back(ledger::embedded_migrations()[i].name);
  }
  for (const auto& f : ledger::embedded_function_files()) expected_now.emplace_back(f.name);
  EXPECT_EQ(report.applied_now, expected_now);
  EXPECT_EQ(report.already_applied, 4u);
  EXPECT_EQ(scalar(s, "SELECT count(*) FROM public.promoledger_function_history"),
            static_cast<long long>(ledger::embedded_function_files().size()));
  // The rows are where they were, now in their months' partitions.
  std::string rows_after;
  s << rows_sql, soci::into(rows_after);
  EXPECT_EQ(rows_after, rows_before);
  EXPECT_EQ(scalar(s, "SELECT count(*) FROM ledger.journal_entry_p2026_12"), 6);
  EXPECT_EQ(scalar(s, "SELECT count(*) FROM ledger.entry_ref"), scalar(s, "SELECT count(*) FROM ledger.journal_entry"));
  // The suites' fixed calendar stays inside the replay window (as test_db.cpp does for the others).
  ledger::exec_script(s,
                      "INSERT INTO ledger.posting_policy (future_tolerance, replay_window, reason) "
                      "VALUES (interval '5 minutes', interval '3660 days', 'migration_test: a fixed calendar')",
                      "widening the replay window");

  // 5. Thirty payments by the new batch path to the same merchants, payers and decks, plus two
  //    replays of old payments, one old id with other content, and a few on the second day.
  PaymentPoster poster(db);
  std::vector<PaymentRequest> batch;
  for (int i = 0; i < 30; ++i) {
    batch.push_back(nth_payment("new", i, i < 24 ? "2026-11-24T15:00:00+08:00" : "2026-11-25T09:30:00+08:00"));
  }
  batch.push_back(old_requests.at("old-0"));  // discounted at M1
  batch.push_back(old_requests.at("old-2"));  // M3, no campaign
  PaymentRequest changed = old_requests.at("old-1");
  changed.amount = Money::from_fen(changed.amount.fen() + 1);
  batch.push_back(changed);
  batch.push_back(old_requests.at("old-dec-4"));  // the second month's, from its partition
  const auto outcomes = poster.post_batch(batch);
  ASSERT_EQ(outcomes.size(), batch.size());

  std::map<std::string, std::vector<std::int32_t>> new_cards_day1;  // merchant -> positions, in order
  int discounted_new = 0;
  for (std::size_t i = 0; i < 30; ++i) {
    const Told t = told_by_new(outcomes[i]);
    ASSERT_EQ(t.status, "posted") << batch[i].payment_id << ": " << t;
    EXPECT_GT(t.entry_id, last_old_entry);
    if (!t.discounted) continue;
    ++discounted_new;
    if (t.business_day == "2026-11-24") new_cards_day1[batch[i].merchant].push_back(t.card_position);
  }
  EXPECT_GE(discounted_new, 10);
  // The decks continue where the old code left them: the next positions, none taken twice.
  for (const char* m : {"M1", "M2"}) {
    const auto& cards = new_cards_day1[m];
    ASSERT_FALSE(cards.empty()) << m;
    for (std::size_t k = 0; k < cards.size(); ++k) {
      EXPECT_EQ(cards[k], last_card_old[m] + 1 + static_cast<std::int32_t>(k)) << m << " new discounted payment #" << k;
    }
  }
  EXPECT_EQ(new_cards_day1.count("M3"), 0u);
  // Replays of old payments answer what the old code answered.
  for (std::size_t i : {std::size_t{30}, std::size_t{31}, std::size_t{33}}) {
    Told expected = old_told.at(batch[i].payment_id);
    expected.status = "exists";
    EXPECT_EQ(told_by_new(outcomes[i]), expected) << batch[i].payment_id;
  }
  ASSERT_FALSE(outcomes[32].has_value());
  EXPECT_EQ(outcomes[32].error().code, promo::Reject::exists_with_different_content) << outcomes[32].error().message;

  // 6. Reversals by the new path: an old payment and a new one; the old reversal is known.
  auto rev_old = poster.reverse("old-0", day("2026-11-25"));
  ASSERT_TRUE(rev_old.has_value()) << rev_old.error().message;
  EXPECT_EQ(rev_old->status, promo::ReversalResult::Status::posted);
  const auto first_new_discounted =
      std::find_if(outcomes.begin(), outcomes.begin() + 30, [&](const Outcome& o) { return o && o->discounted; });
  ASSERT_NE(first_new_discounted, outcomes.begin() + 30);
  auto rev_new = poster.reverse((*first_new_discounted)->payment_id, day("2026-11-25"));
  ASSERT_TRUE(rev_new.has_value()) << rev_new.error().message;
  EXPECT_EQ(rev_new->status, promo::ReversalResult::Status::posted);
  // The old code's reversal, sent again by the new path, is recognised: exists, no second one.
  auto rev_again = poster.reverse("old-3", day("2026-11-24"));
  ASSERT_TRUE(rev_again.has_value()) << rev_again.error().message;
  EXPECT_EQ(rev_again->status, promo::ReversalResult::Status::exists);
  EXPECT_EQ(scalar(s, "SELECT count(*) FROM promo.payment_reversal"), 3);

  // The chains really span both generations: accounts with lines before and after the migration.
  const long long spanning = scalar(
      s, fmt::format("SELECT count(*) FROM (SELECT account_id FROM ledger.journal_line GROUP BY account_id "
                     "HAVING min(entry_id) <= {0} AND max(entry_id) > {0}) x",
                     last_old_entry));
  EXPECT_GE(spanning, 30) << "payers P1..P30, the merchants and the outlet subsidy accounts";

  // 7. Every audit check passes, and ledger.verify finds nothing.
  const auto audit = promo::verify_all(db);
  EXPECT_GT(audit.checks.size(), 5u);
  for (const auto& c : audit.checks) {
    EXPECT_TRUE(c.ok()) << c.name << ": " << c.violations << " violation(s): " << c.sample;
  }
  EXPECT_FALSE(audit.chain_digest.empty());
  int verify_rows = 0;
  {
    soci::rowset<soci::row> rows = (s.prepare << "SELECT check_name, violations::bigint, coalesce(sample::text, '') "
                                                 "FROM ledger.verify()");
    for (const auto& r : rows) {
      ++verify_rows;
      EXPECT_EQ(r.get<long long>(1), 0) << r.get<std::string>(0) << ": " << r.get<std::string>(2);
    }
  }
  EXPECT_GT(verify_rows, 0);
  const auto tb = ledger::Ledger(db).trial_balance();
  EXPECT_EQ(tb.total_debits_fen, tb.total_credits_fen);

  // 8. Migrating again applies nothing.
  const auto again = ledger::migrate(s);
  EXPECT_TRUE(again.applied_now.empty());
  EXPECT_EQ(again.already_applied, ledger::embedded_migrations().size());
  EXPECT_EQ(again.functions_unchanged, ledger::embedded_function_files().size());

  std::cout << fmt::format("[ migrated ] {} old payments ({} discounted), {} new ({} discounted), {} accounts span "
                           "the migration, {} audit checks; {} ms\n",
                           old_told.size(), discounted_old, 30, discounted_new, spanning, audit.checks.size(),
                           std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                                  started)
                               .count());
}

}  // namespace
}  // namespace promoledger::testing

namespace promoledger::testing {
namespace {

// "Where is the split rule?" has one answer, a function file, only if every function the database
// runs has its text there: a function created by a migration and never moved would be edited in the
// migration (history) or nowhere. Migrations run first and function files last, so a function's
// body in the catalog (prosrc) is the text of the file that defines it, verbatim. Each is also short
// enough to hold in one's head (issue 21: no SQL function over about 150 lines).
TEST(MigrationTest, EveryFunctionOfTheSchemasHasItsCurrentTextInAFunctionFileAndFitsOnAScreen) {
  constexpr std::size_t lines_per_function_max = 150;
  TestDatabase t;
  auto lease = t.db(1).lease();
  soci::rowset<soci::row> rows = (lease->prepare << "SELECT n.nspname || '.' || p.proname, p.prosrc FROM pg_proc p "
                                                    "JOIN pg_namespace n ON n.oid = p.pronamespace "
                                                    "WHERE n.nspname IN ('ledger', 'promo', 'api') AND p.prokind = 'f' "
                                                    "ORDER BY 1");
  std::size_t functions = 0;
  std::map<std::string, int> per_file;
  for (const auto& row : rows) {
    const auto name = row.get<std::string>(0);
    const auto body = row.get<std::string>(1);
    ++functions;
    const auto files = ledger::embedded_function_files();
    const auto defined = std::find_if(files.begin(), files.end(), [&](const ledger::EmbeddedMigration& f) {
      const std::string text(f.sql);
      return text.find("FUNCTION " + name + "(") != std::string::npos && text.find(body) != std::string::npos;
    });
    EXPECT_NE(defined, files.end()) << name << ": its current text is in no function file (sql/functions/)";
    if (defined != files.end()) ++per_file[defined->name];
    const auto lines = static_cast<std::size_t>(std::count(body.begin(), body.end(), '\n')) + 1;
    EXPECT_LE(lines, lines_per_function_max) << name << " is " << lines << " lines: split it into named parts";
  }
  EXPECT_GT(functions, 40u);
  for (const auto& [file, n] : per_file) std::cout << fmt::format("[ functions] {:<22} {}\n", file, n);
}

}  // namespace
}  // namespace promoledger::testing
