#pragma once
// A reproducible business day of scan payments (`promoledger simulate`): generated from a seed, then
// posted through the same path as `pay` (PaymentPoster::post), so a simulated day is an ordinary day
// for the ledger, the reports and `audit verify`. The same seed, day, count and mix give the same
// payments (ids included) on every platform, so a second run answers every payment as a replay.
//
// Thread safety: simulate_day posts from options.threads threads of its own and returns after they
// have finished; the database needs at least that many sessions in its pool.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"
#include "promoledger/ledger/refusal.hpp"
#include "promoledger/promo/payments.hpp"

namespace promoledger::promo {

// Relative weights of the channels (each 0..channel_weight_max, not all 0).
struct ChannelMix {
  int wechat = 90;
  int alipay = 8;
  int bank_app = 2;
};
inline constexpr int channel_weight_max = 1000;

// "wechat=90,alipay=8,bank_app=2"; a channel left out weighs 0. Refused as malformed or out_of_range,
// in words without the flag's name ("weight in \"x=y\" must be ..."; the caller names it, about()).
Expected<ChannelMix, ledger::ValueRefusal> parse_channel_mix(std::string_view text);

struct SimulationOptions {
  date::year_month_day day;         // the business day (Asia/Shanghai), required
  std::uint64_t seed = 1;           // the same seed gives the same day
  std::size_t payments = 2000;      // 1 .. simulated_payments_max
  ChannelMix mix;                   // default: a food street, 90 % WeChat
  std::size_t threads = 4;          // concurrent posters, 1 .. simulate_threads_max
};
inline constexpr std::size_t simulated_payments_max = 10'000'000;
inline constexpr std::size_t simulate_threads_max = 32;

struct SimulationResult {
  std::string date;  // YYYY-MM-DD
  std::uint64_t seed = 0;
  std::size_t payments = 0;
  std::size_t posted = 0;
  std::size_t replayed = 0;  // answered `exists`: posted by an earlier run
  std::size_t discounted = 0;
  ledger::WideFen subsidy_fen = 0;  // sum of the discounts of this run's answers (posted and replayed)
  std::map<std::string, std::size_t> by_channel;           // posted or replayed, per channel
  std::map<std::string, std::size_t> no_discount_reasons;  // per reason
  std::map<std::string, std::size_t> rejected;             // per rejection code
};

enum class SimulationReject {
  no_parties,  // no merchants or no payers to simulate with: import the organisation first
};
std::string_view to_string(SimulationReject);
using SimulationRefusal = ledger::Refusal<SimulationReject>;

// The day's payments in posting order (by time), without touching the database. Exposed for tests.
// REQUIRES: merchants and payers are not empty; the mix weighs more than 0.
std::vector<PaymentRequest> simulated_payments(const SimulationOptions& options, const std::vector<std::string>& merchants,
                                               const std::vector<std::string>& payers);

// Reads the merchants and payers, generates the day and posts it. no_parties when there are no
// merchants or no payers. Infrastructure failures throw (the first one any poster thread met).
Expected<SimulationResult, SimulationRefusal> simulate_day(ledger::Database& db, const SimulationOptions& options);

}  // namespace promoledger::promo
