// Fuzzes the day and timestamp parsers (ledger/business_day.hpp): parse_day and parse_timestamp on
// the whole input, parse_day_range on the input split at its first '|' (from|to).
// Properties: never throws; an accepted day is exactly its canonical "YYYY-MM-DD" text, a real date in
// 2000..2199; a range is accepted iff both days are and from <= to <= from + 3660 days; an accepted
// timestamp formats (UTC) back to text that parses to the same instant, and a timestamp given in local
// time (no offset) or in UTC (Z) lands on the business day / time of day it names.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <date/date.h>

#include "fuzz_check.hpp"
#include "promoledger/ledger/business_day.hpp"

namespace ledger = promoledger::ledger;

namespace {

using Day = date::year_month_day;

void check_day(std::string_view text) {
  std::optional<promoledger::Expected<Day, promoledger::ledger::ValueRefusal>> parsed;
  FUZZ_NO_THROW(parsed.emplace(ledger::parse_day(text)));
  if (!*parsed) {
    FUZZ_CHECK(!parsed->error().message.empty());
    return;
  }
  const Day d = parsed->value();
  FUZZ_CHECK(d.ok());
  FUZZ_CHECK(int(d.year()) >= 2000 && int(d.year()) <= 2199);
  FUZZ_CHECK(ledger::format_day(d) == text);  // strict: only the canonical form is accepted
}

void check_range(std::string_view text) {
  const std::size_t bar = text.find('|');
  if (bar == std::string_view::npos) return;
  const std::string_view from = text.substr(0, bar);
  const std::string_view to = text.substr(bar + 1);
  std::optional<promoledger::Expected<std::pair<Day, Day>, promoledger::ledger::ValueRefusal>> range;
  FUZZ_NO_THROW(range.emplace(ledger::parse_day_range(from, to)));
  const auto f = ledger::parse_day(from);
  const auto t = ledger::parse_day(to);
  const bool expect = f && t && date::sys_days{*f} <= date::sys_days{*t} &&
                      (date::sys_days{*t} - date::sys_days{*f}).count() <= ledger::day_range_days_max;
  FUZZ_CHECK(range->has_value() == expect);
  // A refused range names the end at fault.
  if (!*range) FUZZ_CHECK(range->error().field == "from" || range->error().field == "to");
  if (*range) {
    FUZZ_CHECK((*range)->first == *f);
    FUZZ_CHECK((*range)->second == *t);
  }
}

void check_timestamp(std::string_view text) {
  std::optional<promoledger::Expected<ledger::Timestamp, promoledger::ledger::ValueRefusal>> parsed;
  FUZZ_NO_THROW(parsed.emplace(ledger::parse_timestamp(text)));
  if (!*parsed) {
    FUZZ_CHECK(!parsed->error().message.empty());
    return;
  }
  const ledger::Timestamp at = parsed->value();
  // The shape: a strict day, 'T' or ' ', HH:MM:SS in range.
  FUZZ_CHECK(text.size() >= 19);
  const auto day = ledger::parse_day(text.substr(0, 10));
  FUZZ_CHECK(day.has_value());
  FUZZ_CHECK(text[10] == 'T' || text[10] == ' ');
  const int hh = (text[11] - '0') * 10 + (text[12] - '0');
  const int mm = (text[14] - '0') * 10 + (text[15] - '0');
  const int ss = (text[17] - '0') * 10 + (text[18] - '0');
  FUZZ_CHECK(hh <= 23 && mm <= 59 && ss <= 59);
  // The instant's wall-clock fields in the zone the text was written in.
  std::string_view rest = text.substr(19);
  std::int64_t micros = 0;
  if (!rest.empty() && rest[0] == '.') {
    rest.remove_prefix(1);
    std::size_t n = 0;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') micros = micros * 10 + (rest[n++] - '0');
    FUZZ_CHECK(n >= 1 && n <= 6);
    for (std::size_t i = n; i < 6; ++i) micros *= 10;
    rest.remove_prefix(n);
  }
  const auto wall = std::chrono::hours{hh} + std::chrono::minutes{mm} + std::chrono::seconds{ss} +
                    std::chrono::microseconds{micros};
  if (rest.empty()) {
    // Local Asia/Shanghai time: no daylight saving since 1991, so every local time exists once.
    FUZZ_CHECK(ledger::business_day_of(at) == *day);
    FUZZ_CHECK(ledger::local_time_of_day(at) == wall);
    FUZZ_CHECK(at.time_since_epoch() == (date::sys_days{*day}.time_since_epoch() + wall - std::chrono::hours{8}));
  } else if (rest == "Z") {
    FUZZ_CHECK(at.time_since_epoch() == date::sys_days{*day}.time_since_epoch() + wall);
  } else {
    // +HH:MM / -HH:MM / +HH: the instant lies within 14 hours of the wall clock read as UTC.
    FUZZ_CHECK(rest[0] == '+' || rest[0] == '-');
    const auto as_utc = date::sys_days{*day}.time_since_epoch() + wall;
    const auto shift = at.time_since_epoch() - as_utc;
    FUZZ_CHECK(shift <= std::chrono::hours{14} && shift >= -std::chrono::hours{14});
    FUZZ_CHECK(shift.count() == 0 || (shift < decltype(shift)::zero()) == (rest[0] == '+'));
  }
  // Round trip through the UTC form PostgreSQL reads ("YYYY-MM-DD HH:MM:SS.ffffff+00"), when that
  // UTC day is itself inside the accepted years (2000-01-01 at +08:00 is still 1999 in UTC).
  const std::string utc = ledger::format_timestamp_utc(at);
  const int utc_year = int(date::year_month_day{date::floor<date::days>(at)}.year());
  if (utc_year >= 2000 && utc_year <= 2199) {
    auto back = ledger::parse_timestamp(utc);
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(*back == at);
    std::string iso = utc.substr(0, utc.size() - 3) + "Z";
    iso[10] = 'T';
    auto back_iso = ledger::parse_timestamp(iso);
    FUZZ_CHECK(back_iso.has_value() && *back_iso == at);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = promoledger::fuzz::as_text(data, size);
  check_day(text);
  check_range(text);
  check_timestamp(text);
  return 0;
}
