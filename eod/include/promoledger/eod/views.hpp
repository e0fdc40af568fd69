#pragma once
// The JSON shape and the tables of every end-of-day result, in one place: the command's --json / --csv
// and the HTTP API's bodies are built by these functions (as promo/views.hpp does for the rest). Money
// is a decimal string ("95.00"), never a JSON number; GL amounts are integer fen as the file has them,
// also as strings.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "promoledger/eod/gl.hpp"
#include "promoledger/eod/reconcile.hpp"
#include "promoledger/eod/refusal.hpp"
#include "promoledger/eod/statement.hpp"
#include "promoledger/promo/views.hpp"

namespace promoledger::eod::views {

using Table = promo::views::Table;

// {"error": code, "field": field, "message": message}: the one refusal shape (HELPERS.md).
nlohmann::json to_json(const EodRefusal& refusal);

nlohmann::json to_json(const MappingRow& row);
Table mapping_table(const std::vector<MappingRow>& rows);

// {"business_day", "files": [{batch_id, branch, seq, file_name, records, debit_total_fen, credit_total_fen,
//   sha256, generated_at, mapping_version, recorded_now}]}
nlohmann::json to_json(const GlExtract& extract);
Table extract_table(const GlExtract& extract, const std::vector<std::string>& paths);
nlohmann::json to_json(const BatchStatus& batch);
Table batch_table(const std::vector<BatchStatus>& batches);
// {"batch_id", "record": {...}, "lines": [...], "more"}
nlohmann::json to_json(const DrillDown& drill);
Table drill_table(const DrillDown& drill);
Table ack_table(const std::vector<AckOutcome>& outcomes);

// The statement's figures without its XML (`statement merchant --json`).
nlohmann::json to_json(const MerchantStatement& statement);

// {"id", "profile", "business_day", "file": {name, sha256, bytes}, "clearing": {...}, "summary": {...},
//  "ledger": {...}, "difference", "counts": {MATCHED, ...}, "differences": [...], "differences_total",
//  "stored_before", "run_at", "run_by"}
nlohmann::json to_json(const ReconRun& run);
nlohmann::json to_json(const ReconItem& item);
Table recon_items_table(const ReconRun& run);
Table recon_counts_table(const ReconRun& run);

}  // namespace promoledger::eod::views
