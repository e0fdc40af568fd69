// campaign create | approve | pause | resume | end | list | show: parse the options, one call of
// promo::Campaigns, render through promo::views (promo/campaign.hpp).
#include <iostream>

#include <fmt/format.h>

#include "cli.hpp"
#include "promoledger/ledger/reason.hpp"
#include "promoledger/promo/campaign.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

struct CreateOptions {
  std::string file;  // the campaign document (required)
  std::string by;    // the maker; empty: default_actor()
};

struct ApproveOptions {
  long long id = 0;      // required
  std::string approver;  // the checker (required)
};

struct SteerOptions {
  long long id = 0;    // required
  std::string actor;   // empty: default_actor()
  std::string reason;  // empty: none given
};

// campaign create --file DOC: parse, validate as the API does, one call, render.
void campaign_create_command(CLI::App* c, Context& ctx) {
  auto* create = c->add_subcommand("create", "create a draft campaign from a JSON document");
  auto options = std::make_shared<CreateOptions>();
  create->add_option("--file", options->file, "campaign JSON (see examples/pilot-campaign.json)")->required();
  create->add_option("--by", options->by, "who creates it, the maker (default: $PROMOLEDGER_USER or $USER)");
  create->callback([&ctx, options] {
    const std::string& file = options->file;
    const std::string by = options->by.empty() ? default_actor() : options->by;
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
  auto options = std::make_shared<ApproveOptions>();
  approve->add_option("ID", options->id, "campaign id")->required();
  approve->add_option("--by", options->approver, "who approves it (the checker)")->required();
  approve->callback([&ctx, options] {
    const long long approve_id = options->id;
    const std::string& approver = options->approver;
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
  auto options = std::make_shared<SteerOptions>();
  sub->add_option("ID", options->id, "campaign id")->required();
  sub->add_option("--by", options->actor, "who does it (default: $PROMOLEDGER_USER or $USER)");
  sub->add_option("--reason", options->reason,
                  fmt::format("why (kept with the lifecycle event; at most {} bytes)", ledger::reason_bytes_max));
  sub->callback([&ctx, options, action] {
    const std::string actor = options->actor.empty() ? default_actor() : options->actor;
    promo::Campaigns campaigns(ctx.database());
    auto status = campaigns.transition(options->id, action, actor, options->reason);
    if (!status) refused(status.error());
    if (ctx.json) {
      print_json(json{{"id", options->id}, {"status", promo::to_string(*status)}}, std::cout);
    } else {
      std::cout << fmt::format("campaign {} is now {}\n", options->id, promo::to_string(*status));
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
  auto show_id = std::make_shared<long long>(0);
  show->add_option("ID", *show_id, "campaign id")->required();
  show->callback([&ctx, show_id] {
    promo::Campaigns campaigns(ctx.database());
    auto view = campaigns.show(*show_id);
    if (!view) throw CommandError(exit_rejected, "unknown_campaign", fmt::format("no campaign {}", *show_id), "campaign_id");
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

}  // namespace

void register_campaign_commands(CLI::App& app, Context& ctx) { campaign_commands(app, ctx); }

}  // namespace promoledger::app
