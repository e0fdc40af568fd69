#pragma once
// Reconciliation (对账) of a closed business day with a clearing file (clearing_file.hpp): matched by
// payment id (the file's merchant order number), each item MATCHED (一致), LEDGER_ONLY (短款: we
// booked, they did not), CLEARING_ONLY (长款: they settled, we did not; the most serious),
// AMOUNT_MISMATCH (金额不符), STATUS_MISMATCH (状态不符: reversed on one side only) or CUTOFF (the
// item is on the neighbouring day on the other side). docs/integration.md has the rules case by case.
//
// Promises:
// - Only a closed day (business_day_open otherwise). Nothing is posted or corrected: a difference is
//   for a person (挂账 -> 查证 -> 调账).
// - A bad file is refused whole (clearing_file.hpp) and nothing is stored.
// - A run is stored with the file's SHA-256, one per (profile, day, file): running the same file again
//   answers the stored run (stored_before) and stores nothing new. Differences are stored one per item;
//   matched items are counted.
// - Set-wise: the file's items reach PostgreSQL by one COPY and are matched by one statement.
//
// Thread safety: free functions; each leases its own session.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/date.h>

#include "promoledger/eod/clearing_file.hpp"
#include "promoledger/eod/refusal.hpp"
#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"

namespace promoledger::eod {

enum class ReconCategory { matched, ledger_only, clearing_only, amount_mismatch, status_mismatch, cutoff };
// MATCHED, LEDGER_ONLY, CLEARING_ONLY, AMOUNT_MISMATCH, STATUS_MISMATCH, CUTOFF.
std::string_view to_string(ReconCategory);
std::optional<ReconCategory> recon_category_from_string(std::string_view);

struct ReconItem {
  int item_no = 0;
  ReconCategory category = ReconCategory::matched;
  std::string payment_id;
  std::optional<std::int64_t> file_line;
  std::string ledger_day;  // the payment's business day in the ledger; empty when it has none
  std::optional<std::int64_t> ledger_amount_fen;
  std::optional<std::int64_t> clearing_amount_fen;
  std::string ledger_status;    // paid | reversed <day> | (empty: not in the ledger)
  std::string clearing_status;  // paid | refunded | paid, refunded | (empty: not in the file)
  std::string detail;
};

struct ReconCounts {
  std::int64_t matched = 0, ledger_only = 0, clearing_only = 0, amount_mismatch = 0, status_mismatch = 0, cutoff = 0;
  std::int64_t differences() const { return ledger_only + clearing_only + amount_mismatch + status_mismatch + cutoff; }
};

struct ReconRun {
  std::int64_t id = 0;
  Profile profile = Profile::platform;
  std::string business_day;
  std::string file_name;
  std::string file_sha256;
  std::int64_t file_bytes = 0;
  // The clearing side: from the file's rows, and what its own summary line says.
  std::int64_t clearing_payments = 0;
  ledger::WideFen clearing_payments_fen = 0;
  std::int64_t clearing_refunds = 0;
  ledger::WideFen clearing_refunds_fen = 0;
  ClearingSummary summary;
  // The ledger's day: payments of the day (the profile's channel) and reversals on the day.
  std::int64_t ledger_payments = 0;
  ledger::WideFen ledger_payments_fen = 0;
  std::int64_t ledger_refunds = 0;
  ledger::WideFen ledger_refunds_fen = 0;
  ReconCounts counts;
  std::vector<ReconItem> items;  // the differences, by item_no (at most the limit asked for)
  std::int64_t items_total = 0;  // differences stored
  bool stored_before = false;    // the same file was reconciled before: this is that run
  std::string run_at_utc;
  std::string run_by;
  // Net settled by the clearing side minus net booked by the ledger.
  ledger::WideFen difference_fen() const {
    return (clearing_payments_fen - clearing_refunds_fen) - (ledger_payments_fen - ledger_refunds_fen);
  }
};

inline constexpr std::size_t recon_items_shown_max = 100'000;
inline constexpr std::size_t recon_runs_per_day_max = 1'000;

// Reconciles `bytes` (a file named `file_name`) of `profile` with business day `day`. Refusals:
// business_day_open, and every refusal of parse_clearing_file. REQUIRES: items_limit <= recon_items_shown_max.
Expected<ReconRun, EodRefusal> reconcile(ledger::Database& database, Profile profile, date::year_month_day day,
                                         const std::string& file_name, std::string_view bytes,
                                         std::size_t items_limit = recon_items_shown_max);

// The file the clearing side would send for a closed day of `profile`, written from the ledger's own
// payments (for demos, tests and the benchmark: `promoledger clearing-file`). Reconciling it matches
// every item. Alipay's is GBK, the others UTF-8. business_day_open.
Expected<std::string, EodRefusal> clearing_file_of_day(ledger::Database& database, Profile profile,
                                                       date::year_month_day day);

// The runs of a day, newest first, each with at most `items_limit` of its differences.
std::vector<ReconRun> runs_of_day(ledger::Database& database, date::year_month_day day, std::size_t items_limit = 1000);

}  // namespace promoledger::eod
