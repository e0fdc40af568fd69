#include "promoledger/eod/reconcile.hpp"

#include <libpq-fe.h>

#include <cassert>

#include <fmt/format.h>

#include "internal.hpp"
#include "profiles/common.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/migrations.hpp"
#include "promoledger/ledger/names.hpp"

namespace promoledger::eod {
namespace {

using ledger::rethrow_as_database_error;

constexpr ledger::NameTable<ReconCategory, 6> category_names{{
    {ReconCategory::matched, "MATCHED"},
    {ReconCategory::ledger_only, "LEDGER_ONLY"},
    {ReconCategory::clearing_only, "CLEARING_ONLY"},
    {ReconCategory::amount_mismatch, "AMOUNT_MISMATCH"},
    {ReconCategory::status_mismatch, "STATUS_MISMATCH"},
    {ReconCategory::cutoff, "CUTOFF"},
}};
static_assert(ledger::names_every_value(category_names));  // every value named once (ledger/names.hpp)

std::string_view channel_of(Profile p) {
  switch (p) {
    case Profile::platform: return "";  // the platform sees every channel
    case Profile::wechat: return "wechat";
    case Profile::alipay: return "alipay";
  }
  return "";
}

// Sends the file's items with one COPY into the session's temporary table eod_recon_file.
void copy_items(soci::session& s, const ClearingFile& file) {
  PGconn* conn = ledger::native_handle(s);
  PGresult* start = PQexec(conn, "COPY eod_recon_file (payment_id, pay_line, pay_fen, pay_discount_fen, ref_line, ref_fen) "
                                 "FROM STDIN");
  const bool copying = PQresultStatus(start) == PGRES_COPY_IN;
  const std::string start_error = copying ? "" : PQresultErrorMessage(start);
  PQclear(start);
  if (!copying) throw ledger::DatabaseError("starting the COPY of the clearing file: " + start_error, "");
  std::string buffer;
  constexpr std::size_t chunk_bytes = 1 << 20;
  buffer.reserve(chunk_bytes + 256);
  const auto flush = [&] {
    if (buffer.empty()) return;
    if (PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) != 1) {
      throw ledger::DatabaseError(std::string("sending the clearing file: ") + PQerrorMessage(conn), "08006");
    }
    buffer.clear();
  };
  const auto number_or_null = [&](bool present, long long value) {
    if (present) {
      buffer += std::to_string(value);
    } else {
      buffer += "\\N";
    }
  };
  for (const ClearingItem& it : file.items) {
    // Payment ids are [A-Za-z0-9_.:-] (checked by the parsers): nothing to escape in COPY's text format.
    buffer += it.payment_id;
    buffer += '\t';
    number_or_null(it.payment_line != 0, static_cast<long long>(it.payment_line));
    buffer += '\t';
    number_or_null(it.payment_line != 0, it.payment_fen);
    buffer += '\t';
    number_or_null(it.discount_fen.has_value(), it.discount_fen.value_or(0));
    buffer += '\t';
    number_or_null(it.refund_line != 0, static_cast<long long>(it.refund_line));
    buffer += '\t';
    number_or_null(it.refund_line != 0, it.refund_fen);
    buffer += '\n';
    if (buffer.size() >= chunk_bytes) flush();
  }
  flush();
  if (PQputCopyEnd(conn, nullptr) != 1) {
    throw ledger::DatabaseError(std::string("ending the COPY: ") + PQerrorMessage(conn), "08006");
  }
  PGresult* end = PQgetResult(conn);
  const bool ok = PQresultStatus(end) == PGRES_COMMAND_OK;
  const char* state = PQresultErrorField(end, PG_DIAG_SQLSTATE);
  const std::string error = ok ? "" : PQresultErrorMessage(end);
  const std::string code = state != nullptr ? state : "";
  PQclear(end);
  while (PGresult* more = PQgetResult(conn)) PQclear(more);
  if (!ok) throw ledger::DatabaseError("copying the clearing file: " + error, code);
}

// The matching, one statement: the file's items FULL JOIN the ledger's day, the ids the day lacks looked
// up on any day, each pair given its category; the differences go to eod_recon_diff, the counts and
// the ledger's totals come back. Case by case (docs/integration.md, "Reconciliation"):
//   ledger paid on D:  no row -> LEDGER_ONLY; only their refund -> CUTOFF (their payment is on another
//     day); amounts (and the platform's discount) differ -> AMOUNT_MISMATCH; reversed by D on one side
//     only -> STATUS_MISMATCH; refund amounts differ -> AMOUNT_MISMATCH; else MATCHED.
//   ledger paid earlier, reversed on D:  their payment row -> CUTOFF; no row -> STATUS_MISMATCH (reversed
//     on our side only); refund amounts differ -> AMOUNT_MISMATCH; else MATCHED.
//   not in the ledger's day:  unknown to the ledger -> CLEARING_ONLY; their payment, ours on the day
//     before or after -> CUTOFF, any other day -> CLEARING_ONLY; only their refund: our reversal on the
//     day before or after -> CUTOFF, else STATUS_MISMATCH (refunded on their side only).
constexpr const char* match_sql = R"SQL(
WITH l AS (
  SELECT p.payment_id, p.business_day, p.amount_fen, p.discount_fen, r.business_day AS reversed_day
    FROM promo.payment p LEFT JOIN promo.payment_reversal r ON r.payment_id = p.payment_id
   WHERE (p.business_day = CAST(:d AS date) OR r.business_day = CAST(:d AS date))
     AND (CAST(:ch AS text) = '' OR p.channel = CAST(:ch AS text))),
c AS MATERIALIZED (
  SELECT j.*, o.business_day IS NOT NULL AS elsewhere, o.business_day AS o_day, o.channel AS o_channel,
         o.amount_fen AS o_amount, o.reversed_day AS o_reversed,
    CASE
      WHEN j.in_day AND j.business_day = CAST(:d AS date) THEN
        CASE WHEN j.pay_line IS NULL AND j.ref_line IS NULL THEN 'LEDGER_ONLY'
             WHEN j.pay_line IS NULL THEN 'CUTOFF'
             WHEN j.pay_fen <> j.amount_fen
                  OR (j.pay_discount_fen IS NOT NULL AND j.pay_discount_fen <> j.discount_fen) THEN 'AMOUNT_MISMATCH'
             WHEN coalesce(j.reversed_day <= CAST(:d AS date), false) <> (j.ref_line IS NOT NULL) THEN 'STATUS_MISMATCH'
             WHEN j.ref_line IS NOT NULL AND j.ref_fen <> j.amount_fen THEN 'AMOUNT_MISMATCH'
             ELSE 'MATCHED' END
      WHEN j.in_day THEN
        CASE WHEN j.pay_line IS NOT NULL THEN 'CUTOFF'
             WHEN j.ref_line IS NULL THEN 'STATUS_MISMATCH'
             WHEN j.ref_fen <> j.amount_fen THEN 'AMOUNT_MISMATCH'
             ELSE 'MATCHED' END
      WHEN o.business_day IS NULL THEN 'CLEARING_ONLY'
      WHEN j.pay_line IS NOT NULL THEN
        CASE WHEN abs(o.business_day - CAST(:d AS date)) = 1 THEN 'CUTOFF' ELSE 'CLEARING_ONLY' END
      ELSE
        CASE WHEN abs(o.reversed_day - CAST(:d AS date)) = 1 THEN 'CUTOFF' ELSE 'STATUS_MISMATCH' END
    END AS category
    FROM (SELECT coalesce(f.payment_id, l.payment_id) AS payment_id, f.pay_line, f.pay_fen, f.pay_discount_fen,
                 f.ref_line, f.ref_fen, l.payment_id IS NOT NULL AS in_day, l.business_day, l.amount_fen,
                 l.discount_fen, l.reversed_day
            FROM eod_recon_file f FULL JOIN l ON l.payment_id = f.payment_id) j
    -- The ids the day lacks, looked up on any day by the primary key; the NOT j.in_day gate keeps the
    -- lookup off the (usual) rows the day has. OFFSET 0 keeps it a lookup per row behind that gate; without
    -- it the planner made it a hash join of every payment (a second scan and hash of a million rows).
    -- (No colon and no quote in these comments, SOCI reads SQL text for its binds.)
    LEFT JOIN LATERAL (SELECT p.business_day, p.channel, p.amount_fen, r.business_day AS reversed_day
                         FROM promo.payment p LEFT JOIN promo.payment_reversal r ON r.payment_id = p.payment_id
                        WHERE NOT j.in_day AND p.payment_id = j.payment_id OFFSET 0) o ON true),
diff AS (
  INSERT INTO eod_recon_diff (category, payment_id, file_line, ledger_day, ledger_amount_fen, clearing_amount_fen,
                              ledger_status, clearing_status, detail)
  SELECT c.category, c.payment_id, coalesce(c.pay_line, c.ref_line), coalesce(c.business_day, c.o_day),
         coalesce(c.amount_fen, c.o_amount), coalesce(c.pay_fen, c.ref_fen),
         CASE WHEN c.in_day OR c.elsewhere THEN
                CASE WHEN coalesce(c.reversed_day, c.o_reversed) IS NULL THEN 'paid'
                     ELSE 'reversed ' || coalesce(c.reversed_day, c.o_reversed) END
              ELSE '' END,
         concat_ws(', ', CASE WHEN c.pay_line IS NOT NULL THEN 'paid' END,
                         CASE WHEN c.ref_line IS NOT NULL THEN 'refunded' END),
         CASE c.category
           WHEN 'LEDGER_ONLY' THEN format('booked by the ledger on %s, not in the clearing file (短款)', c.business_day)
           WHEN 'CLEARING_ONLY' THEN
             CASE WHEN c.elsewhere THEN format('in the clearing file (line %s); the ledger has it on %s (%s), not on this day (长款)',
                                               coalesce(c.pay_line, c.ref_line), c.o_day, c.o_channel)
                  ELSE format('in the clearing file (line %s), unknown to the ledger (长款)', coalesce(c.pay_line, c.ref_line)) END
           WHEN 'AMOUNT_MISMATCH' THEN
             format('ledger %s, clearing %s%s', (c.amount_fen::numeric / 100)::numeric(20, 2),
                    (coalesce(c.pay_fen, c.ref_fen)::numeric / 100)::numeric(20, 2),
                    CASE WHEN c.pay_discount_fen IS NOT NULL AND c.pay_discount_fen <> c.discount_fen
                         THEN format('; discount: ledger %s, clearing %s', (c.discount_fen::numeric / 100)::numeric(20, 2),
                                     (c.pay_discount_fen::numeric / 100)::numeric(20, 2)) ELSE '' END)
           WHEN 'STATUS_MISMATCH' THEN
             CASE WHEN c.ref_line IS NULL THEN format('reversed in the ledger on %s; the clearing side did not refund it',
                                                      coalesce(c.reversed_day, c.o_reversed))
                  ELSE format('refunded by the clearing side (line %s); not reversed in the ledger by %s', c.ref_line,
                              CAST(:d AS date)) END
           WHEN 'CUTOFF' THEN
             CASE WHEN NOT c.in_day AND c.pay_line IS NOT NULL
                    THEN format('the clearing side settled it on %s, the ledger booked it on %s', CAST(:d AS date), c.o_day)
                  WHEN NOT c.in_day THEN format('refunded by the clearing side on %s, reversed in the ledger on %s',
                                                CAST(:d AS date), c.o_reversed)
                  WHEN c.business_day = CAST(:d AS date)
                    THEN format('paid in the ledger on %s; the clearing side refunds it without settling it this day', c.business_day)
                  ELSE format('reversed in the ledger on %s of a payment of %s; the clearing side settles it on %s',
                              c.reversed_day, c.business_day, CAST(:d AS date)) END
         END
    FROM c WHERE c.category <> 'MATCHED'
  RETURNING 1)
SELECT count(*) FILTER (WHERE category = 'MATCHED'), count(*) FILTER (WHERE category = 'LEDGER_ONLY'),
       count(*) FILTER (WHERE category = 'CLEARING_ONLY'), count(*) FILTER (WHERE category = 'AMOUNT_MISMATCH'),
       count(*) FILTER (WHERE category = 'STATUS_MISMATCH'), count(*) FILTER (WHERE category = 'CUTOFF'),
       count(*) FILTER (WHERE in_day AND business_day = CAST(:d AS date)),
       coalesce(sum(amount_fen) FILTER (WHERE in_day AND business_day = CAST(:d AS date)), 0)::text,
       count(*) FILTER (WHERE in_day AND reversed_day = CAST(:d AS date)),
       coalesce(sum(amount_fen) FILTER (WHERE in_day AND reversed_day = CAST(:d AS date)), 0)::text,
       (SELECT count(*) FROM diff)
  FROM c
)SQL";

constexpr const char* select_run =
    "SELECT id, profile, business_day::text, file_name, file_sha256, file_bytes, clearing_payments, "
    "clearing_payments_fen::text, clearing_refunds, clearing_refunds_fen::text, coalesce(summary_count, -1), "
    "coalesce(summary_payments_fen::text, ''), coalesce(summary_refunds_fen::text, ''), ledger_payments, "
    "ledger_payments_fen::text, ledger_refunds, ledger_refunds_fen::text, matched, ledger_only, clearing_only, "
    "amount_mismatch, status_mismatch, cutoff, to_char(run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "run_by FROM eod.recon_run ";

ReconRun run_of(const soci::row& row) {
  ReconRun r;
  r.id = row.get<long long>(0);
  r.profile = profile_from_string(row.get<std::string>(1)).value();
  r.business_day = row.get<std::string>(2);
  r.file_name = row.get<std::string>(3);
  r.file_sha256 = row.get<std::string>(4);
  r.file_bytes = row.get<long long>(5);
  r.clearing_payments = row.get<long long>(6);
  r.clearing_payments_fen = detail::wide_at(row, 7);
  r.clearing_refunds = row.get<long long>(8);
  r.clearing_refunds_fen = detail::wide_at(row, 9);
  if (row.get<long long>(10) >= 0) r.summary.rows = row.get<long long>(10);
  if (!row.get<std::string>(11).empty()) r.summary.payments_fen = detail::wide_at(row, 11);
  if (!row.get<std::string>(12).empty()) r.summary.refunds_fen = detail::wide_at(row, 12);
  r.ledger_payments = row.get<long long>(13);
  r.ledger_payments_fen = detail::wide_at(row, 14);
  r.ledger_refunds = row.get<long long>(15);
  r.ledger_refunds_fen = detail::wide_at(row, 16);
  r.counts.matched = row.get<long long>(17);
  r.counts.ledger_only = row.get<long long>(18);
  r.counts.clearing_only = row.get<long long>(19);
  r.counts.amount_mismatch = row.get<long long>(20);
  r.counts.status_mismatch = row.get<long long>(21);
  r.counts.cutoff = row.get<long long>(22);
  r.run_at_utc = row.get<std::string>(23);
  r.run_by = row.get<std::string>(24);
  r.items_total = r.counts.differences();
  return r;
}

void load_items(soci::session& s, ReconRun& run, std::size_t limit) {
  const long long n = static_cast<long long>(limit);
  soci::rowset<soci::row> rows = (s.prepare <<
      "SELECT item_no, category, payment_id, coalesce(file_line, -1), coalesce(ledger_day::text, ''), "
      "coalesce(ledger_amount_fen, -1), coalesce(clearing_amount_fen, -1), coalesce(ledger_status, ''), "
      "coalesce(clearing_status, ''), detail, CASE WHEN ledger_amount_fen IS NULL THEN 1 ELSE 0 END, "
      "CASE WHEN clearing_amount_fen IS NULL THEN 1 ELSE 0 END "
      "FROM eod.recon_item WHERE run_id = :id ORDER BY item_no LIMIT :n",
      soci::use(run.id), soci::use(n));
  for (const soci::row& row : rows) {
    ReconItem it;
    it.item_no = row.get<int>(0);
    it.category = recon_category_from_string(row.get<std::string>(1)).value();
    it.payment_id = row.get<std::string>(2);
    if (row.get<long long>(3) >= 0) it.file_line = row.get<long long>(3);
    it.ledger_day = row.get<std::string>(4);
    if (row.get<int>(10) == 0) it.ledger_amount_fen = row.get<long long>(5);
    if (row.get<int>(11) == 0) it.clearing_amount_fen = row.get<long long>(6);
    it.ledger_status = row.get<std::string>(7);
    it.clearing_status = row.get<std::string>(8);
    it.detail = row.get<std::string>(9);
    run.items.push_back(std::move(it));
  }
}

std::optional<ReconRun> stored_run(soci::session& s, const std::string& profile, const std::string& day,
                                   const std::string& sha, std::size_t limit) {
  soci::rowset<soci::row> rows =
      (s.prepare << std::string(select_run) + "WHERE profile = :p AND business_day = CAST(:d AS date) AND file_sha256 = :h",
       soci::use(profile), soci::use(day), soci::use(sha));
  std::optional<ReconRun> run;
  for (const soci::row& row : rows) run = run_of(row);
  if (run) load_items(s, *run, limit);
  return run;
}

ReconRun stored_run(soci::session& s, long long id, std::size_t limit) {
  soci::row row;
  s << std::string(select_run) + "WHERE id = :id", soci::use(id), soci::into(row);
  if (!s.got_data()) throw ledger::DatabaseError(fmt::format("reconciliation run {} vanished", id), "");
  ReconRun run = run_of(row);
  load_items(s, run, limit);
  return run;
}

}  // namespace

std::string_view to_string(ReconCategory c) { return ledger::name_of(category_names, c); }
std::optional<ReconCategory> recon_category_from_string(std::string_view text) {
  return ledger::value_named(category_names, text);
}

Expected<ReconRun, EodRefusal> reconcile(ledger::Database& database, Profile profile, date::year_month_day day,
                                         const std::string& file_name, std::string_view bytes, std::size_t items_limit) {
  assert(items_limit <= recon_items_shown_max);
  if (auto admitted = profiles::size_admitted(bytes); !admitted) return unexpected(admitted.error());
  const std::string d = ledger::format_day(day);
  const std::string sha = ledger::sha256_hex(bytes);
  const std::string profile_name(to_string(profile));
  std::string name = file_name.empty() ? std::string("(stdin)") : file_name;
  if (name.size() > 255) name = name.substr(name.size() - 255);
  auto lease = database.lease();
  soci::session& s = *lease;
  try {
    if (!detail::close_time_local(s, day)) {
      return unexpected(refuse(Code::business_day_open, "date",
                               fmt::format("business day {} is not closed: reconcile a closed day", d)));
    }
    if (auto run = stored_run(s, profile_name, d, sha, items_limit)) {
      run->stored_before = true;
      return std::move(*run);
    }
  } catch (...) {
    rethrow_as_database_error("looking for an earlier reconciliation");
  }

  auto parsed = parse_clearing_file(profile, bytes, day);
  if (!parsed) return unexpected(parsed.error());
  const ClearingFile& file = *parsed;

  try {
    soci::transaction tx(s);
    ledger::exec_script(s,
                        "CREATE TEMP TABLE eod_recon_file (payment_id text NOT NULL, pay_line bigint, pay_fen bigint, "
                        "pay_discount_fen bigint, ref_line bigint, ref_fen bigint) ON COMMIT DROP; "
                        "CREATE TEMP TABLE eod_recon_diff (category text NOT NULL, payment_id text NOT NULL, "
                        "file_line bigint, ledger_day date, ledger_amount_fen bigint, clearing_amount_fen bigint, "
                        "ledger_status text, clearing_status text, detail text NOT NULL) ON COMMIT DROP",
                        "creating the reconciliation's work tables");
    copy_items(s, file);
    // Statistics of the file's table for the planner, and room to join a million rows in memory.
    ledger::exec_script(s, "ANALYZE eod_recon_file; SET LOCAL work_mem = '256MB'", "analysing the clearing file");
    ledger::exec_script(s, detail::day_statement_timeout_sql, "allowing the reconciliation its time");
    const std::string channel(channel_of(profile));
    soci::row counts;
    s << match_sql, soci::use(d, "d"), soci::use(channel, "ch"), soci::into(counts);
    ReconRun run;
    run.counts.matched = counts.get<long long>(0);
    run.counts.ledger_only = counts.get<long long>(1);
    run.counts.clearing_only = counts.get<long long>(2);
    run.counts.amount_mismatch = counts.get<long long>(3);
    run.counts.status_mismatch = counts.get<long long>(4);
    run.counts.cutoff = counts.get<long long>(5);
    run.ledger_payments = counts.get<long long>(6);
    run.ledger_payments_fen = detail::wide_at(counts, 7);
    run.ledger_refunds = counts.get<long long>(8);
    run.ledger_refunds_fen = detail::wide_at(counts, 9);
    assert(counts.get<long long>(10) == run.counts.differences());

    const std::string cpay = file.payments_fen.str(), cref = file.refunds_fen.str();
    const std::string lpay = run.ledger_payments_fen.str(), lref = run.ledger_refunds_fen.str();
    const long long bytes_count = static_cast<long long>(bytes.size());
    const long long summary_rows = file.summary.rows.value_or(0);
    const std::string summary_pay = file.summary.payments_fen ? file.summary.payments_fen->str() : "";
    const std::string summary_ref = file.summary.refunds_fen ? file.summary.refunds_fen->str() : "";
    soci::indicator rows_ind = file.summary.rows ? soci::i_ok : soci::i_null;
    soci::indicator pay_ind = file.summary.payments_fen ? soci::i_ok : soci::i_null;
    soci::indicator ref_ind = file.summary.refunds_fen ? soci::i_ok : soci::i_null;
    long long id = 0;
    s << "INSERT INTO eod.recon_run (profile, business_day, file_sha256, file_name, file_bytes, clearing_payments, "
         "clearing_payments_fen, clearing_refunds, clearing_refunds_fen, summary_count, summary_payments_fen, "
         "summary_refunds_fen, ledger_payments, ledger_payments_fen, ledger_refunds, ledger_refunds_fen, matched, "
         "ledger_only, clearing_only, amount_mismatch, status_mismatch, cutoff) "
         "VALUES (:p, CAST(:d AS date), :sha, :name, :bytes, :cp, CAST(:cpf AS numeric), :cr, CAST(:crf AS numeric), "
         ":sc, CAST(:spf AS numeric), CAST(:srf AS numeric), :lp, CAST(:lpf AS numeric), :lr, CAST(:lrf AS numeric), "
         ":m, :lo, :co, :am, :sm, :cu) RETURNING id",
        soci::use(profile_name), soci::use(d), soci::use(sha), soci::use(name), soci::use(bytes_count),
        soci::use(static_cast<long long>(file.payment_rows)), soci::use(cpay),
        soci::use(static_cast<long long>(file.refund_rows)), soci::use(cref), soci::use(summary_rows, rows_ind),
        soci::use(summary_pay, pay_ind), soci::use(summary_ref, ref_ind), soci::use(static_cast<long long>(run.ledger_payments)),
        soci::use(lpay), soci::use(static_cast<long long>(run.ledger_refunds)), soci::use(lref),
        soci::use(static_cast<long long>(run.counts.matched)), soci::use(static_cast<long long>(run.counts.ledger_only)),
        soci::use(static_cast<long long>(run.counts.clearing_only)),
        soci::use(static_cast<long long>(run.counts.amount_mismatch)),
        soci::use(static_cast<long long>(run.counts.status_mismatch)), soci::use(static_cast<long long>(run.counts.cutoff)),
        soci::into(id);
    // Most serious first: what they settled and we did not, then amounts, statuses, what we booked
    // alone, and the day boundary.
    s << "INSERT INTO eod.recon_item (run_id, item_no, category, payment_id, file_line, ledger_day, ledger_amount_fen, "
         "clearing_amount_fen, ledger_status, clearing_status, detail) "
         "SELECT :id, row_number() OVER (ORDER BY array_position(ARRAY['CLEARING_ONLY', 'AMOUNT_MISMATCH', "
         "'STATUS_MISMATCH', 'LEDGER_ONLY', 'CUTOFF'], category), payment_id), category, payment_id, file_line, ledger_day, "
         "ledger_amount_fen, clearing_amount_fen, ledger_status, clearing_status, detail FROM eod_recon_diff",
        soci::use(id);
    ReconRun stored = stored_run(s, id, items_limit);
    tx.commit();
    return stored;
  } catch (...) {
    rethrow_as_database_error("reconciling the clearing file");
  }
}

std::vector<ReconRun> runs_of_day(ledger::Database& database, date::year_month_day day, std::size_t items_limit) {
  auto lease = database.lease();
  soci::session& s = *lease;
  std::vector<ReconRun> out;
  const std::string d = ledger::format_day(day);
  try {
    soci::rowset<soci::row> rows =
        (s.prepare << std::string(select_run) +
                          fmt::format("WHERE business_day = CAST(:d AS date) ORDER BY id DESC LIMIT {}", recon_runs_per_day_max),
         soci::use(d));
    for (const soci::row& row : rows) out.push_back(run_of(row));
    for (ReconRun& r : out) load_items(s, r, items_limit);
  } catch (...) {
    rethrow_as_database_error("reading the reconciliations");
  }
  return out;
}

}  // namespace promoledger::eod
