#pragma once
// Internal to promo: the refusal of one campaign parameter, shared by the document's reader
// (campaign_params.cpp) and the storage steps (campaigns.cpp).

#include <string>
#include <string_view>
#include <utility>

#include "promoledger/promo/rejection.hpp"

namespace promoledger::promo::detail {

// invalid_parameters, the parameter as field, and words that start with it ("reason: 501 bytes; ...").
inline Rejection problem(std::string field, std::string_view words) {
  std::string message = field + ": " + std::string(words);
  return Rejection{Reject::invalid_parameters, std::move(field), std::move(message)};
}

}  // namespace promoledger::promo::detail
