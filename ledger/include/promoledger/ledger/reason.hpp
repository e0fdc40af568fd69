#pragma once
// A reason a person gives for a change that is kept with it (a campaign's pause, resume or end; a change
// of the posting policy): 1..reason_bytes_max bytes of UTF-8. Counted in bytes, not characters: 500
// bytes hold about 160 Chinese characters, plenty for a reason, and bound a log line and a row alike.
//
// The one C++ definition of the limit. The database's is the domain ledger.reason_text (migration 0030:
// CHECK octet_length(VALUE) BETWEEN 1 AND 500), the type of promo.campaign_event.reason and
// ledger.posting_policy.reason; TermsAgreeTest (tests/terms_agree_test.cpp) holds the two to the same
// answers at the edges.
//
// Thread safety: constants and pure functions.

#include <cstddef>
#include <string_view>

namespace promoledger::ledger {

inline constexpr std::size_t reason_bytes_max = 500;

// Whether `text` can be stored as a reason. An optional reason (a campaign step) may also be absent,
// which callers pass as no text at all rather than as an empty one.
constexpr bool reason_fits(std::string_view text) { return !text.empty() && text.size() <= reason_bytes_max; }

}  // namespace promoledger::ledger
