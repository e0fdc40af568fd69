#pragma once
// Finance exports that people open: `report outlets --xlsx FILE` and `report campaign --xlsx FILE`
// (libxlsxwriter). The sheets hold exactly the tables of --csv / --json (promo/views.hpp), so the three
// can never disagree: numbers as numbers (money with two decimals, shares as percentages), the
// roll-up's subtotal rows (sub-branch, branch, total) in bold, the header row frozen, column widths set.
//
// Money: an xlsx number is an IEEE double by the file format. Each cell holds the double nearest the
// table's exact decimal text ("1234.56", strtod), never a result computed in floating point; libxlsxwriter
// writes it with 16 significant digits ("8.720000000000001" for 8.72), which reads back as that same
// double, shown as 8.72 by the cell's "0.00" format (tests/eod_cli_test.cpp checks every cell).
//
// Thread safety: free functions.

#include <string>
#include <vector>

#include "promoledger/promo/finance.hpp"
#include "promoledger/promo/views.hpp"

namespace promoledger::eod {

struct XlsxSheet {
  std::string name;  // at most 31 characters
  promo::views::Table table;
  // Rows (0-based, in table.rows) written in bold: roll-up subtotals and totals.
  std::vector<bool> bold_rows;
};

// Writes the sheets to `path`; throws std::runtime_error with libxlsxwriter's words on failure.
void write_xlsx(const std::string& path, const std::vector<XlsxSheet>& sheets);

// `report outlets`: sheet "outlets" (the table at the report's level; sub-branch and branch rows bold)
// and sheet "budgets".
void write_outlet_report_xlsx(const std::string& path, const promo::OutletReport& report);
// The same workbook as bytes (the service's ?format=xlsx): written to a temporary file, read, removed
// (libxlsxwriter 1.1.4 writes files only).
std::string outlet_report_xlsx(const promo::OutletReport& report);
// `report campaign`: sheet "campaign <id>" (the "total" row bold).
void write_campaign_report_xlsx(const std::string& path, const promo::CampaignReport& report);

}  // namespace promoledger::eod
