#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace paycoord {

/// Tag that carries an error into an `expected`.
template <class E>
struct unexpected {
  E error;
};

template <class E>
unexpected<E> make_unexpected(E e) {
  return unexpected<E>{std::move(e)};
}

/// A value or an error (the subset of C++23 `std::expected` we use; g++ 12 in
/// C++20 mode has none). Accessing the wrong alternative is a programming
/// error and asserts.
template <class T, class E>
class expected {
public:
  expected(T value) : data_(std::in_place_index<0>, std::move(value)) {
  }

  template <class U>
  expected(unexpected<U> e) : data_(std::in_place_index<1>, std::move(e.error)) {
  }

  bool has_value() const noexcept {
    return data_.index() == 0;
  }

  explicit operator bool() const noexcept {
    return has_value();
  }

  T& value() & {
    assert(has_value());
    return std::get<0>(data_);
  }

  const T& value() const& {
    assert(has_value());
    return std::get<0>(data_);
  }

  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(data_));
  }

  const E& error() const {
    assert(!has_value());
    return std::get<1>(data_);
  }

  T& operator*() & {
    return value();
  }

  const T& operator*() const& {
    return value();
  }

  T* operator->() {
    return &value();
  }

  const T* operator->() const {
    return &value();
  }

private:
  std::variant<T, E> data_;
};

} // namespace paycoord
