// The one loop behind every elementwise op that reads two operands with NumPy
// broadcasting (arithmetic, atan2, comparisons, logic on masks), and its unary
// form: plain loops over contiguous memory, no xtensor expression machinery.
#pragma once

#include <cstddef>

#include <xtensor/xbroadcast.hpp>

#include "../op.hpp"

namespace autodiff::detail {

// x broadcast to shape: x itself when it already has that shape, else a copy made in storage.
template <class C>
const C& broadcast_array(const C& x, const Shape& shape, C& storage) {
  if (same_shape(x.shape(), shape)) return x;
  storage = xt::broadcast(x, shape);
  return storage;
}

// f(x) value by value into a new array of type Out (Array<T>, or Mask for a comparison).
template <class Out, class C, class F>
Out map(const C& x, F f) {
  Out y = Out::from_shape(x.shape());
  const auto* px = x.data();
  auto* py = y.data();
  for (std::size_t i = 0, n = y.size(); i < n; ++i) py[i] = f(px[i]);
  return y;
}

// f(a, b) value by value into a new array of type Out (Array<T>, or Mask) of
// `shape`, the broadcast shape of a and b (checked by the caller). Same shapes
// and one-element operands take a plain loop without a copy; other shapes are
// broadcast to the result's shape first (xtensor's vectorised assignment of a
// bool broadcast expression is wrong in SSE2 builds: see where() in elementwise.cpp).
template <class Out, class CA, class CB, class F>
Out broadcast_map(const Shape& shape, const CA& a, const CB& b, F f) {
  Out y = Out::from_shape(shape);
  auto* py = y.data();
  const std::size_t n = y.size();
  if (same_shape(a.shape(), b.shape())) {
    const auto *pa = a.data(), *pb = b.data();
    for (std::size_t i = 0; i < n; ++i) py[i] = f(pa[i], pb[i]);
  } else if (b.size() == 1 && same_shape(a.shape(), shape)) {
    const auto* pa = a.data();
    const auto s = b.data()[0];
    for (std::size_t i = 0; i < n; ++i) py[i] = f(pa[i], s);
  } else if (a.size() == 1 && same_shape(b.shape(), shape)) {
    const auto* pb = b.data();
    const auto s = a.data()[0];
    for (std::size_t i = 0; i < n; ++i) py[i] = f(s, pb[i]);
  } else {
    CA a_storage;
    CB b_storage;
    const auto* pa = broadcast_array(a, shape, a_storage).data();
    const auto* pb = broadcast_array(b, shape, b_storage).data();
    for (std::size_t i = 0; i < n; ++i) py[i] = f(pa[i], pb[i]);
  }
  return y;
}

// The same, the broadcast shape computed here: a ShapeError naming op unless a and b broadcast together.
template <class Out, class CA, class CB, class F>
Out broadcast_map(const OpInfo& op, const CA& a, const CB& b, F f) {
  if (same_shape(a.shape(), b.shape())) return broadcast_map<Out>(a.shape(), a, b, f);
  return broadcast_map<Out>(broadcast_shape(op, a.shape(), b.shape()), a, b, f);
}

}  // namespace autodiff::detail
