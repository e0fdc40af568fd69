#include "promoledger/console/assets.hpp"

#include "embedded.hpp"

namespace promoledger::console {

const Asset* find(std::string_view name) {
  // A dozen files: a linear search costs less than building an index.
  for (const auto& asset : detail::embedded()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

}  // namespace promoledger::console
