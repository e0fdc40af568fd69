#include "promoledger/promo/terms.hpp"

#include <cassert>
#include <utility>
#include "promoledger/ledger/names.hpp"

namespace promoledger::promo {
namespace {

constexpr ledger::NameTable<Channel, all_channels.size()> channel_names{{
    {Channel::bank_app, "bank_app"},
    {Channel::wechat, "wechat"},
    {Channel::alipay, "alipay"},
}};

constexpr ledger::NameTable<NoDiscountReason, no_discount_reasons.size()> reason_names{{
    {NoDiscountReason::no_active_campaign, "no_active_campaign"},
    {NoDiscountReason::channel_not_eligible, "channel_not_eligible"},
    {NoDiscountReason::campaign_paused, "campaign_paused"},
    {NoDiscountReason::below_minimum_payment, "below_minimum_payment"},
    {NoDiscountReason::outside_time_window, "outside_time_window"},
    {NoDiscountReason::payer_daily_limit, "payer_daily_limit"},
    {NoDiscountReason::budget_exhausted, "budget_exhausted"},
    {NoDiscountReason::not_dealt, "not_dealt"},
    {NoDiscountReason::day_closed, "day_closed"},
    {NoDiscountReason::daily_cap_reached, "daily_cap_reached"},
}};

constexpr ledger::NameTable<CampaignStatus, campaign_statuses.size()> status_names{{
    {CampaignStatus::draft, "draft"},
    {CampaignStatus::approved, "approved"},
    {CampaignStatus::active, "active"},
    {CampaignStatus::paused, "paused"},
    {CampaignStatus::ended, "ended"},
}};

constexpr ledger::NameTable<CampaignAction, campaign_actions.size()> action_names{{
    {CampaignAction::create, "create"},
    {CampaignAction::approve, "approve"},
    {CampaignAction::pause, "pause"},
    {CampaignAction::resume, "resume"},
    {CampaignAction::end, "end"},
}};

static_assert(ledger::names_every_value(channel_names));
static_assert(ledger::names_every_value(reason_names));
static_assert(ledger::names_every_value(status_names));
static_assert(ledger::names_every_value(action_names));

}  // namespace

std::string_view to_string(Channel channel) { return ledger::name_of(channel_names, channel); }
std::optional<Channel> channel_from_string(std::string_view text) { return ledger::value_named(channel_names, text); }
std::string_view to_string(NoDiscountReason reason) { return ledger::name_of(reason_names, reason); }
std::optional<NoDiscountReason> no_discount_reason_from_string(std::string_view text) {
  return ledger::value_named(reason_names, text);
}
std::string_view to_string(CampaignStatus status) { return ledger::name_of(status_names, status); }
std::optional<CampaignStatus> campaign_status_from_string(std::string_view text) { return ledger::value_named(status_names, text); }
std::string_view to_string(CampaignAction action) { return ledger::name_of(action_names, action); }
std::optional<CampaignAction> campaign_action_from_string(std::string_view text) {
  return ledger::value_named(action_names, text);
}

}  // namespace promoledger::promo
