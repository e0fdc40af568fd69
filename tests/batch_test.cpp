// Batch posting (promo.post_payments, PaymentPoster::post_batch) and group commit (GroupCommitPoster)
// against a real PostgreSQL: a batch gives exactly the results of posting one by one, each payment
// stays all or nothing inside a batch, concurrent writers lose nothing, and a caller is answered only
// after the commit.
#include <algorithm>
#include <atomic>
#include <array>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <thread>

#include <openssl/sha.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>

#include "promo_fixture.hpp"
#include "promoledger/ledger/posting_policy.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/group_commit.hpp"
#include "promoledger/promo/splitmix.hpp"

namespace promoledger::testing {
namespace {

using namespace std::chrono_literals;
using ledger::Money;
using promo::Channel;
using promo::GroupCommitPoster;
using promo::PaymentPoster;
using promo::PaymentRequest;
using promo::PaymentResult;
using promo::Reject;
using Outcome = PaymentPoster::Outcome;
using Clock = std::chrono::steady_clock;

// The bank of PromoTest (BR1 -> SB1 -> O1 (M1, M2), O2 (M3); P1..P40 with 10,000.00 each) plus
// S1..S12 with small balances (5.00 + 3.00 * i) that run out.
constexpr int big_payers = 40;
constexpr int small_payers = 12;
constexpr std::int64_t big_balance_fen = 1'000'000;
std::int64_t small_balance_fen(int i) { return 500 + 300 * i; }

// Every test database gets the same campaign secret, so the same decks are dealt in each and two
// databases can be compared card by card (the audit's re-deal still checks every deck).
constexpr const char* campaign_secret_hex = "5eedc0ffee5eedc0ffee5eedc0ffee5eedc0ffee5eedc0ffee5eedc0ffee0001";

ledger::Database& pool(TestDatabase& t) { return t.db(16); }

void open_bank(TestDatabase& t) {
  // These suites post on a fixed calendar (2026-11-24..27) whatever the date they run on, some of it
  // ahead of the clock: a simulation, so the future tolerance is the largest (posting_policy_test
  // covers the default).
  const auto policy = ledger::set_future_tolerance(pool(t), ledger::future_tolerance_max, "batch_test: a fixed calendar");
  if (!policy) throw std::runtime_error("posting policy: " + policy.error().message);
  std::string script = small_bank_sql;
  for (int i = 1; i <= big_payers; ++i) script += fmt::format("SELECT ledger.add_payer('P{0}', 'Payer {0}');", i);
  for (int i = 1; i <= small_payers; ++i) script += fmt::format("SELECT ledger.add_payer('S{0}', 'Small payer {0}');", i);
  t.exec_as_admin(script);
  ledger::Ledger ledger(pool(t));
  auto open = [&](const std::string& payer, std::int64_t fen) {
    auto entry = ledger::EntryBuilder("open:" + payer, "opening", day("2026-11-23"))
                     .debit("bank:funding", Money::from_fen(fen))
                     .credit("payer:" + payer + ":deposit", Money::from_fen(fen))
                     .build();
    if (!entry) throw std::runtime_error("opening entry for " + payer + " does not build");
    auto posted = ledger.post(*entry);
    if (!posted) throw std::runtime_error("opening entry for " + payer + ": " + posted.error().message);
  };
  for (int i = 1; i <= big_payers; ++i) open(fmt::format("P{}", i), big_balance_fen);
  for (int i = 1; i <= small_payers; ++i) open(fmt::format("S{}", i), small_balance_fen(i));
}

// Creates the campaign, gives it the fixed secret while it is a draft, approves it, deals the days.
void start_campaign(TestDatabase& t, const promo::CampaignParams& params, const std::vector<const char*>& days) {
  promo::Campaigns campaigns(pool(t));
  auto id = campaigns.create(params, nlohmann::json{{"name", params.name}}, "alice");
  if (!id) throw std::runtime_error("campaign: " + id.error().message);
  t.exec_as_admin(fmt::format("UPDATE promo.campaign SET secret = decode('{}', 'hex') WHERE id = {}",
                              campaign_secret_hex, *id));
  auto approved = campaigns.approve(*id, "bob");
  if (!approved) throw std::runtime_error("approval: " + approved.error().message);
  for (const char* d : days) {
    if (promo::deal_day(pool(t), day(d)).decks_dealt == 0) throw std::runtime_error(fmt::format("no deck dealt on {}", d));
  }
}

void prepare(TestDatabase& t, const promo::CampaignParams& params, const std::vector<const char*>& days) {
  open_bank(t);
  start_campaign(t, params, days);
}

// Rows of a one-column text query, sorted here (not by the server's collation).
std::vector<std::string> lines(ledger::Database& db, const std::string& sql) {
  auto lease = db.lease();
  std::vector<std::string> out;
  soci::rowset<std::string> rows = (lease->prepare << sql);
  for (const auto& r : rows) out.push_back(r);
  std::sort(out.begin(), out.end());
  return out;
}

long long scalar(ledger::Database& db, const std::string& sql) {
  auto lease = db.lease();
  long long value = 0;
  *lease << sql, soci::into(value);
  return value;
}

ledger::WideFen balance(ledger::Database& db, const std::string& code) {
  auto b = ledger::Ledger(db).balance(code);
  EXPECT_TRUE(b.has_value()) << code;
  return b ? b->balance_fen : ledger::WideFen(-1);
}

// Deck id -> "merchant/day", to compare decks across databases by what they are, not by id.
std::map<std::int64_t, std::string> deck_names(ledger::Database& db) {
  auto lease = db.lease();
  std::map<std::int64_t, std::string> out;
  soci::rowset<soci::row> rows = (lease->prepare << "SELECT d.id, m.code || '/' || d.business_day::text FROM promo.deck d "
                                                    "JOIN ledger.merchant m ON m.id = d.merchant_id");
  for (const auto& r : rows) out[r.get<long long>(0)] = r.get<std::string>(1);
  return out;
}

// Everything a caller learns of a payment except the entry id (ids are not part of the contract
// across databases).
std::string describe(const Outcome& o, const std::map<std::int64_t, std::string>& decks) {
  if (!o) return fmt::format("refused {}", promo::to_string(o.error().code));
  const PaymentResult& r = *o;
  std::string deck = "-";
  if (r.deck_id) {
    const auto it = decks.find(*r.deck_id);
    deck = it == decks.end() ? fmt::format("no such deck {}", *r.deck_id) : it->second;
  }
  return fmt::format("{} {} discounted={} reason={} amount={} discount={} payer_share={} merchant_share={} card={} "
                     "deck={} day={} campaign={}",
                     promo::to_string(r.status), r.payment_id, r.discounted, r.reason ? promo::to_string(*r.reason) : "-", r.amount.fen(),
                     r.discount.fen(), r.payer_discount.fen(), r.merchant_reward.fen(),
                     r.card_position ? std::to_string(*r.card_position) : "-", deck, r.business_day,
                     r.campaign_id ? std::to_string(*r.campaign_id) : "-");
}

// What the outcome was, coarsely: a rejection code, exists, discounted, or the reason for no discount.
std::string kind_of(const Outcome& o) {
  if (!o) return std::string(promo::to_string(o.error().code));
  if (o->status == PaymentResult::Status::exists) return "exists";
  return o->discounted ? "discounted" : std::string(promo::to_string(*o->reason));
}

// The state a sequence of payments leaves, as sorted text lines per aspect.
std::map<std::string, std::vector<std::string>> state_of(ledger::Database& db) {
  std::map<std::string, std::vector<std::string>> s;
  s["balances"] = lines(db, "SELECT concat_ws(' ', a.code, b.debits_fen, b.credits_fen, b.line_count) FROM ledger.account a "
                            "JOIN ledger.account_balance b ON b.account_id = a.id");
  s["decks"] = lines(db, "SELECT concat_ws(' ', m.code, d.business_day, d.used_count, d.card_count, d.status) "
                         "FROM promo.deck d JOIN ledger.merchant m ON m.id = d.merchant_id");
  s["payer_days"] = lines(db, "SELECT concat_ws(' ', p.code, x.business_day, x.discounts) FROM promo.payer_day x "
                              "JOIN ledger.payer p ON p.id = x.payer_id WHERE x.discounts > 0");
  s["budget"] = lines(db, "SELECT concat_ws(' ', name, status, budget_total_fen, budget_reserved_fen, budget_spent_fen) "
                          "FROM promo.campaign");
  s["merchant_day_stats"] =
      lines(db, "SELECT concat_ws(' ', m.code, s.business_day, s.channel, s.payments, s.amount_fen, s.discounted, "
                "s.discount_fen, s.payer_share_fen, s.merchant_share_fen, s.reversed) FROM promo.merchant_day_stats s "
                "JOIN ledger.merchant m ON m.id = s.merchant_id");
  // Every stored payment, with its deck named by merchant and day (ids may differ between databases).
  s["payments"] = lines(db, "SELECT concat_ws(' ', p.payment_id, py.code, m.code, p.channel, p.amount_fen, "
                            "p.business_day, p.discount_fen, p.payer_share_fen, p.merchant_share_fen, "
                            "coalesce(p.reason, '-'), coalesce(p.card_position, 0), "
                            "coalesce(dm.code || '/' || d.business_day::text, '-')) FROM promo.payment p "
                            "JOIN ledger.payer py ON py.id = p.payer_id JOIN ledger.merchant m ON m.id = p.merchant_id "
                            "LEFT JOIN promo.deck d ON d.id = p.deck_id "
                            "LEFT JOIN ledger.merchant dm ON dm.id = d.merchant_id");
  return s;
}

// Equal sorted lines; on a difference, says how many and shows the first few.
void expect_same_lines(const std::vector<std::string>& a, const std::vector<std::string>& b, const std::string& what) {
  if (a == b) return;
  std::vector<std::string> only_a, only_b;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
  std::string shown;
  for (std::size_t i = 0; i < std::min<std::size_t>(5, only_a.size()); ++i) shown += "\n  first only:  " + only_a[i];
  for (std::size_t i = 0; i < std::min<std::size_t>(5, only_b.size()); ++i) shown += "\n  second only: " + only_b[i];
  ADD_FAILURE() << what << ": " << a.size() << " vs " << b.size() << " rows, " << only_a.size() << " only in the first, "
                << only_b.size() << " only in the second" << shown;
}

void expect_same_state(ledger::Database& a, ledger::Database& b) {
  const auto sa = state_of(a), sb = state_of(b);
  for (const auto& [aspect, rows] : sa) expect_same_lines(rows, sb.at(aspect), aspect);
}

void expect_audit_passes(ledger::Database& db, const char* which) {
  const auto report = promo::verify_all(db);
  EXPECT_GT(report.checks.size(), 5u) << which;
  for (const auto& c : report.checks) {
    EXPECT_TRUE(c.ok()) << which << ": " << c.name << ": " << c.violations << " violation(s): " << c.sample;
  }
  const auto tb = ledger::Ledger(db).trial_balance();
  EXPECT_EQ(tb.total_debits_fen, tb.total_credits_fen) << which;
}

struct Mix {
  int count = 0;
  std::uint64_t seed = 1;
  std::string prefix;
  std::vector<const char*> days;
  bool small_payers = true;            // S1..S12, who run out of money
  bool conflicting_duplicates = true;  // the same id with other content
};

// A random mix: channels, the three merchants and an unknown one (MZZ), known and unknown (U*)
// payers, amounts from 0 (refused) through below the minimum to 60.00, and repeated ids.
std::vector<PaymentRequest> random_payments(const Mix& mix) {
  promo::SplitMix rng{mix.seed};
  std::vector<PaymentRequest> out;
  out.reserve(static_cast<std::size_t>(mix.count));
  static const char* const merchants[] = {"M1", "M2", "M3"};
  for (int i = 0; i < mix.count; ++i) {
    const auto roll = rng.below(1000);
    if (!out.empty() && roll < 30) {  // 3%: the same id and content again
      out.push_back(out[rng.below(out.size())]);
      continue;
    }
    if (!out.empty() && mix.conflicting_duplicates && roll < 45) {  // 1.5%: the same id, another amount
      PaymentRequest r = out[rng.below(out.size())];
      r.amount = Money::from_fen(r.amount.fen() + 1 + static_cast<std::int64_t>(rng.below(500)));
      out.push_back(std::move(r));
      continue;
    }
    PaymentRequest r{fmt::format("{}-{}", mix.prefix, i), "", "", Channel::bank_app, Money::from_fen(0), {}};
    const auto who = rng.below(100);
    if (who < 2) {
      r.payer = fmt::format("U{}", rng.below(5));
    } else if (mix.small_payers && who < 14) {
      r.payer = fmt::format("S{}", 1 + rng.below(small_payers));
    } else {
      r.payer = fmt::format("P{}", 1 + rng.below(big_payers));
    }
    r.merchant = rng.below(100) < 2 ? "MZZ" : merchants[rng.below(3)];
    const auto ch = rng.below(100);
    r.channel = ch < 70 ? Channel::bank_app : ch < 85 ? Channel::wechat : Channel::alipay;
    const auto size = rng.below(100);
    r.amount = Money::from_fen(size == 0 ? 0 : size < 10 ? 100 + static_cast<std::int64_t>(rng.below(900))
                                                          : 1000 + static_cast<std::int64_t>(rng.below(5000)));
    // Roughly chronological: the run walks through the days (so every deck starts full somewhere in
    // the sequence, not all at its start), with one payment in ten arriving on another day.
    const std::size_t day_count = mix.days.size();
    const char* d = rng.below(10) == 0 ? mix.days[rng.below(day_count)]
                                       : mix.days[std::min(day_count - 1, static_cast<std::size_t>(i) * day_count /
                                                                              static_cast<std::size_t>(mix.count))];
    r.paid_at = at(fmt::format("{}T{:02}:{:02}:{:02}+08:00", d, rng.below(24), rng.below(60), rng.below(60)).c_str());
    out.push_back(std::move(r));
  }
  return out;
}

PaymentRequest request(std::string id, const char* payer, const char* merchant, const char* amount,
                       Channel channel = Channel::bank_app, const char* when = "2026-11-24T12:00:00+08:00") {
  return PaymentRequest{std::move(id), payer, merchant, channel, cny(amount), at(when)};
}

// ---------------------------------------------------------------------------------------------
// 1. Differential: one by one versus batches of 1, 7, 100, 1000.

TEST(BatchTest, TenThousandRandomPaymentsGiveTheSameResultsOneByOneAndInBatchesOfAnySize) {
  TestDatabase a, b;
  auto params = pilot_params({"M1", "M2"});
  params.payer_daily_limit = 3;
  const std::vector<const char*> dealt{"2026-11-24", "2026-11-25", "2026-11-26"};
  prepare(a, params, dealt);
  prepare(b, params, dealt);
  // 2026-11-27 is inside the campaign but not dealt: reason not_dealt.
  const auto payments =
      random_payments({10'000, 20261124, "d", {"2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"}, true, true});

  PaymentPoster poster_a(pool(a)), poster_b(pool(b));
  std::vector<Outcome> one_by_one, batched;
  one_by_one.reserve(payments.size());
  batched.reserve(payments.size());
  const auto t0 = Clock::now();
  for (const auto& p : payments) one_by_one.push_back(poster_a.post(p));
  const auto t1 = Clock::now();
  const std::size_t sizes[] = {1, 7, 100, 1000};
  std::size_t batches = 0;
  for (std::size_t from = 0; from < payments.size(); ++batches) {
    const std::size_t n = std::min(sizes[batches % 4], payments.size() - from);
    auto part = poster_b.post_batch(std::span<const PaymentRequest>(payments).subspan(from, n));
    ASSERT_EQ(part.size(), n);
    for (auto& o : part) batched.push_back(std::move(o));
    from += n;
  }
  const auto t2 = Clock::now();
  std::cout << fmt::format("[ timing   ] {} payments one by one: {} ms; in {} batches: {} ms\n", payments.size(),
                           std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0).count(), batches,
                           std::chrono::duration_cast<std::chrono::milliseconds>(t2 - t1).count());

  // Per payment, in input order (duplicates included).
  const auto decks_a = deck_names(pool(a)), decks_b = deck_names(pool(b));
  ASSERT_EQ(batched.size(), one_by_one.size());
  int mismatches = 0;
  for (std::size_t i = 0; i < payments.size(); ++i) {
    const auto da = describe(one_by_one[i], decks_a), db = describe(batched[i], decks_b);
    if (da != db && ++mismatches <= 10) {
      ADD_FAILURE() << "payment #" << i << " (" << payments[i].payment_id << "): one by one: " << da
                    << "\n  batched: " << db;
    }
  }
  EXPECT_EQ(mismatches, 0);

  // The mix covered what it is meant to cover.
  std::map<std::string, int> kinds;
  for (const auto& o : one_by_one) ++kinds[kind_of(o)];
  for (const char* k : {"discounted", "daily_cap_reached", "channel_not_eligible", "below_minimum_payment",
                        "no_active_campaign", "not_dealt", "payer_daily_limit", "exists", "exists_with_different_content",
                        "insufficient_funds", "unknown_payer", "unknown_merchant", "amount_must_be_positive"}) {
    EXPECT_GT(kinds[k], 0) << k;
  }
  for (const auto& [k, n] : kinds) std::cout << fmt::format("[ mix      ] {:<30} {}\n", k, n);

  expect_same_state(pool(a), pool(b));
  expect_audit_passes(pool(a), "one by one");
  expect_audit_passes(pool(b), "batched");
}

// The figures promo.post_payments gives, recorded: 3,000 random payments sent straight to the SQL
// function in batches of 1, 7, 100 and 1,000, every result row as PostgreSQL prints it (status,
// entry id, figures, detail), every entry and line (hashes aside: they include the posting time) and
// the state. The digest in tests/golden/post-payments.sha256 was recorded with the 507-line function
// before it was split into named parts (issue 21); the split, and any later change that means to keep
// the figures, must give the same digest. On a difference the dump is written next to the build for
// a diff against one made by the recorded commit.
TEST(BatchTest, ThreeThousandRandomPaymentsGiveTheRecordedResultsEntriesAndState) {
  TestDatabase t;
  auto params = pilot_params({"M1", "M2"});
  params.payer_daily_limit = 3;
  prepare(t, params, {"2026-11-24", "2026-11-25", "2026-11-26"});
  const auto payments =
      random_payments({3'000, 20261202, "g", {"2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"}, true, true});

  std::string dump;
  const std::size_t sizes[] = {1, 7, 100, 1000};
  std::size_t batches = 0;
  {
    auto lease = pool(t).lease();
    for (std::size_t from = 0; from < payments.size(); ++batches) {
      const std::size_t n = std::min(sizes[batches % 4], payments.size() - from);
      ledger::PgArrayLiteral ids, payers, merchants, channels, amounts, paid_at, days;
      for (std::size_t i = from; i < from + n; ++i) {
        const PaymentRequest& r = payments[i];
        ids.add(r.payment_id);
        payers.add(r.payer);
        merchants.add(r.merchant);
        channels.add(promo::to_string(r.channel));
        amounts.add(std::to_string(r.amount.fen()));
        paid_at.add(ledger::format_timestamp_utc(r.paid_at));
        days.add(ledger::format_day(ledger::business_day_of(r.paid_at)));
      }
      std::string a1 = std::move(ids).finish(), a2 = std::move(payers).finish(), a3 = std::move(merchants).finish(),
                  a4 = std::move(channels).finish(), a5 = std::move(amounts).finish(), a6 = std::move(paid_at).finish(),
                  a7 = std::move(days).finish();
      soci::rowset<std::string> rows =
          (lease->prepare << "SELECT r::text FROM promo.post_payments(CAST(:a1 AS text[]), CAST(:a2 AS text[]), "
                             "CAST(:a3 AS text[]), CAST(:a4 AS text[]), CAST(:a5 AS bigint[]), "
                             "CAST(:a6 AS timestamptz[]), CAST(:a7 AS date[])) r",
           soci::use(a1), soci::use(a2), soci::use(a3), soci::use(a4), soci::use(a5), soci::use(a6), soci::use(a7));
      std::size_t got = 0;
      for (const auto& row : rows) {
        dump += row + "\n";
        ++got;
      }
      ASSERT_EQ(got, n) << "batch " << batches;
      from += n;
    }
  }
  // Inputs the random mix does not make, each decided on its own path: the guards of step 1, a closed
  // day, a time ahead of the clock, and a new id twice in one batch.
  {
    promo::close_day(pool(t), day("2026-11-24"));
    auto lease = pool(t).lease();
    soci::rowset<std::string> rows = (lease->prepare << R"(
      SELECT r::text FROM promo.post_payments(
        ARRAY['g bad id', 'g-zero', 'g-huge', 'g-cash', 'g-mismatch', 'g-ok', 'g-closed', 'g-future', 'g-ok', 'g-ok'],
        ARRAY['P1', 'P1', 'P1', 'P1', 'P1', 'P4', 'P2', 'P3', 'P4', 'P4'],
        ARRAY['M1', 'M1', 'M1', 'M1', 'M1', 'M2', 'M1', 'M1', 'M2', 'M2'],
        ARRAY['bank_app', 'bank_app', 'bank_app', 'cash', 'bank_app', 'bank_app', 'bank_app', 'bank_app', 'bank_app',
              'bank_app'],
        ARRAY[1500, 0, 10000000001, 1500, 1500, 1500, 1500, 1500, 1500, 1600]::bigint[],
        ARRAY['2026-11-25 12:00+08', '2026-11-25 12:00+08', '2026-11-25 12:00+08', '2026-11-25 12:00+08',
              '2026-11-25 23:59:59.999999+08', '2026-11-25 13:00+08', '2026-11-24 12:00+08', '2031-01-01 12:00+08',
              '2026-11-25 13:00+08', '2026-11-25 13:00+08']::timestamptz[],
        ARRAY['2026-11-25', '2026-11-25', '2026-11-25', '2026-11-25', '2026-11-26', '2026-11-25', '2026-11-24',
              '2031-01-01', '2026-11-25', '2026-11-25']::date[]) r)");
    // The refusal of a time ahead of the clock says how far ahead of the clock: kept up to there.
    for (const auto& row : rows) {
      const auto clock = row.find(" is ", row.find("\"paid_at "));
      dump += (row.rfind("(paid_at_in_future,", 0) == 0 && clock != std::string::npos ? row.substr(0, clock) : row) + "\n";
    }
  }
  dump += "-- entries\n";
  for (const auto& l : lines(pool(t), "SELECT concat_ws(' ', e.id, e.external_ref, e.kind, e.business_day, e.description, "
                                      "encode(e.content_hash, 'hex')) FROM ledger.journal_entry e")) {
    dump += l + "\n";
  }
  dump += "-- lines\n";
  for (const auto& l : lines(pool(t), "SELECT concat_ws(' ', l.entry_id, l.line_no, a.code, l.side, l.amount_fen, "
                                      "l.account_seq, l.balance_after_fen) FROM ledger.journal_line l "
                                      "JOIN ledger.account a ON a.id = l.account_id")) {
    dump += l + "\n";
  }
  for (const auto& [aspect, rows] : state_of(pool(t))) {
    dump += "-- " + aspect + "\n";
    for (const auto& l : rows) dump += l + "\n";
  }
  expect_audit_passes(pool(t), "recorded");

  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(dump.data()), dump.size(), digest.data());
  std::string hex;
  for (unsigned char c : digest) hex += fmt::format("{:02x}", c);
  const std::filesystem::path golden = std::filesystem::path(PROMOLEDGER_GOLDEN_DIR) / "post-payments.sha256";
  if (std::getenv("PROMOLEDGER_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(golden) << hex << "\n";
    return;
  }
  std::ifstream in(golden);
  ASSERT_TRUE(in.good()) << "missing " << golden << " (PROMOLEDGER_UPDATE_GOLDEN=1 records it)";
  std::string expected;
  in >> expected;
  if (hex != expected) {
    const auto out = std::filesystem::temp_directory_path() / "post-payments-dump.txt";
    std::ofstream(out) << dump;
    ADD_FAILURE() << "the results, entries or state differ from the recorded ones (" << dump.size() << " bytes, sha256 "
                  << hex << ", recorded " << expected << "); the dump is in " << out;
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Group commit under 16 threads.

TEST(BatchTest, SixteenThreadsThroughGroupCommitKeepEveryInvariantAndTheTotalsArrivalOrderCannotChange) {
  TestDatabase ref, grp;
  const auto params = pilot_params({"M1", "M2"});  // no per-payer limit: the discounted count is order-free
  const std::vector<const char*> days{"2026-11-24", "2026-11-25"};
  prepare(ref, params, {"2026-11-24", "2026-11-25", "2026-11-26"});
  prepare(grp, params, {"2026-11-24", "2026-11-25", "2026-11-26"});
  // No small payers and no conflicting duplicates: which payment posts then cannot depend on order.
  auto payments = random_payments({3'000, 777, "g", days, false, false});
  // A quiet day: fewer eligible payments at M1 than the cap, plus some that are not eligible.
  for (int i = 0; i < 12; ++i) {
    payments.push_back(request(fmt::format("quiet-{}", i), fmt::format("P{}", 1 + i).c_str(), "M1", "15.00",
                               Channel::bank_app, "2026-11-26T10:00:00+08:00"));
    payments.push_back(request(fmt::format("quiet-wx-{}", i), fmt::format("P{}", 1 + i).c_str(), "M1", "15.00",
                               Channel::wechat, "2026-11-26T10:00:00+08:00"));
  }

  PaymentPoster poster_ref(pool(ref));
  std::vector<Outcome> reference;
  for (const auto& p : payments) reference.push_back(poster_ref.post(p));

  PaymentPoster poster(pool(grp));
  GroupCommitPoster group(poster, promo::GroupCommitOptions{2, PaymentPoster::batch_size_max, 10'000, {}});
  constexpr std::size_t threads = 16, in_flight = 25;
  std::vector<std::optional<Outcome>> outcomes(payments.size());
  std::atomic<int> failures{0};
  std::barrier start(static_cast<std::ptrdiff_t>(threads));
  std::vector<std::thread> pool_threads;
  for (std::size_t t = 0; t < threads; ++t) {
    pool_threads.emplace_back([&, t] {
      // Thread t takes every 16th payment; odd threads go backwards, so arrival order differs from
      // the reference's.
      std::vector<std::size_t> mine;
      for (std::size_t i = t; i < payments.size(); i += threads) mine.push_back(i);
      if (t % 2 == 1) std::reverse(mine.begin(), mine.end());
      start.arrive_and_wait();
      for (std::size_t from = 0; from < mine.size(); from += in_flight) {
        std::vector<std::pair<std::size_t, std::future<Outcome>>> futures;
        for (std::size_t k = from; k < std::min(from + in_flight, mine.size()); ++k) {
          futures.emplace_back(mine[k], group.submit(payments[mine[k]]));
        }
        for (auto& [i, f] : futures) {
          try {
            outcomes[i] = f.get();
          } catch (const std::exception& e) {
            ++failures;
            ADD_FAILURE() << payments[i].payment_id << ": " << e.what();
          }
        }
      }
    });
  }
  for (auto& th : pool_threads) th.join();
  const auto stats = group.stats();
  group.stop();
  std::cout << fmt::format("[ stats    ] {} batches, {} payments, largest {}, mean {:.1f}\n", stats.batches,
                           stats.payments, stats.largest_batch, stats.mean_batch_size());
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(stats.largest_batch, 1u) << "no batch of more than one payment formed";
  EXPECT_EQ(stats.payments, payments.size());

  // Outcome counts by kind (posted vs exists of a duplicate pair swap with order; the sum does not).
  const auto accepted_or_code = [](const Outcome& o) { return o ? std::string("accepted") : kind_of(o); };
  std::map<std::string, int> kinds_ref, kinds_grp;
  for (const auto& o : reference) ++kinds_ref[accepted_or_code(o)];
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.has_value());
    ++kinds_grp[accepted_or_code(*o)];
  }
  EXPECT_EQ(kinds_grp, kinds_ref);
  EXPECT_EQ(scalar(pool(grp), "SELECT count(*) FROM promo.payment"), scalar(pool(ref), "SELECT count(*) FROM promo.payment"));

  // Per merchant-day: discounted = min(cap, eligible), eligibility counted here from the requests.
  std::map<std::string, long long> eligible;
  std::set<std::string> seen;
  for (const auto& p : payments) {
    if (!seen.insert(p.payment_id).second) continue;
    if (p.payer[0] != 'P' || (p.merchant != "M1" && p.merchant != "M2") || p.channel != Channel::bank_app ||
        p.amount.fen() < 1000) {
      continue;
    }
    ++eligible[p.merchant + "/" + ledger::format_day(ledger::business_day_of(p.paid_at))];
  }
  std::vector<std::string> expected_discounted;
  for (const auto& [merchant_day, n] : eligible) {
    expected_discounted.push_back(fmt::format("{} {}", merchant_day, std::min(n, 20LL)));
  }
  std::sort(expected_discounted.begin(), expected_discounted.end());
  ASSERT_EQ(expected_discounted.size(), 5u);
  EXPECT_NE(std::find(expected_discounted.begin(), expected_discounted.end(), "M1/2026-11-26 12"),
            expected_discounted.end());
  const std::string discounted_sql =
      "SELECT m.code || '/' || p.business_day::text || ' ' || count(*) FROM promo.payment p "
      "JOIN ledger.merchant m ON m.id = p.merchant_id WHERE p.deck_id IS NOT NULL GROUP BY m.code, p.business_day";
  EXPECT_EQ(lines(pool(grp), discounted_sql), expected_discounted);
  EXPECT_EQ(lines(pool(ref), discounted_sql), expected_discounted);

  // Totals arrival order cannot change: the cards taken are each deck's first ones, so subsidies,
  // merchant settlements, the payers' total, decks, budget and the per-merchant-day aggregates agree.
  const std::string totals_sql =
      "SELECT a.code || ' ' || (b.credits_fen - b.debits_fen) FROM ledger.account a "
      "JOIN ledger.account_balance b ON b.account_id = a.id WHERE a.code NOT LIKE 'payer:%' "
      "UNION ALL SELECT 'all payers ' || sum(b.credits_fen - b.debits_fen) FROM ledger.account a "
      "JOIN ledger.account_balance b ON b.account_id = a.id WHERE a.code LIKE 'payer:%'";
  EXPECT_EQ(lines(pool(grp), totals_sql), lines(pool(ref), totals_sql));
  const auto s_grp = state_of(pool(grp)), s_ref = state_of(pool(ref));
  for (const char* aspect : {"decks", "budget", "merchant_day_stats"}) expect_same_lines(s_grp.at(aspect), s_ref.at(aspect), aspect);
  EXPECT_EQ(s_grp.at("payments").size(), s_ref.at("payments").size());
  expect_audit_passes(pool(grp), "group commit");
  expect_audit_passes(pool(ref), "one by one");
}

// ---------------------------------------------------------------------------------------------
// 3. Inside one batch.

class OneBatchTest : public ::testing::Test {
 protected:
  TestDatabase tdb_;
  void SetUp() override { prepare(tdb_, pilot_params({"M1", "M2"}), {"2026-11-24"}); }
  ledger::Database& db() { return pool(tdb_); }
};

TEST_F(OneBatchTest, ARefusedPaymentInTheMiddleOfABatchChangesNothingForTheOthers) {
  TestDatabase without;
  prepare(without, pilot_params({"M1", "M2"}), {"2026-11-24"});
  const std::vector<PaymentRequest> others{
      request("o-1", "P1", "M1", "50.00"), request("o-2", "P2", "M1", "30.00"), request("o-3", "P1", "M2", "40.00"),
      request("o-4", "P3", "M1", "25.00"), request("o-5", "P1", "M3", "12.00"), request("o-6", "P2", "M1", "18.00")};
  // S1 holds 8.00: an eligible 20.00 at M1 cannot be paid (and must not take M1's next card);
  // U7 is no payer.
  const PaymentRequest poor = request("bad-funds", "S1", "M1", "20.00");
  const PaymentRequest stranger = request("bad-payer", "U7", "M1", "20.00");
  std::vector<PaymentRequest> with_refused(others.begin(), others.begin() + 3);
  with_refused.push_back(poor);
  with_refused.push_back(stranger);
  with_refused.insert(with_refused.end(), others.begin() + 3, others.end());

  PaymentPoster poster(db()), poster_without(pool(without));
  const auto got = poster.post_batch(with_refused);
  const auto expected = poster_without.post_batch(others);
  ASSERT_EQ(got.size(), with_refused.size());
  ASSERT_FALSE(got[3].has_value());
  EXPECT_EQ(got[3].error().code, Reject::insufficient_funds) << got[3].error().message;
  ASSERT_FALSE(got[4].has_value());
  EXPECT_EQ(got[4].error().code, Reject::unknown_payer) << got[4].error().message;
  const auto decks = deck_names(db()), decks_without = deck_names(pool(without));
  for (std::size_t i = 0; i < others.size(); ++i) {
    const std::size_t j = i < 3 ? i : i + 2;
    ASSERT_TRUE(got[j].has_value()) << others[i].payment_id << ": " << got[j].error().message;
    EXPECT_EQ(describe(got[j], decks), describe(expected[i], decks_without));
  }
  EXPECT_EQ(balance(db(), "payer:S1:deposit"), small_balance_fen(1));
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment WHERE payment_id LIKE 'bad-%'"), 0);
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM ledger.journal_entry WHERE external_ref LIKE 'payment:bad-%'"), 0);
  expect_same_state(db(), pool(without));
  expect_audit_passes(db(), "with refused");
}

TEST_F(OneBatchTest, OfTwoPaymentsOfOnePayerOnlyTheFirstFitsTheBalanceAndTheSecondIsRefused) {
  const std::int64_t start = small_balance_fen(5);  // 20.00
  ASSERT_EQ(balance(db(), "payer:S5:deposit"), start);
  PaymentPoster poster(db());
  const std::vector<PaymentRequest> batch{request("fits", "S5", "M1", "15.00"), request("too-much", "S5", "M3", "15.00")};
  const auto got = poster.post_batch(batch);
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(got[0].has_value()) << got[0].error().message;
  EXPECT_EQ(got[0]->status, PaymentResult::Status::posted);
  EXPECT_TRUE(got[0]->discounted);
  ASSERT_FALSE(got[1].has_value());
  EXPECT_EQ(got[1].error().code, Reject::insufficient_funds) << got[1].error().message;
  EXPECT_EQ(balance(db(), "payer:S5:deposit"), start - got[0]->payer_pays().fen());
  EXPECT_EQ(balance(db(), "merchant:M3:settlement"), 0);
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment WHERE payment_id = 'too-much'"), 0);
  expect_audit_passes(db(), "two of one payer");
}

TEST_F(OneBatchTest, ADuplicateIdInsideOneBatchPostsOnceAndAnswersTheRepeatWithTheFirstFigures) {
  PaymentPoster poster(db());
  PaymentRequest first = request("dup-1", "P1", "M1", "50.00");
  PaymentRequest other_content = first;
  other_content.amount = cny("51.00");
  const std::vector<PaymentRequest> batch{first, request("between", "P2", "M1", "30.00"), first, other_content};
  const auto got = poster.post_batch(batch);
  ASSERT_EQ(got.size(), 4u);
  ASSERT_TRUE(got[0].has_value());
  ASSERT_TRUE(got[1].has_value());
  ASSERT_TRUE(got[2].has_value()) << got[2].error().message;
  EXPECT_EQ(got[0]->status, PaymentResult::Status::posted);
  EXPECT_EQ(got[0]->card_position, 1);
  EXPECT_EQ(got[1]->card_position, 2);
  EXPECT_EQ(got[2]->status, PaymentResult::Status::exists);
  const auto figures = [](const PaymentResult& r) {
    return fmt::format("entry={} discounted={} reason={} amount={} discount={} payer={} merchant={} campaign={} deck={} "
                       "card={} day={}",
                       r.entry_id, r.discounted, r.reason ? promo::to_string(*r.reason) : "-", r.amount.fen(), r.discount.fen(),
                       r.payer_discount.fen(), r.merchant_reward.fen(), r.campaign_id.value_or(-1), r.deck_id.value_or(-1),
                       r.card_position.value_or(-1), r.business_day);
  };
  EXPECT_EQ(figures(*got[2]), figures(*got[0]));
  ASSERT_FALSE(got[3].has_value());
  EXPECT_EQ(got[3].error().code, Reject::exists_with_different_content) << got[3].error().message;
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment WHERE payment_id = 'dup-1'"), 1);
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'payment:dup-1'"), 1);
  EXPECT_EQ(scalar(db(), "SELECT sum(used_count) FROM promo.deck"), 2);
  EXPECT_EQ(balance(db(), "payer:P1:deposit"), big_balance_fen - got[0]->payer_pays().fen());
  // A later batch answers the same.
  const auto again = poster.post_batch(std::vector<PaymentRequest>{first});
  ASSERT_TRUE(again[0].has_value());
  EXPECT_EQ(again[0]->status, PaymentResult::Status::exists);
  EXPECT_EQ(figures(*again[0]), figures(*got[0]));
  expect_audit_passes(db(), "duplicates");
}

TEST_F(OneBatchTest, AThousandEligiblePaymentsToOneMerchantInOneBatchTakeExactlyTheDailyCap) {
  std::vector<PaymentRequest> batch;
  for (int i = 0; i < 1000; ++i) {
    batch.push_back(request(fmt::format("k-{}", i), fmt::format("P{}", 1 + i % big_payers).c_str(), "M1", "12.34"));
  }
  PaymentPoster poster(db());
  const auto got = poster.post_batch(batch);
  ASSERT_EQ(got.size(), 1000u);
  std::multiset<int> positions;
  int capped = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].has_value()) << i << ": " << got[i].error().message;
    EXPECT_EQ(got[i]->status, PaymentResult::Status::posted);
    if (got[i]->discounted) {
      ASSERT_TRUE(got[i]->card_position.has_value());
      positions.insert(*got[i]->card_position);
      EXPECT_LT(i, 20u) << "a card was given after the cap";
    } else {
      EXPECT_EQ(got[i]->reason, promo::NoDiscountReason::daily_cap_reached) << i;
      ++capped;
    }
  }
  std::multiset<int> one_to_twenty;
  for (int p = 1; p <= 20; ++p) one_to_twenty.insert(p);
  EXPECT_EQ(positions, one_to_twenty);
  EXPECT_EQ(capped, 980);
  EXPECT_EQ(scalar(db(), "SELECT used_count FROM promo.deck d JOIN ledger.merchant m ON m.id = d.merchant_id "
                         "WHERE m.code = 'M1'"),
            20);
  EXPECT_EQ(balance(db(), "outlet:O1:subsidy:660101"),
            scalar(db(), "SELECT reserved_fen FROM promo.deck d JOIN ledger.merchant m ON m.id = d.merchant_id "
                         "WHERE m.code = 'M1'"));
  expect_audit_passes(db(), "thousand");
}

// ---------------------------------------------------------------------------------------------
// 4. Concurrent writers on overlapping accounts.

TEST_F(OneBatchTest, FourWritersPostingOverlappingBatchesAtOnceSurfaceNoDeadlockAndLoseNoUpdate) {
  PaymentPoster poster(db());
  constexpr int writers = 4;
  constexpr std::size_t batch_size = 50;
  const auto retries_before = ledger::retries_taken().load();
  struct Acked {
    PaymentRequest request;
    PaymentResult result;
  };
  std::vector<std::vector<Acked>> acked(writers);
  std::atomic<int> errors{0}, refused{0};
  std::barrier start(writers);
  const auto run_for = 2500ms;
  constexpr int batches_max = 60;  // per writer: at most 12,000 payments of at most 20.00 over 40 payers
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      promo::SplitMix rng{static_cast<std::uint64_t>(1000 + w)};
      static const char* const merchants[] = {"M1", "M2", "M3"};
      start.arrive_and_wait();
      const auto until = Clock::now() + run_for;
      // Bounded by time and by count (a fast machine must not drain the payers' 10,000.00).
      for (int n = 0; n < batches_max && Clock::now() < until; ++n) {
        std::vector<PaymentRequest> batch;
        for (std::size_t k = 0; k < batch_size; ++k) {
          batch.push_back(PaymentRequest{fmt::format("w{}-{}-{}", w, n, k), fmt::format("P{}", 1 + rng.below(big_payers)),
                                         merchants[rng.below(3)], rng.below(10) < 8 ? Channel::bank_app : Channel::wechat,
                                         Money::from_fen(100 + static_cast<std::int64_t>(rng.below(1900))),
                                         at("2026-11-24T12:00:00+08:00")});
        }
        try {
          auto got = poster.post_batch(batch);
          for (std::size_t k = 0; k < got.size(); ++k) {
            if (got[k]) {
              acked[static_cast<std::size_t>(w)].push_back(Acked{batch[k], *got[k]});
            } else {
              ++refused;
            }
          }
        } catch (const std::exception& e) {
          ++errors;
          ADD_FAILURE() << "writer " << w << ": " << e.what();
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto retries = ledger::retries_taken().load() - retries_before;
  std::size_t total = 0;
  for (const auto& a : acked) total += a.size();
  std::cout << fmt::format("[ load     ] {} payments acknowledged by {} writers, {} retries\n", total, writers, retries);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(refused.load(), 0);
  for (const auto& a : acked) EXPECT_GT(a.size(), batch_size) << "a writer got almost nothing done";

  // Every acknowledged payment is stored with its figures, and nothing else is.
  std::map<std::string, std::string> stored;
  {
    auto lease = db().lease();
    soci::rowset<soci::row> rows = (lease->prepare << "SELECT payment_id, entry_id, discount_fen, payer_share_fen, "
                                                      "merchant_share_fen, coalesce(card_position, 0) FROM promo.payment");
    for (const auto& r : rows) {
      stored[r.get<std::string>(0)] = fmt::format("{} {} {} {} {}", r.get<long long>(1), r.get<long long>(2),
                                                  r.get<long long>(3), r.get<long long>(4), r.get<int>(5));
    }
  }
  EXPECT_EQ(stored.size(), total);
  std::map<std::string, std::int64_t> payer_spent, merchant_received;
  std::map<std::int32_t, int> m1_cards;
  int missing = 0;
  for (const auto& writer : acked) {
    for (const auto& [req, r] : writer) {
      const auto it = stored.find(r.payment_id);
      const auto want = fmt::format("{} {} {} {} {}", r.entry_id, r.discount.fen(), r.payer_discount.fen(),
                                    r.merchant_reward.fen(), r.card_position.value_or(0));
      if ((it == stored.end() || it->second != want) && ++missing <= 10) {
        ADD_FAILURE() << r.payment_id << ": acknowledged " << want << ", stored "
                      << (it == stored.end() ? "nothing" : it->second);
      }
      payer_spent[req.payer] += r.payer_pays().fen();
      merchant_received[req.merchant] += r.merchant_receives().fen();
    }
  }
  EXPECT_EQ(missing, 0);
  // No lost update: each balance is exactly its start plus the acknowledged payments.
  for (int i = 1; i <= big_payers; ++i) {
    const std::string payer = fmt::format("P{}", i);
    EXPECT_EQ(balance(db(), "payer:" + payer + ":deposit"), big_balance_fen - payer_spent[payer]) << payer;
  }
  for (const char* m : {"M1", "M2", "M3"}) {
    EXPECT_EQ(balance(db(), fmt::format("merchant:{}:settlement", m)), merchant_received[m]) << m;
  }
  expect_audit_passes(db(), "concurrent writers");
}

// ---------------------------------------------------------------------------------------------
// 5, 6. A commit held back: a test-only deferred trigger takes an advisory lock at COMMIT.

constexpr long long commit_gate_key = 770077;

class CommitGateTest : public OneBatchTest {
 protected:
  void SetUp() override {
    OneBatchTest::SetUp();
    tdb_.exec_as_admin(fmt::format(
        "CREATE FUNCTION public.test_commit_gate() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN PERFORM pg_advisory_xact_lock({}); RETURN NULL; END $$;"
        "CREATE CONSTRAINT TRIGGER test_commit_gate AFTER INSERT ON promo.payment "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.test_commit_gate();",
        commit_gate_key));
    gate_ = std::make_unique<soci::session>(soci::postgresql, tdb_.conninfo());
  }
  void TearDown() override { gate_.reset(); }  // also releases the gate

  void close_gate() { ledger::exec_script(*gate_, fmt::format("SELECT pg_advisory_lock({})", commit_gate_key), "gate"); }
  void open_gate() { ledger::exec_script(*gate_, fmt::format("SELECT pg_advisory_unlock({})", commit_gate_key), "gate"); }

  // The backend waiting at the gate, once there is one (0 after the timeout).
  // `known`: backends already seen (killed) that must not count.
  int wait_for_blocked_backend(const std::vector<int>& known = {}, std::chrono::milliseconds timeout = 20s) {
    std::string exclude = "0";
    for (int k : known) exclude += fmt::format(", {}", k);
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      int pid = 0;
      soci::indicator ind = soci::i_ok;
      *gate_ << fmt::format("SELECT min(pid) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                            "AND classid = 0 AND objid = {} AND pid NOT IN ({})",
                            commit_gate_key, exclude),
          soci::into(pid, ind);
      if (ind == soci::i_ok && pid != 0) return pid;
      std::this_thread::sleep_for(10ms);
    }
    return 0;
  }

  std::unique_ptr<soci::session> gate_;
};

// Declared after a GroupCommitPoster: on any early exit (a failed ASSERT) the gate opens before the
// poster's destructor waits for its writer, which would otherwise wait at the gate.
struct OpenGateOnExit {
  std::unique_ptr<soci::session>& gate;
  ~OpenGateOnExit() { gate.reset(); }
};

// A result's figures, and the same figures as stored.
std::string figures_of(const PaymentResult& r) {
  return fmt::format("{} {} {} {} {} {}", r.entry_id, r.amount.fen(), r.discount.fen(), r.payer_discount.fen(),
                     r.merchant_reward.fen(), r.card_position.value_or(0));
}
std::string stored_figures(ledger::Database& db, const std::string& payment_id) {
  auto rows = lines(db, fmt::format("SELECT concat_ws(' ', entry_id, amount_fen, discount_fen, payer_share_fen, "
                                    "merchant_share_fen, coalesce(card_position, 0)) FROM promo.payment "
                                    "WHERE payment_id = '{}'",
                                    payment_id));
  return rows.size() == 1 ? rows[0] : fmt::format("{} rows", rows.size());
}

template <typename T>
bool is_ready(std::future<T>& f, std::chrono::milliseconds wait = 0ms) {
  return f.wait_for(wait) == std::future_status::ready;
}

TEST_F(CommitGateTest, CallersAreAnsweredOnlyAfterCommitAndBatchesKilledAtCommitStoreNothing) {
  PaymentPoster poster(db());
  GroupCommitPoster group(poster, promo::GroupCommitOptions{1, PaymentPoster::batch_size_max, 10'000, {}});
  const OpenGateOnExit open_gate_on_exit{gate_};
  using Future = std::future<PaymentPoster::Outcome>;
  std::vector<PaymentRequest> requests;
  for (int i = 0; i < 6; ++i) {
    requests.push_back(request(fmt::format("gate-{}", i), fmt::format("P{}", i + 1).c_str(), "M1", "30.00"));
  }
  const auto submit = [&](std::size_t from, std::size_t to) {
    std::vector<Future> out;
    for (std::size_t i = from; i < to; ++i) out.push_back(group.submit(requests[i]));
    return out;
  };
  const auto none_ready = [](std::vector<Future>& fs, std::chrono::milliseconds wait) {
    bool any = false;
    for (auto& f : fs) any = any || is_ready(f, wait);
    return !any;
  };
  close_gate();
  // Batch 1 = {gate-0}: the only writer takes it and waits at COMMIT.
  auto first = submit(0, 1);
  const int pid1 = wait_for_blocked_backend();
  ASSERT_NE(pid1, 0) << "the writer never reached the commit gate";
  // Batch 2 = {gate-1, gate-2, gate-3} queues behind it.
  auto second = submit(1, 4);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(none_ready(first, 0ms)) << "answered before its commit";
  EXPECT_TRUE(none_ready(second, 0ms)) << "answered before its commit";

  ledger::exec_script(*gate_, fmt::format("SELECT pg_terminate_backend({})", pid1), "killing the writer's backend");
  ASSERT_TRUE(is_ready(first[0], 20s));
  try {
    [[maybe_unused]] const auto answer = first[0].get();
    ADD_FAILURE() << "a batch killed before its commit was answered";
  } catch (const ledger::OutcomeUnknown& e) {
    // The caller is told what it may do: re-send with the same id.
    EXPECT_NE(std::string(e.what()).find("outcome is unknown"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("same payment ids"), std::string::npos) << e.what();
  }
  // Batch 2 goes out on a reconnected session and waits at the gate: still no answer.
  const int pid2 = wait_for_blocked_backend({pid1});
  ASSERT_NE(pid2, 0) << "the writer did not post the next batch after the kill";
  EXPECT_TRUE(none_ready(second, 100ms)) << "answered before its commit";
  // Batch 3 = {gate-4, gate-5} queues; then batch 2 is killed too.
  auto third = submit(4, 6);
  ledger::exec_script(*gate_, fmt::format("SELECT pg_terminate_backend({})", pid2), "killing the writer's backend");
  for (auto& f : second) {
    ASSERT_TRUE(is_ready(f, 20s));
    EXPECT_THROW(f.get(), ledger::OutcomeUnknown);
  }
  ASSERT_NE(wait_for_blocked_backend({pid1, pid2}), 0) << "the writer did not post the third batch";
  EXPECT_TRUE(none_ready(third, 100ms)) << "answered before its commit";
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment"), 0);

  open_gate();
  std::vector<PaymentResult> acknowledged;
  for (std::size_t i = 0; i < third.size(); ++i) {
    auto outcome = third[i].get();
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
    EXPECT_EQ(outcome->status, PaymentResult::Status::posted);
    acknowledged.push_back(*outcome);
  }
  // The killed transactions never committed: nothing of gate-0..3 exists, no card, no money moved.
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment WHERE payment_id IN ('gate-0', 'gate-1', 'gate-2', 'gate-3')"), 0);
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM ledger.journal_entry WHERE external_ref LIKE 'payment:gate-%'"), 2);
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(balance(db(), fmt::format("payer:P{}:deposit", i)), big_balance_fen) << i;
  EXPECT_EQ(acknowledged[0].card_position, 1) << "a killed batch took a card";
  // Re-sending posts each exactly once; sending again answers exists with the same entry.
  auto resent = submit(0, 4);
  for (std::size_t i = 0; i < resent.size(); ++i) {
    auto outcome = resent[i].get();
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
    EXPECT_EQ(outcome->status, PaymentResult::Status::posted) << requests[i].payment_id;
    acknowledged.push_back(*outcome);
  }
  for (std::size_t i = 0; i < 4; ++i) {
    auto replay = group.post(requests[i]);
    ASSERT_TRUE(replay.has_value()) << replay.error().message;
    EXPECT_EQ(replay->status, PaymentResult::Status::exists);
    EXPECT_EQ(figures_of(*replay), figures_of(acknowledged[2 + i]));
  }
  // A later payment goes through too (the writer's session works again).
  auto fresh = group.post(request("gate-after", "P9", "M2", "20.00"));
  ASSERT_TRUE(fresh.has_value()) << fresh.error().message;
  EXPECT_EQ(fresh->status, PaymentResult::Status::posted);
  acknowledged.push_back(*fresh);
  const auto stats = group.stats();
  group.stop();

  for (const auto& r : acknowledged) {
    EXPECT_EQ(figures_of(r), stored_figures(db(), r.payment_id)) << r.payment_id;
  }
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment"), static_cast<long long>(acknowledged.size()));
  EXPECT_EQ(stats.unknown_batches, 2u);
  expect_audit_passes(db(), "after the kills");
}

TEST_F(CommitGateTest, AFullQueueRefusesTheNextPaymentWithQueueFullAndStoresNothingOfIt) {
  PaymentPoster poster(db());
  GroupCommitPoster group(poster, promo::GroupCommitOptions{1, PaymentPoster::batch_size_max, 4, {}});
  const OpenGateOnExit open_gate_on_exit{gate_};
  close_gate();
  std::vector<std::future<PaymentPoster::Outcome>> futures;
  futures.push_back(group.submit(request("q-0", "P1", "M1", "20.00")));
  ASSERT_NE(wait_for_blocked_backend(), 0) << "the writer never reached the commit gate";
  for (int i = 1; i <= 4; ++i) {
    futures.push_back(group.submit(request(fmt::format("q-{}", i), fmt::format("P{}", i + 1).c_str(), "M1", "20.00")));
  }
  EXPECT_EQ(group.stats().queue_depth, 4u);
  const PaymentRequest refused = request("q-refused", "P7", "M1", "20.00");
  EXPECT_THROW(group.submit(refused), promo::QueueFull);
  EXPECT_EQ(group.stats().refused_queue_full, 1u);
  for (auto& f : futures) EXPECT_FALSE(is_ready(f));

  open_gate();
  for (auto& f : futures) {
    auto outcome = f.get();
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
    EXPECT_EQ(outcome->status, PaymentResult::Status::posted);
  }
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment WHERE payment_id = 'q-refused'"), 0);
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'payment:q-refused'"), 0);
  EXPECT_EQ(balance(db(), "payer:P7:deposit"), big_balance_fen);
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment"), 5);
  // Once there is room, the same payment is taken.
  auto later = group.post(refused);
  ASSERT_TRUE(later.has_value()) << later.error().message;
  EXPECT_EQ(later->status, PaymentResult::Status::posted);
  group.stop();
  expect_audit_passes(db(), "queue full");
}

TEST_F(OneBatchTest, OutletAffinitySendsAMerchantsOutletToOneWriterAndStillPostsEveryPayment) {
  // M1 and M2 share outlet O1, M3 is in O2 (open_bank); an unknown code falls back to its hash.
  const auto affinity = promo::outlet_affinity(db());
  const auto m1 = affinity(request("a-1", "P1", "M1", "20.00"));
  EXPECT_EQ(affinity(request("a-2", "P2", "M2", "20.00")), m1);
  EXPECT_NE(affinity(request("a-3", "P3", "M3", "20.00")), m1);
  EXPECT_EQ(affinity(request("a-4", "P4", "NOPE", "20.00")), std::hash<std::string>{}("NOPE"));
  // Routed that way across three writers, payments of both outlets post, with the cap kept.
  PaymentPoster poster(db());
  promo::GroupCommitOptions options;
  options.writers = 3;
  options.affinity = affinity;
  std::vector<std::future<Outcome>> futures;
  {
    GroupCommitPoster group(poster, options);
    for (int i = 0; i < 90; ++i) {
      const char* merchant = i % 3 == 0 ? "M1" : (i % 3 == 1 ? "M2" : "M3");
      futures.push_back(group.submit(request(fmt::format("aff-{}", i), fmt::format("P{}", 1 + i % 40).c_str(), merchant,
                                             "20.00")));
    }
  }
  int posted = 0, discounted = 0;
  for (auto& f : futures) {
    const auto outcome = f.get();
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
    ++posted;
    if (outcome->discounted) ++discounted;
  }
  EXPECT_EQ(posted, 90);
  EXPECT_EQ(discounted, 40) << "M1 and M2 are in the campaign, 30 payments each, cap 20; M3 is not";
  expect_audit_passes(db(), "outlet affinity");
}

TEST_F(OneBatchTest, ArraysThatDoNotStartAtOneAreRefusedWholeSoTheRulesAndTheWritesSeeTheSameElement) {
  // An array '[0:1]={…}' would let step 1 check one element and step 4 store another.
  auto lease = db().lease();
  try {
    ledger::exec_script(*lease,
                        "SELECT * FROM promo.post_payments(ARRAY['lb1','lb2'], ARRAY['P1','P2'], ARRAY['M1','M1'], "
                        "ARRAY['bank_app','bank_app'], '[0:1]={20000,500}'::bigint[], "
                        "ARRAY['2026-11-24T04:00:00Z','2026-11-24T04:00:00Z']::timestamptz[], "
                        "ARRAY['2026-11-24','2026-11-24']::date[])",
                        "posting shifted arrays");
    ADD_FAILURE() << "a batch with an array starting at 0 was accepted";
  } catch (const ledger::DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), "22023") << e.what();
    EXPECT_NE(std::string(e.what()).find("invalid_batch"), std::string::npos) << e.what();
  }
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment"), 0);
}

TEST_F(OneBatchTest, APaymentWithTextThatCannotTravelIsRefusedAloneAndTheRestOfTheBatchPosts) {
  PaymentPoster poster(db());
  const std::vector<PaymentRequest> batch{request("u-1", "P1", "M1", "20.00"), request("u-2", "P\xff", "M1", "20.00"),
                                          request("u-3", "P2", "M\xc3", "20.00"), request("u-\xe4\xb8", "P3", "M1", "20.00"),
                                          request(std::string("u-5\0x", 5), "P4", "M1", "20.00"),
                                          request("u-6", "P5", "M1", "20.00")};
  const auto got = poster.post_batch(batch);
  ASSERT_EQ(got.size(), batch.size());
  EXPECT_TRUE(got[0].has_value());
  ASSERT_FALSE(got[1].has_value());
  EXPECT_EQ(got[1].error().code, Reject::unknown_payer);
  ASSERT_FALSE(got[2].has_value());
  EXPECT_EQ(got[2].error().code, Reject::unknown_merchant);
  ASSERT_FALSE(got[3].has_value());
  EXPECT_EQ(got[3].error().code, Reject::invalid_payment_id);
  ASSERT_FALSE(got[4].has_value());
  EXPECT_EQ(got[4].error().code, Reject::invalid_payment_id);
  ASSERT_TRUE(got[5].has_value());
  EXPECT_EQ(got[5]->card_position, 2) << "the refused payments took no card";
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment"), 2);
}

TEST_F(OneBatchTest, AReversalSentAgainForAnotherDayIsARejectionNotAFailure) {
  PaymentPoster poster(db());
  ASSERT_TRUE(poster.post(request("rv-1", "P1", "M1", "20.00")).has_value());
  ASSERT_TRUE(poster.reverse("rv-1", day("2026-11-24")).has_value());
  const auto again = poster.reverse("rv-1", day("2026-11-25"));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, Reject::exists_with_different_content) << again.error().message;
  const auto same = poster.reverse("rv-1", day("2026-11-24"));
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(same->status, promo::ReversalResult::Status::exists);
}


// How many times the batch's steps ran (promo.look_up_payments, step 1) for one call of
// promo.post_payments with the stored payments named 'r-%' re-sent as they are, plus `extra` (SQL rows
// of the same seven columns, or empty). Inside a transaction that is rolled back: nothing stays.
long long steps_run(ledger::Database& db, const std::string& extra) {
  auto lease = db.lease();
  soci::session& s = *lease;
  s << "BEGIN";
  s << "SET LOCAL track_functions = 'pl'";
  const std::string batch =
      "WITH s AS (SELECT p.payment_id, y.code AS payer, m.code AS merchant, p.channel, p.amount_fen, p.paid_at, "
      "p.business_day FROM promo.payment p JOIN ledger.payer y ON y.id = p.payer_id "
      "JOIN ledger.merchant m ON m.id = p.merchant_id WHERE p.payment_id LIKE 'r-%' " +
      extra +
      ") SELECT count(*) FROM promo.post_payments((SELECT array_agg(payment_id ORDER BY payment_id) FROM s), "
      "(SELECT array_agg(payer ORDER BY payment_id) FROM s), (SELECT array_agg(merchant ORDER BY payment_id) FROM s), "
      "(SELECT array_agg(channel ORDER BY payment_id) FROM s), (SELECT array_agg(amount_fen ORDER BY payment_id) FROM s), "
      "(SELECT array_agg(paid_at ORDER BY payment_id) FROM s), (SELECT array_agg(business_day ORDER BY payment_id) FROM s))";
  // The view also shows calls of earlier transactions of the session not yet flushed to the
  // statistics: the difference is this call's.
  const std::string calls_sql =
      "SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions "
      "WHERE schemaname = 'promo' AND funcname = 'look_up_payments'";
  long long answers = 0, calls_before = 0, calls_after = 0;
  s << calls_sql, soci::into(calls_before);
  s << batch, soci::into(answers);
  s << calls_sql, soci::into(calls_after);
  s << "ROLLBACK";
  EXPECT_GT(answers, 0);
  return calls_after - calls_before;
}

// A batch of replays alone is answered from the stored rows without the steps (the fast path of
// promo.post_payments); among other payments the same replays go through every step. Both must give
// the same answer, and that answer is the first one's figures with the status "exists".
TEST_F(OneBatchTest, AReplayAnswersTheSameAloneAndAmongOtherPayments) {
  PaymentPoster poster(db());
  // Discounted at two merchants; no campaign at M3; below the minimum at M1.
  const std::vector<PaymentRequest> stored{request("r-1", "P1", "M1", "50.00"), request("r-2", "P2", "M2", "30.00"),
                                           request("r-3", "P1", "M3", "12.00"), request("r-4", "P3", "M1", "5.00")};
  const auto first = poster.post_batch(stored);
  const auto decks = deck_names(db());
  const auto figures = [&](const Outcome& o) {
    return describe(o, decks) + (o ? fmt::format(" entry={}", o->entry_id) : std::string());
  };
  ASSERT_EQ(first.size(), stored.size());
  for (const auto& o : first) ASSERT_TRUE(o.has_value() && o->status == PaymentResult::Status::posted) << figures(o);
  ASSERT_TRUE(first[0]->discounted && first[1]->discounted && !first[2]->discounted && !first[3]->discounted);

  const auto alone = poster.post_batch(stored);
  PaymentRequest changed = stored[0];
  changed.amount = cny("50.01");
  const std::vector<PaymentRequest> mixed{stored[0], request("r-new", "P2", "M1", "20.00"), stored[1],
                                          stored[2], changed, stored[3]};
  const auto among = poster.post_batch(mixed);
  ASSERT_EQ(alone.size(), stored.size());
  ASSERT_EQ(among.size(), mixed.size());
  const std::array<std::size_t, 4> among_index{0, 2, 3, 5};
  for (std::size_t i = 0; i < stored.size(); ++i) {
    std::string expected = figures(first[i]);
    ASSERT_EQ(expected.rfind("posted ", 0), 0u) << expected;
    expected.replace(0, std::string("posted").size(), "exists");
    EXPECT_EQ(figures(alone[i]), expected) << "alone, " << stored[i].payment_id;
    EXPECT_EQ(figures(among[among_index[i]]), expected) << "among others, " << stored[i].payment_id;
  }
  ASSERT_TRUE(among[1].has_value() && among[1]->status == PaymentResult::Status::posted) << figures(among[1]);
  ASSERT_FALSE(among[4].has_value());
  EXPECT_EQ(among[4].error().code, Reject::exists_with_different_content) << among[4].error().message;

  // Which path answered: none of the steps for stored payments alone; every step once for a batch that
  // also holds a new payment, a re-sent one with other content, or one dated another day.
  EXPECT_EQ(steps_run(db(), ""), 0);
  EXPECT_EQ(steps_run(db(), "UNION ALL (SELECT 'r-z-new', 'P2', 'M1', 'bank_app', 2000, paid_at, business_day FROM "
                             "promo.payment WHERE payment_id = 'r-1')"),
            1);
  EXPECT_EQ(steps_run(db(), "UNION ALL (SELECT 'r-1', 'P1', 'M1', 'bank_app', 5001, paid_at, business_day FROM "
                             "promo.payment WHERE payment_id = 'r-1')"),
            1);
  EXPECT_EQ(steps_run(db(), "UNION ALL (SELECT 'r-2', y.code, m.code, p.channel, p.amount_fen, p.paid_at, "
                             "p.business_day + 1 FROM promo.payment p JOIN ledger.payer y ON y.id = p.payer_id "
                             "JOIN ledger.merchant m ON m.id = p.merchant_id WHERE p.payment_id = 'r-2')"),
            1);
  expect_audit_passes(db(), "replays");
}

// A duplicate sent while the first is still uncommitted waits at the locks, then meets the committed
// first at its write: it must be asked to retry (40001, which the poster's retry answers as "exists"),
// never fail on promo.payment's key (23505: the batch failed, about one run in four of
// PromoTest.ReplaysReturnTheFirstResult...). Two sessions, the first held open until the second waits.
TEST_F(OneBatchTest, ADuplicateThatWaitedForTheFirstsCommitIsAskedToRetryNotRefused) {
  const std::string post =
      "SELECT count(*) FROM promo.post_payments(ARRAY['wait-1'], ARRAY['P1'], ARRAY['M1'], ARRAY['bank_app'], "
      "ARRAY[5000]::bigint[], ARRAY['2026-11-24T04:00:00Z']::timestamptz[], ARRAY['2026-11-24']::date[])";
  auto first = db().lease();
  ledger::exec_script(*first, "BEGIN", "opening the first");
  ledger::exec_script(*first, post, "posting the first");
  std::promise<std::string> second_state;
  std::thread second([&] {
    auto lease = db().lease();
    try {
      ledger::exec_script(*lease, post, "posting the duplicate");
      second_state.set_value("answered without an error");
    } catch (const ledger::DatabaseError& e) {
      second_state.set_value(e.sqlstate() + " " + e.what());
    }
  });
  std::this_thread::sleep_for(1s);  // the duplicate is waiting for the first's locks by now
  ledger::exec_script(*first, "COMMIT", "committing the first");
  second.join();
  const std::string state = second_state.get_future().get();
  EXPECT_EQ(state.substr(0, 5), "40001") << state;
  EXPECT_NE(state.find("concurrent_duplicate"), std::string::npos) << state;
  EXPECT_EQ(scalar(db(), "SELECT count(*) FROM promo.payment WHERE payment_id = 'wait-1'"), 1);
  // And through the poster, the duplicate is a replay.
  PaymentPoster poster(db());
  const auto again = poster.post_batch(std::vector<PaymentRequest>{request("wait-1", "P1", "M1", "50.00")});
  ASSERT_TRUE(again[0].has_value()) << again[0].error().message;
  EXPECT_EQ(again[0]->status, PaymentResult::Status::exists);
}

}  // namespace
}  // namespace promoledger::testing
