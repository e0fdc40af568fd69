#include "csv.hpp"

#include <fmt/format.h>

namespace promoledger::app {
namespace {

Unexpected<ledger::ValueRefusal> malformed(std::string message) {
  return unexpected(ledger::ValueRefusal{ledger::InvalidValue::malformed, "", std::move(message)});
}

}  // namespace

Expected<std::vector<CsvRow>, ledger::ValueRefusal> parse_csv(std::string_view text, std::string_view file, std::size_t fields) {
  std::vector<CsvRow> rows;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::size_t i = 0;
  std::size_t line = 1;
  while (i < text.size()) {
    // Skip blank lines.
    if (text[i] == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++line;
      i += 2;
      continue;
    }
    CsvRow row{line, {}};
    std::string field;
    bool end_of_record = false;
    while (!end_of_record) {
      field.clear();
      if (i < text.size() && text[i] == '"') {
        ++i;
        bool closed = false;
        while (i < text.size()) {
          if (text[i] == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (text[i] == '\n') ++line;
          field += text[i++];
        }
        if (!closed) return malformed(fmt::format("{}:{}: a quoted field is not closed", file, row.line));
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          return malformed(fmt::format("{}:{}: text after a closing quote", file, line));
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"') return malformed(fmt::format("{}:{}: a quote inside an unquoted field", file, line));
          field += text[i++];
        }
      }
      if (field.size() > csv_field_length_max) {
        return malformed(fmt::format("{}:{}: field {} is longer than {} characters", file, row.line,
                                      row.fields.size() + 1, csv_field_length_max));
      }
      row.fields.push_back(field);
      if (i >= text.size()) {
        end_of_record = true;
      } else if (text[i] == ',') {
        ++i;
      } else if (text[i] == '\r') {
        if (i + 1 >= text.size() || text[i + 1] != '\n') {
          return malformed(fmt::format("{}:{}: a carriage return without a line feed", file, line));
        }
        i += 2;
        ++line;
        end_of_record = true;
      } else {  // '\n'
        ++i;
        ++line;
        end_of_record = true;
      }
    }
    if (row.fields.size() != fields) {
      return malformed(fmt::format("{}:{}: expected {} fields, found {}", file, row.line, fields, row.fields.size()));
    }
    if (rows.size() >= csv_rows_max) {
      return unexpected(
          ledger::ValueRefusal{ledger::InvalidValue::out_of_range, "", fmt::format("{}: more than {} lines", file, csv_rows_max)});
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace promoledger::app
