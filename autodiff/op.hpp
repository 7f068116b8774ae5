// What an op is made of: this is how every op in autodiff/ is written, and how
// a user writes their own. An op computes its value, then calls record() with
// its inputs and a backward closure; the closure reads out.grad (dC/d(out))
// and adds each input's vector-Jacobian product with accumulate_grad():
//
//   template <class T>
//   Variable<T> square(const Variable<T>& x) {
//     static const OpInfo op{"square", "dx = 2 g x"};
//     return record<T>(op, xt::square(x.value()), {x}, [](Node<T>& out) {
//       accumulate_grad(out.input(0), T(2) * out.grad * out.input(0).value);
//     });
//   }
#pragma once

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <vector>

#include <xtensor/xnoalias.hpp>
#include <xtensor/xoperation.hpp>

#include "tape.hpp"
#include "variable.hpp"

namespace autodiff {

// Records `value = op(inputs)` on this thread's tape, unless no input requires
// a gradient or grad mode is off: then it returns a plain constant.
template <class T>
Variable<T> record(const OpInfo& op, Array<T>&& value, std::initializer_list<Variable<T>> inputs,
                   BackwardFn<T> backward);
template <class T>
Variable<T> record(const OpInfo& op, Array<T>&& value, const std::vector<Variable<T>>& inputs,
                   BackwardFn<T> backward);

// NumPy broadcasting: the shape of a op b, or a ShapeError naming the op and both shapes.
Shape broadcast_shape(const OpInfo& op, const Shape& a, const Shape& b);

// Sums a broadcast gradient back to the shape of the input it belongs to
// (PyTorch's sum_to): over leading axes, and over axes where the input had 1.
template <class T>
Array<T> sum_to(const Array<T>& gradient, const Shape& shape);

namespace detail {
template <class T>
void after_accumulate(Node<T>& input);  // anomaly check
[[noreturn]] void throw_gradient_shape(const Shape& input_shape, const Shape& gradient_shape);
inline bool same_shape(const Shape& a, const Shape& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}
}  // namespace detail

// input.grad += gradient, where gradient has the input's shape or broadcasts
// to it (it is then summed back to the input's shape). Every gradient an op
// produces goes through here, so the shape is checked in one place.
template <class T, class E>
void accumulate_grad(Node<T>& input, E&& gradient) {
  if (!input.requires_grad) return;
  const auto& shape = input.value.shape();
  if (detail::same_shape(gradient.shape(), shape)) {
    if (!input.has_grad) {
      // Written in place (a plain `grad = gradient` would build a temporary and
      // swap it in); the buffer a zero_grad() kept is reused.
      if (!detail::same_shape(input.grad.shape(), shape)) input.grad.resize(shape);
      xt::noalias(input.grad) = gradient;
      input.has_grad = true;
    } else {
      xt::noalias(input.grad) += gradient;
    }
  } else {
    Array<T> full = gradient;
    if (full.dimension() < shape.size()) detail::throw_gradient_shape(shape, full.shape());
    Array<T> reduced = sum_to(full, shape);
    if (!input.has_grad) {
      input.grad = std::move(reduced);
      input.has_grad = true;
    } else {
      xt::noalias(input.grad) += reduced;
    }
  }
  detail::after_accumulate(input);
}

// For ops that write a gradient straight into the input's buffer (gemm with
// beta = 1 accumulates without a temporary): write(buffer, beta) must set
// buffer = contribution + beta * buffer. beta is 1 or 0, and with 0 the buffer
// is fresh and uninitialised: assign to it, never scale it (0 * NaN is NaN).
template <class T, class Write>
void accumulate_grad_with(Node<T>& input, Write&& write) {
  if (!input.requires_grad) return;
  if (!input.has_grad) {
    if (!detail::same_shape(input.grad.shape(), input.value.shape()))
      input.grad.resize(input.value.shape());
#ifdef WENGERT_POISON_FRESH_GRADIENTS
    // Sanitizer builds: an op that reads the fresh buffer now makes NaN, which the tests see.
    input.grad.fill(std::numeric_limits<T>::quiet_NaN());
#endif
    write(input.grad, T(0));
    input.has_grad = true;
  } else {
    write(input.grad, T(1));
  }
  detail::after_accumulate(input);
}

// For scatter-adds into a gradient buffer: zeroes it when it is fresh (beta = 0).
template <class T>
void zero_if_fresh(Array<T>& buffer, T beta) {
  if (beta == T(0)) std::fill(buffer.begin(), buffer.end(), T(0));
}

// Axis in [-rank, rank) to [0, rank), or a ShapeError naming the op.
std::size_t normalize_axis(const OpInfo& op, long axis, std::size_t rank);

}  // namespace autodiff
