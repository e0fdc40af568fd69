#pragma once
// The generated table of embedded files (console_assets.cpp). Internal to console/.
#include <vector>

#include "promoledger/console/assets.hpp"

namespace promoledger::console::detail {
const std::vector<Asset>& embedded();
}  // namespace promoledger::console::detail
