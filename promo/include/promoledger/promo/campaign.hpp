#pragma once
// Campaigns: parameters (from a JSON document), their validation, and the lifecycle
// draft -> approved -> active <-> paused -> ended (promo/terms.hpp: CampaignStatus), with
// maker-checker approval. An approved campaign may also be paused or ended before its first day.
//
// Approved parameters are immutable (a database trigger refuses any change); every lifecycle step is
// recorded in promo.campaign_event with the person who made it.
//
// Thread safety: Campaigns is safe to share; each call leases its own session.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <date/date.h>
#include <nlohmann/json.hpp>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"
#include "promoledger/ledger/reason.hpp"
#include "promoledger/promo/deck.hpp"
#include "promoledger/promo/rejection.hpp"
#include "promoledger/promo/terms.hpp"

namespace promoledger::promo {

using ledger::Money;

inline constexpr std::size_t campaign_merchants_max = 200'000;

struct CampaignParams {
  std::string name;
  std::string funding_branch;          // branch code; every merchant's outlet must roll up to it
  std::string gl_code;                 // the subsidy GL account (科目) each outlet books the discount on
  std::vector<std::string> merchants;  // merchant codes
  Channel channel = Channel::bank_app;  // the one discounted channel
  date::year_month_day first_day{};
  date::year_month_day last_day{};
  // Optional daily window in local (Asia/Shanghai) time, [from, to).
  std::optional<std::chrono::minutes> window_from;
  std::optional<std::chrono::minutes> window_to;
  Money min_payment;      // e.g. 10.00
  Money min_discount;     // e.g. 1.00
  Money max_discount;     // e.g. 10.00
  Money band_low;         // e.g. 7.00
  Money band_high;        // e.g. 9.00
  std::int32_t band_share_bp = 8000;
  // The merchant's discounted payments a day: the deck's size (promo.campaign.cards_per_day). The
  // campaign document calls it daily_cap, the talk's word; that key stays for existing documents.
  std::int32_t cards_per_day = 20;
  std::int32_t payer_share_bp = 5000;  // the merchant gets basis_points_total - payer_share_bp
  DeckOrder deck_order = DeckOrder::stratified;
  std::optional<std::int32_t> payer_daily_limit;
  Money budget_total;
  std::optional<Money> outlet_daily_budget;

  DeckParams deck_params() const;
};

// Reads a campaign document (see examples/pilot-campaign.json). Every problem found is listed, each an
// invalid_parameters refusal whose field is the document's key ("max_discount") and whose message
// starts with it: "max_discount: amount \"10.001\" has more than two decimals". The field is empty
// only when the document is not a JSON object.
Expected<CampaignParams, std::vector<Rejection>> parse_campaign(const nlohmann::json& document);

// Consistency and feasibility: band within [min, max], a share the cap can meet, a payer share that
// can never reach the minimum payment, a budget that covers one merchant's worst day, dates in order…
// Empty = valid. Each problem is invalid_parameters with the key of the parameter at fault as its field.
std::vector<Rejection> validate(const CampaignParams& params);

struct CampaignSummary {
  std::int64_t id;
  std::string name;
  CampaignStatus status = CampaignStatus::draft;
  std::string first_day;
  std::string last_day;
  std::int64_t merchants;
  std::string created_by;
  std::optional<std::string> approved_by;
  ledger::WideFen budget_total_fen = 0;
  ledger::WideFen budget_reserved_fen = 0;
  ledger::WideFen budget_spent_fen = 0;
};

struct CampaignEvent {
  std::string at_utc;
  std::string actor;
  CampaignAction action = CampaignAction::create;
  std::optional<CampaignStatus> from_status;  // none for create
  CampaignStatus to_status = CampaignStatus::draft;
  std::optional<std::string> reason;  // why, for pause, resume and end (migration 0012)
};

struct CampaignView {
  CampaignSummary summary;
  nlohmann::json params;  // the approved document, as submitted
  std::vector<std::string> merchants;
  std::vector<CampaignEvent> events;
};

class Campaigns {
 public:
  explicit Campaigns(ledger::Database& database) : database_(database) {}

  // Creates a draft: resolves the branch and merchants, opens the outlets' subsidy accounts
  // ("outlet:<code>:subsidy:<gl>"), draws the dealing secret. All or nothing.
  Expected<std::int64_t, Rejection> create(const CampaignParams& params, const nlohmann::json& document,
                                           const std::string& created_by);
  // Maker-checker: the approver must differ from the creator. A merchant may be in only one
  // approved campaign on any day. The new status (approved).
  Expected<CampaignStatus, Rejection> approve(std::int64_t id, const std::string& approver);
  // pause (approved or active -> paused), resume (paused -> active), end (approved, active or paused ->
  // ended); create and approve are refused here (invalid_transition): they have their own calls.
  // `reason` (empty: none given; else ledger::reason_fits) is kept with the event.
  // The new status.
  Expected<CampaignStatus, Rejection> transition(std::int64_t id, CampaignAction action, const std::string& actor,
                                                 const std::string& reason = "");

  static constexpr std::size_t list_rows_max = 10'000;
  std::vector<CampaignSummary> list();
  std::optional<CampaignView> show(std::int64_t id);

 private:
  ledger::Database& database_;
};

}  // namespace promoledger::promo
