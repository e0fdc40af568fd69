#pragma once
// A minimal value-or-error type (g++ 12 has no std::expected). Business outcomes travel as values of
// this type; exceptions are kept for infrastructure failures and bugs.
//
// Thread safety: a value type; no shared state.

#include <cassert>
#include <utility>
#include <variant>

namespace promoledger {

template <class E>
struct Unexpected {
  E error;
};
template <class E>
Unexpected<E> unexpected(E error) {
  return Unexpected<E>{std::move(error)};
}

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  template <class G>
  Expected(Unexpected<G> e) : state_(std::in_place_index<1>, E(std::move(e.error))) {}  // NOLINT

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  // REQUIRES: has_value().
  const T& value() const& {
    assert(has_value());
    return std::get<0>(state_);
  }
  T& value() & {
    assert(has_value());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(state_));
  }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !has_value().
  const E& error() const& {
    assert(!has_value());
    return std::get<1>(state_);
  }

 private:
  std::variant<T, E> state_;
};

}  // namespace promoledger
