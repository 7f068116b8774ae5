// Each op: its value, then its backward closure (g = dC/d out), side by side.
#include "elementwise.hpp"

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "detail/broadcast.hpp"
#include "detail/vector_math.hpp"
#include "op.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>

namespace autodiff {

namespace {
// Throws a ShapeError naming the op unless a and b broadcast together.
template <class T>
void check_broadcast(const OpInfo& op, const Variable<T>& a, const Variable<T>& b) {
  if (!detail::same_shape(a.shape(), b.shape())) broadcast_shape(op, a.shape(), b.shape());
}
using detail::broadcast_array;
// a op b elementwise. Operands of one shape (the common case, and every
// gradient of an elementwise op) take a plain loop: xtensor's broadcasting
// machinery costs more than the arithmetic on small arrays (ops_bench BM_TinyOps).
template <class T, class Op, class Broadcast>
Array<T> elementwise(const Array<T>& a, const Array<T>& b, Op op, Broadcast broadcast) {
  // (each branch returns a prvalue: the result is built in place, never moved)
  if (!detail::same_shape(a.shape(), b.shape())) return broadcast(a, b);  // xtensor, vectorised
  return detail::broadcast_map<Array<T>>(a.shape(), a, b, op);
}
template <class T, class Op>
Array<T> elementwise(const Array<T>& a, Op op) {
  return detail::map<Array<T>>(a, op);
}
}  // namespace

template <class T>
Variable<T> add(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"add", "da = g, db = g"};
  check_broadcast(op, a, b);
  return record<T>(op, elementwise(a.value(), b.value(), std::plus<T>(), [](const auto& x, const auto& y) { return Array<T>(x + y); }), {a, b}, [](Backward<T>& d) {
    d.add_grad(0, d.g);  // summed back to a's shape if a was broadcast
    d.add_grad(1, d.g);
  });
}

template <class T>
Variable<T> sub(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"sub", "da = g, db = -g"};
  check_broadcast(op, a, b);
  return record<T>(op, elementwise(a.value(), b.value(), std::minus<T>(), [](const auto& x, const auto& y) { return Array<T>(x - y); }), {a, b}, [](Backward<T>& d) {
    d.add_grad(0, d.g);
    if (d.needs_grad(1)) d.add_grad(1, -d.g);
  });
}

template <class T>
Variable<T> mul(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"mul", "da = g b, db = g a"};
  check_broadcast(op, a, b);
  return record<T>(op, elementwise(a.value(), b.value(), std::multiplies<T>(), [](const auto& x, const auto& y) { return Array<T>(x * y); }), {a, b}, [](Backward<T>& d) {
    if (d.needs_grad(0)) d.add_grad(0, d.g * d.input(1));
    if (d.needs_grad(1)) d.add_grad(1, d.g * d.input(0));
  });
}

template <class T>
Variable<T> div(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"div", "da = g / b, db = -g a / b^2"};
  check_broadcast(op, a, b);
  return record<T>(op, elementwise(a.value(), b.value(), std::divides<T>(), [](const auto& x, const auto& y) { return Array<T>(x / y); }), {a, b}, [](Backward<T>& d) {
    const Variable<T> g_over_b = d.g / d.input(1);
    d.add_grad(0, g_over_b);
    if (d.needs_grad(1)) d.add_grad(1, -g_over_b * d.output());  // a / b^2 = out / b
  });
}

template <class T>
Variable<T> neg(const Variable<T>& a) {
  static const OpInfo op{"neg", "da = -g"};
  return record<T>(op, elementwise(a.value(), std::negate<T>()), {a}, [](Backward<T>& d) { d.add_grad(0, -d.g); });
}

template <class T>
Variable<T> add(const Variable<T>& a, Scalar<T> s) {
  static const OpInfo op{"add_scalar", "da = g", "s"};
  return record<T>(op, elementwise(a.value(), [s](T v) { return v + s; }), {a}, [](Backward<T>& d) { d.add_grad(0, d.g); }, {s});
}

template <class T>
Variable<T> sub(Scalar<T> s, const Variable<T>& a) {
  static const OpInfo op{"rsub_scalar", "da = -g", "s"};
  return record<T>(op, elementwise(a.value(), [s](T v) { return s - v; }), {a}, [](Backward<T>& d) { d.add_grad(0, -d.g); }, {s});
}

template <class T>
Variable<T> mul(const Variable<T>& a, Scalar<T> s) {
  static const OpInfo op{"mul_scalar", "da = g s", "s"};
  return record<T>(op, elementwise(a.value(), [s](T v) { return v * s; }), {a}, [s](Backward<T>& d) { d.add_grad(0, d.g * s); }, {s});
}

template <class T>
Variable<T> div(const Variable<T>& a, Scalar<T> s) {
  static const OpInfo op{"div_scalar", "da = g / s", "s"};
  // a / s, not a * (1 / s): correctly rounded (5 / 3 is 1.6666666666666667)
  return record<T>(op, elementwise(a.value(), [s](T v) { return v / s; }), {a}, [s](Backward<T>& d) { d.add_grad(0, d.g / s); }, {s});
}

template <class T>
Variable<T> div(Scalar<T> s, const Variable<T>& a) {
  static const OpInfo op{"rdiv_scalar", "da = -g s / a^2", "s"};
  return record<T>(op, elementwise(a.value(), [s](T v) { return s / v; }), {a}, [](Backward<T>& d) {
    d.add_grad(0, -d.g * d.output() / d.input(0));  // s / a^2 = out / a
  }, {s});
}

template <class T>
Variable<T> pow(const Variable<T>& a, Scalar<T> p) {
  static const OpInfo op{"pow", "da = g p a^(p-1)", "p"};
  return record<T>(op, xt::pow(a.value(), p), {a}, [p](Backward<T>& d) {
    d.add_grad(0, d.g * p * pow(d.input(0), p - T(1)));
  }, {p});
}

template <class T>
Variable<T> exp(const Variable<T>& a) {
  static const OpInfo op{"exp", "da = g e^a"};
  return record<T>(op, detail::exp_of(a.value()), {a}, [](Backward<T>& d) { d.add_grad(0, d.g * d.output()); });
}

template <class T>
Variable<T> log(const Variable<T>& a) {
  static const OpInfo op{"log", "da = g / a"};
  return record<T>(op, xt::log(a.value()), {a}, [](Backward<T>& d) { d.add_grad(0, d.g / d.input(0)); });
}

template <class T>
Variable<T> sqrt(const Variable<T>& a) {
  static const OpInfo op{"sqrt", "da = g / (2 sqrt(a))"};
  return record<T>(op, xt::sqrt(a.value()), {a}, [](Backward<T>& d) { d.add_grad(0, d.g / (T(2) * d.output())); });
}

template <class T>
Variable<T> abs(const Variable<T>& a) {
  static const OpInfo op{"abs", "da = g sign(a)"};
  return record<T>(op, xt::abs(a.value()), {a}, [](Backward<T>& d) {
    d.add_grad(0, d.g * Variable<T>(xt::sign(d.input(0).value())));  // sign is constant: |a|'' = 0
  });
}

template <class T>
Variable<T> square(const Variable<T>& a) {
  static const OpInfo op{"square", "da = 2 g a"};
  return record<T>(op, xt::square(a.value()), {a}, [](Backward<T>& d) { d.add_grad(0, T(2) * d.g * d.input(0)); });
}

template <class T>
Variable<T> clip(const Variable<T>& a, Scalar<T> lo, Scalar<T> hi) {
  static const OpInfo op{"clip", "da = g if lo <= a <= hi else 0", "lo, hi"};
  if (std::isnan(lo) || std::isnan(hi))
    throw std::invalid_argument("clip: a bound is NaN (lower " + std::to_string(lo) + ", upper " + std::to_string(hi) + ")");
  // min(max(a, lo), hi): with lo > hi every value is hi, as NumPy and PyTorch give (and no gradient passes)
  Array<T> y = Array<T>::from_shape(a.shape());
  std::transform(a.value().begin(), a.value().end(), y.begin(),
                 [lo, hi](T v) { return v != v ? v : std::min(std::max(v, T(lo)), T(hi)); });  // NaN stays NaN
  return record<T>(op, std::move(y), {a}, [lo, hi](Backward<T>& d) {
    const Array<T>& a = d.input(0).value();
    d.add_grad(0, autodiff::where(xt::xarray<bool>(a >= lo && a <= hi), d.g, T(0)));
  }, {lo, hi});
}

namespace {
// maximum and minimum: the share of g that goes to a (1 where a wins, 1/2 at a tie).
template <class T, class Wins>
Array<T> share_of_a(const Array<T>& a, const Array<T>& b, const Shape& shape, Wins wins) {
  return detail::broadcast_map<Array<T>>(shape, a, b, [wins](T x, T y) { return wins(x, y) ? T(1) : x == y ? T(0.5) : T(0); });
}
}  // namespace

template <class T>
Variable<T> maximum(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"maximum", "da = g [a > b] + g/2 [a = b], db = g [b > a] + g/2 [a = b]"};
  check_broadcast(op, a, b);
  return record<T>(op, xt::maximum(a.value(), b.value()), {a, b}, [](Backward<T>& d) {
    const Variable<T> share(share_of_a(d.input(0).value(), d.input(1).value(), d.g.shape(), std::greater<T>()));
    if (d.needs_grad(0)) d.add_grad(0, d.g * share);
    if (d.needs_grad(1)) d.add_grad(1, d.g * (T(1) - share));
  });
}

template <class T>
Variable<T> minimum(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"minimum", "da = g [a < b] + g/2 [a = b], db = g [b < a] + g/2 [a = b]"};
  check_broadcast(op, a, b);
  return record<T>(op, xt::minimum(a.value(), b.value()), {a, b}, [](Backward<T>& d) {
    const Variable<T> share(share_of_a(d.input(0).value(), d.input(1).value(), d.g.shape(), std::less<T>()));
    if (d.needs_grad(0)) d.add_grad(0, d.g * share);
    if (d.needs_grad(1)) d.add_grad(1, d.g * (T(1) - share));
  });
}

template <class T>
Variable<T> where(const xt::xarray<bool>& condition, const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"where", "da = g [condition], db = g [not condition]"};
  const Shape shape = broadcast_shape(op, broadcast_shape(op, condition.shape(), a.shape()), b.shape());
  // All three broadcast to the result's shape first, then picked value by value:
  // xtensor 0.24's vectorised where() broadcasts a bool array wrongly in SSE2
  // builds (-DWENGERT_NATIVE=OFF), giving wrong values without an error.
  xt::xarray<bool> mask = xt::broadcast(condition, shape);
  Array<T> a_storage, b_storage;
  const T* a_full = broadcast_array(a.value(), shape, a_storage).data();
  const T* b_full = broadcast_array(b.value(), shape, b_storage).data();
  Array<T> y = Array<T>::from_shape(shape);
  for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = mask.data()[i] ? a_full[i] : b_full[i];
  return record<T>(op, std::move(y), {a, b}, [mask = std::move(mask)](Backward<T>& d) {
    if (d.needs_grad(0)) d.add_grad(0, autodiff::where(mask, d.g, T(0)));  // summed back to a's shape if a was broadcast
    if (d.needs_grad(1)) d.add_grad(1, autodiff::where(xt::xarray<bool>(!mask), d.g, T(0)));
  });
}

template <class T>
Variable<T> where(const xt::xarray<bool>& condition, const Variable<T>& a, Scalar<T> b) {
  static const OpInfo op{"where_scalar", "da = g [condition]", "b"};
  const Shape shape = broadcast_shape(op, condition.shape(), a.shape());
  xt::xarray<bool> mask = detail::same_shape(condition.shape(), shape) ? condition : xt::broadcast(condition, shape);
  Array<T> a_storage;
  const T* a_full = broadcast_array(a.value(), shape, a_storage).data();
  Array<T> y = Array<T>::from_shape(shape);
  for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = mask.data()[i] ? a_full[i] : b;
  return record<T>(op, std::move(y), {a},
                   [mask = std::move(mask)](Backward<T>& d) { d.add_grad(0, autodiff::where(mask, d.g, T(0))); }, {b});
}

template <class T>
Variable<T> where(const xt::xarray<bool>& condition, Scalar<T> a, const Variable<T>& b) {
  // condition ? a : b is (not condition) ? b : a
  return autodiff::where(xt::xarray<bool>(!condition), b, a);
}

#define WENGERT_INSTANTIATE(T)                                                                    \
  template Variable<T> add(const Variable<T>&, const Variable<T>&);                               \
  template Variable<T> sub(const Variable<T>&, const Variable<T>&);                               \
  template Variable<T> mul(const Variable<T>&, const Variable<T>&);                               \
  template Variable<T> div(const Variable<T>&, const Variable<T>&);                               \
  template Variable<T> neg(const Variable<T>&);                                                   \
  template Variable<T> add(const Variable<T>&, Scalar<T>);                                        \
  template Variable<T> sub(Scalar<T>, const Variable<T>&);                                        \
  template Variable<T> mul(const Variable<T>&, Scalar<T>);                                        \
  template Variable<T> div(const Variable<T>&, Scalar<T>);                                        \
  template Variable<T> div(Scalar<T>, const Variable<T>&);                                        \
  template Variable<T> pow(const Variable<T>&, Scalar<T>);                                        \
  template Variable<T> exp(const Variable<T>&);                                                   \
  template Variable<T> log(const Variable<T>&);                                                   \
  template Variable<T> sqrt(const Variable<T>&);                                                  \
  template Variable<T> abs(const Variable<T>&);                                                   \
  template Variable<T> square(const Variable<T>&);                                                \
  template Variable<T> clip(const Variable<T>&, Scalar<T>, Scalar<T>);                            \
  template Variable<T> maximum(const Variable<T>&, const Variable<T>&);                           \
  template Variable<T> minimum(const Variable<T>&, const Variable<T>&);                           \
  template Variable<T> where(const xt::xarray<bool>&, const Variable<T>&, const Variable<T>&);     \
  template Variable<T> where(const xt::xarray<bool>&, const Variable<T>&, Scalar<T>);          \
  template Variable<T> where(const xt::xarray<bool>&, Scalar<T>, const Variable<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
