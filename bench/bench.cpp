// promoledger_bench: measures payment posting through promo::PaymentPoster (the path `pay` uses), on a
// database it prepares itself, and checks the ledger's invariants afterwards. scripts/bench.sh runs it
// next to pgbench on the same cluster and reports the ratios.
//
//   promoledger_bench setup    --db CONN --merchants N --outlets K --payers P
//   promoledger_bench run      --db CONN --scenario promo|mixed|hot-outlet|hot-merchant|replay --clients C
//                              [--path single|batched] [--writers W] --duration-s S --warmup-s W --json-out FILE
//     single:  C clients each call PaymentPoster::post (a batch of one) on their own session.
//     batched: C requesters each call GroupCommitPoster::post with one payment outstanding, like a client
//              waiting for its answer; W writers post whatever is queued as one batch. Latency is each
//              payment's submit -> answer, so it includes the wait in the queue.
//   promoledger_bench deal     --db CONN --merchants N        (dealing 100,000 decks)
//   promoledger_bench report   --db CONN                      (a month's branch report: promo::report_outlets,
//                                                              what `promoledger report outlets` calls)
//   promoledger_bench verify   --db CONN [--all]              (the checks run after every run; --all: every
//                                                              check of `promoledger audit verify`)
// After every run the invariants are checked with the audit's own checks (promo::verify_checks) and the
// ledger's trial balance; the pilot campaign's parameters are the tests' (tests/support/pilot.hpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/ledger/migrations.hpp"
#include "pilot.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/dealing.hpp"
#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/group_commit.hpp"
#include "promoledger/promo/payments.hpp"
#include "promoledger/promo/splitmix.hpp"

namespace {

using namespace promoledger;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr const char* bench_day = "2026-11-24";

using promo::SplitMix;

void exec(ledger::Database& db, const std::string& sql) {
  auto lease = db.lease();
  ledger::exec_script(*lease, sql, "bench setup");
}

long long scalar(ledger::Database& db, const std::string& sql) {
  auto lease = db.lease();
  long long v = 0;
  *lease << sql, soci::into(v);
  return v;
}

// The pilot's parameters (tests/support/pilot.hpp, the tests' own) for one bench day, with a budget that
// never runs out; created and approved.
void approve_pilot_campaign(ledger::Database& db, const std::string& name, const std::string& branch,
                            std::vector<std::string> merchant_codes) {
  promo::CampaignParams p = testing::pilot_params(std::move(merchant_codes), bench_day, bench_day);
  p.name = name;
  p.funding_branch = branch;
  p.budget_total = testing::cny("1000000000.00");
  promo::Campaigns campaigns(db);
  auto id = campaigns.create(p, json{{"name", name}}, "bench.maker");
  if (!id) throw std::runtime_error(id.error().message);
  if (!campaigns.approve(*id, "bench.checker")) throw std::runtime_error("bench campaign approval failed");
}

// The organisation, written in bulk through the same SQL functions the import uses. Merchants
// MB00001.. are spread over outlets; merchant MHOT0 .. MHOTn sit in one outlet (hot-outlet).
void setup(ledger::Database& db, int merchants, int outlets, int payers, int hot_outlet_merchants) {
  {
    auto lease = db.lease();
    ledger::migrate(*lease);
  }
  exec(db, fmt::format(
               "SELECT ledger.add_org_unit('BB', 'branch', 'Bench branch', NULL);"
               "SELECT ledger.add_org_unit('SB' || s, 'sub_branch', 'Bench sub-branch ' || s, 'BB') FROM generate_series(1, 10) s;"
               "SELECT ledger.add_org_unit('OB' || o, 'outlet', 'Bench outlet ' || o, 'SB' || (1 + o % 10)) "
               "FROM generate_series(1, {0}) o;"
               "SELECT ledger.add_merchant(format('MB%s', lpad(m::text, 6, '0')), 'Bench merchant ' || m, "
               "'OB' || (1 + m % {0})) FROM generate_series(1, {1}) m;"
               "SELECT ledger.add_merchant(format('MHOT%s', m), 'Hot outlet merchant ' || m, 'OB1') "
               "FROM generate_series(1, {3}) m;"
               "SELECT ledger.add_merchant('MPILOT' || m, 'Pilot merchant ' || m, 'OB' || (1 + m % {0})) "
               "FROM generate_series(1, 16) m;"
               "SELECT ledger.add_payer(format('PB%s', lpad(p::text, 6, '0')), 'Bench payer ' || p) "
               "FROM generate_series(1, {2}) p;"
               "SELECT ledger.open_account('bank:funding', 'funding', 'asset', NULL, NULL);",
               outlets, merchants, payers, hot_outlet_merchants));
  // Fund every payer generously: opening entries through ledger.post_entry, 63 payers and the funding
  // account to an entry (an entry takes at most 64 lines). One entry per payer took 20-30 s for 20,000
  // payers on a busy machine, past the sessions' 30 s statement timeout; this takes under a second.
  // post_entry answers a refusal as a status rather than an error, so every status is checked.
  const long long unfunded = scalar(db, fmt::format(
      "SELECT count(*) FILTER (WHERE (r).status <> 'posted') FROM (SELECT ledger.post_entry('open:' || g, 'opening', "
      "DATE '{}', 'bench funding', ARRAY['bank:funding'] || array_agg('payer:' || code || ':deposit' ORDER BY code), "
      "ARRAY['D'] || array_agg('C'::text), ARRAY[count(*) * 100000000000]::bigint[] || array_agg(100000000000::bigint)) AS r "
      "FROM (SELECT code, (row_number() OVER (ORDER BY code) - 1) / 63 AS g FROM ledger.payer) p GROUP BY g) x",
      bench_day));
  if (unfunded != 0) throw std::runtime_error(fmt::format("setup: {} funding entries refused", unfunded));
  const auto make = [&](const std::string& name, std::vector<std::string> codes) {
    approve_pilot_campaign(db, name, "BB", std::move(codes));
  };
  std::vector<std::string> spread, hot, pilot;
  for (int m = 1; m <= merchants; ++m) spread.push_back(fmt::format("MB{:06}", m));
  for (int m = 1; m <= hot_outlet_merchants; ++m) hot.push_back(fmt::format("MHOT{}", m));
  for (int m = 1; m <= 16; ++m) pilot.push_back(fmt::format("MPILOT{}", m));
  make("bench spread", spread);
  make("bench hot outlet", hot);
  make("bench pilot", pilot);
  const auto dealt = promo::deal_day(db, ledger::parse_day(bench_day).value());
  spdlog::info("setup: {} decks dealt", dealt.decks_dealt);
  exec(db, "VACUUM ANALYZE");
}

struct Sample {
  std::vector<std::int64_t> latency_us;
  std::int64_t ok = 0, discounted = 0, errors = 0, rejected = 0;
};

// path "single": every client posts through PaymentPoster::post. path "batched": every client posts
// through one GroupCommitPoster with `writers` writer threads.
json run(ledger::Database& db, const std::string& scenario, const std::string& path, int clients, int writers,
         const std::string& affinity, int duration_s, int warmup_s, int merchants, int payers, int hot_outlet_merchants) {
  promo::PaymentPoster poster(db);
  const bool batched = path == "batched";
  std::optional<promo::GroupCommitPoster> group;
  if (batched) {
    promo::GroupCommitOptions options;
    options.writers = static_cast<std::size_t>(writers);
    // What a service would use: a merchant's payments stay with one writer per home outlet.
    if (affinity == "outlet") options.affinity = promo::outlet_affinity(db);
    group.emplace(poster, options);
  }
  std::vector<std::string> replay_ids;
  if (scenario == "replay") {
    auto lease = db.lease();
    soci::rowset<soci::row> rows = (lease->prepare << "SELECT payment_id FROM promo.payment ORDER BY payment_id LIMIT 200000");
    for (const auto& row : rows) replay_ids.push_back(row.get<std::string>(0));
    if (replay_ids.empty()) throw std::runtime_error("replay needs payments: run another scenario first");
  }
  // Payments to replay are re-read with their original content so the replay is exact.
  std::vector<promo::PaymentRequest> replays;
  if (!replay_ids.empty()) {
    auto lease = db.lease();
    soci::rowset<soci::row> rows =
        (lease->prepare << "SELECT p.payment_id, py.code, m.code, p.channel, p.amount_fen, "
                           "to_char(p.paid_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
                           "FROM promo.payment p JOIN ledger.payer py ON py.id = p.payer_id "
                           "JOIN ledger.merchant m ON m.id = p.merchant_id ORDER BY p.payment_id LIMIT 200000");
    for (const auto& row : rows) {
      replays.push_back(promo::PaymentRequest{row.get<std::string>(0), row.get<std::string>(1), row.get<std::string>(2),
                                              promo::channel_from_string(row.get<std::string>(3)).value(),
                                              ledger::Money::from_fen(row.get<long long>(4)),
                                              ledger::parse_timestamp(row.get<std::string>(5)).value()});
    }
  }
  const auto paid_at = ledger::parse_timestamp(std::string(bench_day) + "T12:00:00+08:00").value();
  const auto run_tag = std::to_string(std::chrono::system_clock::now().time_since_epoch().count() % 100000000);
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<Sample> samples(static_cast<std::size_t>(clients));
  std::vector<std::thread> pool;
  for (int c = 0; c < clients; ++c) {
    pool.emplace_back([&, c] {
      SplitMix rng{static_cast<std::uint64_t>(c + 1) * 7919};
      Sample& s = samples[static_cast<std::size_t>(c)];
      s.latency_us.reserve(200000);
      std::uint64_t n = 0;
      std::uint64_t failures = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        promo::PaymentRequest r;
        if (scenario == "replay") {
          r = replays[(static_cast<std::size_t>(c) + n * static_cast<std::size_t>(clients)) % replays.size()];
        } else {
          r.payment_id = fmt::format("b{}-{}-{}-{}", run_tag, scenario, c, n);
          r.payer = fmt::format("PB{:06}", 1 + rng.below(static_cast<std::uint64_t>(payers)));
          r.amount = ledger::Money::from_fen(1000 + static_cast<std::int64_t>(rng.below(9000)));
          r.paid_at = paid_at;
          r.channel = promo::Channel::bank_app;
          if (scenario == "promo") {
            r.merchant = fmt::format("MB{:06}", 1 + rng.below(static_cast<std::uint64_t>(merchants)));
          } else if (scenario == "hot-outlet") {
            r.merchant = fmt::format("MHOT{}", 1 + rng.below(static_cast<std::uint64_t>(hot_outlet_merchants)));
          } else if (scenario == "hot-merchant") {
            r.merchant = "MPILOT1";
          } else {  // mixed: the talk's channel mix over the pilot merchants
            r.merchant = fmt::format("MPILOT{}", 1 + rng.below(16));
            const auto w = rng.below(100);
            r.channel = w < 90 ? promo::Channel::wechat : (w < 98 ? promo::Channel::alipay : promo::Channel::bank_app);
          }
        }
        ++n;
        const auto t0 = Clock::now();
        try {
          auto result = batched ? group->post(std::move(r)) : poster.post(r);
          const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
          if (!measuring.load(std::memory_order_relaxed)) continue;
          s.latency_us.push_back(us);
          if (!result) {
            ++s.rejected;
          } else {
            ++s.ok;
            s.discounted += result->discounted ? 1 : 0;
          }
        } catch (const std::exception& e) {
          if (measuring.load()) ++s.errors;
          // The first few per client say what failed; all of them would bury the results (a broken
          // posting path fails thousands of times a second). The count is in the row's "errors".
          if (++failures <= 3) spdlog::warn("client {}: {}", c, e.what());
          if (failures == 3) spdlog::warn("client {}: further errors are counted, not logged", c);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(warmup_s));
  const auto retries_before = ledger::retries_taken().load();
  // Batch sizes over the measured window only: warm-up batches start small.
  const auto group_before = batched ? group->stats() : promo::GroupCommitPoster::Stats{};
  measuring = true;
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(duration_s));
  measuring = false;
  const double elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto group_after = batched ? group->stats() : promo::GroupCommitPoster::Stats{};
  stop = true;
  for (auto& th : pool) th.join();
  // Every requester has its answer: nothing is queued, so stopping the writers posts nothing more
  // and the invariant check afterwards sees the finished ledger.
  if (batched) group->stop();
  std::vector<std::int64_t> all;
  Sample total;
  for (const auto& s : samples) {
    all.insert(all.end(), s.latency_us.begin(), s.latency_us.end());
    total.ok += s.ok;
    total.discounted += s.discounted;
    total.errors += s.errors;
    total.rejected += s.rejected;
  }
  std::sort(all.begin(), all.end());
  const auto pct = [&](double p) -> double {
    if (all.empty()) return 0;
    const auto idx = std::min(all.size() - 1, static_cast<std::size_t>(p * static_cast<double>(all.size())));
    return static_cast<double>(all[idx]) / 1000.0;
  };
  const auto retries = ledger::retries_taken().load() - retries_before;
  const auto window_batches = group_after.batches - group_before.batches;
  const auto window_payments = group_after.payments - group_before.payments;
  json result{{"scenario", scenario},
              {"path", path},
              {"clients", clients},
              // A single payment is a batch of one.
              {"mean_batch_size", !batched ? 1.0
                                  : window_batches == 0 ? 0.0
                                                        : static_cast<double>(window_payments) / static_cast<double>(window_batches)},
              {"duration_s", elapsed_s},
              {"payments", total.ok},
              {"discounted", total.discounted},
              {"rejected", total.rejected},
              {"errors", total.errors},
              {"retries", retries},
              {"payments_per_s", static_cast<double>(total.ok) / elapsed_s},
              {"latency_ms", {{"p50", pct(0.50)}, {"p95", pct(0.95)}, {"p99", pct(0.99)}, {"max", all.empty() ? 0.0 : static_cast<double>(all.back()) / 1000.0}}}};
  if (batched) {
    result["writers"] = writers;
    result["affinity"] = affinity;
    result["batches"] = window_batches;
    result["largest_batch"] = group_after.largest_batch;  // since the start, warm-up included
    result["failed_batches"] = group_after.failed_batches;
    result["unknown_batches"] = group_after.unknown_batches;
    result["refused_queue_full"] = group_after.refused_queue_full;
  }
  return result;
}

// The audit's checks (promo::verify_checks, the queries of `promoledger audit verify`) the bench runs after
// every run: the promotion's rules and the budget, all set-wise over the payments and decks. Not after every
// run: the ledger's four checks, one query whose hash-chain part recomputes every journal line (millions
// by the end of a full bench), and the re-deal of every deck; `verify --all` runs every check.
const std::vector<std::string> bench_checks = {"subsidy_lines_match_cards", "cards_used_once", "daily_cap",
                                               "split_adds_up", "budget_within_limit", "outlet_daily_budget",
                                               "referential_integrity"};

// After every run: a fast benchmark that breaks an invariant is a failed benchmark. The trial balance is
// the ledger's (`promoledger report trial-balance`), every other check the audit's.
json check_invariants(ledger::Database& db, bool all_checks) {
  ledger::Ledger ledger(db);
  const auto tb = ledger.trial_balance();
  json checks = json::array();
  bool ok = tb.balanced();
  checks.push_back(json{{"name", "trial_balance"}, {"ok", tb.balanced()}});
  const auto t0 = Clock::now();
  const auto audit = all_checks ? promo::verify_all(db) : promo::verify_checks(db, bench_checks);
  for (const auto& c : audit.checks) {
    json row{{"name", c.name}, {"ok", c.ok()}, {"violations", c.violations}};
    if (!c.ok()) row["sample"] = c.sample;
    checks.push_back(std::move(row));
    ok = ok && c.ok();
  }
  return json{{"ok", ok}, {"checks", checks}, {"audit_s", std::chrono::duration<double>(Clock::now() - t0).count()}};
}

// `promoledger report outlets --from F --to T` (app/cmd_finance.cpp): promo::report_outlets at the default
// level "all", the outlets with their sub-branch and branch roll-ups and every campaign's budget, under the
// product's row limit. Returns how many rows of each it read; a refusal (too many rows) fails the bench.
std::pair<std::size_t, std::size_t> month_report_rows(ledger::Database& db, date::year_month_day from,
                                                      date::year_month_day to) {
  const auto report = promo::report_outlets(db, from, to, promo::OutletLevel::all);
  if (!report) throw std::runtime_error("report outlets refused: " + report.error().message);
  return {report->rows.size(), report->budgets.size()};
}

// A month of payments written in bulk: what promo.post_payment writes (entries, lines, payments,
// per-merchant-day aggregates), generated set-wise in SQL instead of one call per payment. Triggers
// are bypassed for the load (session_replication_role = replica), and the lines carry placeholder
// hashes: the load is for measuring reports, not the chain. Documented in docs/benchmarks.md.
json load_month(ledger::Database& db, long long lines_target, int merchants) {
  const long long payments = lines_target / 2;  // 90 % two-line payments, 10 % three-line: ~2.1 lines each
  const auto t0 = Clock::now();
  exec(db, fmt::format(R"SQL(
    SET statement_timeout = 0;  -- a bulk load of millions of rows; sessions default to 30 s
    SET session_replication_role = replica;
    SELECT ledger.add_org_unit('RB', 'branch', 'Report branch', NULL);
    SELECT ledger.add_org_unit('RSB' || s, 'sub_branch', 'Report sub-branch ' || s, 'RB') FROM generate_series(1, 5) s;
    SELECT ledger.add_org_unit('RO' || o, 'outlet', 'Report outlet ' || o, 'RSB' || (1 + o % 5)) FROM generate_series(1, 100) o;
    SELECT ledger.add_merchant('RM' || m, 'Report merchant ' || m, 'RO' || (1 + m % 100)) FROM generate_series(1, {1}) m;
    SELECT ledger.add_payer('RP' || p, 'Report payer ' || p) FROM generate_series(1, 5000) p;
    SELECT ledger.open_account('outlet:RO' || o || ':subsidy:660101', 'subsidy', 'expense', NULL, NULL) FROM generate_series(1, 100) o;
    CREATE TEMP TABLE gen AS
      -- Day, merchant and channel from independent hashes of n, so every merchant sees every channel
      -- on every day (the aggregate table gets its realistic size: merchants x days x channels).
      SELECT n, DATE '2026-11-01' + (abs(hashint8(n)) % 30)::int AS day,
             (SELECT id FROM ledger.merchant WHERE code = 'RM' || (1 + abs(hashint8(n + 7919)) % {1})) AS merchant_id,
             CASE WHEN abs(hashint8(n + 104729)) % 50 = 0 THEN 'bank_app'
                  WHEN abs(hashint8(n + 104729)) % 50 < 5 THEN 'alipay' ELSE 'wechat' END AS channel,
             1000 + (n * 7919) % 9000 AS amount_fen, 0::bigint AS discount_fen
        FROM generate_series(1::bigint, {0}::bigint) n;
    UPDATE gen SET discount_fen = 700 + (n % 201) WHERE channel = 'bank_app';
    INSERT INTO ledger.journal_entry (id, external_ref, kind, business_day, posted_at, content_hash)
      OVERRIDING SYSTEM VALUE
      SELECT 1000000000 + n, 'bulk:' || n, 'payment', day, day + time '12:00', sha256(n::text::bytea) FROM gen;
    INSERT INTO promo.payment (payment_id, payer_id, merchant_id, outlet_id, channel, amount_fen, paid_at, business_day,
                               discount_fen, payer_share_fen, merchant_share_fen, reason, entry_id)
      SELECT 'bulk-' || n, 1 + n % 5000, g.merchant_id, m.outlet_id, channel, amount_fen, day + time '12:00', day,
             0, 0, 0, 'bulk_load', 1000000000 + n FROM gen g JOIN ledger.merchant m ON m.id = g.merchant_id;
    INSERT INTO ledger.journal_line (entry_id, line_no, account_id, side, amount_fen, account_seq, balance_after_fen, line_hash)
      SELECT 1000000000 + n, 1, (SELECT account_id FROM ledger.payer WHERE id = 1 + n % 5000), 'D',
             amount_fen - discount_fen / 2, 1000000000 + n, 0, sha256(n::text::bytea) FROM gen
      UNION ALL
      SELECT 1000000000 + n, 2, m.account_id, 'C', amount_fen + (discount_fen - discount_fen / 2), 1000000000 + n, 0,
             sha256(n::text::bytea) FROM gen g JOIN ledger.merchant m ON m.id = g.merchant_id
      UNION ALL
      SELECT 1000000000 + n, 3, (SELECT id FROM ledger.account WHERE code = 'outlet:RO1:subsidy:660101'), 'D',
             discount_fen, 1000000000 + n, 0, sha256(n::text::bytea) FROM gen WHERE discount_fen > 0;
    INSERT INTO promo.merchant_day_stats (merchant_id, business_day, channel, payments, amount_fen, discounted,
                                          discount_fen, payer_share_fen, merchant_share_fen)
      SELECT merchant_id, day, channel, count(*), sum(amount_fen), count(*) FILTER (WHERE discount_fen > 0),
             sum(discount_fen), sum(discount_fen / 2), sum(discount_fen - discount_fen / 2)
        FROM gen GROUP BY merchant_id, day, channel;
    RESET session_replication_role;
    ANALYZE;
  )SQL", payments, merchants));
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return json{{"journal_lines", scalar(db, "SELECT count(*) FROM ledger.journal_line")},
              {"payments", scalar(db, "SELECT count(*) FROM promo.payment")}, {"load_s", load_s}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"promoledger_bench"};
  app.require_subcommand(1);
  std::string conninfo, scenario = "promo", path = "single", affinity = "outlet", json_out;
  int clients = 4, writers = 2, duration_s = 20, warmup_s = 5, merchants = 5000, outlets = 100, payers = 20000, hot = 200;
  app.add_option("--db", conninfo, "libpq connection string")->required();
  app.add_option("--merchants", merchants, "spread merchants (setup, deal)");
  app.add_option("--outlets", outlets, "outlets (setup)");
  app.add_option("--payers", payers, "payers (setup)");
  app.add_option("--hot-merchants", hot, "merchants in the hot outlet (setup)");
  auto* setup_cmd = app.add_subcommand("setup", "prepare a bench database");
  auto* run_cmd = app.add_subcommand("run", "run one scenario");
  run_cmd->add_option("--scenario", scenario)->check(CLI::IsMember({"promo", "mixed", "hot-outlet", "hot-merchant", "replay"}));
  // Single-path clients each hold a session (the pool's limit); batched requesters hold none.
  run_cmd->add_option("--clients", clients, "concurrent clients (requesters when batched)")->check(CLI::Range(1, 1000));
  run_cmd->add_option("--path", path, "single: PaymentPoster::post; batched: GroupCommitPoster")
      ->check(CLI::IsMember({"single", "batched"}));
  run_cmd->add_option("--writers", writers, "GroupCommitPoster writer threads (batched)")
      ->check(CLI::Range(1, static_cast<int>(promo::GroupCommitOptions::writers_max)));
  run_cmd->add_option("--affinity", affinity, "which writer a payment goes to (batched): outlet (the merchant's home "
                                             "outlet, default) or merchant (a hash of its code)")
      ->check(CLI::IsMember({"outlet", "merchant"}));
  run_cmd->add_option("--duration-s", duration_s)->check(CLI::Range(1, 3600));
  run_cmd->add_option("--warmup-s", warmup_s)->check(CLI::Range(0, 600));
  run_cmd->add_option("--json-out", json_out);
  auto* deal_cmd = app.add_subcommand("deal", "time dealing decks for --merchants merchants");
  auto* verify_cmd = app.add_subcommand("verify", "check the invariants (exit 1 if one is broken)");
  bool verify_all_checks = false;
  verify_cmd->add_flag("--all", verify_all_checks, "every check of `promoledger audit verify`, the hash chains too");
  long long lines = 10'000'000;
  auto* report_cmd = app.add_subcommand("report", "load a month of journal lines in bulk, then time the branch report");
  report_cmd->add_option("--lines", lines, "journal lines to load (default 10,000,000)")->check(CLI::Range(1000LL, 100'000'000LL));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  try {
    if (setup_cmd->parsed()) {
      ledger::Database db({conninfo, 2});
      const auto t0 = Clock::now();
      setup(db, merchants, outlets, payers, hot);
      std::cout << json{{"setup_s", std::chrono::duration<double>(Clock::now() - t0).count()}}.dump() << '\n';
    } else if (run_cmd->parsed()) {
      // Single: one session per client, as before. Batched: one per writer plus spare ones, so reading the
      // replay set and the invariant checks never wait for a writer's session.
      const std::size_t sessions = path == "batched" ? static_cast<std::size_t>(writers) + 2 : static_cast<std::size_t>(clients);
      if (sessions > ledger::DatabaseOptions::pool_size_max) {
        throw std::invalid_argument(fmt::format("--path single takes at most {} clients (one session each)",
                                                ledger::DatabaseOptions::pool_size_max));
      }
      ledger::Database db({conninfo, sessions});
      json result = run(db, scenario, path, clients, writers, affinity, duration_s, warmup_s, merchants, payers, hot);
      result["invariants"] = check_invariants(db, false);
      std::cout << result.dump() << '\n';
      if (!json_out.empty()) std::ofstream(json_out) << result.dump(2) << '\n';
      if (!result["invariants"]["ok"].get<bool>()) return 1;
    } else if (deal_cmd->parsed()) {
      ledger::Database db({conninfo, 2});
      {
        auto lease = db.lease();
        ledger::migrate(*lease);
      }
      exec(db, fmt::format(
                   "SELECT ledger.add_org_unit('DB', 'branch', 'Deal branch', NULL);"
                   "SELECT ledger.add_org_unit('DSB', 'sub_branch', 'Deal sub-branch', 'DB');"
                   "SELECT ledger.add_org_unit('DO' || o, 'outlet', 'Deal outlet ' || o, 'DSB') FROM generate_series(1, 100) o;"
                   "SELECT ledger.add_merchant('DM' || m, 'Deal merchant ' || m, 'DO' || (1 + m % 100)) "
                   "FROM generate_series(1, {}) m;",
                   merchants));
      std::vector<std::string> codes;
      for (int m = 1; m <= merchants; ++m) codes.push_back(fmt::format("DM{}", m));
      approve_pilot_campaign(db, "deal bench", "DB", std::move(codes));
      const auto t0 = Clock::now();
      const auto report = promo::deal_day(db, ledger::parse_day(bench_day).value());
      const double deal_s = std::chrono::duration<double>(Clock::now() - t0).count();
      std::cout << json{{"merchants", merchants}, {"decks_dealt", report.decks_dealt}, {"cards", report.cards_dealt},
                        {"deal_s", deal_s}}.dump()
                << '\n';
    } else if (report_cmd->parsed()) {
      ledger::Database db({conninfo, 1});
      {
        auto lease = db.lease();
        ledger::migrate(*lease);
      }
      json result = load_month(db, lines, 2000);
      const auto range_from = ledger::parse_day("2026-11-01").value();
      const auto range_to = ledger::parse_day("2026-11-30").value();
      std::vector<double> times_ms;
      std::pair<std::size_t, std::size_t> rows;
      for (int i = 0; i < 5; ++i) {
        const auto t0 = Clock::now();
        rows = month_report_rows(db, range_from, range_to);
        times_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      std::sort(times_ms.begin(), times_ms.end());
      result["scenario"] = "report";
      result["report_ms"] = times_ms[times_ms.size() / 2];
      result["report_ms_all"] = times_ms;
      result["report_rows"] = rows.first;  // outlets, sub-branches, branches
      result["report_budget_rows"] = rows.second;
      result["report_function"] = "promo::report_outlets (level all)";
      std::cout << result.dump() << '\n';
    } else if (verify_cmd->parsed()) {
      ledger::Database db({conninfo, 1});
      const json result = check_invariants(db, verify_all_checks);
      std::cout << result.dump() << '\n';
      if (!result["ok"].get<bool>()) return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "promoledger_bench: " << e.what() << '\n';
    return 3;
  }
  return 0;
}
