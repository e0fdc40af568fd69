// Campaigns in storage: create (draft), approve (maker-checker), pause / resume / end, list and show.
// The parameters are read and judged before (campaign_params.cpp).
#include "promoledger/promo/campaign.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "campaign_problem.hpp"
#include "promoledger/ledger/account_codes.hpp"
#include "promoledger/ledger/business_day.hpp"

namespace promoledger::promo {
namespace {

using detail::problem;
using ledger::DatabaseError;
using ledger::rethrow_as_database_error;
using nlohmann::json;

std::string random_secret_hex() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed: no secure randomness for the campaign secret");
  }
  std::string hex;
  for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

std::string format_minutes(std::chrono::minutes m) {
  return fmt::format("{:02d}:{:02d}:00", m.count() / 60, m.count() % 60);
}

CampaignSummary summary_from(const soci::row& row) {
  CampaignSummary s;
  s.id = row.get<long long>(0);
  s.name = row.get<std::string>(1);
  const auto status = campaign_status_from_string(row.get<std::string>(2));
  if (!status) throw ledger::DatabaseError(fmt::format("campaign {} has an unknown status", s.id), "");
  s.status = *status;
  s.first_day = row.get<std::string>(3);
  s.last_day = row.get<std::string>(4);
  s.merchants = row.get<long long>(5);
  s.created_by = row.get<std::string>(6);
  if (row.get_indicator(7) != soci::i_null) s.approved_by = row.get<std::string>(7);
  s.budget_total_fen = row.get<long long>(8);
  s.budget_reserved_fen = row.get<long long>(9);
  s.budget_spent_fen = row.get<long long>(10);
  return s;
}

constexpr const char* summary_columns =
    "c.id, c.name, c.status, c.first_day::text, c.last_day::text, "
    "(SELECT count(*) FROM promo.campaign_merchant cm WHERE cm.campaign_id = c.id), c.created_by, c.approved_by, "
    "c.budget_total_fen, c.budget_reserved_fen, c.budget_spent_fen";

}  // namespace

Expected<std::int64_t, Rejection> Campaigns::create(const CampaignParams& p, const json& document,
                                                    const std::string& created_by) {
  if (auto errors = validate(p); !errors.empty()) {
    std::string joined;
    for (const auto& e : errors) joined += (joined.empty() ? "" : "; ") + e.message;
    return unexpected(Rejection{Reject::invalid_parameters, errors.front().field, joined});
  }
  if (created_by.empty() || created_by.size() > 64) {
    return unexpected(problem("created_by", "must be 1..64 characters"));
  }
  auto lease = database_.lease();
  soci::session& s = *lease;
  try {
    soci::transaction tx(s);
    long long branch_id = 0;
    std::string branch_kind;
    soci::indicator found = soci::i_null;
    s << "SELECT id, kind FROM ledger.org_unit WHERE code = :c", soci::use(p.funding_branch), soci::into(branch_id, found),
        soci::into(branch_kind);
    if (!s.got_data() || branch_kind != "branch") {
      return unexpected(Rejection{Reject::unknown_branch, "funding_branch",
                                  fmt::format("funding_branch: no branch {}", p.funding_branch)});
    }
    // Resolve every merchant with its outlet and the branch its outlet rolls up to, in one query.
    ledger::PgArrayLiteral code_list;
    for (const std::string& code : p.merchants) code_list.add(code);
    const std::string codes = std::move(code_list).finish();
    soci::rowset<soci::row> rows =
        (s.prepare << "SELECT t.code, m.id, o.id, o.code, b.code FROM unnest(CAST(:codes AS text[])) AS t(code) "
                      "LEFT JOIN ledger.merchant m ON m.code = t.code LEFT JOIN ledger.org_unit o ON o.id = m.outlet_id "
                      "LEFT JOIN ledger.org_unit sb ON sb.id = o.parent_id LEFT JOIN ledger.org_unit b ON b.id = sb.parent_id",
         soci::use(codes));
    struct Resolved {
      long long merchant_id;
      long long outlet_id;
      std::string outlet_code;
    };
    std::vector<Resolved> resolved;
    for (const soci::row& row : rows) {
      const std::string code = row.get<std::string>(0);
      if (row.get_indicator(1) == soci::i_null) {
        return unexpected(Rejection{Reject::unknown_merchant, "merchants", fmt::format("merchants: no merchant {}", code)});
      }
      if (row.get_indicator(4) == soci::i_null || row.get<std::string>(4) != p.funding_branch) {
        return unexpected(Rejection{Reject::merchant_outside_branch, "merchants",
                                    fmt::format("merchants: {}'s home outlet {} is not under branch {}", code,
                                                row.get<std::string>(3), p.funding_branch)});
      }
      resolved.push_back({row.get<long long>(1), row.get<long long>(2), row.get<std::string>(3)});
    }
    const std::string first = ledger::format_day(p.first_day);
    const std::string last = ledger::format_day(p.last_day);
    const std::string doc_text = document.dump();
    const std::string secret = random_secret_hex();
    const std::string order(to_string(p.deck_order));
    long long id = 0;
    std::string wfrom = p.window_from ? format_minutes(*p.window_from) : "";
    std::string wto = p.window_to ? format_minutes(*p.window_to) : "";
    soci::indicator wfrom_ind = p.window_from ? soci::i_ok : soci::i_null;
    soci::indicator wto_ind = p.window_to ? soci::i_ok : soci::i_null;
    long long min_payment = p.min_payment.fen(), min_discount = p.min_discount.fen(), max_discount = p.max_discount.fen(),
              band_low = p.band_low.fen(), band_high = p.band_high.fen(), budget_total = p.budget_total.fen();
    long long outlet_budget = p.outlet_daily_budget ? p.outlet_daily_budget->fen() : 0;
    soci::indicator outlet_budget_ind = p.outlet_daily_budget ? soci::i_ok : soci::i_null;
    int payer_limit = p.payer_daily_limit.value_or(0);
    soci::indicator payer_limit_ind = p.payer_daily_limit ? soci::i_ok : soci::i_null;
    int band_share = p.band_share_bp, cap = p.cards_per_day, payer_share = p.payer_share_bp;
    const std::string channel(to_string(p.channel));
    s << "INSERT INTO promo.campaign (name, funding_branch_id, gl_code, channel, first_day, last_day, window_start_local, "
         "window_end_local, min_payment_fen, min_discount_fen, max_discount_fen, band_low_fen, band_high_fen, band_share_bp, "
         "cards_per_day, payer_share_bp, deck_order, payer_daily_limit, budget_total_fen, outlet_daily_budget_fen, params, "
         "secret, created_by) VALUES (:name, :branch, :gl, :channel, CAST(:first AS date), CAST(:last AS date), "
         "CAST(:wfrom AS time), CAST(:wto AS time), :minp, :mind, :maxd, :bl, :bh, :bs, :cap, :ps, :ord, :pl, :bt, :ob, "
         "CAST(:doc AS jsonb), decode(:secret, 'hex'), :by) RETURNING id",
        soci::use(p.name), soci::use(branch_id), soci::use(p.gl_code), soci::use(channel), soci::use(first),
        soci::use(last), soci::use(wfrom, wfrom_ind), soci::use(wto, wto_ind), soci::use(min_payment),
        soci::use(min_discount), soci::use(max_discount), soci::use(band_low), soci::use(band_high), soci::use(band_share),
        soci::use(cap), soci::use(payer_share), soci::use(order), soci::use(payer_limit, payer_limit_ind),
        soci::use(budget_total), soci::use(outlet_budget, outlet_budget_ind), soci::use(doc_text), soci::use(secret),
        soci::use(created_by), soci::into(id);
    for (const Resolved& r : resolved) {
      const std::string account_code = ledger::outlet_subsidy_account(r.outlet_code, p.gl_code);
      const std::string account_name = fmt::format("subsidy expense of outlet {} (GL {})", r.outlet_code, p.gl_code);
      long long account_id = 0;
      s << "SELECT ledger.open_account(:code, :name, 'expense', NULL, :outlet)", soci::use(account_code),
          soci::use(account_name), soci::use(r.outlet_id), soci::into(account_id);
      s << "INSERT INTO promo.campaign_merchant (campaign_id, merchant_id, outlet_id, subsidy_account_id) "
           "VALUES (:c, :m, :o, :a)",
          soci::use(id), soci::use(r.merchant_id), soci::use(r.outlet_id), soci::use(account_id);
    }
    s << "INSERT INTO promo.campaign_event (campaign_id, actor, action, from_status, to_status) "
         "VALUES (:id, :by, 'create', NULL, 'draft')",
        soci::use(id), soci::use(created_by);
    tx.commit();
    spdlog::info("campaign {} created as draft by {} ({} merchants)", id, created_by, resolved.size());
    return static_cast<std::int64_t>(id);
  } catch (...) {
    rethrow_as_database_error("creating a campaign");
  }
}

Expected<CampaignStatus, Rejection> Campaigns::approve(std::int64_t id, const std::string& approver) {
  if (approver.empty() || approver.size() > 64) {
    return unexpected(problem("approver", "must be 1..64 characters"));
  }
  auto lease = database_.lease();
  soci::session& s = *lease;
  try {
    soci::transaction tx(s);
    std::string status;
    std::string creator;
    const long long cid = id;
    s << "SELECT status, created_by FROM promo.campaign WHERE id = :id FOR UPDATE", soci::use(cid), soci::into(status),
        soci::into(creator);
    if (!s.got_data()) {
      return unexpected(Rejection{Reject::unknown_campaign, "campaign_id", fmt::format("no campaign {}", id)});
    }
    if (status != "draft") {
      return unexpected(Rejection{Reject::invalid_transition, "",
                                  fmt::format("campaign {} is {}; only a draft can be approved", id, status)});
    }
    if (approver == creator) {
      return unexpected(Rejection{Reject::maker_checker, "approver",
                                  fmt::format("campaign {} was created by {}; another person must approve it", id, creator)});
    }
    // A merchant is in at most one live campaign on any day (the payment path relies on it).
    std::string clash;
    soci::indicator clash_ind = soci::i_null;
    s << "SELECT string_agg(DISTINCT format('%s (campaign %s)', m.code, o.id), ', ') FROM promo.campaign c "
         "JOIN promo.campaign_merchant cm ON cm.campaign_id = c.id "
         "JOIN promo.campaign_merchant ocm ON ocm.merchant_id = cm.merchant_id AND ocm.campaign_id <> c.id "
         "JOIN promo.campaign o ON o.id = ocm.campaign_id AND o.status IN ('approved', 'active', 'paused') "
         "AND o.first_day <= c.last_day AND c.first_day <= o.last_day "
         "JOIN ledger.merchant m ON m.id = cm.merchant_id WHERE c.id = :id",
        soci::use(cid), soci::into(clash, clash_ind);
    if (clash_ind != soci::i_null) {
      return unexpected(Rejection{Reject::merchant_in_other_campaign, "merchants",
                                  fmt::format("merchants already in a live campaign on overlapping days: {}", clash)});
    }
    s << "UPDATE promo.campaign SET status = 'approved', approved_by = :by, approved_at = now() WHERE id = :id",
        soci::use(approver), soci::use(cid);
    s << "INSERT INTO promo.campaign_event (campaign_id, actor, action, from_status, to_status) "
         "VALUES (:id, :by, 'approve', 'draft', 'approved')",
        soci::use(cid), soci::use(approver);
    tx.commit();
    spdlog::info("campaign {} approved by {} (created by {})", id, approver, creator);
    return CampaignStatus::approved;
  } catch (...) {
    rethrow_as_database_error(fmt::format("approving campaign {}", id));
  }
}

Expected<CampaignStatus, Rejection> Campaigns::transition(std::int64_t id, CampaignAction action,
                                                          const std::string& actor, const std::string& reason) {
  using S = CampaignStatus;
  struct Step {
    CampaignAction action;
    std::array<std::optional<S>, 3> from;
    S to;
  };
  // Pausing an approved campaign (before its first day) is allowed; it resumes as active.
  static constexpr std::array<Step, 3> steps{{{CampaignAction::pause, {S::active, S::approved}, S::paused},
                                              {CampaignAction::resume, {S::paused}, S::active},
                                              {CampaignAction::end, {S::approved, S::active, S::paused}, S::ended}}};
  const auto step = std::find_if(steps.begin(), steps.end(), [&](const Step& st) { return action == st.action; });
  if (step == steps.end()) {
    return unexpected(Rejection{Reject::invalid_transition, "action",
                                fmt::format("{} is not a step of Campaigns::transition", to_string(action))});
  }
  if (actor.empty() || actor.size() > 64) return unexpected(problem("actor", "must be 1..64 characters"));
  if (!reason.empty() && !ledger::reason_fits(reason)) {
    return unexpected(problem("reason", fmt::format("{} bytes; at most {}", reason.size(), ledger::reason_bytes_max)));
  }
  auto lease = database_.lease();
  soci::session& s = *lease;
  try {
    soci::transaction tx(s);
    std::string status;
    const long long cid = id;
    s << "SELECT status FROM promo.campaign WHERE id = :id FOR UPDATE", soci::use(cid), soci::into(status);
    if (!s.got_data()) {
      return unexpected(Rejection{Reject::unknown_campaign, "campaign_id", fmt::format("no campaign {}", id)});
    }
    const std::optional<S> current = campaign_status_from_string(status);
    if (!current) throw ledger::DatabaseError(fmt::format("campaign {} has the unknown status {}", id, status), "");
    if (std::find(step->from.begin(), step->from.end(), *current) == step->from.end()) {
      return unexpected(Rejection{Reject::invalid_transition, "",
                                  fmt::format("campaign {} is {}; cannot {}", id, status, to_string(action))});
    }
    const std::string to(to_string(step->to));
    const std::string action_name(to_string(action));
    s << "UPDATE promo.campaign SET status = :to WHERE id = :id", soci::use(to), soci::use(cid);
    s << "INSERT INTO promo.campaign_event (campaign_id, actor, action, from_status, to_status, reason) "
         "VALUES (:id, :by, :action, :from, :to, NULLIF(:why, ''))",
        soci::use(cid), soci::use(actor), soci::use(action_name), soci::use(status), soci::use(to), soci::use(reason);
    tx.commit();
    spdlog::info("campaign {}: {} by {} ({} -> {})", id, action_name, actor, status, to);
    return step->to;
  } catch (...) {
    rethrow_as_database_error(fmt::format("{} campaign {}", to_string(action), id));
  }
}

std::vector<CampaignSummary> Campaigns::list() {
  std::vector<CampaignSummary> out;
  auto lease = database_.lease();
  try {
    const long long limit = list_rows_max;
    soci::rowset<soci::row> rows =
        (lease->prepare << fmt::format("SELECT {} FROM promo.campaign c ORDER BY c.id LIMIT :n", summary_columns),
         soci::use(limit));
    for (const soci::row& row : rows) out.push_back(summary_from(row));
  } catch (...) {
    rethrow_as_database_error("listing campaigns");
  }
  return out;
}

std::optional<CampaignView> Campaigns::show(std::int64_t id) {
  auto lease = database_.lease();
  soci::session& s = *lease;
  const long long cid = id;
  try {
    CampaignView view;
    bool found = false;
    {
      soci::rowset<soci::row> rows =
          (s.prepare << fmt::format("SELECT {}, c.params::text FROM promo.campaign c WHERE c.id = :id", summary_columns),
           soci::use(cid));
      for (const soci::row& row : rows) {
        view.summary = summary_from(row);
        view.params = json::parse(row.get<std::string>(11));
        found = true;
      }
    }
    if (!found) return std::nullopt;
    soci::rowset<soci::row> merchants =
        (s.prepare << "SELECT m.code FROM promo.campaign_merchant cm JOIN ledger.merchant m ON m.id = cm.merchant_id "
                      "WHERE cm.campaign_id = :id ORDER BY m.code",
         soci::use(cid));
    for (const soci::row& row : merchants) view.merchants.push_back(row.get<std::string>(0));
    soci::rowset<soci::row> events =
        (s.prepare << "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), actor, action, "
                      "coalesce(from_status, ''), to_status, reason FROM promo.campaign_event WHERE campaign_id = :id "
                      "ORDER BY id",
         soci::use(cid));
    for (const soci::row& row : events) {
      const auto action = campaign_action_from_string(row.get<std::string>(2));
      const auto from = campaign_status_from_string(row.get<std::string>(3));
      const auto to = campaign_status_from_string(row.get<std::string>(4));
      if (!action || !to || (!from && !row.get<std::string>(3).empty())) {
        throw ledger::DatabaseError(fmt::format("campaign {} has an event with an unknown action or status", id), "");
      }
      CampaignEvent e{row.get<std::string>(0), row.get<std::string>(1), *action, from, *to, std::nullopt};
      if (row.get_indicator(5) != soci::i_null) e.reason = row.get<std::string>(5);
      view.events.push_back(std::move(e));
    }
    return view;
  } catch (...) {
    rethrow_as_database_error(fmt::format("reading campaign {}", id));
  }
}

}  // namespace promoledger::promo
