#include "promoledger/promo/terms.hpp"

#include <cassert>
#include <utility>

namespace promoledger::promo {
namespace {

constexpr std::array<std::pair<Channel, std::string_view>, all_channels.size()> channel_names{{
    {Channel::bank_app, "bank_app"},
    {Channel::wechat, "wechat"},
    {Channel::alipay, "alipay"},
}};

constexpr std::array<std::pair<NoDiscountReason, std::string_view>, no_discount_reasons.size()> reason_names{{
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

constexpr std::array<std::pair<CampaignStatus, std::string_view>, campaign_statuses.size()> status_names{{
    {CampaignStatus::draft, "draft"},
    {CampaignStatus::approved, "approved"},
    {CampaignStatus::active, "active"},
    {CampaignStatus::paused, "paused"},
    {CampaignStatus::ended, "ended"},
}};

template <class E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& names, E value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  assert(false && "a domain term without a name");
  return "?";
}

template <class E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& names, std::string_view text) {
  for (const auto& [v, name] : names) {
    if (name == text) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Channel channel) { return name_of(channel_names, channel); }
std::optional<Channel> channel_from_string(std::string_view text) { return value_of(channel_names, text); }
std::string_view to_string(NoDiscountReason reason) { return name_of(reason_names, reason); }
std::optional<NoDiscountReason> no_discount_reason_from_string(std::string_view text) {
  return value_of(reason_names, text);
}
std::string_view to_string(CampaignStatus status) { return name_of(status_names, status); }
std::optional<CampaignStatus> campaign_status_from_string(std::string_view text) { return value_of(status_names, text); }

}  // namespace promoledger::promo
