// Rules that are written once on each side, C++ and SQL, held to the same answers: the payment-id rule
// (promo::valid_payment_id / promo.payment_id_valid, and the service's reader of a payment body), the
// normal-balance formula (ledger::normal_balance / ledger.normal_balance), the reason limit (ledger::reason_fits /
// the domain ledger.reason_text) and the list of campaign actions (promo::CampaignAction / CHECK
// campaign_event_action_known). Each test asks both sides the same questions, edges included, against a
// real migrated database; DomainTermsHaveOneListOnBothSides (tests/posting_test.cpp) does the same for
// channels, statuses and no-discount reasons.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "promoledger/ledger/ledger.hpp"
#include "promoledger/ledger/reason.hpp"
#include "promoledger/promo/payment_request.hpp"
#include "promoledger/promo/terms.hpp"
#include "promoledger/service/request_parsing.hpp"
#include "test_db.hpp"

namespace promoledger::testing {
namespace {

class TermsAgreeTest : public DbTest {
 protected:
  ledger::Database& db() { return tdb_.db(2); }

  // Whether the database takes `text` as a ledger.reason_text (a CHECK violation: it does not).
  bool database_takes_reason(const std::string& text) {
    auto lease = db().lease();
    try {
      std::string back;
      *lease << "SELECT CAST(:t AS ledger.reason_text)", soci::use(text), soci::into(back);
      return true;
    } catch (const soci::soci_error&) {
      try {
        ledger::rethrow_as_database_error("casting to ledger.reason_text");
      } catch (const ledger::DatabaseError& e) {
        EXPECT_EQ(e.sqlstate(), ledger::sqlstate::check_violation) << e.what();
      }
      return false;
    }
  }
};

TEST_F(TermsAgreeTest, ThePaymentIdRuleIsOneOnBothSides) {
  const std::vector<std::string> samples{
      "",  // none
      "a", "Z", "0", "_", ".", ":", "-",  // each class and each sign alone
      "pay-2026-11-24:000123.a_B",        //
      std::string(63, 'x'), std::string(64, 'x'), std::string(65, 'x'),  // around the length limit
      std::string(63, 'x') + "\xE4\xB8\xAD",  // 64 characters, 66 bytes, one of them not in the class
      "a b", "a/b", "a+b", "a%b", "a,b", "a;b", "a'b", "a\"b", "a\\b", "a@b", "a#b", "a~b",
      "\xC3\xA4",                          // ä
      "\xE4\xB8\xAD\xE6\x96\x87",          // 中文
      "a\tb", "a\nb", "a\x7F" "b",          // control characters
      "payment:x",                         // the journal's prefix is not special in an id
  };
  auto lease = db().lease();
  for (const std::string& id : samples) {
    int in_sql = 0;
    *lease << "SELECT CASE WHEN promo.payment_id_valid(:id) THEN 1 ELSE 0 END", soci::use(id), soci::into(in_sql);
    EXPECT_EQ(promo::valid_payment_id(id), in_sql == 1) << "\"" << id << "\"";
    // The service's reader of a path's payment id (and of a body, through promo::payment_request_from).
    EXPECT_EQ(service::valid_payment_id(id), in_sql == 1) << "\"" << id << "\" (the service's reader)";
  }
  EXPECT_EQ(promo::payment_id_length_max, 64u);
  // And the CHECK of promo.payment is that function.
  long long checks = 0;
  *lease << "SELECT count(*) FROM pg_constraint WHERE conrelid = 'promo.payment'::regclass AND contype = 'c' "
            "AND pg_get_constraintdef(oid) LIKE '%payment_id_valid(payment_id)%'",
      soci::into(checks);
  EXPECT_EQ(checks, 1);
}

TEST_F(TermsAgreeTest, NormalBalanceIsOneFormulaOnBothSides) {
  const std::int64_t big = std::numeric_limits<std::int64_t>::max() / 2;
  const std::vector<std::pair<std::int64_t, std::int64_t>> cases{
      {0, 0}, {10'500, 0}, {0, 10'500}, {123, 456}, {456, 123}, {big, 1}, {1, big}, {big, big}};
  auto lease = db().lease();
  for (const ledger::Side side : {ledger::Side::debit, ledger::Side::credit}) {
    const std::string side_text(1, static_cast<char>(side));
    for (const auto& [debits, credits] : cases) {
      long long in_sql = 0;
      const long long d = debits, c = credits;
      *lease << "SELECT ledger.normal_balance(:s, :d, :c)", soci::use(side_text), soci::use(d), soci::use(c),
          soci::into(in_sql);
      EXPECT_EQ(ledger::normal_balance(side, debits, credits), ledger::WideFen(in_sql))
          << side_text << " " << debits << " " << credits;
    }
  }
  // And the balances the ledger reports are that formula of their own debits and credits.
  EXPECT_EQ(ledger::normal_balance(ledger::Side::debit, 700, 200), 500);
  EXPECT_EQ(ledger::normal_balance(ledger::Side::credit, 700, 200), -500);
}

TEST_F(TermsAgreeTest, AReasonIsOneToFiveHundredBytesOnBothSides) {
  static_assert(ledger::reason_bytes_max == 500);
  std::string zhong;  // 中: three bytes of UTF-8
  zhong = "\xE4\xB8\xAD";
  const auto times = [](const std::string& s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
  };
  const std::vector<std::string> samples{
      "",                              // none: refused as a reason (an optional reason is passed as absent)
      "x",                             // the shortest
      std::string(499, 'x'),           //
      std::string(500, 'x'),           // the longest
      std::string(501, 'x'),           // one byte too many
      times(zhong, 166) + "ab",        // 500 bytes in 168 characters
      times(zhong, 167),               // 501 bytes in 167 characters
      times(zhong, 500),               // 500 characters, 1,500 bytes: what length() let through before 0030
  };
  for (const std::string& text : samples) {
    EXPECT_EQ(ledger::reason_fits(text), database_takes_reason(text)) << text.size() << " bytes";
  }
  // Both reason columns are of that one type.
  auto lease = db().lease();
  long long columns = 0;
  *lease << "SELECT count(*) FROM information_schema.columns WHERE domain_schema = 'ledger' "
            "AND domain_name = 'reason_text' AND column_name = 'reason' "
            "AND (table_schema, table_name) IN (('ledger', 'posting_policy'), ('promo', 'campaign_event'))",
      soci::into(columns);
  EXPECT_EQ(columns, 2);
}

TEST_F(TermsAgreeTest, CampaignActionsHaveOneListOnBothSides) {
  auto lease = db().lease();
  std::string definition;
  *lease << "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'campaign_event_action_known'",
      soci::into(definition);
  ASSERT_TRUE(lease->got_data()) << "no CHECK campaign_event_action_known";
  std::set<std::string> in_sql;
  const std::regex quoted("'([a-z_]+)'");
  for (auto it = std::sregex_iterator(definition.begin(), definition.end(), quoted); it != std::sregex_iterator(); ++it) {
    in_sql.insert((*it)[1]);
  }
  std::set<std::string> in_cpp;
  for (const auto action : promo::campaign_actions) in_cpp.insert(std::string(promo::to_string(action)));
  EXPECT_EQ(in_sql, in_cpp);
}

}  // namespace
}  // namespace promoledger::testing
