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

// The first reason a record cannot be imported, checked before anything is written.
std::optional<std::string> invalid(const OrgRecord& r) {
  if (r.code.empty()) return "field code: is empty";
  if (r.name.empty()) return "field name: is empty";
  const bool has_parent = r.kind != OrgKind::branch && r.kind != OrgKind::payer;
  if (has_parent && r.parent.empty()) return fmt::format("field parent: a {} needs a parent", to_string(r.kind));
  if (r.opening_balance) {
    if (r.kind != OrgKind::payer) return std::string("field opening_balance: only payers have an opening balance");
    if (!r.opening_balance->is_positive()) return std::string("field opening_balance: must be > 0");
  }
  return std::nullopt;
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

Expected<OrgImportReport, OrgImportError> import_organisation(Database& database, const std::vector<OrgRecord>& records,
                                                              date::year_month_day opening_day) {
  if (records.size() > org_records_max) {
    return unexpected(OrgImportError{"invalid_input", 0, fmt::format("{} records; at most {}", records.size(), org_records_max)});
  }
  if (!opening_day.ok()) return unexpected(OrgImportError{"invalid_input", 0, "the opening day is not a date"});
  OrgImportReport report;
  std::vector<Entry> openings;
  for (const OrgRecord& r : records) {
    if (auto why = invalid(r)) return unexpected(OrgImportError{"invalid_record", r.line, *why});
    ++report.records[static_cast<std::size_t>(r.kind)];
    if (!r.opening_balance) continue;
    // Dr bank funding, Cr the payer's deposit: built (and balanced) by EntryBuilder like every entry.
    auto entry = EntryBuilder("opening:payer:" + r.code, "opening", opening_day)
                     .description("opening deposit from org import")
                     .debit(std::string(bank_funding_account), *r.opening_balance)
                     .credit(payer_deposit_account(r.code), *r.opening_balance)
                     .build();
    if (!entry) {
      return unexpected(OrgImportError{std::string(to_string(entry.error().code)), r.line, entry.error().detail});
    }
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
        return unexpected(OrgImportError{"exists_with_different_content", 0,
                                         fmt::format("{} was opened with {}, the import says {}", deposit.account_code,
                                                     fen ? format_fen(*fen) : "other content", deposit.amount.str())});
      }
      return unexpected(OrgImportError{std::string(to_string(posted.error().code)), 0,
                                       fmt::format("opening deposit {}: {}", entry.external_ref(), posted.error().detail)});
    }
    tx.commit();
  } catch (...) {
    try {
      rethrow_as_database_error("importing the organisation");
    } catch (const DatabaseError& e) {
      // Constraint violations, unknown parents and over-long text are problems of the input: say which
      // record; nothing was written (the transaction was rolled back).
      const std::string& state = e.sqlstate();
      if (state.rfind("23", 0) == 0 || state == sqlstate::invalid_reference || state == "22001") {
        return unexpected(OrgImportError{"invalid_input", line, e.primary_message()});
      }
      throw;
    }
  }
  return report;
}

}  // namespace promoledger::ledger
