// Branch finance reports and the auditors' commands.
#include <iostream>

#include <fmt/format.h>

#include "cli.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/promo/audit_checks.hpp"
#include "promoledger/promo/finance.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

struct Range {
  std::string from, to;
};

std::pair<date::year_month_day, date::year_month_day> range_of(const Range& r) {
  auto range = ledger::parse_day_range(r.from, r.to);
  if (!range) usage_error("--" + range.error());
  return *range;
}

void add_range(CLI::App* cmd, Range& r) {
  cmd->add_option("--from", r.from, "first business day YYYY-MM-DD")->required();
  cmd->add_option("--to", r.to, "last business day YYYY-MM-DD")->required();
}

std::string text(std::int64_t n) { return std::to_string(n); }

void report_commands(CLI::App& app, Context& ctx) {
  auto* report = app.add_subcommand("report", "branch finance reports");
  report->require_subcommand(1);

  auto* outlets = report->add_subcommand("outlets", "scan payments, bank-app share and subsidy per outlet, rolled up");
  static Range outlets_range;
  static std::string level = "all";
  add_range(outlets, outlets_range);
  outlets->add_option("--level", level, "outlet | sub_branch | branch | all (default)")
      ->check(CLI::IsMember({"outlet", "sub_branch", "branch", "all"}));
  outlets->callback([&ctx] {
    const auto [from, to] = range_of(outlets_range);
    const auto rows = promo::outlet_report(ctx.database(), from, to);
    const Table t = promo::views::outlet_table(rows, level);
    const Table b = promo::views::budget_table(promo::budget_report(ctx.database()));
    if (ctx.json) {
      print_json(promo::views::outlet_report(outlets_range.from, outlets_range.to, t, b), std::cout);
      return;
    }
    print(ctx, t, std::cout);
    if (!ctx.csv) {
      std::cout << "\nbudgets\n";
      print(ctx, b, std::cout);
    }
  });

  auto* campaign = report->add_subcommand("campaign", "per merchant and day: cards dealt, used, expired, subsidy, band share");
  static long long campaign_id = 0;
  static Range campaign_range;
  campaign->add_option("ID", campaign_id, "campaign id")->required();
  campaign->add_option("--from", campaign_range.from, "first business day (default: the campaign's first day)");
  campaign->add_option("--to", campaign_range.to, "last business day (default: the campaign's last day)");
  campaign->callback([&ctx] {
    Range range = campaign_range;
    if (range.from.empty() || range.to.empty()) {
      auto lease = ctx.database().lease();
      std::string first, last;
      *lease << "SELECT first_day::text, last_day::text FROM promo.campaign WHERE id = :id", soci::use(campaign_id),
          soci::into(first), soci::into(last);
      if (!lease->got_data()) throw CommandError(exit_rejected, "unknown_campaign", fmt::format("no campaign {}", campaign_id));
      if (range.from.empty()) range.from = first;
      if (range.to.empty()) range.to = last;
    }
    const auto [from, to] = range_of(range);
    const auto rows = promo::campaign_report(ctx.database(), campaign_id, from, to);
    if (rows.empty()) {
      // Distinguish "no such campaign" from "nothing in that range".
      auto lease = ctx.database().lease();
      long long n = 0;
      *lease << "SELECT count(*) FROM promo.campaign WHERE id = :id", soci::use(campaign_id), soci::into(n);
      if (n == 0) throw CommandError(exit_rejected, "unknown_campaign", fmt::format("no campaign {}", campaign_id));
    }
    print(ctx, promo::views::campaign_report_table(rows), std::cout);
  });

  report->add_subcommand("trial-balance", "every account with debits, credits and balance; totals")->callback([&ctx] {
    ledger::Ledger ledger(ctx.database());
    const auto tb = ledger.trial_balance();
    if (ctx.json) {
      print_json(promo::views::trial_balance(tb), std::cout);
      return;
    }
    Table t{{"account", "type", "debits", "credits", "balance"}, {false, false, true, true, true}, {}};
    for (const auto& a : tb.accounts) {
      t.rows.push_back({a.code, std::string(ledger::to_string(a.type)), money_text(a.debits_fen), money_text(a.credits_fen),
                        money_text(a.balance_fen)});
    }
    t.rows.push_back({"total", "", money_text(tb.total_debits_fen), money_text(tb.total_credits_fen),
                      tb.balanced() ? "balanced" : "NOT BALANCED"});
    print(ctx, t, std::cout);
    if (!tb.balanced()) ctx.exit_code = exit_rejected;
  });

  auto* statement = report->add_subcommand("statement", "an account's lines with the running balance");
  static std::string account;
  static Range statement_range;
  static std::size_t limit = ledger::Ledger::statement_lines_max;
  statement->add_option("--account", account, "account code, e.g. payer:P0001:deposit")->required();
  add_range(statement, statement_range);
  statement->add_option("--limit", limit, "at most this many lines")->check(CLI::Range(1, 10'000));
  statement->callback([&ctx] {
    const auto [from, to] = range_of(statement_range);
    ledger::Ledger ledger(ctx.database());
    auto lines = ledger.statement(account, from, to, limit);
    if (!lines) throw CommandError(exit_rejected, std::string(ledger::to_string(lines.error().code)), lines.error().detail);
    Table t{{"seq", "business_day", "entry", "kind", "reference", "debit", "credit", "balance"},
            {true, false, true, false, false, true, true, true},
            {}};
    for (const auto& l : *lines) {
      const bool debit = l.side == ledger::Side::debit;
      t.rows.push_back({text(l.account_seq), l.business_day, text(l.entry_id), l.kind, l.external_ref,
                        debit ? l.amount.str() : "", debit ? "" : l.amount.str(), money_text(l.balance_after_fen)});
    }
    print(ctx, t, std::cout);
  });
}

void print_trace_text(const json& t) {
  const json& p = t["payment"];
  const json& d = t["decision"];
  std::cout << fmt::format("payment   {}  {} -> {} (home outlet {})  {}  {}  paid {} local, business day {}\n",
                           p["payment_id"].get<std::string>(), p["payer"].get<std::string>(),
                           p["merchant"].get<std::string>(), p["home_outlet"].get<std::string>(),
                           p["channel"].get<std::string>(), p["amount"].get<std::string>(),
                           p["paid_at_local"].get<std::string>(), p["business_day"].get<std::string>());
  if (d["discounted"].get<bool>()) {
    std::cout << fmt::format("decision  discounted {}: payer -{} pays {}; merchant +{} receives {}\n",
                             d["discount"].get<std::string>(), d["payer_discount"].get<std::string>(),
                             d["payer_pays"].get<std::string>(), d["merchant_reward"].get<std::string>(),
                             d["merchant_receives"].get<std::string>());
  } else {
    std::cout << fmt::format("decision  no discount: {}\n", d["reason"].get<std::string>());
  }
  if (t.contains("card")) {
    const json& c = t["card"];
    std::cout << fmt::format("card      deck {} ({} {} of {} used, {}), position {}, amount {}\n", c["deck_id"].get<long long>(),
                             c["business_day"].get<std::string>(), c["cards_used"].get<int>(), c["cards_in_deck"].get<int>(),
                             c["deck_status"].get<std::string>(), c["position"].get<int>(), c["amount"].get<std::string>());
    std::cout << fmt::format("          algorithm v{} {}, seed commitment {}\n", c["algorithm_version"].get<int>(),
                             c["deck_order"].get<std::string>(), c["seed_commitment"].get<std::string>());
    std::cout << fmt::format("          seed {}\n", c["seed_revealed"].is_null() ? std::string("(revealed when the day is closed)")
                                                                                  : c["seed_revealed"].get<std::string>());
  }
  if (t.contains("campaign")) {
    const json& c = t["campaign"];
    std::cout << fmt::format("campaign  {} \"{}\" [{}], GL {}, created by {} at {} UTC, approved by {} at {} UTC\n",
                             c["id"].get<long long>(), c["name"].get<std::string>(), c["status"].get<std::string>(),
                             c["gl_code"].get<std::string>(), c["created_by"].get<std::string>(),
                             c["created_at_utc"].get<std::string>(), c["approved_by"].is_null() ? "-" : c["approved_by"].get<std::string>(),
                             c["approved_at_utc"].is_null() ? "-" : c["approved_at_utc"].get<std::string>());
    std::cout << "          parameters " << c["parameters"].dump() << '\n';
  }
  const auto print_entry = [](const char* title, const json& e) {
    std::cout << fmt::format("{} {} {} [{}] day {} posted {} UTC\n", title, e["entry_id"].get<long long>(),
                             e["external_ref"].get<std::string>(), e["kind"].get<std::string>(),
                             e["business_day"].get<std::string>(), e["posted_at_utc"].get<std::string>());
    for (const json& l : e["lines"]) {
      std::cout << fmt::format("          {:<6} {:<32} {:>12}  seq {:<6} balance after {:>12}  hash {}…\n",
                               l["side"].get<std::string>(), l["account"].get<std::string>(), l["amount"].get<std::string>(),
                               l["account_seq"].get<long long>(), l["balance_after"].get<std::string>(),
                               l["line_hash"].get<std::string>().substr(0, 16));
    }
  };
  print_entry("entry    ", t["entry"]);
  if (t.contains("reversal")) print_entry("reversal ", t["reversal"]);
  std::cout << "accounts  balances now:";
  for (const json& a : t["accounts"]) {
    std::cout << fmt::format(" {} {};", a["account"].get<std::string>(), a["balance_now"].get<std::string>());
  }
  std::cout << '\n';
}

void audit_commands(CLI::App& app, Context& ctx) {
  auto* audit = app.add_subcommand("audit", "trace, list and verify");
  audit->require_subcommand(1);

  auto* trace = audit->add_subcommand("trace", "payment -> decision -> card -> campaign -> entry -> accounts");
  static std::string payment_id, payment_id_flag;
  trace->add_option("PAYMENT_ID", payment_id, "the payment");
  trace->add_option("--payment-id", payment_id_flag, "the payment (the same as PAYMENT_ID)");
  trace->callback([&ctx] {
    payment_id = one_payment_id(payment_id, payment_id_flag, "audit trace");
    auto t = promo::trace_payment(ctx.database(), payment_id);
    if (!t) throw CommandError(exit_rejected, "unknown_payment", fmt::format("no payment {}", payment_id));
    if (ctx.json) {
      print_json(*t, std::cout);
    } else {
      print_trace_text(*t);
    }
  });

  auto* subsidies = audit->add_subcommand("subsidies", "every subsidy charged to an outlet, with its payment and entry");
  static std::string outlet;
  static Range subsidies_range;
  subsidies->add_option("--outlet", outlet, "outlet code")->required();
  add_range(subsidies, subsidies_range);
  subsidies->callback([&ctx] {
    const auto [from, to] = range_of(subsidies_range);
    auto rows = promo::outlet_subsidies(ctx.database(), outlet, from, to);
    if (!rows) throw CommandError(exit_rejected, "unknown_outlet", fmt::format("no outlet {}", outlet));
    Table t{{"business_day", "payment_id", "merchant", "payer", "amount", "discount", "payer_part", "merchant_part",
             "entry", "deck", "card", "reversed"},
            {false, false, false, false, true, true, true, true, true, true, true, false},
            {}};
    ledger::WideFen total = 0, payer = 0, merchant = 0;
    for (const auto& r : *rows) {
      t.rows.push_back({r.business_day, r.payment_id, r.merchant, r.payer, money_text(r.amount_fen),
                        money_text(r.discount_fen), money_text(r.payer_share_fen), money_text(r.merchant_share_fen),
                        text(r.entry_id), text(r.deck_id), text(r.card_position), r.reversed ? "yes" : "no"});
      total += r.discount_fen;
      payer += r.payer_share_fen;
      merchant += r.merchant_share_fen;
    }
    if (ctx.json) {
      json list = json::array();
      for (const auto& r : *rows) {
        list.push_back(json{{"business_day", r.business_day}, {"payment_id", r.payment_id}, {"merchant", r.merchant},
                            {"payer", r.payer}, {"amount", money_text(r.amount_fen)}, {"discount", money_text(r.discount_fen)},
                            {"payer_part", money_text(r.payer_share_fen)}, {"merchant_part", money_text(r.merchant_share_fen)},
                            {"entry_id", r.entry_id}, {"deck_id", r.deck_id}, {"card_position", r.card_position},
                            {"reversed", r.reversed}});
      }
      print_json(json{{"outlet", outlet}, {"from", subsidies_range.from}, {"to", subsidies_range.to},
                      {"subsidies", list}, {"count", rows->size()}, {"total_discount", money_text(total)},
                      {"total_payer_part", money_text(payer)}, {"total_merchant_part", money_text(merchant)}},
                 std::cout);
      return;
    }
    t.rows.push_back({"total", "", "", "", "", money_text(total), money_text(payer), money_text(merchant),
                      fmt::format("{} subsidies", rows->size()), "", "", ""});
    print(ctx, t, std::cout);
  });

  audit->add_subcommand("verify", "check every invariant of the ledger and the campaign rules")->callback([&ctx] {
    const auto report = promo::verify_all(ctx.database());
    const auto& checks = report.checks;
    const std::string& digest = report.chain_digest;
    const bool ok = report.ok();
    if (ctx.json) {
      print_json(promo::views::verify(report), std::cout);
    } else {
      Table t{{"check", "result", "violations", "first violations"}, {false, false, true, false}, {}};
      for (const auto& c : checks) {
        t.rows.push_back({c.name, c.ok() ? "ok" : "FAILED", text(c.violations), c.sample.substr(0, 160)});
      }
      print_table(t, std::cout);
      std::cout << fmt::format("\n{}; chain digest {} (keep it: a later run must extend, not rewrite, this history)\n",
                               ok ? "all checks passed" : "VERIFICATION FAILED", digest);
    }
    if (!ok) ctx.exit_code = exit_rejected;
  });
}

}  // namespace

void register_report_commands(CLI::App& app, Context& ctx) { report_commands(app, ctx); }
void register_audit_commands(CLI::App& app, Context& ctx) { audit_commands(app, ctx); }

}  // namespace promoledger::app
