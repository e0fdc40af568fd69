#pragma once
// Dealing a business day's decks, and closing the day.
//
// deal_day(D): for every approved/active campaign covering D (approved ones become active), every
// participating merchant without a deck for D gets one: cards derived from the campaign secret by
// promo::deal (HMAC, versioned, reproducible), stored with the seed's commitment; the deck's face
// value is reserved against the campaign budget (and the outlet's daily budget when set). A merchant
// whose deck the budget cannot cover gets none (promo.deck_unfunded). Dealing a day twice deals
// nothing new. One transaction per campaign; decks are written in bulk (one statement per chunk).
//
// close_day(D): closes D's open decks: unused cards expire, their reservation is released, the used
// part becomes spent, the seeds are revealed, and promo.day_close records per deck what happened.
// Closing twice closes nothing new.
//
// Thread safety: both are safe to call concurrently with payments; the campaign row lock serializes
// dealers of one campaign, and deck row locks order close against payments taking cards.

#include <cstdint>

#include <date/date.h>

#include "promoledger/ledger/database.hpp"
#include "promoledger/ledger/money.hpp"

namespace promoledger::promo {

struct DealReport {
  std::int64_t campaigns = 0;
  std::int64_t decks_dealt = 0;
  std::int64_t already_dealt = 0;
  std::int64_t unfunded = 0;
  std::int64_t cards_dealt = 0;
  ledger::WideFen reserved_fen = 0;
};

inline constexpr std::size_t decks_per_statement_max = 5'000;

DealReport deal_day(ledger::Database& database, date::year_month_day day);

struct CloseReport {
  std::int64_t decks_closed = 0;
  std::int64_t cards_used = 0;
  std::int64_t cards_expired = 0;
  ledger::WideFen subsidy_fen = 0;
  ledger::WideFen released_fen = 0;
};

CloseReport close_day(ledger::Database& database, date::year_month_day day);

}  // namespace promoledger::promo
