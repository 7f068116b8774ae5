// Activations: value, then backward closure (g = dC/d out, y = out).
#include "activation.hpp"

#include <algorithm>

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "detail/kernels.hpp"
#include "detail/vector_math.hpp"
#include "elementwise.hpp"
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
  static const OpInfo op{"relu_backward", "dg = relu_backward(gg, x), dx = 0"};
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
  });
}

template <class T>
Variable<T> leaky_relu(const Variable<T>& x, T alpha) {
  static const OpInfo op{"leaky_relu", "dx = g if x > 0 else alpha g"};
  return record<T>(op, xt::where(x.value() > T(0), x.value(), alpha * x.value()), {x},
                   [alpha](Backward<T>& d) { d.add_grad(0, relu_backward(d.g, d.input(0), alpha)); });
}

template <class T>
Variable<T> elu(const Variable<T>& x, T alpha) {
  static const OpInfo op{"elu", "dx = g if x > 0 else g (y + alpha)"};
  // expm1 keeps precision for small |x|
  return record<T>(op, xt::where(x.value() > T(0), x.value(), alpha * xt::expm1(x.value())), {x},
                   [alpha](Backward<T>& d) {
                     // y + alpha = alpha e^x for x <= 0, a function of x: elu has a second derivative there
                     d.add_grad(0, autodiff::where(xt::xarray<bool>(d.input(0).value() > T(0)), d.g,
                                                   d.g * (d.output() + alpha)));
                   });
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
  template Variable<T> log_softmax(const Variable<T>&, long);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
