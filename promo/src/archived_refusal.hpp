#pragma once
// Internal to promo: the period_archived refusal of the finance reports (finance.hpp, "Archived months").
#include <optional>
#include <string>

#include <date/date.h>
#include <soci/soci.h>

#include "promoledger/promo/finance.hpp"

namespace promoledger::promo::detail {

// period_archived naming the archived months in [from, to] (ledger::archived_months), or nullopt when
// none is. Call it after the report's read, on the read's session: an archive drops its partitions and
// records 'archived' in one transaction, and its detach waits for the read's lock, so an archive that
// removed rows from under the read has committed by the time this runs and is seen; one that commits
// later removed nothing the read needed. Asked before the read, an archive committing in between would
// leave a short report that passed the check.
// Throws what ledger::archived_months throws (DatabaseError).
std::optional<ReportError> archived_refusal(soci::session& s, const std::string& report, date::year_month_day from,
                                            date::year_month_day to);

}  // namespace promoledger::promo::detail
