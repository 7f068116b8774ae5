// Ops that move elements without changing them: reshape, slices, gathers, concatenation.
#pragma once

#include <cstddef>
#include <vector>

#include "variable.hpp"

namespace autodiff {

// A new shape with the same number of elements.
template <class T> Variable<T> reshape(const Variable<T>& x, const Shape& shape);
// Axes from start_axis on merged into one: flatten(x) is 1-D, flatten(x, 1) keeps the batch axis.
template <class T> Variable<T> flatten(const Variable<T>& x, std::size_t start_axis = 0);
// x repeated along axes of length 1 and new leading axes (NumPy broadcasting), to `shape`.
template <class T> Variable<T> broadcast_to(const Variable<T>& x, const Shape& shape);
// Indices [begin, end) along an axis.
template <class T> Variable<T> slice(const Variable<T>& x, long axis, std::size_t begin, std::size_t end);
// Rows [begin, end) along axis 0.
template <class T> Variable<T> slice_rows(const Variable<T>& x, std::size_t begin, std::size_t end);
// x[rows[0]], x[rows[1]], ... along axis 0 (a row may repeat; its gradients add up).
template <class T> Variable<T> index_rows(const Variable<T>& x, const std::vector<std::size_t>& rows);
// out[i] = x[i, labels[i]] for a 2-D x: each row's entry at its class label,
// what cross-entropy on integer labels needs.
template <class T> Variable<T> pick(const Variable<T>& x, const std::vector<std::size_t>& labels);
// Joined along axis; all other axes must agree.
template <class T> Variable<T> concatenate(const std::vector<Variable<T>>& parts, long axis = 0);

// Backward ops: the vector-Jacobian products of the ops above as ops of their
// own (each the other's adjoint, so every order of derivative is defined).
// g placed at [begin, begin + g's length) along axis of zeros of that length.
template <class T>
Variable<T> slice_backward(const Variable<T>& g, long axis, std::size_t begin, std::size_t length);
// Zeros of `count` rows, with g's row i added to row rows[i].
template <class T>
Variable<T> index_rows_backward(const Variable<T>& g, const std::vector<std::size_t>& rows, std::size_t count);
// A (labels, classes) matrix of zeros with g[i] at [i, labels[i]].
template <class T>
Variable<T> pick_backward(const Variable<T>& g, const std::vector<std::size_t>& labels, std::size_t classes);

}  // namespace autodiff
