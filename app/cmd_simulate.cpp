// simulate: a reproducible business day of scan payments through the same posting path as `pay`.
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "cli.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/promo/payments.hpp"
#include "promoledger/promo/splitmix.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

using promo::SplitMix;

struct Mix {
  int wechat = 90, alipay = 8, bank_app = 2;
};

Mix parse_mix(const std::string& text) {
  Mix mix{0, 0, 0};
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t comma = text.find(',', pos);
    const std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const std::size_t eq = part.find('=');
    if (eq == std::string::npos) usage_error(fmt::format("--mix: \"{}\" is not channel=weight", part));
    const std::string name = part.substr(0, eq);
    int weight = 0;
    try {
      std::size_t used = 0;
      weight = std::stoi(part.substr(eq + 1), &used);
      if (used != part.size() - eq - 1 || weight < 0 || weight > 1000) throw std::invalid_argument("range");
    } catch (const std::exception&) {
      usage_error(fmt::format("--mix: weight in \"{}\" must be a whole number 0..1000", part));
    }
    if (name == "wechat") mix.wechat = weight;
    else if (name == "alipay") mix.alipay = weight;
    else if (name == "bank_app") mix.bank_app = weight;
    else usage_error(fmt::format("--mix: unknown channel \"{}\" (wechat, alipay, bank_app)", name));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  if (mix.wechat + mix.alipay + mix.bank_app == 0) usage_error("--mix: the weights add up to 0");
  return mix;
}

// Food-street amounts: a tenth below the 10.00 minimum, most between 10 and 60, a tail to 200.
std::int64_t amount_fen(SplitMix& rng) {
  const auto bucket = rng.below(100);
  if (bucket < 10) return 300 + static_cast<std::int64_t>(rng.below(700));     // 3.00 .. 9.99
  if (bucket < 80) return 1000 + static_cast<std::int64_t>(rng.below(5000));   // 10.00 .. 59.99
  return 6000 + static_cast<std::int64_t>(rng.below(14001));                   // 60.00 .. 200.00
}

// Seconds after local midnight, with lunch and dinner peaks, 07:00 .. 22:59.
std::int64_t second_of_day(SplitMix& rng) {
  const auto bucket = rng.below(100);
  std::int64_t hour;
  if (bucket < 35) hour = 11 + static_cast<std::int64_t>(rng.below(3));       // 11..13
  else if (bucket < 70) hour = 17 + static_cast<std::int64_t>(rng.below(3));  // 17..19
  else hour = 7 + static_cast<std::int64_t>(rng.below(16));                   // 7..22
  return hour * 3600 + static_cast<std::int64_t>(rng.below(3600));
}

}  // namespace

void register_simulate_command(CLI::App& app, Context& ctx) {
  auto* sim = app.add_subcommand("simulate", "post a reproducible day of scan payments at the imported merchants");
  static std::string date_text, mix_text = "wechat=90,alipay=8,bank_app=2";
  static std::uint64_t seed = 1;
  static std::size_t payments = 2000, threads = 4;
  sim->add_option("--date", date_text, "business day YYYY-MM-DD")->required();
  sim->add_option("--seed", seed, "seed: the same seed gives the same day (default 1)");
  sim->add_option("--payments", payments, "number of payments (default 2000)")->check(CLI::Range(1, 10'000'000));
  sim->add_option("--mix", mix_text, "channel weights (default wechat=90,alipay=8,bank_app=2)");
  sim->add_option("--threads", threads, "concurrent posters (default 4)")->check(CLI::Range(1, 32));
  sim->callback([&ctx] {
    auto day = ledger::parse_day(date_text);
    if (!day) usage_error(fmt::format("--date: {}", day.error()));
    const Mix mix = parse_mix(mix_text);
    ctx.pool_size = threads;
    auto& db = ctx.database();
    std::vector<std::string> merchants, payers;
    {
      auto lease = db.lease();
      soci::rowset<soci::row> m = (lease->prepare << "SELECT code FROM ledger.merchant ORDER BY code");
      for (const auto& row : m) merchants.push_back(row.get<std::string>(0));
      soci::rowset<soci::row> p = (lease->prepare << "SELECT code FROM ledger.payer ORDER BY code");
      for (const auto& row : p) payers.push_back(row.get<std::string>(0));
    }
    if (merchants.empty() || payers.empty()) {
      throw CommandError(exit_rejected, "no_parties", "simulate needs merchants and payers: run `org import` first");
    }
    // Generate the whole day first (deterministic), then post it concurrently.
    SplitMix rng{seed * 0x100000001B3ULL ^ static_cast<std::uint64_t>(date::sys_days{*day}.time_since_epoch().count())};
    const int weight_total = mix.wechat + mix.alipay + mix.bank_app;
    std::vector<promo::PaymentRequest> requests;
    requests.reserve(payments);
    const auto midnight_local = date::local_days{*day};
    for (std::size_t i = 0; i < payments; ++i) {
      promo::PaymentRequest r;
      r.payment_id = fmt::format("sim-{}-s{}-{:07}", date_text, seed, i + 1);
      r.merchant = merchants[rng.below(merchants.size())];
      r.payer = payers[rng.below(payers.size())];
      const auto w = static_cast<int>(rng.below(static_cast<std::uint64_t>(weight_total)));
      r.channel = w < mix.wechat ? promo::Channel::wechat
                                 : (w < mix.wechat + mix.alipay ? promo::Channel::alipay : promo::Channel::bank_app);
      r.amount = ledger::Money::from_fen(amount_fen(rng));
      const auto local = midnight_local + std::chrono::seconds{second_of_day(rng)};
      r.paid_at = ledger::parse_timestamp(date::format("%F %T", local)).value();
      requests.push_back(std::move(r));
    }
    std::sort(requests.begin(), requests.end(),
              [](const auto& a, const auto& b) { return a.paid_at < b.paid_at; });
    promo::PaymentPoster poster(db);
    std::atomic<std::size_t> next{0};
    std::mutex mu;
    std::map<std::string, std::size_t> by_channel, reasons, rejections;
    std::size_t posted = 0, replayed = 0, discounted = 0;
    ledger::WideFen subsidy_fen = 0;
    std::exception_ptr failure;
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        try {
          for (std::size_t i = next++; i < requests.size(); i = next++) {
            auto result = poster.post(requests[i]);
            std::lock_guard lock(mu);
            if (!result) {
              ++rejections[std::string(promo::to_string(result.error().code))];
              continue;
            }
            (result->status == promo::PaymentResult::Status::posted ? posted : replayed)++;
            ++by_channel[std::string(promo::to_string(requests[i].channel))];
            if (result->discounted) {
              ++discounted;
              subsidy_fen += result->discount.fen();
            } else {
              ++reasons[result->reason.value_or("?")];
            }
          }
        } catch (...) {
          std::lock_guard lock(mu);
          if (!failure) failure = std::current_exception();
          next = requests.size();
        }
      });
    }
    for (auto& th : pool) th.join();
    if (failure) std::rethrow_exception(failure);
    if (ctx.json) {
      print_json(json{{"date", date_text}, {"seed", seed}, {"payments", requests.size()}, {"posted", posted},
                      {"exists", replayed}, {"by_channel", by_channel}, {"discounted", discounted},
                      {"subsidy", money_text(subsidy_fen)}, {"no_discount_reasons", reasons},
                      {"rejected", rejections}},
                 std::cout);
      return;
    }
    std::cout << fmt::format("simulated {} (seed {}): {} payment(s): {} posted, {} replayed\n", date_text, seed,
                             requests.size(), posted, replayed);
    for (const auto& [ch, n] : by_channel) std::cout << fmt::format("  {:<9} {:>7}\n", ch, n);
    std::cout << fmt::format("  discounted {} payment(s), subsidy {}\n", discounted, money_text(subsidy_fen));
    for (const auto& [why, n] : reasons) std::cout << fmt::format("  no discount: {:<24} {:>7}\n", why, n);
    for (const auto& [why, n] : rejections) std::cout << fmt::format("  rejected:    {:<24} {:>7}\n", why, n);
  });
}

}  // namespace promoledger::app
