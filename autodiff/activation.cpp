// Activations: value, then backward closure (g = dC/d out, y = out).
#include "activation.hpp"

#include <algorithm>

#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "detail/kernels.hpp"
#include "detail/vector_math.hpp"
#include "op.hpp"

namespace autodiff {

template <class T>
Variable<T> sigmoid(const Variable<T>& x) {
  static const OpInfo op{"sigmoid", "dx = g y (1 - y)"};
  Array<T> y = Array<T>::from_shape(x.shape());
  detail::sigmoid_of(x.value().data(), y.data(), y.size());  // 1 / (1 + e^-x), vectorised
  return record<T>(op, std::move(y), {x}, [](Node<T>& out) {
    accumulate_grad(out.input(0), out.grad * out.value * (T(1) - out.value));
  });
}

template <class T>
Variable<T> tanh(const Variable<T>& x) {
  static const OpInfo op{"tanh", "dx = g (1 - y^2)"};
  return record<T>(op, xt::tanh(x.value()), {x}, [](Node<T>& out) {
    accumulate_grad(out.input(0), out.grad * (T(1) - out.value * out.value));
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
  return record<T>(op, std::move(y), {x}, [](Node<T>& out) {
    accumulate_grad(out.input(0), xt::where(out.input(0).value > T(0), out.grad, T(0)));
  });
}

template <class T>
Variable<T> leaky_relu(const Variable<T>& x, T alpha) {
  static const OpInfo op{"leaky_relu", "dx = g if x > 0 else alpha g"};
  return record<T>(op, xt::where(x.value() > T(0), x.value(), alpha * x.value()), {x}, [alpha](Node<T>& out) {
    accumulate_grad(out.input(0), xt::where(out.input(0).value > T(0), out.grad, alpha * out.grad));
  });
}

template <class T>
Variable<T> elu(const Variable<T>& x, T alpha) {
  static const OpInfo op{"elu", "dx = g if x > 0 else g (y + alpha)"};
  // expm1 keeps precision for small |x|
  return record<T>(op, xt::where(x.value() > T(0), x.value(), alpha * xt::expm1(x.value())), {x},
                   [alpha](Node<T>& out) {
                     accumulate_grad(out.input(0),
                                     xt::where(out.input(0).value > T(0), out.grad, out.grad * (out.value + alpha)));
                   });
}

template <class T>
Variable<T> heaviside(const Variable<T>& x) {
  static const OpInfo op{"heaviside", "dx = 0 (a step has no useful derivative)"};
  return record<T>(op, xt::where(x.value() > T(0), T(1), T(0)), {x},
                   [](Node<T>& out) { accumulate_grad(out.input(0), xt::zeros_like(out.grad)); });
}

template <class T>
Variable<T> softmax(const Variable<T>& x, long axis) {
  static const OpInfo op{"softmax", "dx = y (g - sum(g y, axis))"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  return record<T>(op, detail::softmax_of(x.value(), ax), {x}, [ax](Node<T>& out) {
    const Array<T> gy = out.grad * out.value;
    accumulate_grad(out.input(0), gy - out.value * detail::sum_keepdims(gy, ax));
  });
}

template <class T>
Variable<T> log_softmax(const Variable<T>& x, long axis) {
  static const OpInfo op{"log_softmax", "dx = g - e^y sum(g, axis)"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  return record<T>(op, detail::log_softmax_of(x.value(), ax), {x}, [ax](Node<T>& out) {
    accumulate_grad(out.input(0), detail::log_softmax_vjp(out.grad, out.value, ax));
  });
}

#define WENGERT_INSTANTIATE(T)                                  \
  template Variable<T> sigmoid(const Variable<T>&);             \
  template Variable<T> tanh(const Variable<T>&);                \
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
