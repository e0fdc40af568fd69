// The outlet daily budget on its three paths: dealing funds an outlet's decks only up to it (C++,
// promo/src/dealing.cpp), the database refuses a deck or a reservation beyond it (migration 0010,
// constraint deck_within_outlet_daily_budget), and `audit verify` finds a database where someone with the
// owner's rights went around both (check outlet_daily_budget).
//
// The campaign: the pilot at M1, M2 (home O1) and M3 (home O2) with an outlet daily budget of 200.00, one
// merchant's worst day (20 cards of at most 10.00). A deck holds at least 16 cards of 7.00 or more, so
// 116.00 or more: one deck fits an outlet's day, two never do. Dealing in merchant-code order funds M1
// and M3, and M2 gets no deck (reason outlet_daily_budget).
#include <filesystem>
#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "small_bank.hpp"
#include "promoledger/promo/audit_checks.hpp"

namespace promoledger::testing {
namespace {

constexpr const char* check_violation = "23514";
constexpr long long outlet_budget_fen = 20000;

class BudgetTest : public PromoTest {
 protected:
  void SetUp() override {
    PromoTest::SetUp();
    auto params = pilot_params({"M1", "M2", "M3"});
    params.outlet_daily_budget = ledger::Money::from_fen(outlet_budget_fen);
    campaign_id_ = approved_campaign(params);
    const auto dealt = promo::deal_day(db(), day("2026-11-24"));
    ASSERT_EQ(dealt.decks_dealt, 2);
    ASSERT_EQ(dealt.unfunded, 1);
  }

  // The SQLSTATE a script run as the owner fails with; "" when it succeeds.
  std::string sqlstate_of(const std::string& sql, std::string* message = nullptr) {
    try {
      tdb_.exec_as_admin(sql);
      return "";
    } catch (const ledger::DatabaseError& e) {
      if (message != nullptr) *message = e.what();
      return e.sqlstate().empty() ? std::string("no-sqlstate: ") + e.what() : e.sqlstate();
    }
  }

  long long reserved_in(const char* outlet) {
    return scalar(fmt::format(
        "SELECT coalesce(sum(d.reserved_fen), 0)::bigint FROM promo.deck d JOIN promo.campaign_merchant cm "
        "ON cm.campaign_id = d.campaign_id AND cm.merchant_id = d.merchant_id JOIN ledger.org_unit o ON o.id = cm.outlet_id "
        "WHERE o.code = '{}' AND d.business_day = '2026-11-24'",
        outlet));
  }

  std::set<std::string> failing() {
    std::set<std::string> names;
    for (const auto& c : promo::verify_all(db()).checks) {
      if (!c.ok()) names.insert(c.name);
    }
    return names;
  }

  promo::AuditCheck check(const std::string& name) {
    const auto report = promo::verify_checks(db(), {name});
    EXPECT_EQ(report.checks.size(), 1u);
    return report.checks.empty() ? promo::AuditCheck{} : report.checks.front();
  }

  // An INSERT of a deck for M2 (which dealing left unfunded) reserving `reserved_fen`; its cards are M1's
  // unless a single card's face value is given (then the deck is worth exactly its reservation).
  std::string insert_m2_deck(long long reserved_fen, bool one_card_of_reservation = false) {
    const std::string cards = one_card_of_reservation ? fmt::format("ARRAY[{}]::integer[]", reserved_fen) : "d.cards_fen";
    return fmt::format(
        "INSERT INTO promo.deck (campaign_id, merchant_id, business_day, algorithm_version, deck_order, seed_commitment, "
        "cards_fen, card_count, reserved_fen) SELECT d.campaign_id, (SELECT id FROM ledger.merchant WHERE code = 'M2'), "
        "d.business_day, d.algorithm_version, d.deck_order, d.seed_commitment, {0}, cardinality({0}), {1} "
        "FROM promo.deck d JOIN ledger.merchant m ON m.id = d.merchant_id WHERE m.code = 'M1'",
        cards, reserved_fen);
  }

  std::int64_t campaign_id_ = 0;
};

TEST_F(BudgetTest, DealingFundsAnOutletOnlyUpToItsDailyBudget) {
  EXPECT_EQ(text("SELECT reason FROM promo.deck_unfunded u JOIN ledger.merchant m ON m.id = u.merchant_id "
                 "WHERE m.code = 'M2'"),
            "outlet_daily_budget");
  EXPECT_GE(reserved_in("O1"), 11600);
  EXPECT_LE(reserved_in("O1"), outlet_budget_fen);
  EXPECT_GE(reserved_in("O2"), 11600);
  EXPECT_LE(reserved_in("O2"), outlet_budget_fen);
  EXPECT_TRUE(failing().empty());
  EXPECT_TRUE(check("outlet_daily_budget").ok());
  // Payments take cards (UPDATE ... used_count) under the new trigger as before.
  promo::PaymentPoster poster(db());
  const auto paid = poster.post(payment("b1", "P1", "M1", promo::Channel::bank_app, "100.00", "2026-11-24T12:00:00+08:00"));
  ASSERT_TRUE(paid.has_value());
  EXPECT_TRUE(paid->discounted);
  const auto none = poster.post(payment("b2", "P2", "M2", promo::Channel::bank_app, "100.00", "2026-11-24T12:01:00+08:00"));
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->discounted);
  EXPECT_TRUE(failing().empty());
}

TEST_F(BudgetTest, TheDatabaseRefusesADeckBeyondTheOutletDailyBudget) {
  const long long decks = scalar("SELECT count(*) FROM promo.deck");
  const long long before = reserved_in("O1");
  std::string message;
  // O1 already holds M1's deck (116.00 or more): a second one of 100.00 goes past 200.00.
  EXPECT_EQ(sqlstate_of(insert_m2_deck(10000), &message), check_violation);
  EXPECT_NE(message.find("outlet daily budget exceeded"), std::string::npos) << message;
  EXPECT_NE(message.find("outlet O1"), std::string::npos) << message;
  EXPECT_EQ(scalar("SELECT count(*) FROM promo.deck"), decks);
  EXPECT_EQ(reserved_in("O1"), before);
  // What still fits is accepted: the constraint refuses the excess, not the insert.
  const long long room = outlet_budget_fen - before;
  ASSERT_GT(room, 0);
  EXPECT_EQ(sqlstate_of(insert_m2_deck(room, true)), "");
  EXPECT_EQ(reserved_in("O1"), outlet_budget_fen);
  EXPECT_TRUE(check("outlet_daily_budget").ok());
}

TEST_F(BudgetTest, TheDatabaseRefusesAReservationRaisedBeyondTheOutletDailyBudget) {
  const long long before = reserved_in("O1");
  std::string message;
  EXPECT_EQ(sqlstate_of(fmt::format("UPDATE promo.deck SET reserved_fen = {} WHERE merchant_id = "
                                    "(SELECT id FROM ledger.merchant WHERE code = 'M1')",
                                    outlet_budget_fen + 1),
                        &message),
            check_violation);
  EXPECT_NE(message.find("deck_within_outlet_daily_budget"), std::string::npos) << message;
  EXPECT_EQ(reserved_in("O1"), before);
  // Moving M3's deck (home O2) to M2 (home O1) would put two decks in O1's day.
  EXPECT_EQ(sqlstate_of("UPDATE promo.deck SET merchant_id = (SELECT id FROM ledger.merchant WHERE code = 'M2') "
                        "WHERE merchant_id = (SELECT id FROM ledger.merchant WHERE code = 'M3')"),
            check_violation);
  EXPECT_EQ(reserved_in("O1"), before);
  // Up to the budget is allowed; other columns (a payment's used_count) never fire the check.
  EXPECT_EQ(sqlstate_of(fmt::format("UPDATE promo.deck SET reserved_fen = {} WHERE merchant_id = "
                                    "(SELECT id FROM ledger.merchant WHERE code = 'M1')",
                                    outlet_budget_fen)),
            "");
  EXPECT_EQ(sqlstate_of("UPDATE promo.deck SET used_count = used_count"), "");
}

TEST_F(BudgetTest, AuditFindsADeckBeyondTheBudgetWrittenWithTriggersDisabled) {
  // The owner, with triggers off (session_replication_role = replica), goes around the constraint.
  tdb_.exec_as_admin("SET session_replication_role = replica; " + insert_m2_deck(10000));
  EXPECT_GT(reserved_in("O1"), outlet_budget_fen);
  const auto c = check("outlet_daily_budget");
  EXPECT_EQ(c.name, "outlet_daily_budget");
  EXPECT_EQ(c.violations, 1);
  EXPECT_NE(c.sample.find("outlet O1 on 2026-11-24"), std::string::npos) << c.sample;
  EXPECT_TRUE(failing().count("outlet_daily_budget"));
  // And `promoledger audit verify` says so, and exits 1.
  const auto bin = promoledger_bin();
  ASSERT_TRUE(bin.has_value()) << "PROMOLEDGER_BIN is not set (the built promoledger)";
  const CliRunner cli(*bin, tdb_.conninfo(), std::filesystem::temp_directory_path() / ("budget-" + tdb_.name()));
  const auto r = cli.run({"audit", "verify"}, true);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["ok"], false);
  bool named = false;
  for (const auto& row : out["checks"]) named = named || (row["name"] == "outlet_daily_budget" && row["ok"] == false);
  EXPECT_TRUE(named) << out.dump();
}

TEST_F(BudgetTest, AuditFindsAnOutletBudgetLoweredUnderItsDecks) {
  // The campaign's frozen parameters changed with triggers off: every outlet's deck is now over 100.00.
  tdb_.exec_as_admin(fmt::format(
      "SET session_replication_role = replica; UPDATE promo.campaign SET outlet_daily_budget_fen = 10000 WHERE id = {}",
      campaign_id_));
  const auto c = check("outlet_daily_budget");
  EXPECT_EQ(c.violations, 2);  // O1 and O2
  EXPECT_NE(c.sample.find("outlet O1"), std::string::npos) << c.sample;
  EXPECT_NE(c.sample.find("outlet O2"), std::string::npos) << c.sample;
  // Nothing else changed, so nothing else fails: the check says what is wrong.
  EXPECT_EQ(failing(), std::set<std::string>{"outlet_daily_budget"});
}

TEST_F(BudgetTest, AuditCountsTheCardsNotOnlyTheReservation) {
  // A deck whose reservation was lowered to fit while its cards stay worth more: the cards count too.
  tdb_.exec_as_admin(
      "SET session_replication_role = replica; UPDATE promo.deck SET reserved_fen = 1 WHERE merchant_id = "
      "(SELECT id FROM ledger.merchant WHERE code = 'M1');" +
      insert_m2_deck(10000));
  EXPECT_LE(reserved_in("O1"), outlet_budget_fen);
  const auto c = check("outlet_daily_budget");
  EXPECT_EQ(c.violations, 1);
  EXPECT_NE(c.sample.find("outlet O1"), std::string::npos) << c.sample;
}

TEST_F(BudgetTest, VerifyChecksRunsOnlyTheNamedChecksAndRefusesUnknownNames) {
  const auto all = promo::audit_check_names();
  EXPECT_EQ(all.size(), 13u);
  EXPECT_EQ(promo::verify_all(db()).checks.size(), all.size());
  const auto two = promo::verify_checks(db(), {"outlet_daily_budget", "entries_balance"});
  ASSERT_EQ(two.checks.size(), 2u);
  EXPECT_EQ(two.checks[0].name, "entries_balance");  // verify_all's order, not the caller's
  EXPECT_EQ(two.checks[1].name, "outlet_daily_budget");
  EXPECT_EQ(two.chain_digest.size(), 64u);
  EXPECT_THROW(promo::verify_checks(db(), {"no_such_check"}), std::invalid_argument);
}

}  // namespace
}  // namespace promoledger::testing
