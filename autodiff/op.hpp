// What an op is made of: this is how every op in autodiff/ is written, and how
// a user writes their own. An op computes its value, then calls record() with
// its inputs and a backward closure. The closure reads d.g = dC/d(output) and
// adds each input's vector-Jacobian product with d.add_grad(i, ...), written in
// differentiable ops, so that the derivative can be differentiated again:
//
//   template <class T>
//   Variable<T> square(const Variable<T>& x) {
//     static const OpInfo op{"square", "dx = 2 g x"};
//     return record<T>(op, xt::square(x.value()), {x}, [](Backward<T>& d) {
//       d.add_grad(0, T(2) * d.g * d.input(0));
//     });
//   }
//
// The closure runs without recording in a plain backward() (first order costs
// only the arithmetic) and recorded under create_graph (then the gradient has
// a graph of its own). With several inputs, guard each with d.needs_grad(i):
// the gradient of an input that wants none is not computed.
#pragma once

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <string>
#include <vector>

#include "tape.hpp"
#include "variable.hpp"

namespace autodiff {

// The values of an op's scalar arguments, in the order OpInfo::constants names them.
struct OpConstants {
  double first = 0, second = 0;
};

// Records `value = op(inputs)` on this thread's tape, unless no input requires
// a gradient or grad mode is off: then it returns a plain constant. `constants`
// are kept on the node for print_tape and to_dot (two stores, no string):
//   static const OpInfo op{"mul_scalar", "da = g s", "s"};
//   return record<T>(op, ..., {a}, [s](Backward<T>& d) { ... }, {s});
template <class T>
Variable<T> record(const OpInfo& op, Array<T>&& value, std::initializer_list<Variable<T>> inputs,
                   BackwardFn<T> backward, OpConstants constants = {});
template <class T>
Variable<T> record(const OpInfo& op, Array<T>&& value, const std::vector<Variable<T>>& inputs,
                   BackwardFn<T> backward, OpConstants constants = {});

// NumPy broadcasting: the shape of a op b, or a ShapeError naming the op and both shapes.
Shape broadcast_shape(const OpInfo& op, const Shape& a, const Shape& b);

namespace detail {
inline bool same_shape(const Shape& a, const Shape& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}
}  // namespace detail

// Axis in [-rank, rank) to [0, rank), or a ShapeError naming the op.
std::size_t normalize_axis(const OpInfo& op, long axis, std::size_t rank);
// The same, the message naming `name`: the function the user called, where an
// op's internal name differs from it (sum over axes records "sum_axes").
inline std::size_t normalize_axis(const char* name, long axis, std::size_t rank) {
  const long r = static_cast<long>(rank);
  if (axis < -r || axis >= r)
    throw ShapeError(std::string(name) + ": axis " + std::to_string(axis) + " is out of range for a tensor of rank " +
                     std::to_string(rank));
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

namespace detail {
// A number for an error message, in the shortest form that reads back the same:
// "1e-10", "0.1", "inf" (std::to_string(1e-10) would print "0.000000").
inline std::string number(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}
inline std::string number(float value) {  // 1e-10f as "1e-10", not as the double it widens to
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}
}  // namespace detail

// The number of elements of shape, or a ShapeError naming `call` (the function
// the user called) and the shape if it has more than 2^64 - 1 (xtensor's size
// would wrap, and a buffer allocated for it would be too small).
inline std::size_t checked_size(const std::string& call, const Shape& shape) {
  for (std::size_t d : shape)
    if (d == 0) return 0;
  std::size_t n = 1;
  for (std::size_t d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      throw ShapeError(call + ": shape " + to_string(shape) + " has more than 2^64 elements");
  return n;
}

}  // namespace autodiff
