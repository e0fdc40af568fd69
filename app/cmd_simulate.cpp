// simulate: a reproducible business day of scan payments through the same posting path as `pay`
// (the library call is promo::simulate_day, promo/simulate.hpp).
#include <iostream>

#include <fmt/format.h>

#include "cli.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/promo/simulate.hpp"

namespace promoledger::app {
namespace {

void print_simulation_text(const promo::SimulationResult& r) {
  std::cout << fmt::format("simulated {} (seed {}): {} payment(s): {} posted, {} replayed\n", r.date, r.seed, r.payments,
                           r.posted, r.replayed);
  for (const auto& [ch, n] : r.by_channel) std::cout << fmt::format("  {:<9} {:>7}\n", ch, n);
  std::cout << fmt::format("  discounted {} payment(s), subsidy {}\n", r.discounted, money_text(r.subsidy_fen));
  for (const auto& [why, n] : r.no_discount_reasons) std::cout << fmt::format("  no discount: {:<24} {:>7}\n", why, n);
  for (const auto& [why, n] : r.rejected) std::cout << fmt::format("  rejected:    {:<24} {:>7}\n", why, n);
}

}  // namespace

void register_simulate_command(CLI::App& app, Context& ctx) {
  auto* sim = app.add_subcommand("simulate", "post a reproducible day of scan payments at the imported merchants");
  static std::string date_text, mix_text = "wechat=90,alipay=8,bank_app=2";
  static promo::SimulationOptions options;
  sim->add_option("--date", date_text, "business day YYYY-MM-DD")->required();
  sim->add_option("--seed", options.seed, "seed: the same seed gives the same day (default 1)");
  sim->add_option("--payments", options.payments, "number of payments (default 2000)")
      ->check(CLI::Range(1, static_cast<int>(promo::simulated_payments_max)));
  sim->add_option("--mix", mix_text, "channel weights (default wechat=90,alipay=8,bank_app=2)");
  sim->add_option("--threads", options.threads, "concurrent posters (default 4)")
      ->check(CLI::Range(1, static_cast<int>(promo::simulate_threads_max)));
  sim->callback([&ctx] {
    auto day = ledger::parse_day(date_text);
    if (!day) bad_value("--date", day.error());
    options.day = *day;
    auto mix = promo::parse_channel_mix(mix_text);
    if (!mix) bad_value("--mix", mix.error());
    options.mix = *mix;
    ctx.pool_size = options.threads;  // one session per poster thread
    const auto result = promo::simulate_day(ctx.database(), options);
    if (!result) refused(result.error());
    if (ctx.json) return print_json(promo::views::to_json(*result), std::cout);
    print_simulation_text(*result);
  });
}

}  // namespace promoledger::app
