#pragma once
// Business days are calendar days in Asia/Shanghai (UTC+8), computed with Howard Hinnant's date/tz
// from the system tz database: a payment at 23:59:59 local and one at 00:00:00 belong to different days.

#include <date/date.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/refusal.hpp"

namespace promoledger::ledger {

inline constexpr std::string_view business_time_zone = "Asia/Shanghai";

using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

date::year_month_day business_day_of(Timestamp at);
// Local wall-clock time of day in the business zone (for campaign time windows).
std::chrono::microseconds local_time_of_day(Timestamp at);

// "YYYY-MM-DD", strict: a real calendar date, four-digit year 2000..2199.
Expected<date::year_month_day, ValueRefusal> parse_day(std::string_view text);
std::string format_day(date::year_month_day day);
// A range of business days for a report: both strict days, from <= to, at most ten years apart. The
// refusal's field is "from" or "to" (a reversed or too long range: "from").
inline constexpr int day_range_days_max = 3660;
Expected<std::pair<date::year_month_day, date::year_month_day>, ValueRefusal> parse_day_range(std::string_view from,
                                                                                              std::string_view to);

// Accepts "YYYY-MM-DDTHH:MM:SS[.ffffff]" followed by "Z" or "+HH:MM"/"-HH:MM", or without an offset
// (then it is local Asia/Shanghai time). A space may replace the 'T'.
Expected<Timestamp, ValueRefusal> parse_timestamp(std::string_view text);
// Whether a timestamp text carries its offset (Z or +HH:MM / -HH:MM after the seconds).
bool has_utc_offset(std::string_view text);
// "YYYY-MM-DD HH:MM:SS.ffffff+00" (UTC), the form PostgreSQL reads as timestamptz.
std::string format_timestamp_utc(Timestamp at);
// "YYYY-MM-DD HH:MM:SS" in Asia/Shanghai, for people.
std::string format_timestamp_local(Timestamp at);

Timestamp now();

}  // namespace promoledger::ledger
