#pragma once
// The account codes the ledger opens for the organisation, one formatter each. The SQL functions that
// open them (ledger.add_payer, ledger.add_merchant, promo campaign creation) write the same forms;
// DomainTermsTest (tests/posting_test.cpp) checks that the two agree. Codes match
// ^[A-Za-z0-9_.:-]{1,80}$ (the CHECK on ledger.account.code).
//
// Thread safety: pure functions.

#include <string>
#include <string_view>

namespace promoledger::ledger {

inline constexpr std::string_view bank_funding_account = "bank:funding";  // Dr side of opening deposits

inline std::string payer_deposit_account(std::string_view payer_code) {
  return "payer:" + std::string(payer_code) + ":deposit";
}
inline std::string merchant_settlement_account(std::string_view merchant_code) {
  return "merchant:" + std::string(merchant_code) + ":settlement";
}
// The home outlet's subsidy GL account that pays a campaign's discounts.
inline std::string outlet_subsidy_account(std::string_view outlet_code, std::string_view gl_code) {
  return "outlet:" + std::string(outlet_code) + ":subsidy:" + std::string(gl_code);
}

}  // namespace promoledger::ledger
