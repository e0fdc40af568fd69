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
#include "promoledger/promo/campaign.hpp"
#include "promoledger/promo/dealing.hpp"
#include "promoledger/promo/payments.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

date::year_month_day day_arg(const std::string& text, const char* flag) {
  auto day = ledger::parse_day(text);
  if (!day) usage_error(fmt::format("{}: {}", flag, day.error()));
  return *day;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) usage_error(fmt::format("{}: cannot open the file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "code: words", with the code once even when the database's words already start with it.
std::string describe(const promo::Rejection& r) {
  const std::string code(promo::to_string(r.code));
  return r.detail.rfind(code + ":", 0) == 0 ? r.detail : code + ": " + r.detail;
}

[[noreturn]] void rejected(const promo::Rejection& r) {
  throw CommandError(exit_rejected, std::string(promo::to_string(r.code)), describe(r));
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
void org_commands(CLI::App& app, Context& ctx) {
  auto* org = app.add_subcommand("org", "the organisation: branches, sub-branches, outlets, merchants, payers");
  org->require_subcommand(1);
  auto* import = org->add_subcommand("import", "import an organisation CSV, all or nothing");
  static std::string file, opening_date;
  import->add_option("FILE", file, "CSV: kind,code,name,parent,opening_balance")->required();
  import->add_option("--date", opening_date, "business day of the opening deposits (default: today)");
  import->callback([&ctx] {
    const auto opening_day = opening_date.empty() ? ledger::business_day_of(ledger::now()) : day_arg(opening_date, "--date");
    const std::string text = read_file(file);
    auto rows = parse_csv(text, file, 5);
    if (!rows) usage_error(rows.error());
    struct Row {
      std::size_t line;
      std::vector<std::string> f;
    };
    const std::vector<std::string> header{"kind", "code", "name", "parent", "opening_balance"};
    if (rows->empty() || rows->front().fields != header) {
      usage_error(fmt::format("{}:1: the header must be kind,code,name,parent,opening_balance", file));
    }
    // Validate every line before writing anything.
    std::vector<std::pair<std::size_t, std::vector<std::string>>> lines;
    std::vector<std::pair<std::string, ledger::Money>> openings;
    for (std::size_t i = 1; i < rows->size(); ++i) {
      const auto& r = (*rows)[i];
      const auto& f = r.fields;
      const auto where = [&](const char* field) { return fmt::format("{}:{}: field {}", file, r.line, field); };
      static const std::set<std::string> kinds{"branch", "sub_branch", "outlet", "merchant", "payer"};
      if (!kinds.contains(f[0])) {
        usage_error(fmt::format("{}: \"{}\" is not branch, sub_branch, outlet, merchant or payer", where("kind"), f[0]));
      }
      if (f[1].empty()) usage_error(fmt::format("{}: is empty", where("code")));
      if (f[2].empty()) usage_error(fmt::format("{}: is empty", where("name")));
      if (f[0] != "branch" && f[0] != "payer" && f[3].empty()) {
        usage_error(fmt::format("{}: a {} needs a parent", where("parent"), f[0]));
      }
      if (!f[4].empty()) {
        if (f[0] != "payer") usage_error(fmt::format("{}: only payers have an opening balance", where("opening_balance")));
        auto amount = ledger::Money::parse(f[4]);
        if (!amount) usage_error(fmt::format("{}: {}", where("opening_balance"), amount.error()));
        if (!amount->is_positive()) usage_error(fmt::format("{}: must be > 0", where("opening_balance")));
        openings.emplace_back(f[1], *amount);
      }
      lines.emplace_back(r.line, f);
    }
    auto lease = ctx.database().lease();
    soci::session& s = *lease;
    std::size_t line_no = 0;
    std::string field;
    try {
      soci::transaction tx(s);
      long long id = 0;
      for (const auto& [line, f] : lines) {
        line_no = line;
        if (f[0] == "merchant") {
          s << "SELECT ledger.add_merchant(:c, :n, :p)", soci::use(f[1]), soci::use(f[2]), soci::use(f[3]), soci::into(id);
        } else if (f[0] == "payer") {
          s << "SELECT ledger.add_payer(:c, :n)", soci::use(f[1]), soci::use(f[2]), soci::into(id);
        } else {
          s << "SELECT ledger.add_org_unit(:c, :k, :n, NULLIF(:p, ''))", soci::use(f[1]), soci::use(f[0]),
              soci::use(f[2]), soci::use(f[3]), soci::into(id);
        }
      }
      line_no = 0;
      if (!openings.empty()) {
        // Opening deposits, one entry per payer (Dr bank funding, Cr the payer's deposit), referenced by
        // the payer: importing the same file again replays them; a changed amount is refused.
        s << "SELECT ledger.open_account('bank:funding', 'bank funding of payer deposits', 'asset', NULL, NULL)",
            soci::into(id);
        const std::string day = ledger::format_day(opening_day);
        for (const auto& [payer, amount] : openings) {
          const std::string ref = "opening:payer:" + payer;
          const std::string codes = "{bank:funding,payer:" + payer + ":deposit}";
          const std::string amounts = fmt::format("{{{0},{0}}}", amount.fen());
          // Already opened (by an earlier import, maybe on another day): same amount is fine, another is not.
          long long existing_fen = 0;
          soci::indicator existing_ind = soci::i_null;
          s << "SELECT l.amount_fen FROM ledger.journal_entry e JOIN ledger.journal_line l ON l.entry_id = e.id "
               "AND l.side = 'C' WHERE e.external_ref = :r",
              soci::use(ref), soci::into(existing_fen, existing_ind);
          if (s.got_data() && existing_ind != soci::i_null) {
            if (existing_fen != amount.fen()) {
              throw CommandError(exit_usage, "exists_with_different_content",
                                 fmt::format("{}: payer {} was opened with {}, the file says {} (nothing was imported)",
                                             file, payer, ledger::format_fen(existing_fen), amount.str()));
            }
            continue;
          }
          std::string status, detail;
          s << "SELECT status, coalesce(detail, '') FROM ledger.post_entry(:r, 'opening', CAST(:d AS date), "
               "'opening deposit from org import', CAST(:c AS text[]), '{D,C}', CAST(:a AS bigint[]))",
              soci::use(ref), soci::use(day), soci::use(codes), soci::use(amounts), soci::into(status),
              soci::into(detail);
          if (status != "posted" && status != "exists") {
            throw CommandError(exit_usage, status,
                               fmt::format("{}: opening deposit of payer {}: {} (nothing was imported)", file, payer, detail));
          }
        }
      }
      tx.commit();
    } catch (const CommandError&) {
      throw;
    } catch (...) {
      try {
        ledger::rethrow_as_database_error("importing");
      } catch (const ledger::DatabaseError& e) {
        const std::string where = line_no ? fmt::format("{}:{}", file, line_no) : file;
        // Constraint violations are problems of the input: say which line, write nothing.
        const std::string& st = e.sqlstate();
        if (st.rfind("23", 0) == 0 || st == "PL005" || st == "22001") {
          throw CommandError(exit_usage, "invalid_input", fmt::format("{}: {} (nothing was imported)", where, e.what()));
        }
        throw;
      }
    }
    std::size_t counts[5] = {0, 0, 0, 0, 0};
    for (const auto& [line, f] : lines) {
      static const std::vector<std::string> order{"branch", "sub_branch", "outlet", "merchant", "payer"};
      counts[std::find(order.begin(), order.end(), f[0]) - order.begin()]++;
    }
    if (ctx.json) {
      print_json(json{{"file", file}, {"branches", counts[0]}, {"sub_branches", counts[1]}, {"outlets", counts[2]},
                      {"merchants", counts[3]}, {"payers", counts[4]}, {"opening_deposits", openings.size()}},
                 std::cout);
    } else {
      std::cout << fmt::format("imported {}: {} branch(es), {} sub-branch(es), {} outlet(s), {} merchant(s), {} payer(s)\n",
                               file, counts[0], counts[1], counts[2], counts[3], counts[4]);
    }
  });
}

// ---------------------------------------------------------------------------------------- campaign
void campaign_commands(CLI::App& app, Context& ctx) {
  auto* c = app.add_subcommand("campaign", "create, approve and steer campaigns");
  c->require_subcommand(1);

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
      for (const auto& e : params.error()) all += "\n  " + e;
      usage_error(fmt::format("{}: {} problem(s):{}", file, params.error().size(), all));
    }
    if (auto errors = promo::validate(*params); !errors.empty()) {
      std::string all;
      for (const auto& e : errors) all += "\n  " + e;
      throw CommandError(exit_usage, "invalid_parameters", fmt::format("{}: infeasible campaign:{}", file, all));
    }
    promo::Campaigns campaigns(ctx.database());
    auto id = campaigns.create(*params, document, by);
    if (!id) rejected(id.error());
    if (ctx.json) {
      print_json(json{{"id", *id}, {"status", "draft"}}, std::cout);
    } else {
      std::cout << fmt::format("campaign {} created as draft by {}; it needs approval by someone else\n", *id, by);
    }
  });

  auto* approve = c->add_subcommand("approve", "approve a draft (maker-checker: not by its creator)");
  static long long approve_id = 0;
  static std::string approver;
  approve->add_option("ID", approve_id, "campaign id")->required();
  approve->add_option("--by", approver, "who approves it (the checker)")->required();
  approve->callback([&ctx] {
    promo::Campaigns campaigns(ctx.database());
    auto status = campaigns.approve(approve_id, approver);
    if (!status) rejected(status.error());
    if (ctx.json) {
      print_json(json{{"id", approve_id}, {"status", *status}, {"approved_by", approver}}, std::cout);
    } else {
      std::cout << fmt::format("campaign {} approved by {}\n", approve_id, approver);
    }
  });

  for (const char* action : {"pause", "resume", "end"}) {
    auto* sub = c->add_subcommand(action, fmt::format("{} a campaign", action));
    auto id = std::make_shared<long long>(0);
    auto actor = std::make_shared<std::string>();
    sub->add_option("ID", *id, "campaign id")->required();
    sub->add_option("--by", *actor, "who does it (default: $PROMOLEDGER_USER or $USER)");
    sub->callback([&ctx, id, actor, action = std::string(action)] {
      if (actor->empty()) *actor = default_actor();
      promo::Campaigns campaigns(ctx.database());
      auto status = campaigns.transition(*id, action, *actor);
      if (!status) rejected(status.error());
      if (ctx.json) {
        print_json(json{{"id", *id}, {"status", *status}}, std::cout);
      } else {
        std::cout << fmt::format("campaign {} is now {}\n", *id, *status);
      }
    });
  }

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
      t.rows.push_back({std::to_string(s.id), s.name, s.status, s.first_day, s.last_day, std::to_string(s.merchants),
                        s.created_by, s.approved_by.value_or(""), money_text(s.budget_total_fen),
                        money_text(s.budget_reserved_fen), money_text(s.budget_spent_fen)});
    }
    print(ctx, t, std::cout);
  });

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
    std::cout << fmt::format("campaign {}: {} [{}]\n", view->summary.id, view->summary.name, view->summary.status);
    std::cout << fmt::format("  days {} .. {}, created by {}, approved by {}\n", view->summary.first_day,
                             view->summary.last_day, view->summary.created_by, view->summary.approved_by.value_or("-"));
    std::cout << fmt::format("  budget {} (reserved {}, spent {})\n", money_text(view->summary.budget_total_fen),
                             money_text(view->summary.budget_reserved_fen), money_text(view->summary.budget_spent_fen));
    std::cout << "  parameters: " << p.dump() << '\n';
    std::cout << "  merchants (" << view->merchants.size() << "):";
    for (const auto& m : view->merchants) std::cout << ' ' << m;
    std::cout << "\n  lifecycle:\n";
    for (const auto& e : view->events) {
      std::cout << fmt::format("    {} UTC  {:<8} by {}  ({} -> {})\n", e.at_utc, e.action, e.actor,
                               e.from_status.empty() ? "-" : e.from_status, e.to_status);
    }
  });
}

// --------------------------------------------------------------------------------------------- day
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
}

// ----------------------------------------------------------------------------------------- payments
promo::PaymentRequest request_from(const std::string& id, const std::string& payer, const std::string& merchant,
                                   const std::string& channel, const std::string& amount, const std::string& at,
                                   const std::string& where) {
  promo::PaymentRequest req;
  req.payment_id = id;
  req.payer = payer;
  req.merchant = merchant;
  auto ch = promo::channel_from_string(channel);
  if (!ch) usage_error(fmt::format("{}channel: \"{}\" is not bank_app, wechat or alipay", where, channel));
  req.channel = *ch;
  auto money = ledger::Money::parse(amount);
  if (!money) usage_error(fmt::format("{}amount: {}", where, money.error()));
  if (!money->is_positive()) usage_error(fmt::format("{}amount: {} must be > 0", where, amount));
  req.amount = *money;
  if (at.empty()) {
    req.paid_at = ledger::now();
  } else {
    auto ts = ledger::parse_timestamp(at);
    if (!ts) usage_error(fmt::format("{}at: {}", where, ts.error()));
    // A time without an offset is read in the business zone; say so rather than guess silently.
    if (!ledger::has_utc_offset(at)) {
      std::cerr << fmt::format("{}note: time \"{}\" has no offset: read as Asia/Shanghai (UTC+08:00)\n", where, at);
    }
    req.paid_at = *ts;
  }
  if (id.empty()) usage_error(fmt::format("{}payment id is empty", where));
  return req;
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
    std::cout << fmt::format("  no discount ({}): payer pays {}, merchant receives {}\n", r.reason.value_or("-"),
                             r.payer_pays().str(), r.merchant_receives().str());
  }
}

void payment_commands(CLI::App& app, Context& ctx) {
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
      const std::string text = read_file(csv_file);
      auto rows = parse_csv(text, csv_file, 6);
      if (!rows) usage_error(rows.error());
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
          auto req = request_from(f[0], f[1], f[2], f[3], f[4], f[5], where);
          auto result = poster.post(req);
          if (!result) {
            ++bad;
            failures.push_back(json{{"line", r.line}, {"error", promo::to_string(result.error().code)},
                                    {"message", result.error().detail}});
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
      return;
    }
    for (const auto& [flag, value] : std::vector<std::pair<const char*, std::string*>>{
             {"--payment-id", &id}, {"--payer", &payer}, {"--merchant", &merchant}, {"--channel", &channel},
             {"--amount", &amount}}) {
      if (value->empty()) usage_error(fmt::format("pay: {} is required (or use --csv FILE)", flag));
    }
    auto req = request_from(id, payer, merchant, channel, amount, at, "");
    promo::PaymentPoster poster(ctx.database());
    auto result = poster.post(req);
    if (!result) rejected(result.error());
    print_payment(ctx, *result);
  });

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
    if (!result) rejected(result.error());
    const std::string status = result->status == promo::ReversalResult::Status::posted ? "posted" : "exists";
    if (ctx.json) {
      print_json(promo::views::reversal(reverse_id, *result), std::cout);
    } else {
      std::cout << fmt::format("payment {} reversed by entry {}{}\n", reverse_id, result->entry_id,
                               status == "exists" ? " (already reversed earlier)" : "");
    }
  });
}

}  // namespace

void register_db_commands(CLI::App& app, Context& ctx) { db_commands(app, ctx); }
void register_org_commands(CLI::App& app, Context& ctx) { org_commands(app, ctx); }
void register_campaign_commands(CLI::App& app, Context& ctx) { campaign_commands(app, ctx); }
void register_day_commands(CLI::App& app, Context& ctx) { day_commands(app, ctx); }
void register_payment_commands(CLI::App& app, Context& ctx) { payment_commands(app, ctx); }

}  // namespace promoledger::app
