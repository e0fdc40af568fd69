#include "promoledger/promo/simulate.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <charconv>
#include <chrono>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/names.hpp"
#include "promoledger/promo/splitmix.hpp"

namespace promoledger::promo {
namespace {

constexpr ledger::NameTable<SimulationReject, 1> simulation_reject_names{{
    {SimulationReject::no_parties, "no_parties"},
}};
static_assert(ledger::names_every_value(simulation_reject_names));

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

std::vector<std::string> codes(soci::session& s, const char* sql) {
  std::vector<std::string> out;
  soci::rowset<soci::row> rows = (s.prepare << sql);
  for (const auto& row : rows) out.push_back(row.get<std::string>(0));
  return out;
}

// Posts the requests from `threads` threads; the tallies are taken under one mutex.
SimulationResult post_all(ledger::Database& db, const std::vector<PaymentRequest>& requests, std::size_t threads) {
  PaymentPoster poster(db);
  std::atomic<std::size_t> next{0};
  std::mutex mu;
  SimulationResult out;
  std::exception_ptr failure;
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      try {
        for (std::size_t i = next++; i < requests.size(); i = next++) {
          auto result = poster.post(requests[i]);
          std::lock_guard lock(mu);
          if (!result) {
            ++out.rejected[std::string(to_string(result.error().code))];
            continue;
          }
          (result->status == PaymentResult::Status::posted ? out.posted : out.replayed)++;
          ++out.by_channel[std::string(to_string(requests[i].channel))];
          if (result->discounted) {
            ++out.discounted;
            out.subsidy_fen += result->discount.fen();
          } else {
            ++out.no_discount_reasons[std::string(to_string(result->reason.value()))];
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
  out.payments = requests.size();
  return out;
}

}  // namespace

std::string_view to_string(SimulationReject code) { return ledger::name_of(simulation_reject_names, code); }

Expected<ChannelMix, ledger::ValueRefusal> parse_channel_mix(std::string_view text) {
  const auto malformed = [](std::string message) {
    return unexpected(ledger::ValueRefusal{ledger::InvalidValue::malformed, "", std::move(message)});
  };
  ChannelMix mix{0, 0, 0};
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t comma = text.find(',', pos);
    const std::string part(text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    const std::size_t eq = part.find('=');
    if (eq == std::string::npos) return malformed(fmt::format("\"{}\" is not channel=weight", part));
    const std::string name = part.substr(0, eq);
    int weight = 0;
    const std::string digits = part.substr(eq + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), weight);
    const bool whole = !digits.empty() && end == digits.data() + digits.size();
    if (error == std::errc::invalid_argument || !whole) {
      return malformed(fmt::format("weight in \"{}\" must be a whole number 0..{}", part, channel_weight_max));
    }
    if (error == std::errc::result_out_of_range || weight < 0 || weight > channel_weight_max) {
      return unexpected(ledger::ValueRefusal{
          ledger::InvalidValue::out_of_range, "",
          fmt::format("weight in \"{}\" must be a whole number 0..{}", part, channel_weight_max)});
    }
    if (name == "wechat") mix.wechat = weight;
    else if (name == "alipay") mix.alipay = weight;
    else if (name == "bank_app") mix.bank_app = weight;
    else return malformed(fmt::format("unknown channel \"{}\" (wechat, alipay, bank_app)", name));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (mix.wechat + mix.alipay + mix.bank_app == 0) {
    return unexpected(ledger::ValueRefusal{ledger::InvalidValue::out_of_range, "", "the weights add up to 0"});
  }
  return mix;
}

std::vector<PaymentRequest> simulated_payments(const SimulationOptions& options, const std::vector<std::string>& merchants,
                                               const std::vector<std::string>& payers) {
  assert(!merchants.empty() && !payers.empty());
  const ChannelMix& mix = options.mix;
  const int weight_total = mix.wechat + mix.alipay + mix.bank_app;
  assert(weight_total > 0);
  const std::string date_text = ledger::format_day(options.day);
  // Generate the whole day first (deterministic), then post it concurrently.
  SplitMix rng{options.seed * 0x100000001B3ULL ^
               static_cast<std::uint64_t>(date::sys_days{options.day}.time_since_epoch().count())};
  std::vector<PaymentRequest> requests;
  requests.reserve(options.payments);
  const auto midnight_local = date::local_days{options.day};
  for (std::size_t i = 0; i < options.payments; ++i) {
    PaymentRequest r;
    r.payment_id = fmt::format("sim-{}-s{}-{:07}", date_text, options.seed, i + 1);
    r.merchant = merchants[rng.below(merchants.size())];
    r.payer = payers[rng.below(payers.size())];
    const auto w = static_cast<int>(rng.below(static_cast<std::uint64_t>(weight_total)));
    r.channel = w < mix.wechat ? Channel::wechat : (w < mix.wechat + mix.alipay ? Channel::alipay : Channel::bank_app);
    r.amount = ledger::Money::from_fen(amount_fen(rng));
    const auto local = midnight_local + std::chrono::seconds{second_of_day(rng)};
    r.paid_at = ledger::parse_timestamp(date::format("%F %T", local)).value();
    requests.push_back(std::move(r));
  }
  std::sort(requests.begin(), requests.end(), [](const auto& a, const auto& b) { return a.paid_at < b.paid_at; });
  return requests;
}

Expected<SimulationResult, SimulationRefusal> simulate_day(ledger::Database& db, const SimulationOptions& options) {
  assert(options.payments >= 1 && options.payments <= simulated_payments_max);
  assert(options.threads >= 1 && options.threads <= simulate_threads_max);
  std::vector<std::string> merchants, payers;
  {
    auto lease = db.lease();
    try {
      merchants = codes(*lease, "SELECT code FROM ledger.merchant ORDER BY code");
      payers = codes(*lease, "SELECT code FROM ledger.payer ORDER BY code");
    } catch (...) {
      ledger::rethrow_as_database_error("reading the merchants and payers to simulate");
    }
  }
  if (merchants.empty() || payers.empty()) {
    return unexpected(SimulationRefusal{SimulationReject::no_parties, "",
                                        "simulate needs merchants and payers: run `org import` first"});
  }
  SimulationResult result = post_all(db, simulated_payments(options, merchants, payers), options.threads);
  result.date = ledger::format_day(options.day);
  result.seed = options.seed;
  return result;
}

}  // namespace promoledger::promo
