// Each op: its value, then its backward closure (g = dC/d out), side by side.
#include "math.hpp"

#include <algorithm>
#include <cmath>

#include <limits>

#include <xtensor/xbuilder.hpp>

#include "compare.hpp"
#include "detail/broadcast.hpp"
#include "op.hpp"

namespace autodiff {

namespace {
// f(x) value by value, in a plain loop over contiguous memory (the C library's
// functions, not xsimd's: those lose accuracy for large arguments).
template <class T, class F>
Array<T> map(const Array<T>& x, F f) {
  return detail::map<Array<T>>(x, f);
}
// f(a, b) value by value, a and b broadcast together (same shapes and scalars without a copy).
template <class T, class F>
Array<T> map2(const OpInfo& op, const Array<T>& a, const Array<T>& b, F f) {
  return detail::broadcast_map<Array<T>>(op, a, b, f);
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
  static const OpInfo op{"asin", "dx = g / sqrt((1 - x) (1 + x))"};
  return record<T>(op, map(x.value(), [](T v) { return std::asin(v); }), {x}, [](Backward<T>& d) {
    const Variable<T> x = d.input(0);  // (1 - x)(1 + x): no cancellation of 1 - x^2 near |x| = 1
    d.add_grad(0, d.g / sqrt((T(1) - x) * (x + T(1))));
  });
}

template <class T>
Variable<T> acos(const Variable<T>& x) {
  static const OpInfo op{"acos", "dx = -g / sqrt((1 - x) (1 + x))"};
  return record<T>(op, map(x.value(), [](T v) { return std::acos(v); }), {x}, [](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    d.add_grad(0, -d.g / sqrt((T(1) - x) * (x + T(1))));
  });
}

template <class T>
Variable<T> atan(const Variable<T>& x) {
  static const OpInfo op{"atan", "dx = g / (1 + x^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::atan(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g / (square(d.input(0)) + T(1))); });
}

namespace {
// The gradient of atan2 as (g / (x^2 + y^2)) times x and -y, computed without
// overflow or underflow of the squares: where max(|x|, |y|) = s is outside
// [sqrt(min), sqrt(max) / 2], x and y are divided by s first (a constant: the
// formula is the same for any s, so its derivatives are exact too).
template <class T>
struct Atan2Grad {
  Variable<T> k, x, y;  // dy = k x, dx = -k y
};
// Whether every s = max(|x|, |y|) lets x^2 + y^2 be computed as it is.
template <class T>
bool squares_in_range(const Array<T>& s) {
  using L = std::numeric_limits<T>;
  const T lo = std::sqrt(L::min()), hi = std::sqrt(L::max()) / T(2);
  return std::all_of(s.begin(), s.end(), [lo, hi](T v) { return v >= lo && v <= hi; });
}
template <class T>
Atan2Grad<T> atan2_grad(const OpInfo& op, const Variable<T>& g, const Variable<T>& y, const Variable<T>& x) {
  Array<T> s = map2(op, y.value(), x.value(), [](T a, T b) { return std::max(std::abs(a), std::abs(b)); });
  if (squares_in_range(s)) return {g / (square(x) + square(y)), x, y};
  for (T& v : s) v = v == T(0) || !std::isfinite(v) ? T(1) : v;  // (0, 0) stays NaN, as unscaled
  const Variable<T> scale(std::move(s));
  const Variable<T> xs = x / scale, ys = y / scale;
  return {g / (square(xs) + square(ys)) / scale, xs, ys};
}
}  // namespace

template <class T>
Variable<T> atan2(const Variable<T>& y, const Variable<T>& x) {
  static const OpInfo op{"atan2", "dy = g x / (x^2 + y^2), dx = -g y / (x^2 + y^2)"};
  Array<T> value = map2(op, y.value(), x.value(), [](T a, T b) { return std::atan2(a, b); });  // checks the shapes
  return record<T>(op, std::move(value), {y, x}, [](Backward<T>& d) {
    // of the broadcast shape: add_grad sums it back
    const Atan2Grad<T> r = atan2_grad(op, d.g, d.input(0), d.input(1));
    if (d.needs_grad(0)) d.add_grad(0, r.k * r.x);
    if (d.needs_grad(1)) d.add_grad(1, -r.k * r.y);
  });
}

template <class T>
Variable<T> atan2(const Variable<T>& y, Scalar<T> x) {
  static const OpInfo op{"atan2_scalar_x", "dy = g x / (x^2 + y^2)", "x"};
  const T c = x;
  return record<T>(op, map(y.value(), [c](T v) { return std::atan2(v, c); }), {y}, [c](Backward<T>& d) {
    if (squares_in_range(map(d.input(0).value(), [c](T v) { return std::max(std::abs(v), std::abs(c)); })))
      return d.add_grad(0, d.g * c / (square(d.input(0)) + c * c));
    const Atan2Grad<T> r = atan2_grad(op, d.g, d.input(0), Variable<T>(Array<T>(c)));
    d.add_grad(0, r.k * r.x);
  }, {c});
}

template <class T>
Variable<T> atan2(Scalar<T> y, const Variable<T>& x) {
  static const OpInfo op{"atan2_scalar_y", "dx = -g y / (x^2 + y^2)", "y"};
  const T c = y;
  return record<T>(op, map(x.value(), [c](T v) { return std::atan2(c, v); }), {x}, [c](Backward<T>& d) {
    if (squares_in_range(map(d.input(0).value(), [c](T v) { return std::max(std::abs(v), std::abs(c)); })))
      return d.add_grad(0, d.g * -c / (square(d.input(0)) + c * c));
    const Atan2Grad<T> r = atan2_grad(op, d.g, Variable<T>(Array<T>(c)), d.input(0));
    d.add_grad(0, -r.k * r.y);
  }, {c});
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
  static const OpInfo op{"asinh", "dx = g / sqrt(1 + x^2), g / |x| for |x| > 2/sqrt(eps)"};
  return record<T>(op, map(x.value(), [](T v) { return std::asinh(v); }), {x}, [](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    // Beyond 2/sqrt(eps), sqrt(1 + x^2) is |x| to rounding; x^2 would overflow
    // (asinh'(1e200) = 1e-200, not 0). The x of the other branch is replaced by
    // 0 there, so that neither branch makes an inf or NaN, even in its derivative.
    const T big = T(2) / std::sqrt(std::numeric_limits<T>::epsilon());
    const Mask large = detail::map<Mask>(x.value(), [big](T v) { return std::abs(v) > big; });
    if (!std::any_of(large.begin(), large.end(), [](bool b) { return b; }))
      return d.add_grad(0, d.g / sqrt(square(x) + T(1)));
    const Variable<T> small_x = autodiff::where(large, T(0), x);
    d.add_grad(0, d.g / autodiff::where(large, abs(x), sqrt(square(small_x) + T(1))));
  });
}

template <class T>
Variable<T> acosh(const Variable<T>& x) {
  static const OpInfo op{"acosh", "dx = g / (sqrt(x - 1) sqrt(x + 1))"};
  return record<T>(op, map(x.value(), [](T v) { return std::acosh(v); }), {x}, [](Backward<T>& d) {
    // no cancellation of x^2 - 1 near 1, and no overflow of x^2 (acosh'(1e200) = 1e-200)
    const Variable<T> x = d.input(0);
    d.add_grad(0, d.g / (sqrt(x - T(1)) * sqrt(x + T(1))));
  });
}

template <class T>
Variable<T> atanh(const Variable<T>& x) {
  static const OpInfo op{"atanh", "dx = g / ((1 - x) (1 + x))"};
  return record<T>(op, map(x.value(), [](T v) { return std::atanh(v); }), {x}, [](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    d.add_grad(0, d.g / ((T(1) - x) * (x + T(1))));
  });
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

template <class T>
Variable<T> erf(const Variable<T>& x) {
  static const OpInfo op{"erf", "dx = g 2/sqrt(pi) e^(-x^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::erf(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g * exp(-square(d.input(0))) * T(detail::two_over_sqrt_pi)); });
}

template <class T>
Variable<T> erfc(const Variable<T>& x) {
  static const OpInfo op{"erfc", "dx = -g 2/sqrt(pi) e^(-x^2)"};
  return record<T>(op, map(x.value(), [](T v) { return std::erfc(v); }), {x},
                   [](Backward<T>& d) { d.add_grad(0, d.g * exp(-square(d.input(0))) * T(-detail::two_over_sqrt_pi)); });
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
