#include "promoledger/ledger/organisation.hpp"

#include <cassert>
#include <utility>

#include <fmt/format.h>

#include "promoledger/ledger/account_codes.hpp"
#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/ledger.hpp"
#include "promoledger/ledger/names.hpp"

namespace promoledger::ledger {
namespace {

constexpr NameTable<OrgKind, org_kinds.size()> kind_names{{
    {OrgKind::branch, "branch"},
    {OrgKind::sub_branch, "sub_branch"},
    {OrgKind::outlet, "outlet"},
    {OrgKind::merchant, "merchant"},
    {OrgKind::payer, "payer"},
}};
static_assert(names_every_value(kind_names));

constexpr NameTable<OrgImportReject, 6> reject_names{{
    {OrgImportReject::invalid_input, "invalid_input"},
    {OrgImportReject::invalid_record, "invalid_record"},
    {OrgImportReject::exists_with_different_content, "exists_with_different_content"},
    {OrgImportReject::business_day_closed, "business_day_closed"},
    {OrgImportReject::business_day_in_future, "business_day_in_future"},
    {OrgImportReject::opening_refused, "opening_refused"},
}};
static_assert(names_every_value(reject_names));

// The first reason a record cannot be imported, checked before anything is written.
std::optional<OrgImportError> invalid(const OrgRecord& r) {
  const auto bad = [&r](const char* field, std::string why) {
    return OrgImportError{OrgImportReject::invalid_record, r.line, field, fmt::format("field {}: {}", field, why)};
  };
  if (r.code.empty()) return bad("code", "is empty");
  if (r.name.empty()) return bad("name", "is empty");
  const bool has_parent = r.kind != OrgKind::branch && r.kind != OrgKind::payer;
  if (has_parent && r.parent.empty()) return bad("parent", fmt::format("a {} needs a parent", to_string(r.kind)));
  if (r.opening_balance) {
    if (r.kind != OrgKind::payer) return bad("opening_balance", "only payers have an opening balance");
    if (!r.opening_balance->is_positive()) return bad("opening_balance", "must be > 0");
  }
  return std::nullopt;
}

// A refused opening deposit (EntryBuilder or ledger.post_entry) as the import's refusal.
OrgImportError opening_refused(const Rejection& r, std::size_t line, const std::string& ref) {
  const std::string message = fmt::format("opening deposit {}: {}", ref, r.message);
  switch (r.code) {
    case Reject::business_day_closed: return {OrgImportReject::business_day_closed, line, "date", message};
    case Reject::business_day_in_future: return {OrgImportReject::business_day_in_future, line, "date", message};
    case Reject::invalid_account_code:
    case Reject::invalid_external_ref: return {OrgImportReject::invalid_record, line, "code", message};
    default:
      return {OrgImportReject::opening_refused, line, "",
              fmt::format("{} ({})", message, to_string(r.code))};
  }
}

// The amount a payer was opened with, if an opening entry exists under `ref`.
std::optional<std::int64_t> opened_amount_fen(soci::session& s, const std::string& ref) {
  long long fen = 0;
  soci::indicator ind = soci::i_null;
  s << "SELECT l.amount_fen FROM ledger.journal_entry e JOIN ledger.journal_line l ON l.entry_id = e.id "
       "AND l.side = 'C' WHERE e.external_ref = :r",
      soci::use(ref), soci::into(fen, ind);
  if (!s.got_data() || ind == soci::i_null) return std::nullopt;
  return fen;
}

}  // namespace

std::string_view to_string(OrgKind kind) { return name_of(kind_names, kind); }
std::optional<OrgKind> org_kind_from_string(std::string_view text) { return value_named(kind_names, text); }
std::string_view to_string(OrgImportReject code) { return name_of(reject_names, code); }

Expected<OrgImportReport, OrgImportError> import_organisation(Database& database, const std::vector<OrgRecord>& records,
                                                              date::year_month_day opening_day) {
  if (records.size() > org_records_max) {
    return unexpected(OrgImportError{OrgImportReject::invalid_input, 0, "",
                                     fmt::format("{} records; at most {}", records.size(), org_records_max)});
  }
  if (!opening_day.ok()) {
    return unexpected(OrgImportError{OrgImportReject::invalid_input, 0, "date", "the opening day is not a date"});
  }
  OrgImportReport report;
  std::vector<Entry> openings;
  for (const OrgRecord& r : records) {
    if (auto why = invalid(r)) return unexpected(std::move(*why));
    ++report.records[static_cast<std::size_t>(r.kind)];
    if (!r.opening_balance) continue;
    // Dr bank funding, Cr the payer's deposit: built (and balanced) by EntryBuilder like every entry.
    auto entry = EntryBuilder("opening:payer:" + r.code, "opening", opening_day)
                     .description("opening deposit from org import")
                     .debit(std::string(bank_funding_account), *r.opening_balance)
                     .credit(payer_deposit_account(r.code), *r.opening_balance)
                     .build();
    if (!entry) return unexpected(opening_refused(entry.error(), r.line, "opening:payer:" + r.code));
    openings.push_back(std::move(*entry));
  }

  auto lease = database.lease();
  soci::session& s = *lease;
  std::size_t line = 0;
  try {
    soci::transaction tx(s);
    long long id = 0;
    for (const OrgRecord& r : records) {
      line = r.line;
      switch (r.kind) {
        case OrgKind::merchant:
          s << "SELECT ledger.add_merchant(:c, :n, :p)", soci::use(r.code), soci::use(r.name), soci::use(r.parent),
              soci::into(id);
          break;
        case OrgKind::payer:
          s << "SELECT ledger.add_payer(:c, :n)", soci::use(r.code), soci::use(r.name), soci::into(id);
          break;
        case OrgKind::branch:
        case OrgKind::sub_branch:
        case OrgKind::outlet: {
          const std::string kind(to_string(r.kind));
          s << "SELECT ledger.add_org_unit(:c, :k, :n, NULLIF(:p, ''))", soci::use(r.code), soci::use(kind),
              soci::use(r.name), soci::use(r.parent), soci::into(id);
          break;
        }
      }
    }
    line = 0;
    if (!openings.empty()) {
      // A named variable: SOCI binds by reference and executes when the full expression ends, after a
      // temporary would be gone (ASan: stack-use-after-scope).
      const std::string funding(bank_funding_account);
      s << "SELECT ledger.open_account(:code, 'bank funding of payer deposits', 'asset', NULL, NULL)",
          soci::use(funding), soci::into(id);
    }
    for (const Entry& entry : openings) {
      const Line& deposit = entry.lines().back();
      auto posted = post_in(s, entry);
      if (posted) {
        ++(posted->status == PostResult::Status::posted ? report.openings_posted : report.openings_existing);
        continue;
      }
      // Opened by an earlier import on another day: the same amount is that opening, not a new one.
      if (posted.error().code == Reject::exists_with_different_content) {
        const auto fen = opened_amount_fen(s, entry.external_ref());
        if (fen && *fen == deposit.amount.fen()) {
          ++report.openings_existing;
          continue;
        }
        return unexpected(OrgImportError{OrgImportReject::exists_with_different_content, 0, "opening_balance",
                                         fmt::format("{} was opened with {}, the import says {}", deposit.account_code,
                                                     fen ? format_fen(*fen) : "other content", deposit.amount.str())});
      }
      return unexpected(opening_refused(posted.error(), 0, entry.external_ref()));
    }
    tx.commit();
  } catch (...) {
    try {
      rethrow_as_database_error("importing the organisation");
    } catch (const DatabaseError& e) {
      // Constraint violations, unknown parents and over-long text are problems of the input: say which
      // record; nothing was written (the transaction was rolled back).
      if (is_input_refusal(e)) {
        return unexpected(OrgImportError{OrgImportReject::invalid_input, line, "", e.primary_message()});
      }
      throw;
    }
  }
  return report;
}

}  // namespace promoledger::ledger
