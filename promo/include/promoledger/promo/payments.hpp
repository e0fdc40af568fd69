#pragma once
// Posting scan payments. Every payment is posted as one balanced journal entry by promo.post_payments
// (sql/functions/promo.sql), which takes a batch: one statement, one round trip, one transaction for
// up to batch_size_max payments, each still all or nothing on its own. A single payment is a batch of
// one. When eligible, a payment takes the merchant's next card exactly once and the entry is
//   Dr payer deposit (amount - payer share), Dr outlet subsidy (discount), Cr merchant (amount + merchant share);
// otherwise Dr payer, Cr merchant for the amount, with the reason there was no discount.
// Idempotent by payment id: a replay returns exactly the first result (status exists) and never
// takes a second card, also when the duplicates arrive at the same time.
//
// Thread safety: PaymentPoster is safe to share between threads.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <date/date.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/expected.hpp"
#include "promoledger/ledger/money.hpp"
#include "promoledger/promo/terms.hpp"
#include "promoledger/promo/rejection.hpp"

namespace promoledger::promo {

using ledger::Money;


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
  std::optional<NoDiscountReason> reason;  // why there was no discount (promo/terms.hpp)
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

// A stored payment as GET /v1/payments/{id} shows it: the result its poster was given, what it was
// for, and its reversal if there is one.
struct StoredPayment {
  PaymentResult result;  // status posted
  std::string payer;
  std::string merchant;
  Channel channel;
  std::string paid_at_utc;  // RFC 3339, UTC ("2026-11-24T04:30:00.000000Z")
  struct Reversal {
    std::int64_t entry_id;
    std::string business_day;
  };
  std::optional<Reversal> reversal;
};
// The payment with that id, or nothing. One query.
std::optional<StoredPayment> find_payment(ledger::Database& database, const std::string& payment_id);

class PaymentPoster {
 public:
  // The most payments one call of promo.post_payments takes (its c_batch_max).
  static constexpr std::size_t batch_size_max = 1000;
  using Outcome = Expected<PaymentResult, Rejection>;

  explicit PaymentPoster(ledger::Database& database);
  PaymentPoster(const PaymentPoster&) = delete;
  PaymentPoster& operator=(const PaymentPoster&) = delete;

  // One payment: a batch of one. A rejection writes nothing.
  Outcome post(const PaymentRequest& request);
  // Up to batch_size_max payments in one transaction; one outcome per request, in request order,
  // exactly as if they had been posted one by one in that order. Serialization failures and
  // deadlocks retry the whole batch (bounded). Throws OutcomeUnknown when the connection failed
  // in flight (nothing can be said of the batch; re-sending it with the same ids is safe) and
  // DatabaseError on any other failure (nothing of the batch was posted).
  // REQUIRES: 1 <= requests.size() <= batch_size_max.
  std::vector<Outcome> post_batch(std::span<const PaymentRequest> requests);
  // Reverses a payment as a whole on business day `day` (default: today). The card stays used.
  Expected<ReversalResult, Rejection> reverse(const std::string& payment_id, std::optional<date::year_month_day> day);

 private:
  ledger::Database& database_;
  // Connections on which the batch statement is prepared (PQprepare once, then one PQexecPrepared
  // per batch: no parse or plan on the posting path). A reconnected session answers 26000 and is
  // prepared again.
  std::mutex prepared_mutex_;
  std::unordered_set<const void*> prepared_on_;
};

}  // namespace promoledger::promo
