#pragma once
// Shared plumbing of the promoledger command: the database context, output formats and exit codes.
// Each group of subcommands lives in its own file and registers itself with register_*().

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <date/date.h>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/money.hpp"
#include "promoledger/ledger/refusal.hpp"
#include "promoledger/promo/views.hpp"

namespace promoledger::app {

// Exit codes (documented in docs/operations.md): stable, scripts depend on them.
inline constexpr int exit_ok = 0;
inline constexpr int exit_rejected = 1;  // a business rejection (or audit verify found a violation)
inline constexpr int exit_usage = 2;     // usage or input error: bad flag, malformed file, bad amount
inline constexpr int exit_failure = 3;   // database or other failure

// Ends a command with an exit code and words for stderr, or with --json the API's error shape
// {"error": code, "field": field, "message": words} on stdout (ledger/refusal.hpp).
class CommandError : public std::runtime_error {
 public:
  CommandError(int exit_code, std::string code, std::string message, std::string field = "")
      : std::runtime_error(std::move(message)), exit_code_(exit_code), code_(std::move(code)), field_(std::move(field)) {}
  int exit_code() const { return exit_code_; }
  const std::string& code() const { return code_; }
  const std::string& field() const { return field_; }

 private:
  int exit_code_;
  std::string code_;
  std::string field_;
};

[[noreturn]] inline void usage_error(std::string message) {
  throw CommandError(exit_usage, "usage", std::move(message));
}

// "code: words", with the code once even when the words already start with it (the database's do).
template <class Code>
std::string describe(const ledger::Refusal<Code>& r) {
  const std::string code(to_string(r.code));
  return r.message.rfind(code + ":", 0) == 0 ? r.message : code + ": " + r.message;
}

// Ends the command with a library's refusal: its code, field and words (exit 1 unless told otherwise).
template <class Code>
[[noreturn]] void refused(const ledger::Refusal<Code>& r, int exit_code = exit_rejected) {
  throw CommandError(exit_code, std::string(to_string(r.code)), describe(r), r.field);
}

// A value given on the command line that its parser refused, as a usage error naming the flag:
// "--amount: amount \"1.234\" has more than two decimals".
[[noreturn]] inline void bad_value(std::string_view flag, const ledger::ValueRefusal& r) {
  throw CommandError(exit_usage, "usage", std::string(flag) + ": " + r.message, std::string(flag));
}

// A business day given to a flag ("--date"), or a usage error naming the flag.
date::year_month_day day_arg(const std::string& text, std::string_view flag);

// The whole file, or a usage error naming it.
std::string read_file(const std::string& path);

// Who is acting, when --by is not given: the operating-system user (recorded in campaign events and tokens).
std::string default_actor();

// A payment id given as PAYMENT_ID or --payment-id (both are accepted; they must agree).
inline std::string one_payment_id(const std::string& positional, const std::string& flag, const char* command) {
  if (positional.empty() && flag.empty()) usage_error(std::string(command) + ": give the payment id (PAYMENT_ID or --payment-id)");
  if (!positional.empty() && !flag.empty() && positional != flag) {
    usage_error(std::string(command) + ": PAYMENT_ID \"" + positional + "\" and --payment-id \"" + flag + "\" differ");
  }
  return positional.empty() ? flag : positional;
}

enum class Format { table, csv, json };

struct Context {
  std::string db_flag;
  bool json = false;
  bool csv = false;
  Format format() const { return json ? Format::json : (csv ? Format::csv : Format::table); }
  // --db, else $PROMOLEDGER_DB; a usage error when neither is set.
  std::string conninfo() const;
  // Opened on first use, so `--help` and usage errors need no database.
  ledger::Database& database();
  std::unique_ptr<ledger::Database> db;
  std::size_t pool_size = 1;
  // For a command that printed its full result but must still end non-zero (a CSV with rejected
  // lines, a failed audit): no second, error-shaped output.
  int exit_code = exit_ok;
};

// A simple result table; numbers right-aligned where right[i] is true.
using Table = promo::views::Table;
void print_table(const Table& table, std::ostream& out);
void print_csv(const Table& table, std::ostream& out);
// Prints in the context's format; JSON becomes an array of objects keyed by the headers.
void print(const Context& ctx, const Table& table, std::ostream& out);
void print_json(const nlohmann::json& value, std::ostream& out);

// Money in JSON and CSV is always a decimal string ("95.00"), never a JSON number.
inline std::string money_text(const ledger::WideFen& fen) { return ledger::format_fen(fen); }

void register_db_commands(CLI::App& app, Context& ctx);
void register_org_commands(CLI::App& app, Context& ctx);
void register_campaign_commands(CLI::App& app, Context& ctx);
void register_day_commands(CLI::App& app, Context& ctx);        // deal, close-day
void register_payment_commands(CLI::App& app, Context& ctx);    // pay, reverse
void register_report_commands(CLI::App& app, Context& ctx);     // report ...
void register_audit_commands(CLI::App& app, Context& ctx);      // audit ...
void register_simulate_command(CLI::App& app, Context& ctx);    // simulate
void register_serve_commands(CLI::App& app, Context& ctx);      // serve, token ...
// period close|list|archive|restore, db maintain (after register_db_commands: it adds to `db`)
void register_period_commands(CLI::App& app, Context& ctx);
void register_eod_commands(CLI::App& app, Context& ctx);        // gl ..., statement ..., reconcile

}  // namespace promoledger::app
