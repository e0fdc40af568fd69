#pragma once
// Merchant statements: one ISO 20022 camt.053 BkToCstmrStmt (bank-to-customer statement) per merchant
// and closed business day, from the merchant's settlement account (docs/integration.md has the mapping
// of every element). Also as CSV for people.
//
// Promises:
// - Only a closed day (business_day_open otherwise); everything in it comes from the journal and the
//   day's close time, so producing the statement again gives the same bytes.
// - OPBD + credits - debits = CLBD (asserted; the tests check it for a day with payments, a reversal
//   and none). OPBD is the balance of every entry of earlier business days, CLBD adds the day's.
// - One Ntry per journal line on the settlement account that day, in the account's order: a payment
//   (CRDT, the amount plus the merchant's share of the discount), a reversal (DBIT, RvslInd true), any
//   other entry (its kind as the bank transaction code).
// - XML is written by libxml2's xmlTextWriter (escaping is the library's); amounts from Money, never
//   double. Texts are cut to the schema's lengths on character boundaries.
//
// Thread safety: free functions; merchant_statement leases its own session.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "promoledger/eod/refusal.hpp"
#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"

namespace promoledger::eod {

struct StatementEntry {
  std::int64_t entry_id = 0;
  std::int64_t account_seq = 0;
  std::string external_ref;
  std::string kind;         // payment, reversal, or the kind of another entry
  bool credit = true;       // CRDT (the bank owes the merchant more) or DBIT
  bool reversal = false;    // the entry reverses another (RvslInd)
  ledger::Money amount;     // > 0, on `credit`'s side
  std::string payment_id;   // the payment behind a payment or its reversal; empty for other entries
  ledger::Money merchant_share;  // the discount's merchant share (payments and their reversals)
  ledger::Money discount;        // the whole discount
  std::string posted_at;    // local, "2026-11-24T12:00:00+08:00"
};

struct MerchantStatement {
  std::string merchant_code;
  std::string merchant_name;
  std::string account_code;  // the settlement account: merchant:<M>:settlement
  std::int64_t account_id = 0;
  std::string business_day;  // YYYY-MM-DD
  std::string created_at;    // the day's close time, local with offset
  ledger::WideFen opening_fen = 0;  // credit-normal: credits - debits before the day
  ledger::WideFen closing_fen = 0;
  ledger::WideFen credits_fen = 0;
  ledger::WideFen debits_fen = 0;
  std::int64_t credit_count = 0;
  std::int64_t debit_count = 0;
  std::vector<StatementEntry> entries;
};

inline constexpr std::size_t statement_entries_max = 1'000'000;

// unknown_merchant, business_day_open; too_many_lines beyond statement_entries_max.
Expected<MerchantStatement, EodRefusal> merchant_statement(ledger::Database& database, const std::string& merchant_code,
                                                           date::year_month_day day);

enum class CamtVersion { v02, v12 };  // camt.053.001.02 and camt.053.001.12
std::string_view namespace_of(CamtVersion version);
// The XML document (UTF-8, with its declaration). Throws std::runtime_error if libxml2 fails.
std::string to_camt053(const MerchantStatement& statement, CamtVersion version);
// CSV for people: a header row, one row per entry, then opening and closing rows.
std::string to_csv(const MerchantStatement& statement);

}  // namespace promoledger::eod
