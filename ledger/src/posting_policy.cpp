#include "promoledger/ledger/posting_policy.hpp"

#include <array>
#include <charconv>
#include <utility>

#include <fmt/format.h>

namespace promoledger::ledger {
namespace {

constexpr std::array<std::pair<char, long long>, 4> units{{{'d', 86'400}, {'h', 3'600}, {'m', 60}, {'s', 1}}};

#define PROMOLEDGER_POLICY_COLUMNS                                                                 \
  "SELECT extract(epoch FROM future_tolerance)::bigint, reason, "                                   \
  "to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), changed_by "
constexpr const char* select_policy = PROMOLEDGER_POLICY_COLUMNS "FROM ledger.posting_policy ";
// The row a change adds, as stored, read back by the same statement: another change committed in
// between cannot be mistaken for this one.
constexpr const char* insert_policy =
    "WITH p AS (INSERT INTO ledger.posting_policy (future_tolerance, reason) "
    "VALUES (make_interval(secs => :s), :r) RETURNING *) " PROMOLEDGER_POLICY_COLUMNS "FROM p";
#undef PROMOLEDGER_POLICY_COLUMNS

PostingPolicy policy_of(const soci::row& row) {
  PostingPolicy p;
  p.future_tolerance = std::chrono::seconds(row.get<long long>(0));
  p.reason = row.get<std::string>(1);
  p.changed_at_utc = row.get<std::string>(2);
  p.changed_by = row.get<std::string>(3);
  return p;
}

}  // namespace

PostingPolicy posting_policy(Database& database) {
  auto lease = database.lease();
  try {
    soci::row row;
    *lease << std::string(select_policy) + "ORDER BY id DESC LIMIT 1", soci::into(row);
    // Migration 0009 writes the first row and the table refuses DELETE and TRUNCATE.
    if (!lease->got_data()) throw DatabaseError("ledger.posting_policy is empty: the database was altered", "");
    return policy_of(row);
  } catch (...) {
    rethrow_as_database_error("reading the posting policy");
  }
}

std::vector<PostingPolicy> posting_policy_history(Database& database) {
  auto lease = database.lease();
  std::vector<PostingPolicy> out;
  try {
    soci::rowset<soci::row> rows =
        (lease->prepare << std::string(select_policy) + fmt::format("ORDER BY id LIMIT {}", policy_history_rows_max));
    for (const soci::row& row : rows) out.push_back(policy_of(row));
  } catch (...) {
    rethrow_as_database_error("reading the posting policy's history");
  }
  return out;
}

Expected<PostingPolicy, ValueRefusal> set_future_tolerance(Database& database, std::chrono::seconds tolerance,
                                                          const std::string& reason) {
  if (tolerance.count() < 0 || tolerance > future_tolerance_max) {
    return unexpected(ValueRefusal{InvalidValue::out_of_range, "future_tolerance",
                                   fmt::format("future tolerance {} s is outside 0..{} s (400 days)", tolerance.count(),
                                               future_tolerance_max.count())});
  }
  if (!reason_fits(reason)) {
    return unexpected(ValueRefusal{
        InvalidValue::out_of_range, "reason",
        fmt::format("reason: must be 1..{} bytes (say why the tolerance changes)", reason_bytes_max)});
  }
  auto lease = database.lease();
  const long long seconds = tolerance.count();
  try {
    soci::row row;
    *lease << insert_policy, soci::use(seconds), soci::use(reason), soci::into(row);
    return policy_of(row);
  } catch (...) {
    rethrow_as_database_error("setting the posting policy");
  }
}

Expected<std::chrono::seconds, ValueRefusal> parse_tolerance(const std::string& text) {
  if (text.size() < 2 || text.size() > 12) {
    return unexpected(ValueRefusal{InvalidValue::malformed, "",
                                   fmt::format("\"{}\": expected a number and s, m, h or d (5m)", text)});
  }
  const char unit = text.back();
  long long per = 0;
  for (const auto& [u, seconds] : units) {
    if (u == unit) per = seconds;
  }
  long long n = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (per == 0 || error != std::errc() || end != text.data() + text.size() - 1 || n < 0) {
    return unexpected(ValueRefusal{InvalidValue::malformed, "",
                                   fmt::format("\"{}\": expected a whole number and s, m, h or d (5m)", text)});
  }
  if (n > future_tolerance_max.count() / per) {
    return unexpected(ValueRefusal{InvalidValue::out_of_range, "", fmt::format("\"{}\": more than 400 days", text)});
  }
  return std::chrono::seconds(n * per);
}

std::string format_tolerance(std::chrono::seconds tolerance) {
  const long long s = tolerance.count();
  for (const auto& [unit, per] : units) {
    if (s != 0 && s % per == 0) return fmt::format("{}{}", s / per, unit);
  }
  return "0s";
}

}  // namespace promoledger::ledger
