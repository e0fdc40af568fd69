#include "promoledger/eod/views.hpp"

#include <fmt/format.h>

namespace promoledger::eod::views {
namespace {

using nlohmann::json;

std::string money(const ledger::WideFen& fen) { return ledger::format_fen(fen); }
std::string fen_text(const ledger::WideFen& fen) { return fen.str(); }
json optional_money(const std::optional<std::int64_t>& fen) {
  return fen ? json(ledger::format_fen(*fen)) : json(nullptr);
}
std::string side_text(GlSide side) { return side == GlSide::debit ? "D" : "C"; }

json record_json(const GlRecord& r) {
  const bool debit = r.side == GlSide::debit;
  return json{{"line_no", r.line_no},
              {"org_code", r.org_code},
              {"gl_account", r.gl_account},
              {"currency", "CNY"},
              {"debit_fen", debit ? fen_text(r.amount_fen) : "0"},
              {"credit_fen", debit ? "0" : fen_text(r.amount_fen)},
              {"text", r.text},
              {"first_entry_id", r.first_entry_id},
              {"last_entry_id", r.last_entry_id},
              {"entry_count", r.entry_count},
              {"inter_unit", r.inter_unit}};
}

}  // namespace

json to_json(const EodRefusal& refusal) {
  return json{{"error", std::string(to_string(refusal.code))}, {"field", refusal.field}, {"message", refusal.message}};
}

json to_json(const MappingRow& m) {
  return json{{"version", m.id},
              {"class", std::string(to_string(m.account_class))},
              {"account", m.account_code.empty() ? json(nullptr) : json(m.account_code)},
              {"gl_account", m.gl_account ? json(*m.gl_account) : json("campaign")},
              {"booking", std::string(to_string(m.booking))},
              {"org", m.org_code.empty() ? json(nullptr) : json(m.org_code)},
              {"reason", m.reason},
              {"changed_at", m.changed_at_utc},
              {"changed_by", m.changed_by}};
}

Table mapping_table(const std::vector<MappingRow>& rows) {
  Table t{{"version", "class", "account", "gl_account", "booking", "org", "reason", "changed_at", "changed_by"},
          {true, false, false, false, false, false, false, false, false},
          {}};
  for (const auto& m : rows) {
    t.rows.push_back({std::to_string(m.id), std::string(to_string(m.account_class)), m.account_code,
                      m.gl_account.value_or("campaign"), std::string(to_string(m.booking)), m.org_code, m.reason,
                      m.changed_at_utc, m.changed_by});
  }
  return t;
}

json to_json(const GlExtract& extract) {
  json files = json::array();
  for (const GlFile& f : extract.files) {
    json records = json::array();
    for (const GlRecord& r : f.records) records.push_back(record_json(r));
    files.push_back(json{{"batch_id", f.batch_id},
                         {"branch", f.branch_code},
                         {"seq", f.seq},
                         {"file_name", f.file_name},
                         {"generated_at", f.generated_at},
                         {"mapping_version", f.mapping_version},
                         {"records", records},
                         {"record_count", f.records.size()},
                         {"debit_total_fen", fen_text(f.debit_total_fen)},
                         {"credit_total_fen", fen_text(f.credit_total_fen)},
                         {"d_records_sha256", f.d_records_sha256},
                         {"sha256", f.sha256},
                         {"recorded_now", f.recorded_now}});
  }
  return json{{"business_day", extract.business_day}, {"files", files}};
}

Table extract_table(const GlExtract& extract, const std::vector<std::string>& paths) {
  Table t{{"batch_id", "branch", "records", "debit_fen", "credit_fen", "recorded", "sha256", "path"},
          {false, false, true, true, true, false, false, false},
          {}};
  for (std::size_t i = 0; i < extract.files.size(); ++i) {
    const GlFile& f = extract.files[i];
    t.rows.push_back({f.batch_id, f.branch_code, std::to_string(f.records.size()), fen_text(f.debit_total_fen),
                      fen_text(f.credit_total_fen), f.recorded_now ? "new" : "again (identical)", f.sha256,
                      i < paths.size() ? paths[i] : f.file_name});
  }
  return t;
}

json to_json(const BatchStatus& b) {
  return json{{"batch_id", b.batch_id},
              {"business_day", b.business_day},
              {"branch", b.branch_code},
              {"seq", b.seq},
              {"file_name", b.file_name},
              {"record_count", b.record_count},
              {"debit_total_fen", fen_text(b.debit_total_fen)},
              {"credit_total_fen", fen_text(b.credit_total_fen)},
              {"sha256", b.sha256},
              {"status", b.status},
              {"reason", b.reason.empty() ? json(nullptr) : json(b.reason)},
              {"extracted_at", b.extracted_at_utc},
              {"acknowledged_at", b.acknowledged_at_utc.empty() ? json(nullptr) : json(b.acknowledged_at_utc)}};
}

Table batch_table(const std::vector<BatchStatus>& batches) {
  Table t{{"batch_id", "branch", "seq", "records", "debit_fen", "credit_fen", "status", "reason", "extracted_at",
           "acknowledged_at"},
          {false, false, true, true, true, true, false, false, false, false},
          {}};
  for (const auto& b : batches) {
    t.rows.push_back({b.batch_id, b.branch_code, std::to_string(b.seq), std::to_string(b.record_count),
                      fen_text(b.debit_total_fen), fen_text(b.credit_total_fen), b.status, b.reason, b.extracted_at_utc,
                      b.acknowledged_at_utc});
  }
  return t;
}

json to_json(const DrillDown& d) {
  json lines = json::array();
  for (const DrillLine& l : d.lines) {
    lines.push_back(json{{"entry_id", l.entry_id},
                         {"line_no", l.line_no},
                         {"external_ref", l.external_ref},
                         {"kind", l.kind},
                         {"account", l.account_code},
                         {"side", side_text(l.side)},
                         {"amount", l.amount.str()}});
  }
  return json{{"batch_id", d.batch_id}, {"record", record_json(d.record)}, {"lines", lines}, {"more", d.more}};
}

Table drill_table(const DrillDown& d) {
  Table t{{"entry_id", "line_no", "external_ref", "kind", "account", "side", "amount"},
          {true, true, false, false, false, false, true},
          {}};
  for (const DrillLine& l : d.lines) {
    t.rows.push_back({std::to_string(l.entry_id), std::to_string(l.line_no), l.external_ref, l.kind, l.account_code,
                      side_text(l.side), l.amount.str()});
  }
  return t;
}

Table ack_table(const std::vector<AckOutcome>& outcomes) {
  Table t{{"batch_id", "status", "reason", "recorded"}, {false, false, false, false}, {}};
  for (const auto& a : outcomes) {
    t.rows.push_back({a.batch_id, a.status, a.reason, a.recorded_now ? "now" : "before (same answer)"});
  }
  return t;
}

json to_json(const MerchantStatement& st) {
  json entries = json::array();
  for (const StatementEntry& e : st.entries) {
    entries.push_back(json{{"entry_id", e.entry_id},
                           {"account_seq", e.account_seq},
                           {"kind", e.kind},
                           {"reversal", e.reversal},
                           {"payment_id", e.payment_id.empty() ? json(nullptr) : json(e.payment_id)},
                           {"credit_debit", e.credit ? "CRDT" : "DBIT"},
                           {"amount", e.amount.str()},
                           {"merchant_reward", e.merchant_share.str()},
                           {"booked_at", e.posted_at}});
  }
  return json{{"merchant", st.merchant_code},
              {"account", st.account_code},
              {"business_day", st.business_day},
              {"created_at", st.created_at},
              {"opening_balance", money(st.opening_fen)},
              {"credits", money(st.credits_fen)},
              {"debits", money(st.debits_fen)},
              {"closing_balance", money(st.closing_fen)},
              {"credit_count", st.credit_count},
              {"debit_count", st.debit_count},
              {"entries", entries}};
}

json to_json(const ReconItem& it) {
  return json{{"item_no", it.item_no},
              {"category", std::string(to_string(it.category))},
              {"payment_id", it.payment_id},
              {"file_line", it.file_line ? json(*it.file_line) : json(nullptr)},
              {"ledger_day", it.ledger_day.empty() ? json(nullptr) : json(it.ledger_day)},
              {"ledger_amount", optional_money(it.ledger_amount_fen)},
              {"clearing_amount", optional_money(it.clearing_amount_fen)},
              {"ledger_status", it.ledger_status},
              {"clearing_status", it.clearing_status},
              {"detail", it.detail}};
}

json to_json(const ReconRun& r) {
  json items = json::array();
  for (const ReconItem& it : r.items) items.push_back(to_json(it));
  const auto opt_wide = [](const std::optional<ledger::WideFen>& v) { return v ? json(money(*v)) : json(nullptr); };
  return json{
      {"id", r.id},
      {"profile", std::string(to_string(r.profile))},
      {"business_day", r.business_day},
      {"file", json{{"name", r.file_name}, {"sha256", r.file_sha256}, {"bytes", r.file_bytes}}},
      {"clearing", json{{"payments", r.clearing_payments},
                        {"payments_amount", money(r.clearing_payments_fen)},
                        {"refunds", r.clearing_refunds},
                        {"refunds_amount", money(r.clearing_refunds_fen)}}},
      {"summary", json{{"rows", r.summary.rows ? json(*r.summary.rows) : json(nullptr)},
                       {"payments_amount", opt_wide(r.summary.payments_fen)},
                       {"refunds_amount", opt_wide(r.summary.refunds_fen)}}},
      {"ledger", json{{"payments", r.ledger_payments},
                      {"payments_amount", money(r.ledger_payments_fen)},
                      {"refunds", r.ledger_refunds},
                      {"refunds_amount", money(r.ledger_refunds_fen)}}},
      {"difference", money(r.difference_fen())},
      {"counts", json{{"MATCHED", r.counts.matched},
                      {"LEDGER_ONLY", r.counts.ledger_only},
                      {"CLEARING_ONLY", r.counts.clearing_only},
                      {"AMOUNT_MISMATCH", r.counts.amount_mismatch},
                      {"STATUS_MISMATCH", r.counts.status_mismatch},
                      {"CUTOFF", r.counts.cutoff}}},
      {"differences", items},
      {"differences_total", r.items_total},
      {"stored_before", r.stored_before},
      {"run_at", r.run_at_utc},
      {"run_by", r.run_by}};
}

Table recon_items_table(const ReconRun& r) {
  Table t{{"item", "category", "payment_id", "file_line", "ledger_day", "ledger_amount", "clearing_amount",
           "ledger_status", "clearing_status", "detail"},
          {true, false, false, true, false, true, true, false, false, false},
          {}};
  const auto amount = [](const std::optional<std::int64_t>& fen) { return fen ? ledger::format_fen(*fen) : std::string(); };
  for (const ReconItem& it : r.items) {
    t.rows.push_back({std::to_string(it.item_no), std::string(to_string(it.category)), it.payment_id,
                      it.file_line ? std::to_string(*it.file_line) : "", it.ledger_day, amount(it.ledger_amount_fen),
                      amount(it.clearing_amount_fen), it.ledger_status, it.clearing_status, it.detail});
  }
  return t;
}

Table recon_counts_table(const ReconRun& r) {
  Table t{{"category", "items"}, {false, true}, {}};
  t.rows.push_back({"MATCHED", std::to_string(r.counts.matched)});
  t.rows.push_back({"LEDGER_ONLY", std::to_string(r.counts.ledger_only)});
  t.rows.push_back({"CLEARING_ONLY", std::to_string(r.counts.clearing_only)});
  t.rows.push_back({"AMOUNT_MISMATCH", std::to_string(r.counts.amount_mismatch)});
  t.rows.push_back({"STATUS_MISMATCH", std::to_string(r.counts.status_mismatch)});
  t.rows.push_back({"CUTOFF", std::to_string(r.counts.cutoff)});
  return t;
}

}  // namespace promoledger::eod::views
