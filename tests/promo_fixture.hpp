#pragma once
// The promotion tests' fixture and helpers, which live in tests/support/: the small bank and PromoTest
// (small_bank.hpp), day/cny/at (domain_helpers.hpp), the pilot campaign (pilot.hpp). Kept so that the
// suites that include this name compile unchanged.

#include "domain_helpers.hpp"
#include "pilot.hpp"
#include "small_bank.hpp"
