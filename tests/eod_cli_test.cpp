// The end of the day as operations meet it: the promoledger command (PROMOLEDGER_BIN) on the fixture's
// closed day. gl map/extract/lines/status/ack, statement merchant, clearing-file and reconcile with
// their exit codes and the one refusal shape under --json; and the finance exports: `report outlets
// --xlsx` and `report campaign --xlsx` unzipped (unzip) and their sheet XML read with libxml2, figure
// by figure against --json.
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"
#include "eod_fixture.hpp"

namespace promoledger::testing {
namespace {

using nlohmann::json;

class EodCliTest : public EodTest {
 protected:
  void SetUp() override {
    EodTest::SetUp();
    const auto bin = promoledger_bin();
    ASSERT_TRUE(bin.has_value()) << "PROMOLEDGER_BIN is not set (scripts/test.sh sets it to the built promoledger)";
    ASSERT_TRUE(std::filesystem::exists(*bin)) << *bin;
    dir_ = std::filesystem::temp_directory_path() / ("promoledger-eod-cli-" + tdb_.name());
    cli_.emplace(*bin, tdb_.conninfo(), dir_);
  }
  void TearDown() override { cli_.reset(); }
  CliRun run(const std::vector<std::string>& args, bool as_json = false) { return cli_->run(args, as_json); }
  std::filesystem::path dir_;
  std::optional<CliRunner> cli_;
};

TEST_F(EodCliTest, GlCommandsExtractDrillAcknowledgeAndRefuseInTheOneShape) {
  const auto refused = run({"gl", "extract", "--date", "2026-11-24", "--out", (dir_ / "gl").string()}, true);
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  const json error = json::parse(refused.out);
  EXPECT_EQ(error["error"], "unmapped_accounts");
  EXPECT_EQ(error["field"], "mapping");
  EXPECT_NE(error["message"].get<std::string>().find("payer:P1:deposit"), std::string::npos);
  EXPECT_EQ(run({"gl", "extract", "--date", "2026-11-25"}).exit_code, 1);
  EXPECT_EQ(run({"gl", "extract", "--date", "2026-13-01"}).exit_code, 2);

  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--class", "payer_deposit", "--gl", "201101", "--org", "BR1"},
           {"--class", "bank_funding", "--gl", "100101", "--org", "BR1"},
           {"--class", "merchant_settlement", "--gl", "224101"},
           {"--class", "outlet_subsidy", "--campaign-gl"},
           {"--class", "inter_unit", "--gl", "300101"}}) {
    std::vector<std::string> cmd{"gl", "map", "set"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    cmd.insert(cmd.end(), {"--reason", "the bank's chart of accounts"});
    const auto set = run(cmd);
    EXPECT_EQ(set.exit_code, 0) << set.err;
  }
  EXPECT_EQ(run({"gl", "map", "set", "--class", "payer_deposit", "--gl", "2011-01", "--org", "BR1", "--reason", "x"}).exit_code,
            2);
  const json mapping = json::parse(run({"gl", "map", "show"}, true).out);
  EXPECT_EQ(mapping.size(), 5u);

  const auto extract = run({"gl", "extract", "--date", "2026-11-24", "--out", (dir_ / "gl").string()}, true);
  ASSERT_EQ(extract.exit_code, 0) << extract.err;
  const json files = json::parse(extract.out)["files"];
  ASSERT_EQ(files.size(), 2u);
  const std::string first = slurp(files[0]["path"].get<std::string>());
  EXPECT_TRUE(first.starts_with("H,PROMO-20261124-BR1-001,PROMOLEDGER,2026-11-24,")) << first;
  const auto again = run({"gl", "extract", "--date", "2026-11-24", "--out", (dir_ / "again").string()});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(slurp(dir_ / "again" / "GL_PROMO_20261124_BR1_001.csv"), first);

  const json drill = json::parse(run({"gl", "lines", "--batch", "PROMO-20261124-BR2-001", "--line", "1"}, true).out);
  EXPECT_EQ(drill["record"]["org_code"], "O3");
  EXPECT_EQ(drill["lines"].size(), 2u);
  EXPECT_EQ(run({"gl", "lines", "--batch", "PROMO-20261124-BR2-001", "--line", "9"}).exit_code, 1);

  const std::string answers = cli_->file("answers.csv", "batch_id,status,reason\nPROMO-20261124-BR1-001,ACCEPTED,\n");
  EXPECT_EQ(run({"gl", "ack", answers}).exit_code, 0);
  const std::string conflicting = cli_->file("conflict.csv", "batch_id,status,reason\nPROMO-20261124-BR1-001,REJECTED,no\n");
  EXPECT_EQ(run({"gl", "ack", conflicting}).exit_code, 1);
  const std::string broken = cli_->file("broken.csv", "batch,status\n");
  EXPECT_EQ(run({"gl", "ack", broken}).exit_code, 2);
  const json status = json::parse(run({"gl", "status", "--date", "2026-11-24"}, true).out);
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(status[0]["status"], "accepted");
  EXPECT_EQ(status[1]["status"], "extracted");
}

TEST_F(EodCliTest, ReconcileExitsZeroWhenCleanOneOnDifferencesAndTwoOnABadFile) {
  const std::string clean = (dir_ / "wechat.csv").string();
  ASSERT_EQ(run({"clearing-file", "--profile", "wechat", "--date", "2026-11-24", "--out", clean}).exit_code, 0);
  const auto ok = run({"reconcile", "--profile", "wechat", "--date", "2026-11-24", clean});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("MATCHED"), std::string::npos) << ok.out;
  const auto ok_json = run({"reconcile", "--profile", "wechat", "--date", "2026-11-24", clean}, true);
  EXPECT_EQ(ok_json.exit_code, 0);
  EXPECT_EQ(json::parse(ok_json.out)["counts"]["MATCHED"], 3);
  EXPECT_EQ(json::parse(ok_json.out)["stored_before"], true);
  // One payment dropped from the bill (and its summary adjusted): LEDGER_ONLY, exit 1.
  const std::string bill = slurp(clean);
  std::string dropped;
  std::size_t rows = 0;
  for (std::size_t start = 0; start < bill.size();) {
    const std::size_t end = bill.find('\n', start);
    const std::string line = bill.substr(start, end - start + 1);
    start = end + 1;
    if (line.find("`e8,") != std::string::npos) continue;
    if (line.starts_with("`2026")) ++rows;
    if (line.starts_with("`") && !line.starts_with("`2026")) {
      dropped += fmt::format("`{},`102.10,`0.00,`0.00,`0.00000,`102.10,`0.00\n", rows);
      continue;
    }
    dropped += line;
  }
  const auto diff = run({"reconcile", "--profile", "wechat", "--date", "2026-11-24", cli_->file("dropped.csv", dropped)}, true);
  EXPECT_EQ(diff.exit_code, 1) << diff.out << diff.err;
  const json r = json::parse(diff.out);
  EXPECT_EQ(r["counts"]["LEDGER_ONLY"], 1);
  EXPECT_EQ(r["differences"][0]["payment_id"], "e8");
  EXPECT_EQ(r["difference"], "-9.99");
  // CSV: the differences table.
  const auto csv = run({"reconcile", "--csv", "--profile", "wechat", "--date", "2026-11-24", cli_->file("dropped.csv", dropped)});
  EXPECT_TRUE(csv.out.starts_with("item,category,payment_id")) << csv.out;
  EXPECT_NE(csv.out.find("LEDGER_ONLY,e8,"), std::string::npos);
  // A file cut short: exit 2, the refusal's line and field, nothing stored.
  const auto cut = run({"reconcile", "--profile", "wechat", "--date", "2026-11-24",
                        cli_->file("cut.csv", bill.substr(0, bill.find("总交易单数")))},
                       true);
  EXPECT_EQ(cut.exit_code, 2);
  const json e = json::parse(cut.out);
  EXPECT_EQ(e["error"], "truncated_file");
  EXPECT_EQ(e["field"].get<std::string>().substr(0, 5), "line ");
  EXPECT_EQ(scalar("SELECT count(*) FROM eod.recon_run"), 2);  // the clean file and the one without e8, once each
  EXPECT_EQ(run({"reconcile", "--profile", "swift", "--date", "2026-11-24", clean}).exit_code, 2);
}

TEST_F(EodCliTest, StatementWritesCamtOrCsv) {
  const auto xml = run({"statement", "merchant", "M3", "--date", "2026-11-24"});
  ASSERT_EQ(xml.exit_code, 0) << xml.err;
  EXPECT_NE(xml.out.find("urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"), std::string::npos);
  const auto v12 = run({"statement", "merchant", "M3", "--date", "2026-11-24", "--camt-version", "12",
                        "--out", (dir_ / "m3.xml").string()});
  ASSERT_EQ(v12.exit_code, 0);
  EXPECT_NE(slurp(dir_ / "m3.xml").find("camt.053.001.12"), std::string::npos);
  const auto csv = run({"statement", "merchant", "M3", "--date", "2026-11-24", "--format", "csv"});
  EXPECT_TRUE(csv.out.starts_with("record,")) << csv.out;
  const json figures = json::parse(run({"statement", "merchant", "M3", "--date", "2026-11-24"}, true).out);
  EXPECT_EQ(figures["entries"].size(), 4u);
  EXPECT_EQ(run({"statement", "merchant", "M3", "--date", "2026-11-25"}).exit_code, 1);
  EXPECT_EQ(run({"statement", "merchant", "M3", "--date", "2026-11-24", "--camt-version", "5"}).exit_code, 2);
}

// ---------------------------------------------------------------------------------------------------
// xlsx: the sheet XML of an unzipped workbook.

struct Sheet {
  std::map<std::pair<int, int>, std::string> values;  // (row, column), 1-based: a number's text or a string
  std::map<std::pair<int, int>, bool> bold;
  std::map<std::pair<int, int>, bool> number;  // a number cell (no t attribute), not a string
  bool frozen_header = false;
};

class XmlDoc {
 public:
  explicit XmlDoc(const std::filesystem::path& path) : doc_(xmlReadFile(path.c_str(), nullptr, XML_PARSE_NONET)) {
    ctx_ = xmlXPathNewContext(doc_);
    xmlXPathRegisterNs(ctx_, reinterpret_cast<const xmlChar*>("m"),
                       reinterpret_cast<const xmlChar*>("http://schemas.openxmlformats.org/spreadsheetml/2006/main"));
  }
  ~XmlDoc() {
    xmlXPathFreeContext(ctx_);
    xmlFreeDoc(doc_);
  }
  bool ok() const { return doc_ != nullptr; }
  std::vector<xmlNodePtr> nodes(const char* path, xmlNodePtr at = nullptr) {
    std::vector<xmlNodePtr> out;
    xmlXPathObjectPtr r = at != nullptr ? xmlXPathNodeEval(at, reinterpret_cast<const xmlChar*>(path), ctx_)
                                        : xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(path), ctx_);
    if (r != nullptr && r->nodesetval != nullptr) {
      for (int i = 0; i < r->nodesetval->nodeNr; ++i) out.push_back(r->nodesetval->nodeTab[i]);
    }
    xmlXPathFreeObject(r);
    return out;
  }
  static std::string text(xmlNodePtr n) {
    xmlChar* t = xmlNodeGetContent(n);
    std::string s = t != nullptr ? reinterpret_cast<const char*>(t) : "";
    xmlFree(t);
    return s;
  }
  static std::string attr(xmlNodePtr n, const char* name) {
    xmlChar* t = xmlGetProp(n, reinterpret_cast<const xmlChar*>(name));
    std::string s = t != nullptr ? reinterpret_cast<const char*>(t) : "";
    xmlFree(t);
    return s;
  }

 private:
  xmlDocPtr doc_;
  xmlXPathContextPtr ctx_ = nullptr;
};

Sheet read_sheet(const std::filesystem::path& unzipped, int sheet_no) {
  Sheet sheet;
  std::vector<std::string> shared;
  XmlDoc strings(unzipped / "xl" / "sharedStrings.xml");
  if (strings.ok()) {
    for (xmlNodePtr si : strings.nodes("//m:si")) shared.push_back(XmlDoc::text(si));
  }
  // Bold cell styles: cellXfs[s] -> fonts[fontId] has <b/>.
  XmlDoc styles(unzipped / "xl" / "styles.xml");
  std::vector<bool> bold_font;
  for (xmlNodePtr font : styles.nodes("//m:fonts/m:font")) bold_font.push_back(!styles.nodes("m:b", font).empty());
  std::vector<bool> bold_style;
  for (xmlNodePtr xf : styles.nodes("//m:cellXfs/m:xf")) {
    const std::size_t font = std::stoul(XmlDoc::attr(xf, "fontId"));
    bold_style.push_back(font < bold_font.size() && bold_font[font]);
  }
  XmlDoc doc(unzipped / "xl" / "worksheets" / fmt::format("sheet{}.xml", sheet_no));
  EXPECT_TRUE(doc.ok());
  sheet.frozen_header = !doc.nodes("//m:sheetView/m:pane[@state='frozen' and @ySplit='1']").empty();
  for (xmlNodePtr c : doc.nodes("//m:sheetData/m:row/m:c")) {
    const std::string ref = XmlDoc::attr(c, "r");
    int col = 0;
    std::size_t i = 0;
    for (; i < ref.size() && ref[i] >= 'A' && ref[i] <= 'Z'; ++i) col = col * 26 + (ref[i] - 'A' + 1);
    const int row = std::stoi(ref.substr(i));
    const auto v = doc.nodes("m:v", c);
    std::string value = v.empty() ? "" : XmlDoc::text(v[0]);
    const std::string type = XmlDoc::attr(c, "t");
    if (type == "s") value = shared.at(std::stoul(value));
    sheet.number[{row, col}] = type.empty();
    sheet.values[{row, col}] = value;
    const std::string s = XmlDoc::attr(c, "s");
    sheet.bold[{row, col}] = !s.empty() && std::stoul(s) < bold_style.size() && bold_style[std::stoul(s)];
  }
  return sheet;
}

// Compares one JSON table (an array of objects keyed by the headers) with a sheet: the header row, then
// every cell: text as text, money and counts as numbers of the same decimal value, shares as percentages.
void expect_sheet_matches(const Sheet& sheet, const json& rows, const std::vector<std::string>& headers) {
  EXPECT_TRUE(sheet.frozen_header);
  for (std::size_t c = 0; c < headers.size(); ++c) {
    EXPECT_EQ(sheet.values.at({1, static_cast<int>(c + 1)}), headers[c]);
  }
  ASSERT_GT(rows.size(), 0u);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t c = 0; c < headers.size(); ++c) {
      const std::string expected = rows[r][headers[c]].get<std::string>();
      const auto key = std::pair{static_cast<int>(r + 2), static_cast<int>(c + 1)};
      const auto found = sheet.values.find(key);
      if (expected.empty()) {
        EXPECT_TRUE(found == sheet.values.end() || found->second.empty());
        continue;
      }
      ASSERT_NE(found, sheet.values.end()) << "row " << r + 2 << " column " << headers[c];
      const std::string& cell = found->second;
      if (expected.back() == '%') {
        EXPECT_TRUE(sheet.number.at(key)) << headers[c];
        EXPECT_EQ(fmt::format("{:.2f}%", std::strtod(cell.c_str(), nullptr) * 100), expected) << headers[c];
      } else if (ledger::Money::parse(expected).has_value()) {
        // A number cell holding exactly the double nearest the decimal amount: what a spreadsheet reads
        // for "102.10" (libxlsxwriter writes 16 significant digits, "8.720000000000001" for 8.72).
        EXPECT_TRUE(sheet.number.at(key)) << headers[c] << " row " << r + 2 << " is not a number";
        EXPECT_EQ(std::strtod(cell.c_str(), nullptr), std::strtod(expected.c_str(), nullptr))
            << headers[c] << " row " << r + 2 << ": \"" << cell << "\" for " << expected;
      } else {
        EXPECT_EQ(cell, expected) << headers[c];
      }
    }
  }
}

TEST_F(EodCliTest, XlsxExportsHoldTheJsonsFiguresWithSubtotalsInBold) {
  const std::string outlets_xlsx = (dir_ / "outlets.xlsx").string();
  const auto outlets = run({"report", "outlets", "--from", "2026-11-23", "--to", "2026-11-24", "--xlsx", outlets_xlsx}, true);
  ASSERT_EQ(outlets.exit_code, 0) << outlets.err;
  const json report = json::parse(outlets.out);
  const std::filesystem::path unzipped = dir_ / "outlets";
  ASSERT_EQ(CliRunner::run_shell(fmt::format("unzip -q -o {} -d {}", shell_quote(outlets_xlsx), shell_quote(unzipped.string()))), 0);
  const Sheet sheet = read_sheet(unzipped, 1);
  const std::vector<std::string> headers{"level", "branch", "sub_branch", "outlet", "payments", "amount", "wechat", "alipay",
                                         "bank_app", "bank_app_amount", "bank_app_share", "discounted", "subsidy",
                                         "payer_part", "merchant_part", "reversed", "reversed_subsidy", "net_subsidy"};
  expect_sheet_matches(sheet, report["rows"], headers);
  // Subtotals (sub-branch, branch) bold, outlets not.
  for (std::size_t r = 0; r < report["rows"].size(); ++r) {
    const bool subtotal = report["rows"][r]["level"] != "outlet";
    EXPECT_EQ(sheet.bold.at({static_cast<int>(r + 2), 5}), subtotal) << "row " << r + 2;
  }
  expect_sheet_matches(read_sheet(unzipped, 2), report["budgets"],
                       {"campaign", "name", "status", "budget", "reserved", "spent", "left"});

  const std::string campaign_xlsx = (dir_ / "campaign.xlsx").string();
  const auto campaign = run({"report", "campaign", std::to_string(campaign_), "--xlsx", campaign_xlsx}, true);
  ASSERT_EQ(campaign.exit_code, 0) << campaign.err;
  const std::filesystem::path cz = dir_ / "campaign";
  ASSERT_EQ(CliRunner::run_shell(fmt::format("unzip -q -o {} -d {}", shell_quote(campaign_xlsx), shell_quote(cz.string()))), 0);
  const json rows = json::parse(campaign.out);
  const Sheet cs = read_sheet(cz, 1);
  expect_sheet_matches(cs, rows, {"business_day", "merchant", "outlet", "deck", "dealt", "used", "expired", "subsidy",
                                  "used_in_band", "band_share"});
  EXPECT_TRUE(cs.bold.at({static_cast<int>(rows.size() + 1), 1}));  // the total row
  EXPECT_FALSE(cs.bold.at({2, 1}));
}

}  // namespace
}  // namespace promoledger::testing
