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
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/periods.hpp"
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
// What audit verify reads (docs/operations.md, "The monthly routine"). Since the latest anchor (the
// default): the business days after the latest closed month, chains starting from its anchors, so the
// time grows with the open months, not with the history. Full: every day since the first. A month:
// see verify_month.
enum class VerifyScope { since_anchor, full };

struct AuditReport {
  std::vector<AuditCheck> checks;
  std::string chain_digest;  // of the same snapshot the checks read
  std::string scope;         // since_anchor | full | month
  std::string from;          // the first business day read (YYYY-MM-DD), empty: the first there is
  std::string to;            // the day after the last one read, empty: today's
  std::vector<std::string> months;  // the months read (YYYY-MM), oldest first
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
AuditReport verify_all(ledger::Database& db, VerifyScope scope = VerifyScope::since_anchor);

// The names of verify_all's checks, in the order it reports them.
std::vector<std::string> audit_check_names();

// Only the named checks (the same queries as verify_all, in its order, in one snapshot, with the chain
// digest), for callers that cannot afford all of them after every run, like the bench harness: the hash
// chain check reads every journal line. The ledger's four checks (entries_balance, balances_equal_lines,
// hash_chain_links, hash_chain_heads) are one query, run whole when any of them is named; only the named
// ones are reported. REQUIRES: every name is one of audit_check_names() (else std::invalid_argument).
AuditReport verify_checks(ledger::Database& db, const std::vector<std::string>& names,
                          VerifyScope scope = VerifyScope::since_anchor);

// `audit verify --month`: one closed month proved against what its close recorded, also in a database
// that holds only that month (an empty copy it was restored into): entries_balance, hash_chain_links
// (every line against its predecessor, in the month or recorded by a close) and period_anchors (the
// anchors still digest to the close's recorded digest; the auditors compare it with the one they
// kept). Refused when the month is not closed in this database (period_not_closed) or its partitions
// are archived (period_archived: restore them first), rather than passing over no lines.
Expected<AuditReport, ledger::PeriodRefusalOf> verify_month(ledger::Database& db, date::year_month month);

}  // namespace promoledger::promo
