// pay (one payment, or many from a CSV file) and reverse: the request read by
// promo::payment_request_from, posted by promo::PaymentPoster, rendered through promo::views.
#include <unistd.h>

#include <iostream>

#include <fmt/format.h>

#include "cli.hpp"
#include "csv.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/promo/payment_request.hpp"
#include "promoledger/promo/payments.hpp"

namespace promoledger::app {
namespace {

using nlohmann::json;

struct PayOptions {
  promo::PaymentFields fields;  // from --payment-id, --payer, --merchant, --channel, --amount, --at
  std::string csv_file;         // --csv: many payments instead of the fields
};

struct ReverseOptions {
  std::string id;       // PAYMENT_ID
  std::string id_flag;  // --payment-id (the same; both given: they must agree)
  std::string date;     // --date YYYY-MM-DD; empty: today
};

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
  auto options = std::make_shared<PayOptions>();
  promo::PaymentFields& f = options->fields;
  pay->add_option("--payment-id", f.payment_id, "unique payment id (replays are answered with the first result)");
  pay->add_option("--payer", f.payer, "payer code");
  pay->add_option("--merchant", f.merchant, "merchant code");
  pay->add_option("--channel", f.channel, "bank_app | wechat | alipay");
  pay->add_option("--amount", f.amount, "amount in CNY, e.g. 100.00");
  pay->add_option("--at", f.paid_at,
                  "payment time with its offset, e.g. 2026-11-24T12:30:00+08:00 (without one: Asia/Shanghai; default: now)");
  pay->add_option("--csv", options->csv_file, "CSV file: payment_id,payer,merchant,channel,amount,at");
  pay->callback([&ctx, options] {
    const promo::PaymentFields& fields = options->fields;
    if (!options->csv_file.empty()) {
      if (!fields.payment_id.empty() || !fields.payer.empty() || !fields.merchant.empty()) {
        usage_error("--csv excludes --payment-id/--payer/--merchant");
      }
      pay_csv(ctx, options->csv_file);
      return;
    }
    for (const auto& [flag, value] : std::vector<std::pair<const char*, const std::string*>>{
             {"--payment-id", &fields.payment_id}, {"--payer", &fields.payer}, {"--merchant", &fields.merchant},
             {"--channel", &fields.channel}, {"--amount", &fields.amount}}) {
      if (value->empty()) usage_error(fmt::format("pay: {} is required (or use --csv FILE)", flag));
    }
    auto req = request_from(fields, "");
    promo::PaymentPoster poster(ctx.database());
    auto result = poster.post(req);
    if (!result) refused(result.error());
    print_payment(ctx, *result);
  });
}

// reverse PAYMENT_ID [--date D]: the reversing entry, into the open day.
void reverse_command(CLI::App& app, Context& ctx) {
  auto* reverse = app.add_subcommand("reverse", "reverse a payment as a whole (the card stays used)");
  auto options = std::make_shared<ReverseOptions>();
  reverse->add_option("PAYMENT_ID", options->id, "the payment to reverse");
  reverse->add_option("--payment-id", options->id_flag, "the payment to reverse (the same as PAYMENT_ID)");
  reverse->add_option("--date", options->date, "business day of the reversal (default: today)");
  reverse->callback([&ctx, options] {
    const std::string reverse_id = one_payment_id(options->id, options->id_flag, "reverse");
    std::optional<date::year_month_day> day;
    if (!options->date.empty()) day = day_arg(options->date, "--date");
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

void register_payment_commands(CLI::App& app, Context& ctx) { payment_commands(app, ctx); }

}  // namespace promoledger::app
