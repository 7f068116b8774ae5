// Array kernels shared by several ops (not recorded on the tape).
#pragma once

#include <cstddef>

#include "../variable.hpp"

namespace autodiff::detail {

// sum of x along axis, keeping the axis with length 1 (so it broadcasts back against x).
template <class T>
Array<T> sum_keepdims(const Array<T>& x, std::size_t axis);
// max of x along axis, keeping the axis.
template <class T>
Array<T> max_keepdims(const Array<T>& x, std::size_t axis);
// log sum e^x along axis, keeping the axis: m + log sum e^(x - m), m the maximum
// (or 0 where the maximum is infinite), so no e^x overflows.
template <class T>
Array<T> logsumexp_keepdims(const Array<T>& x, std::size_t axis);
// log_softmax along axis, x - logsumexp(x), and its vector-Jacobian product
// g - e^y sum(g) (y the log_softmax), with row loops for the last axis.
template <class T>
Array<T> log_softmax_of(const Array<T>& x, std::size_t axis);
template <class T>
Array<T> log_softmax_vjp(const Array<T>& g, const Array<T>& y, std::size_t axis);
// A broadcast gradient summed back to shape (over leading axes and where shape has 1).
template <class T>
Array<T> sum_to(const Array<T>& gradient, const Shape& shape);
// A ShapeError naming the op whose backward produced a gradient that does not fit its input.
[[noreturn]] void throw_gradient_shape(const Shape& input_shape, const Shape& gradient_shape);
// softmax along axis, e^(x - m) / sum e^(x - m) with m the maximum (so no e^x overflows).
template <class T>
Array<T> softmax_of(const Array<T>& x, std::size_t axis);

}  // namespace autodiff::detail
