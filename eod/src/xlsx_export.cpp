#include "promoledger/eod/xlsx_export.hpp"

#include <xlsxwriter.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>

namespace promoledger::eod {
namespace {

enum class CellKind { text, count, money, percent };

// What a right-aligned cell of the tables holds: "12" a count, "12.34" money, "2.15%" a share.
CellKind kind_of(const std::string& cell) {
  if (cell.empty()) return CellKind::text;
  if (cell.back() == '%') return CellKind::percent;
  const bool numeric = std::all_of(cell.begin(), cell.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '-'; });
  if (!numeric) return CellKind::text;
  return cell.find('.') == std::string::npos ? CellKind::count : CellKind::money;
}

void check(lxw_error rc, const std::string& what) {
  if (rc != LXW_NO_ERROR) throw std::runtime_error(fmt::format("xlsx: {}: {}", what, lxw_strerror(rc)));
}

std::size_t width_of(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

void write_xlsx(const std::string& path, const std::vector<XlsxSheet>& sheets) {
  lxw_workbook* wb = workbook_new(path.c_str());
  if (wb == nullptr) throw std::runtime_error(fmt::format("xlsx: cannot create {}", path));
  // Formats belong to the workbook: created once, freed by workbook_close.
  const auto make = [&](bool bold, const char* number_format) {
    lxw_format* f = workbook_add_format(wb);
    if (bold) format_set_bold(f);
    if (number_format != nullptr) format_set_num_format(f, number_format);
    return f;
  };
  lxw_format* header = make(true, nullptr);
  format_set_bottom(header, LXW_BORDER_THIN);
  lxw_format* formats[2][4] = {{make(false, nullptr), make(false, "0"), make(false, "0.00"), make(false, "0.00%")},
                               {make(true, nullptr), make(true, "0"), make(true, "0.00"), make(true, "0.00%")}};
  for (const XlsxSheet& sheet : sheets) {
    lxw_worksheet* ws = workbook_add_worksheet(wb, sheet.name.c_str());
    if (ws == nullptr) {
      workbook_close(wb);
      throw std::runtime_error(fmt::format("xlsx: cannot add sheet \"{}\"", sheet.name));
    }
    const auto& t = sheet.table;
    std::vector<std::size_t> widths(t.headers.size(), 8);
    for (std::size_t c = 0; c < t.headers.size(); ++c) {
      worksheet_write_string(ws, 0, static_cast<lxw_col_t>(c), t.headers[c].c_str(), header);
      widths[c] = std::max(widths[c], width_of(t.headers[c]) + 2);
    }
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      const bool bold = r < sheet.bold_rows.size() && sheet.bold_rows[r];
      const auto row = static_cast<lxw_row_t>(r + 1);
      for (std::size_t c = 0; c < t.rows[r].size() && c < t.headers.size(); ++c) {
        const std::string& cell = t.rows[r][c];
        widths[c] = std::max(widths[c], width_of(cell) + 2);
        const bool number_column = c < t.right.size() && t.right[c];
        const CellKind kind = number_column ? kind_of(cell) : CellKind::text;
        const auto col = static_cast<lxw_col_t>(c);
        lxw_format* f = formats[bold ? 1 : 0][static_cast<int>(kind)];
        switch (kind) {
          case CellKind::text:
            if (!cell.empty()) worksheet_write_string(ws, row, col, cell.c_str(), f);
            break;
          case CellKind::count:
          case CellKind::money:
            worksheet_write_number(ws, row, col, std::strtod(cell.c_str(), nullptr), f);
            break;
          case CellKind::percent:
            // "2.15%" is written as 0.0215 shown as 2.15%: the decimal text divided in text, not in double.
            worksheet_write_number(ws, row, col, std::strtod((cell.substr(0, cell.size() - 1) + "e-2").c_str(), nullptr), f);
            break;
        }
      }
    }
    for (std::size_t c = 0; c < widths.size(); ++c) {
      worksheet_set_column(ws, static_cast<lxw_col_t>(c), static_cast<lxw_col_t>(c),
                           static_cast<double>(std::min<std::size_t>(widths[c], 60)), nullptr);
    }
    worksheet_freeze_panes(ws, 1, 0);
  }
  check(workbook_close(wb), "writing " + path);
}

void write_outlet_report_xlsx(const std::string& path, const promo::OutletReport& report) {
  XlsxSheet outlets{"outlets", promo::views::outlet_table(report.rows), {}};
  // The table keeps the report's rows in order (the level applied in SQL): a row is a subtotal when its level
  // column says sub_branch or branch.
  for (const auto& row : outlets.table.rows) outlets.bold_rows.push_back(!row.empty() && row[0] != "outlet");
  XlsxSheet budgets{"budgets", promo::views::budget_table(report.budgets), {}};
  write_xlsx(path, {outlets, budgets});
}

std::string outlet_report_xlsx(const promo::OutletReport& report) {
  std::string path = (std::filesystem::temp_directory_path() / "promoledger-outlets-XXXXXX").string();
  const int fd = mkstemp(path.data());
  if (fd < 0) throw std::runtime_error("xlsx: cannot create a temporary file");
  close(fd);
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove{path};
  write_outlet_report_xlsx(path, report);
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_campaign_report_xlsx(const std::string& path, const promo::CampaignReport& report) {
  XlsxSheet sheet{fmt::format("campaign {}", report.campaign_id), promo::views::campaign_report_table(report.rows), {}};
  for (const auto& row : sheet.table.rows) sheet.bold_rows.push_back(!row.empty() && row[0] == "total");
  write_xlsx(path, {sheet});
}

}  // namespace promoledger::eod
