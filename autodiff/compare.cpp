// Comparisons and logic on masks: plain loops, values only (nothing is recorded).
#include "compare.hpp"

#include <functional>

#include "detail/broadcast.hpp"
#include "op.hpp"

namespace autodiff {

#define WENGERT_COMPARISON(name, functor)                                        \
  template <class T>                                                             \
  Mask name(const Variable<T>& a, const Variable<T>& b) {                        \
    static const OpInfo op{#name, "no gradient (a mask)"};                       \
    return detail::broadcast_map<Mask>(op, a.value(), b.value(), functor<T>());  \
  }                                                                              \
  template <class T>                                                             \
  Mask name(const Variable<T>& a, Scalar<T> b) {                                 \
    return detail::map<Mask>(a.value(), [s = T(b)](T v) { return functor<T>()(v, s); }); \
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
  return detail::broadcast_map<Mask>(op, a, b, [](bool x, bool y) { return x && y; });
}

Mask logical_or(const Mask& a, const Mask& b) {
  static const OpInfo op{"logical_or", "no gradient (a mask)"};
  return detail::broadcast_map<Mask>(op, a, b, [](bool x, bool y) { return x || y; });
}

Mask logical_xor(const Mask& a, const Mask& b) {
  static const OpInfo op{"logical_xor", "no gradient (a mask)"};
  return detail::broadcast_map<Mask>(op, a, b, [](bool x, bool y) { return x != y; });
}

Mask logical_not(const Mask& a) {
  return detail::map<Mask>(a, [](bool v) { return !v; });
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
