#include "promoledger/ledger/business_day.hpp"

#include <date/tz.h>

#include <cctype>

#include <fmt/format.h>

namespace promoledger::ledger {
namespace {

const date::time_zone* zone() {
  // Looked up once; the tz database is immutable for the life of the process.
  static const date::time_zone* tz = date::locate_zone(business_time_zone);
  return tz;
}

bool digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return !s.empty();
}

int to_int(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

}  // namespace

date::year_month_day business_day_of(Timestamp at) {
  const auto local = zone()->to_local(at);
  return date::year_month_day{date::floor<date::days>(local)};
}

std::chrono::microseconds local_time_of_day(Timestamp at) {
  const auto local = zone()->to_local(at);
  return local - date::floor<date::days>(local);
}

Expected<date::year_month_day, ValueRefusal> parse_day(std::string_view text) {
  const auto bad = [&](std::string_view why, InvalidValue code = InvalidValue::malformed) {
    return unexpected(ValueRefusal{code, "", fmt::format("date \"{}\" {}", text.substr(0, 32), why)});
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad("is not of the form YYYY-MM-DD");
  if (!digits(text.substr(0, 4)) || !digits(text.substr(5, 2)) || !digits(text.substr(8, 2))) {
    return bad("is not of the form YYYY-MM-DD");
  }
  const int y = to_int(text.substr(0, 4));
  const unsigned m = static_cast<unsigned>(to_int(text.substr(5, 2)));
  const unsigned d = static_cast<unsigned>(to_int(text.substr(8, 2)));
  if (y < 2000 || y > 2199) return bad("has a year outside 2000..2199", InvalidValue::out_of_range);
  const date::year_month_day day{date::year{y}, date::month{m}, date::day{d}};
  if (!day.ok()) return bad("is not a calendar date");
  return day;
}

std::string format_day(date::year_month_day day) { return date::format("%F", day); }

Expected<std::pair<date::year_month_day, date::year_month_day>, ValueRefusal> parse_day_range(std::string_view from_text,
                                                                                              std::string_view to_text) {
  auto from = parse_day(from_text);
  if (!from) return unexpected(about("from", from.error()));
  auto to = parse_day(to_text);
  if (!to) return unexpected(about("to", to.error()));
  if (date::sys_days{*from} > date::sys_days{*to}) {
    return unexpected(ValueRefusal{InvalidValue::out_of_range, "from",
                                   fmt::format("from {} is after to {}", format_day(*from), format_day(*to))});
  }
  if ((date::sys_days{*to} - date::sys_days{*from}).count() > day_range_days_max) {
    return unexpected(ValueRefusal{InvalidValue::out_of_range, "from", "a range may cover at most ten years"});
  }
  return std::make_pair(*from, *to);
}

bool has_utc_offset(std::string_view text) {
  // After "YYYY-MM-DDTHH:MM:SS" comes an optional fraction, then Z or the signed offset.
  return text.size() > 19 && (text.back() == 'Z' || text.find_first_of("+-", 19) != std::string_view::npos);
}

Expected<Timestamp, ValueRefusal> parse_timestamp(std::string_view text) {
  const auto bad = [&](std::string_view why, InvalidValue code = InvalidValue::malformed) {
    return unexpected(ValueRefusal{code, "", fmt::format("timestamp \"{}\" {}", text.substr(0, 40), why)});
  };
  if (text.size() < 19) return bad("is not of the form YYYY-MM-DDTHH:MM:SS[.ffffff][Z|+HH:MM]");
  auto day = parse_day(text.substr(0, 10));
  if (!day) return unexpected(day.error());
  if (text[10] != 'T' && text[10] != ' ') return bad("needs 'T' between date and time");
  if (text[13] != ':' || text[16] != ':' || !digits(text.substr(11, 2)) || !digits(text.substr(14, 2)) ||
      !digits(text.substr(17, 2))) {
    return bad("has no time HH:MM:SS");
  }
  const int hh = to_int(text.substr(11, 2));
  const int mm = to_int(text.substr(14, 2));
  const int ss = to_int(text.substr(17, 2));
  if (hh > 23 || mm > 59 || ss > 59) return bad("has an impossible time of day");
  std::string_view rest = text.substr(19);
  long long micros = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    std::size_t n = 0;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
    if (n == 0 || n > 6) return bad("has 1..6 digits of fractional seconds");
    micros = to_int(rest.substr(0, n));
    for (std::size_t i = n; i < 6; ++i) micros *= 10;
    rest.remove_prefix(n);
  }
  const auto local_time = date::local_days{*day} + std::chrono::hours{hh} + std::chrono::minutes{mm} +
                          std::chrono::seconds{ss} + std::chrono::microseconds{micros};
  if (rest.empty()) {
    try {
      return Timestamp{zone()->to_sys(local_time, date::choose::earliest)};
    } catch (const std::exception& e) {
      return bad(e.what());
    }
  }
  if (rest == "Z" || rest == "+00" || rest == "+00:00") {
    return Timestamp{local_time.time_since_epoch()};
  }
  if ((rest.front() == '+' || rest.front() == '-') && (rest.size() == 6 || rest.size() == 3)) {
    const std::string_view oh = rest.substr(1, 2);
    const std::string_view om = rest.size() == 6 ? rest.substr(4, 2) : std::string_view{"00"};
    if (!digits(oh) || !digits(om) || (rest.size() == 6 && rest[3] != ':')) return bad("has a malformed UTC offset");
    const auto offset = std::chrono::hours{to_int(oh)} + std::chrono::minutes{to_int(om)};
    if (offset > std::chrono::hours{14}) return bad("has a UTC offset beyond 14 hours", InvalidValue::out_of_range);
    const auto utc = local_time.time_since_epoch() + (rest.front() == '+' ? -offset : offset);
    return Timestamp{std::chrono::duration_cast<std::chrono::microseconds>(utc)};
  }
  return bad("has trailing characters after the time");
}

std::string format_timestamp_utc(Timestamp at) { return date::format("%F %T", at) + "+00"; }

std::string format_timestamp_local(Timestamp at) {
  const auto local = zone()->to_local(date::floor<std::chrono::seconds>(at));
  return date::format("%F %T", local);
}

Timestamp now() { return date::floor<std::chrono::microseconds>(std::chrono::system_clock::now()); }

}  // namespace promoledger::ledger
