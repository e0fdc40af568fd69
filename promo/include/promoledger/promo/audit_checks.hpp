#pragma once
// What auditors need: the whole chain behind one payment, every subsidy of an outlet, and a
// verification of the ledger and the promotion's rules over the whole database.
//
// Thread safety: free functions; each leases its own session.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <date/date.h>
#include <nlohmann/json.hpp>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/money.hpp"

namespace promoledger::promo {

// payment -> eligibility decision -> card (deck, position, amount, seed commitment, algorithm version,
// seed once revealed) -> campaign (parameters, creator, approver, lifecycle) -> journal entry and its
// lines (with chain hashes) -> accounts and their balances now -> reversal, if any.
// nullopt when there is no such payment. Money as decimal strings.
std::optional<nlohmann::json> trace_payment(ledger::Database& db, const std::string& payment_id);

struct SubsidyRow {
  std::string payment_id;
  std::string business_day;
  std::string merchant;
  std::string payer;
  ledger::WideFen amount_fen = 0, discount_fen = 0, payer_share_fen = 0, merchant_share_fen = 0;
  std::int64_t entry_id = 0;
  std::int64_t deck_id = 0;
  std::int32_t card_position = 0;
  bool reversed = false;
};
// nullopt when the outlet does not exist. Reads at most row_limit rows, in (day, payment id) order: a
// caller that must not cut silently asks for one row more than it shows (promo::audit_subsidies).
// REQUIRES: row_limit >= 1.
std::optional<std::vector<SubsidyRow>> outlet_subsidies(ledger::Database& db, const std::string& outlet_code,
                                                        date::year_month_day from, date::year_month_day to,
                                                        std::size_t row_limit);

struct AuditCheck {
  std::string name;
  std::int64_t violations = 0;
  std::string sample;  // the first few violations, in words
  bool ok() const { return violations == 0; }
};
struct AuditReport {
  std::vector<AuditCheck> checks;
  std::string chain_digest;  // of the same snapshot the checks read
  bool ok() const {
    for (const auto& c : checks) {
      if (!c.ok()) return false;
    }
    return true;
  }
};
// Every check (docs/operations.md lists them): set-based SQL plus a re-deal of every deck in C++, all
// in one REPEATABLE READ, READ ONLY transaction, so that the checks and the digest describe one state
// even while payments are being posted.
AuditReport verify_all(ledger::Database& db);

// The names of verify_all's checks, in the order it reports them.
std::vector<std::string> audit_check_names();

// Only the named checks (the same queries as verify_all, in its order, in one snapshot, with the chain
// digest), for callers that cannot afford all of them after every run, like the bench harness: the hash
// chain check reads every journal line. The ledger's four checks (entries_balance, balances_equal_lines,
// hash_chain_links, hash_chain_heads) are one query, run whole when any of them is named; only the named
// ones are reported. REQUIRES: every name is one of audit_check_names() (else std::invalid_argument).
AuditReport verify_checks(ledger::Database& db, const std::vector<std::string>& names);

}  // namespace promoledger::promo
