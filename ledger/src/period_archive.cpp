// Archive and restore of a closed month (periods.hpp): the files, their checks, and the partitions.
//
// An archive folder holds one gzip-compressed COPY text file per table (the month's partition of each
// of the six journal tables, and the close's own rows: period, anchors, links) and manifest.json:
// format, month, the close's digest and counts, and per file its table, partition, rows, bytes and
// SHA-256 (of the compressed file, as `sha256sum` prints it). COPY text is PostgreSQL's own exact
// representation of every value, so a restored row is the archived row, hash for hash.

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <array>
#include <fstream>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <soci/soci.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/periods.hpp"

namespace promoledger::ledger {
namespace {

using nlohmann::json;

constexpr std::string_view manifest_format = "promoledger-period-archive/1";
constexpr std::size_t archive_files_max = 9;  // six partitions and the close's three tables
constexpr long long period_lock_key = 0x706c706572696f64;  // 'plperiod', as periods.cpp

PeriodRefusalOf refusal(PeriodRefusal code, std::string field, std::string message) {
  return PeriodRefusalOf(code, std::move(field), std::move(message));
}

// The order rows are written in: the table's key, so that an archive of the same month is the same.
std::string order_of(const std::string& table) {
  static const std::map<std::string, std::string> keys = {
      {"ledger.journal_entry", "id"},         {"ledger.journal_line", "entry_id, line_no"},
      {"promo.payment", "payment_id"},        {"promo.payment_reversal", "payment_id"},
      {"promo.payer_day", "campaign_id, payer_id"}, {"promo.deck", "id"},
      {"ledger.period", "month"},              {"ledger.period_anchor", "account_id"},
      {"ledger.period_link", "account_id, account_seq"}};
  const auto it = keys.find(table);
  if (it == keys.end()) throw DatabaseError("archive: no key known for table " + table, "");
  return it->second;
}

std::string file_name_of(const std::string& table) { return table + ".copy.gz"; }

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw DatabaseError("sha256: init failed", "");
  }
  void add(const void* data, std::size_t size) {
    if (EVP_DigestUpdate(ctx_.get(), data, size) != 1) throw DatabaseError("sha256: update failed", "");
  }
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length) != 1) throw DatabaseError("sha256: final failed", "");
    std::string out;
    for (unsigned int i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

std::string sha256_of_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DatabaseError(fmt::format("archive: cannot read {}", path.string()), "");
  Sha256 h;
  std::array<char, 1 << 16> buffer{};
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    h.add(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  return h.hex();
}

struct GzCloser {
  void operator()(gzFile f) const {
    if (f != nullptr) gzclose(f);
  }
};
using Gz = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

void check_result(PGconn* conn, PGresult* result, ExecStatusType want, std::string_view what) {
  const bool ok = result != nullptr && PQresultStatus(result) == want;
  if (ok) return;
  std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state != nullptr ? state : "";
  PQclear(result);
  throw DatabaseError(fmt::format("{}: {}", what, message), sqlstate);
}

// COPY (query) TO STDOUT into a gzip file; returns the rows written.
std::int64_t copy_out(PGconn* conn, const std::string& query, const std::filesystem::path& path) {
  Gz out(gzopen(path.c_str(), "wb6"));
  if (!out) throw DatabaseError(fmt::format("archive: cannot write {}", path.string()), "");
  PGresult* started = PQexec(conn, fmt::format("COPY ({}) TO STDOUT", query).c_str());
  check_result(conn, started, PGRES_COPY_OUT, "archive: COPY out");
  PQclear(started);
  std::int64_t rows = 0;
  for (;;) {
    char* buffer = nullptr;
    const int n = PQgetCopyData(conn, &buffer, 0);
    if (n == -1) break;
    if (n < 0) throw DatabaseError(fmt::format("archive: COPY out failed: {}", PQerrorMessage(conn)), "");
    const int written = gzwrite(out.get(), buffer, static_cast<unsigned>(n));
    PQfreemem(buffer);
    if (written != n) throw DatabaseError(fmt::format("archive: writing {} failed", path.string()), "");
    ++rows;  // text COPY gives one row per buffer
  }
  PGresult* done = PQgetResult(conn);
  check_result(conn, done, PGRES_COMMAND_OK, "archive: COPY out");
  PQclear(done);
  if (gzclose(out.release()) != Z_OK) throw DatabaseError(fmt::format("archive: closing {} failed", path.string()), "");
  return rows;
}

// Rows of a gzip COPY file (one per line), or nullopt when it does not decompress to whole lines.
std::optional<std::int64_t> rows_in(const std::filesystem::path& path) {
  Gz in(gzopen(path.c_str(), "rb"));
  if (!in) return std::nullopt;
  std::array<char, 1 << 16> buffer{};
  std::int64_t rows = 0;
  char last = '\n';
  for (;;) {
    const int n = gzread(in.get(), buffer.data(), static_cast<unsigned>(buffer.size()));
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    for (int i = 0; i < n; ++i) rows += buffer[static_cast<std::size_t>(i)] == '\n' ? 1 : 0;
    last = buffer[static_cast<std::size_t>(n - 1)];
  }
  int error = Z_OK;
  gzerror(in.get(), &error);
  if (error != Z_OK || last != '\n') return std::nullopt;
  return rows;
}

// COPY table FROM STDIN out of a gzip file; returns the rows loaded.
std::int64_t copy_in(PGconn* conn, const std::string& table, const std::filesystem::path& path) {
  Gz in(gzopen(path.c_str(), "rb"));
  if (!in) throw DatabaseError(fmt::format("restore: cannot read {}", path.string()), "");
  PGresult* started = PQexec(conn, fmt::format("COPY {} FROM STDIN", table).c_str());
  check_result(conn, started, PGRES_COPY_IN, "restore: COPY in");
  PQclear(started);
  std::array<char, 1 << 16> buffer{};
  for (;;) {
    const int n = gzread(in.get(), buffer.data(), static_cast<unsigned>(buffer.size()));
    if (n < 0) {
      PQputCopyEnd(conn, "the archive file does not decompress");
      PQclear(PQgetResult(conn));
      throw DatabaseError(fmt::format("restore: {} does not decompress", path.string()), "");
    }
    if (n == 0) break;
    if (PQputCopyData(conn, buffer.data(), n) != 1) throw DatabaseError("restore: COPY in failed", "");
  }
  if (PQputCopyEnd(conn, nullptr) != 1) throw DatabaseError("restore: COPY in failed", "");
  PGresult* done = PQgetResult(conn);
  check_result(conn, done, PGRES_COMMAND_OK, fmt::format("restore: loading {}", table));
  const std::int64_t rows = std::stoll(PQcmdTuples(done));
  PQclear(done);
  return rows;
}

void exec(PGconn* conn, const std::string& sql, std::string_view what) {
  PGresult* r = PQexec(conn, sql.c_str());
  check_result(conn, r, PGRES_COMMAND_OK, what);
  PQclear(r);
}

std::string scalar_text(PGconn* conn, const std::string& sql, std::string_view what) {
  PGresult* r = PQexec(conn, sql.c_str());
  check_result(conn, r, PGRES_TUPLES_OK, what);
  std::string out = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  return out;
}

std::string quoted(PGconn* conn, const std::string& text) {
  char* q = PQescapeLiteral(conn, text.c_str(), text.size());
  if (q == nullptr) throw DatabaseError("cannot quote a literal", "");
  std::string out(q);
  PQfreemem(q);
  return out;
}

// The session lock of periods.cpp, for as long as the object lives.
struct Locked {
  PGconn* conn;
  explicit Locked(PGconn* c) : conn(c) {
    scalar_text(conn, fmt::format("SELECT pg_advisory_lock({})", period_lock_key), "taking the periods' lock");
  }
  ~Locked() { PQclear(PQexec(conn, fmt::format("SELECT pg_advisory_unlock({})", period_lock_key).c_str())); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
};

bool owns_the_journal(PGconn* conn) {
  return scalar_text(conn,
                     "SELECT pg_has_role(current_user, c.relowner, 'MEMBER') FROM pg_class c "
                     "WHERE c.oid = 'ledger.journal_line'::regclass",
                     "checking the owner") == "t";
}

}  // namespace

Expected<ArchiveReport, PeriodRefusalOf> archive_period(Database& database, date::year_month month,
                                                        const std::filesystem::path& folder) {
  const std::string m = format_month(month);
  const std::string first_day = format_day(month / date::day{1});
  auto lease = database.lease();
  PGconn* conn = native_handle(*lease);
  const Locked lock(conn);
  if (!owns_the_journal(conn)) {
    return unexpected(refusal(PeriodRefusal::not_owner, "",
                              "archive: only the owner of the journal's tables may archive a month (it drops partitions)"));
  }
  const std::string day = quoted(conn, first_day);
  const std::string digest = scalar_text(conn, "SELECT chain_digest FROM ledger.period WHERE month = " + day, "reading the close");
  if (digest.empty()) {
    return unexpected(refusal(PeriodRefusal::period_not_closed, "month",
                              fmt::format("month {} is not closed: `promoledger period close --month {}` first", m, m)));
  }
  if (scalar_text(conn, fmt::format("SELECT cardinality(ledger.archived_months({0}, {0}))", day), "reading events") != "0") {
    return unexpected(refusal(PeriodRefusal::period_archived, "month", fmt::format("month {} is archived already", m)));
  }
  const std::string horizon = scalar_text(conn, "SELECT ledger.replay_horizon()", "reading the replay window");
  const std::string last_day = format_day(date::year_month_day{month / date::last});
  if (last_day >= horizon) {
    return unexpected(refusal(PeriodRefusal::period_in_replay_window, "month",
                              fmt::format("month {} is inside the replay window (it starts on {}): a payment of it may "
                                          "still be sent again and must be answered; archive it after the window",
                                          m, horizon)));
  }
  // The month's partition of each table, parents in the archive's order.
  std::vector<std::pair<std::string, std::string>> partitions;
  {
    PGresult* r = PQexec(conn, fmt::format("SELECT t::text, coalesce(ledger.month_partition(t, {})::text, '') "
                                           "FROM unnest(ledger.period_tables()) WITH ORDINALITY AS x(t, n) ORDER BY n",
                                           day)
                                   .c_str());
    check_result(conn, r, PGRES_TUPLES_OK, "finding the partitions");
    for (int i = 0; i < PQntuples(r); ++i) partitions.emplace_back(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    PQclear(r);
  }
  for (const auto& [table, partition] : partitions) {
    if (partition.empty()) {
      return unexpected(refusal(PeriodRefusal::not_partitioned, "month",
                                fmt::format("{} has no partition of exactly {} (a database built without partitions, "
                                            "or the month is not its own partition)", table, m)));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) throw DatabaseError(fmt::format("archive: cannot make {}: {}", folder.string(), ec.message()), "");
  if (std::filesystem::exists(folder / "manifest.json")) {
    return unexpected(refusal(PeriodRefusal::archive_exists, "to",
                              fmt::format("{} holds an archive already (manifest.json); choose an empty folder",
                                          folder.string())));
  }

  ArchiveReport report{m, folder.string(), digest, "", {}, false};
  // One snapshot for every file (the month is closed: nothing of it changes, but the close's rows and
  // the partitions are read together).
  exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "beginning the archive");
  try {
    exec(conn, "SET LOCAL statement_timeout = '2h'", "allowing the archive its time");
    for (const auto& [table, partition] : partitions) {
      ArchivedFile f{table, partition, file_name_of(table), 0, 0, ""};
      f.rows = copy_out(conn, fmt::format("SELECT * FROM {} ORDER BY {}", partition, order_of(table)), folder / f.file);
      report.files.push_back(std::move(f));
    }
    for (const char* table : {"ledger.period", "ledger.period_anchor", "ledger.period_link"}) {
      ArchivedFile f{table, "", file_name_of(table), 0, 0, ""};
      f.rows = copy_out(conn, fmt::format("SELECT * FROM {} WHERE month = {} ORDER BY {}", table, day, order_of(table)),
                        folder / f.file);
      report.files.push_back(std::move(f));
    }
    exec(conn, "COMMIT", "ending the archive's reads");
  } catch (...) {
    PQclear(PQexec(conn, "ROLLBACK"));
    throw;
  }
  for (auto& f : report.files) {
    f.bytes = static_cast<std::int64_t>(std::filesystem::file_size(folder / f.file));
    f.sha256 = sha256_of_file(folder / f.file);
  }
  json files = json::array();
  for (const auto& f : report.files) {
    files.push_back(json{{"table", f.table}, {"partition", f.partition}, {"file", f.file}, {"rows", f.rows},
                         {"bytes", f.bytes}, {"sha256", f.sha256}});
  }
  const json manifest{{"format", manifest_format},
                      {"month", m},
                      {"chain_digest", digest},
                      {"created_at", format_timestamp_utc(now())},
                      {"created_by", scalar_text(conn, "SELECT current_user", "reading the login")},
                      {"database", scalar_text(conn, "SELECT current_database()", "reading the database")},
                      {"files", files}};
  {
    std::ofstream out(folder / "manifest.json", std::ios::binary | std::ios::trunc);
    out << manifest.dump(2) << '\n';
    if (!out) throw DatabaseError("archive: cannot write manifest.json", "");
  }
  report.manifest_sha256 = sha256_of_file(folder / "manifest.json");

  // Read back: every file decompresses to its rows and still has its checksum. Only then drop.
  for (const auto& f : report.files) {
    const auto rows = rows_in(folder / f.file);
    if (!rows || *rows != f.rows || sha256_of_file(folder / f.file) != f.sha256) {
      throw DatabaseError(fmt::format("archive: {} did not read back as written ({} rows expected); nothing was dropped",
                                      f.file, f.rows),
                          "");
    }
  }
  exec(conn, "BEGIN", "beginning the drop");
  try {
    // Detaching takes an ACCESS EXCLUSIVE lock on each parent: wait for it a little, never for long.
    exec(conn, "SET LOCAL lock_timeout = '10s'", "bounding the wait for locks");
    for (const auto& [table, partition] : partitions) {
      exec(conn, fmt::format("ALTER TABLE {} DETACH PARTITION {}", table, partition), "detaching " + partition);
      exec(conn, fmt::format("DROP TABLE {}", partition), "dropping " + partition);
    }
    std::int64_t rows = 0;
    for (const auto& f : report.files) rows += f.partition.empty() ? 0 : f.rows;
    const json detail{{"folder", std::filesystem::absolute(folder).string()},
                      {"manifest_sha256", report.manifest_sha256},
                      {"rows", rows}};
    exec(conn, fmt::format("INSERT INTO ledger.period_event (month, event, detail) VALUES ({}, 'archived', {}::jsonb)", day,
                           quoted(conn, detail.dump())),
         "recording the archive");
    exec(conn, "COMMIT", "committing the drop");
  } catch (...) {
    PQclear(PQexec(conn, "ROLLBACK"));
    throw;
  }
  report.dropped = true;
  return report;
}

Expected<ArchiveReport, PeriodRefusalOf> restore_period(Database& database, const std::filesystem::path& folder) {
  const auto invalid = [&](std::string message) {
    return unexpected(refusal(PeriodRefusal::archive_invalid, "from", std::move(message)));
  };
  json manifest;
  {
    std::ifstream in(folder / "manifest.json", std::ios::binary);
    if (!in) return invalid(fmt::format("{}: no manifest.json", folder.string()));
    manifest = json::parse(in, nullptr, false);
  }
  if (manifest.is_discarded() || !manifest.is_object() || manifest.value("format", "") != manifest_format ||
      !manifest.contains("files") || !manifest["files"].is_array() || manifest["files"].size() > archive_files_max) {
    return invalid(fmt::format("{}/manifest.json is not a {} manifest", folder.string(), manifest_format));
  }
  const auto month = parse_month(manifest.value("month", ""));
  if (!month) return invalid(fmt::format("manifest.json: {}", month.error().message));
  const std::string digest = manifest.value("chain_digest", "");
  ArchiveReport report{format_month(*month), folder.string(), digest, sha256_of_file(folder / "manifest.json"), {}, false};
  for (const auto& f : manifest["files"]) {
    ArchivedFile a{f.value("table", ""), f.value("partition", ""), f.value("file", ""), f.value("rows", std::int64_t{-1}),
                   f.value("bytes", std::int64_t{-1}), f.value("sha256", "")};
    if (a.table.empty() || a.file.empty() || a.file.find('/') != std::string::npos || a.rows < 0) {
      return invalid("manifest.json: a file entry lacks its table, file name or rows");
    }
    const auto path = folder / a.file;
    if (!std::filesystem::exists(path)) return invalid(fmt::format("{}: missing", path.string()));
    if (sha256_of_file(path) != a.sha256) {
      return invalid(fmt::format("{}: its SHA-256 is not the manifest's: the file was changed or damaged; nothing was "
                                 "restored",
                                 path.string()));
    }
    report.files.push_back(std::move(a));
  }
  const std::string first_day = format_day(*month / date::day{1});
  const std::string next_day = format_day((*month + date::months{1}) / date::day{1});

  auto lease = database.lease();
  PGconn* conn = native_handle(*lease);
  const Locked lock(conn);
  if (!owns_the_journal(conn)) {
    return unexpected(refusal(PeriodRefusal::not_owner, "", "restore: only the owner of the journal's tables may restore"));
  }
  const std::string day = quoted(conn, first_day);
  const std::string stored_digest =
      scalar_text(conn, "SELECT chain_digest FROM ledger.period WHERE month = " + day, "reading the close");
  if (!stored_digest.empty() && stored_digest != digest) {
    return invalid(fmt::format("the archive's chain digest {} is not the one this database recorded for {} ({})", digest,
                               report.month, stored_digest));
  }
  // Each table's partition of the month: made again if it was dropped (the live database after the
  // archive), or an empty one that is there already (a database migrated after the month began, such
  // as an auditor's copy). One that holds rows is the month itself: refused.
  std::map<std::string, std::string> existing;
  for (const auto& f : report.files) {
    if (f.partition.empty()) continue;
    const std::string partition =
        scalar_text(conn, fmt::format("SELECT ledger.month_partition({}::regclass, {})", quoted(conn, f.table), day),
                    "finding the partition");
    if (partition.empty()) continue;
    if (scalar_text(conn, fmt::format("SELECT EXISTS (SELECT 1 FROM {})", partition), "looking into " + partition) == "t") {
      return unexpected(refusal(PeriodRefusal::period_present, "from",
                                fmt::format("{} holds rows of {} already: nothing was restored", partition, report.month)));
    }
    existing[f.table] = partition;
  }
  exec(conn, "BEGIN", "beginning the restore");
  try {
    exec(conn, "SET LOCAL statement_timeout = '2h'", "allowing the restore its time");
    for (auto& f : report.files) {
      std::string target = f.table;
      if (!f.partition.empty()) {
        // Loaded into the partition directly (the parent's statement triggers, such as the closed days'
        // refusal, are for postings, not for history coming back).
        if (const auto it = existing.find(f.table); it != existing.end()) {
          target = it->second;
        } else {
          exec(conn, fmt::format("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})", f.partition, f.table,
                                 day, quoted(conn, next_day)),
               "making " + f.partition);
          target = f.partition;
        }
      } else if (!stored_digest.empty()) {
        continue;  // the database has the close's own rows already
      }
      const auto loaded = copy_in(conn, target, folder / f.file);
      if (loaded != f.rows) {
        throw DatabaseError(fmt::format("restore: {} loaded {} rows, the manifest says {}", f.file, loaded, f.rows), "");
      }
    }
    scalar_text(conn, "SELECT ledger.guard_partitions()", "guarding the partitions");
    const json detail{{"folder", std::filesystem::absolute(folder).string()}, {"manifest_sha256", report.manifest_sha256}};
    exec(conn, fmt::format("INSERT INTO ledger.period_event (month, event, detail) VALUES ({}, 'restored', {}::jsonb)", day,
                           quoted(conn, detail.dump())),
         "recording the restore");
    exec(conn, "COMMIT", "committing the restore");
  } catch (...) {
    PQclear(PQexec(conn, "ROLLBACK"));
    throw;
  }
  return report;
}

}  // namespace promoledger::ledger
