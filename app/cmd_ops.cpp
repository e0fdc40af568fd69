// Operations: db, org import, campaigns, dealing and closing days, payments and reversals.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>

#include "cli.hpp"
#include "csv.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/ledger/migrations.hpp"
#include "promoledger/ledger/organisation.hpp"
#include "promoledger/ledger/posting_policy.hpp"
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/dealing.hpp"
#include "promoledger/promo/payment_request.hpp"
#include "promoledger/promo/payments.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

date::year_month_day day_arg(const std::string& text, const char* flag) {
  auto day = ledger::parse_day(text);
  if (!day) bad_value(flag, day.error());
  return *day;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) usage_error(fmt::format("{}: cannot open the file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---------------------------------------------------------------------------------------------- db
void db_commands(CLI::App& app, Context& ctx) {
  auto* db = app.add_subcommand("db", "schema migrations");
  db->require_subcommand(1);
  db->add_subcommand("migrate", "apply the migrations that are not applied yet")->callback([&ctx] {
    auto lease = ctx.database().lease();
    const auto report = ledger::migrate(*lease);
    if (ctx.json) {
      print_json(json{{"applied", report.applied_now}, {"already_applied", report.already_applied}}, std::cout);
    } else if (report.applied_now.empty()) {
      std::cout << fmt::format("nothing to do: {} migration(s) already applied\n", report.already_applied);
    } else {
      for (const auto& name : report.applied_now) std::cout << "applied " << name << '\n';
    }
  });
  db->add_subcommand("status", "list the migrations and whether each is applied")->callback([&ctx] {
    auto lease = ctx.database().lease();
    Table t{{"migration", "checksum", "applied_at_utc", "state"}, {}, {}};
    bool changed = false;
    for (const auto& m : ledger::migration_status(*lease)) {
      // A changed function file is the normal state between a new release and `db migrate`, which
      // re-applies it; a changed numbered migration is an error (history must not be edited).
      const bool refused = m.changed() && !m.function_file;
      const std::string state = refused ? "CHANGED" : (m.applied_at && !m.changed() ? "applied" : "pending");
      changed = changed || refused;
      t.rows.push_back({m.name, m.checksum_hex.substr(0, 16), m.applied_at.value_or(""), state});
    }
    print(ctx, t, std::cout);
    if (changed) throw CommandError(exit_failure, "migration_changed", "an applied migration file has changed");
  });
}

// --------------------------------------------------------------------------------------------- org
// org import FILE.csv: one header line `kind,code,name,parent,opening_balance`, then rows of kind
// branch | sub_branch | outlet (parent = the unit above) | merchant (parent = its home outlet) |
// payer (opening_balance = the deposit the payer starts with, funded from bank:funding).
// The organisation CSV (kind,code,name,parent,opening_balance) as records; a usage error names the
// file, line and field of the first thing that is not one.
std::vector<ledger::OrgRecord> org_records(const std::string& file) {
  const std::string text = read_file(file);
  auto rows = parse_csv(text, file, 5);
  if (!rows) usage_error(rows.error().message);
  const std::vector<std::string> header{"kind", "code", "name", "parent", "opening_balance"};
  if (rows->empty() || rows->front().fields != header) {
    usage_error(fmt::format("{}:1: the header must be kind,code,name,parent,opening_balance", file));
  }
  std::vector<ledger::OrgRecord> records;
  records.reserve(rows->size() - 1);
  for (std::size_t i = 1; i < rows->size(); ++i) {
    const auto& [line, f] = (*rows)[i];
    const auto where = [&, line = line](const char* field) { return fmt::format("{}:{}: field {}", file, line, field); };
    const auto kind = ledger::org_kind_from_string(f[0]);
    if (!kind) usage_error(fmt::format("{}: \"{}\" is not branch, sub_branch, outlet, merchant or payer", where("kind"), f[0]));
    ledger::OrgRecord r{line, *kind, f[1], f[2], f[3], std::nullopt};
    if (!f[4].empty()) {
      auto amount = ledger::Money::parse(f[4]);
      if (!amount) usage_error(fmt::format("{}: {}", where("opening_balance"), amount.error().message));
      r.opening_balance = *amount;
    }
    records.push_back(std::move(r));
  }
  return records;
}

void org_commands(CLI::App& app, Context& ctx) {
  auto* org = app.add_subcommand("org", "the organisation: branches, sub-branches, outlets, merchants, payers");
  org->require_subcommand(1);
  auto* import = org->add_subcommand("import", "import an organisation CSV, all or nothing");
  static std::string file, opening_date;
  import->add_option("FILE", file, "CSV: kind,code,name,parent,opening_balance")->required();
  import->add_option("--date", opening_date, "business day of the opening deposits (default: today)");
  import->callback([&ctx] {
    const auto opening_day = opening_date.empty() ? ledger::business_day_of(ledger::now()) : day_arg(opening_date, "--date");
    const auto records = org_records(file);
    const auto report = ledger::import_organisation(ctx.database(), records, opening_day);
    if (!report) {
      const auto& e = report.error();
      const std::string where = e.line ? fmt::format("{}:{}", file, e.line) : file;
      throw CommandError(exit_usage, std::string(ledger::to_string(e.code)),
                         fmt::format("{}: {} (nothing was imported)", where, e.message), e.field);
    }
    const auto& n = report->records;
    using K = ledger::OrgKind;
    const auto count = [&n](K kind) { return n[static_cast<std::size_t>(kind)]; };
    if (ctx.json) {
      print_json(json{{"file", file},
                      {"branches", count(K::branch)},
                      {"sub_branches", count(K::sub_branch)},
                      {"outlets", count(K::outlet)},
                      {"merchants", count(K::merchant)},
                      {"payers", count(K::payer)},
                      {"opening_deposits", report->openings_posted + report->openings_existing}},
                 std::cout);
    } else {
      std::cout << fmt::format("imported {}: {} branch(es), {} sub-branch(es), {} outlet(s), {} merchant(s), {} payer(s)\n",
                               file, count(K::branch), count(K::sub_branch), count(K::outlet), count(K::merchant),
                               count(K::payer));
    }
  });
}

// ---------------------------------------------------------------------------------------- campaign
// campaign create --file DOC: parse, validate as the API does, one call, render.
void campaign_create_command(CLI::App* c, Context& ctx) {
  auto* create = c->add_subcommand("create", "create a draft campaign from a JSON document");
  static std::string file, by;
  create->add_option("--file", file, "campaign JSON (see examples/pilot-campaign.json)")->required();
  create->add_option("--by", by, "who creates it, the maker (default: $PROMOLEDGER_USER or $USER)");
  create->callback([&ctx] {
    if (by.empty()) by = default_actor();
    json document;
    try {
      document = json::parse(read_file(file));
    } catch (const json::parse_error& e) {
      usage_error(fmt::format("{}: not valid JSON: {}", file, e.what()));
    }
    auto params = promo::parse_campaign(document);
    if (!params) {
      std::string all;
      for (const auto& e : params.error()) all += "\n  " + e.message;
      throw CommandError(exit_usage, "usage", fmt::format("{}: {} problem(s):{}", file, params.error().size(), all),
                         params.error().front().field);
    }
    if (auto errors = promo::validate(*params); !errors.empty()) {
      std::string all;
      for (const auto& e : errors) all += "\n  " + e.message;
      throw CommandError(exit_usage, "invalid_parameters", fmt::format("{}: infeasible campaign:{}", file, all),
                         errors.front().field);
    }
    promo::Campaigns campaigns(ctx.database());
    auto id = campaigns.create(*params, document, by);
    if (!id) refused(id.error());
    if (ctx.json) {
      print_json(json{{"id", *id}, {"status", "draft"}}, std::cout);
    } else {
      std::cout << fmt::format("campaign {} created as draft by {}; it needs approval by someone else\n", *id, by);
    }
  });
}

// campaign approve ID --by CHECKER (maker-checker in the library).
void campaign_approve_command(CLI::App* c, Context& ctx) {
  auto* approve = c->add_subcommand("approve", "approve a draft (maker-checker: not by its creator)");
  static long long approve_id = 0;
  static std::string approver;
  approve->add_option("ID", approve_id, "campaign id")->required();
  approve->add_option("--by", approver, "who approves it (the checker)")->required();
  approve->callback([&ctx] {
    promo::Campaigns campaigns(ctx.database());
    auto status = campaigns.approve(approve_id, approver);
    if (!status) refused(status.error());
    if (ctx.json) {
      print_json(json{{"id", approve_id}, {"status", promo::to_string(*status)}, {"approved_by", approver}}, std::cout);
    } else {
      std::cout << fmt::format("campaign {} approved by {}\n", approve_id, approver);
    }
  });
}

// campaign pause|resume|end ID [--by] [--reason]: the reason is kept with the event.
void campaign_steer_command(CLI::App* c, Context& ctx, promo::CampaignAction action) {
  const std::string name(promo::to_string(action));
  auto* sub = c->add_subcommand(name, fmt::format("{} a campaign", name));
  auto id = std::make_shared<long long>(0);
  auto actor = std::make_shared<std::string>();
  auto reason = std::make_shared<std::string>();
  sub->add_option("ID", *id, "campaign id")->required();
  sub->add_option("--by", *actor, "who does it (default: $PROMOLEDGER_USER or $USER)");
  sub->add_option("--reason", *reason, "why (kept with the lifecycle event; at most 500 bytes)");
  sub->callback([&ctx, id, actor, reason, action] {
    if (actor->empty()) *actor = default_actor();
    promo::Campaigns campaigns(ctx.database());
    auto status = campaigns.transition(*id, action, *actor, *reason);
    if (!status) refused(status.error());
    if (ctx.json) {
      print_json(json{{"id", *id}, {"status", promo::to_string(*status)}}, std::cout);
    } else {
      std::cout << fmt::format("campaign {} is now {}\n", *id, promo::to_string(*status));
    }
  });
}

// campaign list: a table, or the API's JSON.
void campaign_list_command(CLI::App* c, Context& ctx) {
  c->add_subcommand("list", "list campaigns")->callback([&ctx] {
    promo::Campaigns campaigns(ctx.database());
    const auto all = campaigns.list();
    if (ctx.json) {
      json out = json::array();
      for (const auto& s : all) out.push_back(promo::views::campaign_summary(s));
      print_json(out, std::cout);
      return;
    }
    Table t{{"id", "name", "status", "first_day", "last_day", "merchants", "created_by", "approved_by", "budget_total",
             "reserved", "spent"},
            {true, false, false, false, false, true, false, false, true, true, true},
            {}};
    for (const auto& s : all) {
      t.rows.push_back({std::to_string(s.id), s.name, std::string(promo::to_string(s.status)), s.first_day, s.last_day, std::to_string(s.merchants),
                        s.created_by, s.approved_by.value_or(""), money_text(s.budget_total_fen),
                        money_text(s.budget_reserved_fen), money_text(s.budget_spent_fen)});
    }
    print(ctx, t, std::cout);
  });
}

// campaign show ID: parameters, merchants, lifecycle.
void campaign_show_command(CLI::App* c, Context& ctx) {
  auto* show = c->add_subcommand("show", "show a campaign: parameters, merchants, lifecycle");
  static long long show_id = 0;
  show->add_option("ID", show_id, "campaign id")->required();
  show->callback([&ctx] {
    promo::Campaigns campaigns(ctx.database());
    auto view = campaigns.show(show_id);
    if (!view) throw CommandError(exit_rejected, "unknown_campaign", fmt::format("no campaign {}", show_id));
    const json& p = view->params;
    if (ctx.json) {
      print_json(promo::views::campaign(*view), std::cout);
      return;
    }
    std::cout << fmt::format("campaign {}: {} [{}]\n", view->summary.id, view->summary.name,
                             promo::to_string(view->summary.status));
    std::cout << fmt::format("  days {} .. {}, created by {}, approved by {}\n", view->summary.first_day,
                             view->summary.last_day, view->summary.created_by, view->summary.approved_by.value_or("-"));
    std::cout << fmt::format("  budget {} (reserved {}, spent {})\n", money_text(view->summary.budget_total_fen),
                             money_text(view->summary.budget_reserved_fen), money_text(view->summary.budget_spent_fen));
    std::cout << "  parameters: " << p.dump() << '\n';
    std::cout << "  merchants (" << view->merchants.size() << "):";
    for (const auto& m : view->merchants) std::cout << ' ' << m;
    std::cout << "\n  lifecycle:\n";
    for (const auto& e : view->events) {
      std::cout << fmt::format("    {} UTC  {:<8} by {}  ({} -> {}){}\n", e.at_utc, promo::to_string(e.action), e.actor,
                               e.from_status ? promo::to_string(*e.from_status) : "-", promo::to_string(e.to_status),
                               e.reason ? ": " + *e.reason : std::string());
    }
  });
}

void campaign_commands(CLI::App& app, Context& ctx) {
  auto* c = app.add_subcommand("campaign", "create, approve and steer campaigns");
  c->require_subcommand(1);
  campaign_create_command(c, ctx);
  campaign_approve_command(c, ctx);
  for (const auto action : {promo::CampaignAction::pause, promo::CampaignAction::resume, promo::CampaignAction::end}) {
    campaign_steer_command(c, ctx, action);
  }
  campaign_list_command(c, ctx);
  campaign_show_command(c, ctx);
}

// --------------------------------------------------------------------------------------------- day
json policy_json(const ledger::PostingPolicy& p) {
  return json{{"future_tolerance", ledger::format_tolerance(p.future_tolerance)},
              {"future_tolerance_seconds", p.future_tolerance.count()},
              {"reason", p.reason},
              {"changed_at", p.changed_at_utc},
              {"changed_by", p.changed_by}};
}

// The posting policy: how far ahead of the database clock a payment time may lie (docs/accounting.md).
void policy_commands(CLI::App& app, Context& ctx) {
  auto* policy = app.add_subcommand("policy", "the posting policy: how far ahead of the clock a payment may be dated");
  policy->require_subcommand(1);
  policy->add_subcommand("show", "the tolerance in force and every change (who, when, why)")->callback([&ctx] {
    const auto history = ledger::posting_policy_history(ctx.database());
    if (ctx.json) {
      json changes = json::array();
      for (const auto& p : history) changes.push_back(policy_json(p));
      print_json(json{{"in_force", policy_json(ledger::posting_policy(ctx.database()))}, {"history", changes}},
                 std::cout);
      return;
    }
    for (const auto& p : history) {
      std::cout << fmt::format("{}  future tolerance {:>6}  by {}: {}\n", p.changed_at_utc,
                               ledger::format_tolerance(p.future_tolerance), p.changed_by, p.reason);
    }
  });
  auto* set = policy->add_subcommand("set", "set the future tolerance (owner role; recorded with the reason)");
  static std::string tolerance_text, reason;
  set->add_option("--future-tolerance", tolerance_text, "e.g. 5m (default), 90s, 2h, 30d; at most 400d")->required();
  set->add_option("--reason", reason, "why it changes (kept in the history)")->required();
  set->callback([&ctx] {
    const auto tolerance = ledger::parse_tolerance(tolerance_text);
    if (!tolerance) bad_value("--future-tolerance", tolerance.error());
    const auto in_force = ledger::set_future_tolerance(ctx.database(), *tolerance, reason);
    if (!in_force) throw CommandError(exit_usage, "usage", in_force.error().message, in_force.error().field);
    if (ctx.json) {
      print_json(policy_json(*in_force), std::cout);
    } else {
      std::cout << fmt::format("future tolerance is now {} (set by {} at {})\n",
                               ledger::format_tolerance(in_force->future_tolerance), in_force->changed_by,
                               in_force->changed_at_utc);
    }
  });
}

void day_commands(CLI::App& app, Context& ctx) {
  auto* deal = app.add_subcommand("deal", "deal the decks of a business day (idempotent)");
  static std::string deal_date;
  deal->add_option("--date", deal_date, "business day YYYY-MM-DD (Asia/Shanghai)")->required();
  deal->callback([&ctx] {
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
  static std::string close_date;
  close->add_option("--date", close_date, "business day YYYY-MM-DD")->required();
  close->callback([&ctx] {
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

// ----------------------------------------------------------------------------------------- payments
// The request from its six fields as typed (promo::payment_request_from, the API's reader too, with the
// command's policy: a time without an offset is Asia/Shanghai, and no time is now). `where` prefixes
// each message ("payments.csv:3: ").
promo::PaymentRequest request_from(const promo::PaymentFields& fields, const std::string& where) {
  auto request = promo::payment_request_from(fields, promo::command_payment_input);
  if (!request) throw CommandError(exit_usage, "usage", where + request.error().message, request.error().field);
  // A time without an offset is read in the business zone; say so rather than guess silently.
  if (!fields.paid_at.empty() && !ledger::has_utc_offset(fields.paid_at)) {
    std::cerr << fmt::format("{}note: time \"{}\" has no offset: read as Asia/Shanghai (UTC+08:00)\n", where,
                             fields.paid_at);
  }
  return std::move(request).value();
}

void print_payment(const Context& ctx, const promo::PaymentResult& r) {
  if (ctx.json) {
    print_json(promo::views::payment(r), std::cout);
    return;
  }
  std::cout << fmt::format("payment {} {} as entry {} (business day {})\n", r.payment_id,
                           r.status == promo::PaymentResult::Status::posted ? "posted" : "already posted (replay)",
                           r.entry_id, r.business_day);
  if (r.discounted) {
    std::cout << fmt::format("  payer screen:    amount {}  discount -{}  pays {}\n", r.amount.str(),
                             r.payer_discount.str(), r.payer_pays().str());
    std::cout << fmt::format("  merchant screen: amount {}  reward +{}  receives {}\n", r.amount.str(),
                             r.merchant_reward.str(), r.merchant_receives().str());
    std::cout << fmt::format("  subsidy {} from campaign {}, deck {}, card {}\n", r.discount.str(), *r.campaign_id,
                             *r.deck_id, *r.card_position);
  } else {
    std::cout << fmt::format("  no discount ({}): payer pays {}, merchant receives {}\n",
                             r.reason ? promo::to_string(*r.reason) : "-",
                             r.payer_pays().str(), r.merchant_receives().str());
  }
}

// pay --csv FILE: each line posted on its own (a bad line is reported by number and not posted; the
// others are), a progress bar on a terminal, a summary; exit 1 if any line was refused.
void pay_csv(Context& ctx, const std::string& csv_file) {
  const std::string text = read_file(csv_file);
  auto rows = parse_csv(text, csv_file, 6);
  if (!rows) usage_error(rows.error().message);
  const std::vector<std::string> header{"payment_id", "payer", "merchant", "channel", "amount", "at"};
  if (rows->empty() || rows->front().fields != header) {
    usage_error(fmt::format("{}:1: the header must be payment_id,payer,merchant,channel,amount,at", csv_file));
  }
  promo::PaymentPoster poster(ctx.database());
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  std::size_t posted = 0, replayed = 0, discounted = 0, bad = 0;
  ledger::WideFen subsidy_fen = 0;
  json failures = json::array();
  const std::size_t total = rows->size() - 1;
  for (std::size_t i = 1; i < rows->size(); ++i) {
    const auto& r = (*rows)[i];
    const std::string where = fmt::format("{}:{}: ", csv_file, r.line);
    try {
      const auto& f = r.fields;
      auto req = request_from(promo::PaymentFields{f[0], f[1], f[2], f[3], f[4], f[5]}, where);
      auto result = poster.post(req);
      if (!result) {
        ++bad;
        failures.push_back(json{{"line", r.line},
                                {"error", promo::to_string(result.error().code)},
                                {"field", result.error().field},
                                {"message", result.error().message}});
        std::cerr << where << describe(result.error()) << '\n';
      } else {
        (result->status == promo::PaymentResult::Status::posted ? posted : replayed)++;
        if (result->discounted && result->status == promo::PaymentResult::Status::posted) {
          ++discounted;
          subsidy_fen += result->discount.fen();
        }
      }
    } catch (const CommandError& e) {
      ++bad;
      failures.push_back(json{{"line", r.line}, {"error", "invalid_input"}, {"message", e.what()}});
      std::cerr << e.what() << '\n';
    }
    if (tty && (i % 100 == 0 || i == total)) {
      std::cerr << fmt::format("\r[{:<40}] {}/{}", std::string(40 * i / std::max<std::size_t>(total, 1), '#'), i, total)
                << (i == total ? "\n" : "") << std::flush;
    }
  }
  if (ctx.json) {
    print_json(json{{"file", csv_file}, {"lines", total}, {"posted", posted}, {"exists", replayed},
                    {"discounted", discounted}, {"subsidy", money_text(subsidy_fen)}, {"rejected", bad},
                    {"failures", failures}},
               std::cout);
  } else {
    std::cout << fmt::format("{}: {} line(s): {} posted ({} discounted, subsidy {}), {} replayed, {} rejected\n",
                             csv_file, total, posted, discounted, money_text(subsidy_fen), replayed, bad);
  }
  if (bad > 0) ctx.exit_code = exit_rejected;
}

// pay: one payment from the options, or a CSV file (pay_csv).
void pay_command(CLI::App& app, Context& ctx) {
  auto* pay = app.add_subcommand("pay", "post one scan payment, or many from a CSV file");
  static std::string id, payer, merchant, channel, amount, at, csv_file;
  pay->add_option("--payment-id", id, "unique payment id (replays are answered with the first result)");
  pay->add_option("--payer", payer, "payer code");
  pay->add_option("--merchant", merchant, "merchant code");
  pay->add_option("--channel", channel, "bank_app | wechat | alipay");
  pay->add_option("--amount", amount, "amount in CNY, e.g. 100.00");
  pay->add_option("--at", at,
                  "payment time with its offset, e.g. 2026-11-24T12:30:00+08:00 (without one: Asia/Shanghai; default: now)");
  pay->add_option("--csv", csv_file, "CSV file: payment_id,payer,merchant,channel,amount,at");
  pay->callback([&ctx] {
    if (!csv_file.empty()) {
      if (!id.empty() || !payer.empty() || !merchant.empty()) usage_error("--csv excludes --payment-id/--payer/--merchant");
      pay_csv(ctx, csv_file);
      return;
    }
    for (const auto& [flag, value] : std::vector<std::pair<const char*, std::string*>>{
             {"--payment-id", &id}, {"--payer", &payer}, {"--merchant", &merchant}, {"--channel", &channel},
             {"--amount", &amount}}) {
      if (value->empty()) usage_error(fmt::format("pay: {} is required (or use --csv FILE)", flag));
    }
    auto req = request_from(promo::PaymentFields{id, payer, merchant, channel, amount, at}, "");
    promo::PaymentPoster poster(ctx.database());
    auto result = poster.post(req);
    if (!result) refused(result.error());
    print_payment(ctx, *result);
  });
}

// reverse PAYMENT_ID [--date D]: the reversing entry, into the open day.
void reverse_command(CLI::App& app, Context& ctx) {
  auto* reverse = app.add_subcommand("reverse", "reverse a payment as a whole (the card stays used)");
  static std::string reverse_id, reverse_id_flag, reverse_date;
  reverse->add_option("PAYMENT_ID", reverse_id, "the payment to reverse");
  reverse->add_option("--payment-id", reverse_id_flag, "the payment to reverse (the same as PAYMENT_ID)");
  reverse->add_option("--date", reverse_date, "business day of the reversal (default: today)");
  reverse->callback([&ctx] {
    reverse_id = one_payment_id(reverse_id, reverse_id_flag, "reverse");
    std::optional<date::year_month_day> day;
    if (!reverse_date.empty()) day = day_arg(reverse_date, "--date");
    promo::PaymentPoster poster(ctx.database());
    auto result = poster.reverse(reverse_id, day);
    if (!result) refused(result.error());
    const std::string status = result->status == promo::ReversalResult::Status::posted ? "posted" : "exists";
    if (ctx.json) {
      print_json(promo::views::reversal(reverse_id, *result), std::cout);
    } else {
      std::cout << fmt::format("payment {} reversed by entry {}{}\n", reverse_id, result->entry_id,
                               status == "exists" ? " (already reversed earlier)" : "");
    }
  });
}

void payment_commands(CLI::App& app, Context& ctx) {
  pay_command(app, ctx);
  reverse_command(app, ctx);
}

}  // namespace

void register_db_commands(CLI::App& app, Context& ctx) { db_commands(app, ctx); }
void register_org_commands(CLI::App& app, Context& ctx) { org_commands(app, ctx); }
void register_campaign_commands(CLI::App& app, Context& ctx) { campaign_commands(app, ctx); }
void register_day_commands(CLI::App& app, Context& ctx) { day_commands(app, ctx); }
void register_payment_commands(CLI::App& app, Context& ctx) { payment_commands(app, ctx); }

}  // namespace promoledger::app
