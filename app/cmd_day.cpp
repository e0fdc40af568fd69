// The day cycle: deal --date D before the day, close-day --date D after it (promo/dealing.hpp), and
// the posting policy that says how far ahead of the clock and how far back a payment may be dated
// (ledger/posting_policy.hpp).
#include <iostream>

#include <fmt/format.h>

#include "cli.hpp"
#include "promoledger/ledger/posting_policy.hpp"
#include "promoledger/promo/dealing.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

struct PolicySetOptions {
  std::string tolerance;      // "5m", "90s", "2h", "30d"; empty: unchanged
  std::string replay_window;  // "400d"; empty: unchanged
  std::string reason;         // why (required; 1..ledger::reason_bytes_max bytes)
};

json policy_json(const ledger::PostingPolicy& p) {
  return json{{"future_tolerance", ledger::format_tolerance(p.future_tolerance)},
              {"future_tolerance_seconds", p.future_tolerance.count()},
              {"replay_window", fmt::format("{}d", p.replay_window.count())},
              {"replay_window_days", p.replay_window.count()},
              {"reason", p.reason},
              {"changed_at", p.changed_at_utc},
              {"changed_by", p.changed_by}};
}

// The posting policy: how far ahead of the database clock a payment time may lie, and how far back a
// business day may lie before a payment or a replay of it is refused (docs/accounting.md).
void policy_commands(CLI::App& app, Context& ctx) {
  auto* policy = app.add_subcommand("policy", "the posting policy: how far ahead of the clock and how far back a "
                                              "payment may be dated");
  policy->require_subcommand(1);
  policy->add_subcommand("show", "the policy in force and every change (who, when, why)")->callback([&ctx] {
    const auto history = ledger::posting_policy_history(ctx.database());
    if (ctx.json) {
      json changes = json::array();
      for (const auto& p : history) changes.push_back(policy_json(p));
      print_json(json{{"in_force", policy_json(ledger::posting_policy(ctx.database()))}, {"history", changes}},
                 std::cout);
      return;
    }
    for (const auto& p : history) {
      std::cout << fmt::format("{}  future tolerance {:>6}  replay window {:>6}  by {}: {}\n", p.changed_at_utc,
                               ledger::format_tolerance(p.future_tolerance),
                               fmt::format("{}d", p.replay_window.count()), p.changed_by, p.reason);
    }
  });
  auto* set = policy->add_subcommand("set", "change the future tolerance, the replay window or both (owner role; "
                                            "recorded with the reason; what is not given carries on)");
  auto options = std::make_shared<PolicySetOptions>();
  set->add_option("--future-tolerance", options->tolerance, "e.g. 5m (default), 90s, 2h, 30d; at most 400d");
  set->add_option("--replay-window", options->replay_window,
                  "whole days, e.g. 400d (default); 1d..3660d. Payments dated before it are refused, replays too");
  set->add_option("--reason", options->reason, "why it changes (kept in the history)")->required();
  set->callback([&ctx, options] {
    if (options->tolerance.empty() && options->replay_window.empty()) {
      usage_error("policy set: give --future-tolerance, --replay-window or both");
    }
    ledger::PolicyChange change;
    if (!options->tolerance.empty()) {
      const auto tolerance = ledger::parse_tolerance(options->tolerance);
      if (!tolerance) bad_value("--future-tolerance", tolerance.error());
      change.future_tolerance = *tolerance;
    }
    if (!options->replay_window.empty()) {
      const auto window = ledger::parse_replay_window(options->replay_window);
      if (!window) bad_value("--replay-window", window.error());
      change.replay_window = *window;
    }
    const auto in_force = ledger::change_posting_policy(ctx.database(), change, options->reason);
    if (!in_force) throw CommandError(exit_usage, "usage", in_force.error().message, in_force.error().field);
    if (ctx.json) {
      print_json(policy_json(*in_force), std::cout);
    } else {
      std::cout << fmt::format("future tolerance is now {}, replay window {}d (set by {} at {})\n",
                               ledger::format_tolerance(in_force->future_tolerance), in_force->replay_window.count(),
                               in_force->changed_by, in_force->changed_at_utc);
    }
  });
}

void day_commands(CLI::App& app, Context& ctx) {
  auto* deal = app.add_subcommand("deal", "deal the decks of a business day (idempotent)");
  auto deal_date_text = std::make_shared<std::string>();
  deal->add_option("--date", *deal_date_text, "business day YYYY-MM-DD (Asia/Shanghai)")->required();
  deal->callback([&ctx, deal_date_text] {
    const std::string& deal_date = *deal_date_text;
    const auto day = day_arg(deal_date, "--date");
    const auto r = promo::deal_day(ctx.database(), day);
    if (ctx.json) {
      print_json(json{{"date", deal_date}, {"campaigns", r.campaigns}, {"decks_dealt", r.decks_dealt},
                      {"already_dealt", r.already_dealt}, {"unfunded", r.unfunded}, {"cards_dealt", r.cards_dealt},
                      {"reserved", money_text(r.reserved_fen)}},
                 std::cout);
    } else {
      std::cout << fmt::format("dealt {}: {} campaign(s), {} new deck(s) ({} cards), {} already dealt, {} unfunded, "
                               "reserved {}\n",
                               deal_date, r.campaigns, r.decks_dealt, r.cards_dealt, r.already_dealt, r.unfunded,
                               money_text(r.reserved_fen));
    }
  });
  auto* close = app.add_subcommand("close-day", "close a business day: expire unused cards, release their budget");
  auto close_date_text = std::make_shared<std::string>();
  close->add_option("--date", *close_date_text, "business day YYYY-MM-DD")->required();
  close->callback([&ctx, close_date_text] {
    const std::string& close_date = *close_date_text;
    const auto day = day_arg(close_date, "--date");
    const auto r = promo::close_day(ctx.database(), day);
    if (ctx.json) {
      print_json(json{{"date", close_date}, {"decks_closed", r.decks_closed}, {"cards_used", r.cards_used},
                      {"cards_expired", r.cards_expired}, {"subsidy", money_text(r.subsidy_fen)},
                      {"released", money_text(r.released_fen)}},
                 std::cout);
    } else {
      std::cout << fmt::format("closed {}: {} deck(s), {} card(s) used, {} expired, subsidy {}, released {}\n",
                               close_date, r.decks_closed, r.cards_used, r.cards_expired, money_text(r.subsidy_fen),
                               money_text(r.released_fen));
    }
  });
  policy_commands(app, ctx);
}

}  // namespace

void register_day_commands(CLI::App& app, Context& ctx) { day_commands(app, ctx); }

}  // namespace promoledger::app
