#pragma once
// The double-entry core. An Entry can only be obtained from EntryBuilder::build(), which refuses an
// entry that does not balance, so an unbalanced entry cannot be posted from C++; PostgreSQL checks
// the same again inside ledger.post_entry and once more at commit (a deferred constraint trigger).
//
// Posting is one round trip (ledger.post_entry), atomic, and idempotent by external reference: a
// replay with the same content returns the original entry as Status::exists; with other content it is
// rejected.
//
// Where entries are built. Every general entry (opening deposits of `org import`, transfers,
// corrections) is an Entry from EntryBuilder, posted by post_in() inside the caller's transaction or by
// Ledger::post() in a transaction of its own; reversals go through Ledger::reverse() (ledger.reverse_entry,
// which posts through ledger.post_entry too). Payment entries are the one exception, by design: their
// three lines are built in SQL by promo.post_payments, a batch at a time, with the same balance,
// limit, hash-chain and closed-day rules (promo/payments.hpp, docs/architecture.md). Either way the
// database checks every entry again: ledger.post_entry or promo.post_payments first, then a deferred
// balance trigger and the closed-day trigger on ledger.journal_entry. Accounts are locked in ascending id order, so concurrent postings do not deadlock; limits
// (a payer deposit never below zero) hold under any interleaving because they are checked under the
// account's row lock and again by a CHECK constraint.
//
// Thread safety: Ledger is safe to share between threads (each call leases its own session).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"
#include "promoledger/ledger/refusal.hpp"

namespace promoledger::ledger {

enum class Side : char { debit = 'D', credit = 'C' };
enum class AccountType { asset, liability, equity, income, expense };
std::string_view to_string(AccountType);
std::optional<AccountType> account_type_from_string(std::string_view);

// Every business reason a posting or a read can be refused. Values are stable names (they are
// written in reports and JSON); never change the meaning of one.
enum class Reject {
  invalid_external_ref,
  invalid_kind,
  too_few_lines,
  too_many_lines,
  malformed_lines,
  amount_must_be_positive,
  invalid_side,
  unbalanced,
  unknown_account,
  unknown_entry,
  exists_with_different_content,
  insufficient_funds,
  already_reversed,
  cannot_reverse_a_reversal,
  invalid_account_code,
  business_day_closed,     // the entry's business day, or a later one, is closed (docs/accounting.md)
  business_day_in_future,  // after the bank's date by the database clock plus ledger.posting_policy
  replay_window_passed,    // before the replay window (ledger.posting_policy): its claim may be gone
};
std::string_view to_string(Reject);
std::optional<Reject> reject_from_string(std::string_view);

// A refused posting or read: the code, the input at fault ("lines", "external_ref", "business_day",
// "account_code", "entry_id"; empty when no single one is, e.g. insufficient_funds) and words that say
// what and where, e.g. "debits 105.00 <> credits 104.99" (ledger/refusal.hpp).
using Rejection = Refusal<Reject>;

struct Line {
  std::string account_code;
  Side side;
  Money amount;
};

inline constexpr std::size_t lines_per_entry_min = 2;
inline constexpr std::size_t lines_per_entry_max = 64;
inline constexpr std::size_t external_ref_length_max = 128;
inline constexpr std::size_t description_length_max = 500;

class Entry {
 public:
  const std::string& external_ref() const { return external_ref_; }
  const std::string& kind() const { return kind_; }
  date::year_month_day business_day() const { return business_day_; }
  const std::string& description() const { return description_; }
  const std::vector<Line>& lines() const { return lines_; }

 private:
  friend class EntryBuilder;
  Entry() = default;
  std::string external_ref_;
  std::string kind_;
  date::year_month_day business_day_{};
  std::string description_;
  std::vector<Line> lines_;
};

class EntryBuilder {
 public:
  EntryBuilder(std::string external_ref, std::string kind, date::year_month_day business_day);
  EntryBuilder& description(std::string text);
  EntryBuilder& debit(std::string account_code, Money amount);
  EntryBuilder& credit(std::string account_code, Money amount);
  // The entry, or the first reason it cannot exist: too few/many lines, a non-positive amount,
  // debits that differ from credits (the rejection says both totals), a malformed reference or kind.
  Expected<Entry, Rejection> build() const;

 private:
  Entry entry_;
};

struct PostResult {
  enum class Status { posted, exists };
  Status status;
  std::int64_t entry_id;
};

struct AccountSpec {
  std::string code;   // stable and readable: "merchant:M001:settlement"
  std::string name;
  AccountType type;
  std::optional<Money> min_balance;  // limit on the normal-side balance; nullopt = unlimited
};

// The balance on an account's normal side: debits - credits for a debit-normal account (assets,
// expenses), credits - debits for the others. The one C++ definition of the formula; the database's is
// ledger.normal_balance (sql/functions/ledger.sql), and TermsAgreeTest (tests/terms_agree_test.cpp)
// holds the two to the same answers.
WideFen normal_balance(Side normal_side, const WideFen& debits_fen, const WideFen& credits_fen);

struct AccountBalance {
  std::int64_t account_id;
  std::string code;
  AccountType type;
  Side normal_side;
  WideFen debits_fen;
  WideFen credits_fen;
  WideFen balance_fen;  // on the normal side: credit-normal accounts show credits - debits
  std::int64_t line_count;
};

struct StatementLine {
  std::int64_t entry_id;
  std::int64_t account_seq;
  std::string business_day;
  std::string posted_at_utc;
  std::string kind;
  std::string external_ref;
  std::string description;
  Side side;
  Money amount;
  WideFen balance_after_fen;  // running balance, normal side
};

struct TrialBalance {
  std::vector<AccountBalance> accounts;
  WideFen total_debits_fen = 0;
  WideFen total_credits_fen = 0;
  bool balanced() const { return total_debits_fen == total_credits_fen; }
};

struct VerifyCheck {
  std::string name;
  std::int64_t violations;
  std::string sample;  // the first few violations, in words
};

class Ledger {
 public:
  explicit Ledger(Database& database) : database_(database) {}

  // Opens an account (idempotent for the same code, type and limit). Returns its id.
  std::int64_t open_account(const AccountSpec& spec);

  Expected<PostResult, Rejection> post(const Entry& entry);
  // Reverses an entry as a whole (sides swapped); an entry can be reversed once.
  Expected<PostResult, Rejection> reverse(std::int64_t entry_id, const std::string& external_ref,
                                          date::year_month_day business_day, const std::string& description);

  Expected<AccountBalance, Rejection> balance(std::string_view account_code);
  // Balance counting the entries posted at or before `at`.
  Expected<AccountBalance, Rejection> balance_as_of(std::string_view account_code, Timestamp at);
  // Balance counting the entries of business days up to and including `day`.
  Expected<AccountBalance, Rejection> balance_as_of_day(std::string_view account_code, date::year_month_day day);

  inline static constexpr std::size_t statement_lines_max = 10'000;
  Expected<std::vector<StatementLine>, Rejection> statement(std::string_view account_code,
                                                            date::year_month_day from, date::year_month_day to,
                                                            std::size_t limit = statement_lines_max);
  TrialBalance trial_balance();
  std::vector<VerifyCheck> verify();
  std::string chain_digest();

 private:
  Expected<AccountBalance, Rejection> balance_where(std::string_view account_code, const std::string& line_filter,
                                                    const std::string& bound);
  Database& database_;
};

// Posts `entry` through ledger.post_entry on `session`, inside the caller's transaction (no retry: the
// caller owns the unit of work and retries it whole, ledger::with_retry). A rejection the database can
// only raise (insufficient_funds, business_day_closed at the trigger) has aborted that transaction:
// roll it back. Ledger::post is this in a transaction of its own.
Expected<PostResult, Rejection> post_in(soci::session& session, const Entry& entry);

// Maps what a posting function returned (status text, its words) to a typed result. Exposed for promo/.
Expected<PostResult, Rejection> post_result_from(const std::string& status, std::optional<std::int64_t> entry_id,
                                                 const std::string& detail);
// Maps a DatabaseError raised by a posting function to a rejection, when it is one (PL001, 23505 on
// reverses_entry_id); otherwise nullopt and the caller rethrows.
std::optional<Rejection> rejection_from(const DatabaseError& error);
// Whether a DatabaseError refuses the input rather than reports a failure: a constraint it breaks
// (class 23), a reference to something unknown (PL005) or a text too long for its column (22001).
// With rejection_from, the one reading of the SQLSTATEs that mean a refusal (docs/architecture.md).
bool is_input_refusal(const DatabaseError& error);
// Whether ledger.close_period refused a month that cannot be closed yet (PL008: a day still open, a
// month before it not closed); period close answers it as PeriodRefusal::period_not_closable.
bool is_period_not_closable(const DatabaseError& error);

}  // namespace promoledger::ledger
