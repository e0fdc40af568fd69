// Merchant statements in ISO 20022 camt.053 (eod/statement.hpp): every statement the tests produce is
// validated against the vendored XSDs (eod/schemas/) with libxml2's xmlSchemaValidateDoc, in both
// versions; OPBD + credits - debits = CLBD for a day with payments, a day with a reversal and a day with
// none; the figures of the XML are read back with XPath, not compared as strings.
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eod_fixture.hpp"
#include "promoledger/eod/statement.hpp"

#ifndef PROMOLEDGER_SCHEMA_DIR
#error "PROMOLEDGER_SCHEMA_DIR must be defined by the build (eod/schemas)"
#endif

namespace promoledger::testing {
namespace {

std::string schema_path(eod::CamtVersion v) {
  return std::string(PROMOLEDGER_SCHEMA_DIR) + (v == eod::CamtVersion::v02 ? "/camt.053.001.02.xsd" : "/camt.053.001.12.xsd");
}

// The validation errors libxml2 reports ("" when the document is valid).
std::string schema_errors(const std::string& xml, eod::CamtVersion version) {
  std::string errors;
  xmlSchemaParserCtxtPtr pctx = xmlSchemaNewParserCtxt(schema_path(version).c_str());
  xmlSchemaPtr schema = xmlSchemaParse(pctx);
  xmlSchemaFreeParserCtxt(pctx);
  if (schema == nullptr) return "the schema " + schema_path(version) + " does not parse";
  xmlDocPtr doc = xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "statement.xml", nullptr, XML_PARSE_NONET);
  if (doc == nullptr) {
    xmlSchemaFree(schema);
    return "the statement is not well-formed XML";
  }
  xmlSchemaValidCtxtPtr vctx = xmlSchemaNewValidCtxt(schema);
  xmlSchemaSetValidStructuredErrors(
      vctx, [](void* out, xmlErrorPtr e) { *static_cast<std::string*>(out) += fmt::format("line {}: {}", e->line, e->message); },
      &errors);
  const int rc = xmlSchemaValidateDoc(vctx, doc);
  if (rc != 0 && errors.empty()) errors = fmt::format("xmlSchemaValidateDoc returned {}", rc);
  xmlSchemaFreeValidCtxt(vctx);
  xmlFreeDoc(doc);
  xmlSchemaFree(schema);
  return errors;
}

// XPath over a statement, with the document's namespace bound to "c".
class Xml {
 public:
  Xml(const std::string& xml, eod::CamtVersion v)
      : doc_(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "s.xml", nullptr, XML_PARSE_NONET)) {
    ctx_ = xmlXPathNewContext(doc_);
    xmlXPathRegisterNs(ctx_, reinterpret_cast<const xmlChar*>("c"),
                       reinterpret_cast<const xmlChar*>(std::string(eod::namespace_of(v)).c_str()));
  }
  ~Xml() {
    xmlXPathFreeContext(ctx_);
    xmlFreeDoc(doc_);
  }
  std::vector<std::string> all(const std::string& path) {
    std::vector<std::string> out;
    xmlXPathObjectPtr r = xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(path.c_str()), ctx_);
    if (r != nullptr && r->nodesetval != nullptr) {
      for (int i = 0; i < r->nodesetval->nodeNr; ++i) {
        xmlChar* text = xmlNodeGetContent(r->nodesetval->nodeTab[i]);
        out.emplace_back(reinterpret_cast<const char*>(text));
        xmlFree(text);
      }
    }
    xmlXPathFreeObject(r);
    return out;
  }
  std::string one(const std::string& path) {
    auto v = all(path);
    EXPECT_EQ(v.size(), 1u) << path;
    return v.empty() ? "" : v[0];
  }

 private:
  xmlDocPtr doc_;
  xmlXPathContextPtr ctx_ = nullptr;
};

ledger::WideFen fen(const std::string& text) { return ledger::Money::parse(text).value().fen(); }

class StatementTest : public EodTest {
 protected:
  // Validates both versions, checks OPBD + credits - debits = CLBD on the XML's own figures, and returns
  // the 02 document's figures.
  eod::MerchantStatement checked(const char* merchant, const char* business_day) {
    auto st = eod::merchant_statement(db(), merchant, day(business_day));
    EXPECT_TRUE(st.has_value()) << (st ? "" : st.error().message);
    if (!st) return {};
    for (const auto v : {eod::CamtVersion::v02, eod::CamtVersion::v12}) {
      const std::string xml = eod::to_camt053(*st, v);
      EXPECT_EQ(schema_errors(xml, v), "") << merchant << " " << business_day << "\n" << xml;
      Xml x(xml, v);
      const auto sign = [&](const std::string& ind) { return ind == "CRDT" ? 1 : -1; };
      const ledger::WideFen opening =
          fen(x.one("//c:Bal[c:Tp/c:CdOrPrtry/c:Cd='OPBD']/c:Amt")) * sign(x.one("//c:Bal[c:Tp/c:CdOrPrtry/c:Cd='OPBD']/c:CdtDbtInd"));
      const ledger::WideFen closing =
          fen(x.one("//c:Bal[c:Tp/c:CdOrPrtry/c:Cd='CLBD']/c:Amt")) * sign(x.one("//c:Bal[c:Tp/c:CdOrPrtry/c:Cd='CLBD']/c:CdtDbtInd"));
      ledger::WideFen credits = 0, debits = 0;
      const auto amounts = x.all("//c:Ntry/c:Amt");
      const auto indicators = x.all("//c:Ntry/c:CdtDbtInd");
      EXPECT_EQ(amounts.size(), indicators.size());
      for (std::size_t i = 0; i < amounts.size() && i < indicators.size(); ++i) {
        (indicators[i] == "CRDT" ? credits : debits) += fen(amounts[i]);
      }
      EXPECT_EQ(opening + credits - debits, closing) << merchant << " " << business_day;
      EXPECT_EQ(opening, st->opening_fen);
      EXPECT_EQ(closing, st->closing_fen);
      EXPECT_EQ(x.one("//c:TxsSummry/c:TtlNtries/c:NbOfNtries"), std::to_string(amounts.size()));
      EXPECT_EQ(x.one("//c:Acct/c:Id/c:Othr/c:Id"), st->account_code);
    }
    return *st;
  }
};

TEST_F(StatementTest, ADayWithPaymentsValidatesInBothVersionsAndCarriesThePaymentIds) {
  const auto st = checked("M1", "2026-11-24");
  // M1 on 2026-11-24: e1 (bank app, discounted), e2 (WeChat), e9 (bank app, discounted).
  ASSERT_EQ(st.entries.size(), 3u);
  EXPECT_EQ(st.credit_count, 3);
  EXPECT_EQ(st.debit_count, 0);
  // The opening balance is the earlier day's e0 (WeChat 18.00, no discount).
  EXPECT_EQ(st.opening_fen, 1800);
  const std::string xml = eod::to_camt053(st, eod::CamtVersion::v02);
  Xml x(xml, eod::CamtVersion::v02);
  EXPECT_EQ(x.all("//c:Ntry/c:NtryDtls/c:TxDtls/c:Refs/c:EndToEndId"), (std::vector<std::string>{"e1", "e2", "e9"}));
  EXPECT_EQ(x.one("//c:Stmt/c:ElctrncSeqNb"), "20261124");
  EXPECT_EQ(x.all("//c:Ntry/c:Sts"), (std::vector<std::string>{"BOOK", "BOOK", "BOOK"}));
  EXPECT_EQ(x.all("//c:Ntry/c:BkTxCd/c:Prtry/c:Cd"),
            (std::vector<std::string>{"PROMO-SETTLEMENT", "PROMO-SETTLEMENT", "PROMO-SETTLEMENT"}));
  // e1: 100.00 with a discount: the merchant receives the amount plus its share, said in AddtlNtryInf.
  const auto& e1 = st.entries[0];
  EXPECT_TRUE(e1.merchant_share.is_positive());
  EXPECT_EQ(e1.amount.fen(), 10000 + e1.merchant_share.fen());
  EXPECT_EQ(x.all("//c:Ntry/c:AcctSvcrRef")[0], std::to_string(e1.entry_id));
  EXPECT_NE(x.all("//c:Ntry/c:AddtlNtryInf")[0].find("merchant reward " + e1.merchant_share.str()), std::string::npos);
  EXPECT_EQ(x.all("//c:Ntry/c:AddtlNtryInf")[1], "payment e2");
  Xml x12(eod::to_camt053(st, eod::CamtVersion::v12), eod::CamtVersion::v12);
  EXPECT_EQ(x12.all("//c:Ntry/c:Sts/c:Cd").size(), 3u);
}

TEST_F(StatementTest, ADayWithAReversalHasItsDebitWithTheReversalIndicator) {
  const auto st = checked("M3", "2026-11-24");
  // M3: e4 paid and reversed the same day, e5 (Alipay), and the reversal of e00 (paid 2026-11-23).
  ASSERT_EQ(st.entries.size(), 4u);
  EXPECT_EQ(st.debit_count, 2);
  Xml x(eod::to_camt053(st, eod::CamtVersion::v02), eod::CamtVersion::v02);
  EXPECT_EQ(x.all("//c:Ntry[c:RvslInd='true']/c:CdtDbtInd"), (std::vector<std::string>{"DBIT", "DBIT"}));
  EXPECT_EQ(x.all("//c:Ntry[c:RvslInd='true']/c:NtryDtls/c:TxDtls/c:Refs/c:EndToEndId"),
            (std::vector<std::string>{"e4", "e00"}));
  // The reversal of e00 takes back what the merchant received for it the day before.
  const auto opening_day = checked("M3", "2026-11-23");
  ASSERT_EQ(opening_day.entries.size(), 1u);
  EXPECT_EQ(st.entries[3].amount, opening_day.entries[0].amount);
  EXPECT_EQ(st.opening_fen, opening_day.closing_fen);
}

TEST_F(StatementTest, ADayWithoutEntriesHasEqualBalancesAndNoNtry) {
  // 2026-11-24 is closed, so 2026-11-22 is too; M4 had nothing on either day.
  const auto st = checked("M4", "2026-11-22");
  EXPECT_TRUE(st.entries.empty());
  EXPECT_EQ(st.opening_fen, 0);
  EXPECT_EQ(st.closing_fen, 0);
  const auto m1 = checked("M1", "2026-11-22");
  EXPECT_TRUE(m1.entries.empty());
  Xml x(eod::to_camt053(m1, eod::CamtVersion::v12), eod::CamtVersion::v12);
  EXPECT_EQ(x.one("//c:TxsSummry/c:TtlNtries/c:Sum"), "0.00");
  EXPECT_TRUE(x.all("//c:Ntry").empty());
}

TEST_F(StatementTest, ALongPaymentIdIsNotProvidedInEndToEndIdAndKeptWhole) {
  const std::string long_id = "core-banking-2026-11-25-000000000000000000000000000042";  // 53 characters
  promo::PaymentPoster poster(db());
  ASSERT_TRUE(poster.post(payment(long_id, "P20", "M4", promo::Channel::wechat, "15.00", "2026-11-25T10:00:00+08:00"))
                  .has_value());
  promo::close_day(db(), day("2026-11-25"));
  const auto st = checked("M4", "2026-11-25");
  Xml x(eod::to_camt053(st, eod::CamtVersion::v02), eod::CamtVersion::v02);
  EXPECT_EQ(x.one("//c:Refs/c:EndToEndId"), "NOTPROVIDED");
  EXPECT_EQ(x.one("//c:TxDtls/c:AddtlTxInf"), "payment_id " + long_id);
}

TEST_F(StatementTest, XmlSpecialCharactersInANameAreEscapedByTheWriter) {
  tdb_.exec_as_admin("SELECT ledger.add_merchant('M5', 'Tea & <Cakes> \"Zhang\"''s 茶', 'O3')");
  const auto st = checked("M5", "2026-11-24");
  Xml x(eod::to_camt053(st, eod::CamtVersion::v02), eod::CamtVersion::v02);
  EXPECT_EQ(x.one("//c:Acct/c:Nm"), "Tea & <Cakes> \"Zhang\"'s 茶");
}

TEST_F(StatementTest, AnOpenDayAndAnUnknownMerchantAreRefused) {
  auto open = eod::merchant_statement(db(), "M1", day("2026-11-25"));
  ASSERT_FALSE(open.has_value());
  EXPECT_EQ(open.error().code, eod::Code::business_day_open);
  auto unknown = eod::merchant_statement(db(), "M99", day("2026-11-24"));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, eod::Code::unknown_merchant);
  EXPECT_EQ(unknown.error().field, "merchant");
}

TEST_F(StatementTest, TheSchemaCheckRejectsABrokenStatement) {
  // The validation above must be able to fail: an entry without its status is not a camt.053.
  const auto st = checked("M1", "2026-11-24");
  std::string xml = eod::to_camt053(st, eod::CamtVersion::v02);
  const auto at = xml.find("<Sts>BOOK</Sts>");
  ASSERT_NE(at, std::string::npos);
  xml.erase(at, std::string("<Sts>BOOK</Sts>").size());
  EXPECT_NE(schema_errors(xml, eod::CamtVersion::v02), "");
  // And a 02 document is not a 12 one.
  EXPECT_NE(schema_errors(eod::to_camt053(st, eod::CamtVersion::v02), eod::CamtVersion::v12), "");
}

TEST_F(StatementTest, TheCsvHasTheSameBalancesAndARunningBalance) {
  const auto st = checked("M3", "2026-11-24");
  const std::string csv = eod::to_csv(st);
  EXPECT_TRUE(csv.starts_with("record,business_day,account,entry_id"));
  EXPECT_NE(csv.find(fmt::format("OPBD,2026-11-24,merchant:M3:settlement,,,,,CRDT,{}", ledger::format_fen(st.opening_fen))),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(fmt::format("CLBD,2026-11-24,merchant:M3:settlement,,,,,CRDT,{},,,{}", ledger::format_fen(st.closing_fen),
                                 ledger::format_fen(st.closing_fen))),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(",reversal,e4,DBIT,"), std::string::npos) << csv;
}

}  // namespace
}  // namespace promoledger::testing
