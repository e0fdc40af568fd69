#include "promoledger/ledger/ledger.hpp"

#include <array>
#include <cassert>
#include <utility>

#include <fmt/format.h>

#include "promoledger/ledger/assert.hpp"
#include "promoledger/ledger/names.hpp"

namespace promoledger::ledger {
namespace {

constexpr NameTable<Reject, 18> reject_names{{
    {Reject::invalid_external_ref, "invalid_external_ref"},
    {Reject::invalid_kind, "invalid_kind"},
    {Reject::too_few_lines, "too_few_lines"},
    {Reject::too_many_lines, "too_many_lines"},
    {Reject::malformed_lines, "malformed_lines"},
    {Reject::amount_must_be_positive, "amount_must_be_positive"},
    {Reject::invalid_side, "invalid_side"},
    {Reject::unbalanced, "unbalanced"},
    {Reject::unknown_account, "unknown_account"},
    {Reject::unknown_entry, "unknown_entry"},
    {Reject::exists_with_different_content, "exists_with_different_content"},
    {Reject::insufficient_funds, "insufficient_funds"},
    {Reject::already_reversed, "already_reversed"},
    {Reject::cannot_reverse_a_reversal, "cannot_reverse_a_reversal"},
    {Reject::invalid_account_code, "invalid_account_code"},
    {Reject::business_day_closed, "business_day_closed"},
    {Reject::business_day_in_future, "business_day_in_future"},
    {Reject::replay_window_passed, "replay_window_passed"},
}};
static_assert(names_every_value(reject_names));

constexpr NameTable<AccountType, 5> account_type_names{{
    {AccountType::asset, "asset"},
    {AccountType::liability, "liability"},
    {AccountType::equity, "equity"},
    {AccountType::income, "income"},
    {AccountType::expense, "expense"},
}};
static_assert(names_every_value(account_type_names));

// The input a refusal the database returned or raised is about (the C++ side names its own).
std::string input_of(Reject code) {
  switch (code) {
    case Reject::invalid_external_ref:
    case Reject::exists_with_different_content: return "external_ref";
    case Reject::invalid_kind: return "kind";
    case Reject::too_few_lines:
    case Reject::too_many_lines:
    case Reject::malformed_lines:
    case Reject::amount_must_be_positive:
    case Reject::invalid_side:
    case Reject::unbalanced:
    case Reject::unknown_account:
    case Reject::invalid_account_code: return "lines";
    case Reject::unknown_entry:
    case Reject::already_reversed:
    case Reject::cannot_reverse_a_reversal: return "entry_id";
    case Reject::business_day_closed:
    case Reject::business_day_in_future:
    case Reject::replay_window_passed: return "business_day";
    case Reject::insufficient_funds: return "";  // an account's limit: no one input is at fault
  }
  return "";
}

bool valid_account_code(std::string_view code) {
  if (code.empty() || code.size() > 80) return false;
  for (char c : code) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_kind(std::string_view kind) {
  if (kind.empty() || kind.size() > 32) return false;
  for (char c : kind) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  }
  return true;
}

AccountBalance balance_from_row(const soci::row& row) {
  AccountBalance b;
  b.account_id = row.get<long long>(0);
  b.code = row.get<std::string>(1);
  const auto type = account_type_from_string(row.get<std::string>(2));
  if (!type) throw DatabaseError(fmt::format("account {} has an unknown type", b.code), "");
  b.type = *type;
  b.normal_side = row.get<std::string>(3) == "D" ? Side::debit : Side::credit;
  b.debits_fen = parse_wide_fen(row.get<std::string>(4)).value();
  b.credits_fen = parse_wide_fen(row.get<std::string>(5)).value();
  b.balance_fen = normal_balance(b.normal_side, b.debits_fen, b.credits_fen);
  b.line_count = row.get<long long>(6);
  return b;
}

}  // namespace

WideFen normal_balance(Side normal_side, const WideFen& debits_fen, const WideFen& credits_fen) {
  return normal_side == Side::debit ? WideFen(debits_fen - credits_fen) : WideFen(credits_fen - debits_fen);
}

std::string_view to_string(AccountType type) { return name_of(account_type_names, type); }
std::optional<AccountType> account_type_from_string(std::string_view text) {
  return value_named(account_type_names, text);
}

std::string_view to_string(Reject reject) { return name_of(reject_names, reject); }
std::optional<Reject> reject_from_string(std::string_view text) { return value_named(reject_names, text); }

EntryBuilder::EntryBuilder(std::string external_ref, std::string kind, date::year_month_day business_day) {
  entry_.external_ref_ = std::move(external_ref);
  entry_.kind_ = std::move(kind);
  entry_.business_day_ = business_day;
}

EntryBuilder& EntryBuilder::description(std::string text) {
  entry_.description_ = std::move(text);
  return *this;
}

EntryBuilder& EntryBuilder::debit(std::string account_code, Money amount) {
  entry_.lines_.push_back(Line{std::move(account_code), Side::debit, amount});
  return *this;
}

EntryBuilder& EntryBuilder::credit(std::string account_code, Money amount) {
  entry_.lines_.push_back(Line{std::move(account_code), Side::credit, amount});
  return *this;
}

Expected<Entry, Rejection> EntryBuilder::build() const {
  const Entry& e = entry_;
  if (e.external_ref_.empty() || e.external_ref_.size() > external_ref_length_max) {
    return unexpected(Rejection{Reject::invalid_external_ref, "external_ref",
                                fmt::format("external reference must be 1..{} characters", external_ref_length_max)});
  }
  if (!valid_kind(e.kind_)) {
    return unexpected(
        Rejection{Reject::invalid_kind, "kind", fmt::format("kind \"{}\" must be 1..32 of a-z and _", e.kind_)});
  }
  if (!e.business_day_.ok()) {
    return unexpected(Rejection{Reject::malformed_lines, "business_day", "business day is not a date"});
  }
  if (e.description_.size() > description_length_max) {
    return unexpected(Rejection{Reject::malformed_lines, "description",
                                fmt::format("description is longer than {} characters", description_length_max)});
  }
  if (e.lines_.size() < lines_per_entry_min) {
    return unexpected(Rejection{Reject::too_few_lines, "lines",
                                fmt::format("{} line(s); an entry needs at least {}", e.lines_.size(), lines_per_entry_min)});
  }
  if (e.lines_.size() > lines_per_entry_max) {
    return unexpected(Rejection{Reject::too_many_lines, "lines",
                                fmt::format("{} lines; at most {}", e.lines_.size(), lines_per_entry_max)});
  }
  WideFen debits = 0;
  WideFen credits = 0;
  for (std::size_t i = 0; i < e.lines_.size(); ++i) {
    const Line& line = e.lines_[i];
    if (!valid_account_code(line.account_code)) {
      return unexpected(Rejection{Reject::invalid_account_code, "lines",
                                  fmt::format("line {}: account code \"{}\" must be 1..80 of A-Z a-z 0-9 _ . : -",
                                              i + 1, line.account_code)});
    }
    if (!line.amount.is_positive()) {
      return unexpected(Rejection{Reject::amount_must_be_positive, "lines",
                                  fmt::format("line {} ({}): amount {} must be > 0", i + 1, line.account_code,
                                              line.amount.str())});
    }
    (line.side == Side::debit ? debits : credits) += line.amount.fen();
  }
  if (debits != credits) {
    return unexpected(Rejection{Reject::unbalanced, "lines",
                                fmt::format("debits {} <> credits {}", format_fen(debits), format_fen(credits))});
  }
  return e;
}

Expected<PostResult, Rejection> post_result_from(const std::string& status, std::optional<std::int64_t> entry_id,
                                                 const std::string& detail) {
  if (status == "posted" || status == "exists") {
    PROMOLEDGER_ASSERT(entry_id.has_value());
    return PostResult{status == "posted" ? PostResult::Status::posted : PostResult::Status::exists, *entry_id};
  }
  const std::optional<Reject> reject = reject_from_string(status);
  if (!reject) throw DatabaseError(fmt::format("the database returned an unknown status \"{}\"", status), "");
  return unexpected(Rejection{*reject, input_of(*reject), detail});
}

std::optional<Rejection> rejection_from(const DatabaseError& error) {
  if (error.sqlstate() == sqlstate::insufficient_funds) {
    return Rejection{Reject::insufficient_funds, input_of(Reject::insufficient_funds), error.primary_message()};
  }
  if (error.sqlstate() == sqlstate::business_day_closed) {
    return Rejection{Reject::business_day_closed, input_of(Reject::business_day_closed), error.primary_message()};
  }
  if (error.sqlstate() == sqlstate::unique_violation &&
      std::string_view(error.what()).find("reverses_entry_id") != std::string_view::npos) {
    return Rejection{Reject::already_reversed, input_of(Reject::already_reversed), error.primary_message()};
  }
  return std::nullopt;
}

bool is_period_not_closable(const DatabaseError& error) { return error.sqlstate() == sqlstate::period_not_closable; }

bool is_input_refusal(const DatabaseError& error) {
  const std::string& state = error.sqlstate();
  constexpr std::string_view string_data_right_truncation = "22001";
  return state.rfind("23", 0) == 0 || state == sqlstate::invalid_reference || state == string_data_right_truncation;
}

std::int64_t Ledger::open_account(const AccountSpec& spec) {
  auto lease = database_.lease();
  long long id = 0;
  long long min_fen = spec.min_balance ? spec.min_balance->fen() : 0;
  soci::indicator min_ind = spec.min_balance ? soci::i_ok : soci::i_null;
  const std::string type(to_string(spec.type));
  try {
    *lease << "SELECT ledger.open_account(:code, :name, :type, :min, NULL)", soci::use(spec.code),
        soci::use(spec.name), soci::use(type), soci::use(min_fen, min_ind), soci::into(id);
  } catch (...) {
    rethrow_as_database_error(fmt::format("opening account {}", spec.code));
  }
  return id;
}

namespace {

// One statement of a posting function that returns (status, entry_id, detail) on `s`, translated: the
// status, or a rejection the database could only raise (a limit, a concurrent reversal, a closed day).
// `execute` binds its own inputs and runs the statement into the three outputs.
template <class Execute>
Expected<PostResult, Rejection> run_posting_statement(soci::session& s, const std::string& what, Execute&& execute) {
  std::string status;
  std::string detail;
  long long entry_id = 0;
  soci::indicator id_ind = soci::i_ok;
  try {
    execute(s, status, entry_id, id_ind, detail);
  } catch (...) {
    try {
      rethrow_as_database_error(what);
    } catch (const DatabaseError& e) {
      if (auto rejection = rejection_from(e)) return unexpected(*rejection);
      throw;
    }
  }
  return post_result_from(status, id_ind == soci::i_null ? std::nullopt : std::optional<std::int64_t>(entry_id),
                          detail);
}

}  // namespace

Expected<PostResult, Rejection> post_in(soci::session& session, const Entry& entry) {
  PgArrayLiteral codes, sides, amounts;
  WideFen debits = 0;
  WideFen credits = 0;
  for (const Line& l : entry.lines()) {
    codes.add(l.account_code);
    sides.add(std::string(1, static_cast<char>(l.side)));
    amounts.add(std::to_string(l.amount.fen()));
    (l.side == Side::debit ? debits : credits) += l.amount.fen();
  }
  // Only EntryBuilder::build makes an Entry, and it refuses an unbalanced one: an entry that gets here
  // unbalanced means memory or the builder is wrong, and the process must not post anything more.
  PROMOLEDGER_ASSERT(debits == credits);
  const std::string codes_text = std::move(codes).finish();
  const std::string sides_text = std::move(sides).finish();
  const std::string amounts_text = std::move(amounts).finish();
  const std::string day = format_day(entry.business_day());
  return run_posting_statement(
      session, fmt::format("posting entry {}", entry.external_ref()),
      [&](soci::session& s, std::string& status, long long& entry_id, soci::indicator& id_ind, std::string& detail) {
        s << "SELECT status, entry_id, coalesce(detail, '') FROM ledger.post_entry(:ref, :kind, CAST(:day AS date), "
             ":descr, CAST(:codes AS text[]), CAST(:sides AS text[]), CAST(:amounts AS bigint[]))",
            soci::use(entry.external_ref()), soci::use(entry.kind()), soci::use(day), soci::use(entry.description()),
            soci::use(codes_text), soci::use(sides_text), soci::use(amounts_text), soci::into(status),
            soci::into(entry_id, id_ind), soci::into(detail);
      });
}

Expected<PostResult, Rejection> Ledger::post(const Entry& entry) {
  return with_retry([&]() -> Expected<PostResult, Rejection> {
    auto lease = database_.lease();
    return post_in(*lease, entry);  // autocommit: the statement is the transaction
  });
}

Expected<PostResult, Rejection> Ledger::reverse(std::int64_t entry_id, const std::string& external_ref,
                                                date::year_month_day business_day, const std::string& description) {
  if (external_ref.empty() || external_ref.size() > external_ref_length_max) {
    return unexpected(Rejection{Reject::invalid_external_ref, "external_ref",
                                fmt::format("external reference must be 1..{} characters", external_ref_length_max)});
  }
  const std::string day = format_day(business_day);
  const long long original = entry_id;
  return with_retry([&]() -> Expected<PostResult, Rejection> {
    auto lease = database_.lease();
    return run_posting_statement(
        *lease, fmt::format("reversing entry {}", entry_id),
        [&](soci::session& s, std::string& status, long long& new_id, soci::indicator& id_ind, std::string& detail) {
          s << "SELECT status, entry_id, coalesce(detail, '') FROM ledger.reverse_entry(:id, :ref, "
               "CAST(:day AS date), :descr)",
              soci::use(original), soci::use(external_ref), soci::use(day), soci::use(description),
              soci::into(status), soci::into(new_id, id_ind), soci::into(detail);
        });
  });
}

Expected<AccountBalance, Rejection> Ledger::balance_where(std::string_view account_code, const std::string& line_filter,
                                                          const std::string& bound) {
  auto lease = database_.lease();
  const std::string code(account_code);
  try {
    soci::rowset<soci::row> rows =
        line_filter.empty()
            ? (lease->prepare << "SELECT a.id, a.code, a.type, a.normal_side, b.debits_fen::text, b.credits_fen::text, "
                                 "b.line_count FROM ledger.account a JOIN ledger.account_balance b ON b.account_id = a.id "
                                 "WHERE a.code = :code",
               soci::use(code))
            : (lease->prepare << "SELECT a.id, a.code, a.type, a.normal_side, "
                                 "coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'D'), 0)::text, "
                                 "coalesce(sum(l.amount_fen) FILTER (WHERE l.side = 'C'), 0)::text, count(l.entry_id)::bigint "
                                 "FROM ledger.account a LEFT JOIN (ledger.journal_line l JOIN ledger.journal_entry e "
                                 "ON e.id = l.entry_id AND " + line_filter + ") ON l.account_id = a.id "
                                 "WHERE a.code = :code GROUP BY a.id",
               soci::use(bound), soci::use(code));
    for (const soci::row& row : rows) return balance_from_row(row);
  } catch (...) {
    rethrow_as_database_error(fmt::format("reading the balance of {}", account_code));
  }
  return unexpected(
      Rejection{Reject::unknown_account, "account_code", fmt::format("no account with code {}", account_code)});
}

Expected<AccountBalance, Rejection> Ledger::balance(std::string_view account_code) {
  return balance_where(account_code, "", "");
}

Expected<AccountBalance, Rejection> Ledger::balance_as_of(std::string_view account_code, Timestamp at) {
  return balance_where(account_code, "e.posted_at <= CAST(:bound AS timestamptz)", format_timestamp_utc(at));
}

Expected<AccountBalance, Rejection> Ledger::balance_as_of_day(std::string_view account_code, date::year_month_day day) {
  return balance_where(account_code, "e.business_day <= CAST(:bound AS date)", format_day(day));
}

Expected<std::vector<StatementLine>, Rejection> Ledger::statement(std::string_view account_code,
                                                                  date::year_month_day from, date::year_month_day to,
                                                                  std::size_t limit) {
  if (limit == 0 || limit > statement_lines_max) limit = statement_lines_max;
  auto account = balance(account_code);
  if (!account) return unexpected(account.error());
  std::vector<StatementLine> out;
  auto lease = database_.lease();
  const std::string from_text = format_day(from);
  const std::string to_text = format_day(to);
  const long long account_id = account->account_id;
  const long long limit_rows = static_cast<long long>(limit);
  try {
    soci::rowset<soci::row> rows =
        (lease->prepare << "SELECT l.entry_id, l.account_seq, e.business_day::text, "
                           "to_char(e.posted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), e.kind, e.external_ref, "
                           "e.description, l.side, l.amount_fen, l.balance_after_fen "
                           "FROM ledger.journal_line l JOIN ledger.journal_entry e ON e.id = l.entry_id "
                           "WHERE l.account_id = :id AND e.business_day BETWEEN CAST(:f AS date) AND CAST(:t AS date) "
                           "ORDER BY l.account_seq LIMIT :n",
         soci::use(account_id), soci::use(from_text), soci::use(to_text), soci::use(limit_rows));
    for (const soci::row& row : rows) {
      StatementLine line;
      line.entry_id = row.get<long long>(0);
      line.account_seq = row.get<long long>(1);
      line.business_day = row.get<std::string>(2);
      line.posted_at_utc = row.get<std::string>(3);
      line.kind = row.get<std::string>(4);
      line.external_ref = row.get<std::string>(5);
      line.description = row.get<std::string>(6);
      line.side = row.get<std::string>(7) == "D" ? Side::debit : Side::credit;
      line.amount = Money::from_fen(row.get<long long>(8));
      line.balance_after_fen = row.get<long long>(9);
      out.push_back(std::move(line));
    }
  } catch (...) {
    rethrow_as_database_error(fmt::format("reading the statement of {}", account_code));
  }
  return out;
}

TrialBalance Ledger::trial_balance() {
  TrialBalance tb;
  auto lease = database_.lease();
  try {
    soci::rowset<soci::row> rows =
        (lease->prepare << "SELECT a.id, a.code, a.type, a.normal_side, b.debits_fen::text, b.credits_fen::text, "
                           "b.line_count FROM ledger.account a JOIN ledger.account_balance b ON b.account_id = a.id "
                           "ORDER BY a.code");
    for (const soci::row& row : rows) {
      AccountBalance b = balance_from_row(row);
      tb.total_debits_fen += b.debits_fen;
      tb.total_credits_fen += b.credits_fen;
      tb.accounts.push_back(std::move(b));
    }
  } catch (...) {
    rethrow_as_database_error("reading the trial balance");
  }
  return tb;
}

std::vector<VerifyCheck> Ledger::verify() {
  std::vector<VerifyCheck> out;
  auto lease = database_.lease();
  try {
    soci::rowset<soci::row> rows =
        (lease->prepare << "SELECT check_name, violations, coalesce(sample, '') FROM ledger.verify(5)");
    for (const soci::row& row : rows) {
      out.push_back(VerifyCheck{row.get<std::string>(0), row.get<long long>(1), row.get<std::string>(2)});
    }
  } catch (...) {
    rethrow_as_database_error("verifying the ledger");
  }
  return out;
}

std::string Ledger::chain_digest() {
  auto lease = database_.lease();
  std::string digest;
  try {
    *lease << "SELECT ledger.chain_digest()", soci::into(digest);
  } catch (...) {
    rethrow_as_database_error("computing the chain digest");
  }
  return digest;
}

}  // namespace promoledger::ledger
