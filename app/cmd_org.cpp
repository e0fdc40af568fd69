// org import: the organisation and the payers' opening deposits, all or nothing (ledger/organisation.hpp).
#include <iostream>

#include <fmt/format.h>

#include "cli.hpp"
#include "csv.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/organisation.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

struct OrgImportOptions {
  std::string file;          // the CSV (required)
  std::string opening_date;  // YYYY-MM-DD of the opening deposits; empty: today
};

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
  auto options = std::make_shared<OrgImportOptions>();
  import->add_option("FILE", options->file, "CSV: kind,code,name,parent,opening_balance")->required();
  import->add_option("--date", options->opening_date, "business day of the opening deposits (default: today)");
  import->callback([&ctx, options] {
    const std::string& file = options->file;
    const auto opening_day = options->opening_date.empty() ? ledger::business_day_of(ledger::now())
                                                           : day_arg(options->opening_date, "--date");
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

}  // namespace

void register_org_commands(CLI::App& app, Context& ctx) { org_commands(app, ctx); }

}  // namespace promoledger::app
