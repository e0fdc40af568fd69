// The end-of-day GL journal (eod/gl.hpp, docs/integration.md): a closed day's files per branch, proven
// against the ledger computed another way (account balances as of the day before and the day), every
// journal line behind exactly one D record, byte-identical re-extracts, drill-down, the GL's answers and
// what is refused.
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <gtest/gtest.h>

#include "eod_fixture.hpp"
#include "promoledger/eod/gl.hpp"
#include "promoledger/ledger/migrations.hpp"

namespace promoledger::testing {
namespace {

using eod::GlSide;

class GlTest : public EodTest {
 protected:
  eod::GlExtract extract_ok(std::optional<std::string> branch = std::nullopt) {
    auto e = eod::extract_day(db(), day("2026-11-24"), branch);
    EXPECT_TRUE(e.has_value()) << (e ? "" : e.error().message);
    return e ? *e : eod::GlExtract{};
  }
  long long batches() { return scalar("SELECT count(*) FROM eod.gl_batch"); }
};

// The org unit and GL account of each account of the fixture, as map_everything() says, written here
// independently of eod.account_map.
std::pair<std::string, std::string> booked_at(const std::string& code) {
  if (code.starts_with("payer:")) return {"BR1", "201101"};
  if (code == "bank:funding") return {"BR1", "100101"};
  if (code.starts_with("merchant:")) {
    const std::string m = code.substr(9, code.find(':', 9) - 9);
    return {m == "M4" ? "O3" : (m == "M3" ? "O2" : "O1"), "224101"};
  }
  if (code.starts_with("outlet:")) {  // outlet:O1:subsidy:660101
    const std::size_t a = code.find(':', 7);
    return {code.substr(7, a - 7), code.substr(code.rfind(':') + 1)};
  }
  ADD_FAILURE() << "an account the fixture does not map: " << code;
  return {"?", "?"};
}

TEST_F(GlTest, AClosedDaysRecordsEqualTheLedgersMovementAndEveryLineIsBehindExactlyOneRecord) {
  map_everything();
  const auto extract = extract_ok();
  ASSERT_EQ(extract.files.size(), 2u);  // BR1 and BR2, by code
  EXPECT_EQ(extract.files[0].branch_code, "BR1");
  EXPECT_EQ(extract.files[1].branch_code, "BR2");

  // 1. The ledger's movement on the day, per (org, GL account, side), from balances as of the day
  //    before and as of the day: another path than the extract's SQL.
  ledger::Ledger ledger(db());
  std::map<std::tuple<std::string, std::string, char>, ledger::WideFen> expected;
  for (const auto& a : ledger.trial_balance().accounts) {
    const auto before = ledger.balance_as_of_day(a.code, day("2026-11-23"));
    const auto after = ledger.balance_as_of_day(a.code, day("2026-11-24"));
    ASSERT_TRUE(before.has_value() && after.has_value()) << a.code;
    const ledger::WideFen debits = after->debits_fen - before->debits_fen;
    const ledger::WideFen credits = after->credits_fen - before->credits_fen;
    if (debits == 0 && credits == 0) continue;
    const auto [org, gl] = booked_at(a.code);
    if (debits != 0) expected[{org, gl, 'D'}] += debits;
    if (credits != 0) expected[{org, gl, 'C'}] += credits;
  }
  std::map<std::tuple<std::string, std::string, char>, ledger::WideFen> extracted;
  std::map<std::string, ledger::WideFen> unit_net;  // debit - credit per org unit, inter-unit included
  for (const auto& f : extract.files) {
    ledger::WideFen debits = 0, credits = 0;
    for (const auto& r : f.records) {
      (r.side == GlSide::debit ? debits : credits) += r.amount_fen;
      unit_net[r.org_code] += r.side == GlSide::debit ? r.amount_fen : ledger::WideFen(-r.amount_fen);
      if (r.inter_unit) {
        EXPECT_EQ(r.gl_account, "300101");
        continue;
      }
      auto [it, inserted] = extracted.emplace(std::tuple{r.org_code, r.gl_account, static_cast<char>(r.side)}, r.amount_fen);
      EXPECT_TRUE(inserted) << "two records for " << r.org_code << " " << r.gl_account;
    }
    EXPECT_EQ(debits, credits) << f.batch_id << ": the file balances";
    EXPECT_EQ(f.debit_total_fen, debits);
    EXPECT_GT(f.records.size(), 0u);
  }
  EXPECT_EQ(extracted, expected);
  for (const auto& [org, net] : unit_net) EXPECT_EQ(net, 0) << org << " balances";
  // The payments cross units (deposits at BR1, merchants at outlets), and M4 crosses branches.
  EXPECT_NE(unit_net.find("O3"), unit_net.end());

  // 2. Every journal line of the day behind exactly one (non-inter-unit) D record.
  std::set<std::pair<long long, int>> behind;
  std::size_t records = 0;
  for (const auto& f : extract.files) {
    for (const auto& r : f.records) {
      if (r.inter_unit) continue;
      ++records;
      auto drill = eod::drill_down(db(), f.batch_id, r.line_no, eod::drill_lines_max);
      ASSERT_TRUE(drill.has_value()) << drill.error().message;
      EXPECT_FALSE(drill->more);
      ledger::WideFen sum = 0;
      std::set<long long> entries;
      for (const auto& l : drill->lines) {
        EXPECT_TRUE(behind.emplace(l.entry_id, l.line_no).second) << "line " << l.entry_id << "/" << l.line_no << " twice";
        EXPECT_EQ(l.side, r.side);
        sum += l.amount.fen();
        entries.insert(l.entry_id);
      }
      EXPECT_EQ(sum, r.amount_fen) << f.batch_id << " line " << r.line_no;
      EXPECT_EQ(static_cast<std::int64_t>(entries.size()), r.entry_count);
      EXPECT_EQ(*entries.begin(), r.first_entry_id);
      EXPECT_EQ(*entries.rbegin(), r.last_entry_id);
    }
  }
  EXPECT_GT(records, 5u);
  std::set<std::pair<long long, int>> day_lines;
  {
    auto lease = db().lease();
    soci::rowset<soci::row> rows = (lease->prepare << "SELECT l.entry_id, l.line_no::integer FROM ledger.journal_line l "
                                                      "JOIN ledger.journal_entry e ON e.id = l.entry_id "
                                                      "WHERE e.business_day = DATE '2026-11-24'");
    for (const auto& row : rows) day_lines.emplace(row.get<long long>(0), row.get<int>(1));
  }
  EXPECT_EQ(behind, day_lines);
}

TEST_F(GlTest, TheFileIsWrittenAsDocumentedAndItsTrailerChecksItself) {
  map_everything();
  const auto extract = extract_ok(std::string("BR2"));
  ASSERT_EQ(extract.files.size(), 1u);
  const auto& f = extract.files[0];
  EXPECT_EQ(f.batch_id, "PROMO-20261124-BR2-001");
  EXPECT_EQ(f.file_name, "GL_PROMO_20261124_BR2_001.csv");
  std::istringstream in(f.content);
  std::string line, d_lines;
  std::vector<std::string> lines;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_GE(lines.size(), 3u);
  const std::string close = text("SELECT to_char(closed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
                                 "FROM ledger.business_day_close WHERE business_day = '2026-11-24'");
  EXPECT_EQ(lines.front(), fmt::format("H,PROMO-20261124-BR2-001,PROMOLEDGER,2026-11-24,{}+08:00,1", close));
  // O3: M4's two payments (66.60 and 12.34) credited to transit, balanced by inter-unit.
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], "D,1,O3,224101,CNY,0,7894,promo merchant settlement transit,"
                      + std::to_string(f.records[0].first_entry_id) + "," + std::to_string(f.records[0].last_entry_id) + ",2");
  EXPECT_TRUE(lines[2].starts_with("D,2,O3,300101,CNY,7894,0,promo inter-unit balancing,")) << lines[2];
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) d_lines += lines[i] + "\n";
  EXPECT_EQ(lines.back(), "T,2,7894,7894," + ledger::sha256_hex(d_lines));
  EXPECT_EQ(f.sha256, ledger::sha256_hex(f.content));
}

TEST_F(GlTest, ASecondExtractIsByteIdenticalAndRecordsNothingEvenAfterTheMappingChanged) {
  map_everything();
  const auto first = extract_ok();
  ASSERT_EQ(batches(), 2);
  EXPECT_TRUE(first.files[0].recorded_now);
  // The mapping changes after the extract: the recorded batch keeps the version it was made with.
  auto changed = eod::set_mapping(db(), eod::MappingChange{eod::AccountClass::merchant_settlement, "", "224199",
                                                            eod::Booking::account_unit, "", "new transit account"});
  ASSERT_TRUE(changed.has_value()) << changed.error().message;
  const auto again = extract_ok();
  EXPECT_EQ(batches(), 2);
  ASSERT_EQ(again.files.size(), first.files.size());
  for (std::size_t i = 0; i < first.files.size(); ++i) {
    EXPECT_EQ(again.files[i].content, first.files[i].content);
    EXPECT_FALSE(again.files[i].recorded_now);
  }
  auto served = eod::batch_file(db(), "PROMO-20261124-BR1-001");
  ASSERT_TRUE(served.has_value());
  EXPECT_EQ(served->content, first.files[0].content);
  // A new day would use the new mapping: the drill-down of the old batch still uses the old one.
  auto drill = eod::drill_down(db(), "PROMO-20261124-BR2-001", 1);
  ASSERT_TRUE(drill.has_value());
  EXPECT_EQ(drill->record.gl_account, "224101");
}

TEST_F(GlTest, AClosedDayThatChangedUnderItsBatchIsRefusedNotRewritten) {
  map_everything();
  extract_ok();
  // What no path of the product can do: a superuser edits a closed day's journal with the guards off.
  tdb_.exec_as_admin("SET session_replication_role = replica; "
                     "UPDATE ledger.journal_line SET amount_fen = amount_fen + 1 WHERE entry_id = "
                     "(SELECT entry_id FROM promo.payment WHERE payment_id = 'e6')");
  auto again = eod::extract_day(db(), day("2026-11-24"));
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, eod::Code::extract_differs);
  EXPECT_NE(again.error().message.find("PROMO-20261124-BR"), std::string::npos) << again.error().message;
  EXPECT_EQ(eod::batch_file(db(), "PROMO-20261124-BR2-001").error().code, eod::Code::extract_differs);
}

TEST_F(GlTest, AnOpenDayAnUnknownBranchAndUnmappedAccountsAreRefusedWithNames) {
  auto open = eod::extract_day(db(), day("2026-11-25"));
  ASSERT_FALSE(open.has_value());
  EXPECT_EQ(open.error().code, eod::Code::business_day_open);
  EXPECT_EQ(open.error().field, "date");

  auto unmapped = eod::extract_day(db(), day("2026-11-24"));
  ASSERT_FALSE(unmapped.has_value());
  EXPECT_EQ(unmapped.error().code, eod::Code::unmapped_accounts);
  EXPECT_NE(unmapped.error().message.find("merchant:M1:settlement"), std::string::npos) << unmapped.error().message;
  EXPECT_NE(unmapped.error().message.find("payer:P1:deposit"), std::string::npos);
  // Only the payers' class missing: the message names payers and nothing else.
  map_everything();
  tdb_.exec_as_admin("INSERT INTO eod.gl_mapping (account_class, account_code, gl_account, booking, org_unit_id, reason) "
                     "VALUES ('account', 'payer:P1:deposit', '201199', 'account_unit', NULL, 'P1 has no home unit')");
  auto one = eod::extract_day(db(), day("2026-11-24"));
  ASSERT_FALSE(one.has_value());
  EXPECT_EQ(one.error().code, eod::Code::unmapped_accounts);
  EXPECT_NE(one.error().message.find("1 account(s)"), std::string::npos) << one.error().message;
  EXPECT_NE(one.error().message.find("payer:P1:deposit (no booking unit)"), std::string::npos) << one.error().message;
  EXPECT_EQ(batches(), 0);

  map_everything();  // the class rows again: a newer version, and the account row above is replaced
  tdb_.exec_as_admin("INSERT INTO eod.gl_mapping (account_class, account_code, gl_account, booking, org_unit_id, reason) "
                     "VALUES ('account', 'payer:P1:deposit', '201199', 'fixed', "
                     "(SELECT id FROM ledger.org_unit WHERE code = 'BR1'), 'P1 at BR1')");
  auto unknown = eod::extract_day(db(), day("2026-11-24"), std::string("BR9"));
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, eod::Code::unknown_branch);
  const auto ok = extract_ok(std::string("BR1"));
  bool p1_record = false;
  for (const auto& r : ok.files[0].records) p1_record = p1_record || r.gl_account == "201199";
  EXPECT_TRUE(p1_record) << "an account row wins over its class";
}

TEST_F(GlTest, TheGlsAnswersAreRecordedOnceAndARejectionIsFollowedByTheNextSequence) {
  map_everything();
  extract_ok();
  auto accepted = eod::acknowledge(db(), "batch_id,status,reason\nPROMO-20261124-BR2-001,ACCEPTED,\n"
                                         "PROMO-20261124-BR1-001,REJECTED,\"unknown GL account 224101, map it\"\n");
  ASSERT_TRUE(accepted.has_value()) << accepted.error().message;
  ASSERT_EQ(accepted->size(), 2u);
  EXPECT_TRUE((*accepted)[0].recorded_now);
  // The same answers again: nothing new.
  auto same = eod::acknowledge(db(), "batch_id,status,reason\nPROMO-20261124-BR2-001,ACCEPTED,\n");
  ASSERT_TRUE(same.has_value());
  EXPECT_FALSE((*same)[0].recorded_now);
  // Another answer to an answered batch: refused, and nothing of the file is recorded.
  auto conflict = eod::acknowledge(db(), "batch_id,status,reason\nPROMO-20261124-BR2-001,REJECTED,late\n");
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().code, eod::Code::ack_conflicts);
  EXPECT_EQ(eod::acknowledge(db(), "batch_id,status,reason\nPROMO-20261124-BR9-001,ACCEPTED,\n").error().code,
            eod::Code::unknown_batch);
  const auto bad = eod::acknowledge(db(), "batch_id,status,reason\nPROMO-20261124-BR2-001,MAYBE,\n");
  EXPECT_EQ(bad.error().code, eod::Code::invalid_ack);
  EXPECT_EQ(bad.error().field, "line 2: status");
  EXPECT_EQ(eod::acknowledge(db(), "batch_id,status,reason\nPROMO-20261124-BR2-001,REJECTED,\n").error().code,
            eod::Code::invalid_ack);
  EXPECT_EQ(scalar("SELECT count(*) FROM eod.gl_ack"), 2);

  const auto status = eod::batches_of_day(db(), day("2026-11-24"));
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(status[0].status, "rejected");
  EXPECT_EQ(status[0].reason, "unknown GL account 224101, map it");
  EXPECT_EQ(status[1].status, "accepted");

  // After the rejection the mapping is fixed; the next extract makes BR1's second batch with it, and
  // leaves the accepted BR2 batch as it was.
  ASSERT_TRUE(eod::set_mapping(db(), eod::MappingChange{eod::AccountClass::merchant_settlement, "", "224102",
                                                         eod::Booking::account_unit, "", "the GL's account"})
                  .has_value());
  const auto next = extract_ok();
  ASSERT_EQ(next.files.size(), 2u);
  EXPECT_EQ(next.files[0].batch_id, "PROMO-20261124-BR1-002");
  EXPECT_TRUE(next.files[0].recorded_now);
  EXPECT_NE(next.files[0].content.find(",224102,"), std::string::npos);
  EXPECT_EQ(next.files[1].batch_id, "PROMO-20261124-BR2-001");
  EXPECT_FALSE(next.files[1].recorded_now);
  EXPECT_EQ(next.files[1].content.find(",224102,"), std::string::npos);
  EXPECT_EQ(batches(), 3);
}

TEST_F(GlTest, AMappingIsCheckedBeforeItIsStoredAndOnlyTheOwnerMayStoreOne) {
  const auto refused = [&](eod::MappingChange c, const char* field) {
    auto r = eod::set_mapping(db(), c);
    ASSERT_FALSE(r.has_value()) << field;
    EXPECT_EQ(r.error().field, field);
  };
  refused({eod::AccountClass::payer_deposit, "", "2011-01", eod::Booking::fixed, "BR1", "x"}, "gl");
  refused({eod::AccountClass::payer_deposit, "", std::nullopt, eod::Booking::fixed, "BR1", "x"}, "gl");
  refused({eod::AccountClass::payer_deposit, "", "201101", eod::Booking::fixed, "", "x"}, "org");
  refused({eod::AccountClass::payer_deposit, "", "201101", eod::Booking::fixed, "BR1", ""}, "reason");
  refused({eod::AccountClass::account, "", "201101", eod::Booking::account_unit, "", "x"}, "account");
  refused({eod::AccountClass::inter_unit, "", "300101", eod::Booking::fixed, "BR1", "x"}, "booking");
  auto unknown = eod::set_mapping(db(), {eod::AccountClass::payer_deposit, "", "201101", eod::Booking::fixed, "BRX", "x"});
  EXPECT_EQ(unknown.error().code, eod::Code::unknown_org_unit);
  EXPECT_EQ(scalar("SELECT count(*) FROM eod.gl_mapping"), 0);

  ASSERT_TRUE(eod::set_mapping(db(), {eod::AccountClass::payer_deposit, "", "201101", eod::Booking::fixed, "BR1", "x"})
                  .has_value());
  ASSERT_TRUE(eod::set_mapping(db(), {eod::AccountClass::payer_deposit, "", "201102", eod::Booking::fixed, "BR2", "y"})
                  .has_value());
  const auto in_force = eod::mapping_in_force(db());
  ASSERT_EQ(in_force.size(), 1u);
  EXPECT_EQ(in_force[0].gl_account, "201102");
  EXPECT_EQ(eod::mapping_history(db()).size(), 2u);

  // The application and the auditor read the end-of-day tables and write none of them; nobody edits one.
  for (const char* role : {"promoledger_app", "promoledger_auditor"}) {
    for (const char* sql : {"INSERT INTO eod.gl_mapping (account_class, gl_account, booking, reason) VALUES "
                            "('bank_funding', '1', 'account_unit', 'x')",
                            "UPDATE eod.gl_mapping SET gl_account = '9'", "DELETE FROM eod.recon_run",
                            "INSERT INTO eod.gl_ack (batch_id, status, ack_file_sha256) VALUES ('x', 'accepted', 'x')"}) {
      try {
        tdb_.exec_as_admin(fmt::format("SET ROLE {}; {}", role, sql));
        ADD_FAILURE() << role << " may run: " << sql;
      } catch (const ledger::DatabaseError& e) {
        EXPECT_EQ(e.sqlstate(), "42501") << role << ": " << sql;
      }
    }
    tdb_.exec_as_admin(fmt::format("SET ROLE {}; SELECT count(*) FROM eod.gl_mapping, eod.gl_batch, eod.recon_run", role));
  }
  try {
    tdb_.exec_as_admin("UPDATE eod.gl_mapping SET gl_account = '9'");
    ADD_FAILURE() << "the owner edited the mapping's history";
  } catch (const ledger::DatabaseError& e) {
    EXPECT_EQ(e.sqlstate(), "PL004");
  }
}

TEST_F(GlTest, DrillDownRefusesAnUnknownBatchOrLineAndSaysWhenItIsCut) {
  map_everything();
  const auto extract = extract_ok();
  EXPECT_EQ(eod::drill_down(db(), "PROMO-20261124-BR7-001", 1).error().code, eod::Code::unknown_batch);
  EXPECT_EQ(eod::drill_down(db(), "PROMO-20261124-BR1-001", 0).error().code, eod::Code::unknown_line);
  EXPECT_EQ(eod::drill_down(db(), "PROMO-20261124-BR1-001", 999).error().code, eod::Code::unknown_line);
  // The payers' deposits at BR1: a line per payment of the day.
  int deposits = 0;
  for (const auto& r : extract.files[0].records) {
    if (r.gl_account == "201101" && r.side == GlSide::debit) deposits = r.line_no;
  }
  ASSERT_GT(deposits, 0);
  auto cut = eod::drill_down(db(), "PROMO-20261124-BR1-001", deposits, 2);
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->lines.size(), 2u);
  EXPECT_TRUE(cut->more);
}

}  // namespace
}  // namespace promoledger::testing
