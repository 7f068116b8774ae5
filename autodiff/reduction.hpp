// Reductions over all elements (a 0-D result), along one axis, or over several
// axes; cumulative sums; arg-max/arg-min (no gradient).
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "variable.hpp"

namespace autodiff {

// Several axes at once, NumPy's axis=(0, 2): negative axes count from the end,
// a repeated axis is a ShapeError. A braced list always means axes: `sum(x, {0, 2})`,
// `sum(x, {1})` (the same as `sum(x, 1)`), and `sum(x, {})` or `sum(x, Axes{})`,
// which reduces nothing and returns x, as NumPy's axis=() (PyTorch's dim=[]
// reduces all). (The std::initializer_list overloads below exist for this: a
// braced list would otherwise pick the one-axis form, `{}` meaning axis 0.)
using Axes = std::vector<long>;

template <class T> Variable<T> sum(const Variable<T>& x);
template <class T> Variable<T> sum(const Variable<T>& x, long axis, bool keepdims = false);
template <class T> Variable<T> sum(const Variable<T>& x, const Axes& axes, bool keepdims = false);
template <class T> Variable<T> sum(const Variable<T>& x, std::initializer_list<long> axes, bool keepdims = false) {
  return sum(x, Axes(axes), keepdims);
}
// x summed down to `shape`, the reverse of broadcasting: over leading axes, and
// over axes where shape has 1 (PyTorch's sum_to_size). What a broadcast
// gradient is reduced with.
template <class T> Variable<T> sum_to(const Variable<T>& x, const Shape& shape);
// The mean of nothing (an empty input or axis) is a ShapeError (NumPy: NaN and a warning).
template <class T> Variable<T> mean(const Variable<T>& x);
template <class T> Variable<T> mean(const Variable<T>& x, long axis, bool keepdims = false);
template <class T> Variable<T> mean(const Variable<T>& x, const Axes& axes, bool keepdims = false);
template <class T> Variable<T> mean(const Variable<T>& x, std::initializer_list<long> axes, bool keepdims = false) {
  return mean(x, Axes(axes), keepdims);
}
// Ties share the gradient evenly (as PyTorch's amax/amin); a NaN wins (the
// result is NaN, and so is the gradient of its lane). The max or min of nothing
// is a ShapeError (NumPy raises too).
template <class T> Variable<T> max(const Variable<T>& x);
template <class T> Variable<T> max(const Variable<T>& x, long axis, bool keepdims = false);
template <class T> Variable<T> min(const Variable<T>& x);
template <class T> Variable<T> min(const Variable<T>& x, long axis, bool keepdims = false);
template <class T> Variable<T> max(const Variable<T>& x, const Axes& axes, bool keepdims = false);
template <class T> Variable<T> min(const Variable<T>& x, const Axes& axes, bool keepdims = false);
template <class T> Variable<T> max(const Variable<T>& x, std::initializer_list<long> axes, bool keepdims = false) {
  return max(x, Axes(axes), keepdims);
}
template <class T> Variable<T> min(const Variable<T>& x, std::initializer_list<long> axes, bool keepdims = false) {
  return min(x, Axes(axes), keepdims);
}
// log sum e^x along axis, computed as m + log sum e^(x - m) with m the maximum.
template <class T> Variable<T> logsumexp(const Variable<T>& x, long axis, bool keepdims = false);
template <class T> Variable<T> logsumexp(const Variable<T>& x, const Axes& axes, bool keepdims = false);
template <class T> Variable<T> logsumexp(const Variable<T>& x, std::initializer_list<long> axes, bool keepdims = false) {
  return logsumexp(x, Axes(axes), keepdims);
}

// The product (of nothing: 1). Its gradient is the product of the other
// elements of the lane, computed with prefix and suffix products (never a
// division), so it is right with one zero or several; second derivatives are
// exact with zeros too, third and higher ones only where a lane has no zero.
template <class T> Variable<T> prod(const Variable<T>& x);
template <class T> Variable<T> prod(const Variable<T>& x, long axis, bool keepdims = false);

// Variance sum (x - mean)^2 / max(0, n - correction): correction 1 (the
// default) is the sample variance, 0 the population one (PyTorch's
// `correction`, NumPy's `ddof`). With n <= correction the result is inf, or NaN
// where all deviations are 0 (n = 1), as both give (without their warning); so
// is an empty input or axis (NaN). The gradient 2 (x - mean) / (n - correction)
// is then inf or NaN too, as PyTorch's. The correction must be finite. Pass the
// options as {.correction = 0}: a bare {} in their place is the empty list of
// axes (each element alone: 0 / 0 = NaN with correction 1, as NumPy's axis=()).
// Over several axes n is the number of elements of a lane (their product).
struct VarOptions {
  double correction = 1;
};
template <class T> Variable<T> var(const Variable<T>& x, VarOptions options = {});
template <class T> Variable<T> var(const Variable<T>& x, long axis, bool keepdims = false, VarOptions options = {});
namespace detail {
template <class T> Variable<T> var_axes(const Variable<T>& x, const Axes& axes, bool keepdims, VarOptions options);
template <class T> Variable<T> stddev_axes(const Variable<T>& x, const Axes& axes, bool keepdims, VarOptions options);
}  // namespace detail
// (The Axes form is a template on exactly Axes: g++ 12 would take the options
// {.correction = 0} for a std::vector, making var(x, {.correction = 0}) ambiguous.)
template <class T, std::same_as<Axes> A>
Variable<T> var(const Variable<T>& x, const A& axes, bool keepdims = false, VarOptions options = {}) {
  return detail::var_axes(x, axes, keepdims, options);
}
template <class T>
Variable<T> var(const Variable<T>& x, std::initializer_list<long> axes, bool keepdims = false, VarOptions options = {}) {
  return detail::var_axes(x, Axes(axes), keepdims, options);
}
// The standard deviation sqrt(var) (numpy.std, torch.std: named stddev here, since
// a function called std would clash with namespace std in users' code). Where it
// is 0 (a lane of equal values) its gradient is 0, the subgradient norm() uses
// too (PyTorch gives NaN there); where it is NaN, NaN.
template <class T> Variable<T> stddev(const Variable<T>& x, VarOptions options = {});
template <class T> Variable<T> stddev(const Variable<T>& x, long axis, bool keepdims = false, VarOptions options = {});
template <class T, std::same_as<Axes> A>
Variable<T> stddev(const Variable<T>& x, const A& axes, bool keepdims = false, VarOptions options = {}) {
  return detail::stddev_axes(x, axes, keepdims, options);
}
template <class T>
Variable<T> stddev(const Variable<T>& x, std::initializer_list<long> axes, bool keepdims = false,
                   VarOptions options = {}) {
  return detail::stddev_axes(x, Axes(axes), keepdims, options);
}

// The p-norm (sum |x|^p)^(1/p) for p >= 1 or p = inf (max |x|), over all
// elements (the Frobenius norm of a matrix for p = 2), along an axis, or over
// several axes (`norm(x, 2, {-2, -1})`: the Frobenius norm of each matrix of a
// batch; `{}` reduces nothing, giving |x|). The arguments are in torch.norm's
// order, p first: `norm(x, 1)` is the 1-norm of all elements, NOT the 2-norm
// along axis 1 (which is `norm(x, 2, 1)`), unlike `sum(x, 1)`. Computed scaled by
// the largest |x| (as hypot): right for any finite x, with no overflow or
// underflow of |x|^p. Gradients: p = 1,
// sign(x) (0 at 0); p = 2, x / norm, and 0 where the norm is 0 (PyTorch's
// subgradient, never NaN); inf, sign(x) shared evenly between the ties of
// max |x|; other p, sign(x) |x|^(p-1) / norm^(p-1), 0 where the norm is 0. The
// inf-norm of nothing is a ShapeError (as PyTorch), other norms of nothing are 0.
// p < 1 or NaN is an invalid_argument (PyTorch accepts p < 1, not a norm).
template <class T> Variable<T> norm(const Variable<T>& x, double p = 2);
template <class T> Variable<T> norm(const Variable<T>& x, double p, long axis, bool keepdims = false);
template <class T> Variable<T> norm(const Variable<T>& x, double p, const Axes& axes, bool keepdims = false);
template <class T>
Variable<T> norm(const Variable<T>& x, double p, std::initializer_list<long> axes, bool keepdims = false) {
  return norm(x, p, Axes(axes), keepdims);
}

// Running sum along axis: y[k] = x[0] + ... + x[k] (NumPy's cumsum with an axis).
template <class T> Variable<T> cumsum(const Variable<T>& x, long axis);

// The index of the largest (smallest) element, as int64 like NumPy: over all
// elements a 0-D array holding the flat (row-major) index, along an axis an
// array of indices. The first occurrence wins a tie, and the first NaN wins
// over everything (NumPy's rule, for argmin too). Not differentiable (no tape
// entry); an empty input or axis is a ShapeError (NumPy raises too).
template <class T> xt::xarray<std::int64_t> argmax(const Variable<T>& x);
template <class T> xt::xarray<std::int64_t> argmax(const Variable<T>& x, long axis, bool keepdims = false);
template <class T> xt::xarray<std::int64_t> argmin(const Variable<T>& x);
template <class T> xt::xarray<std::int64_t> argmin(const Variable<T>& x, long axis, bool keepdims = false);

// Backward ops: vector-Jacobian products of the ops above as ops of their own,
// so that their derivatives are defined too. cumsum and cumsum_backward are each
// other's VJP (every order exact); prod_others' VJP is prod_others_backward.
// Reverse running sum along axis: y[k] = g[k] + ... + g[n - 1] (cumsum's VJP; its own is cumsum).
template <class T> Variable<T> cumsum_backward(const Variable<T>& g, long axis);
// Each element replaced by the product of the other elements of its lane along
// axis (prod's gradient), from prefix and suffix products: no division.
template <class T> Variable<T> prod_others(const Variable<T>& x, long axis);
// prod_others' VJP: y[k] = sum over i != k of h[i] * (product of x over the lane
// without i and k), by prefix and suffix sums (exact with zeros). Its VJP in h
// is itself; in x it divides by x (exact only where a lane of x has no zero).
template <class T> Variable<T> prod_others_backward(const Variable<T>& h, const Variable<T>& x, long axis);

}  // namespace autodiff
