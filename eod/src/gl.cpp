#include "promoledger/eod/gl.hpp"

#include <algorithm>
#include <cassert>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "internal.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/migrations.hpp"
#include "promoledger/ledger/names.hpp"

namespace promoledger::eod {
namespace {

using ledger::rethrow_as_database_error;
using ledger::WideFen;

constexpr ledger::NameTable<AccountClass, 6> class_names{{
    {AccountClass::payer_deposit, "payer_deposit"},
    {AccountClass::merchant_settlement, "merchant_settlement"},
    {AccountClass::outlet_subsidy, "outlet_subsidy"},
    {AccountClass::bank_funding, "bank_funding"},
    {AccountClass::inter_unit, "inter_unit"},
    {AccountClass::account, "account"},
}};
static_assert(ledger::names_every_value(class_names));  // every value named once (ledger/names.hpp)
constexpr ledger::NameTable<Booking, 2> booking_names{{
    {Booking::account_unit, "account_unit"},
    {Booking::fixed, "fixed"},
}};
static_assert(ledger::names_every_value(booking_names));  // every value named once (ledger/names.hpp)

// The D record's text per mapping class: what the GL user reads next to the figures. No commas (the
// file is written without quoting; write_content asserts it).
std::string class_text(const std::string& class_min, const std::string& class_max) {
  if (class_min != class_max) return "promo several account classes";
  if (class_min == "payer_deposit") return "promo payer deposits";
  if (class_min == "merchant_settlement") return "promo merchant settlement transit";
  if (class_min == "outlet_subsidy") return "promo campaign subsidy expense";
  if (class_min == "bank_funding") return "promo bank funding";
  if (class_min == "account") return "promo mapped accounts";
  return "promo unmapped";
}
constexpr std::string_view inter_unit_text = "promo inter-unit balancing";

bool valid_code(std::string_view code, std::size_t max, bool colon) {
  if (code.empty() || code.size() > max) return false;
  return std::all_of(code.begin(), code.end(), [colon](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-' || (colon && c == ':');
  });
}
bool valid_gl_account(std::string_view gl) {
  return !gl.empty() && gl.size() <= 16 && std::all_of(gl.begin(), gl.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

// ---------------------------------------------------------------------------------------------------
// The mapping.

constexpr const char* select_mapping =
    "SELECT m.id, m.account_class, coalesce(m.account_code, ''), coalesce(m.gl_account, ''), m.booking, "
    "coalesce(u.code, ''), m.reason, to_char(m.changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "m.changed_by FROM eod.gl_mapping m LEFT JOIN ledger.org_unit u ON u.id = m.org_unit_id ";

MappingRow mapping_of(const soci::row& row) {
  MappingRow m;
  m.id = row.get<long long>(0);
  m.account_class = account_class_from_string(row.get<std::string>(1)).value();
  m.account_code = row.get<std::string>(2);
  const std::string gl = row.get<std::string>(3);
  if (!gl.empty()) m.gl_account = gl;
  m.booking = booking_from_string(row.get<std::string>(4)).value();
  m.org_code = row.get<std::string>(5);
  m.reason = row.get<std::string>(6);
  m.changed_at_utc = row.get<std::string>(7);
  m.changed_by = row.get<std::string>(8);
  return m;
}

long long current_mapping_version(soci::session& s) {
  long long version = 0;
  s << "SELECT coalesce(max(id), 0) FROM eod.gl_mapping", soci::into(version);
  return version;
}

// ---------------------------------------------------------------------------------------------------
// The summary of a day: one statement over the day's lines.

struct UnitTotals {
  std::string branch_code;
  std::string org_code;
  WideFen debit_fen = 0, credit_fen = 0;
  std::int64_t first = 0, last = 0, entries = 0;
};

struct DaySummary {
  std::map<std::string, std::vector<GlRecord>> by_branch;  // records without line numbers yet
};

// The accounts the day touches that the mapping does not book, named (at most 20, and how many).
EodRefusal unmapped_refusal(soci::session& s, const std::string& day, long long version) {
  std::vector<std::string> names;
  long long count = 0;
  soci::rowset<soci::row> rows = (s.prepare <<
      "WITH u AS (SELECT DISTINCT m.account_code, CASE WHEN m.org_unit_id IS NULL THEN 1 ELSE 0 END AS no_unit, "
      "                  CASE WHEN m.gl_account IS NULL THEN 1 ELSE 0 END AS no_gl "
      "             FROM ledger.journal_line l JOIN eod.account_map(:v) m ON m.account_id = l.account_id "
      "            WHERE l.business_day = CAST(:d AS date) AND (m.org_unit_id IS NULL OR m.gl_account IS NULL)) "
      "SELECT account_code, no_unit, no_gl, count(*) OVER () FROM u ORDER BY account_code LIMIT 20",
      soci::use(version), soci::use(day));
  for (const soci::row& row : rows) {
    const bool no_unit = row.get<int>(1) != 0;
    const bool no_gl = row.get<int>(2) != 0;
    names.push_back(fmt::format("{} (no {})", row.get<std::string>(0),
                                no_unit && no_gl ? "GL account and no booking unit" : (no_unit ? "booking unit" : "GL account")));
    count = row.get<long long>(3);
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return refuse(Code::unmapped_accounts, "mapping",
                fmt::format("{} account(s) of {} have no GL mapping at version {}: {}{}; add them with "
                            "`promoledger gl map set` and extract again",
                            count, day, version, list, count > static_cast<long long>(names.size()) ? ", ..." : ""));
}

// Lines of one entry that fall into one record: counted once in the record's entry_count. Two lines
// of an entry can share a record only if they share a side, and an entry of two lines has one debit
// and one credit (it balances, and amounts are positive): only entries with three or more lines can,
// and those are the entries with a line numbered 3 or more (line numbers are distinct, from 1). A
// payment day has few of them (the discounted payments: 2 % in the pilot's street), so their lines are
// read one by one while everything else is counted per account.
std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> shared_record_lines(soci::session& s,
                                                                                              const std::string& d,
                                                                                              long long version) {
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> extra;
  soci::rowset<soci::row> rows = (s.prepare <<
      "WITH wide AS (SELECT DISTINCT l.entry_id FROM ledger.journal_line l "
      "               WHERE l.business_day = CAST(:d AS date) AND l.line_no >= 3), "
      // By the primary key, entry by entry (OFFSET 0 keeps the subquery a nested loop, not a join of all
      // lines), in the day's partition only.
      "x AS (SELECT m.org_unit_id, m.gl_account, l.side, w.entry_id, count(*) AS n "
      "        FROM wide w CROSS JOIN LATERAL (SELECT l.account_id, l.side FROM ledger.journal_line l "
      "                                         WHERE l.entry_id = w.entry_id AND l.business_day = CAST(:d AS date) "
      "                                        OFFSET 0) l "
      "        JOIN eod.account_map(:v) m ON m.account_id = l.account_id "
      "       GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) "
      "SELECT u.code, x.gl_account, x.side, sum(x.n - 1)::text FROM x JOIN ledger.org_unit u ON u.id = x.org_unit_id "
      "GROUP BY 1, 2, 3",
      soci::use(d, "d"), soci::use(version, "v"));
  for (const soci::row& row : rows) {
    extra[{row.get<std::string>(0), row.get<std::string>(1), row.get<std::string>(2)}] =
        static_cast<std::int64_t>(detail::wide_at(row, 3));
  }
  return extra;
}

Expected<DaySummary, EodRefusal> summarise_day(soci::session& s, date::year_month_day day, long long version) {
  const std::string d = ledger::format_day(day);
  // The day's lines are summed per account and side in one pass (a hash aggregate: what COPY of the
  // same lines costs), then mapped and rolled up; the unit's totals (GROUPING SETS) decide its
  // inter-unit record. The lines are chosen by their own business day (their entry's, the partition
  // key): no join with the entries, one partition read. Measured on a day of 1,000,000 payments
  // (2,020,178 lines) on the shared machine (load ~11, EXPLAIN ANALYZE): this statement 7.7 s where
  // the same pass over the join of entries and lines took 19.2 s (14 s of it the hash join), and a
  // per-line GROUP BY with count(DISTINCT entry_id) took 25 s (it sorts two million lines). Memory for
  // the hash: work_mem for this transaction (SET LOCAL; a read without a transaction keeps the session's).
  ledger::exec_script(s, "SET LOCAL work_mem = '256MB'", "sizing the extract's memory");
  ledger::exec_script(s, detail::day_statement_timeout_sql, "allowing the extract its time");
  soci::rowset<soci::row> rows = (s.prepare <<
      "WITH acc AS (SELECT l.account_id, l.side, sum(l.amount_fen) AS fen, count(*) AS lines, min(l.entry_id) AS first_id, "
      "                    max(l.entry_id) AS last_id "
      "               FROM ledger.journal_line l "
      "              WHERE l.business_day = CAST(:d AS date) GROUP BY l.account_id, l.side), "
      "x AS (SELECT m.org_unit_id, m.gl_account, m.mapping_class, a.side, a.fen, a.lines, a.first_id, a.last_id "
      "        FROM acc a JOIN eod.account_map(:v) m ON m.account_id = a.account_id), "
      "g AS (SELECT x.org_unit_id, x.gl_account, x.side, GROUPING(x.gl_account, x.side) AS lvl, "
      "             coalesce(sum(x.fen) FILTER (WHERE x.side = 'D'), 0) AS debit_fen, "
      "             coalesce(sum(x.fen) FILTER (WHERE x.side = 'C'), 0) AS credit_fen, "
      "             min(x.first_id) AS first_id, max(x.last_id) AS last_id, sum(x.lines) AS lines, "
      "             min(x.mapping_class) AS class_min, max(x.mapping_class) AS class_max, "
      "             bool_or(x.org_unit_id IS NULL OR x.gl_account IS NULL) AS unmapped "
      "        FROM x GROUP BY GROUPING SETS ((x.org_unit_id, x.gl_account, x.side), (x.org_unit_id))) "
      "SELECT coalesce(u.branch_code, ''), coalesce(u.org_code, ''), g.lvl, coalesce(g.gl_account, ''), "
      "       coalesce(g.side, ''), g.debit_fen::text, g.credit_fen::text, g.first_id, g.last_id, g.lines::text, "
      "       coalesce(g.class_min, ''), coalesce(g.class_max, ''), CASE WHEN g.unmapped THEN 1 ELSE 0 END "
      "  FROM g LEFT JOIN eod.unit_branch() u ON u.org_unit_id = g.org_unit_id "
      " ORDER BY 1, 2, 3, 4, 5 DESC",
      soci::use(version, "v"), soci::use(d, "d"));
  DaySummary summary;
  std::vector<UnitTotals> units;
  bool unmapped = false;
  for (const soci::row& row : rows) {
    if (row.get<int>(12) != 0) {
      unmapped = true;
      continue;
    }
    const int level = row.get<int>(2);
    if (level != 0) {
      UnitTotals t;
      t.branch_code = row.get<std::string>(0);
      t.org_code = row.get<std::string>(1);
      t.debit_fen = detail::wide_at(row, 5);
      t.credit_fen = detail::wide_at(row, 6);
      t.first = row.get<long long>(7);
      t.last = row.get<long long>(8);
      t.entries = static_cast<std::int64_t>(detail::wide_at(row, 9));  // the unit's lines (see GlRecord)
      units.push_back(std::move(t));
      continue;
    }
    GlRecord r;
    r.org_code = row.get<std::string>(1);
    r.gl_account = row.get<std::string>(3);
    r.side = row.get<std::string>(4) == "D" ? GlSide::debit : GlSide::credit;
    r.amount_fen = r.side == GlSide::debit ? detail::wide_at(row, 5) : detail::wide_at(row, 6);
    r.first_entry_id = row.get<long long>(7);
    r.last_entry_id = row.get<long long>(8);
    r.entry_count = static_cast<std::int64_t>(detail::wide_at(row, 9));  // lines, until corrected below
    r.text = class_text(row.get<std::string>(10), row.get<std::string>(11));
    assert(r.amount_fen > 0);
    summary.by_branch[row.get<std::string>(0)].push_back(std::move(r));
  }
  if (unmapped) return unexpected(unmapped_refusal(s, d, version));
  // entry_count: the record's lines less the lines an entry has in it beyond its first.
  for (const auto& [key, extra] : shared_record_lines(s, d, version)) {
    const auto& [org, gl, side] = key;
    for (auto& [branch, records] : summary.by_branch) {
      for (GlRecord& r : records) {
        if (r.org_code == org && r.gl_account == gl && std::string(1, static_cast<char>(r.side)) == side) {
          r.entry_count -= extra;
          assert(r.entry_count >= 1);
        }
      }
    }
  }

  // Each unit balances: a unit whose lines do not gets an inter-unit record for the difference.
  std::vector<std::string> need_inter_unit;
  for (const auto& u : units) {
    if (u.debit_fen != u.credit_fen) need_inter_unit.push_back(u.org_code);
  }
  if (!need_inter_unit.empty()) {
    std::string gl;
    soci::indicator ind = soci::i_null;
    s << "SELECT gl_account FROM eod.mapping_as_of(:v) WHERE account_class = 'inter_unit'", soci::use(version),
        soci::into(gl, ind);
    if (!s.got_data() || ind == soci::i_null) {
      std::string list;
      for (std::size_t i = 0; i < need_inter_unit.size() && i < 20; ++i) list += (i ? ", " : "") + need_inter_unit[i];
      return unexpected(refuse(Code::unmapped_accounts, "mapping",
                               fmt::format("org unit(s) {}{} of {} need an inter-unit record (their lines book on other "
                                           "units too) and class inter_unit has no GL account at version {}: "
                                           "`promoledger gl map set --class inter_unit --gl CODE`",
                                           list, need_inter_unit.size() > 20 ? ", ..." : "", d, version)));
    }
    for (const auto& u : units) {
      if (u.debit_fen == u.credit_fen) continue;
      GlRecord r;
      r.org_code = u.org_code;
      r.gl_account = gl;
      // More debits than credits at the unit: the unit owes the others, a credit to inter-unit.
      r.side = u.debit_fen > u.credit_fen ? GlSide::credit : GlSide::debit;
      r.amount_fen = u.debit_fen > u.credit_fen ? WideFen(u.debit_fen - u.credit_fen) : WideFen(u.credit_fen - u.debit_fen);
      r.first_entry_id = u.first;
      r.last_entry_id = u.last;
      r.entry_count = u.entries;
      r.text = std::string(inter_unit_text);
      r.inter_unit = true;
      auto& records = summary.by_branch[u.branch_code];
      // After the unit's own records (they are sorted by unit, GL, side).
      auto after = std::find_if(records.begin(), records.end(), [&](const GlRecord& x) { return x.org_code > u.org_code; });
      records.insert(after, std::move(r));
    }
  }
  return summary;
}

// ---------------------------------------------------------------------------------------------------
// The file.

std::string batch_id_of(const std::string& day_compact, const std::string& branch, int seq) {
  return fmt::format("PROMO-{}-{}-{:03d}", day_compact, branch, seq);
}
std::string file_name_of(const std::string& day_compact, const std::string& branch, int seq) {
  return fmt::format("GL_PROMO_{}_{}_{:03d}.csv", day_compact, branch, seq);
}

void write_content(GlFile& file) {
  std::string d_lines;
  file.debit_total_fen = 0;
  file.credit_total_fen = 0;
  int line_no = 0;
  for (GlRecord& r : file.records) {
    r.line_no = ++line_no;
    assert(r.text.find(',') == std::string::npos);
    const bool debit = r.side == GlSide::debit;
    d_lines += fmt::format("D,{},{},{},CNY,{},{},{},{},{},{}\n", r.line_no, r.org_code, r.gl_account,
                           debit ? r.amount_fen.str() : "0", debit ? "0" : r.amount_fen.str(), r.text, r.first_entry_id,
                           r.last_entry_id, r.entry_count);
    (debit ? file.debit_total_fen : file.credit_total_fen) += r.amount_fen;
  }
  // Each unit balances, so the file does: an assertion, not a check, because summarise_day makes it so.
  assert(file.debit_total_fen == file.credit_total_fen);
  file.d_records_sha256 = ledger::sha256_hex(d_lines);
  file.content = fmt::format("H,{},{},{},{},{}\n", file.batch_id, gl_source, file.business_day, file.generated_at,
                             gl_format_version);
  file.content += d_lines;
  file.content += fmt::format("T,{},{},{},{}\n", file.records.size(), file.debit_total_fen.str(),
                              file.credit_total_fen.str(), file.d_records_sha256);
  file.sha256 = ledger::sha256_hex(file.content);
}

struct RecordedBatch {
  std::string batch_id;
  int seq = 0;
  long long mapping_version = 0;
  std::string sha256;
  std::string ack;  // "", accepted, rejected
};

std::optional<RecordedBatch> latest_batch(soci::session& s, const std::string& day, long long branch_id) {
  soci::rowset<soci::row> rows = (s.prepare <<
      "SELECT b.batch_id, b.seq, b.mapping_version, b.sha256, coalesce(a.status, '') FROM eod.gl_batch b "
      "LEFT JOIN eod.gl_ack a ON a.batch_id = b.batch_id "
      "WHERE b.business_day = CAST(:d AS date) AND b.branch_id = :b ORDER BY b.seq DESC LIMIT 1",
      soci::use(day), soci::use(branch_id));
  for (const soci::row& row : rows) {
    return RecordedBatch{row.get<std::string>(0), row.get<int>(1), row.get<long long>(2), row.get<std::string>(3),
                         row.get<std::string>(4)};
  }
  return std::nullopt;
}

struct Branch {
  long long id = 0;
  std::string code;
};

// Builds (and for a new batch, records) the file of one branch. `summaries` caches a day's summary per
// mapping version: every branch of one extract normally shares one.
Expected<GlFile, EodRefusal> branch_file(soci::session& s, date::year_month_day day, const Branch& branch,
                                         const std::string& generated_at,
                                         std::map<long long, DaySummary>& summaries, bool record) {
  const std::string d = ledger::format_day(day);
  const std::string compact = detail::compact_day(day);
  const auto latest = latest_batch(s, d, branch.id);
  const bool new_batch = !latest || latest->ack == "rejected";
  GlFile file;
  file.business_day = d;
  file.branch_code = branch.code;
  file.generated_at = generated_at;
  file.seq = latest ? latest->seq + (new_batch ? 1 : 0) : 1;
  file.mapping_version = new_batch ? current_mapping_version(s) : latest->mapping_version;
  file.batch_id = batch_id_of(compact, branch.code, file.seq);
  file.file_name = file_name_of(compact, branch.code, file.seq);
  if (file.seq > 999) {
    return unexpected(refuse(Code::extract_differs, "seq",
                             fmt::format("{} of branch {} was rejected 999 times: no sequence is left", d, branch.code)));
  }
  if (!summaries.contains(file.mapping_version)) {
    auto summary = summarise_day(s, day, file.mapping_version);
    if (!summary) return unexpected(summary.error());
    summaries.emplace(file.mapping_version, std::move(summary).value());
  }
  const auto& by_branch = summaries.at(file.mapping_version).by_branch;
  if (const auto it = by_branch.find(branch.code); it != by_branch.end()) file.records = it->second;
  write_content(file);
  if (!new_batch) {
    if (file.sha256 != latest->sha256) {
      return unexpected(refuse(Code::extract_differs, "batch_id",
                               fmt::format("batch {} was recorded with SHA-256 {}, and the closed day {} now gives {}: "
                                           "the journal of a closed day changed (run `promoledger audit verify`)",
                                           latest->batch_id, latest->sha256, d, file.sha256)));
    }
    return file;
  }
  if (record) {
    const std::string debit = file.debit_total_fen.str(), credit = file.credit_total_fen.str();
    const long long records = static_cast<long long>(file.records.size());
    s << "INSERT INTO eod.gl_batch (batch_id, business_day, branch_id, seq, mapping_version, file_name, record_count, "
         "debit_total_fen, credit_total_fen, sha256, generated_at) "
         "VALUES (:id, CAST(:d AS date), :b, :seq, :v, :f, :n, CAST(:dr AS numeric), CAST(:cr AS numeric), :h, "
         "CAST(:g AS timestamptz))",
        soci::use(file.batch_id), soci::use(d), soci::use(branch.id), soci::use(file.seq),
        soci::use(file.mapping_version), soci::use(file.file_name), soci::use(records), soci::use(debit),
        soci::use(credit), soci::use(file.sha256), soci::use(file.generated_at);
    file.recorded_now = true;
  }
  return file;
}

std::vector<Branch> branches(soci::session& s, const std::optional<std::string>& only) {
  std::vector<Branch> out;
  const std::string code = only.value_or("");
  soci::rowset<soci::row> rows = (s.prepare <<
      "SELECT id, code FROM ledger.org_unit WHERE kind = 'branch' AND (:c = '' OR code = :c) ORDER BY code",
      soci::use(code, "c"));
  for (const soci::row& row : rows) out.push_back(Branch{row.get<long long>(0), row.get<std::string>(1)});
  return out;
}

// The record of a batch: its day, branch and mapping version.
struct BatchKey {
  date::year_month_day day;
  Branch branch;
  int seq = 0;
  long long mapping_version = 0;
  std::string sha256;
  std::string generated_at;
};
std::optional<BatchKey> batch_key(soci::session& s, const std::string& batch_id) {
  soci::rowset<soci::row> rows = (s.prepare <<
      "SELECT b.business_day::text, u.id, u.code, b.seq, b.mapping_version, b.sha256, "
      "to_char(b.generated_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"') "
      "FROM eod.gl_batch b JOIN ledger.org_unit u ON u.id = b.branch_id WHERE b.batch_id = :id",
      soci::use(batch_id));
  for (const soci::row& row : rows) {
    return BatchKey{ledger::parse_day(row.get<std::string>(0)).value(), Branch{row.get<long long>(1), row.get<std::string>(2)},
                    row.get<int>(3), row.get<long long>(4), row.get<std::string>(5), row.get<std::string>(6)};
  }
  return std::nullopt;
}

// The file of a recorded batch, recomputed with its mapping version.
Expected<GlFile, EodRefusal> recorded_file(soci::session& s, const std::string& batch_id, const BatchKey& key) {
  GlFile file;
  const std::string compact = detail::compact_day(key.day);
  file.business_day = ledger::format_day(key.day);
  file.branch_code = key.branch.code;
  file.seq = key.seq;
  file.mapping_version = key.mapping_version;
  file.batch_id = batch_id;
  file.file_name = file_name_of(compact, key.branch.code, key.seq);
  file.generated_at = key.generated_at;
  auto summary = summarise_day(s, key.day, key.mapping_version);
  if (!summary) return unexpected(summary.error());
  if (const auto it = summary->by_branch.find(key.branch.code); it != summary->by_branch.end()) file.records = it->second;
  write_content(file);
  if (file.sha256 != key.sha256) {
    return unexpected(refuse(Code::extract_differs, "batch_id",
                             fmt::format("batch {} was recorded with SHA-256 {}, and its day {} now gives {}: the "
                                         "journal of a closed day changed (run `promoledger audit verify`)",
                                         batch_id, key.sha256, file.business_day, file.sha256)));
  }
  return file;
}

// The file of a recorded batch, read in the caller's transaction; unknown_batch when there is none.
Expected<GlFile, EodRefusal> recorded_batch(soci::session& s, const std::string& batch_id) {
  const auto key = batch_key(s, batch_id);
  if (!key) return unexpected(refuse(Code::unknown_batch, "batch_id", fmt::format("no GL batch {}", batch_id)));
  return recorded_file(s, batch_id, *key);
}

}  // namespace

std::string_view to_string(AccountClass c) { return ledger::name_of(class_names, c); }
std::optional<AccountClass> account_class_from_string(std::string_view text) {
  return ledger::value_named(class_names, text);
}
std::string_view to_string(Booking b) { return ledger::name_of(booking_names, b); }
std::optional<Booking> booking_from_string(std::string_view text) { return ledger::value_named(booking_names, text); }

std::vector<MappingRow> mapping_in_force(ledger::Database& database) {
  auto lease = database.lease();
  std::vector<MappingRow> out;
  try {
    soci::rowset<soci::row> rows = (lease->prepare << std::string(select_mapping) +
        fmt::format("WHERE m.id IN (SELECT id FROM eod.mapping_as_of((SELECT coalesce(max(id), 0) FROM eod.gl_mapping))) "
                    "ORDER BY m.account_class, m.account_code NULLS FIRST LIMIT {}", mapping_rows_max));
    for (const soci::row& row : rows) out.push_back(mapping_of(row));
  } catch (...) {
    rethrow_as_database_error("reading the GL mapping");
  }
  return out;
}

std::vector<MappingRow> mapping_history(ledger::Database& database) {
  auto lease = database.lease();
  std::vector<MappingRow> out;
  try {
    soci::rowset<soci::row> rows =
        (lease->prepare << std::string(select_mapping) + fmt::format("ORDER BY m.id LIMIT {}", mapping_rows_max));
    for (const soci::row& row : rows) out.push_back(mapping_of(row));
  } catch (...) {
    rethrow_as_database_error("reading the GL mapping's history");
  }
  return out;
}

Expected<MappingRow, EodRefusal> set_mapping(ledger::Database& database, const MappingChange& change) {
  const bool by_account = change.account_class == AccountClass::account;
  if (by_account && !valid_code(change.account_code, 80, true)) {
    return unexpected(refuse(Code::invalid_mapping, "account",
                             "an account mapping needs the account's code (1..80 of A-Z a-z 0-9 _ . : -)"));
  }
  if (!by_account && !change.account_code.empty()) {
    return unexpected(refuse(Code::invalid_mapping, "account",
                             fmt::format("class {} maps every account of the class; an account code belongs to class account",
                                         to_string(change.account_class))));
  }
  if (change.gl_account && !valid_gl_account(*change.gl_account)) {
    return unexpected(refuse(Code::invalid_mapping, "gl", fmt::format("GL account \"{}\" must be 1..16 of 0-9 A-Z a-z",
                                                                      change.gl_account->substr(0, 40))));
  }
  if (!change.gl_account && change.account_class != AccountClass::outlet_subsidy) {
    return unexpected(refuse(Code::invalid_mapping, "gl",
                             fmt::format("class {} needs a GL account (only outlet_subsidy may take the campaign's GL code)",
                                         to_string(change.account_class))));
  }
  const bool fixed = change.booking == Booking::fixed;
  if (fixed != !change.org_code.empty()) {
    return unexpected(refuse(Code::invalid_mapping, "org",
                             fixed ? "booking fixed needs the org unit that books (--org CODE)"
                                   : "an org unit is given only with booking fixed (account_unit books at the account's own unit)"));
  }
  if (change.account_class == AccountClass::inter_unit && fixed) {
    return unexpected(refuse(Code::invalid_mapping, "booking", "inter_unit books at the unit it balances (account_unit)"));
  }
  if (change.reason.empty() || change.reason.size() > mapping_reason_length_max) {
    return unexpected(refuse(Code::invalid_mapping, "reason",
                             fmt::format("a reason of 1..{} bytes is required (say why the mapping changes)",
                                         mapping_reason_length_max)));
  }
  auto lease = database.lease();
  soci::session& s = *lease;
  try {
    long long org_id = 0;
    soci::indicator org_ind = soci::i_null;
    if (fixed) {
      s << "SELECT id FROM ledger.org_unit WHERE code = :c", soci::use(change.org_code), soci::into(org_id);
      if (!s.got_data()) {
        return unexpected(refuse(Code::unknown_org_unit, "org", fmt::format("no org unit {}", change.org_code)));
      }
      org_ind = soci::i_ok;
    }
    const std::string cls(to_string(change.account_class));
    const std::string booking(to_string(change.booking));
    const std::string code = change.account_code;
    const std::string gl = change.gl_account.value_or("");
    soci::indicator code_ind = by_account ? soci::i_ok : soci::i_null;
    soci::indicator gl_ind = change.gl_account ? soci::i_ok : soci::i_null;
    long long id = 0;
    s << "INSERT INTO eod.gl_mapping (account_class, account_code, gl_account, booking, org_unit_id, reason) "
         "VALUES (:cls, :code, :gl, :booking, :org, :reason) RETURNING id",
        soci::use(cls), soci::use(code, code_ind), soci::use(gl, gl_ind), soci::use(booking), soci::use(org_id, org_ind),
        soci::use(change.reason), soci::into(id);
    soci::row row;
    s << std::string(select_mapping) + "WHERE m.id = :id", soci::use(id), soci::into(row);
    MappingRow stored = mapping_of(row);
    assert(stored.account_class == change.account_class);
    return stored;
  } catch (...) {
    rethrow_as_database_error("setting the GL mapping");
  }
}

Expected<GlExtract, EodRefusal> extract_day(ledger::Database& database, date::year_month_day day,
                                            const std::optional<std::string>& branch_code) {
  auto lease = database.lease();
  soci::session& s = *lease;
  try {
    soci::transaction tx(s);
    const auto closed = detail::close_time_local(s, day);
    if (!closed) {
      return unexpected(refuse(Code::business_day_open, "date",
                               fmt::format("business day {} is not closed: close it first (`promoledger close-day`)",
                                           ledger::format_day(day))));
    }
    const auto list = branches(s, branch_code);
    if (branch_code && list.empty()) {
      return unexpected(refuse(Code::unknown_branch, "branch", fmt::format("no branch {}", *branch_code)));
    }
    GlExtract out;
    out.business_day = ledger::format_day(day);
    std::map<long long, DaySummary> summaries;
    for (const Branch& b : list) {
      auto file = branch_file(s, day, b, *closed, summaries, true);
      if (!file) return unexpected(file.error());
      out.files.push_back(std::move(file).value());
    }
    tx.commit();
    return out;
  } catch (...) {
    rethrow_as_database_error("extracting the GL journal");
  }
}

std::vector<std::string> write_files(const GlExtract& extract, const std::string& directory) {
  std::filesystem::create_directories(directory);
  std::vector<std::string> paths;
  for (const GlFile& f : extract.files) {
    const std::filesystem::path path = std::filesystem::path(directory) / f.file_name;
    // Written beside, then renamed: a reader never sees half a file.
    const std::filesystem::path partial = path.string() + ".partial";
    {
      std::ofstream out(partial, std::ios::binary | std::ios::trunc);
      out.write(f.content.data(), static_cast<std::streamsize>(f.content.size()));
      out.close();
      if (!out) throw std::runtime_error(fmt::format("cannot write {}", partial.string()));
    }
    std::filesystem::rename(partial, path);
    paths.push_back(path.string());
  }
  return paths;
}

Expected<GlFile, EodRefusal> batch_file(ledger::Database& database, const std::string& batch_id) {
  auto lease = database.lease();
  soci::session& s = *lease;
  try {
    soci::transaction tx(s);  // read only; for SET LOCAL in summarise_day
    auto file = recorded_batch(s, batch_id);
    tx.commit();
    return file;
  } catch (...) {
    rethrow_as_database_error("reading a GL batch");
  }
}

std::vector<BatchStatus> batches_of_day(ledger::Database& database, date::year_month_day day) {
  auto lease = database.lease();
  std::vector<BatchStatus> out;
  const std::string d = ledger::format_day(day);
  try {
    soci::rowset<soci::row> rows = (lease->prepare <<
        "SELECT b.batch_id, b.business_day::text, u.code, b.seq, b.file_name, b.record_count, b.debit_total_fen::text, "
        "b.credit_total_fen::text, b.sha256, coalesce(a.status, 'extracted'), coalesce(a.reason, ''), "
        "to_char(b.extracted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "coalesce(to_char(a.acknowledged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
        "FROM eod.gl_batch b JOIN ledger.org_unit u ON u.id = b.branch_id LEFT JOIN eod.gl_ack a ON a.batch_id = b.batch_id "
        "WHERE b.business_day = CAST(:d AS date) ORDER BY u.code, b.seq LIMIT :n",
        soci::use(d), soci::use(static_cast<long long>(batches_per_day_max)));
    for (const soci::row& row : rows) {
      BatchStatus b;
      b.batch_id = row.get<std::string>(0);
      b.business_day = row.get<std::string>(1);
      b.branch_code = row.get<std::string>(2);
      b.seq = row.get<int>(3);
      b.file_name = row.get<std::string>(4);
      b.record_count = row.get<int>(5);
      b.debit_total_fen = detail::wide_at(row, 6);
      b.credit_total_fen = detail::wide_at(row, 7);
      b.sha256 = row.get<std::string>(8);
      b.status = row.get<std::string>(9);
      b.reason = row.get<std::string>(10);
      b.extracted_at_utc = row.get<std::string>(11);
      b.acknowledged_at_utc = row.get<std::string>(12);
      out.push_back(std::move(b));
    }
  } catch (...) {
    rethrow_as_database_error("reading the GL batches");
  }
  return out;
}

Expected<DrillDown, EodRefusal> drill_down(ledger::Database& database, const std::string& batch_id, int line_no,
                                           std::size_t limit) {
  assert(limit >= 1 && limit <= drill_lines_max);
  auto lease = database.lease();
  soci::session& s = *lease;
  try {
    soci::transaction tx(s);  // read only; for SET LOCAL in summarise_day
    const auto file = recorded_batch(s, batch_id);
    if (!file) return unexpected(file.error());
    if (line_no < 1 || static_cast<std::size_t>(line_no) > file->records.size()) {
      return unexpected(refuse(Code::unknown_line, "line",
                               fmt::format("batch {} has D records 1..{}; there is no line {}", batch_id,
                                           file->records.size(), line_no)));
    }
    DrillDown out;
    out.batch_id = batch_id;
    out.record = file->records[static_cast<std::size_t>(line_no - 1)];
    const std::string& d = file->business_day;
    const long long version = file->mapping_version;
    const std::string side(1, static_cast<char>(out.record.side));
    const int inter = out.record.inter_unit ? 1 : 0;
    const long long n = static_cast<long long>(limit) + 1;
    soci::rowset<soci::row> rows = (s.prepare <<
        "SELECT l.entry_id, l.line_no, e.external_ref, e.kind, m.account_code, l.side, l.amount_fen "
        "  FROM ledger.journal_line l JOIN ledger.journal_entry e ON e.id = l.entry_id AND e.business_day = l.business_day "
        "  JOIN eod.account_map(:v) m ON m.account_id = l.account_id "
        "  JOIN ledger.org_unit u ON u.id = m.org_unit_id "
        " WHERE l.business_day = CAST(:d AS date) AND u.code = :org "
        "   AND (:inter = 1 OR (m.gl_account = :gl AND l.side = :side)) "
        " ORDER BY l.entry_id, l.line_no LIMIT :n",
        soci::use(version, "v"), soci::use(d, "d"), soci::use(out.record.org_code, "org"),
        soci::use(inter, "inter"), soci::use(out.record.gl_account, "gl"), soci::use(side, "side"), soci::use(n, "n"));
    for (const soci::row& row : rows) {
      if (out.lines.size() == limit) {
        out.more = true;
        break;
      }
      DrillLine l;
      l.entry_id = row.get<long long>(0);
      l.line_no = row.get<int>(1);
      l.external_ref = row.get<std::string>(2);
      l.kind = row.get<std::string>(3);
      l.account_code = row.get<std::string>(4);
      l.side = row.get<std::string>(5) == "D" ? GlSide::debit : GlSide::credit;
      l.amount = ledger::Money::from_fen(row.get<long long>(6));
      out.lines.push_back(std::move(l));
    }
    tx.commit();
    return out;
  } catch (...) {
    rethrow_as_database_error("drilling down a GL line");
  }
}

Expected<std::vector<AckOutcome>, EodRefusal> acknowledge(ledger::Database& database, std::string_view ack_file) {
  // 1. Read the whole file; refuse it whole on the first bad row.
  if (!detail::valid_utf8(ack_file)) return unexpected(refuse(Code::invalid_ack, "file", "the answer file is not UTF-8"));
  std::vector<AckOutcome> rows;
  std::map<std::string, std::size_t> seen;
  std::size_t line_no = 0;
  std::size_t start = 0;
  std::vector<std::string> unquoted;
  bool header = false;
  while (start < ack_file.size()) {
    std::size_t end = ack_file.find('\n', start);
    if (end == std::string_view::npos) end = ack_file.size();
    std::string_view line = ack_file.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const auto fields = detail::split_csv_line(line, unquoted);
    const std::string where = fmt::format("line {}", line_no);
    if (!fields) return unexpected(refuse(Code::invalid_ack, where, fmt::format("{}: a quote is not closed", where)));
    if (!header) {
      if (fields->size() != 3 || (*fields)[0] != "batch_id" || (*fields)[1] != "status" || (*fields)[2] != "reason") {
        return unexpected(refuse(Code::invalid_ack, where, "the first line must be the header batch_id,status,reason"));
      }
      header = true;
      continue;
    }
    if (fields->size() != 3) {
      return unexpected(refuse(Code::invalid_ack, where, fmt::format("{}: 3 fields expected, {} found", where, fields->size())));
    }
    AckOutcome a;
    a.batch_id = std::string((*fields)[0]);
    const std::string_view status = (*fields)[1];
    a.reason = std::string((*fields)[2]);
    if (status == "ACCEPTED") {
      a.status = "accepted";
      if (!a.reason.empty()) a.reason.clear();  // an acceptance carries no reason; a note is ignored
    } else if (status == "REJECTED") {
      a.status = "rejected";
      if (a.reason.empty() || a.reason.size() > 500) {
        return unexpected(refuse(Code::invalid_ack, where + ": reason", fmt::format("{}: a rejection needs its reason (1..500 bytes)", where)));
      }
    } else {
      return unexpected(refuse(Code::invalid_ack, where + ": status",
                               fmt::format("{}: status \"{}\" is neither ACCEPTED nor REJECTED", where, status.substr(0, 20))));
    }
    if (!valid_code(a.batch_id, 60, false)) {
      return unexpected(refuse(Code::invalid_ack, where + ": batch_id", fmt::format("{}: \"{}\" is not a batch id", where,
                                                                                     a.batch_id.substr(0, 60))));
    }
    if (const auto it = seen.find(a.batch_id); it != seen.end()) {
      const AckOutcome& before = rows[it->second];
      if (before.status != a.status || before.reason != a.reason) {
        return unexpected(refuse(Code::ack_conflicts, where,
                                 fmt::format("{}: batch {} is answered twice in this file, differently", where, a.batch_id)));
      }
      continue;
    }
    if (rows.size() == ack_rows_max) {
      return unexpected(refuse(Code::invalid_ack, where, fmt::format("more than {} answers in one file", ack_rows_max)));
    }
    seen.emplace(a.batch_id, rows.size());
    rows.push_back(std::move(a));
  }
  if (!header) return unexpected(refuse(Code::invalid_ack, "line 1", "the file is empty (the header batch_id,status,reason is missing)"));

  // 2. Record all of them in one transaction, or none.
  const std::string file_sha = ledger::sha256_hex(ack_file);
  auto lease = database.lease();
  soci::session& s = *lease;
  try {
    soci::transaction tx(s);
    for (AckOutcome& a : rows) {
      int exists = 0;
      s << "SELECT count(*) FROM eod.gl_batch WHERE batch_id = :id", soci::use(a.batch_id), soci::into(exists);
      if (exists == 0) return unexpected(refuse(Code::unknown_batch, "batch_id", fmt::format("no GL batch {}", a.batch_id)));
      std::string status, reason;
      soci::indicator reason_ind = soci::i_null;
      s << "SELECT status, reason FROM eod.gl_ack WHERE batch_id = :id FOR UPDATE", soci::use(a.batch_id),
          soci::into(status), soci::into(reason, reason_ind);
      if (s.got_data()) {
        const std::string before_reason = reason_ind == soci::i_null ? "" : reason;
        if (status != a.status || before_reason != a.reason) {
          return unexpected(refuse(Code::ack_conflicts, "batch_id",
                                   fmt::format("batch {} was answered {}{} before; the GL's answer cannot change (a new "
                                               "extract follows a rejection)",
                                               a.batch_id, status, before_reason.empty() ? "" : " (" + before_reason + ")")));
        }
        continue;
      }
      soci::indicator ind = a.reason.empty() ? soci::i_null : soci::i_ok;
      s << "INSERT INTO eod.gl_ack (batch_id, status, reason, ack_file_sha256) VALUES (:id, :st, :r, :h)",
          soci::use(a.batch_id), soci::use(a.status), soci::use(a.reason, ind), soci::use(file_sha);
      a.recorded_now = true;
    }
    tx.commit();
    return rows;
  } catch (...) {
    rethrow_as_database_error("recording the GL's answers");
  }
}

}  // namespace promoledger::eod
