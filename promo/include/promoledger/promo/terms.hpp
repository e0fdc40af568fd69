#pragma once
// The promotion's domain terms that are stored as text: one list each, here, matching the CHECK
// constraint of the column that stores it (tests/posting_test.cpp, DomainTermsTest, compares the two).
// Stored values never change meaning; a new value is added here and to the CHECK by a migration.
//
// Thread safety: constants and pure functions.

#include <array>
#include <optional>
#include <string_view>

namespace promoledger::promo {

// How a payment was made on the merchant's aggregated QR code (promo.payment.channel and
// promo.campaign.channel): only the campaign's channel is discounted (the bank's app in the pilot).
enum class Channel { bank_app, wechat, alipay };
inline constexpr std::array<Channel, 3> all_channels{Channel::bank_app, Channel::wechat, Channel::alipay};
std::string_view to_string(Channel);
std::optional<Channel> channel_from_string(std::string_view);

// Why a posted payment got no discount (promo.payment.reason, CHECK payment_reason_known, migration 0011).
enum class NoDiscountReason {
  no_active_campaign,     // the merchant is in no campaign running that day
  channel_not_eligible,   // paid with WeChat Pay or Alipay: only the bank's app is discounted
  campaign_paused,
  below_minimum_payment,  // under min_payment (10.00 in the pilot)
  outside_time_window,    // outside the campaign's local time window
  payer_daily_limit,      // the payer had the most discounts a day allows
  budget_exhausted,       // the merchant got no deck that day: the budget could not cover it
  not_dealt,              // the day's decks were not dealt
  day_closed,             // the deck was closed (before 0009 a payment could reach a closed day)
  daily_cap_reached,      // the merchant's cards of the day are used up
};
inline constexpr std::array<NoDiscountReason, 10> no_discount_reasons{
    NoDiscountReason::no_active_campaign,    NoDiscountReason::channel_not_eligible,
    NoDiscountReason::campaign_paused,       NoDiscountReason::below_minimum_payment,
    NoDiscountReason::outside_time_window,   NoDiscountReason::payer_daily_limit,
    NoDiscountReason::budget_exhausted,      NoDiscountReason::not_dealt,
    NoDiscountReason::day_closed,            NoDiscountReason::daily_cap_reached};
std::string_view to_string(NoDiscountReason);
std::optional<NoDiscountReason> no_discount_reason_from_string(std::string_view);

// promo.campaign.status: draft -> approved -> active <-> paused; approved, active or paused -> ended.
// Pausing an approved campaign (before its first day) is allowed: it then resumes as active.
enum class CampaignStatus { draft, approved, active, paused, ended };
inline constexpr std::array<CampaignStatus, 5> campaign_statuses{CampaignStatus::draft, CampaignStatus::approved,
                                                                 CampaignStatus::active, CampaignStatus::paused,
                                                                 CampaignStatus::ended};
std::string_view to_string(CampaignStatus);
std::optional<CampaignStatus> campaign_status_from_string(std::string_view);

// promo.campaign_event.action: what was done to a campaign (create and approve by their own calls; pause,
// resume and end by Campaigns::transition). Stored as text; migration 0030 CHECKs the same list.
enum class CampaignAction { create, approve, pause, resume, end };
inline constexpr std::array<CampaignAction, 5> campaign_actions{CampaignAction::create, CampaignAction::approve,
                                                                CampaignAction::pause, CampaignAction::resume,
                                                                CampaignAction::end};
std::string_view to_string(CampaignAction);
std::optional<CampaignAction> campaign_action_from_string(std::string_view);

}  // namespace promoledger::promo
