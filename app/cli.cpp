#include "cli.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "promoledger/ledger/business_day.hpp"

namespace promoledger::app {

std::string default_actor() {
  for (const char* name : {"PROMOLEDGER_USER", "USER", "LOGNAME"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  }
  return "unknown";
}

date::year_month_day day_arg(const std::string& text, std::string_view flag) {
  auto day = ledger::parse_day(text);
  if (!day) bad_value(flag, day.error());
  return *day;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) usage_error(fmt::format("{}: cannot open the file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Context::conninfo() const {
  auto conninfo = ledger::conninfo_from(db_flag.empty() ? std::nullopt : std::optional<std::string>(db_flag));
  if (!conninfo) usage_error("no database: pass --db or set PROMOLEDGER_DB (a libpq connection string)");
  return *conninfo;
}

ledger::Database& Context::database() {
  if (!db) db = std::make_unique<ledger::Database>(ledger::DatabaseOptions{conninfo(), pool_size});
  return *db;
}

namespace {

std::size_t display_width(const std::string& s) {
  // Counts UTF-8 code points (not bytes) so Chinese names keep the columns roughly aligned.
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

void print_table(const Table& table, std::ostream& out) {
  std::vector<std::size_t> width(table.headers.size(), 0);
  for (std::size_t i = 0; i < table.headers.size(); ++i) width[i] = display_width(table.headers[i]);
  for (const auto& row : table.rows) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], display_width(row[i]));
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      const std::string pad(width[i] - std::min(width[i], display_width(cell)), ' ');
      const bool right = i < table.right.size() && table.right[i];
      text += (i ? "  " : "") + (right ? pad + cell : cell + (i + 1 < width.size() ? pad : ""));
    }
    out << text << '\n';
  };
  line(table.headers);
  std::vector<std::string> rule;
  for (std::size_t w : width) rule.emplace_back(w, '-');
  line(rule);
  for (const auto& row : table.rows) line(row);
}

void print_csv(const Table& table, std::ostream& out) { out << promo::views::csv(table); }

void print_json(const nlohmann::json& value, std::ostream& out) { out << value.dump(2) << '\n'; }

void print(const Context& ctx, const Table& table, std::ostream& out) {
  switch (ctx.format()) {
    case Format::table: print_table(table, out); return;
    case Format::csv: print_csv(table, out); return;
    case Format::json: print_json(promo::views::objects(table), out); return;
  }
}

}  // namespace promoledger::app
