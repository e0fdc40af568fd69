// The house rules that are code: the one refusal shape (ledger/refusal.hpp), the stable-name tables and
// their compile-time completeness check (ledger/names.hpp), and the assertion that stays on in release
// builds (ledger/assert.hpp).
//
// This file is compiled as a release build is: NDEBUG is defined before anything is included, so
// <cassert>'s assert is compiled out here, as it is in RelWithDebInfo and Release. PROMOLEDGER_ASSERT
// must still stop the process.
#define NDEBUG 1

#include <gtest/gtest.h>

#include <cassert>
#include <string>

#include "promoledger/ledger/assert.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/ledger/names.hpp"
#include "promoledger/ledger/organisation.hpp"
#include "promoledger/ledger/periods.hpp"
#include "promoledger/ledger/refusal.hpp"
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/rejection.hpp"
#include "promoledger/promo/simulate.hpp"
#include "promoledger/promo/terms.hpp"
#include "promoledger/eod/clearing_file.hpp"
#include "promoledger/eod/gl.hpp"
#include "promoledger/eod/reconcile.hpp"
#include "promoledger/eod/refusal.hpp"

namespace promoledger::testing {
namespace {

using ledger::NameTable;

// ------------------------------------------------------------------------------------ assertions

int evaluations = 0;
bool counted(bool value) {
  ++evaluations;
  return value;
}

TEST(HouseRules, PromoledgerAssertStopsTheProcessInAReleaseBuild) {
  // NDEBUG is in force in this file: the standard assert does not even evaluate its condition.
  evaluations = 0;
  assert(counted(false));
  EXPECT_EQ(evaluations, 0) << "NDEBUG did not take effect; the test below would prove nothing";
  // The project's assertion evaluates its condition once and stops the process when it is false, with
  // the condition's text on stderr.
  PROMOLEDGER_ASSERT(counted(true));
  EXPECT_EQ(evaluations, 1);
  const int discount_fen = 737, payer_fen = 368, merchant_fen = 368;
  EXPECT_DEATH(PROMOLEDGER_ASSERT(payer_fen + merchant_fen == discount_fen),
               "assertion failed: payer_fen \\+ merchant_fen == discount_fen \\(.*house_rules_test.cpp");
}

// In constant evaluation a false assertion does not compile; a true one costs nothing.
constexpr int checked_half(int fen) {
  PROMOLEDGER_ASSERT(fen >= 0);
  return fen / 2;
}
static_assert(checked_half(10) == 5);

// ------------------------------------------------------------------------------------ name tables

enum class Three { a, b, c };
enum class One { only };

TEST(HouseRules, EnumCountCountsTheEnumerators) {
  static_assert(ledger::enum_count<Three>() == 3);
  static_assert(ledger::enum_count<One>() == 1);
  static_assert(ledger::enum_count<ledger::Reject>() == 18);
  static_assert(ledger::enum_count<promo::Reject>() == 24);
  static_assert(ledger::enum_count<promo::NoDiscountReason>() == promo::no_discount_reasons.size());
  static_assert(ledger::enum_count<promo::CampaignStatus>() == promo::campaign_statuses.size());
  SUCCEED();
}

TEST(HouseRules, ATableThatMissesOrRepeatsAValueOrANameIsNotComplete) {
  constexpr NameTable<Three, 3> whole{{{Three::a, "a"}, {Three::b, "b"}, {Three::c, "c"}}};
  constexpr NameTable<Three, 2> missing{{{Three::a, "a"}, {Three::b, "b"}}};
  constexpr NameTable<Three, 3> repeated_value{{{Three::a, "a"}, {Three::b, "b"}, {Three::b, "c"}}};
  constexpr NameTable<Three, 3> repeated_name{{{Three::a, "a"}, {Three::b, "b"}, {Three::c, "b"}}};
  constexpr NameTable<Three, 3> empty_name{{{Three::a, "a"}, {Three::b, ""}, {Three::c, "c"}}};
  static_assert(ledger::names_every_value(whole));
  static_assert(!ledger::names_every_value(missing));
  static_assert(!ledger::names_every_value(repeated_value));
  static_assert(!ledger::names_every_value(repeated_name));
  static_assert(!ledger::names_every_value(empty_name));
  // The same at run time, where a failure shows as a test failure rather than a build error.
  EXPECT_TRUE(ledger::names_every_value(whole));
  EXPECT_FALSE(ledger::names_every_value(missing));
  EXPECT_FALSE(ledger::names_every_value(repeated_value));
  EXPECT_FALSE(ledger::names_every_value(repeated_name));
  EXPECT_FALSE(ledger::names_every_value(empty_name));
  EXPECT_EQ(ledger::name_of(whole, Three::c), "c");
  EXPECT_EQ(ledger::value_named(whole, "b"), Three::b);
  EXPECT_FALSE(ledger::value_named(whole, "d").has_value());
}

// Every stored name reads back as its value, for every enum stored as text (each table's own
// static_assert already proved it complete).
template <class E, class FromString>
void round_trips(std::size_t count, FromString from_string) {
  for (std::size_t i = 0; i < count; ++i) {
    const auto value = static_cast<E>(i);
    const std::string name(to_string(value));
    EXPECT_FALSE(name.empty());
    EXPECT_EQ(from_string(name), value) << name;
  }
}

TEST(HouseRules, EveryStoredNameReadsBackAsItsValue) {
  round_trips<ledger::Reject>(ledger::enum_count<ledger::Reject>(), ledger::reject_from_string);
  round_trips<ledger::AccountType>(ledger::enum_count<ledger::AccountType>(), ledger::account_type_from_string);
  round_trips<ledger::OrgKind>(ledger::enum_count<ledger::OrgKind>(), ledger::org_kind_from_string);
  round_trips<promo::Reject>(ledger::enum_count<promo::Reject>(), promo::reject_from_string);
  round_trips<promo::Channel>(ledger::enum_count<promo::Channel>(), promo::channel_from_string);
  round_trips<promo::NoDiscountReason>(ledger::enum_count<promo::NoDiscountReason>(),
                                       promo::no_discount_reason_from_string);
  round_trips<promo::CampaignStatus>(ledger::enum_count<promo::CampaignStatus>(), promo::campaign_status_from_string);
  round_trips<promo::CampaignAction>(ledger::enum_count<promo::CampaignAction>(), promo::campaign_action_from_string);
  round_trips<promo::OutletLevel>(ledger::enum_count<promo::OutletLevel>(), promo::outlet_level_from_string);
  // eod's and the periods' tables live in files of their own owners without the static_assert beside
  // them: the periods' is in a header, so it is checked at compile time here; eod's are inside its .cpp
  // files, so every value is named and read back at run time (name_of stops the process on a value
  // without a name).
  static_assert(ledger::names_every_value(ledger::period_refusal_names));
  round_trips<eod::Code>(ledger::enum_count<eod::Code>(), eod::code_from_string);
  round_trips<eod::ReconCategory>(ledger::enum_count<eod::ReconCategory>(), eod::recon_category_from_string);
  round_trips<eod::Profile>(ledger::enum_count<eod::Profile>(), eod::profile_from_string);
  round_trips<eod::AccountClass>(ledger::enum_count<eod::AccountClass>(), eod::account_class_from_string);
  round_trips<eod::Booking>(ledger::enum_count<eod::Booking>(), eod::booking_from_string);
  // Codes that are only written (JSON, exit messages) have names too.
  EXPECT_EQ(to_string(ledger::InvalidValue::out_of_range), "out_of_range");
  EXPECT_EQ(to_string(ledger::OrgImportReject::invalid_record), "invalid_record");
  EXPECT_EQ(to_string(promo::ReportRefusal::report_too_large), "report_too_large");
  EXPECT_EQ(to_string(promo::SimulationReject::no_parties), "no_parties");
}

// ------------------------------------------------------------------------------------ one refusal shape

TEST(HouseRules, ARefusalHasACodeAFieldAndWords) {
  const promo::Rejection r{promo::Reject::unknown_merchant, "merchant", "no merchant M9"};
  EXPECT_EQ(r.code, promo::Reject::unknown_merchant);
  EXPECT_EQ(r.field, "merchant");
  EXPECT_EQ(r.message, "no merchant M9");
  // A refusal of the whole request names no field.
  const ledger::Rejection all{ledger::Reject::insufficient_funds, "", "payer:P1:deposit would fall below 0.00"};
  EXPECT_TRUE(all.field.empty());
  // Parsers of one value leave the field to their caller; about() names it in field and words.
  const auto day = ledger::parse_day("2026-02-30");
  ASSERT_FALSE(day.has_value());
  EXPECT_EQ(day.error().code, ledger::InvalidValue::malformed);
  EXPECT_EQ(day.error().field, "");
  const auto named = ledger::about("first_day", day.error());
  EXPECT_EQ(named.field, "first_day");
  EXPECT_EQ(named.message, "first_day: " + day.error().message);
  EXPECT_EQ(ledger::parse_day("2300-01-01").error().code, ledger::InvalidValue::out_of_range);
  // A range names the end at fault, so the API need not read the words to find it.
  EXPECT_EQ(ledger::parse_day_range("2026-11-01", "2026-13-01").error().field, "to");
  EXPECT_EQ(ledger::parse_day_range("2026-1-01", "2026-11-01").error().field, "from");
  EXPECT_EQ(ledger::parse_day_range("2026-11-02", "2026-11-01").error().code, ledger::InvalidValue::out_of_range);
  EXPECT_EQ(ledger::parse_timestamp("2026-11-24T12:00:00+15:00").error().code, ledger::InvalidValue::out_of_range);
  EXPECT_EQ(promo::parse_channel_mix("wechat=x").error().code, ledger::InvalidValue::malformed);
  EXPECT_EQ(promo::parse_channel_mix("wechat=1001").error().code, ledger::InvalidValue::out_of_range);
  EXPECT_EQ(promo::parse_channel_mix("paypal=1").error().code, ledger::InvalidValue::malformed);
}

TEST(HouseRules, APaymentRefusalNamesTheRequestFieldItConcerns) {
  EXPECT_EQ(promo::payment_field(promo::Reject::invalid_payment_id), "payment_id");
  EXPECT_EQ(promo::payment_field(promo::Reject::exists_with_different_content), "payment_id");
  EXPECT_EQ(promo::payment_field(promo::Reject::unknown_payer), "payer");
  EXPECT_EQ(promo::payment_field(promo::Reject::unknown_merchant), "merchant");
  EXPECT_EQ(promo::payment_field(promo::Reject::unknown_channel), "channel");
  EXPECT_EQ(promo::payment_field(promo::Reject::amount_too_large), "amount");
  EXPECT_EQ(promo::payment_field(promo::Reject::paid_at_in_future), "paid_at");
  EXPECT_EQ(promo::payment_field(promo::Reject::business_day_closed), "paid_at");
  EXPECT_EQ(promo::payment_field(promo::Reject::insufficient_funds), "");
}

// A campaign document's every problem names the parameter it is about, even a key that is empty: the
// fuzzing smoke's reproducer fuzz/regressions/campaign/empty-key-da3e684a, kept here too so that the
// reader's move to campaign_params.cpp cannot lose the fix (b59cf57).
TEST(HouseRules, EveryProblemOfACampaignDocumentNamesItsField) {
  const auto document = nlohmann::json::parse(
      R"({"name":"n","funding_branch":"BR","gl_code":"660101","merchants":["M1"],"first_day":"2026-01-01",)"
      R"("last_day":"2026-01-31","window_from":"11:00","":"9.00","band_share_bp":8000,"dr_daily_likit":3,)"
      R"("budget_total":"1000.00"})");
  const auto parsed = promo::parse_campaign(document);
  ASSERT_FALSE(parsed.has_value());
  bool empty_key_named = false;
  for (const auto& problem : parsed.error()) {
    EXPECT_FALSE(problem.field.empty()) << problem.message;
    EXPECT_TRUE(problem.message.starts_with(problem.field)) << problem.message;
    empty_key_named = empty_key_named || problem.field == "\"\"";
  }
  EXPECT_TRUE(empty_key_named) << "the empty key is named \"\"";
}

}  // namespace
}  // namespace promoledger::testing
