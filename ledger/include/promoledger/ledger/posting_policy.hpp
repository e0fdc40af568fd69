#pragma once
// The posting policy (ledger.posting_policy, migration 0009; docs/accounting.md "Closed days and
// impossible times"): how far ahead of the database clock a payment time, or a general entry's
// business day, may lie before it is refused (paid_at_in_future, business_day_in_future).
//
// The history is append-only: setting a tolerance adds a row with who, when and why, and the latest
// row is in force from its commit on, for every posting path (the checks run inside PostgreSQL, against
// the database clock, so no client's clock decides).
//
// Thread safety: free functions; each call leases its own session.

#include <chrono>
#include <string>
#include <vector>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/reason.hpp"
#include "promoledger/ledger/refusal.hpp"

namespace promoledger::ledger {

struct PostingPolicy {
  std::chrono::seconds future_tolerance{0};
  std::string reason;
  std::string changed_at_utc;  // ISO 8601, UTC
  std::string changed_by;      // the database role that set it
};

// 0 refuses a payment stamped a second ahead of the database clock; 400 days is a simulation of
// future days. The database CHECK says the same.
inline constexpr std::chrono::seconds future_tolerance_max{400LL * 24 * 3600};
inline constexpr std::chrono::seconds future_tolerance_default{5 * 60};

// The policy in force.
PostingPolicy posting_policy(Database& database);
// Every change, oldest first (bounded: the table grows by one row per deliberate change).
inline constexpr std::size_t policy_history_rows_max = 10'000;
std::vector<PostingPolicy> posting_policy_history(Database& database);

// Sets the tolerance; refused (out_of_range, field future_tolerance or reason) outside
// 0..future_tolerance_max or without a reason.
// Only the owner role may write the table: another role gets DatabaseError (42501).
Expected<PostingPolicy, ValueRefusal> set_future_tolerance(Database& database, std::chrono::seconds tolerance,
                                                          const std::string& reason);

// "90s", "5m", "2h", "30d" (a whole number and one unit) as seconds; malformed or out_of_range (the
// field is the caller's to name).
Expected<std::chrono::seconds, ValueRefusal> parse_tolerance(const std::string& text);
// The shortest of those forms that is exact: 300 s -> "5m".
std::string format_tolerance(std::chrono::seconds tolerance);

}  // namespace promoledger::ledger
