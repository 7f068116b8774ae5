// Comparisons and logic on masks: plain loops, values only (nothing is recorded).
#include "compare.hpp"

#include <functional>

#include <xtensor/xbroadcast.hpp>

#include "op.hpp"

namespace autodiff {

namespace {

// f(a, b) value by value into a mask, a and b broadcast together. Same shapes
// and one-element operands take a plain loop; other shapes are broadcast to
// the result's shape first (xtensor's vectorised bool assignment from a
// broadcast expression is wrong in SSE2 builds: see where() in elementwise.cpp).
template <class CA, class CB, class F>
Mask broadcast_map(const OpInfo& op, const CA& a, const CB& b, F f) {
  using A = typename CA::value_type;
  using B = typename CB::value_type;
  const Shape shape = broadcast_shape(op, a.shape(), b.shape());
  Mask y = Mask::from_shape(shape);
  bool* py = y.data();
  const std::size_t n = y.size();
  if (detail::same_shape(a.shape(), b.shape())) {
    for (std::size_t i = 0; i < n; ++i) py[i] = f(a.data()[i], b.data()[i]);
  } else if (b.size() == 1 && detail::same_shape(a.shape(), shape)) {
    const B s = b.data()[0];
    for (std::size_t i = 0; i < n; ++i) py[i] = f(a.data()[i], s);
  } else if (a.size() == 1 && detail::same_shape(b.shape(), shape)) {
    const A s = a.data()[0];
    for (std::size_t i = 0; i < n; ++i) py[i] = f(s, b.data()[i]);
  } else {
    const CA af = xt::broadcast(a, shape);
    const CB bf = xt::broadcast(b, shape);
    for (std::size_t i = 0; i < n; ++i) py[i] = f(af.data()[i], bf.data()[i]);
  }
  return y;
}

template <class T, class F>
Mask scalar_map(const Array<T>& a, T s, F f) {
  Mask y = Mask::from_shape(a.shape());
  bool* py = y.data();
  const T* pa = a.data();
  for (std::size_t i = 0, n = y.size(); i < n; ++i) py[i] = f(pa[i], s);
  return y;
}

}  // namespace

#define WENGERT_COMPARISON(name, functor)                                        \
  template <class T>                                                             \
  Mask name(const Variable<T>& a, const Variable<T>& b) {                        \
    static const OpInfo op{#name, "no gradient (a mask)"};                       \
    return broadcast_map(op, a.value(), b.value(), functor<T>());                \
  }                                                                              \
  template <class T>                                                             \
  Mask name(const Variable<T>& a, Scalar<T> b) {                                 \
    return scalar_map(a.value(), T(b), functor<T>());                            \
  }
WENGERT_COMPARISON(greater, std::greater)
WENGERT_COMPARISON(greater_equal, std::greater_equal)
WENGERT_COMPARISON(less, std::less)
WENGERT_COMPARISON(less_equal, std::less_equal)
WENGERT_COMPARISON(equal, std::equal_to)
WENGERT_COMPARISON(not_equal, std::not_equal_to)
#undef WENGERT_COMPARISON

Mask logical_and(const Mask& a, const Mask& b) {
  static const OpInfo op{"logical_and", "no gradient (a mask)"};
  return broadcast_map(op, a, b, [](bool x, bool y) { return x && y; });
}

Mask logical_or(const Mask& a, const Mask& b) {
  static const OpInfo op{"logical_or", "no gradient (a mask)"};
  return broadcast_map(op, a, b, [](bool x, bool y) { return x || y; });
}

Mask logical_xor(const Mask& a, const Mask& b) {
  static const OpInfo op{"logical_xor", "no gradient (a mask)"};
  return broadcast_map(op, a, b, [](bool x, bool y) { return x != y; });
}

Mask logical_not(const Mask& a) {
  Mask y = Mask::from_shape(a.shape());
  for (std::size_t i = 0, n = y.size(); i < n; ++i) y.data()[i] = !a.data()[i];
  return y;
}

#define WENGERT_INSTANTIATE(T)                                        \
  template Mask greater(const Variable<T>&, const Variable<T>&);       \
  template Mask greater_equal(const Variable<T>&, const Variable<T>&); \
  template Mask less(const Variable<T>&, const Variable<T>&);          \
  template Mask less_equal(const Variable<T>&, const Variable<T>&);    \
  template Mask equal(const Variable<T>&, const Variable<T>&);         \
  template Mask not_equal(const Variable<T>&, const Variable<T>&);     \
  template Mask greater(const Variable<T>&, Scalar<T>);                \
  template Mask greater_equal(const Variable<T>&, Scalar<T>);          \
  template Mask less(const Variable<T>&, Scalar<T>);                   \
  template Mask less_equal(const Variable<T>&, Scalar<T>);             \
  template Mask equal(const Variable<T>&, Scalar<T>);                  \
  template Mask not_equal(const Variable<T>&, Scalar<T>);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
