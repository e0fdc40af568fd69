#include "promoledger/promo/payments.hpp"

#include <cassert>

#include <fmt/format.h>

namespace promoledger::promo {
namespace {

using ledger::DatabaseError;

std::optional<Rejection> rejection_from(const DatabaseError& error) {
  if (error.sqlstate() == ledger::sqlstate::insufficient_funds) {
    return Rejection{Reject::insufficient_funds, error.primary_message()};
  }
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

struct PaymentPoster::Prepared {
  // Bound by reference into the statement: set the inputs, execute, read the outputs.
  std::string payment_id_in, payer, merchant, channel, paid_at, day;
  long long amount_fen_in = 0;
  std::string status, payment_id, reason, business_day, detail;
  long long entry_id = 0, amount_fen = 0, discount_fen = 0, payer_fen = 0, merchant_fen = 0, campaign_id = 0, deck_id = 0;
  int discounted = 0, card_position = 0;
  soci::indicator entry_ind = soci::i_ok, reason_ind = soci::i_ok, campaign_ind = soci::i_ok, deck_ind = soci::i_ok,
                  card_ind = soci::i_ok, amount_ind = soci::i_ok, discount_ind = soci::i_ok, payer_ind = soci::i_ok,
                  merchant_ind = soci::i_ok, discounted_ind = soci::i_ok, day_ind = soci::i_ok, detail_ind = soci::i_ok;
  soci::statement statement;

  explicit Prepared(soci::session& session)
      : statement((session.prepare << "SELECT status, payment_id, entry_id, discounted::int, reason, amount_fen, "
                                      "discount_fen, payer_share_fen, merchant_share_fen, campaign_id, deck_id, "
                                      "card_position, business_day::text, detail FROM promo.post_payment(:id, :payer, "
                                      ":merchant, :channel, :amount, CAST(:at AS timestamptz), CAST(:day AS date))",
                   soci::use(payment_id_in), soci::use(payer), soci::use(merchant), soci::use(channel),
                   soci::use(amount_fen_in), soci::use(paid_at), soci::use(day), soci::into(status),
                   soci::into(payment_id), soci::into(entry_id, entry_ind), soci::into(discounted, discounted_ind),
                   soci::into(reason, reason_ind), soci::into(amount_fen, amount_ind),
                   soci::into(discount_fen, discount_ind), soci::into(payer_fen, payer_ind),
                   soci::into(merchant_fen, merchant_ind), soci::into(campaign_id, campaign_ind),
                   soci::into(deck_id, deck_ind), soci::into(card_position, card_ind),
                   soci::into(business_day, day_ind), soci::into(detail, detail_ind))) {}
};

PaymentPoster::PaymentPoster(ledger::Database& database) : database_(database) {}
PaymentPoster::~PaymentPoster() = default;

PaymentPoster::Prepared& PaymentPoster::prepared_for(soci::session& session) {
  std::lock_guard lock(prepared_mutex_);
  auto& slot = prepared_[&session];
  if (!slot) slot = std::make_unique<Prepared>(session);
  return *slot;
}

Expected<PaymentResult, Rejection> PaymentPoster::post(const PaymentRequest& request) {
  // The business day is decided here with the tz database and checked again by the database.
  const std::string day = ledger::format_day(ledger::business_day_of(request.paid_at));
  const std::string paid_at = ledger::format_timestamp_utc(request.paid_at);
  return ledger::with_retry([&]() -> Expected<PaymentResult, Rejection> {
    auto lease = database_.lease();
    Prepared* p = nullptr;
    try {
      p = &prepared_for(*lease);
      p->payment_id_in = request.payment_id;
      p->payer = request.payer;
      p->merchant = request.merchant;
      p->channel = std::string(to_string(request.channel));
      p->amount_fen_in = request.amount.fen();
      p->paid_at = paid_at;
      p->day = day;
      // One statement, one round trip, one transaction (autocommit).
      p->statement.execute(true);
    } catch (...) {
      try {
        ledger::rethrow_as_database_error(fmt::format("posting payment {}", request.payment_id));
      } catch (const DatabaseError& e) {
        if (auto rejection = rejection_from(e)) return unexpected(*rejection);
        throw;
      }
    }
    if (p->status != "posted" && p->status != "exists") {
      const auto code = reject_from_string(p->status);
      if (!code) throw DatabaseError(fmt::format("post_payment returned an unknown status \"{}\"", p->status), "");
      std::string words = p->detail_ind == soci::i_null ? p->status : p->detail;
      if (*code == Reject::exists_with_different_content && p->entry_ind != soci::i_null) {
        words += fmt::format(" (first posted as entry {})", p->entry_id);
      }
      return unexpected(Rejection{*code, words});
    }
    assert(p->entry_ind != soci::i_null);
    assert(p->payer_fen + p->merchant_fen == p->discount_fen);
    assert(p->payer_fen < p->amount_fen);
    PaymentResult r;
    r.status = p->status == "posted" ? PaymentResult::Status::posted : PaymentResult::Status::exists;
    r.payment_id = p->payment_id;
    r.entry_id = p->entry_id;
    r.discounted = p->discounted != 0;
    if (p->reason_ind != soci::i_null) r.reason = p->reason;
    r.amount = Money::from_fen(p->amount_fen);
    r.discount = Money::from_fen(p->discount_fen);
    r.payer_discount = Money::from_fen(p->payer_fen);
    r.merchant_reward = Money::from_fen(p->merchant_fen);
    if (p->campaign_ind != soci::i_null) r.campaign_id = p->campaign_id;
    if (p->deck_ind != soci::i_null) r.deck_id = p->deck_id;
    if (p->card_ind != soci::i_null) r.card_position = p->card_position;
    r.business_day = p->business_day;
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
          return unexpected(Rejection{Reject::already_reversed, e.primary_message()});
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
