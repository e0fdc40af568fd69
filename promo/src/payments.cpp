#include "promoledger/promo/payments.hpp"

#include <cassert>

#include <fmt/format.h>

namespace promoledger::promo {
namespace {

using ledger::DatabaseError;

std::optional<Rejection> rejection_from(const DatabaseError& error) {
  if (error.sqlstate() == ledger::sqlstate::insufficient_funds) return Rejection{Reject::insufficient_funds, error.what()};
  return std::nullopt;
}

}  // namespace

std::string_view to_string(Channel channel) {
  switch (channel) {
    case Channel::bank_app: return "bank_app";
    case Channel::wechat: return "wechat";
    case Channel::alipay: return "alipay";
  }
  assert(false && "unknown Channel");
  return "?";
}

std::optional<Channel> channel_from_string(std::string_view text) {
  for (Channel c : {Channel::bank_app, Channel::wechat, Channel::alipay}) {
    if (to_string(c) == text) return c;
  }
  return std::nullopt;
}

std::string_view to_string(PaymentResult::Status status) {
  return status == PaymentResult::Status::posted ? "posted" : "exists";
}

Expected<PaymentResult, Rejection> PaymentPoster::post(const PaymentRequest& request) {
  // The business day is decided here with the tz database and checked again by the database.
  const std::string day = ledger::format_day(ledger::business_day_of(request.paid_at));
  const std::string paid_at = ledger::format_timestamp_utc(request.paid_at);
  const std::string channel(to_string(request.channel));
  const long long amount_fen = request.amount.fen();
  return ledger::with_retry([&]() -> Expected<PaymentResult, Rejection> {
    auto lease = database_.lease();
    std::string status, payment_id, reason, business_day, detail;
    long long entry_id = 0, discount_fen = 0, payer_fen = 0, merchant_fen = 0, campaign_id = 0, deck_id = 0,
              result_amount_fen = 0;
    int discounted = 0, card_position = 0;
    soci::indicator entry_ind, reason_ind, campaign_ind, deck_ind, card_ind, amount_ind, discount_ind, payer_ind,
        merchant_ind, discounted_ind, day_ind, detail_ind;
    try {
      // One statement, one round trip, one transaction (autocommit).
      *lease << "SELECT status, payment_id, entry_id, discounted::int, reason, amount_fen, discount_fen, payer_share_fen, "
                "merchant_share_fen, campaign_id, deck_id, card_position, business_day::text, detail "
                "FROM promo.post_payment(:id, :payer, :merchant, :channel, :amount, CAST(:at AS timestamptz), "
                "CAST(:day AS date))",
          soci::use(request.payment_id), soci::use(request.payer), soci::use(request.merchant), soci::use(channel),
          soci::use(amount_fen), soci::use(paid_at), soci::use(day), soci::into(status), soci::into(payment_id),
          soci::into(entry_id, entry_ind), soci::into(discounted, discounted_ind), soci::into(reason, reason_ind),
          soci::into(result_amount_fen, amount_ind), soci::into(discount_fen, discount_ind),
          soci::into(payer_fen, payer_ind), soci::into(merchant_fen, merchant_ind),
          soci::into(campaign_id, campaign_ind), soci::into(deck_id, deck_ind), soci::into(card_position, card_ind),
          soci::into(business_day, day_ind), soci::into(detail, detail_ind);
    } catch (...) {
      try {
        ledger::rethrow_as_database_error(fmt::format("posting payment {}", request.payment_id));
      } catch (const DatabaseError& e) {
        if (auto rejection = rejection_from(e)) return unexpected(*rejection);
        throw;
      }
    }
    if (status != "posted" && status != "exists") {
      const auto code = reject_from_string(status);
      if (!code) throw DatabaseError(fmt::format("post_payment returned an unknown status \"{}\"", status), "");
      std::string words = detail_ind == soci::i_null ? status : detail;
      if (*code == Reject::exists_with_different_content && entry_ind != soci::i_null) {
        words += fmt::format(" (first posted as entry {})", entry_id);
      }
      return unexpected(Rejection{*code, words});
    }
    assert(entry_ind != soci::i_null);
    assert(payer_fen + merchant_fen == discount_fen);
    assert(payer_fen < result_amount_fen);
    PaymentResult r;
    r.status = status == "posted" ? PaymentResult::Status::posted : PaymentResult::Status::exists;
    r.payment_id = payment_id;
    r.entry_id = entry_id;
    r.discounted = discounted != 0;
    if (reason_ind != soci::i_null) r.reason = reason;
    r.amount = Money::from_fen(result_amount_fen);
    r.discount = Money::from_fen(discount_fen);
    r.payer_discount = Money::from_fen(payer_fen);
    r.merchant_reward = Money::from_fen(merchant_fen);
    if (campaign_ind != soci::i_null) r.campaign_id = campaign_id;
    if (deck_ind != soci::i_null) r.deck_id = deck_id;
    if (card_ind != soci::i_null) r.card_position = card_position;
    r.business_day = business_day;
    assert(r.discounted == r.discount.is_positive());
    return r;
  });
}

Expected<ReversalResult, Rejection> PaymentPoster::reverse(const std::string& payment_id,
                                                           std::optional<date::year_month_day> day) {
  const std::string day_text = ledger::format_day(day.value_or(ledger::business_day_of(ledger::now())));
  return ledger::with_retry([&]() -> Expected<ReversalResult, Rejection> {
    auto lease = database_.lease();
    std::string status, detail;
    long long entry_id = 0;
    soci::indicator entry_ind = soci::i_ok;
    try {
      *lease << "SELECT status, entry_id, coalesce(detail, '') FROM promo.reverse_payment(:id, CAST(:day AS date))",
          soci::use(payment_id), soci::use(day_text), soci::into(status), soci::into(entry_id, entry_ind),
          soci::into(detail);
    } catch (...) {
      try {
        ledger::rethrow_as_database_error(fmt::format("reversing payment {}", payment_id));
      } catch (const DatabaseError& e) {
        if (auto rejection = rejection_from(e)) return unexpected(*rejection);
        if (e.sqlstate() == ledger::sqlstate::unique_violation) {
          return unexpected(Rejection{Reject::already_reversed, e.what()});
        }
        throw;
      }
    }
    if (status == "posted" || status == "exists") {
      return ReversalResult{status == "posted" ? ReversalResult::Status::posted : ReversalResult::Status::exists,
                            entry_id};
    }
    if (status == "unknown_payment") return unexpected(Rejection{Reject::unknown_payment, detail});
    if (status == "already_reversed") return unexpected(Rejection{Reject::already_reversed, detail});
    throw DatabaseError(fmt::format("reversing payment {}: unexpected status {} ({})", payment_id, status, detail), "");
  });
}

}  // namespace promoledger::promo
