// Branch finance reports and the auditors' commands: each parses its options, makes one library call
// (promo/finance.hpp, promo/audit_checks.hpp, ledger/ledger.hpp) and renders the result through
// promo::views (the same to_json the HTTP service answers with).
#include <algorithm>
#include <cstddef>
#include <iostream>
#include <memory>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "cli.hpp"
#include "promoledger/ledger/periods.hpp"
#include "promoledger/eod/xlsx_export.hpp"
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
  if (!range) throw CommandError(exit_usage, "usage", "--" + range.error().message, range.error().field);
  return *range;
}

void add_range(CLI::App* cmd, Range& r) {
  cmd->add_option("--from", r.from, "first business day YYYY-MM-DD")->required();
  cmd->add_option("--to", r.to, "last business day YYYY-MM-DD")->required();
}

// A report the library refused: an unknown campaign or outlet, a bad range, or too many rows.
[[noreturn]] void report_refused(const promo::ReportError& error) {
  if (error.code == promo::ReportRefusal::bad_range) {
    throw CommandError(exit_usage, "usage", "--" + error.message, error.field);
  }
  throw CommandError(exit_rejected, std::string(promo::to_string(error.code)), error.message, error.field);
}

void print_outlet_report(const Context& ctx, const promo::OutletReport& report) {
  if (ctx.json) return print_json(promo::views::to_json(report), std::cout);
  print(ctx, promo::views::outlet_table(report.rows), std::cout);
  if (!ctx.csv) {
    std::cout << "\nbudgets\n";
    print(ctx, promo::views::budget_table(report.budgets), std::cout);
  }
}

struct OutletsOptions {
  Range range;                // required
  std::string level = "all";  // outlet | sub_branch | branch | all
  std::string xlsx;           // empty: no .xlsx file
};

void report_outlets_command(CLI::App& report, Context& ctx) {
  auto* outlets = report.add_subcommand("outlets", "scan payments, bank-app share and subsidy per outlet, rolled up");
  auto options = std::make_shared<OutletsOptions>();
  add_range(outlets, options->range);
  outlets->add_option("--xlsx", options->xlsx, "also write the report to this .xlsx file (one sheet each for outlets and budgets)");
  outlets->add_option("--level", options->level, "outlet | sub_branch | branch | all (default)")
      ->check(CLI::IsMember({"outlet", "sub_branch", "branch", "all"}));
  outlets->callback([&ctx, options] {
    const auto [from, to] = range_of(options->range);
    // CLI11 has checked the word (IsMember above), so it names a level.
    const auto level = promo::outlet_level_from_string(options->level).value();
    const auto result = promo::report_outlets(ctx.database(), from, to, level);
    if (!result) report_refused(result.error());
    if (!options->xlsx.empty()) eod::write_outlet_report_xlsx(options->xlsx, *result);
    print_outlet_report(ctx, *result);
  });
}

std::optional<date::year_month_day> optional_day(const std::string& text, const char* flag) {
  if (text.empty()) return std::nullopt;
  auto day = ledger::parse_day(text);
  if (!day) bad_value(fmt::format("--{}", flag), day.error());
  return *day;
}

struct CampaignReportOptions {
  long long campaign_id = 0;  // required
  Range range;                // either end empty: the campaign's own first or last day
  std::string xlsx;           // empty: no .xlsx file
};

void report_campaign_command(CLI::App& report, Context& ctx) {
  auto* campaign = report.add_subcommand("campaign", "per merchant and day: cards dealt, used, expired, subsidy, band share");
  auto options = std::make_shared<CampaignReportOptions>();
  campaign->add_option("ID", options->campaign_id, "campaign id")->required();
  campaign->add_option("--xlsx", options->xlsx, "also write the report to this .xlsx file");
  campaign->add_option("--from", options->range.from, "first business day (default: the campaign's first day)");
  campaign->add_option("--to", options->range.to, "last business day (default: the campaign's last day)");
  campaign->callback([&ctx, options] {
    const auto from = optional_day(options->range.from, "from");
    const auto to = optional_day(options->range.to, "to");
    const auto result = promo::report_campaign(ctx.database(), options->campaign_id, from, to);
    if (!result) report_refused(result.error());
    if (!options->xlsx.empty()) eod::write_campaign_report_xlsx(options->xlsx, *result);
    if (ctx.json) return print_json(promo::views::to_json(*result), std::cout);
    print(ctx, promo::views::campaign_report_table(result->rows), std::cout);
  });
}

void report_trial_balance_command(CLI::App& report, Context& ctx) {
  report.add_subcommand("trial-balance", "every account with debits, credits and balance; totals")->callback([&ctx] {
    const auto tb = ledger::Ledger(ctx.database()).trial_balance();
    if (ctx.json) {
      print_json(promo::views::to_json(tb), std::cout);
    } else {
      print(ctx, promo::views::trial_balance_table(tb), std::cout);
    }
    if (!tb.balanced()) ctx.exit_code = exit_rejected;
  });
}

struct StatementOptions {
  std::string account;  // required
  Range range;          // required
  std::size_t limit = ledger::Ledger::statement_lines_max;
};

void report_statement_command(CLI::App& report, Context& ctx) {
  auto* statement = report.add_subcommand("statement", "an account's lines with the running balance");
  auto options = std::make_shared<StatementOptions>();
  statement->add_option("--account", options->account, "account code, e.g. payer:P0001:deposit")->required();
  add_range(statement, options->range);
  statement->add_option("--limit", options->limit, "at most this many lines")->check(CLI::Range(1, 10'000));
  statement->callback([&ctx, options] {
    const std::string& account = options->account;
    const std::size_t limit = options->limit;
    const auto [from, to] = range_of(options->range);
    // One line more than asked tells whether the statement goes on; at the ledger's own cap it cannot.
    const std::size_t cap = ledger::Ledger::statement_lines_max;
    auto lines = ledger::Ledger(ctx.database()).statement(account, from, to, std::min(limit + 1, cap));
    if (!lines) refused(lines.error());
    std::vector<ledger::StatementLine> shown = std::move(lines).value();
    const bool cut = shown.size() > limit || shown.size() == cap;
    if (shown.size() > limit) shown.erase(shown.begin() + static_cast<std::ptrdiff_t>(limit), shown.end());
    print(ctx, promo::views::statement_table(shown), std::cout);
    // Never a silent cut: the lines shown are whole, and stderr says that more may follow.
    if (cut) {
      std::cerr << fmt::format("promoledger: report statement: only the first {} lines; more follow: narrow --from/--to "
                               "or raise --limit (at most {})\n",
                               shown.size(), cap);
    }
  });
}

void report_commands(CLI::App& app, Context& ctx) {
  auto* report = app.add_subcommand("report", "branch finance reports");
  report->require_subcommand(1);
  report_outlets_command(*report, ctx);
  report_campaign_command(*report, ctx);
  report_trial_balance_command(*report, ctx);
  report_statement_command(*report, ctx);
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

void audit_trace_command(CLI::App& audit, Context& ctx) {
  auto* trace = audit.add_subcommand("trace", "payment -> decision -> card -> campaign -> entry -> accounts");
  auto ids = std::make_shared<std::pair<std::string, std::string>>();  // PAYMENT_ID, --payment-id
  trace->add_option("PAYMENT_ID", ids->first, "the payment");
  trace->add_option("--payment-id", ids->second, "the payment (the same as PAYMENT_ID)");
  trace->callback([&ctx, ids] {
    const std::string id = one_payment_id(ids->first, ids->second, "audit trace");
    const auto t = promo::trace_payment(ctx.database(), id);
    if (!t) throw CommandError(exit_rejected, "unknown_payment", fmt::format("no payment {}", id));
    if (ctx.json) return print_json(*t, std::cout);
    print_trace_text(*t);
  });
}

struct SubsidiesOptions {
  std::string outlet;  // required
  Range range;         // required
};

void audit_subsidies_command(CLI::App& audit, Context& ctx) {
  auto* subsidies = audit.add_subcommand("subsidies", "every subsidy charged to an outlet, with its payment and entry");
  auto options = std::make_shared<SubsidiesOptions>();
  subsidies->add_option("--outlet", options->outlet, "outlet code")->required();
  add_range(subsidies, options->range);
  subsidies->callback([&ctx, options] {
    const auto [from, to] = range_of(options->range);
    const auto result = promo::audit_subsidies(ctx.database(), options->outlet, from, to);
    if (!result) report_refused(result.error());
    if (ctx.json) return print_json(promo::views::to_json(*result), std::cout);
    print(ctx, promo::views::subsidy_table(*result), std::cout);
  });
}

struct VerifyOptions {
  bool full = false;          // the whole history
  bool since_anchor = false;  // the default scope, said explicitly
  std::string month;          // YYYY-MM: one closed month; empty: not a month
};

void audit_verify_command(CLI::App& audit, Context& ctx) {
  auto* verify = audit.add_subcommand("verify", "check every invariant of the ledger and the campaign rules");
  auto options = std::make_shared<VerifyOptions>();
  verify->add_flag("--since-anchor", options->since_anchor,
                   "the months after the latest closed one, chains from its anchors (the default)");
  verify->add_flag("--full", options->full, "the whole history, every chain from its first line");
  verify->add_option("--month", options->month, "one closed month, YYYY-MM, proved against its close's anchors")
      ->excludes(verify->get_option("--full"))
      ->excludes(verify->get_option("--since-anchor"));
  verify->get_option("--full")->excludes(verify->get_option("--since-anchor"));
  verify->callback([&ctx, options] {
    const auto& month = options->month;
    const bool full = options->full;
    std::optional<promo::AuditReport> report;
    if (!month.empty()) {
      const auto ym = ledger::parse_month(month);
      if (!ym) usage_error(ym.error().message);
      auto proved = promo::verify_month(ctx.database(), *ym);
      if (!proved) {
        throw CommandError(exit_rejected, std::string(ledger::to_string(proved.error().code)), proved.error().message);
      }
      report = std::move(proved).value();
    } else {
      report = promo::verify_all(ctx.database(), full ? promo::VerifyScope::full : promo::VerifyScope::since_anchor);
    }
    if (ctx.json) {
      print_json(promo::views::to_json(*report), std::cout);
    } else {
      print_table(promo::views::verify_table(*report), std::cout);
      const std::string covered =
          report->months.empty() ? "no months" : fmt::format("{} .. {}", report->months.front(), report->months.back());
      std::cout << fmt::format("\n{} ({}: {}{}); chain digest {} (keep it: a later run must extend, not rewrite, this "
                               "history)\n",
                               report->ok() ? "all checks passed" : "VERIFICATION FAILED", report->scope, covered,
                               report->from.empty() ? "" : ", from " + report->from, report->chain_digest);
    }
    if (!report->ok()) ctx.exit_code = exit_rejected;
  });
}

void audit_commands(CLI::App& app, Context& ctx) {
  auto* audit = app.add_subcommand("audit", "trace, list and verify");
  audit->require_subcommand(1);
  audit_trace_command(*audit, ctx);
  audit_subsidies_command(*audit, ctx);
  audit_verify_command(*audit, ctx);
}

}  // namespace

void register_report_commands(CLI::App& app, Context& ctx) { report_commands(app, ctx); }
void register_audit_commands(CLI::App& app, Context& ctx) { audit_commands(app, ctx); }

}  // namespace promoledger::app
