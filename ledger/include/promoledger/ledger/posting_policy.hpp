#pragma once
// The posting policy (ledger.posting_policy, migrations 0009 and 0014; docs/accounting.md "Closed days
// and impossible times"): two limits on the dates a posting may carry, both checked inside PostgreSQL
// against the database clock, so no client's clock decides:
//   future_tolerance  how far ahead of the clock a payment time, or a general entry's business day, may
//                     lie before it is refused (paid_at_in_future, business_day_in_future)
//   replay_window     how far back a business day may lie (ledger.replay_horizon): an older payment or
//                     entry is refused (replay_window_passed), stored or not, because the claim of its
//                     reference (ledger.entry_ref) that answers a replay may be gone
//
// The history is append-only: a change adds a row with who, when and why, carrying on the value it does
// not change, and the latest row is in force from its commit on, for every posting path.
//
// Thread safety: free functions; each call leases its own session.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/reason.hpp"
#include "promoledger/ledger/refusal.hpp"

namespace promoledger::ledger {

struct PostingPolicy {
  std::chrono::seconds future_tolerance{0};
  std::chrono::days replay_window{0};
  std::string reason;
  std::string changed_at_utc;  // ISO 8601, UTC
  std::string changed_by;      // the database role that set it
};

// 0 refuses a payment stamped a second ahead of the database clock; 400 days is a simulation of
// future days. The database CHECK says the same.
inline constexpr std::chrono::seconds future_tolerance_max{400LL * 24 * 3600};
inline constexpr std::chrono::seconds future_tolerance_default{5 * 60};
// Whole days (the horizon is a calendar day), 1..3660; 400 by default. The database CHECK says the same.
inline constexpr std::chrono::days replay_window_min{1};
inline constexpr std::chrono::days replay_window_max{3660};
inline constexpr std::chrono::days replay_window_default{400};

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

// A change of either limit or both; what is left empty carries on as in force.
struct PolicyChange {
  std::optional<std::chrono::seconds> future_tolerance;
  std::optional<std::chrono::days> replay_window;
};
// Adds one row to the history and returns it. Refused (out_of_range) with the field of the first value
// at fault: future_tolerance, replay_window, or reason; a change that sets nothing is refused too
// (field empty). Only the owner role may write the table: another role gets DatabaseError (42501).
// A shorter window takes effect at once: payments dated before the new horizon are refused from then
// on, replays of them included.
Expected<PostingPolicy, ValueRefusal> change_posting_policy(Database& database, const PolicyChange& change,
                                                            const std::string& reason);

// A replay window as typed: "400d" (whole days, a number and the unit d), or the tolerance forms that
// are whole days ("24h" = 1d); malformed, or out_of_range outside replay_window_min..replay_window_max.
Expected<std::chrono::days, ValueRefusal> parse_replay_window(const std::string& text);

// "90s", "5m", "2h", "30d" (a whole number and one unit) as seconds; malformed or out_of_range (the
// field is the caller's to name).
Expected<std::chrono::seconds, ValueRefusal> parse_tolerance(const std::string& text);
// The shortest of those forms that is exact: 300 s -> "5m".
std::string format_tolerance(std::chrono::seconds tolerance);

}  // namespace promoledger::ledger
