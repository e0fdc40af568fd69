#include "promoledger/promo/audit_checks.hpp"

#include <algorithm>
#include <cassert>
#include <array>
#include <functional>
#include <span>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/ledger/periods.hpp"
#include "row_text.hpp"
#include "promoledger/promo/deck.hpp"

namespace promoledger::promo {
namespace {

using ledger::format_fen;
using ledger::rethrow_as_database_error;
using nlohmann::json;

constexpr std::size_t sample_max = 5;

json opt_text(const soci::row& row, std::size_t i) {
  return row.get_indicator(i) == soci::i_null ? json(nullptr) : json(row.get<std::string>(i));
}

std::string money(const soci::row& row, std::size_t i) {
  return row.get_indicator(i) == soci::i_null ? "" : format_fen(ledger::parse_wide_fen(row.get<std::string>(i)).value());
}

// verify_all's checks, in its order (docs/operations.md lists them with what each proves).
constexpr std::array<std::string_view, 13> check_names = {
    "entries_balance", "balances_equal_lines", "hash_chain_links", "hash_chain_heads",  // ledger.verify
    "subsidy_lines_match_cards", "cards_used_once", "daily_cap", "split_adds_up", "budget_within_limit",
    "outlet_daily_budget", "referential_integrity",  // promo.verify
    "deck_band_rule", "decks_redeal"};  // one pass over the decks, in C++
// promo.verify's checks: the middle of check_names.
constexpr std::span<const std::string_view> promo_verify_names(check_names.begin() + 4, check_names.begin() + 11);

// Runs the checks `wanted` names, in check_names order, inside the caller's snapshot, over the business
// days from `since` on (empty: all).
void run_checks(soci::session& s, const std::function<bool(std::string_view)>& wanted, const std::string& since,
                std::vector<AuditCheck>& out) {
  // The ledger's four checks are one query: it runs when any of them is asked for.
  if (wanted("entries_balance") || wanted("balances_equal_lines") || wanted("hash_chain_links") ||
      wanted("hash_chain_heads")) {
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT check_name, violations, coalesce(sample, '') FROM ledger.verify(5, CAST(NULLIF(:since, '') AS date))",
         soci::use(since));
    for (const soci::row& row : rows) {
      if (!wanted(row.get<std::string>(0))) continue;
      out.push_back(AuditCheck{row.get<std::string>(0), row.get<long long>(1), row.get<std::string>(2)});
    }
  }
  // The promotion's rules are promo.verify (sql/functions/promo.sql), beside ledger.verify: the named
  // ones of its checks, in its order (promo_verify_names lists them; a test compares the two lists).
  std::vector<std::string> promo_wanted;
  for (const auto name : promo_verify_names) {
    if (wanted(name)) promo_wanted.emplace_back(name);
  }
  if (!promo_wanted.empty()) {
    ledger::PgArrayLiteral names;
    for (const auto& n : promo_wanted) names.add(n);
    const std::string names_literal = std::move(names).finish();
    const int samples = static_cast<int>(sample_max);  // bound by reference: a named variable, not a temporary
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT check_name, violations, coalesce(sample, '') "
                       "FROM promo.verify(CAST(:names AS text[]), :n, CAST(NULLIF(:since, '') AS date))",
         soci::use(names_literal), soci::use(samples), soci::use(since));
    for (const soci::row& row : rows) {
      out.push_back(AuditCheck{row.get<std::string>(0), row.get<long long>(1), row.get<std::string>(2)});
    }
  }
  // Decks: the band rule, and a re-deal from the campaign secret compared card by card, in one pass.
  if (!wanted("deck_band_rule") && !wanted("decks_redeal")) return;
  AuditCheck band{"deck_band_rule", 0, ""};
  AuditCheck redeal{"decks_redeal", 0, ""};
  soci::rowset<soci::row> decks = (s.prepare <<
      "SELECT d.id, d.campaign_id, m.code, d.business_day::text, d.algorithm_version, d.deck_order, d.seed_commitment, "
      "coalesce(d.seed_revealed, ''), array_to_string(d.cards_fen, ','), encode(c.secret, 'hex'), c.min_discount_fen, "
      "c.max_discount_fen, c.band_low_fen, c.band_high_fen, c.band_share_bp, c.cards_per_day, c.deck_order "
      "FROM promo.deck d JOIN promo.campaign c ON c.id = d.campaign_id JOIN ledger.merchant m ON m.id = d.merchant_id "
      "WHERE d.business_day >= coalesce(CAST(NULLIF(:since, '') AS date), '-infinity') "
      "ORDER BY d.id", soci::use(since));
  const auto note = [](AuditCheck& c, const std::string& what) {
    ++c.violations;
    if (c.violations <= static_cast<std::int64_t>(sample_max)) c.sample += (c.sample.empty() ? "" : "; ") + what;
  };
  for (const soci::row& row : decks) {
    const long long deck_id = row.get<long long>(0);
    // The campaign's (frozen) parameters, not the deck's copy: a deck must follow its campaign.
    const DeckParams params{row.get<long long>(10), row.get<long long>(11), row.get<long long>(12),
                            row.get<long long>(13), row.get<int>(14), row.get<int>(15),
                            deck_order_from_string(row.get<std::string>(16)).value_or(DeckOrder::stratified)};
    if (row.get<std::string>(5) != row.get<std::string>(16)) {
      note(band, fmt::format("deck {}: dealt {}, the campaign says {}", deck_id, row.get<std::string>(5),
                             row.get<std::string>(16)));
    }
    std::vector<std::int64_t> stored;
    const std::string cards_text = row.get<std::string>(8);
    for (std::size_t pos = 0; pos < cards_text.size();) {
      const std::size_t comma = cards_text.find(',', pos);
      stored.push_back(std::stoll(cards_text.substr(pos, comma - pos)));
      pos = comma == std::string::npos ? cards_text.size() : comma + 1;
    }
    const auto problems = check_deck(params, stored);
    if (!problems.empty()) note(band, fmt::format("deck {}: {}", deck_id, problems.front()));
    if (row.get<int>(4) != deck_algorithm_version) {
      note(redeal, fmt::format("deck {}: algorithm version {} is not known to this build", deck_id, row.get<int>(4)));
      continue;
    }
    const DeckSeed seed = derive_seed(bytes_from_hex(row.get<std::string>(9)), row.get<long long>(1), row.get<std::string>(2),
                                      row.get<std::string>(3), row.get<int>(4));
    if (seed_commitment_hex(seed) != row.get<std::string>(6)) {
      note(redeal, fmt::format("deck {}: the seed derived from the secret does not match the commitment", deck_id));
    } else if (!row.get<std::string>(7).empty() && row.get<std::string>(7) != to_hex(seed)) {
      note(redeal, fmt::format("deck {}: the revealed seed is not the derived one", deck_id));
    } else if (!validate(params).empty()) {
      note(redeal, fmt::format("deck {}: its campaign's parameters cannot deal a deck: {}", deck_id,
                               validate(params).front().message));
    } else if (deal(params, seed) != stored) {
      note(redeal, fmt::format("deck {}: re-dealt cards differ from the stored ones", deck_id));
    }
  }
  if (wanted("deck_band_rule")) out.push_back(band);
  if (wanted("decks_redeal")) out.push_back(redeal);
}

}  // namespace

std::optional<json> trace_payment(ledger::Database& db, const std::string& payment_id) {
  auto lease = db.lease();
  soci::session& s = *lease;
  try {
    json out;
    long long entry_id = 0, campaign_id = 0;
    bool has_campaign = false, has_deck = false;
    {
      soci::rowset<soci::row> rows = (s.prepare <<
          "SELECT p.payment_id, py.code, m.code, o.code, p.channel, p.amount_fen::text, "
          "to_char(p.paid_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'), p.business_day::text, "
          "p.discount_fen::text, p.payer_share_fen::text, p.merchant_share_fen::text, p.reason, p.entry_id, "
          "p.campaign_id, p.deck_id, p.card_position "
          "FROM promo.payment p JOIN ledger.payer py ON py.id = p.payer_id JOIN ledger.merchant m ON m.id = p.merchant_id "
          "JOIN ledger.org_unit o ON o.id = p.outlet_id WHERE p.payment_id = :id",
          soci::use(payment_id));
      bool found = false;
      for (const soci::row& row : rows) {
        found = true;
        const auto amount = detail::wide_at(row, 5);
        const auto payer_share = detail::wide_at(row, 9);
        const auto merchant_share = detail::wide_at(row, 10);
        out["payment"] = json{{"payment_id", row.get<std::string>(0)}, {"payer", row.get<std::string>(1)},
                              {"merchant", row.get<std::string>(2)}, {"home_outlet", row.get<std::string>(3)},
                              {"channel", row.get<std::string>(4)}, {"amount", format_fen(amount)},
                              {"paid_at_local", row.get<std::string>(6)}, {"business_day", row.get<std::string>(7)}};
        const bool discounted = row.get_indicator(11) == soci::i_null;
        out["decision"] = json{{"discounted", discounted}, {"reason", opt_text(row, 11)},
                               {"discount", money(row, 8)}, {"payer_discount", format_fen(payer_share)},
                               {"payer_pays", format_fen(amount - payer_share)},
                               {"merchant_reward", format_fen(merchant_share)},
                               {"merchant_receives", format_fen(amount + merchant_share)}};
        entry_id = row.get<long long>(12);
        if (row.get_indicator(13) != soci::i_null) {
          has_campaign = true;
          campaign_id = row.get<long long>(13);
        }
        if (row.get_indicator(14) != soci::i_null) {
          has_deck = true;
          out["decision"]["card_position"] = row.get<int>(15);
        }
      }
      if (!found) return std::nullopt;
    }
    if (has_deck) {
      soci::rowset<soci::row> rows = (s.prepare <<
          "SELECT d.id, d.business_day::text, d.algorithm_version, d.deck_order, d.seed_commitment, d.seed_revealed, "
          "d.card_count, d.used_count, d.status, d.cards_fen[p.card_position]::text, "
          "to_char(d.dealt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
          "FROM promo.deck d JOIN promo.payment p ON p.deck_id = d.id WHERE p.payment_id = :id",
          soci::use(payment_id));
      for (const soci::row& row : rows) {
        out["card"] = json{{"deck_id", row.get<long long>(0)}, {"business_day", row.get<std::string>(1)},
                           {"position", out["decision"]["card_position"]}, {"amount", money(row, 9)},
                           {"algorithm_version", row.get<int>(2)}, {"deck_order", row.get<std::string>(3)},
                           {"seed_commitment", row.get<std::string>(4)}, {"seed_revealed", opt_text(row, 5)},
                           {"cards_in_deck", row.get<int>(6)}, {"cards_used", row.get<int>(7)},
                           {"deck_status", row.get<std::string>(8)}, {"dealt_at_utc", row.get<std::string>(10)}};
      }
    }
    if (has_campaign) {
      soci::rowset<soci::row> rows = (s.prepare <<
          "SELECT id, name, status, gl_code, params::text, created_by, to_char(created_at AT TIME ZONE 'UTC', "
          "'YYYY-MM-DD HH24:MI:SS'), approved_by, to_char(approved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
          "FROM promo.campaign WHERE id = :id",
          soci::use(campaign_id));
      for (const soci::row& row : rows) {
        out["campaign"] = json{{"id", row.get<long long>(0)}, {"name", row.get<std::string>(1)},
                               {"status", row.get<std::string>(2)}, {"gl_code", row.get<std::string>(3)},
                               {"parameters", json::parse(row.get<std::string>(4))},
                               {"created_by", row.get<std::string>(5)}, {"created_at_utc", row.get<std::string>(6)},
                               {"approved_by", opt_text(row, 7)}, {"approved_at_utc", opt_text(row, 8)}};
      }
      json events = json::array();
      soci::rowset<soci::row> ev = (s.prepare <<
          "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), actor, action, coalesce(from_status, ''), "
          "to_status, reason FROM promo.campaign_event WHERE campaign_id = :id ORDER BY id",
          soci::use(campaign_id));
      for (const soci::row& row : ev) {
        events.push_back(json{{"at_utc", row.get<std::string>(0)}, {"actor", row.get<std::string>(1)},
                              {"action", row.get<std::string>(2)}, {"from", row.get<std::string>(3)},
                              {"to", row.get<std::string>(4)},
                              {"reason", row.get_indicator(5) == soci::i_null ? json(nullptr) : json(row.get<std::string>(5))}});
      }
      out["campaign"]["events"] = events;
    }
    const auto entry_json = [&](long long id) {
      json entry;
      soci::rowset<soci::row> head = (s.prepare <<
          "SELECT id, external_ref, kind, business_day::text, to_char(posted_at AT TIME ZONE 'UTC', "
          "'YYYY-MM-DD HH24:MI:SS.US'), description, encode(content_hash, 'hex'), reverses_entry_id "
          "FROM ledger.journal_entry WHERE id = :id",
          soci::use(id));
      for (const soci::row& row : head) {
        entry = json{{"entry_id", row.get<long long>(0)}, {"external_ref", row.get<std::string>(1)},
                     {"kind", row.get<std::string>(2)}, {"business_day", row.get<std::string>(3)},
                     {"posted_at_utc", row.get<std::string>(4)}, {"description", row.get<std::string>(5)},
                     {"content_hash", row.get<std::string>(6)},
                     {"reverses_entry_id", row.get_indicator(7) == soci::i_null ? json(nullptr)
                                                                                : json(row.get<long long>(7))}};
      }
      json lines = json::array();
      soci::rowset<soci::row> rows = (s.prepare <<
          "SELECT l.line_no, a.code, l.side, l.amount_fen::text, l.account_seq, l.balance_after_fen::text, "
          "encode(l.line_hash, 'hex') FROM ledger.journal_line l JOIN ledger.account a ON a.id = l.account_id "
          "WHERE l.entry_id = :id ORDER BY l.line_no",
          soci::use(id));
      for (const soci::row& row : rows) {
        lines.push_back(json{{"line", row.get<int>(0)}, {"account", row.get<std::string>(1)},
                             {"side", row.get<std::string>(2) == "D" ? "debit" : "credit"}, {"amount", money(row, 3)},
                             {"account_seq", row.get<long long>(4)}, {"balance_after", money(row, 5)},
                             {"line_hash", row.get<std::string>(6)}});
      }
      entry["lines"] = lines;
      return entry;
    };
    out["entry"] = entry_json(entry_id);
    {
      soci::rowset<soci::row> rev = (s.prepare <<
          "SELECT entry_id FROM promo.payment_reversal WHERE payment_id = :id", soci::use(payment_id));
      for (const soci::row& row : rev) out["reversal"] = entry_json(row.get<long long>(0));
    }
    json accounts = json::array();
    soci::rowset<soci::row> acc = (s.prepare <<
        "SELECT a.code, a.type, CASE a.normal_side WHEN 'D' THEN b.debits_fen - b.credits_fen "
        "ELSE b.credits_fen - b.debits_fen END::text, b.line_count FROM ledger.journal_line l "
        "JOIN ledger.account a ON a.id = l.account_id JOIN ledger.account_balance b ON b.account_id = a.id "
        "WHERE l.entry_id = :id ORDER BY l.line_no",
        soci::use(entry_id));
    for (const soci::row& row : acc) {
      accounts.push_back(json{{"account", row.get<std::string>(0)}, {"type", row.get<std::string>(1)},
                              {"balance_now", money(row, 2)}, {"lines", row.get<long long>(3)}});
    }
    out["accounts"] = accounts;
    return out;
  } catch (...) {
    rethrow_as_database_error(fmt::format("tracing payment {}", payment_id));
  }
}

std::optional<std::vector<SubsidyRow>> outlet_subsidies(ledger::Database& db, const std::string& outlet_code,
                                                        date::year_month_day from, date::year_month_day to,
                                                        std::size_t row_limit) {
  assert(row_limit >= 1);
  const long long limit = static_cast<long long>(row_limit);
  auto lease = db.lease();
  soci::session& s = *lease;
  const std::string f = ledger::format_day(from), t = ledger::format_day(to);
  try {
    long long outlet_id = 0;
    soci::indicator ind = soci::i_null;
    s << "SELECT id FROM ledger.org_unit WHERE code = :c AND kind = 'outlet'", soci::use(outlet_code),
        soci::into(outlet_id, ind);
    if (!s.got_data()) return std::nullopt;
    std::vector<SubsidyRow> out;
    soci::rowset<soci::row> rows = (s.prepare <<
        "SELECT p.payment_id, p.business_day::text, m.code, py.code, p.amount_fen::text, p.discount_fen::text, "
        "p.payer_share_fen::text, p.merchant_share_fen::text, p.entry_id, p.deck_id, p.card_position, "
        "(r.payment_id IS NOT NULL)::int FROM promo.payment p JOIN ledger.merchant m ON m.id = p.merchant_id "
        "JOIN ledger.payer py ON py.id = p.payer_id LEFT JOIN promo.payment_reversal r ON r.payment_id = p.payment_id "
        "WHERE p.outlet_id = :o AND p.deck_id IS NOT NULL AND p.business_day BETWEEN CAST(:f AS date) AND CAST(:t AS date) "
        "ORDER BY p.business_day, p.payment_id LIMIT :n",
        soci::use(outlet_id), soci::use(f), soci::use(t), soci::use(limit));
    for (const soci::row& row : rows) {
      SubsidyRow r;
      r.payment_id = row.get<std::string>(0);
      r.business_day = row.get<std::string>(1);
      r.merchant = row.get<std::string>(2);
      r.payer = row.get<std::string>(3);
      r.amount_fen = detail::wide_at(row, 4);
      r.discount_fen = detail::wide_at(row, 5);
      r.payer_share_fen = detail::wide_at(row, 6);
      r.merchant_share_fen = detail::wide_at(row, 7);
      r.entry_id = row.get<long long>(8);
      r.deck_id = row.get<long long>(9);
      r.card_position = row.get<int>(10);
      r.reversed = row.get<int>(11) != 0;
      out.push_back(std::move(r));
    }
    return out;
  } catch (...) {
    rethrow_as_database_error(fmt::format("reading subsidies of outlet {}", outlet_code));
  }
}

std::vector<std::string> audit_check_names() { return {check_names.begin(), check_names.end()}; }

AuditReport verify_all(ledger::Database& db, VerifyScope scope) { return verify_checks(db, audit_check_names(), scope); }

AuditReport verify_checks(ledger::Database& db, const std::vector<std::string>& names, VerifyScope scope) {
  for (const auto& name : names) {
    if (std::find(check_names.begin(), check_names.end(), name) == check_names.end()) {
      throw std::invalid_argument(fmt::format("no audit check named \"{}\"", name));
    }
  }
  const auto wanted = [&names](std::string_view name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  AuditReport report;
  report.scope = scope == VerifyScope::full ? "full" : "since_anchor";
  auto lease = db.lease();
  soci::session& s = *lease;
  try {
    soci::transaction tx(s);
    ledger::exec_script(s, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", "starting the audit snapshot");
    // A whole history takes longer than the sessions' 30 s on a big ledger; so may a month.
    ledger::exec_script(s, "SET LOCAL statement_timeout = '2h'", "allowing the audit its time");
    soci::indicator since_ind = soci::i_null;
    std::string since;
    if (scope == VerifyScope::since_anchor) {
      s << "SELECT ledger.verify_since()::text", soci::into(since, since_ind);
      if (since_ind != soci::i_ok) since.clear();
    }
    report.from = since;
    run_checks(s, wanted, since, report.checks);
    s << "SELECT ledger.chain_digest()", soci::into(report.chain_digest);
    // The months read: those from `since` on that hold entries (an index look at each).
    soci::rowset<std::string> months =
        (s.prepare << "SELECT to_char(m, 'YYYY-MM') FROM generate_series(date_trunc('month', coalesce(CAST(NULLIF(:since, "
                      "'') AS date), (SELECT min(business_day) FROM ledger.journal_entry))), "
                      "(SELECT max(business_day) FROM ledger.journal_entry), interval '1 month') AS m "
                      "WHERE EXISTS (SELECT 1 FROM ledger.journal_entry e WHERE e.business_day >= m::date "
                      "AND e.business_day < (m + interval '1 month')::date) ORDER BY m",
         soci::use(since));
    for (const auto& m : months) report.months.push_back(m);
    tx.commit();
  } catch (...) {
    rethrow_as_database_error("verifying");
  }
  return report;
}

Expected<AuditReport, ledger::PeriodRefusalOf> verify_month(ledger::Database& db, date::year_month month) {
  const std::string from = ledger::format_day(month / date::day{1});
  const std::string to = ledger::format_day((month + date::months{1}) / date::day{1});
  AuditReport report;
  report.scope = "month";
  report.from = from;
  report.to = to;
  report.months = {ledger::format_month(month)};
  auto lease = db.lease();
  soci::session& s = *lease;
  try {
    soci::transaction tx(s);
    ledger::exec_script(s, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", "starting the audit snapshot");
    ledger::exec_script(s, "SET LOCAL statement_timeout = '2h'", "allowing the audit its time");
    std::string recorded;
    soci::indicator recorded_ind = soci::i_null;
    s << "SELECT chain_digest FROM ledger.period WHERE month = CAST(:m AS date)", soci::use(from),
        soci::into(recorded, recorded_ind);
    if (!s.got_data() || recorded_ind != soci::i_ok) {
      return unexpected(ledger::PeriodRefusalOf(ledger::PeriodRefusal::period_not_closed, "month",
                                                fmt::format("month {} is not closed in this database: there is nothing "
                                                            "to prove it against",
                                                            ledger::format_month(month))));
    }
    int archived = 0;
    s << "SELECT cardinality(ledger.archived_months(CAST(:m AS date), CAST(:m2 AS date)))", soci::use(from),
        soci::use(from), soci::into(archived);
    if (archived > 0) {
      return unexpected(ledger::PeriodRefusalOf(ledger::PeriodRefusal::period_archived, "month",
                                                fmt::format("month {} is archived: restore it (promoledger period "
                                                            "restore) to verify it",
                                                            ledger::format_month(month))));
    }
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT check_name, violations, coalesce(sample, '') "
                      "FROM ledger.verify(5, CAST(:f AS date), CAST(:t AS date))",
         soci::use(from), soci::use(to));
    for (const soci::row& row : rows) {
      report.checks.push_back(AuditCheck{row.get<std::string>(0), row.get<long long>(1), row.get<std::string>(2)});
    }
    // The anchors as they are now, digested as the close digested the heads (ledger.chain_digest).
    std::string digest;
    s << "SELECT encode(sha256(convert_to(coalesce(string_agg(account_id || ':' || line_count || ':' || "
         "encode(head_hash, 'hex'), ',' ORDER BY account_id), ''), 'UTF8')), 'hex') "
         "FROM ledger.period_anchor WHERE month = CAST(:m AS date)",
        soci::use(from), soci::into(digest);
    report.checks.push_back(AuditCheck{"period_anchors", digest == recorded ? 0 : 1,
                                       digest == recorded ? ""
                                                          : fmt::format("the anchors digest to {}, the close recorded {}",
                                                                        digest, recorded)});
    report.chain_digest = recorded;
    tx.commit();
  } catch (...) {
    rethrow_as_database_error("verifying the month");
  }
  return report;
}

}  // namespace promoledger::promo
