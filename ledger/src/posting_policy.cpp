#include "promoledger/ledger/posting_policy.hpp"

#include <array>
#include <charconv>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace promoledger::ledger {
namespace {

constexpr std::array<std::pair<char, long long>, 4> units{{{'d', 86'400}, {'h', 3'600}, {'m', 60}, {'s', 1}}};

#define PROMOLEDGER_POLICY_COLUMNS                                                                 \
  "SELECT extract(epoch FROM future_tolerance)::bigint, reason, "                                   \
  "to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), changed_by, "          \
  "floor(extract(epoch FROM replay_window) / 86400)::bigint "
constexpr const char* select_policy = PROMOLEDGER_POLICY_COLUMNS "FROM ledger.posting_policy ";
// The row a change adds, as stored, read back by the same statement: another change committed in
// between cannot be mistaken for this one. A value left NULL carries on from the row in force (l).
constexpr const char* insert_policy =
    "WITH l AS (SELECT future_tolerance, replay_window FROM ledger.posting_policy ORDER BY id DESC LIMIT 1), "
    "p AS (INSERT INTO ledger.posting_policy (future_tolerance, replay_window, reason) "
    "SELECT coalesce(make_interval(secs => :s), l.future_tolerance), "
    "coalesce(make_interval(days => CAST(:d AS integer)), l.replay_window), :r FROM l RETURNING *) "
    PROMOLEDGER_POLICY_COLUMNS "FROM p";
#undef PROMOLEDGER_POLICY_COLUMNS

PostingPolicy policy_of(const soci::row& row) {
  PostingPolicy p;
  p.future_tolerance = std::chrono::seconds(row.get<long long>(0));
  p.reason = row.get<std::string>(1);
  p.changed_at_utc = row.get<std::string>(2);
  p.changed_by = row.get<std::string>(3);
  p.replay_window = std::chrono::days(row.get<long long>(4));
  return p;
}

// "90s", "5m", "2h", "30d": a whole number and one unit, at most `max` (whose words are `max_words`).
Expected<std::chrono::seconds, ValueRefusal> parse_duration(const std::string& text, std::chrono::seconds max,
                                                            std::string_view max_words) {
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
  if (n > max.count() / per) {
    return unexpected(ValueRefusal{InvalidValue::out_of_range, "", fmt::format("\"{}\": more than {}", text, max_words)});
  }
  return std::chrono::seconds(n * per);
}

// A longer window brings back days whose claims (ledger.entry_ref) `db maintain` may have deleted under
// the shorter one, or whose month was archived: a replay of such a payment would find no claim and post
// again. So a lengthening is refused unless every entry of the days it brings back still has its claim
// and none of those months was ever archived. Under a SHARE lock on the claims (held to the commit), so
// that maintenance cannot delete one between this check and the new row; postings wait for that time.
// A shortening needs no check: it only refuses more.
std::optional<ValueRefusal> refuse_a_window_the_claims_cannot_answer(soci::session& s, std::chrono::days window) {
  long long in_force_days = 0;
  s << "SELECT floor(extract(epoch FROM ledger.replay_window()) / 86400)::bigint", soci::into(in_force_days);
  if (window.count() <= in_force_days) return std::nullopt;
  s << "LOCK TABLE ledger.entry_ref IN SHARE MODE";
  const int new_days = static_cast<int>(window.count());
  const int in_force = static_cast<int>(in_force_days);
  long long unclaimed = 0;
  long long archived_months = 0;
  std::string new_horizon;
  std::string horizon;
  s << "WITH h AS (SELECT ledger.replay_horizon() AS now_from, "
       "(ledger.replay_horizon() - (CAST(:w AS integer) - CAST(:c AS integer))) AS new_from) "
       "SELECT (SELECT count(*) FROM ledger.journal_entry e WHERE e.business_day >= h.new_from "
       "         AND e.business_day < h.now_from "
       "         AND NOT EXISTS (SELECT 1 FROM ledger.entry_ref c WHERE c.external_ref = e.external_ref)), "
       "       (SELECT count(DISTINCT ev.month) FROM ledger.period_event ev WHERE ev.event = 'archived' "
       "         AND ev.month < h.now_from AND (ev.month + interval '1 month')::date > h.new_from), "
       "       to_char(h.new_from, 'YYYY-MM-DD'), to_char(h.now_from, 'YYYY-MM-DD') FROM h",
      soci::use(new_days), soci::use(in_force), soci::into(unclaimed),
      soci::into(archived_months), soci::into(new_horizon), soci::into(horizon);
  if (unclaimed == 0 && archived_months == 0) return std::nullopt;
  return ValueRefusal{InvalidValue::out_of_range, "replay_window",
                      fmt::format("replay window {} days would reach back to {}, but the claims are kept only from {} "
                                  "on ({} entries before it have no claim, {} archived months): their replays "
                                  "would be posted as new payments",
                                  window.count(), new_horizon, horizon, unclaimed, archived_months)};
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
  return change_posting_policy(database, PolicyChange{tolerance, std::nullopt}, reason);
}

Expected<PostingPolicy, ValueRefusal> change_posting_policy(Database& database, const PolicyChange& change,
                                                            const std::string& reason) {
  if (!change.future_tolerance && !change.replay_window) {
    return unexpected(ValueRefusal{InvalidValue::malformed, "",
                                   "a policy change sets the future tolerance, the replay window or both"});
  }
  if (const auto t = change.future_tolerance; t && (t->count() < 0 || *t > future_tolerance_max)) {
    return unexpected(ValueRefusal{InvalidValue::out_of_range, "future_tolerance",
                                   fmt::format("future tolerance {} s is outside 0..{} s (400 days)", t->count(),
                                               future_tolerance_max.count())});
  }
  if (const auto w = change.replay_window; w && (*w < replay_window_min || *w > replay_window_max)) {
    return unexpected(ValueRefusal{InvalidValue::out_of_range, "replay_window",
                                   fmt::format("replay window {} days is outside {}..{} days", w->count(),
                                               replay_window_min.count(), replay_window_max.count())});
  }
  if (!reason_fits(reason)) {
    return unexpected(ValueRefusal{
        InvalidValue::out_of_range, "reason",
        fmt::format("reason: must be 1..{} bytes (say why the policy changes)", reason_bytes_max)});
  }
  long long seconds = change.future_tolerance.value_or(std::chrono::seconds{0}).count();
  soci::indicator seconds_ind = change.future_tolerance ? soci::i_ok : soci::i_null;
  int days = static_cast<int>(change.replay_window.value_or(std::chrono::days{0}).count());
  soci::indicator days_ind = change.replay_window ? soci::i_ok : soci::i_null;
  auto lease = database.lease();
  try {
    soci::transaction tx(*lease);
    // One change at a time (reads and postings go on: this mode conflicts only with writers of the table).
    *lease << "LOCK TABLE ledger.posting_policy IN SHARE ROW EXCLUSIVE MODE";
    if (change.replay_window) {
      if (auto refused = refuse_a_window_the_claims_cannot_answer(*lease, *change.replay_window)) {
        tx.rollback();
        return unexpected(std::move(*refused));
      }
    }
    soci::row row;
    *lease << insert_policy, soci::use(seconds, seconds_ind), soci::use(days, days_ind), soci::use(reason),
        soci::into(row);
    // Migration 0009 writes the first row and the table refuses DELETE and TRUNCATE, so l has a row.
    if (!lease->got_data()) throw DatabaseError("ledger.posting_policy is empty: the database was altered", "");
    PostingPolicy added = policy_of(row);
    tx.commit();
    return added;
  } catch (...) {
    rethrow_as_database_error("setting the posting policy");
  }
}

Expected<std::chrono::seconds, ValueRefusal> parse_tolerance(const std::string& text) {
  return parse_duration(text, future_tolerance_max, "400 days");
}

Expected<std::chrono::days, ValueRefusal> parse_replay_window(const std::string& text) {
  const auto seconds = parse_duration(text, replay_window_max, fmt::format("{} days", replay_window_max.count()));
  if (!seconds) return unexpected(seconds.error());
  constexpr long long day_s = 86'400;
  if (seconds->count() % day_s != 0) {
    return unexpected(ValueRefusal{InvalidValue::malformed, "",
                                   fmt::format("\"{}\": the replay window is whole days (400d)", text)});
  }
  const std::chrono::days days(seconds->count() / day_s);
  if (days < replay_window_min) {
    return unexpected(ValueRefusal{InvalidValue::out_of_range, "", fmt::format("\"{}\": less than a day", text)});
  }
  return days;
}

std::string format_tolerance(std::chrono::seconds tolerance) {
  const long long s = tolerance.count();
  for (const auto& [unit, per] : units) {
    if (s != 0 && s % per == 0) return fmt::format("{}{}", s / per, unit);
  }
  return "0s";
}

}  // namespace promoledger::ledger
