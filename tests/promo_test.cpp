// The promotion engine against a real PostgreSQL: campaigns, dealing, eligibility, split, posting,
// idempotency, concurrency, budget, day close and reversal.
#include <barrier>
#include <set>
#include <thread>

#include "promo_fixture.hpp"
#include "promoledger/promo/deck.hpp"

namespace promoledger::testing {
namespace {

using promo::Channel;
using promo::PaymentResult;

TEST_F(PromoTest, WorkedExampleHundredPaysNinetyFiveMerchantGetsHundredFive) {
  approved_campaign(pilot_params({"M1"}));
  ASSERT_EQ(promo::deal_day(db(), day("2026-11-24")).decks_dealt, 1);
  set_cards("M1", "2026-11-24", "{1000,737,800,800,100,800,800,800,800,950,800,800,800,800,800,800,800,800,800,100}");
  promo::PaymentPoster poster(db());
  const auto before_payer = balance("payer:P1:deposit");
  auto r = poster.post(payment("pay-1", "P1", "M1", Channel::bank_app, "100.00", "2026-11-24T12:00:00+08:00"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->status, PaymentResult::Status::posted);
  EXPECT_TRUE(r->discounted);
  EXPECT_FALSE(r->reason.has_value());
  EXPECT_EQ(r->discount.str(), "10.00");
  EXPECT_EQ(r->payer_discount.str(), "5.00");
  EXPECT_EQ(r->payer_pays().str(), "95.00");
  EXPECT_EQ(r->merchant_reward.str(), "5.00");
  EXPECT_EQ(r->merchant_receives().str(), "105.00");
  EXPECT_EQ(r->card_position, 1);
  EXPECT_EQ(before_payer - balance("payer:P1:deposit"), 9500);
  EXPECT_EQ(balance("merchant:M1:settlement"), 10500);
  EXPECT_EQ(balance("outlet:O1:subsidy:660101"), 1000);
  // One entry, three lines, exactly the shape of docs/accounting.md.
  EXPECT_EQ(text(fmt::format("SELECT string_agg(a.code || ' ' || l.side || ' ' || l.amount_fen, '; ' ORDER BY l.line_no) "
                             "FROM ledger.journal_line l JOIN ledger.account a ON a.id = l.account_id WHERE l.entry_id = {}",
                             r->entry_id)),
            "payer:P1:deposit D 9500; outlet:O1:subsidy:660101 D 1000; merchant:M1:settlement C 10500");
  expect_ledger_verifies();
}

TEST_F(PromoTest, OddFenGoesToTheMerchantAndSharesAlwaysAddUp) {
  approved_campaign(pilot_params({"M1"}));
  promo::deal_day(db(), day("2026-11-24"));
  set_cards("M1", "2026-11-24", "{737,701,899,1,999,1000,100,101,703,705,707,709,711,713,715,717,719,721,723,725}");
  promo::PaymentPoster poster(db());
  const std::vector<std::pair<const char*, const char*>> expected{{"3.68", "3.69"}, {"3.50", "3.51"}, {"4.49", "4.50"},
                                                                  {"0.00", "0.01"}, {"4.99", "5.00"}, {"5.00", "5.00"}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    auto r = poster.post(payment(fmt::format("odd-{}", i), "P1", "M1", Channel::bank_app, "20.00",
                                 "2026-11-24T09:00:00+08:00"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->payer_discount.str(), expected[i].first) << i;
    EXPECT_EQ(r->merchant_reward.str(), expected[i].second) << i;
    EXPECT_EQ(r->payer_discount.fen() + r->merchant_reward.fen(), r->discount.fen());
  }
  expect_ledger_verifies();
}

TEST_F(PromoTest, SixteenThreadsThousandPaymentsOneMerchantGetExactlyTwentyDiscounts) {
  approved_campaign(pilot_params({"M1"}));
  promo::deal_day(db(), day("2026-11-24"));
  const long long deck_face_fen = scalar("SELECT reserved_fen FROM promo.deck");
  promo::PaymentPoster poster(db());
  constexpr int threads = 16, per_thread = 63;  // 1,008 payments
  std::barrier start(threads);
  std::atomic<int> discounted{0}, capped{0}, failed{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        const std::string payer = fmt::format("P{}", 1 + (t * per_thread + i) % payers_count);
        auto r = poster.post(payment(fmt::format("hammer-{}-{}", t, i), payer.c_str(), "M1", Channel::bank_app, "12.34",
                                     "2026-11-24T12:30:00+08:00"));
        if (!r) {
          ++failed;
        } else if (r->discounted) {
          ++discounted;
        } else if (r->reason == promo::NoDiscountReason::daily_cap_reached) {
          ++capped;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(discounted.load(), 20);
  EXPECT_EQ(capped.load(), threads * per_thread - 20);
  EXPECT_EQ(scalar("SELECT used_count FROM promo.deck"), 20);
  // Every card used exactly once, in position order 1..20, for exactly its face value.
  EXPECT_EQ(scalar("SELECT count(DISTINCT card_position) FROM promo.payment WHERE deck_id IS NOT NULL"), 20);
  EXPECT_EQ(scalar("SELECT max(card_position) FROM promo.payment"), 20);
  EXPECT_EQ(scalar("SELECT count(*) FROM promo.payment p JOIN promo.deck d ON d.id = p.deck_id "
                   "WHERE p.discount_fen <> d.cards_fen[p.card_position]"),
            0);
  EXPECT_EQ(scalar("SELECT sum(discount_fen)::bigint FROM promo.payment"), deck_face_fen);
  EXPECT_EQ(balance("outlet:O1:subsidy:660101"), deck_face_fen);
  EXPECT_EQ(scalar("SELECT count(*) FROM promo.payment"), threads * per_thread);
  expect_ledger_verifies();
}

TEST_F(PromoTest, OtherChannelsBelowMinimumAndNonCampaignMerchantsAreNeverDiscounted) {
  approved_campaign(pilot_params({"M1"}));
  promo::deal_day(db(), day("2026-11-24"));
  promo::PaymentPoster poster(db());
  struct Case {
    const char* id;
    const char* merchant;
    Channel channel;
    const char* amount;
    const char* reason;
  };
  for (const Case& c : {Case{"wx", "M1", Channel::wechat, "100.00", "channel_not_eligible"},
                        Case{"ali", "M1", Channel::alipay, "100.00", "channel_not_eligible"},
                        Case{"small", "M1", Channel::bank_app, "9.99", "below_minimum_payment"},
                        Case{"other", "M3", Channel::bank_app, "100.00", "no_active_campaign"}}) {
    auto r = poster.post(payment(c.id, "P2", c.merchant, c.channel, c.amount, "2026-11-24T10:00:00+08:00"));
    ASSERT_TRUE(r.has_value()) << c.id;
    EXPECT_FALSE(r->discounted) << c.id;
    EXPECT_EQ(r->reason, promo::no_discount_reason_from_string(c.reason)) << c.id;
    EXPECT_EQ(r->payer_pays(), r->amount);
    EXPECT_EQ(r->merchant_receives(), r->amount);
  }
  auto exact = poster.post(payment("exact-min", "P2", "M1", Channel::bank_app, "10.00", "2026-11-24T10:00:00+08:00"));
  ASSERT_TRUE(exact.has_value());
  EXPECT_TRUE(exact->discounted);
  EXPECT_EQ(scalar("SELECT used_count FROM promo.deck"), 1);
  expect_ledger_verifies();
}

TEST_F(PromoTest, MidnightSeparatesBusinessDaysAndDecks) {
  approved_campaign(pilot_params({"M1"}));
  promo::deal_day(db(), day("2026-11-24"));
  promo::deal_day(db(), day("2026-11-25"));
  promo::PaymentPoster poster(db());
  auto late = poster.post(payment("late", "P3", "M1", Channel::bank_app, "50.00", "2026-11-24T23:59:59+08:00"));
  auto early = poster.post(payment("early", "P3", "M1", Channel::bank_app, "50.00", "2026-11-25T00:00:00+08:00"));
  // The same instants written in UTC fall on the same business days.
  auto late_utc = poster.post(payment("late-utc", "P3", "M1", Channel::bank_app, "50.00", "2026-11-24T15:59:59Z"));
  ASSERT_TRUE(late && early && late_utc);
  EXPECT_EQ(late->business_day, "2026-11-24");
  EXPECT_EQ(early->business_day, "2026-11-25");
  EXPECT_EQ(late_utc->business_day, "2026-11-24");
  EXPECT_NE(late->deck_id, early->deck_id);
  EXPECT_EQ(late_utc->deck_id, late->deck_id);
  EXPECT_EQ(early->card_position, 1);
  EXPECT_EQ(late_utc->card_position, 2);
  // The database refuses a business day that does not match the time (the second path).
  EXPECT_EQ(text("SELECT status FROM promo.post_payment('x', 'P3', 'M1', 'bank_app', 5000, "
                 "'2026-11-24 16:00:00+00', '2026-11-24')"),
            "business_day_mismatch");
}

TEST_F(PromoTest, DecksAreReproducibleAndMeetTheBandRule) {
  auto id = approved_campaign(pilot_params({"M1", "M2", "M3"}));
  ASSERT_EQ(promo::deal_day(db(), day("2026-11-24")).decks_dealt, 3);
  auto lease = db().lease();
  soci::rowset<soci::row> rows =
      (lease->prepare << "SELECT m.code, d.cards_fen::text, d.seed_commitment, encode(c.secret, 'hex') FROM promo.deck d "
                         "JOIN ledger.merchant m ON m.id = d.merchant_id JOIN promo.campaign c ON c.id = d.campaign_id");
  int decks = 0;
  for (const soci::row& row : rows) {
    const std::string secret = promo::bytes_from_hex(row.get<std::string>(3));
    const auto seed = promo::derive_seed(secret, id, row.get<std::string>(0), "2026-11-24");
    const auto cards = promo::deal(pilot_params({}).deck_params(), seed);
    std::string literal = "{";
    for (std::size_t i = 0; i < cards.size(); ++i) literal += (i ? "," : "") + std::to_string(cards[i]);
    literal += "}";
    EXPECT_EQ(row.get<std::string>(1), literal) << row.get<std::string>(0);
    EXPECT_EQ(row.get<std::string>(2), promo::seed_commitment_hex(seed));
    EXPECT_TRUE(promo::check_deck(pilot_params({}).deck_params(), cards).empty());
    ++decks;
  }
  EXPECT_EQ(decks, 3);
  // Dealing again deals nothing new.
  const auto again = promo::deal_day(db(), day("2026-11-24"));
  EXPECT_EQ(again.decks_dealt, 0);
  EXPECT_EQ(again.already_dealt, 3);
}

TEST_F(PromoTest, MakerCheckerAndFrozenParameters) {
  promo::Campaigns campaigns(db());
  auto id = campaigns.create(pilot_params({"M1"}), nlohmann::json::object(), "alice");
  ASSERT_TRUE(id.has_value());
  auto self = campaigns.approve(*id, "alice");
  ASSERT_FALSE(self.has_value());
  EXPECT_EQ(self.error().code, promo::Reject::maker_checker);
  ASSERT_TRUE(campaigns.approve(*id, "bob").has_value());
  auto twice = campaigns.approve(*id, "carol");
  ASSERT_FALSE(twice.has_value());
  EXPECT_EQ(twice.error().code, promo::Reject::invalid_transition);
  // Approved parameters cannot change, not even by the database owner.
  try {
    tdb_.exec_as_admin(fmt::format("UPDATE promo.campaign SET max_discount_fen = 2000 WHERE id = {}", *id));
    ADD_FAILURE() << "a parameter of an approved campaign was changed";
  } catch (const ledger::DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), "PL006");
  }
  const auto view = campaigns.show(*id);
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->summary.created_by, "alice");
  EXPECT_EQ(view->summary.approved_by, "bob");
  ASSERT_EQ(view->events.size(), 2u);
  EXPECT_EQ(view->events[1].actor, "bob");
  // A merchant cannot be in two live campaigns on the same day.
  auto other = campaigns.create(pilot_params({"M1", "M2"}, "2026-11-30", "2026-12-05"), nlohmann::json::object(), "carol");
  ASSERT_TRUE(other.has_value());
  auto clash = campaigns.approve(*other, "dave");
  ASSERT_FALSE(clash.has_value());
  EXPECT_EQ(clash.error().code, promo::Reject::merchant_in_other_campaign);
}

TEST_F(PromoTest, InfeasibleParametersAreRejectedNamingTheParameter) {
  // Each problem names its parameter as its field, and its words start with it.
  const auto has = [](const std::vector<promo::Rejection>& errors, const std::string& field) {
    for (const auto& e : errors) {
      if (e.field == field && e.message.rfind(field, 0) == 0 && e.code == promo::Reject::invalid_parameters) return true;
    }
    return false;
  };
  auto p = pilot_params({"M1"});
  EXPECT_TRUE(promo::validate(p).empty());
  p.band_high = cny("11.00");
  EXPECT_TRUE(has(promo::validate(p), "band_high"));
  p = pilot_params({"M1"});
  p.band_low = cny("0.50");
  EXPECT_TRUE(has(promo::validate(p), "band_low"));
  p = pilot_params({"M1"});
  p.payer_share_bp = 10000;
  p.min_payment = cny("10.00");
  p.max_discount = cny("10.00");
  EXPECT_TRUE(has(promo::validate(p), "payer_share_bp"));
  p = pilot_params({"M1"});
  p.budget_total = cny("199.99");
  EXPECT_TRUE(has(promo::validate(p), "budget_total"));
  // Products past 64 bits (fuzz/regressions/campaign): a huge max_discount times the payer share or
  // the daily cap wrapped negative and let both checks pass.
  p = pilot_params({"M1"});
  p.max_discount = cny("10000000000000.00");
  p.payer_share_bp = 10000;
  EXPECT_TRUE(has(promo::validate(p), "payer_share_bp"));
  p = pilot_params({"M1"});
  p.max_discount = cny("10000000000000.00");
  p.payer_share_bp = 0;
  p.cards_per_day = 10000;
  EXPECT_TRUE(has(promo::validate(p), "budget_total"));
  p = pilot_params({"M1"}, "2026-11-30", "2026-11-24");
  EXPECT_TRUE(has(promo::validate(p), "last_day"));
  p = pilot_params({});
  EXPECT_TRUE(has(promo::validate(p), "merchants"));
  p = pilot_params({"M1"});
  p.min_discount = cny("7.00");  // nothing left outside the band below it, and band == [7, 9] needs out-of-band cards
  p.max_discount = cny("9.00");
  EXPECT_FALSE(promo::validate(p).empty());
  promo::Campaigns campaigns(db());
  auto unknown = campaigns.create(pilot_params({"M1", "NOPE"}), nlohmann::json::object(), "alice");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, promo::Reject::unknown_merchant);
  EXPECT_NE(unknown.error().message.find("NOPE"), std::string::npos);
  EXPECT_EQ(scalar("SELECT count(*) FROM promo.campaign"), 0);
  auto document = promo::parse_campaign(nlohmann::json{{"name", "x"}, {"max_discount", 10.0}, {"daily_cap", "20"}});
  ASSERT_FALSE(document.has_value());
  EXPECT_TRUE(has(document.error(), "max_discount"));
  EXPECT_TRUE(has(document.error(), "daily_cap"));
  EXPECT_TRUE(has(document.error(), "first_day"));
}

TEST_F(PromoTest, ReplaysReturnTheFirstResultAndNeverTakeASecondCard) {
  approved_campaign(pilot_params({"M1"}));
  promo::deal_day(db(), day("2026-11-24"));
  promo::PaymentPoster poster(db());
  const auto req = payment("replay-1", "P4", "M1", Channel::bank_app, "30.00", "2026-11-24T08:00:00+08:00");
  auto first = poster.post(req);
  auto second = poster.post(req);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->status, PaymentResult::Status::posted);
  EXPECT_EQ(second->status, PaymentResult::Status::exists);
  EXPECT_EQ(second->entry_id, first->entry_id);
  EXPECT_EQ(second->discount, first->discount);
  EXPECT_EQ(second->card_position, first->card_position);
  EXPECT_EQ(scalar("SELECT used_count FROM promo.deck"), 1);
  auto changed = req;
  changed.amount = cny("31.00");
  auto different = poster.post(changed);
  ASSERT_FALSE(different.has_value());
  EXPECT_EQ(different.error().code, promo::Reject::exists_with_different_content);
  // Eight identical requests at the same instant: one posting, one card.
  const auto burst = payment("burst-1", "P5", "M1", Channel::bank_app, "40.00", "2026-11-24T08:01:00+08:00");
  std::barrier start(8);
  std::atomic<int> posted{0}, exists{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&] {
      start.arrive_and_wait();
      auto r = poster.post(burst);
      if (r && r->status == PaymentResult::Status::posted) ++posted;
      if (r && r->status == PaymentResult::Status::exists) ++exists;
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(posted.load(), 1);
  EXPECT_EQ(exists.load(), 7);
  EXPECT_EQ(scalar("SELECT used_count FROM promo.deck"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry WHERE external_ref = 'payment:burst-1'"), 1);
}

TEST_F(PromoTest, BudgetIsNeverExceededAlsoUnderConcurrency) {
  // 400.00 covers two decks (each at most 200.00) but never three: the third merchant is unfunded.
  auto params = pilot_params({"M1", "M2", "M3"});
  params.budget_total = cny("400.00");
  const auto id = approved_campaign(params);
  // Two dealers at once: the campaign row lock makes them deal once.
  std::thread a([&] { promo::deal_day(db(), day("2026-11-24")); });
  std::thread b([&] { promo::deal_day(db(), day("2026-11-24")); });
  a.join();
  b.join();
  const long long decks = scalar("SELECT count(*) FROM promo.deck");
  const long long unfunded = scalar("SELECT count(*) FROM promo.deck_unfunded");
  EXPECT_EQ(decks + unfunded, 3);
  EXPECT_GE(unfunded, 1);
  EXPECT_LE(scalar("SELECT budget_reserved_fen FROM promo.campaign"), 40000);
  EXPECT_EQ(scalar("SELECT budget_reserved_fen FROM promo.campaign"), scalar("SELECT sum(reserved_fen)::bigint FROM promo.deck"));
  promo::PaymentPoster poster(db());
  std::vector<std::thread> pool;
  std::atomic<int> budget_exhausted{0};
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const char* merchant = (i % 3 == 0) ? "M1" : (i % 3 == 1 ? "M2" : "M3");
        auto r = poster.post(payment(fmt::format("b-{}-{}", t, i), "P6", merchant, Channel::bank_app, "15.00",
                                     "2026-11-24T13:00:00+08:00"));
        if (r && r->reason == promo::NoDiscountReason::budget_exhausted) ++budget_exhausted;
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_GT(budget_exhausted.load(), 0);
  EXPECT_LE(scalar("SELECT coalesce(sum(discount_fen), 0)::bigint FROM promo.payment"), 40000);
  promo::close_day(db(), day("2026-11-24"));
  EXPECT_EQ(scalar(fmt::format("SELECT budget_spent_fen FROM promo.campaign WHERE id = {}", id)),
            scalar("SELECT sum(discount_fen)::bigint FROM promo.payment"));
  EXPECT_EQ(scalar("SELECT budget_reserved_fen FROM promo.campaign"), 0);
  // The database refuses any write that would exceed the budget, whatever the code does.
  EXPECT_THROW(tdb_.exec_as_admin("UPDATE promo.campaign SET budget_reserved_fen = 40001"), ledger::DatabaseError);
}

TEST_F(PromoTest, ReversalReturnsTheSubsidyAndTheCardStillCountsTowardTheCap) {
  approved_campaign(pilot_params({"M1"}));
  promo::deal_day(db(), day("2026-11-24"));
  promo::PaymentPoster poster(db());
  const auto payer_before = balance("payer:P7:deposit");
  auto paid = poster.post(payment("rev-1", "P7", "M1", Channel::bank_app, "88.00", "2026-11-24T18:00:00+08:00"));
  ASSERT_TRUE(paid && paid->discounted);
  auto reversed = poster.reverse("rev-1", day("2026-11-24"));
  ASSERT_TRUE(reversed.has_value()) << reversed.error().message;
  EXPECT_EQ(reversed->status, promo::ReversalResult::Status::posted);
  EXPECT_EQ(balance("payer:P7:deposit"), payer_before);
  EXPECT_EQ(balance("merchant:M1:settlement"), 0);
  EXPECT_EQ(balance("outlet:O1:subsidy:660101"), 0);
  EXPECT_EQ(scalar(fmt::format("SELECT reverses_entry_id FROM ledger.journal_entry WHERE id = {}", reversed->entry_id)),
            paid->entry_id);
  auto again = poster.reverse("rev-1", day("2026-11-24"));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, promo::ReversalResult::Status::exists);
  EXPECT_EQ(again->entry_id, reversed->entry_id);
  auto unknown = poster.reverse("nope", day("2026-11-24"));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, promo::Reject::unknown_payment);
  // The reversed card stays used: only 19 more discounts this day.
  int more = 0;
  for (int i = 0; i < 30; ++i) {
    auto r = poster.post(payment(fmt::format("after-{}", i), "P8", "M1", Channel::bank_app, "20.00",
                                 "2026-11-24T19:00:00+08:00"));
    ASSERT_TRUE(r.has_value());
    more += r->discounted ? 1 : 0;
  }
  EXPECT_EQ(more, 19);
  expect_ledger_verifies();
}

TEST_F(PromoTest, CloseDayExpiresCardsReleasesBudgetAndRevealsSeeds) {
  approved_campaign(pilot_params({"M1", "M3"}));
  promo::deal_day(db(), day("2026-11-24"));
  const long long dealt_fen = scalar("SELECT sum(reserved_fen)::bigint FROM promo.deck");
  promo::PaymentPoster poster(db());
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(poster.post(payment(fmt::format("c-{}", i), "P9", "M1", Channel::bank_app, "25.00",
                                    "2026-11-24T12:00:00+08:00")));
  }
  const long long used_fen = scalar("SELECT sum(discount_fen)::bigint FROM promo.payment");
  const auto report = promo::close_day(db(), day("2026-11-24"));
  EXPECT_EQ(report.decks_closed, 2);
  EXPECT_EQ(report.cards_used, 7);
  EXPECT_EQ(report.cards_expired, 33);
  EXPECT_EQ(report.subsidy_fen, used_fen);
  EXPECT_EQ(report.released_fen, dealt_fen - used_fen);
  EXPECT_EQ(scalar("SELECT budget_spent_fen FROM promo.campaign"), used_fen);
  EXPECT_EQ(scalar("SELECT budget_reserved_fen FROM promo.campaign"), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM promo.deck WHERE seed_revealed IS NULL OR "
                   "encode(sha256(decode(seed_revealed, 'hex')), 'hex') <> seed_commitment"),
            0);
  // A closed day's figures do not move: a late payment into it, or into any earlier day, is refused
  // on the single and the batch path, and so is a reversal into it; replays are still answered.
  const long long entries = scalar("SELECT count(*) FROM ledger.journal_entry");
  auto late = poster.post(payment("c-late", "P9", "M1", Channel::bank_app, "25.00", "2026-11-24T23:00:00+08:00"));
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, promo::Reject::business_day_closed) << late.error().message;
  const std::vector<promo::PaymentRequest> batch{
      payment("c-2019", "P9", "M1", Channel::wechat, "25.00", "2019-06-01T12:00:00+08:00"),
      payment("c-0", "P9", "M1", Channel::bank_app, "25.00", "2026-11-24T12:00:00+08:00"),  // a replay
      payment("c-open", "P9", "M1", Channel::wechat, "25.00", "2026-11-25T09:00:00+08:00")};
  const auto outcomes = poster.post_batch(batch);
  ASSERT_EQ(outcomes.size(), 3U);
  ASSERT_FALSE(outcomes[0].has_value());
  EXPECT_EQ(outcomes[0].error().code, promo::Reject::business_day_closed);
  ASSERT_TRUE(outcomes[1].has_value());
  EXPECT_EQ(outcomes[1]->status, promo::PaymentResult::Status::exists);
  ASSERT_TRUE(outcomes[2].has_value()) << outcomes[2].error().message;
  EXPECT_EQ(outcomes[2]->business_day, "2026-11-25");
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry"), entries + 1);
  auto reversal = poster.reverse("c-1", day("2026-11-24"));
  ASSERT_FALSE(reversal.has_value());
  EXPECT_EQ(reversal.error().code, promo::Reject::business_day_closed);
  EXPECT_TRUE(poster.reverse("c-1", day("2026-11-25")).has_value());
  EXPECT_EQ(promo::close_day(db(), day("2026-11-24")).decks_closed, 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.business_day_close"), 1);
}

TEST_F(PromoTest, PausedCampaignGivesNoDiscountUntilResumed) {
  const auto id = approved_campaign(pilot_params({"M1"}));
  promo::deal_day(db(), day("2026-11-24"));
  promo::Campaigns campaigns(db());
  using promo::CampaignAction;
  ASSERT_TRUE(campaigns.transition(id, CampaignAction::pause, "ops").has_value());
  promo::PaymentPoster poster(db());
  auto paused = poster.post(payment("p-1", "P10", "M1", Channel::bank_app, "50.00", "2026-11-24T12:00:00+08:00"));
  ASSERT_TRUE(paused.has_value());
  EXPECT_EQ(paused->reason, promo::NoDiscountReason::campaign_paused);
  ASSERT_TRUE(campaigns.transition(id, CampaignAction::resume, "ops").has_value());
  auto resumed = poster.post(payment("p-2", "P10", "M1", Channel::bank_app, "50.00", "2026-11-24T12:01:00+08:00"));
  ASSERT_TRUE(resumed.has_value());
  EXPECT_TRUE(resumed->discounted);
  EXPECT_FALSE(campaigns.transition(id, CampaignAction::end, "ops", std::string(501, 'x')).has_value())
      << "a reason is bounded";
  ASSERT_TRUE(campaigns.transition(id, CampaignAction::end, "ops", "the street is closed for works").has_value());
  auto bad = campaigns.transition(id, CampaignAction::resume, "ops");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, promo::Reject::invalid_transition);
  // The lifecycle keeps who, what and why: the end's reason, none for the others.
  const auto view = campaigns.show(id);
  ASSERT_TRUE(view.has_value());
  ASSERT_EQ(view->events.size(), 5u);
  EXPECT_EQ(view->events[4].action, CampaignAction::end);
  EXPECT_EQ(view->events[4].to_status, promo::CampaignStatus::ended);
  EXPECT_EQ(view->events[4].reason, "the street is closed for works");
  EXPECT_FALSE(view->events[2].reason.has_value());
}

TEST_F(PromoTest, RejectedPaymentsWriteNothingAndTakeNoCard) {
  approved_campaign(pilot_params({"M1"}));
  promo::deal_day(db(), day("2026-11-24"));
  promo::PaymentPoster poster(db());
  const long long entries = scalar("SELECT count(*) FROM ledger.journal_entry");
  // 10005.01 minus a payer discount of at most 5.00 is still more than the 10000.00 on deposit.
  auto broke = poster.post(payment("big", "P11", "M1", Channel::bank_app, "10005.01", "2026-11-24T12:00:00+08:00"));
  ASSERT_FALSE(broke.has_value());
  EXPECT_EQ(broke.error().code, promo::Reject::insufficient_funds);
  auto merchant = poster.post(payment("m", "P11", "NOPE", Channel::bank_app, "10.00", "2026-11-24T12:00:00+08:00"));
  ASSERT_FALSE(merchant.has_value());
  EXPECT_EQ(merchant.error().code, promo::Reject::unknown_merchant);
  auto payer = poster.post(payment("p", "NOPE", "M1", Channel::bank_app, "10.00", "2026-11-24T12:00:00+08:00"));
  ASSERT_FALSE(payer.has_value());
  EXPECT_EQ(payer.error().code, promo::Reject::unknown_payer);
  auto id = poster.post(payment("bad id!", "P11", "M1", Channel::bank_app, "10.00", "2026-11-24T12:00:00+08:00"));
  ASSERT_FALSE(id.has_value());
  EXPECT_EQ(id.error().code, promo::Reject::invalid_payment_id);
  EXPECT_EQ(scalar("SELECT count(*) FROM ledger.journal_entry"), entries);
  EXPECT_EQ(scalar("SELECT count(*) FROM promo.payment"), 0);
  EXPECT_EQ(scalar("SELECT used_count FROM promo.deck"), 0);
  EXPECT_EQ(balance("payer:P11:deposit"), 1000000);
  // The whole balance can be spent, to the fen, and the payer discount is taken into account.
  auto all = poster.post(payment("all", "P11", "M1", Channel::bank_app, "10000.00", "2026-11-24T12:00:00+08:00"));
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(balance("payer:P11:deposit"), all->payer_discount.fen());
}

TEST_F(PromoTest, TimeWindowAndPerPayerDailyLimit) {
  auto params = pilot_params({"M1"});
  params.window_from = std::chrono::hours{11};
  params.window_to = std::chrono::hours{14};
  params.payer_daily_limit = 2;
  approved_campaign(params);
  promo::deal_day(db(), day("2026-11-24"));
  promo::PaymentPoster poster(db());
  auto early = poster.post(payment("w-1", "P12", "M1", Channel::bank_app, "20.00", "2026-11-24T10:59:59+08:00"));
  auto late = poster.post(payment("w-2", "P12", "M1", Channel::bank_app, "20.00", "2026-11-24T14:00:00+08:00"));
  ASSERT_TRUE(early && late);
  EXPECT_EQ(early->reason, promo::NoDiscountReason::outside_time_window);
  EXPECT_EQ(late->reason, promo::NoDiscountReason::outside_time_window);
  // 11:00 local is 03:00 UTC: the window is local time.
  auto first = poster.post(payment("w-3", "P12", "M1", Channel::bank_app, "20.00", "2026-11-24T03:00:00Z"));
  auto second = poster.post(payment("w-4", "P12", "M1", Channel::bank_app, "20.00", "2026-11-24T13:59:59+08:00"));
  auto third = poster.post(payment("w-5", "P12", "M1", Channel::bank_app, "20.00", "2026-11-24T12:00:00+08:00"));
  auto other = poster.post(payment("w-6", "P13", "M1", Channel::bank_app, "20.00", "2026-11-24T12:00:00+08:00"));
  ASSERT_TRUE(first && second && third && other);
  EXPECT_TRUE(first->discounted);
  EXPECT_TRUE(second->discounted);
  EXPECT_FALSE(third->discounted);
  EXPECT_EQ(third->reason, promo::NoDiscountReason::payer_daily_limit);
  EXPECT_TRUE(other->discounted);
  EXPECT_EQ(scalar("SELECT used_count FROM promo.deck"), 3);
  // The limit holds under concurrency too: 8 threads, one payer, 2 discounts at most.
  std::vector<std::thread> pool;
  std::atomic<int> discounted{0};
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&, t] {
      auto r = poster.post(payment(fmt::format("wl-{}", t), "P14", "M1", Channel::bank_app, "20.00",
                                   "2026-11-24T12:30:00+08:00"));
      if (r && r->discounted) ++discounted;
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(discounted.load(), 2);
}

TEST_F(PromoTest, OutletDailyBudgetFundsDecksInMerchantOrder) {
  // 200.00 a day per outlet is one worst-case deck: O1 can fund M1's deck but not M2's as well.
  auto params = pilot_params({"M1", "M2", "M3"});
  params.outlet_daily_budget = cny("200.00");
  approved_campaign(params);
  const auto report = promo::deal_day(db(), day("2026-11-24"));
  EXPECT_EQ(report.decks_dealt, 2);
  EXPECT_EQ(report.unfunded, 1);
  EXPECT_EQ(text("SELECT m.code || ' ' || u.reason FROM promo.deck_unfunded u JOIN ledger.merchant m ON m.id = u.merchant_id"),
            "M2 outlet_daily_budget");
  promo::PaymentPoster poster(db());
  auto r = poster.post(payment("ob-1", "P15", "M2", Channel::bank_app, "30.00", "2026-11-24T12:00:00+08:00"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, promo::NoDiscountReason::budget_exhausted);
  EXPECT_LE(scalar("SELECT sum(reserved_fen)::bigint FROM promo.deck d JOIN ledger.merchant m ON m.id = d.merchant_id "
                   "WHERE m.outlet_id = (SELECT id FROM ledger.org_unit WHERE code = 'O1')"),
            20000);
}

}  // namespace
}  // namespace promoledger::testing
