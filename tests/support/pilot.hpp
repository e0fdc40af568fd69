#pragma once
// The pilot campaign of the talk (examples/pilot-campaign.json, without the outlet daily budget): bank-app
// payments of at least 10.00 get a random discount of 1.00..10.00, 80 % of them in [7.00, 9.00], at most
// 20 a merchant a day, split 50/50, from a budget of 100,000.00. One definition for the tests and the
// bench; callers change what their case needs (the bench: one day, a budget that never runs out).
//
// Header-only and free of GoogleTest (bench/ includes it).

#include <string>
#include <vector>

#include "domain_helpers.hpp"
#include "promoledger/promo/campaign.hpp"

namespace promoledger::testing {

inline promo::CampaignParams pilot_params(std::vector<std::string> merchants, const char* first = "2026-11-24",
                                          const char* last = "2026-11-30") {
  promo::CampaignParams p;
  p.name = "Food street scan-to-pay random discount";
  p.funding_branch = "BR1";
  p.gl_code = "660101";
  p.merchants = std::move(merchants);
  p.first_day = day(first);
  p.last_day = day(last);
  p.min_payment = cny("10.00");
  p.min_discount = cny("1.00");
  p.max_discount = cny("10.00");
  p.band_low = cny("7.00");
  p.band_high = cny("9.00");
  p.band_share_bp = 8000;
  p.cards_per_day = 20;
  p.payer_share_bp = 5000;
  p.budget_total = cny("100000.00");
  return p;
}

}  // namespace promoledger::testing
