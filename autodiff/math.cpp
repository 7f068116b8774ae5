// Each op: its value, then its backward closure (g = dC/d out), side by side.
#include "math.hpp"

#include <cmath>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>

#include "op.hpp"

namespace autodiff {

namespace {
// f(x) value by value, in a plain loop over contiguous memory (the C library's
// functions, not xsimd's: those lose accuracy for large arguments).
template <class T, class F>
Array<T> map(const Array<T>& x, F f) {
  Array<T> y = Array<T>::from_shape(x.shape());
  const T* px = x.data();
  T* py = y.data();
  for (std::size_t i = 0, n = y.size(); i < n; ++i) py[i] = f(px[i]);
  return y;
}
// f(a, b) value by value, a and b broadcast together (same shapes and scalars without a copy).
template <class T, class F>
Array<T> map2(const OpInfo& op, const Array<T>& a, const Array<T>& b, F f) {
  const Shape shape = broadcast_shape(op, a.shape(), b.shape());
  Array<T> y = Array<T>::from_shape(shape);
  T* py = y.data();
  const std::size_t n = y.size();
  if (detail::same_shape(a.shape(), b.shape())) {
    for (std::size_t i = 0; i < n; ++i) py[i] = f(a.data()[i], b.data()[i]);
  } else if (b.size() == 1 && detail::same_shape(a.shape(), shape)) {
    const T s = b.data()[0];
    for (std::size_t i = 0; i < n; ++i) py[i] = f(a.data()[i], s);
  } else if (a.size() == 1 && detail::same_shape(b.shape(), shape)) {
    const T s = a.data()[0];
    for (std::size_t i = 0; i < n; ++i) py[i] = f(s, b.data()[i]);
  } else {
    const Array<T> af = xt::broadcast(a, shape), bf = xt::broadcast(b, shape);
    for (std::size_t i = 0; i < n; ++i) py[i] = f(af.data()[i], bf.data()[i]);
  }
  return y;
}
template <class T>
Variable<T> zeros_like(const Variable<T>& g) {
  return Variable<T>(Array<T>(xt::zeros<T>(g.shape())));
}
}  // namespace

template <class T>
Variable<T> sin(const Variable<T>& x) {
  static const OpInfo op{"sin", "dx = g cos x"};
  return record<T>(op, map(x.value(), [](T v) { return std::sin(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g * cos(d.input(0))); });
}

template <class T>
Variable<T> cos(const Variable<T>& x) {
  static const OpInfo op{"cos", "dx = -g sin x"};
  return record<T>(op, map(x.value(), [](T v) { return std::cos(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, -d.g * sin(d.input(0))); });
}

template <class T>
Variable<T> tan(const Variable<T>& x) {
  static const OpInfo op{"tan", "dx = g (1 + out^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::tan(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g * (square(d.output()) + T(1))); });
}

template <class T>
Variable<T> asin(const Variable<T>& x) {
  static const OpInfo op{"asin", "dx = g / sqrt(1 - x^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::asin(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g / sqrt(T(1) - square(d.input(0)))); });
}

template <class T>
Variable<T> acos(const Variable<T>& x) {
  static const OpInfo op{"acos", "dx = -g / sqrt(1 - x^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::acos(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, -d.g / sqrt(T(1) - square(d.input(0)))); });
}

template <class T>
Variable<T> atan(const Variable<T>& x) {
  static const OpInfo op{"atan", "dx = g / (1 + x^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::atan(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g / (square(d.input(0)) + T(1))); });
}

template <class T>
Variable<T> atan2(const Variable<T>& y, const Variable<T>& x) {
  static const OpInfo op{"atan2", "dy = g x / (x^2 + y^2), dx = -g y / (x^2 + y^2)"};
  Array<T> value = map2(op, y.value(), x.value(), [](T a, T b) { return std::atan2(a, b); });  // checks the shapes
  return record<T>(op, std::move(value), {y, x}, [](Backward<T>& d) {
    const Variable<T> y = d.input(0), x = d.input(1);
    const Variable<T> g_over_r2 = d.g / (square(x) + square(y));  // of the broadcast shape: add_grad sums it back
    if (d.needs_grad(0)) d.add_grad(0, g_over_r2 * x);
    if (d.needs_grad(1)) d.add_grad(1, -g_over_r2 * y);
  });
}

template <class T>
Variable<T> atan2(const Variable<T>& y, Scalar<T> x) {
  static const OpInfo op{"atan2_scalar_x", "dy = g x / (x^2 + y^2)"};
  const T c = x;
  return record<T>(op, map(y.value(), [c](T v) { return std::atan2(v, c); }), {y},
                   [c](Backward<T>& d) { d.add_grad(0, d.g * c / (square(d.input(0)) + c * c)); });
}

template <class T>
Variable<T> atan2(Scalar<T> y, const Variable<T>& x) {
  static const OpInfo op{"atan2_scalar_y", "dx = -g y / (x^2 + y^2)"};
  const T c = y;
  return record<T>(op, map(x.value(), [c](T v) { return std::atan2(c, v); }), {x},
                   [c](Backward<T>& d) { d.add_grad(0, d.g * -c / (square(d.input(0)) + c * c)); });
}

template <class T>
Variable<T> sinh(const Variable<T>& x) {
  static const OpInfo op{"sinh", "dx = g cosh x"};
  return record<T>(op, map(x.value(), [](T v) { return std::sinh(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g * cosh(d.input(0))); });
}

template <class T>
Variable<T> cosh(const Variable<T>& x) {
  static const OpInfo op{"cosh", "dx = g sinh x"};
  return record<T>(op, map(x.value(), [](T v) { return std::cosh(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g * sinh(d.input(0))); });
}

template <class T>
Variable<T> asinh(const Variable<T>& x) {
  static const OpInfo op{"asinh", "dx = g / sqrt(1 + x^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::asinh(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g / sqrt(square(d.input(0)) + T(1))); });
}

template <class T>
Variable<T> acosh(const Variable<T>& x) {
  static const OpInfo op{"acosh", "dx = g / sqrt(x^2 - 1)"};
  return record<T>(op, map(x.value(), [](T v) { return std::acosh(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g / sqrt(square(d.input(0)) - T(1))); });
}

template <class T>
Variable<T> atanh(const Variable<T>& x) {
  static const OpInfo op{"atanh", "dx = g / (1 - x^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::atanh(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g / (T(1) - square(d.input(0)))); });
}

template <class T>
Variable<T> log1p(const Variable<T>& x) {
  static const OpInfo op{"log1p", "dx = g / (1 + x)"};
  return record<T>(op, map(x.value(), [](T v) { return std::log1p(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g / (d.input(0) + T(1))); });
}

template <class T>
Variable<T> expm1(const Variable<T>& x) {
  static const OpInfo op{"expm1", "dx = g (out + 1)"};
  return record<T>(op, map(x.value(), [](T v) { return std::expm1(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g * (d.output() + T(1))); });
}

template <class T>
Variable<T> log2(const Variable<T>& x) {
  static const OpInfo op{"log2", "dx = g / (x ln 2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::log2(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g / (d.input(0) * T(0.693147180559945309417232121458176568L))); });
}

template <class T>
Variable<T> log10(const Variable<T>& x) {
  static const OpInfo op{"log10", "dx = g / (x ln 10)"};
  return record<T>(op, map(x.value(), [](T v) { return std::log10(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g / (d.input(0) * T(2.30258509299404568401799145468436421L))); });
}

namespace {
constexpr long double two_over_sqrt_pi = 1.12837916709551257389615890312154517L;
}

template <class T>
Variable<T> erf(const Variable<T>& x) {
  static const OpInfo op{"erf", "dx = g 2/sqrt(pi) e^(-x^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::erf(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g * exp(-square(d.input(0))) * T(two_over_sqrt_pi)); });
}

template <class T>
Variable<T> erfc(const Variable<T>& x) {
  static const OpInfo op{"erfc", "dx = -g 2/sqrt(pi) e^(-x^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::erfc(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g * exp(-square(d.input(0))) * T(-two_over_sqrt_pi)); });
}

template <class T>
Variable<T> sign(const Variable<T>& x) {
  static const OpInfo op{"sign", "dx = 0 (a step has no useful derivative)"};
  return record<T>(op, map(x.value(), [](T v) { return v > T(0) ? T(1) : v < T(0) ? T(-1) : v == T(0) ? T(0) : v; }),
                   {x}, [](Backward<T>& d) { d.add_grad(0, zeros_like(d.g)); });
}

template <class T>
Variable<T> reciprocal(const Variable<T>& x) {
  static const OpInfo op{"reciprocal", "dx = -g out^2"};
  return record<T>(op, map(x.value(), [](T v) { return T(1) / v; }), {x},
                   [](Backward<T>& d) { d.add_grad(0, -d.g * square(d.output())); });
}

#define WENGERT_INSTANTIATE(T)                                            \
  template Variable<T> sin(const Variable<T>&);                           \
  template Variable<T> cos(const Variable<T>&);                           \
  template Variable<T> tan(const Variable<T>&);                           \
  template Variable<T> asin(const Variable<T>&);                          \
  template Variable<T> acos(const Variable<T>&);                          \
  template Variable<T> atan(const Variable<T>&);                          \
  template Variable<T> atan2(const Variable<T>&, const Variable<T>&);     \
  template Variable<T> atan2(const Variable<T>&, Scalar<T>);              \
  template Variable<T> atan2(Scalar<T>, const Variable<T>&);              \
  template Variable<T> sinh(const Variable<T>&);                          \
  template Variable<T> cosh(const Variable<T>&);                          \
  template Variable<T> asinh(const Variable<T>&);                         \
  template Variable<T> acosh(const Variable<T>&);                         \
  template Variable<T> atanh(const Variable<T>&);                         \
  template Variable<T> log1p(const Variable<T>&);                         \
  template Variable<T> expm1(const Variable<T>&);                         \
  template Variable<T> log2(const Variable<T>&);                          \
  template Variable<T> log10(const Variable<T>&);                         \
  template Variable<T> erf(const Variable<T>&);                           \
  template Variable<T> erfc(const Variable<T>&);                          \
  template Variable<T> sign(const Variable<T>&);                          \
  template Variable<T> reciprocal(const Variable<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
