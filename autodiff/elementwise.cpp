// Each op: its value, then its backward closure (g = dC/d out), side by side.
#include "elementwise.hpp"

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include "detail/vector_math.hpp"
#include "op.hpp"

namespace autodiff {

namespace {
// Throws a ShapeError naming the op unless a and b broadcast together.
template <class T>
void check_broadcast(const OpInfo& op, const Variable<T>& a, const Variable<T>& b) {
  if (!detail::same_shape(a.shape(), b.shape())) broadcast_shape(op, a.shape(), b.shape());
}
// x broadcast to shape: x itself when it already has that shape, else a copy made in storage.
template <class T>
const Array<T>& broadcast_to(const Array<T>& x, const Shape& shape, Array<T>& storage) {
  if (detail::same_shape(x.shape(), shape)) return x;
  storage = xt::broadcast(x, shape);
  return storage;
}
}  // namespace

template <class T>
Variable<T> add(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"add", "da = g, db = g"};
  check_broadcast(op, a, b);
  return record<T>(op, a.value() + b.value(), {a, b}, [](Node<T>& out) {
    accumulate_grad(out.input(0), out.grad);
    accumulate_grad(out.input(1), out.grad);
  });
}

template <class T>
Variable<T> sub(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"sub", "da = g, db = -g"};
  check_broadcast(op, a, b);
  return record<T>(op, a.value() - b.value(), {a, b}, [](Node<T>& out) {
    accumulate_grad(out.input(0), out.grad);
    accumulate_grad(out.input(1), -out.grad);
  });
}

template <class T>
Variable<T> mul(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"mul", "da = g b, db = g a"};
  check_broadcast(op, a, b);
  return record<T>(op, a.value() * b.value(), {a, b}, [](Node<T>& out) {
    accumulate_grad(out.input(0), out.grad * out.input(1).value);
    accumulate_grad(out.input(1), out.grad * out.input(0).value);
  });
}

template <class T>
Variable<T> div(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"div", "da = g / b, db = -g a / b^2"};
  check_broadcast(op, a, b);
  return record<T>(op, a.value() / b.value(), {a, b}, [](Node<T>& out) {
    const auto& b = out.input(1).value;
    accumulate_grad(out.input(0), out.grad / b);
    accumulate_grad(out.input(1), -out.grad * out.value / b);  // a / b^2 = out / b
  });
}

template <class T>
Variable<T> neg(const Variable<T>& a) {
  static const OpInfo op{"neg", "da = -g"};
  return record<T>(op, -a.value(), {a}, [](Node<T>& out) { accumulate_grad(out.input(0), -out.grad); });
}

template <class T>
Variable<T> add(const Variable<T>& a, Scalar<T> s) {
  static const OpInfo op{"add_scalar", "da = g"};
  return record<T>(op, a.value() + s, {a}, [](Node<T>& out) { accumulate_grad(out.input(0), out.grad); });
}

template <class T>
Variable<T> sub(Scalar<T> s, const Variable<T>& a) {
  static const OpInfo op{"rsub_scalar", "da = -g"};
  return record<T>(op, s - a.value(), {a}, [](Node<T>& out) { accumulate_grad(out.input(0), -out.grad); });
}

template <class T>
Variable<T> mul(const Variable<T>& a, Scalar<T> s) {
  static const OpInfo op{"mul_scalar", "da = g s"};
  return record<T>(op, a.value() * s, {a}, [s](Node<T>& out) { accumulate_grad(out.input(0), out.grad * s); });
}

template <class T>
Variable<T> div(Scalar<T> s, const Variable<T>& a) {
  static const OpInfo op{"rdiv_scalar", "da = -g s / a^2"};
  return record<T>(op, s / a.value(), {a}, [](Node<T>& out) {
    accumulate_grad(out.input(0), -out.grad * out.value / out.input(0).value);  // s / a^2 = out / a
  });
}

template <class T>
Variable<T> pow(const Variable<T>& a, Scalar<T> p) {
  static const OpInfo op{"pow", "da = g p a^(p-1)"};
  return record<T>(op, xt::pow(a.value(), p), {a}, [p](Node<T>& out) {
    accumulate_grad(out.input(0), out.grad * p * xt::pow(out.input(0).value, p - T(1)));
  });
}

template <class T>
Variable<T> exp(const Variable<T>& a) {
  static const OpInfo op{"exp", "da = g e^a"};
  return record<T>(op, detail::exp_of(a.value()), {a},
                   [](Node<T>& out) { accumulate_grad(out.input(0), out.grad * out.value); });
}

template <class T>
Variable<T> log(const Variable<T>& a) {
  static const OpInfo op{"log", "da = g / a"};
  return record<T>(op, xt::log(a.value()), {a},
                   [](Node<T>& out) { accumulate_grad(out.input(0), out.grad / out.input(0).value); });
}

template <class T>
Variable<T> sqrt(const Variable<T>& a) {
  static const OpInfo op{"sqrt", "da = g / (2 sqrt(a))"};
  return record<T>(op, xt::sqrt(a.value()), {a},
                   [](Node<T>& out) { accumulate_grad(out.input(0), out.grad / (T(2) * out.value)); });
}

template <class T>
Variable<T> abs(const Variable<T>& a) {
  static const OpInfo op{"abs", "da = g sign(a)"};
  return record<T>(op, xt::abs(a.value()), {a},
                   [](Node<T>& out) { accumulate_grad(out.input(0), out.grad * xt::sign(out.input(0).value)); });
}

template <class T>
Variable<T> square(const Variable<T>& a) {
  static const OpInfo op{"square", "da = 2 g a"};
  return record<T>(op, xt::square(a.value()), {a},
                   [](Node<T>& out) { accumulate_grad(out.input(0), T(2) * out.grad * out.input(0).value); });
}

template <class T>
Variable<T> clip(const Variable<T>& a, Scalar<T> lo, Scalar<T> hi) {
  static const OpInfo op{"clip", "da = g if lo <= a <= hi else 0"};
  if (!(lo <= hi)) throw ShapeError("clip: lower bound " + std::to_string(lo) + " above upper bound " + std::to_string(hi));
  return record<T>(op, xt::clip(a.value(), lo, hi), {a}, [lo, hi](Node<T>& out) {
    const auto& a = out.input(0).value;
    accumulate_grad(out.input(0), xt::where(a >= lo && a <= hi, out.grad, T(0)));
  });
}

template <class T>
Variable<T> maximum(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"maximum", "da = g [a > b] + g/2 [a = b], db = g [b > a] + g/2 [a = b]"};
  check_broadcast(op, a, b);
  return record<T>(op, xt::maximum(a.value(), b.value()), {a, b}, [](Node<T>& out) {
    const auto &a = out.input(0).value, &b = out.input(1).value;
    const auto share = xt::where(a > b, T(1), xt::where(xt::equal(a, b), T(0.5), T(0)));
    accumulate_grad(out.input(0), out.grad * share);
    accumulate_grad(out.input(1), out.grad * (T(1) - share));
  });
}

template <class T>
Variable<T> minimum(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"minimum", "da = g [a < b] + g/2 [a = b], db = g [b < a] + g/2 [a = b]"};
  check_broadcast(op, a, b);
  return record<T>(op, xt::minimum(a.value(), b.value()), {a, b}, [](Node<T>& out) {
    const auto &a = out.input(0).value, &b = out.input(1).value;
    const auto share = xt::where(a < b, T(1), xt::where(xt::equal(a, b), T(0.5), T(0)));
    accumulate_grad(out.input(0), out.grad * share);
    accumulate_grad(out.input(1), out.grad * (T(1) - share));
  });
}

template <class T>
Variable<T> where(const xt::xarray<bool>& condition, const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"where", "da = g [condition], db = g [not condition]"};
  const Shape shape = broadcast_shape(op, broadcast_shape(op, condition.shape(), a.shape()), b.shape());
  // All three broadcast to the result's shape first, then picked value by value:
  // xtensor 0.24's vectorised where() broadcasts a bool array wrongly in SSE2
  // builds (-DWENGERT_NATIVE=OFF), giving wrong values without an error.
  const xt::xarray<bool> mask = xt::broadcast(condition, shape);
  Array<T> a_storage, b_storage;
  const T* a_full = broadcast_to(a.value(), shape, a_storage).data();
  const T* b_full = broadcast_to(b.value(), shape, b_storage).data();
  Array<T> y = Array<T>::from_shape(shape);
  for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = mask.data()[i] ? a_full[i] : b_full[i];
  return record<T>(op, std::move(y), {a, b}, [mask](Node<T>& out) {
    Array<T> da = Array<T>::from_shape(out.grad.shape()), db = Array<T>::from_shape(out.grad.shape());
    for (std::size_t i = 0; i < da.size(); ++i) {
      da.data()[i] = mask.data()[i] ? out.grad.data()[i] : T(0);
      db.data()[i] = mask.data()[i] ? T(0) : out.grad.data()[i];
    }
    accumulate_grad(out.input(0), da);  // summed back to a's shape if a was broadcast
    accumulate_grad(out.input(1), db);
  });
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
  template Variable<T> where(const xt::xarray<bool>&, const Variable<T>&, const Variable<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
