#include "promoledger/ledger/periods.hpp"

#include <soci/soci.h>

#include <charconv>

#include <fmt/format.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"

namespace promoledger::ledger {
namespace {

// The periods' session lock: taken before a close's REPEATABLE READ transaction begins (a lock taken
// inside it would come after its snapshot), and by archive and restore.
constexpr long long period_lock_key = 0x706c706572696f64;  // 'plperiod'

// Closing and verifying a month read all of its lines: far longer than the sessions' 30 s.
constexpr const char* long_statement_timeout = "SET LOCAL statement_timeout = '2h'";

PeriodRefusalOf refusal(PeriodRefusal code, std::string field, std::string message) {
  return PeriodRefusalOf(code, std::move(field), std::move(message));
}

// The session lock for as long as the object lives.
class PeriodLock {
 public:
  explicit PeriodLock(soci::session& s) : s_(s) { exec_script(s_, fmt::format("SELECT pg_advisory_lock({})", period_lock_key), "taking the periods' lock"); }
  ~PeriodLock() {
    try {
      exec_script(s_, fmt::format("SELECT pg_advisory_unlock({})", period_lock_key), "releasing the periods' lock");
    } catch (...) {
      // Released with the session anyway.
    }
  }
  PeriodLock(const PeriodLock&) = delete;
  PeriodLock& operator=(const PeriodLock&) = delete;

 private:
  soci::session& s_;
};

constexpr const char* period_columns =
    "to_char(p.month, 'YYYY-MM'), p.verified_lines, p.anchors, p.links, p.chain_digest, "
    "to_char(p.closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), p.closed_by, "
    "coalesce((SELECT e.event FROM ledger.period_event e WHERE e.month = p.month ORDER BY e.id DESC LIMIT 1), 'closed')";

Period period_from(const soci::row& r) {
  return Period{r.get<std::string>(0), r.get<long long>(1), r.get<long long>(2), r.get<long long>(3),
                r.get<std::string>(4), r.get<std::string>(5), r.get<std::string>(6), r.get<std::string>(7)};
}

}  // namespace

Expected<date::year_month, PeriodRefusalOf> parse_month(std::string_view text) {
  const auto bad = [&] {
    return unexpected(refusal(PeriodRefusal::invalid_month, "month",
                              fmt::format("month: \"{}\" is not a month between 2000-01 and 2199-12 (YYYY-MM)", text)));
  };
  if (text.size() != 7 || text[4] != '-') return bad();
  int year = 0;
  unsigned month = 0;
  const auto y = std::from_chars(text.data(), text.data() + 4, year);
  const auto m = std::from_chars(text.data() + 5, text.data() + 7, month);
  if (y.ec != std::errc{} || y.ptr != text.data() + 4 || m.ec != std::errc{} || m.ptr != text.data() + 7) return bad();
  if (year < 2000 || year > 2199 || month < 1 || month > 12) return bad();
  return date::year_month{date::year{year}, date::month{month}};
}

std::string format_month(date::year_month month) {
  return fmt::format("{:04}-{:02}", static_cast<int>(month.year()), static_cast<unsigned>(month.month()));
}

Expected<Period, PeriodRefusalOf> close_period(Database& database, date::year_month month) {
  const std::string first_day = format_day(month / date::day{1});
  auto lease = database.lease();
  soci::session& s = *lease;
  try {
    const PeriodLock lock(s);
    exec_script(s, "BEGIN ISOLATION LEVEL REPEATABLE READ", "beginning the close");
    try {
      exec_script(s, long_statement_timeout, "allowing the close its time");
      soci::rowset<soci::row> rows =
          (s.prepare << std::string("SELECT ") + period_columns + " FROM ledger.close_period(CAST(:m AS date)) p",
           soci::use(first_day));
      std::optional<Period> closed;
      for (const auto& r : rows) closed = period_from(r);
      exec_script(s, "COMMIT", "committing the close");
      if (!closed) throw DatabaseError("ledger.close_period returned no row", "XX000");
      return *closed;
    } catch (...) {
      try {
        exec_script(s, "ROLLBACK", "rolling back the close");
      } catch (...) {
      }
      throw;
    }
  } catch (...) {
    try {
      rethrow_as_database_error("closing the month");
    } catch (const DatabaseError& e) {
      if (!is_period_not_closable(e)) throw;
      return unexpected(refusal(PeriodRefusal::period_not_closable, "month", e.primary_message()));
    }
  }
}

std::vector<Period> list_periods(Database& database) {
  auto lease = database.lease();
  std::vector<Period> out;
  try {
    soci::rowset<soci::row> rows =
        (lease->prepare << std::string("SELECT ") + period_columns + " FROM ledger.period p ORDER BY p.month");
    for (const auto& r : rows) out.push_back(period_from(r));
  } catch (...) {
    rethrow_as_database_error("listing the closed months");
  }
  return out;
}

std::vector<std::string> archived_months(soci::session& session, date::year_month_day from, date::year_month_day to) {
  std::vector<std::string> out;
  const std::string f = format_day(from), t = format_day(to);
  try {
    soci::rowset<std::string> rows =
        (session.prepare << "SELECT to_char(m, 'YYYY-MM') FROM unnest(ledger.archived_months(CAST(:f AS date), "
                            "CAST(:t AS date))) AS m ORDER BY m",
         soci::use(f), soci::use(t));
    for (const auto& r : rows) out.push_back(r);
  } catch (...) {
    rethrow_as_database_error("reading the archived months");
  }
  return out;
}

std::vector<std::string> archived_months(Database& database, date::year_month_day from, date::year_month_day to) {
  auto lease = database.lease();
  return archived_months(*lease, from, to);
}

Maintenance maintain(Database& database) {
  auto lease = database.lease();
  Maintenance m;
  try {
    exec_script(*lease, "BEGIN", "beginning the maintenance");
    exec_script(*lease, long_statement_timeout, "allowing the maintenance its time");
    soci::indicator through_ind = soci::i_null;
    std::string through;
    long long guarded = 0, deleted = 0;
    *lease << "SELECT partitions_guarded, claims_deleted, coalesce(months_ahead::text, '') FROM ledger.maintain()",
        soci::into(guarded), soci::into(deleted), soci::into(through, through_ind);
    exec_script(*lease, "COMMIT", "committing the maintenance");
    m.partitions_guarded = guarded;
    m.claims_deleted = deleted;
    m.partitions_through = through;
  } catch (...) {
    try {
      exec_script(*lease, "ROLLBACK", "rolling back");
    } catch (...) {
    }
    rethrow_as_database_error("maintaining the partitions");
  }
  return m;
}

}  // namespace promoledger::ledger
