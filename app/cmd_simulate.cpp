// simulate: a reproducible business day of scan payments through the same posting path as `pay`
// (the library call is promo::simulate_day, promo/simulate.hpp).
#include <iostream>
#include <memory>

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

// The command's flags: the library's options, and the two given as text.
struct SimulateFlags {
  promo::SimulationOptions options;                // --seed, --payments, --threads (defaults: the library's)
  std::string date;                                // --date (required)
  std::string mix = "wechat=90,alipay=8,bank_app=2";  // --mix
};

}  // namespace

void register_simulate_command(CLI::App& app, Context& ctx) {
  auto* sim = app.add_subcommand("simulate", "post a reproducible day of scan payments at the imported merchants");
  auto flags = std::make_shared<SimulateFlags>();
  promo::SimulationOptions& o = flags->options;
  sim->add_option("--date", flags->date, "business day YYYY-MM-DD")->required();
  sim->add_option("--seed", o.seed, "seed: the same seed gives the same day (default 1)");
  sim->add_option("--payments", o.payments, "number of payments (default 2000)")
      ->check(CLI::Range(1, static_cast<int>(promo::simulated_payments_max)));
  sim->add_option("--mix", flags->mix, "channel weights (default wechat=90,alipay=8,bank_app=2)");
  sim->add_option("--threads", o.threads, "concurrent posters (default 4)")
      ->check(CLI::Range(1, static_cast<int>(promo::simulate_threads_max)));
  sim->callback([&ctx, flags] {
    promo::SimulationOptions& options = flags->options;
    options.day = day_arg(flags->date, "--date");
    auto mix = promo::parse_channel_mix(flags->mix);
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
