#pragma once
// Posting scan payments. Every payment is posted as one balanced journal entry in one round trip
// (promo.post_payment): when eligible it takes the merchant's next card exactly once and the entry is
//   Dr payer deposit (amount - payer share), Dr outlet subsidy (discount), Cr merchant (amount + merchant share);
// otherwise Dr payer, Cr merchant for the amount, with the reason there was no discount.
// Idempotent by payment id: a replay returns exactly the first result (status exists) and never
// takes a second card, also when the duplicates arrive at the same time.
//
// Thread safety: PaymentPoster is safe to share between threads.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <string>
#include <string_view>

#include <date/date.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"
#include "promoledger/promo/rejection.hpp"

namespace promoledger::promo {

using ledger::Money;

enum class Channel { bank_app, wechat, alipay };
std::string_view to_string(Channel);
std::optional<Channel> channel_from_string(std::string_view);

struct PaymentRequest {
  std::string payment_id;  // 1..64 of A-Z a-z 0-9 _ . : -
  std::string payer;       // payer code
  std::string merchant;    // merchant code
  Channel channel;
  Money amount;
  ledger::Timestamp paid_at;
};

// Both screens' figures: the payer sees discount and pays; the merchant sees reward and receives.
struct PaymentResult {
  enum class Status { posted, exists };
  Status status;
  std::string payment_id;
  std::int64_t entry_id;
  bool discounted;
  std::optional<std::string> reason;  // why there was no discount (no_active_campaign, daily_cap_reached, ...)
  Money amount;
  Money discount;
  Money payer_discount;   // the payer's share
  Money merchant_reward;  // the merchant's share
  Money payer_pays() const { return Money::from_fen(amount.fen() - payer_discount.fen()); }
  Money merchant_receives() const { return Money::from_fen(amount.fen() + merchant_reward.fen()); }
  std::optional<std::int64_t> campaign_id;
  std::optional<std::int64_t> deck_id;
  std::optional<std::int32_t> card_position;  // 1-based position in the deck
  std::string business_day;
};
std::string_view to_string(PaymentResult::Status);

struct ReversalResult {
  enum class Status { posted, exists };
  Status status;
  std::int64_t entry_id;
};

class PaymentPoster {
 public:
  explicit PaymentPoster(ledger::Database& database);
  ~PaymentPoster();
  PaymentPoster(const PaymentPoster&) = delete;
  PaymentPoster& operator=(const PaymentPoster&) = delete;

  Expected<PaymentResult, Rejection> post(const PaymentRequest& request);
  // Reverses a payment as a whole on business day `day` (default: today). The card stays used.
  Expected<ReversalResult, Rejection> reverse(const std::string& payment_id, std::optional<date::year_month_day> day);

 private:
  // The hot call, prepared once per pooled session (PQprepare once, then one PQexecPrepared per
  // payment: no parse or plan on the posting path).
  struct Prepared;
  Prepared& prepared_for(soci::session& session);

  ledger::Database& database_;
  std::mutex prepared_mutex_;
  std::unordered_map<soci::session*, std::unique_ptr<Prepared>> prepared_;
};

}  // namespace promoledger::promo
