// Activations: value, then backward closure (g = dC/d out, y = out).
#include "activation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "detail/broadcast.hpp"
#include "detail/kernels.hpp"
#include "detail/vector_math.hpp"
#include "compare.hpp"
#include "elementwise.hpp"
#include "math.hpp"
#include "op.hpp"
#include "reduction.hpp"

namespace autodiff {

template <class T>
Variable<T> sigmoid(const Variable<T>& x) {
  static const OpInfo op{"sigmoid", "dx = g y (1 - y)"};
  Array<T> y = Array<T>::from_shape(x.shape());
  detail::sigmoid_of(x.value().data(), y.data(), y.size());  // 1 / (1 + e^-x), vectorised
  return record<T>(op, std::move(y), {x}, [](Backward<T>& d) { d.add_grad(0, sigmoid_backward(d.g, d.output())); });
}

// sigmoid's vector-Jacobian product as an op of its own: one pass over memory
// instead of three, and a derivative of its own, so sigmoid has a second one.
template <class T>
Variable<T> sigmoid_backward(const Variable<T>& g, const Variable<T>& y) {
  static const OpInfo op{"sigmoid_backward", "dg = gg y (1 - y), dy = gg g (1 - 2 y)"};
  broadcast_shape(op, g.shape(), y.shape());  // a ShapeError naming the op unless they broadcast
  const auto& yv = y.value();
  return record<T>(op, g.value() * yv * (T(1) - yv), {g, y}, [](Backward<T>& d) {
    const Variable<T> y = d.input(1);
    if (d.needs_grad(0)) d.add_grad(0, sigmoid_backward(d.g, y));
    if (d.needs_grad(1)) d.add_grad(1, d.g * d.input(0) * (T(1) - T(2) * y));
  });
}

template <class T>
Variable<T> tanh(const Variable<T>& x) {
  static const OpInfo op{"tanh", "dx = g (1 - y^2)"};
  return record<T>(op, xt::tanh(x.value()), {x}, [](Backward<T>& d) { d.add_grad(0, tanh_backward(d.g, d.output())); });
}

// tanh's vector-Jacobian product as an op of its own (see sigmoid_backward).
template <class T>
Variable<T> tanh_backward(const Variable<T>& g, const Variable<T>& y) {
  static const OpInfo op{"tanh_backward", "dg = gg (1 - y^2), dy = -2 gg g y"};
  broadcast_shape(op, g.shape(), y.shape());  // a ShapeError naming the op unless they broadcast
  const auto& yv = y.value();
  return record<T>(op, g.value() * (T(1) - yv * yv), {g, y}, [](Backward<T>& d) {
    const Variable<T> y = d.input(1);
    if (d.needs_grad(0)) d.add_grad(0, tanh_backward(d.g, y));
    if (d.needs_grad(1)) d.add_grad(1, T(-2) * d.g * d.input(0) * y);
  });
}

template <class T>
Variable<T> relu(const Variable<T>& x) {
  static const OpInfo op{"relu", "dx = g [x > 0]"};
  // max(x, 0) as std::max spells it, (x < 0) ? 0 : x: NaN stays NaN. A plain
  // loop, vectorised by the compiler: 2.7x faster than xtensor's where() (ops_bench BM_Relu).
  Array<T> y = Array<T>::from_shape(x.shape());
  const T* in = x.value().data();
  std::transform(in, in + y.size(), y.data(), [](T v) { return std::max(v, T(0)); });
  return record<T>(op, std::move(y), {x}, [](Backward<T>& d) { d.add_grad(0, relu_backward(d.g, d.input(0))); });
}

// relu's and leaky_relu's vector-Jacobian product g [x > 0] + alpha g [x <= 0] as an
// op of its own: one vectorised pass. It is linear in g and constant in x, so
// relu'' = 0 everywhere (at 0 too; relu'(0) = 0, leaky_relu'(0) = alpha, as PyTorch).
template <class T>
Variable<T> relu_backward(const Variable<T>& g, const Variable<T>& x, T alpha) {
  static const OpInfo op{"relu_backward", "dg = relu_backward(gg, x), dx = 0", "alpha"};
  if (!detail::same_shape(g.shape(), x.shape()))
    throw ShapeError("relu_backward: gradient of shape " + to_string(g.shape()) + " for x of shape " +
                     to_string(x.shape()));
  Array<T> y = Array<T>::from_shape(x.shape());
  const T *pg = g.value().data(), *px = x.value().data();
  T* py = y.data();
  // Both forms vectorise (a select, a multiply); `x > 0 ? g : alpha g` would not: g++ keeps
  // the conditional multiply as a branch per value (it might trap). relu passes 0, not 0 * g,
  // so an infinite g where x <= 0 still gives 0, as PyTorch.
  const std::size_t n = y.size();
  if (alpha == T(0))
    for (std::size_t i = 0; i < n; ++i) py[i] = px[i] > T(0) ? pg[i] : T(0);
  else
    for (std::size_t i = 0; i < n; ++i) py[i] = (px[i] > T(0) ? T(1) : alpha) * pg[i];
  return record<T>(op, std::move(y), {g, x}, [alpha](Backward<T>& d) {
    if (d.needs_grad(0)) d.add_grad(0, relu_backward(d.g, d.input(1), alpha));
  }, {alpha});
}

template <class T>
Variable<T> leaky_relu(const Variable<T>& x, T alpha) {
  static const OpInfo op{"leaky_relu", "dx = g if x > 0 else alpha g", "alpha"};
  return record<T>(op, xt::where(x.value() > T(0), x.value(), alpha * x.value()), {x},
                   [alpha](Backward<T>& d) { d.add_grad(0, relu_backward(d.g, d.input(0), alpha)); }, {alpha});
}

template <class T>
Variable<T> elu(const Variable<T>& x, T alpha) {
  static const OpInfo op{"elu", "dx = g if x > 0 else g (y + alpha)", "alpha"};
  // expm1 keeps precision for small |x|
  return record<T>(op, xt::where(x.value() > T(0), x.value(), alpha * xt::expm1(x.value())), {x},
                   [alpha](Backward<T>& d) {
                     // y + alpha = alpha e^x for x <= 0, a function of x: elu has a second derivative there
                     d.add_grad(0, autodiff::where(xt::xarray<bool>(d.input(0).value() > T(0)), d.g,
                                                   d.g * (d.output() + alpha)));
                   }, {alpha});
}

template <class T>
Variable<T> heaviside(const Variable<T>& x) {
  static const OpInfo op{"heaviside", "dx = 0 (a step has no useful derivative)"};
  return record<T>(op, xt::where(x.value() > T(0), T(1), T(0)), {x}, [](Backward<T>& d) {
    d.add_grad(0, Variable<T>(Array<T>(xt::zeros<T>(d.g.shape()))));
  });
}

template <class T>
Variable<T> softmax(const Variable<T>& x, long axis) {
  static const OpInfo op{"softmax", "dx = y (g - sum(g y, axis))"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  return record<T>(op, detail::softmax_of(x.value(), ax), {x}, [ax](Backward<T>& d) {
    const Variable<T> y = d.output();
    const Variable<T> gy = d.g * y;
    d.add_grad(0, gy - y * sum(gy, long(ax), true));
  });
}

template <class T>
Variable<T> log_softmax(const Variable<T>& x, long axis) {
  static const OpInfo op{"log_softmax", "dx = g - e^y sum(g, axis)"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  return record<T>(op, detail::log_softmax_of(x.value(), ax), {x}, [ax](Backward<T>& d) {
    d.add_grad(0, log_softmax_backward(d.g, d.output(), long(ax)));
  });
}

// log_softmax's vector-Jacobian product g - e^y sum(g) as an op of its own: one
// row pass (it is in every cross-entropy's backward), and a derivative of its own.
template <class T>
Variable<T> log_softmax_backward(const Variable<T>& g, const Variable<T>& y, long axis) {
  static const OpInfo op{"log_softmax_backward", "dg = gg - sum(gg e^y, axis), dy = -gg e^y sum(g, axis)"};
  if (!detail::same_shape(g.shape(), y.shape()))  // the row loop reads g with y's shape
    throw ShapeError("log_softmax_backward: gradient of shape " + to_string(g.shape()) + " for y of shape " +
                     to_string(y.shape()));
  const std::size_t ax = normalize_axis(op, axis, y.dimension());
  return record<T>(op, detail::log_softmax_vjp(g.value(), y.value(), ax), {g, y}, [ax](Backward<T>& d) {
    const long axis = long(ax);
    const Variable<T> softmax = exp(d.input(1));  // e^y
    if (d.needs_grad(0)) d.add_grad(0, d.g - sum(d.g * softmax, axis, true));
    if (d.needs_grad(1)) d.add_grad(1, -d.g * softmax * sum(d.input(0), axis, true));
  });
}

template <class T>
Variable<T> softplus(const Variable<T>& x, Scalar<T> beta, Scalar<T> threshold) {
  static const OpInfo op{"softplus", "dx = g sigmoid(beta x), or g where beta x > threshold", "beta, threshold"};
  if (beta == T(0) || !std::isfinite(beta) || std::isnan(threshold))
    throw std::invalid_argument("softplus: beta must be finite and nonzero and threshold not NaN (beta " +
                                detail::number(beta) + ", threshold " + detail::number(threshold) + ")");
  Array<T> y = Array<T>::from_shape(x.shape());
  const T* px = x.value().data();
  for (std::size_t i = 0, n = y.size(); i < n; ++i) {
    const T z = px[i] * beta;
    // log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): e^-|z| <= 1 never overflows, and
    // for z << 0 log1p keeps e^z's full precision
    y.data()[i] = z > threshold ? px[i] : (std::max(z, T(0)) + std::log1p(std::exp(-std::abs(z)))) / beta;
  }
  return record<T>(op, std::move(y), {x}, [beta, threshold](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    Mask above = Mask::from_shape(x.shape());
    bool any_above = false;
    for (std::size_t i = 0; i < above.size(); ++i)
      any_above = (above.data()[i] = x.value().data()[i] * beta > threshold) || any_above;
    const Variable<T> below = d.g * sigmoid(beta == T(1) ? x : x * beta);
    d.add_grad(0, any_above ? autodiff::where(above, d.g, below) : below);
  }, {beta, threshold});
}

namespace {
constexpr long double one_over_sqrt_2pi = 0.398942280401432677939946059934381868L;
constexpr long double sqrt_2_over_pi = 0.797884560802865355879892119868763737L;
constexpr double gelu_tanh_c = 0.044715;

// x Phi(x) = x erfc(-x / sqrt 2) / 2. erfc's argument carries the rounding of
// x / sqrt 2, which its steep left tail multiplies by 2 z^2 (100 units at x = -10):
// float is computed in double, and double adds the first-order correction for
// z = zh + zl, erfc(z) = erfc(zh) - 2/sqrt(pi) e^(-zh^2) zl, with zl from an fma.
template <class T>
T gelu_exact_value(T x) {
  if (std::isinf(x)) return x > 0 ? x : -T(0);
  if constexpr (std::is_same_v<T, float>) {
    const double xd = x;
    return float(0.5 * xd * std::erfc(xd * -0.70710678118654752440));
  } else {
    constexpr double c_hi = 0.70710678118654752440, c_lo = -4.8336466567264565186e-17;  // 1/sqrt 2 = c_hi + c_lo
    const double zh = -x * c_hi;
    const double zl = std::fma(-x, c_hi, -zh) - x * c_lo;
    const double e = std::erfc(zh) - double(detail::two_over_sqrt_pi) * std::exp(-zh * zh) * zl;
    return T(0.5) * x * e;
  }
}
// x (1 + tanh u) / 2 = x sigmoid(2 u), u = sqrt(2/pi) (x + 0.044715 x^3): no
// cancellation of 1 + tanh u for x << 0, and e^(-2u) overflows to inf, giving -0.
template <class T>
T gelu_tanh_value(T x) {
  if (std::isinf(x)) return x > 0 ? x : -T(0);
  const T two_u = T(2 * sqrt_2_over_pi) * x * (T(1) + T(gelu_tanh_c) * x * x);
  return x / (T(1) + std::exp(-two_u));
}

// An activation's derivative formula(x) (without g), with its limits `below`
// at -inf and `above` at +inf taken for |x| > cutoff, where the formula equals
// them to rounding: there it would make inf * 0 = NaN (x s (1 - s) at x = inf,
// or x^3 overflowing at large finite x). The x seen by the formula is replaced
// by 0 there, so that no inf or NaN enters even the derivative of the formula.
template <class T, class Formula>
Variable<T> with_limits(const Variable<T>& x, T cutoff, T below, T above, Formula formula) {
  const Array<T>& v = x.value();
  const Mask outside = detail::map<Mask>(v, [cutoff](T a) { return std::abs(a) > cutoff; });
  if (std::none_of(outside.begin(), outside.end(), [](bool b) { return b; })) return formula(x);
  const Mask high = detail::map<Mask>(v, [cutoff](T a) { return a > cutoff; });
  const Mask low = detail::map<Mask>(v, [cutoff](T a) { return a < -cutoff; });
  return autodiff::where(high, above, autodiff::where(low, below, formula(autodiff::where(outside, T(0), x))));
}

// y = finish(x, e^(sign x)) value by value, the exponential vectorised over the whole buffer.
template <class T, class Finish>
Array<T> with_exp(const Array<T>& x, T sign, Finish finish) {
  const std::size_t n = x.size();
  const T* px = x.data();
  Array<T> y = Array<T>::from_shape(x.shape());
  T* py = y.data();
  for (std::size_t i = 0; i < n; ++i) py[i] = sign * px[i];
  detail::exp_of(py, py, n);
  for (std::size_t i = 0; i < n; ++i) py[i] = finish(px[i], py[i]);
  return y;
}
}  // namespace

template <class T>
Variable<T> gelu(const Variable<T>& x, Gelu approximate) {
  if (approximate == Gelu::tanh) {
    static const OpInfo op{"gelu_tanh", "dx = g (s + x s (1 - s) w'), s = sigmoid(w), w = 2 sqrt(2/pi) (x + 0.044715 x^3)"};
    Array<T> y = Array<T>::from_shape(x.shape());
    std::transform(x.value().begin(), x.value().end(), y.begin(), [](T v) { return gelu_tanh_value(v); });
    return record<T>(op, std::move(y), {x}, [](Backward<T>& d) {
      // beyond |x| = 100, w is beyond 70000: s is 0 or 1 exactly, and the derivative 0 or 1
      d.add_grad(0, d.g * with_limits(d.input(0), T(100), T(0), T(1), [](const Variable<T>& x) {
        const Variable<T> x2 = square(x);
        const Variable<T> s = sigmoid(x * (x2 * T(gelu_tanh_c) + T(1)) * T(2 * sqrt_2_over_pi));
        const Variable<T> dw = x2 * T(6 * gelu_tanh_c * sqrt_2_over_pi) + T(2 * sqrt_2_over_pi);  // w'
        return s + sigmoid_backward(x * dw, s);  // s + x w' s (1 - s)
      }));
    });
  }
  if (approximate != Gelu::exact)
    throw std::invalid_argument("gelu: approximate must be Gelu::exact or Gelu::tanh (got " +
                                std::to_string(static_cast<int>(approximate)) + ")");
  static const OpInfo op{"gelu", "dx = g (Phi(x) + x e^(-x^2/2) / sqrt(2 pi))"};
  Array<T> y = Array<T>::from_shape(x.shape());
  std::transform(x.value().begin(), x.value().end(), y.begin(), [](T v) { return gelu_exact_value(v); });
  return record<T>(op, std::move(y), {x}, [](Backward<T>& d) {
    // beyond |x| = 50, Phi is 0 or 1 and x e^(-x^2/2) is 0 exactly (inf * 0 at x = inf)
    d.add_grad(0, d.g * with_limits(d.input(0), T(50), T(0), T(1), [](const Variable<T>& x) {
      const Variable<T> phi = erfc(x * T(-0.70710678118654752440L)) * T(0.5);
      return phi + x * exp(square(x) * T(-0.5)) * T(one_over_sqrt_2pi);
    }));
  });
}

template <class T>
Variable<T> silu(const Variable<T>& x) {
  static const OpInfo op{"silu", "dx = g s (1 + x (1 - s)), s = sigmoid(x)"};
  // x / (1 + e^-x): one rounding fewer than x sigmoid(x); -inf / inf would be NaN (the limit is -0)
  Array<T> y = with_exp(x.value(), T(-1), [](T v, T e) {
    return v == -std::numeric_limits<T>::infinity() ? -T(0) : v / (T(1) + e);
  });
  return record<T>(op, std::move(y), {x}, [](Backward<T>& d) {
    // beyond |x| = 1000, s is 0 or 1 exactly (e^-1000 underflows), and so is the derivative
    d.add_grad(0, d.g * with_limits(d.input(0), T(1000), T(0), T(1), [](const Variable<T>& x) {
      const Variable<T> s = sigmoid(x);
      return s + sigmoid_backward(x, s);  // s + x s (1 - s)
    }));
  });
}

template <class T>
Variable<T> mish(const Variable<T>& x) {
  static const OpInfo op{"mish", "dx = g (t + x sigmoid(x) (1 - t^2)), t = tanh(softplus(x))"};
  // tanh(log(1 + e)) = n / (n + 2) with n = e (e + 2): one exponential, and no
  // cancellation for x << 0 (mish(-40) keeps its precision). Beyond x = 20 it is 1 to rounding.
  Array<T> y = with_exp(x.value(), T(1), [](T v, T e) {
    const T m = e * (e + T(2));
    return v > T(20) ? v : v == -std::numeric_limits<T>::infinity() ? -T(0) : v * m / (m + T(2));
  });
  return record<T>(op, std::move(y), {x}, [](Backward<T>& d) {
    // beyond |x| = 1000, t is 1 (x > 0) or e^x = 0, and the derivative 1 or 0 exactly
    d.add_grad(0, d.g * with_limits(d.input(0), T(1000), T(0), T(1), [](const Variable<T>& x) {
      const Variable<T> t = tanh(softplus(x));
      return t + tanh_backward(x * sigmoid(x), t);  // t + x sigmoid(x) (1 - t^2)
    }));
  });
}

template <class T>
Variable<T> hardtanh(const Variable<T>& x, Scalar<T> min_val, Scalar<T> max_val) {
  static const OpInfo op{"hardtanh", "dx = g if min_val < x < max_val else 0", "min_val, max_val"};
  if (!(min_val <= max_val))  // also NaN
    throw std::invalid_argument("hardtanh: min_val must not exceed max_val, nor either be NaN (min_val " +
                                detail::number(min_val) + ", max_val " + detail::number(max_val) + ")");
  const T lo = min_val, hi = max_val;
  Array<T> y = Array<T>::from_shape(x.shape());
  std::transform(x.value().begin(), x.value().end(), y.begin(),
                 [lo, hi](T v) { return v != v ? v : std::min(std::max(v, lo), hi); });  // NaN stays NaN
  return record<T>(op, std::move(y), {x}, [lo, hi](Backward<T>& d) {
    const Array<T>& x = d.input(0).value();
    Mask inside = Mask::from_shape(x.shape());
    for (std::size_t i = 0; i < inside.size(); ++i) inside.data()[i] = x.data()[i] > lo && x.data()[i] < hi;
    d.add_grad(0, autodiff::where(inside, d.g, T(0)));
  }, {lo, hi});
}

#define WENGERT_INSTANTIATE(T)                                  \
  template Variable<T> sigmoid(const Variable<T>&);             \
  template Variable<T> tanh(const Variable<T>&);                \
  template Variable<T> sigmoid_backward(const Variable<T>&, const Variable<T>&); \
  template Variable<T> tanh_backward(const Variable<T>&, const Variable<T>&); \
  template Variable<T> relu_backward(const Variable<T>&, const Variable<T>&, T); \
  template Variable<T> log_softmax_backward(const Variable<T>&, const Variable<T>&, long); \
  template Variable<T> relu(const Variable<T>&);                \
  template Variable<T> leaky_relu(const Variable<T>&, T);       \
  template Variable<T> elu(const Variable<T>&, T);              \
  template Variable<T> heaviside(const Variable<T>&);           \
  template Variable<T> softmax(const Variable<T>&, long);       \
  template Variable<T> log_softmax(const Variable<T>&, long);   \
  template Variable<T> softplus(const Variable<T>&, Scalar<T>, Scalar<T>); \
  template Variable<T> gelu(const Variable<T>&, Gelu);          \
  template Variable<T> silu(const Variable<T>&);                \
  template Variable<T> mish(const Variable<T>&);                \
  template Variable<T> hardtanh(const Variable<T>&, Scalar<T>, Scalar<T>);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
