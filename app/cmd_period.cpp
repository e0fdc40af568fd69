// promoledger period close|list|archive|restore and db maintain: the monthly routine of the journal
// (docs/operations.md, "The monthly routine"; ledger/periods.hpp).
#include <iostream>

#include <fmt/format.h>

#include "cli.hpp"
#include "promoledger/ledger/periods.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

struct PeriodOptions {
  std::string month;   // YYYY-MM
  std::string folder;  // an archive's
};

[[noreturn]] void refused(const ledger::PeriodRefusalOf& r) {
  const int exit_code = r.code == ledger::PeriodRefusal::invalid_month ? exit_usage : exit_rejected;
  throw CommandError(exit_code, std::string(ledger::to_string(r.code)), r.message);
}

date::year_month month_of(const std::string& text) {
  const auto month = ledger::parse_month(text);
  if (!month) refused(month.error());
  return *month;
}

json to_json(const ledger::Period& p) {
  return json{{"month", p.month},         {"state", p.state},         {"verified_lines", p.verified_lines},
              {"anchors", p.anchors},     {"links", p.links},         {"chain_digest", p.chain_digest},
              {"closed_at", p.closed_at}, {"closed_by", p.closed_by}};
}

json to_json(const ledger::ArchiveReport& r) {
  json files = json::array();
  for (const auto& f : r.files) {
    files.push_back(json{{"table", f.table}, {"partition", f.partition}, {"file", f.file}, {"rows", f.rows},
                         {"bytes", f.bytes}, {"sha256", f.sha256}});
  }
  return json{{"month", r.month},         {"folder", r.folder},   {"chain_digest", r.chain_digest},
              {"manifest_sha256", r.manifest_sha256}, {"dropped", r.dropped}, {"files", files}};
}

void print_archive(const Context& ctx, const ledger::ArchiveReport& r, const char* verb) {
  if (ctx.json) return print_json(to_json(r), std::cout);
  Table t{{"table", "partition", "file", "rows", "bytes", "sha256"}, {false, false, false, true, true, false}, {}};
  for (const auto& f : r.files) {
    t.rows.push_back({f.table, f.partition, f.file, std::to_string(f.rows), std::to_string(f.bytes), f.sha256});
  }
  print(ctx, t, std::cout);
  std::cout << fmt::format("\n{} {} ({}); manifest.json sha256 {}; chain digest {}\n", verb, r.month, r.folder,
                           r.manifest_sha256, r.chain_digest);
}

void close_command(CLI::App& period, Context& ctx, PeriodOptions& o) {
  auto* close = period.add_subcommand("close", "close a month whose days are all closed: verify and anchor its chains");
  close->add_option("--month", o.month, "YYYY-MM")->required();
  close->callback([&ctx, &o] {
    const auto closed = ledger::close_period(ctx.database(), month_of(o.month));
    if (!closed) refused(closed.error());
    if (ctx.json) return print_json(to_json(*closed), std::cout);
    std::cout << fmt::format("month {} closed: {} lines verified, {} accounts anchored, {} links\n"
                             "chain digest {} (keep it outside the database: archive and restore are proved against it)\n",
                             closed->month, closed->verified_lines, closed->anchors, closed->links,
                             closed->chain_digest);
  });
}

void list_command(CLI::App& period, Context& ctx) {
  period.add_subcommand("list", "the closed months, their anchors' digests and whether archived")->callback([&ctx] {
    const auto periods = ledger::list_periods(ctx.database());
    if (ctx.json) {
      json out = json::array();
      for (const auto& p : periods) out.push_back(to_json(p));
      return print_json(out, std::cout);
    }
    Table t{{"month", "state", "verified_lines", "anchors", "links", "closed_at", "closed_by", "chain_digest"},
            {false, false, true, true, true, false, false, false},
            {}};
    for (const auto& p : periods) {
      t.rows.push_back({p.month, p.state, std::to_string(p.verified_lines), std::to_string(p.anchors),
                        std::to_string(p.links), p.closed_at, p.closed_by, p.chain_digest});
    }
    print(ctx, t, std::cout);
  });
}

void archive_command(CLI::App& period, Context& ctx, PeriodOptions& o) {
  auto* archive = period.add_subcommand(
      "archive", "write a closed month's partitions to files, read them back, then drop the partitions (owner)");
  archive->add_option("--month", o.month, "YYYY-MM")->required();
  archive->add_option("--to", o.folder, "an empty folder for the files and manifest.json")->required();
  archive->callback([&ctx, &o] {
    const auto report = ledger::archive_period(ctx.database(), month_of(o.month), o.folder);
    if (!report) refused(report.error());
    print_archive(ctx, *report, "archived and dropped");
  });
}

void restore_command(CLI::App& period, Context& ctx, PeriodOptions& o) {
  auto* restore = period.add_subcommand(
      "restore", "check an archive's files against its manifest and load the month back (owner)");
  restore->add_option("--from", o.folder, "the archive's folder")->required();
  restore->callback([&ctx, &o] {
    const auto report = ledger::restore_period(ctx.database(), o.folder);
    if (!report) refused(report.error());
    print_archive(ctx, *report, "restored");
    if (!ctx.json) std::cout << fmt::format("prove it: promoledger audit verify --month {}\n", report->month);
  });
}

void maintain_command(CLI::App& app, Context& ctx) {
  CLI::App* db = app.get_subcommand("db");
  db->add_subcommand("maintain", "make the months ahead, guard new partitions, delete claims past the replay window "
                                 "(run it daily, from cron)")
      ->callback([&ctx] {
        const auto m = ledger::maintain(ctx.database());
        if (ctx.json) {
          return print_json(json{{"partitions_guarded", m.partitions_guarded},
                                 {"claims_deleted", m.claims_deleted},
                                 {"partitions_through", m.partitions_through}},
                            std::cout);
        }
        std::cout << fmt::format("partitions through {}; {} new partition(s) guarded; {} claim(s) past the replay "
                                 "window deleted\n",
                                 m.partitions_through.empty() ? "(none: not partitioned)" : m.partitions_through,
                                 m.partitions_guarded, m.claims_deleted);
      });
}

}  // namespace

void register_period_commands(CLI::App& app, Context& ctx) {
  static PeriodOptions options;
  auto* period = app.add_subcommand("period", "posting periods: close a month with chain anchors, archive, restore");
  period->require_subcommand(1);
  close_command(*period, ctx, options);
  list_command(*period, ctx);
  archive_command(*period, ctx, options);
  restore_command(*period, ctx, options);
  maintain_command(app, ctx);
}

}  // namespace promoledger::app
