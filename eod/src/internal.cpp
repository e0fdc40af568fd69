#include "internal.hpp"

#include <algorithm>

namespace promoledger::eod::detail {

std::optional<std::string> close_time_local(soci::session& s, date::year_month_day day) {
  const std::string d = ledger::format_day(day);
  std::string text;
  soci::indicator ind = soci::i_null;
  s << "SELECT to_char(eod.close_time(CAST(:d AS date)) AT TIME ZONE 'Asia/Shanghai', "
       "'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"')",
      soci::use(d), soci::into(text, ind);
  if (ind == soci::i_null) return std::nullopt;
  return text;
}

std::optional<std::vector<std::string_view>> split_csv_line(std::string_view line, std::vector<std::string>& unquoted) {
  std::vector<std::string_view> fields;
  unquoted.clear();
  // Quoted fields are rare in these files; their unescaped text lives in `unquoted`, which must not
  // reallocate while views into it are held: reserve one slot per possible field first.
  std::size_t quotes = static_cast<std::size_t>(std::count(line.begin(), line.end(), '"'));
  unquoted.reserve(quotes / 2 + 1);
  std::size_t i = 0;
  while (true) {
    if (i < line.size() && line[i] == '"') {
      std::string value;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            value += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        value += line[i++];
      }
      if (!closed) return std::nullopt;
      // Anything between the closing quote and the next comma belongs to the field (tabs in Alipay's files).
      const std::size_t comma = line.find(',', i);
      const std::size_t end = comma == std::string_view::npos ? line.size() : comma;
      value.append(line.substr(i, end - i));
      unquoted.push_back(std::move(value));
      fields.emplace_back(unquoted.back());
      if (comma == std::string_view::npos) break;
      i = comma + 1;
      continue;
    }
    const std::size_t comma = line.find(',', i);
    if (comma == std::string_view::npos) {
      fields.push_back(line.substr(i));
      break;
    }
    fields.push_back(line.substr(i, comma - i));
    i = comma + 1;
  }
  return fields;
}

bool valid_utf8(std::string_view text, std::size_t* bad_offset) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned int cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      if (bad_offset != nullptr) *bad_offset = i;
      return false;
    }
    if (i + len > n) {
      if (bad_offset != nullptr) *bad_offset = i;
      return false;
    }
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) {
        if (bad_offset != nullptr) *bad_offset = i;
        return false;
      }
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      if (bad_offset != nullptr) *bad_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

std::size_t line_of_offset(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

}  // namespace promoledger::eod::detail
