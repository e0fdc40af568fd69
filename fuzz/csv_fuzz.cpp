// Fuzzes the strict CSV reader of the import commands (app/csv.cpp, parse_csv) with the two shapes
// it is used for: organisation files (5 fields a record) and payment files (6 fields a record). The
// whole input is one file and is read as both.
// Properties: never throws; an accepted file has only records of exactly `fields` fields, each at most
// csv_field_length_max bytes, with increasing 1-based line numbers no later than the file's last
// line; writing the records back out (every field quoted, "" for a quote, CRLF or LF) and reading
// that again gives the same fields; a rejected file gets a message that names the file.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "csv.hpp"
#include "fuzz_check.hpp"

using promoledger::app::CsvRow;
using promoledger::app::parse_csv;

namespace {

std::string write_csv(const std::vector<CsvRow>& rows, bool crlf) {
  std::string out;
  for (const CsvRow& row : rows) {
    for (std::size_t i = 0; i < row.fields.size(); ++i) {
      if (i > 0) out += ',';
      out += '"';
      for (char c : row.fields[i]) {
        if (c == '"') out += '"';
        out += c;
      }
      out += '"';
    }
    out += crlf ? "\r\n" : "\n";
  }
  return out;
}

void check(std::string_view text, std::size_t fields, bool crlf) {
  static constexpr std::string_view file = "fuzz.csv";
  std::optional<promoledger::Expected<std::vector<CsvRow>, promoledger::ledger::ValueRefusal>> parsed;
  FUZZ_NO_THROW(parsed.emplace(parse_csv(text, file, fields)));
  if (!*parsed) {
    FUZZ_CHECK(parsed->error().message.starts_with("fuzz.csv:"));
    return;
  }
  const std::vector<CsvRow>& rows = parsed->value();
  const std::size_t lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  std::size_t previous_line = 0;
  std::size_t bytes = 0;
  for (const CsvRow& row : rows) {
    FUZZ_CHECK(row.fields.size() == fields);
    FUZZ_CHECK(row.line > previous_line);
    FUZZ_CHECK(row.line <= lines);
    previous_line = row.line;
    for (const std::string& f : row.fields) {
      FUZZ_CHECK(f.size() <= promoledger::app::csv_field_length_max);
      bytes += f.size();
    }
  }
  // Fields are taken from the text, never invented: their bytes cannot outnumber the input's.
  FUZZ_CHECK(bytes <= text.size());
  const std::string written = write_csv(rows, crlf);
  auto again = parse_csv(written, file, fields);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->size() == rows.size());
  for (std::size_t r = 0; r < rows.size(); ++r) FUZZ_CHECK((*again)[r].fields == rows[r].fields);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = promoledger::fuzz::as_text(data, size);
  const bool crlf = size > 0 && (data[0] & 1) != 0;
  check(text, 5, crlf);  // organisation.csv: kind,code,name,parent,opening_balance
  check(text, 6, !crlf);  // payments.csv: payment_id,payer,merchant,channel,amount,at
  return 0;
}
