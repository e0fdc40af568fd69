// The end of the day (docs/integration.md): the GL journal (`gl ...`), merchant statements
// (`statement merchant`) and reconciliation with the clearing side (`reconcile`). Each command parses
// its options, makes one library call (eod/) and renders the result through eod::views (the same
// JSON the HTTP service answers with). Refusals print the one refusal shape with --json
// ({"error", "field", "message"}) and end with exit 1 (a business refusal), 2 (a malformed input: flag,
// file) or 3 (the closed day changed under a recorded extract).
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "cli.hpp"
#include "promoledger/eod/gl.hpp"
#include "promoledger/eod/reconcile.hpp"
#include "promoledger/eod/statement.hpp"
#include "promoledger/eod/views.hpp"
#include "promoledger/ledger/business_day.hpp"

namespace promoledger::app {
namespace {

using eod::Code;
using nlohmann::json;

int exit_code_of(Code code) {
  switch (code) {
    case Code::invalid_day:
    case Code::invalid_mapping:
    case Code::invalid_ack:
    case Code::invalid_format:
    case Code::unknown_profile:
    case Code::file_too_large:
    case Code::wrong_encoding:
    case Code::missing_column:
    case Code::invalid_amount:
    case Code::invalid_value:
    case Code::truncated_file:
    case Code::duplicate_id:
    case Code::wrong_day:
      return exit_usage;
    case Code::extract_differs:
      return exit_failure;
    default:
      return exit_rejected;
  }
}

// Prints the refusal in the one shape and ends the command with its exit code.
void refused(Context& ctx, const eod::EodRefusal& r) {
  if (ctx.json) {
    print_json(eod::views::to_json(r), std::cout);
    std::cerr << "promoledger: " << r.message << '\n';
    ctx.exit_code = exit_code_of(r.code);
    return;
  }
  throw CommandError(exit_code_of(r.code), std::string(eod::to_string(r.code)), r.message);
}

date::year_month_day day_of(const std::string& text) {
  auto day = ledger::parse_day(text);
  if (!day) usage_error("--date: " + day.error().message);
  return *day;
}

std::string read_file(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  std::ifstream in(path, std::ios::binary);
  if (!in) usage_error(fmt::format("cannot read {}", path));
  in.seekg(0, std::ios::end);
  const auto size = in.tellg();
  if (size > static_cast<std::streamoff>(eod::clearing_file_bytes_max)) {
    usage_error(fmt::format("{} has {} bytes; at most {}", path, static_cast<long long>(size), eod::clearing_file_bytes_max));
  }
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  if (!in) usage_error(fmt::format("cannot read {}", path));
  return bytes;
}

// ---------------------------------------------------------------------------------------------- gl
void gl_map_commands(CLI::App& gl, Context& ctx) {
  auto* map = gl.add_subcommand("map", "the GL mapping: which GL account and org unit book each class of account");
  map->require_subcommand(1);
  auto* show = map->add_subcommand("show", "the mapping in force (--history: every change, oldest first)");
  static bool history = false;
  show->add_flag("--history", history, "every change with who, when and why");
  show->callback([&ctx] {
    const auto rows = history ? eod::mapping_history(ctx.database()) : eod::mapping_in_force(ctx.database());
    if (ctx.json) {
      json list = json::array();
      for (const auto& r : rows) list.push_back(eod::views::to_json(r));
      return print_json(list, std::cout);
    }
    print(ctx, eod::views::mapping_table(rows), std::cout);
  });
  auto* set = map->add_subcommand("set", "map a class of accounts (or one account) to a GL account and booking unit");
  static std::string cls, account, gl_code, org, reason;
  static bool campaign_gl = false;
  set->add_option("--class", cls, "payer_deposit | merchant_settlement | outlet_subsidy | bank_funding | inter_unit | account")
      ->required();
  set->add_option("--account", account, "the account's code (class account only)");
  set->add_option("--gl", gl_code, "the GL account (科目号), 1..16 of 0-9 A-Z a-z");
  set->add_flag("--campaign-gl", campaign_gl, "outlet_subsidy: the campaign's own GL code (from the account's code)");
  set->add_option("--org", org, "the org unit that books (booking fixed); without it, the account's own unit");
  set->add_option("--reason", reason, "why the mapping changes (kept with the change)")->required();
  set->callback([&ctx] {
    const auto c = eod::account_class_from_string(cls);
    if (!c) usage_error(fmt::format("--class: \"{}\" is not a class (payer_deposit, merchant_settlement, outlet_subsidy, "
                                    "bank_funding, inter_unit, account)", cls));
    if (campaign_gl == !gl_code.empty()) usage_error("give exactly one of --gl CODE and --campaign-gl");
    eod::MappingChange change;
    change.account_class = *c;
    change.account_code = account;
    if (!campaign_gl) change.gl_account = gl_code;
    change.booking = org.empty() ? eod::Booking::account_unit : eod::Booking::fixed;
    change.org_code = org;
    change.reason = reason;
    const auto row = eod::set_mapping(ctx.database(), change);
    if (!row) return refused(ctx, row.error());
    if (ctx.json) return print_json(eod::views::to_json(*row), std::cout);
    print(ctx, eod::views::mapping_table({*row}), std::cout);
  });
}

void gl_commands(CLI::App& app, Context& ctx) {
  auto* gl = app.add_subcommand("gl", "the end-of-day GL journal for the core general ledger");
  gl->require_subcommand(1);
  gl_map_commands(*gl, ctx);

  auto* extract = gl->add_subcommand("extract", "write a closed day's GL files, one per branch");
  static std::string extract_date, branch, out_dir = ".";
  extract->add_option("--date", extract_date, "the closed business day YYYY-MM-DD")->required();
  extract->add_option("--branch", branch, "only this branch");
  extract->add_option("--out", out_dir, "the directory to write the files into (default: .)");
  extract->callback([&ctx] {
    const auto day = day_of(extract_date);
    const auto result = eod::extract_day(ctx.database(), day, branch.empty() ? std::nullopt : std::optional(branch));
    if (!result) return refused(ctx, result.error());
    const auto paths = eod::write_files(*result, out_dir);
    if (ctx.json) {
      json body = eod::views::to_json(*result);
      for (std::size_t i = 0; i < paths.size(); ++i) body["files"][i]["path"] = paths[i];
      return print_json(body, std::cout);
    }
    print(ctx, eod::views::extract_table(*result, paths), std::cout);
  });

  auto* lines = gl->add_subcommand("lines", "the journal lines behind one D record of a batch");
  static std::string batch;
  static int line_no = 0;
  static std::size_t limit = 1000;
  lines->add_option("--batch", batch, "the batch id (PROMO-yyyymmdd-BRANCH-seq)")->required();
  lines->add_option("--line", line_no, "the D record's line_no")->required();
  lines->add_option("--limit", limit, "at most this many lines")->check(CLI::Range(std::size_t{1}, eod::drill_lines_max));
  lines->callback([&ctx] {
    const auto drill = eod::drill_down(ctx.database(), batch, line_no, limit);
    if (!drill) return refused(ctx, drill.error());
    if (ctx.json) return print_json(eod::views::to_json(*drill), std::cout);
    print(ctx, eod::views::drill_table(*drill), std::cout);
    if (drill->more) {
      std::cerr << fmt::format("promoledger: gl lines: only the first {} lines; more follow (raise --limit, at most {})\n",
                               drill->lines.size(), eod::drill_lines_max);
    }
  });

  auto* ack = gl->add_subcommand("ack", "record the GL's answers (batch_id,status,reason) per batch");
  static std::string ack_file;
  ack->add_option("FILE", ack_file, "the GL's answer file (CSV; - for stdin)")->required();
  ack->callback([&ctx] {
    const std::string bytes = read_file(ack_file);
    const auto outcomes = eod::acknowledge(ctx.database(), bytes);
    if (!outcomes) return refused(ctx, outcomes.error());
    print(ctx, eod::views::ack_table(*outcomes), std::cout);
  });

  auto* status = gl->add_subcommand("status", "a day's batches: extracted, accepted or rejected");
  static std::string status_date;
  status->add_option("--date", status_date, "business day YYYY-MM-DD")->required();
  status->callback([&ctx] {
    const auto batches = eod::batches_of_day(ctx.database(), day_of(status_date));
    if (ctx.json) {
      json list = json::array();
      for (const auto& b : batches) list.push_back(eod::views::to_json(b));
      return print_json(list, std::cout);
    }
    print(ctx, eod::views::batch_table(batches), std::cout);
  });
}

// --------------------------------------------------------------------------------------- statement
void statement_commands(CLI::App& app, Context& ctx) {
  auto* statement = app.add_subcommand("statement", "statements for merchants (ISO 20022 camt.053)");
  statement->require_subcommand(1);
  auto* merchant = statement->add_subcommand("merchant", "one merchant's statement of a closed day");
  static std::string code, date_text, format = "camt053", out;
  static int camt_version = 2;
  merchant->add_option("MERCHANT", code, "the merchant's code")->required();
  merchant->add_option("--date", date_text, "the closed business day YYYY-MM-DD")->required();
  merchant->add_option("--format", format, "camt053 (default) or csv")->check(CLI::IsMember({"camt053", "csv"}));
  merchant->add_option("--camt-version", camt_version, "2 (camt.053.001.02, default) or 12 (camt.053.001.12)")
      ->check(CLI::IsMember({2, 12}));
  merchant->add_option("--out", out, "write to this file instead of stdout");
  merchant->callback([&ctx] {
    const auto st = eod::merchant_statement(ctx.database(), code, day_of(date_text));
    if (!st) return refused(ctx, st.error());
    // --json gives the figures; the document itself is XML or CSV.
    if (ctx.json && out.empty()) return print_json(eod::views::to_json(*st), std::cout);
    const std::string text = format == "csv" ? eod::to_csv(*st)
                                             : eod::to_camt053(*st, camt_version == 12 ? eod::CamtVersion::v12
                                                                                       : eod::CamtVersion::v02);
    if (out.empty()) {
      std::cout << text;
      return;
    }
    std::ofstream file(out, std::ios::binary | std::ios::trunc);
    file << text;
    file.close();
    if (!file) throw CommandError(exit_failure, "io", fmt::format("cannot write {}", out));
    if (ctx.json) print_json(eod::views::to_json(*st), std::cout);
  });
}

// --------------------------------------------------------------------------------------- reconcile
void print_run_text(const eod::ReconRun& r) {
  std::cout << fmt::format("reconciliation {} ({}) of {} with {} (sha256 {}){}\n", r.id, eod::to_string(r.profile),
                           r.business_day, r.file_name, r.file_sha256.substr(0, 16),
                           r.stored_before ? ": this file was reconciled before; the stored run" : "");
  std::cout << fmt::format("  clearing  {} payments {}, {} refunds {}\n", r.clearing_payments,
                           ledger::format_fen(r.clearing_payments_fen), r.clearing_refunds,
                           ledger::format_fen(r.clearing_refunds_fen));
  const auto opt = [](const std::optional<ledger::WideFen>& v) { return v ? ledger::format_fen(*v) : std::string("-"); };
  std::cout << fmt::format("  summary   {} rows, payments {}, refunds {} (the file's own summary line)\n",
                           r.summary.rows ? std::to_string(*r.summary.rows) : "-", opt(r.summary.payments_fen),
                           opt(r.summary.refunds_fen));
  std::cout << fmt::format("  ledger    {} payments {}, {} reversals {}\n", r.ledger_payments,
                           ledger::format_fen(r.ledger_payments_fen), r.ledger_refunds,
                           ledger::format_fen(r.ledger_refunds_fen));
  std::cout << fmt::format("  difference (clearing net - ledger net) {}\n\n", ledger::format_fen(r.difference_fen()));
  print_table(eod::views::recon_counts_table(r), std::cout);
  if (!r.items.empty()) {
    std::cout << "\ndifferences (for a person: 挂账 -> 查证 -> 调账; nothing was posted)\n";
    print_table(eod::views::recon_items_table(r), std::cout);
  }
  if (static_cast<std::int64_t>(r.items.size()) < r.items_total) {
    std::cout << fmt::format("... {} more differences are stored (the API lists them)\n",
                             r.items_total - static_cast<std::int64_t>(r.items.size()));
  }
}

void reconcile_command(CLI::App& app, Context& ctx) {
  auto* reconcile = app.add_subcommand("reconcile", "compare a clearing file with a closed day (exit 1 when they differ)");
  static std::string profile_text, date_text, file;
  reconcile->add_option("--profile", profile_text, "platform | wechat | alipay")->required();
  reconcile->add_option("--date", date_text, "the closed business day YYYY-MM-DD")->required();
  reconcile->add_option("FILE", file, "the clearing file (- for stdin)")->required();
  reconcile->callback([&ctx] {
    const auto profile = eod::profile_from_string(profile_text);
    if (!profile) usage_error(fmt::format("--profile: \"{}\" is not platform, wechat or alipay", profile_text));
    const auto day = day_of(date_text);
    const std::string bytes = read_file(file);
    const auto run = eod::reconcile(ctx.database(), *profile, day, file == "-" ? "(stdin)" : file, bytes);
    if (!run) return refused(ctx, run.error());
    if (ctx.json) {
      print_json(eod::views::to_json(*run), std::cout);
    } else if (ctx.csv) {
      print_csv(eod::views::recon_items_table(*run), std::cout);
    } else {
      print_run_text(*run);
    }
    if (run->counts.differences() > 0) ctx.exit_code = exit_rejected;
  });
}

void clearing_file_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("clearing-file",
                                 "write the file the clearing side would send for a closed day, from the ledger "
                                 "(demos, tests, benchmarks)");
  static std::string profile_text, date_text, out;
  cmd->add_option("--profile", profile_text, "platform | wechat | alipay")->required();
  cmd->add_option("--date", date_text, "the closed business day YYYY-MM-DD")->required();
  cmd->add_option("--out", out, "write to this file instead of stdout");
  cmd->callback([&ctx] {
    const auto profile = eod::profile_from_string(profile_text);
    if (!profile) usage_error(fmt::format("--profile: \"{}\" is not platform, wechat or alipay", profile_text));
    const auto file = eod::clearing_file_of_day(ctx.database(), *profile, day_of(date_text));
    if (!file) return refused(ctx, file.error());
    if (out.empty()) {
      std::cout << *file;
      return;
    }
    std::ofstream stream(out, std::ios::binary | std::ios::trunc);
    stream << *file;
    stream.close();
    if (!stream) throw CommandError(exit_failure, "io", fmt::format("cannot write {}", out));
  });
}

}  // namespace

void register_eod_commands(CLI::App& app, Context& ctx) {
  gl_commands(app, ctx);
  statement_commands(app, ctx);
  reconcile_command(app, ctx);
  clearing_file_command(app, ctx);
}

}  // namespace promoledger::app
