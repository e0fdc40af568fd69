#include "promoledger/eod/statement.hpp"

#include <cassert>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <libxml/xmlwriter.h>

#include "internal.hpp"
#include "promoledger/ledger/business_day.hpp"

namespace promoledger::eod {
namespace {

using ledger::rethrow_as_database_error;
using ledger::WideFen;

// The first `n` characters (code points) of UTF-8 text: the schema's MaxNText counts characters.
std::string cut_chars(std::string_view text, std::size_t n) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (chars == n) return std::string(text.substr(0, i));
      ++chars;
    }
  }
  return std::string(text);
}

// The identifiers of ISO 20022 are Max35Text (account ids Max34Text). Ours fit by construction:
// "PROMO-STMT-20261124-" is 20 characters, an account id at most 15 digits.
std::string message_id(const MerchantStatement& st) {
  return fmt::format("PROMO-STMT-{}-{}", st.business_day.substr(0, 4) + st.business_day.substr(5, 2) +
                                             st.business_day.substr(8, 2), st.account_id);
}
std::string account_identification(const MerchantStatement& st) {
  if (st.account_code.size() <= 34) return st.account_code;
  return fmt::format("promoledger-account-{}", st.account_id);
}

class XmlWriter {
 public:
  XmlWriter() : buffer_(xmlBufferCreate()) {
    if (buffer_ == nullptr) throw std::runtime_error("libxml2: cannot create a buffer");
    writer_ = xmlNewTextWriterMemory(buffer_, 0);
    if (writer_ == nullptr) {
      xmlBufferFree(buffer_);
      throw std::runtime_error("libxml2: cannot create a writer");
    }
    check(xmlTextWriterSetIndent(writer_, 1));
    check(xmlTextWriterSetIndentString(writer_, reinterpret_cast<const xmlChar*>("  ")));
    check(xmlTextWriterStartDocument(writer_, "1.0", "UTF-8", nullptr));
  }
  ~XmlWriter() {
    if (writer_ != nullptr) xmlFreeTextWriter(writer_);
    xmlBufferFree(buffer_);
  }
  XmlWriter(const XmlWriter&) = delete;
  XmlWriter& operator=(const XmlWriter&) = delete;

  void start(const char* name) { check(xmlTextWriterStartElement(writer_, x(name))); }
  void attribute(const char* name, const std::string& value) {
    check(xmlTextWriterWriteAttribute(writer_, x(name), x(value.c_str())));
  }
  void end() { check(xmlTextWriterEndElement(writer_)); }
  void element(const char* name, const std::string& value) {
    check(xmlTextWriterWriteElement(writer_, x(name), x(value.c_str())));
  }
  void amount(const char* name, const WideFen& fen) {
    assert(fen >= 0);
    start(name);
    attribute("Ccy", "CNY");
    check(xmlTextWriterWriteString(writer_, x(ledger::format_fen(fen).c_str())));
    end();
  }
  std::string finish() {
    check(xmlTextWriterEndDocument(writer_));
    xmlFreeTextWriter(writer_);  // flushes into the buffer
    writer_ = nullptr;
    return std::string(reinterpret_cast<const char*>(xmlBufferContent(buffer_)),
                       static_cast<std::size_t>(xmlBufferLength(buffer_)));
  }

 private:
  static const xmlChar* x(const char* s) { return reinterpret_cast<const xmlChar*>(s); }
  static void check(int rc) {
    if (rc < 0) throw std::runtime_error("libxml2: writing the statement failed");
  }
  xmlBufferPtr buffer_;
  xmlTextWriterPtr writer_ = nullptr;
};

void balance(XmlWriter& w, const char* code, const WideFen& fen, const std::string& day) {
  w.start("Bal");
  w.start("Tp");
  w.start("CdOrPrtry");
  w.element("Cd", code);
  w.end();
  w.end();
  w.amount("Amt", fen < 0 ? WideFen(-fen) : fen);
  // A settlement account is a liability: a credit balance is what the bank owes the merchant.
  w.element("CdtDbtInd", fen < 0 ? "DBIT" : "CRDT");
  w.start("Dt");
  w.element("Dt", day);
  w.end();
  w.end();
}

std::string entry_information(const StatementEntry& e) {
  if (e.payment_id.empty()) return fmt::format("{} entry {}", e.kind, e.external_ref);
  if (e.reversal) {
    return e.merchant_share.is_zero()
               ? fmt::format("reversal of payment {}", e.payment_id)
               : fmt::format("reversal of payment {}: merchant reward {} returned (discount {})", e.payment_id,
                             e.merchant_share.str(), e.discount.str());
  }
  return e.merchant_share.is_zero() ? fmt::format("payment {}", e.payment_id)
                                    : fmt::format("payment {}: merchant reward {} of discount {}", e.payment_id,
                                                  e.merchant_share.str(), e.discount.str());
}

}  // namespace

std::string_view namespace_of(CamtVersion version) {
  return version == CamtVersion::v02 ? "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
                                     : "urn:iso:std:iso:20022:tech:xsd:camt.053.001.12";
}

Expected<MerchantStatement, EodRefusal> merchant_statement(ledger::Database& database, const std::string& merchant_code,
                                                           date::year_month_day day) {
  auto lease = database.lease();
  soci::session& s = *lease;
  MerchantStatement st;
  st.business_day = ledger::format_day(day);
  try {
    // One snapshot for the balances and the lines (REPEATABLE READ, read only).
    soci::transaction tx(s);
    s << "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY";
    soci::row m;
    s << "SELECT m.code, m.name, a.code, a.id FROM ledger.merchant m JOIN ledger.account a ON a.id = m.account_id "
         "WHERE m.code = :c",
        soci::use(merchant_code), soci::into(m);
    if (!s.got_data()) {
      return unexpected(refuse(Code::unknown_merchant, "merchant", fmt::format("no merchant {}", merchant_code)));
    }
    st.merchant_code = m.get<std::string>(0);
    st.merchant_name = m.get<std::string>(1);
    st.account_code = m.get<std::string>(2);
    st.account_id = m.get<long long>(3);
    const auto closed = detail::close_time_local(s, day);
    if (!closed) {
      return unexpected(refuse(Code::business_day_open, "date",
                               fmt::format("business day {} is not closed: statements are of closed days only",
                                           st.business_day)));
    }
    st.created_at = *closed;
    std::string opening;
    s << "SELECT coalesce(sum(CASE l.side WHEN 'C' THEN l.amount_fen ELSE -l.amount_fen END), 0)::text "
         "FROM ledger.journal_line l JOIN ledger.journal_entry e ON e.id = l.entry_id "
         "WHERE l.account_id = :a AND e.business_day < CAST(:d AS date)",
        soci::use(st.account_id), soci::use(st.business_day), soci::into(opening);
    st.opening_fen = ledger::parse_wide_fen(opening).value();
    const long long n = static_cast<long long>(statement_entries_max) + 1;
    soci::rowset<soci::row> rows = (s.prepare <<
        "SELECT e.id, l.account_seq, e.external_ref, e.kind, CASE WHEN e.reverses_entry_id IS NULL THEN 0 ELSE 1 END, "
        "       l.side, l.amount_fen, coalesce(p.payment_id, rp.payment_id, ''), "
        "       coalesce(p.merchant_share_fen, rp.merchant_share_fen, 0), coalesce(p.discount_fen, rp.discount_fen, 0), "
        "       to_char(coalesce(p.paid_at, e.posted_at) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"') "
        "  FROM ledger.journal_line l JOIN ledger.journal_entry e ON e.id = l.entry_id "
        "  LEFT JOIN promo.payment p ON p.entry_id = e.id "
        "  LEFT JOIN promo.payment_reversal r ON r.entry_id = e.id "
        "  LEFT JOIN promo.payment rp ON rp.payment_id = r.payment_id "
        " WHERE l.account_id = :a AND e.business_day = CAST(:d AS date) ORDER BY l.account_seq LIMIT :n",
        soci::use(st.account_id), soci::use(st.business_day), soci::use(n));
    for (const soci::row& row : rows) {
      if (st.entries.size() == statement_entries_max) {
        return unexpected(refuse(Code::too_many_lines, "date",
                                 fmt::format("merchant {} has more than {} entries on {}", merchant_code,
                                             statement_entries_max, st.business_day)));
      }
      StatementEntry e;
      e.entry_id = row.get<long long>(0);
      e.account_seq = row.get<long long>(1);
      e.external_ref = row.get<std::string>(2);
      e.kind = row.get<std::string>(3);
      e.reversal = row.get<int>(4) != 0;
      e.credit = row.get<std::string>(5) == "C";
      e.amount = ledger::Money::from_fen(row.get<long long>(6));
      e.payment_id = row.get<std::string>(7);
      e.merchant_share = ledger::Money::from_fen(row.get<long long>(8));
      e.discount = ledger::Money::from_fen(row.get<long long>(9));
      e.posted_at = row.get<std::string>(10);
      (e.credit ? st.credits_fen : st.debits_fen) += e.amount.fen();
      ++(e.credit ? st.credit_count : st.debit_count);
      st.entries.push_back(std::move(e));
    }
    tx.commit();
  } catch (...) {
    rethrow_as_database_error("reading a merchant statement");
  }
  st.closing_fen = st.opening_fen + st.credits_fen - st.debits_fen;
  return st;
}

std::string to_camt053(const MerchantStatement& st, CamtVersion version) {
  const bool v02 = version == CamtVersion::v02;
  // The statement's own invariant, on the figures it is about to write.
  assert(st.opening_fen + st.credits_fen - st.debits_fen == st.closing_fen);
  XmlWriter w;
  w.start("Document");
  w.attribute("xmlns", std::string(namespace_of(version)));
  w.start("BkToCstmrStmt");
  w.start("GrpHdr");
  w.element("MsgId", message_id(st));
  w.element("CreDtTm", st.created_at);
  w.end();
  w.start("Stmt");
  w.element("Id", message_id(st));
  // ElctrncSeqNb: the business day as yyyymmdd, one statement per day, increasing (a gap is a missing day).
  w.element("ElctrncSeqNb", st.business_day.substr(0, 4) + st.business_day.substr(5, 2) + st.business_day.substr(8, 2));
  w.element("CreDtTm", st.created_at);
  w.start("Acct");
  w.start("Id");
  w.start("Othr");
  w.element("Id", account_identification(st));
  w.end();
  w.end();
  w.element("Ccy", "CNY");
  w.element("Nm", cut_chars(st.merchant_name, 70));
  w.end();
  balance(w, "OPBD", st.opening_fen, st.business_day);
  balance(w, "CLBD", st.closing_fen, st.business_day);

  const WideFen net = st.credits_fen - st.debits_fen;
  w.start("TxsSummry");
  w.start("TtlNtries");
  w.element("NbOfNtries", std::to_string(st.entries.size()));
  w.element("Sum", ledger::format_fen(WideFen(st.credits_fen + st.debits_fen)));
  if (v02) {
    w.element("TtlNetNtryAmt", ledger::format_fen(net < 0 ? WideFen(-net) : net));
    w.element("CdtDbtInd", net < 0 ? "DBIT" : "CRDT");
  } else {
    w.start("TtlNetNtry");
    w.element("Amt", ledger::format_fen(net < 0 ? WideFen(-net) : net));
    w.element("CdtDbtInd", net < 0 ? "DBIT" : "CRDT");
    w.end();
  }
  w.end();
  w.start("TtlCdtNtries");
  w.element("NbOfNtries", std::to_string(st.credit_count));
  w.element("Sum", ledger::format_fen(st.credits_fen));
  w.end();
  w.start("TtlDbtNtries");
  w.element("NbOfNtries", std::to_string(st.debit_count));
  w.element("Sum", ledger::format_fen(st.debits_fen));
  w.end();
  w.end();

  for (const StatementEntry& e : st.entries) {
    w.start("Ntry");
    w.amount("Amt", e.amount.fen());
    w.element("CdtDbtInd", e.credit ? "CRDT" : "DBIT");
    if (e.reversal) w.element("RvslInd", "true");
    if (v02) {
      w.element("Sts", "BOOK");
    } else {
      w.start("Sts");
      w.element("Cd", "BOOK");
      w.end();
    }
    w.start("BookgDt");
    w.element("Dt", st.business_day);
    w.end();
    w.start("ValDt");
    w.element("Dt", st.business_day);
    w.end();
    w.element("AcctSvcrRef", std::to_string(e.entry_id));
    w.start("BkTxCd");
    w.start("Prtry");
    std::string code = "PROMO-SETTLEMENT";
    if (e.payment_id.empty()) {
      code = "PROMO-";
      for (char c : e.kind) code += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : (c == '_' ? '-' : c));
    }
    w.element("Cd", cut_chars(code, 35));
    w.element("Issr", "PROMOLEDGER");
    w.end();
    w.end();
    if (!e.payment_id.empty()) {
      w.start("NtryDtls");
      w.start("TxDtls");
      w.start("Refs");
      // A payment id may hold 64 characters, EndToEndId 35: a longer id is written NOTPROVIDED (the ISO
      // convention) and in full in AddtlTxInf.
      const bool fits = e.payment_id.size() <= 35;
      w.element("EndToEndId", fits ? e.payment_id : "NOTPROVIDED");
      w.end();
      if (!fits) w.element("AddtlTxInf", "payment_id " + e.payment_id);
      w.end();
      w.end();
    }
    w.element("AddtlNtryInf", cut_chars(entry_information(e), 500));
    w.end();
  }
  w.end();  // Stmt
  w.end();  // BkToCstmrStmt
  w.end();  // Document
  return w.finish();
}

std::string to_csv(const MerchantStatement& st) {
  std::string out = "record,business_day,account,entry_id,account_seq,kind,payment_id,credit_debit,amount,merchant_reward,"
                    "booked_at,balance_after\n";
  WideFen running = st.opening_fen;
  const auto balance_row = [&](const char* record, const WideFen& fen) {
    out += fmt::format("{},{},{},,,,,{},{},,,{}\n", record, st.business_day, st.account_code, fen < 0 ? "DBIT" : "CRDT",
                       ledger::format_fen(fen < 0 ? WideFen(-fen) : fen), ledger::format_fen(fen));
  };
  balance_row("OPBD", st.opening_fen);
  for (const StatementEntry& e : st.entries) {
    running += e.credit ? WideFen(e.amount.fen()) : WideFen(-e.amount.fen());
    // Kinds are [a-z_], payment ids [A-Za-z0-9_.:-] and codes the same: nothing to quote.
    out += fmt::format("NTRY,{},{},{},{},{},{},{},{},{},{},{}\n", st.business_day, st.account_code, e.entry_id,
                       e.account_seq, e.reversal ? "reversal" : e.kind, e.payment_id, e.credit ? "CRDT" : "DBIT",
                       e.amount.str(), e.merchant_share.str(), e.posted_at, ledger::format_fen(running));
  }
  assert(running == st.closing_fen);
  balance_row("CLBD", st.closing_fen);
  return out;
}

}  // namespace promoledger::eod
