#pragma once
// Literals for tests and the bench: a business day, an amount and a time, from the text a person would
// write. Each one aborts the caller on malformed text (value() of an empty Expected throws), which in a
// test is a bug in the test, not a case to handle.
//
// Header-only and free of GoogleTest, so that bench/ can use the same helpers (bench/CMakeLists.txt).

#include <date/date.h>

#include "promoledger/ledger/business_day.hpp"
#include "promoledger/ledger/money.hpp"

namespace promoledger::testing {

// "2026-11-24" -> the business day.
inline date::year_month_day day(const char* text) { return ledger::parse_day(text).value(); }
// "100.00" -> 10,000 fen.
inline ledger::Money cny(const char* text) { return ledger::Money::parse(text).value(); }
// "2026-11-24T12:00:00+08:00" -> the instant (an offset is required).
inline ledger::Timestamp at(const char* text) { return ledger::parse_timestamp(text).value(); }

}  // namespace promoledger::testing
