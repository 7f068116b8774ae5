// Reductions over all elements (a 0-D result) or along one axis.
#pragma once

#include "variable.hpp"

namespace autodiff {

template <class T> Variable<T> sum(const Variable<T>& x);
template <class T> Variable<T> sum(const Variable<T>& x, long axis, bool keepdims = false);
// x summed down to `shape`, the reverse of broadcasting: over leading axes, and
// over axes where shape has 1 (PyTorch's sum_to_size). What a broadcast
// gradient is reduced with.
template <class T> Variable<T> sum_to(const Variable<T>& x, const Shape& shape);
template <class T> Variable<T> mean(const Variable<T>& x);
template <class T> Variable<T> mean(const Variable<T>& x, long axis, bool keepdims = false);
// Ties share the gradient evenly (as PyTorch's amax).
template <class T> Variable<T> max(const Variable<T>& x);
template <class T> Variable<T> max(const Variable<T>& x, long axis, bool keepdims = false);
// log sum e^x along axis, computed as m + log sum e^(x - m) with m the maximum.
template <class T> Variable<T> logsumexp(const Variable<T>& x, long axis, bool keepdims = false);

}  // namespace autodiff
