#include "promoledger/promo/dealing.hpp"

#include "promoledger/ledger/assert.hpp"

#include <cassert>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/promo/deck.hpp"

namespace promoledger::promo {
namespace {

using ledger::rethrow_as_database_error;

struct CampaignRow {
  long long id;
  std::string secret_hex;
  DeckParams params;
  long long budget_left_fen;
  std::optional<long long> outlet_daily_budget_fen;
};

struct Pending {
  long long merchant_id;
  long long outlet_id;
  std::string merchant_code;
};

// Writes one chunk of decks with a single INSERT over unnest() of array parameters.
void insert_decks(soci::session& s, long long campaign_id, const std::string& day, const DeckParams& params,
                  const std::vector<long long>& merchant_ids, const std::vector<std::string>& commitments,
                  const std::vector<std::vector<std::int64_t>>& cards, const std::vector<long long>& reserved) {
  // The arrays are written side by side: a shorter one would pair a merchant with another's deck.
  PROMOLEDGER_ASSERT(merchant_ids.size() == commitments.size());
  PROMOLEDGER_ASSERT(merchant_ids.size() == cards.size());
  if (merchant_ids.empty()) return;
  ledger::PgArrayLiteral id_list, commit_list, deck_list, sum_list;
  for (std::size_t i = 0; i < merchant_ids.size(); ++i) {
    id_list.add(std::to_string(merchant_ids[i]));
    commit_list.add(commitments[i]);
    sum_list.add(std::to_string(reserved[i]));
    // Each deck travels as the text of an integer[] literal, cast per row below.
    std::string deck = "{";
    for (std::size_t c = 0; c < cards[i].size(); ++c) deck += (c ? "," : "") + std::to_string(cards[i][c]);
    deck_list.add(deck + "}");
  }
  const std::string ids = std::move(id_list).finish(), commits = std::move(commit_list).finish();
  const std::string decks = std::move(deck_list).finish(), sums = std::move(sum_list).finish();
  const std::string order(to_string(params.order));
  const int version = deck_algorithm_version;
  s << "INSERT INTO promo.deck (campaign_id, merchant_id, business_day, algorithm_version, deck_order, seed_commitment, "
       "cards_fen, card_count, reserved_fen) "
       "SELECT :c, t.m, CAST(:day AS date), :v, :o, t.h, CAST(t.cards AS integer[]), "
       "cardinality(CAST(t.cards AS integer[])), t.r "
       "FROM unnest(CAST(:ids AS bigint[]), CAST(:hs AS text[]), CAST(:cards AS text[]), CAST(:rs AS bigint[])) "
       "AS t(m, h, cards, r)",
      soci::use(campaign_id), soci::use(day), soci::use(version), soci::use(order), soci::use(ids), soci::use(commits),
      soci::use(decks), soci::use(sums);
}

void deal_campaign(soci::session& s, const CampaignRow& c, const std::string& day, DealReport& report) {
  // Merchants in code order: the funding order when the budget runs short is fixed and documented.
  std::vector<Pending> pending;
  {
    const long long cid = c.id;
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT m.id, cm.outlet_id, m.code FROM promo.campaign_merchant cm "
                      "JOIN ledger.merchant m ON m.id = cm.merchant_id WHERE cm.campaign_id = :c "
                      "AND NOT EXISTS (SELECT 1 FROM promo.deck d WHERE d.merchant_id = m.id "
                      "AND d.business_day = CAST(:day AS date)) "
                      "AND NOT EXISTS (SELECT 1 FROM promo.deck_unfunded u WHERE u.merchant_id = m.id "
                      "AND u.business_day = CAST(:day2 AS date)) ORDER BY m.code",
         soci::use(cid), soci::use(day), soci::use(day));
    for (const soci::row& row : rows) {
      pending.push_back({row.get<long long>(0), row.get<long long>(1), row.get<std::string>(2)});
    }
  }
  std::map<long long, long long> outlet_used_fen;
  if (c.outlet_daily_budget_fen) {
    const long long cid = c.id;
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT cm.outlet_id, sum(d.reserved_fen)::bigint FROM promo.deck d JOIN promo.campaign_merchant cm "
                      "ON cm.campaign_id = d.campaign_id AND cm.merchant_id = d.merchant_id "
                      "WHERE d.campaign_id = :c AND d.business_day = CAST(:day AS date) GROUP BY cm.outlet_id",
         soci::use(cid), soci::use(day));
    for (const soci::row& row : rows) outlet_used_fen[row.get<long long>(0)] = row.get<long long>(1);
  }
  const std::string secret = bytes_from_hex(c.secret_hex);
  long long budget_left_fen = c.budget_left_fen;
  long long reserved_now_fen = 0;
  std::vector<long long> ids, sums;
  std::vector<std::string> commitments;
  std::vector<std::vector<std::int64_t>> cards;
  std::vector<long long> unfunded_ids, unfunded_needed;
  std::vector<std::string> unfunded_reasons;
  const auto flush = [&]() {
    insert_decks(s, c.id, day, c.params, ids, commitments, cards, sums);
    ids.clear();
    sums.clear();
    commitments.clear();
    cards.clear();
  };
  for (const Pending& p : pending) {
    const DeckSeed seed = derive_seed(secret, c.id, p.merchant_code, day);
    std::vector<std::int64_t> deck = deal(c.params, seed);
    long long face_fen = 0;
    for (std::int64_t card : deck) face_fen += card;
    PROMOLEDGER_ASSERT(face_fen > 0);  // the reservation against the budget
    if (face_fen > budget_left_fen) {
      unfunded_ids.push_back(p.merchant_id);
      unfunded_needed.push_back(face_fen);
      unfunded_reasons.emplace_back("campaign_budget");
      continue;
    }
    if (c.outlet_daily_budget_fen && outlet_used_fen[p.outlet_id] + face_fen > *c.outlet_daily_budget_fen) {
      unfunded_ids.push_back(p.merchant_id);
      unfunded_needed.push_back(face_fen);
      unfunded_reasons.emplace_back("outlet_daily_budget");
      continue;
    }
    budget_left_fen -= face_fen;
    outlet_used_fen[p.outlet_id] += face_fen;
    reserved_now_fen += face_fen;
    report.cards_dealt += static_cast<std::int64_t>(deck.size());
    ids.push_back(p.merchant_id);
    sums.push_back(face_fen);
    commitments.push_back(seed_commitment_hex(seed));
    cards.push_back(std::move(deck));
    if (ids.size() >= decks_per_statement_max) flush();
    ++report.decks_dealt;
  }
  flush();
  if (!unfunded_ids.empty()) {
    ledger::PgArrayLiteral id_list, needed_list, reason_list;
    for (std::size_t i = 0; i < unfunded_ids.size(); ++i) {
      id_list.add(std::to_string(unfunded_ids[i]));
      needed_list.add(std::to_string(unfunded_needed[i]));
      reason_list.add(unfunded_reasons[i]);
    }
    const std::string uids = std::move(id_list).finish(), uneeded = std::move(needed_list).finish();
    const std::string ureasons = std::move(reason_list).finish();
    const long long cid = c.id;
    s << "INSERT INTO promo.deck_unfunded (campaign_id, merchant_id, business_day, needed_fen, reason) "
         "SELECT :c, t.m, CAST(:day AS date), t.n, t.r FROM unnest(CAST(:ids AS bigint[]), CAST(:ns AS bigint[]), "
         "CAST(:rs AS text[])) AS t(m, n, r)",
        soci::use(cid), soci::use(day), soci::use(uids), soci::use(uneeded), soci::use(ureasons);
    report.unfunded += static_cast<std::int64_t>(unfunded_ids.size());
    spdlog::warn("campaign {} day {}: {} merchant(s) got no deck: the budget could not cover it", c.id, day,
                 unfunded_ids.size());
  }
  // The CHECK budget_not_exceeded on the campaign row is the second guard on this arithmetic.
  const long long cid = c.id;
  s << "UPDATE promo.campaign SET budget_reserved_fen = budget_reserved_fen + :r, "
       "status = CASE WHEN status = 'approved' THEN 'active' ELSE status END WHERE id = :c",
      soci::use(reserved_now_fen), soci::use(cid);
  report.reserved_fen += reserved_now_fen;
}

}  // namespace

DealReport deal_day(ledger::Database& database, date::year_month_day day) {
  DealReport report;
  const std::string day_text = ledger::format_day(day);
  auto lease = database.lease();
  soci::session& s = *lease;
  try {
    std::vector<long long> campaign_ids;
    {
      soci::rowset<soci::row> rows =
          (s.prepare << "SELECT id FROM promo.campaign WHERE status IN ('approved', 'active') "
                        "AND CAST(:day AS date) BETWEEN first_day AND last_day ORDER BY id",
           soci::use(day_text));
      for (const soci::row& row : rows) campaign_ids.push_back(row.get<long long>(0));
    }
    for (long long id : campaign_ids) {
      ledger::with_retry([&]() {
        soci::transaction tx(s);
        soci::row row;
        // The row lock serializes dealers of this campaign: the budget arithmetic below is exact.
        s << "SELECT id, encode(secret, 'hex'), min_discount_fen, max_discount_fen, band_low_fen, band_high_fen, "
             "band_share_bp, cards_per_day, deck_order, budget_total_fen - budget_reserved_fen - budget_spent_fen, "
             "outlet_daily_budget_fen, status FROM promo.campaign WHERE id = :id FOR UPDATE",
            soci::use(id), soci::into(row);
        if (!s.got_data()) return;
        const std::string status = row.get<std::string>(11);
        if (status != "approved" && status != "active") return;  // paused or ended meanwhile
        CampaignRow c;
        c.id = row.get<long long>(0);
        c.secret_hex = row.get<std::string>(1);
        c.params = DeckParams{row.get<long long>(2), row.get<long long>(3), row.get<long long>(4),
                              row.get<long long>(5), row.get<int>(6),       row.get<int>(7),
                              deck_order_from_string(row.get<std::string>(8)).value_or(DeckOrder::stratified)};
        c.budget_left_fen = row.get<long long>(9);
        if (row.get_indicator(10) != soci::i_null) c.outlet_daily_budget_fen = row.get<long long>(10);
        PROMOLEDGER_ASSERT(validate(c.params).empty());
        long long existing = 0;
        s << "SELECT count(*) FROM promo.deck WHERE campaign_id = :c AND business_day = CAST(:day AS date)",
            soci::use(id), soci::use(day_text), soci::into(existing);
        report.already_dealt += existing;
        deal_campaign(s, c, day_text, report);
        tx.commit();
        ++report.campaigns;
      });
    }
  } catch (...) {
    rethrow_as_database_error(fmt::format("dealing {}", day_text));
  }
  spdlog::info("dealt {}: {} campaign(s), {} new deck(s), {} already dealt, {} unfunded, reserved {}", day_text,
               report.campaigns, report.decks_dealt, report.already_dealt, report.unfunded,
               ledger::format_fen(report.reserved_fen));
  return report;
}

CloseReport close_day(ledger::Database& database, date::year_month_day day) {
  CloseReport report;
  const std::string day_text = ledger::format_day(day);
  auto lease = database.lease();
  soci::session& s = *lease;
  try {
    ledger::with_retry([&]() {
      report = CloseReport{};
      soci::transaction tx(s);
      // The day is closed for posting too (docs/accounting.md): entries into it, or any day before it,
      // are refused from this commit on. Recorded first, also when it has no decks: the insert takes
      // the closing lock exclusively (migration 0009), so every posting that read the closed days
      // before this commits first, and none waits for a deck lock held here while holding that lock.
      s << "INSERT INTO ledger.business_day_close (business_day) VALUES (CAST(:day AS date)) ON CONFLICT DO NOTHING",
          soci::use(day_text);
      // Closing then takes the deck row locks: a payment holding a card commits before, one arriving
      // after sees the deck closed. Everything below reads the final used_count.
      std::vector<long long> deck_ids;
      std::vector<std::string> seeds;
      {
        // The day's decks are locked in id order first, the order a batch of payments locks them in
        // (promo.post_payments); an UPDATE alone would lock them in physical order and could deadlock
        // with a batch holding two of them.
        long long open_decks = 0;
        s << "SELECT count(*) FROM (SELECT id FROM promo.deck WHERE business_day = CAST(:day AS date) "
             "AND status = 'open' ORDER BY id FOR UPDATE) locked",
            soci::use(day_text), soci::into(open_decks);
        soci::rowset<soci::row> rows =
            (s.prepare << "WITH closed AS (UPDATE promo.deck SET status = 'closed', closed_at = now() "
                          "WHERE business_day = CAST(:day AS date) AND status = 'open' RETURNING id, campaign_id, merchant_id) "
                          "SELECT closed.id, encode(c.secret, 'hex'), c.id, m.code FROM closed "
                          "JOIN promo.campaign c ON c.id = closed.campaign_id JOIN ledger.merchant m ON m.id = closed.merchant_id",
             soci::use(day_text));
        for (const soci::row& row : rows) {
          deck_ids.push_back(row.get<long long>(0));
          const DeckSeed seed =
              derive_seed(bytes_from_hex(row.get<std::string>(1)), row.get<long long>(2), row.get<std::string>(3), day_text);
          seeds.push_back(to_hex(seed));
        }
      }
      if (deck_ids.empty()) {
        tx.commit();
        return;
      }
      ledger::PgArrayLiteral id_list, seed_texts;
      for (std::size_t i = 0; i < deck_ids.size(); ++i) {
        id_list.add(std::to_string(deck_ids[i]));
        seed_texts.add(seeds[i]);
      }
      const std::string ids = std::move(id_list).finish(), seed_list = std::move(seed_texts).finish();
      // The seed is revealed only now that the day is over; its hash was public since dealing.
      s << "UPDATE promo.deck d SET seed_revealed = t.seed FROM unnest(CAST(:ids AS bigint[]), CAST(:seeds AS text[])) "
           "AS t(id, seed) WHERE d.id = t.id",
          soci::use(ids), soci::use(seed_list);
      s << "INSERT INTO promo.day_close (campaign_id, merchant_id, outlet_id, business_day, deck_id, cards_dealt, "
           "cards_used, cards_expired, subsidy_fen, released_fen, used_in_band) "
           "SELECT d.campaign_id, d.merchant_id, cm.outlet_id, d.business_day, d.id, d.card_count, d.used_count, "
           "d.card_count - d.used_count, u.used_fen, d.reserved_fen - u.used_fen, u.in_band "
           "FROM promo.deck d JOIN promo.campaign c ON c.id = d.campaign_id "
           "JOIN promo.campaign_merchant cm ON cm.campaign_id = d.campaign_id AND cm.merchant_id = d.merchant_id "
           "CROSS JOIN LATERAL (SELECT coalesce(sum(x), 0)::bigint AS used_fen, "
           "count(*) FILTER (WHERE x BETWEEN c.band_low_fen AND c.band_high_fen)::integer AS in_band "
           "FROM unnest(d.cards_fen) WITH ORDINALITY AS t(x, position) WHERE t.position <= d.used_count) u "
           "WHERE d.id = ANY(CAST(:ids AS bigint[]))",
          soci::use(ids);
      s << "UPDATE promo.campaign c SET budget_reserved_fen = c.budget_reserved_fen - t.dealt, "
           "budget_spent_fen = c.budget_spent_fen + t.used FROM (SELECT campaign_id, sum(subsidy_fen + released_fen) AS dealt, "
           "sum(subsidy_fen) AS used FROM promo.day_close WHERE deck_id = ANY(CAST(:ids AS bigint[])) GROUP BY campaign_id) t "
           "WHERE c.id = t.campaign_id",
          soci::use(ids);
      long long used = 0, expired = 0;
      std::string subsidy, released;
      s << "SELECT coalesce(sum(cards_used), 0)::bigint, coalesce(sum(cards_expired), 0)::bigint, "
           "coalesce(sum(subsidy_fen), 0)::text, coalesce(sum(released_fen), 0)::text FROM promo.day_close "
           "WHERE deck_id = ANY(CAST(:ids AS bigint[]))",
          soci::use(ids), soci::into(used), soci::into(expired), soci::into(subsidy), soci::into(released);
      tx.commit();
      report.decks_closed = static_cast<std::int64_t>(deck_ids.size());
      report.cards_used = used;
      report.cards_expired = expired;
      report.subsidy_fen = ledger::parse_wide_fen(subsidy).value();
      report.released_fen = ledger::parse_wide_fen(released).value();
    });
  } catch (...) {
    rethrow_as_database_error(fmt::format("closing {}", day_text));
  }
  spdlog::info("closed {}: {} deck(s), {} card(s) used, {} expired, subsidy {}, released {}", day_text,
               report.decks_closed, report.cards_used, report.cards_expired, ledger::format_fen(report.subsidy_fen),
               ledger::format_fen(report.released_fen));
  return report;
}

}  // namespace promoledger::promo
