// Reductions: value, then backward closure. The gradient of a reduction is g
// broadcast back over the reduced axes (times 1/n for mean, a share of ties
// for max and min, the product of the others for prod). Kernels are plain
// loops over an (outer, n, inner) view of the array, contiguous for any axis.
#include "reduction.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xreducer.hpp>

#include "detail/kernels.hpp"
#include "detail/vector_math.hpp"
#include "elementwise.hpp"
#include "linalg.hpp"
#include "op.hpp"
#include "shape.hpp"

namespace autodiff {

namespace detail {

// combine over row[0], ..., row[n - 1] (n >= 1), with four partial results so
// that the additions or comparisons do not wait for each other.
template <class T, class Combine>
T reduce_row(const T* row, std::size_t n, Combine combine) {
  if (n < 8) {
    T acc = row[0];
    for (std::size_t k = 1; k < n; ++k) acc = combine(acc, row[k]);
    return acc;
  }
  T a0 = row[0], a1 = row[1], a2 = row[2], a3 = row[3];
  std::size_t k = 4;
  for (; k + 4 <= n; k += 4) {
    a0 = combine(a0, row[k]);
    a1 = combine(a1, row[k + 1]);
    a2 = combine(a2, row[k + 2]);
    a3 = combine(a3, row[k + 3]);
  }
  for (; k < n; ++k) a0 = combine(a0, row[k]);
  return combine(combine(a0, a1), combine(a2, a3));
}

// x viewed as (outer, n, inner) around axis, reduced over n with combine, in
// plain loops over contiguous rows (xtensor 0.24's immediate keep_dims
// reducers crash on some shapes, and its lazy ones are ~40x slower).
template <class T, class Combine>
Array<T> reduce_keepdims(const Array<T>& x, std::size_t axis, Combine combine, T empty) {
  const Shape& shape = x.shape();
  std::size_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= shape[d];
  for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  const std::size_t n = shape[axis];
  Shape kept = shape;
  kept[axis] = 1;
  Array<T> result = Array<T>::from_shape(kept);
  if (n == 0) {  // the reduction of nothing: 0 for a sum, -inf for a maximum (as NumPy's identities)
    result.fill(empty);
    return result;
  }
  if (inner == 1) {  // the last axis: a loop per row (the loop below pays its setup per element)
    for (std::size_t o = 0; o < outer; ++o) result.data()[o] = reduce_row(x.data() + o * n, n, combine);
    return result;
  }
  for (std::size_t o = 0; o < outer; ++o) {
    const T* in = x.data() + o * n * inner;
    T* out = result.data() + o * inner;
    std::copy_n(in, inner, out);
    for (std::size_t k = 1; k < n; ++k)
      for (std::size_t i = 0; i < inner; ++i) out[i] = combine(out[i], in[k * inner + i]);
  }
  return result;
}

template <class T>
Array<T> sum_keepdims(const Array<T>& x, std::size_t axis) {
  return reduce_keepdims(x, axis, [](T a, T b) { return a + b; }, T(0));
}

template <class T>
Array<T> max_keepdims(const Array<T>& x, std::size_t axis) {
  // NaN wins, so that a NaN input shows in the result
  return reduce_keepdims(x, axis, [](T a, T b) { return (b > a || b != b) && a == a ? b : a; },
                         -std::numeric_limits<T>::infinity());
}

template <class T>
Array<T> logsumexp_keepdims(const Array<T>& x, std::size_t axis) {
  Array<T> m = max_keepdims(x, axis);
  m = xt::where(xt::isfinite(m), m, T(0));
  return m + xt::log(sum_keepdims<T>(xt::exp(x - m), axis));
}

namespace {
// x - (the maximum of its row) for rows of length n, or x itself in a row whose
// maximum is infinite. A NaN anywhere in a row makes its sum of e^x, and so the
// whole row, NaN: the maximum need not see it (std::max skips NaN, branch-free).
template <class T>
Array<T> minus_row_max(const Array<T>& x, std::size_t n) {
  Array<T> y = Array<T>::from_shape(x.shape());
  for (std::size_t r = 0, rows = x.size() / n; r < rows; ++r) {
    const T* in = x.data() + r * n;
    T m = in[0];
    for (std::size_t j = 1; j < n; ++j) m = std::max(m, in[j]);
    if (!std::isfinite(m)) m = T(0);
    T* out = y.data() + r * n;
    for (std::size_t j = 0; j < n; ++j) out[j] = in[j] - m;
  }
  return y;
}
}  // namespace

// Along the last axis (a row of class scores): row loops, and e^x over the
// whole buffer at once (vectorised); broadcasting a row's maximum back with
// xtensor's generic loops cost several times the arithmetic.
template <class T>
Array<T> log_softmax_of(const Array<T>& x, std::size_t axis) {
  const std::size_t n = x.shape()[axis];
  if (axis + 1 != x.dimension() || n == 0) return x - logsumexp_keepdims(x, axis);
  const std::size_t rows = x.size() / n;
  Array<T> y = minus_row_max(x, n);
  const Array<T> e = exp_of(y);
  Array<T> log_sums = Array<T>::from_shape({rows});
  for (std::size_t r = 0; r < rows; ++r) log_sums(r) = std::accumulate(e.data() + r * n, e.data() + (r + 1) * n, T(0));
  log_sums = xt::log(log_sums);  // vectorised, a row per lane
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < n; ++j) y.data()[r * n + j] -= log_sums(r);
  return y;
}

template <class T>
Array<T> softmax_of(const Array<T>& x, std::size_t axis) {
  const std::size_t n = x.shape()[axis];
  if (axis + 1 != x.dimension() || n == 0) return exp_of(log_softmax_of(x, axis));
  Array<T> y = minus_row_max(x, n);
  exp_of(y.data(), y.data(), y.size());
  for (std::size_t r = 0, rows = y.size() / n; r < rows; ++r) {
    T* row = y.data() + r * n;
    const T sum = std::accumulate(row, row + n, T(0));
    for (std::size_t j = 0; j < n; ++j) row[j] /= sum;
  }
  return y;
}

template <class T>
Array<T> log_softmax_vjp(const Array<T>& g, const Array<T>& y, std::size_t axis) {
  const std::size_t n = y.shape()[axis];
  if (axis + 1 != y.dimension() || n == 0) return g - xt::exp(y) * sum_keepdims(g, axis);
  Array<T> dx = exp_of(y);  // softmax, vectorised over the whole buffer
  for (std::size_t r = 0, rows = y.size() / n; r < rows; ++r) {
    const T* gr = g.data() + r * n;
    const T g_sum = std::accumulate(gr, gr + n, T(0));
    T* out = dx.data() + r * n;
    for (std::size_t j = 0; j < n; ++j) out[j] = gr[j] - out[j] * g_sum;
  }
  return dx;
}

template <class T>
Array<T> sum_to(const Array<T>& gradient, const Shape& shape) {
  const Shape& from = gradient.shape();
  if (same_shape(from, shape)) return gradient;
  if (from.size() < shape.size()) throw_gradient_shape(shape, from);
  const std::size_t lead = from.size() - shape.size();
  Array<T> summed;  // the first sum reads the gradient itself (no copy of it first)
  bool summing = false;
  for (std::size_t i = 0; i < from.size(); ++i) {
    const bool broadcast_axis = i < lead || (shape[i - lead] == 1 && from[i] != 1);
    if (broadcast_axis) {
      summed = sum_keepdims(summing ? summed : gradient, i);
      summing = true;
    } else if (shape[i - lead] != from[i]) {
      throw_gradient_shape(shape, from);
    }
  }
  if (!summing) summed = gradient;  // only axes of length 1 added or taken away
  summed.reshape(shape);
  return summed;
}

}  // namespace detail

namespace {

// The shape of x with axis kept as length 1.
Shape keepdims_shape(const Shape& shape, std::size_t axis) {
  Shape kept = shape;
  kept[axis] = 1;
  return kept;
}

// A reduced array as the op's result: drop the kept axis unless keepdims.
template <class T>
Array<T> finish_reduction(Array<T>&& reduced, std::size_t axis, bool keepdims) {
  if (!keepdims) {
    Shape dropped = reduced.shape();
    dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(axis));
    reduced.reshape(dropped);
  }
  return std::move(reduced);
}

// g of a reduction along axis, with the axis kept (length 1) so that it broadcasts against the input.
template <class T>
Variable<T> grad_keepdims(const Backward<T>& d, std::size_t axis) {
  return reshape(d.g, keepdims_shape(d.input(0).shape(), axis));
}

// g of a reduction along axis, repeated back over the axis to the input's shape
// (broadcast_to copies rows; a broadcasting multiply would take xtensor's slow path).
template <class T>
Variable<T> grad_broadcast(const Backward<T>& d, std::size_t axis) {
  return broadcast_to(grad_keepdims(d, axis), d.input(0).shape());
}

// An array seen as (outer, n, inner) around an axis: lane (o, i) is the n
// elements at o * n * inner + k * inner + i. The kernels below walk k outside
// and i inside, so that memory is read contiguously for any axis; along the
// last axis (inner = 1) they loop over each row instead, as that form pays its
// inner loop's setup for every element.
struct Lanes {
  std::size_t outer, n, inner;
};
Lanes lanes_of(const Shape& shape, std::size_t axis) {
  Lanes l{1, shape[axis], 1};
  for (std::size_t d = 0; d < axis; ++d) l.outer *= shape[d];
  for (std::size_t d = axis + 1; d < shape.size(); ++d) l.inner *= shape[d];
  return l;
}

// The sum of all elements (of nothing: 0).
template <class T>
T total(const Array<T>& x) {
  return x.size() == 0 ? T(0) : detail::reduce_row(x.data(), x.size(), std::plus<T>());
}

template <class T>
Array<T> flat(const Array<T>& x) {
  Array<T> y = x;
  y.reshape({x.size()});
  return y;
}

template <class T>
Array<T> min_keepdims(const Array<T>& x, std::size_t axis) {
  // NaN wins, as in max_keepdims
  return detail::reduce_keepdims(x, axis, [](T a, T b) { return (b < a || b != b) && a == a ? b : a; },
                                 std::numeric_limits<T>::infinity());
}

template <class T>
Array<T> prod_keepdims(const Array<T>& x, std::size_t axis) {
  return detail::reduce_keepdims(x, axis, [](T a, T b) { return a * b; }, T(1));
}

// The share of a lane's gradient that each element gets from a max or min m
// (kept axis): 1 / (number of ties) where x == m, else 0 (NaN where m is NaN).
template <class T>
Array<T> tie_share(const Array<T>& x, const Array<T>& m, std::size_t axis) {
  const Lanes l = lanes_of(x.shape(), axis);
  Array<T> share = Array<T>::from_shape(x.shape());
  if (l.inner == 1) {
    for (std::size_t o = 0; o < l.outer; ++o) {
      const T* in = x.data() + o * l.n;
      T* s = share.data() + o * l.n;
      const T mo = m.data()[o];
      T count = 0;
      for (std::size_t k = 0; k < l.n; ++k) count += s[k] = in[k] == mo ? T(1) : T(0);
      for (std::size_t k = 0; k < l.n; ++k) s[k] /= count;
    }
    return share;
  }
  std::vector<T> count(l.inner);
  for (std::size_t o = 0; o < l.outer; ++o) {
    const T* in = x.data() + o * l.n * l.inner;
    const T* mo = m.data() + o * l.inner;
    T* s = share.data() + o * l.n * l.inner;
    std::fill(count.begin(), count.end(), T(0));
    for (std::size_t k = 0; k < l.n; ++k)
      for (std::size_t i = 0; i < l.inner; ++i) count[i] += s[k * l.inner + i] = in[k * l.inner + i] == mo[i] ? T(1) : T(0);
    for (std::size_t k = 0; k < l.n; ++k)
      for (std::size_t i = 0; i < l.inner; ++i) s[k * l.inner + i] /= count[i];
  }
  return share;
}

// max and min share everything but the kernel.
template <class T>
using Extremum = Array<T> (*)(const Array<T>&, std::size_t);

template <class T>
Variable<T> extremum_all(const OpInfo& op, Extremum<T> kernel, const Variable<T>& x) {
  if (x.size() == 0)
    throw ShapeError(std::string(op.name) + ": the input is empty (shape " + to_string(x.shape()) + ")");
  return record<T>(op, Array<T>(kernel(flat(x.value()), 0)(0)), {x}, [](Backward<T>& d) {
    const Array<T>& x = d.input(0).value();
    Array<T> share = tie_share(flat(x), Array<T>(d.output().value()), 0);  // constant: max'' = 0
    share.reshape(x.shape());
    d.add_grad(0, broadcast_to(d.g, x.shape()) * Variable<T>(std::move(share)));
  });
}

template <class T>
Variable<T> extremum_axis(const OpInfo& op, const char* name, Extremum<T> kernel, const Variable<T>& x, long axis,
                          bool keepdims) {
  const std::size_t ax = normalize_axis(name, axis, x.dimension());
  if (x.shape()[ax] == 0)
    throw ShapeError(std::string(name) + ": axis " + std::to_string(ax) + " has length 0 (shape " +
                     to_string(x.shape()) + ")");
  return record<T>(op, finish_reduction(kernel(x.value(), ax), ax, keepdims), {x}, [ax](Backward<T>& d) {
    const Array<T>& x = d.input(0).value();
    Variable<T> share(tie_share(x, d.output().value(), ax));  // m's layout is the same with or without the kept axis
    d.add_grad(0, grad_broadcast(d, ax) * share);
  });
}

// Axes in [-rank, rank) to sorted axes in [0, rank), or a ShapeError naming the function called.
std::vector<std::size_t> normalize_axes(const char* name, const Axes& axes, std::size_t rank) {
  std::vector<std::size_t> result;
  for (long a : axes) result.push_back(normalize_axis(name, a, rank));
  std::sort(result.begin(), result.end());
  for (std::size_t i = 1; i < result.size(); ++i)
    if (result[i] == result[i - 1]) {
      std::string list;
      for (long a : axes) list += (list.empty() ? "" : ", ") + std::to_string(a);
      throw ShapeError(std::string(name) + ": axis " + std::to_string(result[i]) + " is repeated in (" + list +
                       ") for a tensor of rank " + std::to_string(rank));
    }
  return result;
}

Shape kept_axes_shape(const Shape& shape, const std::vector<std::size_t>& axes) {
  Shape kept = shape;
  for (std::size_t a : axes) kept[a] = 1;
  return kept;
}

Shape dropped_axes_shape(const Shape& shape, const std::vector<std::size_t>& axes) {
  Shape dropped;
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (!std::binary_search(axes.begin(), axes.end(), d)) dropped.push_back(shape[d]);
  return dropped;
}

// x (without the kept axes if keepdims is false) repeated back over `axes` to
// `shape`, one axis at a time: each step is broadcast_to's plain row copy.
template <class T>
Variable<T> broadcast_over_axes(const Variable<T>& g, const Shape& shape, const std::vector<std::size_t>& axes) {
  Shape at = kept_axes_shape(shape, axes);
  Variable<T> y = reshape(g, at);
  for (std::size_t a : axes) {
    at[a] = shape[a];
    y = broadcast_to(y, at);
  }
  return y;
}

// An array of the shape `kept` (length 1 on the reduced axes) repeated to `shape`.
template <class T>
Array<T> repeat_to(const Array<T>& kept, const Shape& shape) {
  Array<T> full = Array<T>::from_shape(shape);
  xt::noalias(full) = xt::broadcast(kept, shape);
  return full;
}

// max or min over several axes: the kernel applied axis by axis (a NaN still wins).
template <class T>
Variable<T> extremum_axes(const OpInfo& op, const char* name, Extremum<T> kernel, const Variable<T>& x,
                          const Axes& axes, bool keepdims) {
  const std::vector<std::size_t> ax = normalize_axes(name, axes, x.dimension());
  for (std::size_t a : ax)
    if (x.shape()[a] == 0)
      throw ShapeError(std::string(name) + ": axis " + std::to_string(a) + " has length 0 (shape " +
                       to_string(x.shape()) + ")");
  if (ax.empty()) return x;
  Array<T> y = x.value();
  for (std::size_t a : ax) y = kernel(y, a);
  if (!keepdims) y.reshape(dropped_axes_shape(x.shape(), ax));
  return record<T>(op, std::move(y), {x}, [ax](Backward<T>& d) {
    const Array<T>& x = d.input(0).value();
    Array<T> m = d.output().value();
    m.reshape(kept_axes_shape(x.shape(), ax));
    Array<T> share = xt::cast<T>(xt::equal(x, repeat_to(m, x.shape())));  // constant: max'' = 0
    Array<T> count = share;
    for (std::size_t a : ax) count = detail::sum_keepdims(count, a);
    share /= repeat_to(count, x.shape());
    d.add_grad(0, broadcast_over_axes(d.g, x.shape(), ax) * Variable<T>(std::move(share)));
  });
}

// Whether correction is finite, else an invalid_argument naming the op.
void check_correction(const char* name, double correction) {
  if (!std::isfinite(correction))
    throw std::invalid_argument(std::string(name) + ": the correction must be finite, got " +
                                detail::number(correction));
}

// sum (x - mean)^2 / max(0, n - correction) along axis, the axis kept; two passes (mean first).
template <class T>
Array<T> var_keepdims(const Array<T>& x, std::size_t axis, double correction) {
  const Lanes l = lanes_of(x.shape(), axis);
  Array<T> m = detail::sum_keepdims(x, axis);
  for (T& v : m) v /= T(l.n);
  Array<T> ss = xt::zeros<T>(m.shape());
  if (l.inner == 1)
    for (std::size_t o = 0; o < l.outer; ++o) {
      const T* in = x.data() + o * l.n;
      const T mo = m.data()[o];
      T acc[4] = {0, 0, 0, 0};  // four partial sums, as in reduce_row
      std::size_t k = 0;
      for (; k + 4 <= l.n; k += 4)
        for (std::size_t j = 0; j < 4; ++j) acc[j] += (in[k + j] - mo) * (in[k + j] - mo);
      for (; k < l.n; ++k) acc[0] += (in[k] - mo) * (in[k] - mo);
      ss.data()[o] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
  else
    for (std::size_t o = 0; o < l.outer; ++o) {
      const T* in = x.data() + o * l.n * l.inner;
      const T* mo = m.data() + o * l.inner;
      T* out = ss.data() + o * l.inner;
      for (std::size_t k = 0; k < l.n; ++k)
        for (std::size_t i = 0; i < l.inner; ++i) {
          const T dev = in[k * l.inner + i] - mo[i];
          out[i] += dev * dev;
        }
    }
  const T divisor = T(std::max(0.0, double(l.n) - correction));
  for (T& v : ss) v /= divisor;  // 0 / 0 = NaN for n = 0 or a single element, as NumPy
  return ss;
}

// dvar/dx along axis without the factor g: 2 (x - mean) / max(0, n - correction), in ops.
template <class T>
Variable<T> var_direction(const Variable<T>& x, std::size_t ax, double correction) {
  const std::size_t n = x.shape()[ax];
  const T divisor = T(std::max(0.0, double(n) - correction));
  return (x - broadcast_to(mean(x, long(ax), true), x.shape())) * (T(2) / divisor);
}

// g / s where s != 0 and 0 where s == 0, with no 0 / 0 (NaN) even in its own
// derivative: s is replaced by 1 where it is 0 before dividing.
template <class T>
Variable<T> div_or_zero(const Variable<T>& g, const Variable<T>& s) {
  const xt::xarray<bool> nonzero = xt::not_equal(s.value(), T(0));
  return autodiff::where(nonzero, g / autodiff::where(nonzero, s, T(1)), T(0));
}

template <class T>
Variable<T> sign_of(const Array<T>& x) {
  Array<T> s = Array<T>::from_shape(x.shape());
  std::transform(x.begin(), x.end(), s.begin(), [](T v) { return v > 0 ? T(1) : v < 0 ? T(-1) : T(0); });
  return Variable<T>(std::move(s));
}

// The p-norm of x along axis, kept: the sum (or max) of |x|^p, then the root.
// For p > 1 each lane is scaled by its max |x| = m first, m (sum (|x| / m)^p)^(1/p)
// (as hypot and BLAS nrm2 do): |x|^p alone overflows or underflows far inside
// the range (float p = 2: inf from |x| = 2e19, 0 below 1e-23).
template <class T>
Array<T> norm_keepdims(const Array<T>& x, std::size_t axis, double p) {
  Array<T> t = Array<T>::from_shape(x.shape());
  std::transform(x.begin(), x.end(), t.begin(), [](T v) { return std::abs(v); });
  if (std::isinf(p)) return detail::max_keepdims(t, axis);
  if (p == 1) return detail::sum_keepdims(t, axis);
  const Array<T> m = detail::max_keepdims(t, axis);  // NaN wins; -inf for an empty lane
  const Lanes l = lanes_of(x.shape(), axis);
  const T tp = T(p);
  for (std::size_t o = 0; o < l.outer; ++o)
    for (std::size_t k = 0; k < l.n; ++k) {
      T* row = t.data() + (o * l.n + k) * l.inner;
      const T* mo = m.data() + o * l.inner;
      for (std::size_t i = 0; i < l.inner; ++i) {
        const T r = row[i] / mo[i];  // in [0, 1]; NaN where m is 0 or inf (that lane is m itself, below)
        row[i] = p == 2 ? r * r : std::pow(r, tp);
      }
    }
  Array<T> s = detail::sum_keepdims(t, axis);
  for (std::size_t j = 0; j < s.size(); ++j) {
    const T mj = m.data()[j];
    T& v = s.data()[j];
    if (l.n == 0)
      v = T(0);
    else if (mj == T(0) || std::isinf(mj) || std::isnan(mj))
      v = mj;
    else
      v = mj * (p == 2 ? std::sqrt(v) : std::pow(v, T(1) / tp));
  }
  return s;
}

void check_p(double p) {
  if (!(p >= 1))
    throw std::invalid_argument("norm: p must be >= 1 or inf, got " + detail::number(p));
}

// norm's VJP along axis: g (kept axis) and y the norm (kept axis).
template <class T>
Variable<T> norm_vjp(const Variable<T>& x, const Variable<T>& g, const Variable<T>& y, std::size_t ax, double p) {
  const Shape& shape = x.shape();
  if (p == 1) return broadcast_to(g, shape) * sign_of(x.value());
  if (std::isinf(p)) {
    Array<T> share = tie_share<T>(xt::abs(x.value()), y.value(), ax);  // constant
    return broadcast_to(g, shape) * (sign_of(x.value()) * Variable<T>(std::move(share)));
  }
  // x / norm (in [-1, 1]) before g: g / norm and norm^(p-1) overflow for norms far inside the range
  const Variable<T> ratio = div_or_zero(x, broadcast_to(y, shape));
  if (p == 2) return broadcast_to(g, shape) * ratio;
  return broadcast_to(g, shape) * (sign_of(x.value()) * pow(abs(ratio), T(p - 1)));
}

// y[k] = x[0] + ... + x[k] along axis (reverse: x[k] + ... + x[n - 1]).
template <class T>
Array<T> running_sum(const Array<T>& x, std::size_t axis, bool reverse) {
  const Lanes l = lanes_of(x.shape(), axis);
  Array<T> y = Array<T>::from_shape(x.shape());
  if (l.inner == 1) {
    for (std::size_t o = 0; o < l.outer; ++o) {
      const T* in = x.data() + o * l.n;
      T* out = y.data() + o * l.n;
      T acc = 0;
      if (reverse)
        for (std::size_t k = l.n; k-- > 0;) out[k] = acc += in[k];
      else
        for (std::size_t k = 0; k < l.n; ++k) out[k] = acc += in[k];
    }
    return y;
  }
  for (std::size_t o = 0; o < l.outer; ++o) {
    const T* in = x.data() + o * l.n * l.inner;
    T* out = y.data() + o * l.n * l.inner;
    for (std::size_t step = 0; step < l.n; ++step) {
      const std::size_t k = reverse ? l.n - 1 - step : step;
      const T* src = in + k * l.inner;
      T* dst = out + k * l.inner;
      if (step == 0)
        std::copy_n(src, l.inner, dst);
      else {
        const T* prev = reverse ? dst + l.inner : dst - l.inner;
        for (std::size_t i = 0; i < l.inner; ++i) dst[i] = prev[i] + src[i];
      }
    }
  }
  return y;
}

// The first index of the best element of each lane, NaN first (NumPy's rule);
// better(a, b): a beats the best so far b.
template <class T, class Better>
xt::xarray<std::int64_t> arg_best(const Array<T>& x, std::size_t axis, Better better) {
  const Lanes l = lanes_of(x.shape(), axis);
  xt::xarray<std::int64_t> index = xt::zeros<std::int64_t>(keepdims_shape(x.shape(), axis));
  if (l.inner == 1) {
    for (std::size_t o = 0; o < l.outer; ++o) {
      const T* in = x.data() + o * l.n;
      std::size_t at = 0;
      for (std::size_t k = 0; k < l.n; ++k) {
        if (in[k] != in[k]) {  // the first NaN
          at = k;
          break;
        }
        if (better(in[k], in[at])) at = k;
      }
      index.data()[o] = std::int64_t(at);
    }
    return index;
  }
  std::vector<T> best(l.inner);
  for (std::size_t o = 0; o < l.outer; ++o) {
    const T* in = x.data() + o * l.n * l.inner;
    std::int64_t* at = index.data() + o * l.inner;
    std::copy_n(in, l.inner, best.data());
    for (std::size_t k = 1; k < l.n; ++k)
      for (std::size_t i = 0; i < l.inner; ++i) {
        const T v = in[k * l.inner + i];
        if (best[i] == best[i] && (v != v || better(v, best[i]))) {  // once NaN, it stays
          best[i] = v;
          at[i] = std::int64_t(k);
        }
      }
  }
  return index;
}

template <class T, class Better>
xt::xarray<std::int64_t> arg_all(const char* name, const Variable<T>& x, Better better) {
  if (x.size() == 0) throw ShapeError(std::string(name) + ": the input is empty (shape " + to_string(x.shape()) + ")");
  xt::xarray<std::int64_t> index = arg_best(flat(x.value()), 0, better);
  index.reshape(Shape{});
  return index;
}

template <class T, class Better>
xt::xarray<std::int64_t> arg_axis(const OpInfo& op, const Variable<T>& x, long axis, bool keepdims, Better better) {
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  if (x.shape()[ax] == 0)
    throw ShapeError(std::string(op.name) + ": axis " + std::to_string(ax) + " has length 0 (shape " +
                     to_string(x.shape()) + ")");
  xt::xarray<std::int64_t> index = arg_best(x.value(), ax, better);
  if (!keepdims) {
    Shape dropped = index.shape();
    dropped.erase(dropped.begin() + static_cast<std::ptrdiff_t>(ax));
    index.reshape(dropped);
  }
  return index;
}

}  // namespace

template <class T>
Variable<T> sum(const Variable<T>& x) {
  static const OpInfo op{"sum", "dx = g (broadcast)"};
  return record<T>(op, Array<T>(total(x.value())), {x},
                   [](Backward<T>& d) { d.add_grad(0, broadcast_to(d.g, d.input(0).shape())); });
}

template <class T>
Variable<T> sum(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"sum_axis", "dx = g (broadcast along axis)"};
  const std::size_t ax = normalize_axis("sum", axis, x.dimension());
  return record<T>(op, finish_reduction(detail::sum_keepdims(x.value(), ax), ax, keepdims), {x},
                   [ax](Backward<T>& d) { d.add_grad(0, grad_broadcast(d, ax)); });
}

template <class T>
Variable<T> sum(const Variable<T>& x, const Axes& axes, bool keepdims) {
  static const OpInfo op{"sum_axes", "dx = g (broadcast along the axes)"};
  const std::vector<std::size_t> ax = normalize_axes("sum", axes, x.dimension());
  if (ax.empty()) return x;  // NumPy's axis=(): nothing reduced
  if (ax.size() == 1) return sum(x, long(ax[0]), keepdims);
  Array<T> y = detail::sum_keepdims(x.value(), ax[0]);  // (from x itself: no copy of it first)
  for (std::size_t i = 1; i < ax.size(); ++i) y = detail::sum_keepdims(y, ax[i]);
  if (!keepdims) y.reshape(dropped_axes_shape(x.shape(), ax));
  return record<T>(op, std::move(y), {x},
                   [ax](Backward<T>& d) { d.add_grad(0, broadcast_over_axes(d.g, d.input(0).shape(), ax)); });
}

template <class T>
Variable<T> sum_to(const Variable<T>& x, const Shape& shape) {
  static const OpInfo op{"sum_to", "dx = g (broadcast to x's shape)"};
  if (detail::same_shape(x.shape(), shape)) return x;
  if (!detail::same_shape(broadcast_shape(op, x.shape(), shape), x.shape()))
    throw ShapeError("sum_to: shape " + to_string(x.shape()) + " cannot be summed to " + to_string(shape) +
                     " (it must broadcast to x's shape)");
  return record<T>(op, detail::sum_to(x.value(), shape), {x},
                   [](Backward<T>& d) { d.add_grad(0, broadcast_to(d.g, d.input(0).shape())); });
}

template <class T>
Variable<T> mean(const Variable<T>& x) {
  static const OpInfo op{"mean", "dx = g / n (broadcast)"};
  if (x.size() == 0) throw ShapeError("mean: the input is empty");
  const T n = T(x.size());
  return record<T>(op, Array<T>(total(x.value()) / n), {x},
                   [n](Backward<T>& d) { d.add_grad(0, broadcast_to(d.g / n, d.input(0).shape())); });
}

template <class T>
Variable<T> mean(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"mean_axis", "dx = g / n (broadcast along axis)"};
  const std::size_t ax = normalize_axis("mean", axis, x.dimension());
  if (x.shape()[ax] == 0)
    throw ShapeError("mean: axis " + std::to_string(ax) + " has length 0 (shape " + to_string(x.shape()) + ")");
  const T n = T(x.shape()[ax]);
  return record<T>(op, finish_reduction<T>(detail::sum_keepdims(x.value(), ax) / n, ax, keepdims), {x},
                   [ax, n](Backward<T>& d) {
                     d.add_grad(0, broadcast_to(grad_keepdims(d, ax) / n, d.input(0).shape()));
                   });
}

template <class T>
Variable<T> mean(const Variable<T>& x, const Axes& axes, bool keepdims) {
  // sum over the axes, divided: recorded as sum_axes and div_scalar
  const std::vector<std::size_t> ax = normalize_axes("mean", axes, x.dimension());
  std::size_t n = 1;
  for (std::size_t a : ax) n *= x.shape()[a];
  if (n == 0) throw ShapeError("mean: the axes hold no elements (shape " + to_string(x.shape()) + ")");
  if (ax.empty()) return x;
  return sum(x, axes, keepdims) / T(n);
}

template <class T>
Variable<T> max(const Variable<T>& x) {
  static const OpInfo op{"max", "dx = g [x = max] / (number of maxima)"};
  return extremum_all<T>(op, detail::max_keepdims<T>, x);
}

template <class T>
Variable<T> max(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"max_axis", "dx = g [x = max] / (number of maxima), along axis"};
  return extremum_axis<T>(op, "max", detail::max_keepdims<T>, x, axis, keepdims);
}

template <class T>
Variable<T> min(const Variable<T>& x) {
  static const OpInfo op{"min", "dx = g [x = min] / (number of minima)"};
  return extremum_all<T>(op, min_keepdims<T>, x);
}

template <class T>
Variable<T> min(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"min_axis", "dx = g [x = min] / (number of minima), along axis"};
  return extremum_axis<T>(op, "min", min_keepdims<T>, x, axis, keepdims);
}

template <class T>
Variable<T> max(const Variable<T>& x, const Axes& axes, bool keepdims) {
  static const OpInfo op{"max_axes", "dx = g [x = max] / (number of maxima), over the axes"};
  if (axes.size() == 1) return max(x, axes[0], keepdims);
  return extremum_axes<T>(op, "max", detail::max_keepdims<T>, x, axes, keepdims);
}

template <class T>
Variable<T> min(const Variable<T>& x, const Axes& axes, bool keepdims) {
  static const OpInfo op{"min_axes", "dx = g [x = min] / (number of minima), over the axes"};
  if (axes.size() == 1) return min(x, axes[0], keepdims);
  return extremum_axes<T>(op, "min", min_keepdims<T>, x, axes, keepdims);
}

template <class T>
Variable<T> logsumexp(const Variable<T>& x, const Axes& axes, bool keepdims) {
  static const OpInfo op{"logsumexp_axes", "dx = g e^(x - y), over the axes"};
  const std::vector<std::size_t> ax = normalize_axes("logsumexp", axes, x.dimension());
  if (ax.empty()) return x;  // log e^x
  if (ax.size() == 1) return logsumexp(x, long(ax[0]), keepdims);
  Array<T> m = x.value();
  for (std::size_t a : ax) m = detail::max_keepdims(m, a);  // -inf over an empty axis
  for (T& v : m) v = std::isfinite(v) ? v : T(0);
  Array<T> e = detail::exp_of(Array<T>(x.value() - repeat_to(m, x.shape())));
  for (std::size_t a : ax) e = detail::sum_keepdims(e, a);
  Array<T> y = m + xt::log(e);
  if (!keepdims) y.reshape(dropped_axes_shape(x.shape(), ax));
  return record<T>(op, std::move(y), {x}, [ax](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    d.add_grad(0, broadcast_over_axes(d.g, x.shape(), ax) *
                      exp(x - broadcast_over_axes(d.output(), x.shape(), ax)));
  });
}

template <class T>
Variable<T> logsumexp(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"logsumexp", "dx = g e^(x - y) (the softmax of x)"};
  const std::size_t ax = normalize_axis("logsumexp", axis, x.dimension());
  return record<T>(op, finish_reduction(detail::logsumexp_keepdims(x.value(), ax), ax, keepdims), {x},
                   [ax](Backward<T>& d) {
                     const Variable<T> x = d.input(0);
                     const Variable<T> y = reshape(d.output(), keepdims_shape(x.shape(), ax));
                     d.add_grad(0, grad_keepdims(d, ax) * exp(x - y));
                   });
}

template <class T>
Variable<T> prod(const Variable<T>& x) {
  static const OpInfo op{"prod", "dx = g prod_others(x)"};
  const T p = x.size() == 0 ? T(1) : detail::reduce_row(x.value().data(), x.size(), std::multiplies<T>());
  return record<T>(op, Array<T>(p), {x}, [](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    const Variable<T> others = reshape(prod_others(reshape(x, {x.size()}), 0), x.shape());
    d.add_grad(0, broadcast_to(d.g, x.shape()) * others);
  });
}

template <class T>
Variable<T> prod(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"prod_axis", "dx = g prod_others(x) along axis"};
  const std::size_t ax = normalize_axis("prod", axis, x.dimension());
  return record<T>(op, finish_reduction(prod_keepdims(x.value(), ax), ax, keepdims), {x}, [ax](Backward<T>& d) {
    d.add_grad(0, grad_broadcast(d, ax) * prod_others(d.input(0), long(ax)));
  });
}

template <class T>
Variable<T> prod_others(const Variable<T>& x, long axis) {
  static const OpInfo op{"prod_others", "dx = prod_others_backward(g, x)"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  const Lanes l = lanes_of(x.shape(), ax);
  Array<T> y = Array<T>::from_shape(x.shape());
  if (l.inner == 1) {
    for (std::size_t o = 0; o < l.outer; ++o) {
      const T* in = x.value().data() + o * l.n;
      T* out = y.data() + o * l.n;
      T left = 1, right = 1;
      for (std::size_t k = 0; k < l.n; ++k) out[k] = left, left *= in[k];
      for (std::size_t k = l.n; k-- > 0;) out[k] *= right, right *= in[k];
    }
  } else {
    std::vector<T> acc(l.inner);
    for (std::size_t o = 0; o < l.outer; ++o) {
      const T* in = x.value().data() + o * l.n * l.inner;
      T* out = y.data() + o * l.n * l.inner;
      std::fill(acc.begin(), acc.end(), T(1));
      for (std::size_t k = 0; k < l.n; ++k)  // out[k] = x[0] ... x[k - 1]
        for (std::size_t i = 0; i < l.inner; ++i) {
          out[k * l.inner + i] = acc[i];
          acc[i] *= in[k * l.inner + i];
        }
      std::fill(acc.begin(), acc.end(), T(1));
      for (std::size_t k = l.n; k-- > 0;)  // times x[k + 1] ... x[n - 1]
        for (std::size_t i = 0; i < l.inner; ++i) {
          out[k * l.inner + i] *= acc[i];
          acc[i] *= in[k * l.inner + i];
        }
    }
  }
  return record<T>(op, std::move(y), {x}, [ax](Backward<T>& d) {
    d.add_grad(0, prod_others_backward(d.g, d.input(0), long(ax)));
  });
}

template <class T>
Variable<T> prod_others_backward(const Variable<T>& h, const Variable<T>& x, long axis) {
  static const OpInfo op{"prod_others_backward",
                         "dh = prod_others_backward(g, x); dx = P (A B - C - A b - B a + 2 a b), a = h / x, b = g / x, "
                         "A, B, C the lane sums of a, b, a b, P = prod_others(x)"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  if (!detail::same_shape(h.shape(), x.shape()))
    throw ShapeError("prod_others_backward: the gradient's shape " + to_string(h.shape()) + " differs from x's " +
                     to_string(x.shape()));
  // y[k] = Ls[k] Rp[k] + Lp[k] Rs[k], with Lp[k] the product of x before k and Ls[k]
  // the sum over i < k of h[i] times the product of x before k without i (Rp, Rs after k).
  const Lanes l = lanes_of(x.shape(), ax);
  Array<T> y = Array<T>::from_shape(x.shape());
  std::vector<T> lp(l.n * l.inner), ls(l.n * l.inner), p(l.inner), s(l.inner);
  for (std::size_t o = 0; o < l.outer; ++o) {
    const std::size_t base = o * l.n * l.inner;
    const T* xv = x.value().data() + base;
    const T* hv = h.value().data() + base;
    T* out = y.data() + base;
    std::fill(p.begin(), p.end(), T(1));
    std::fill(s.begin(), s.end(), T(0));
    for (std::size_t k = 0; k < l.n; ++k)
      for (std::size_t i = 0; i < l.inner; ++i) {
        const std::size_t at = k * l.inner + i;
        lp[at] = p[i];
        ls[at] = s[i];
        s[i] = s[i] * xv[at] + hv[at] * p[i];
        p[i] *= xv[at];
      }
    std::fill(p.begin(), p.end(), T(1));
    std::fill(s.begin(), s.end(), T(0));
    for (std::size_t k = l.n; k-- > 0;)
      for (std::size_t i = 0; i < l.inner; ++i) {
        const std::size_t at = k * l.inner + i;
        out[at] = ls[at] * p[i] + lp[at] * s[i];
        s[i] = s[i] * xv[at] + hv[at] * p[i];
        p[i] *= xv[at];
      }
  }
  return record<T>(op, std::move(y), {h, x}, [ax](Backward<T>& d) {
    const Variable<T> h = d.input(0), x = d.input(1);
    if (d.needs_grad(0)) d.add_grad(0, prod_others_backward(d.g, x, long(ax)));
    if (d.needs_grad(1)) {  // third derivatives of prod: sum over distinct i, k (not m) of a_i b_k, times P_m
      const Variable<T> a = h / x, b = d.g / x;
      const Variable<T> sa = sum(a, long(ax), true), sb = sum(b, long(ax), true), sab = sum(a * b, long(ax), true);
      const Variable<T> lane = broadcast_to(sa * sb - sab, x.shape());
      d.add_grad(1, prod_others(x, long(ax)) * (lane - a * sb - b * sa + T(2) * a * b));
    }
  });
}

template <class T>
Variable<T> var(const Variable<T>& x, VarOptions options) {
  static const OpInfo op{"var", "dx = g 2 (x - mean) / (n - correction)"};
  check_correction("var", options.correction);
  const double c = options.correction;
  return record<T>(op, Array<T>(var_keepdims(flat(x.value()), 0, c)(0)), {x}, [c](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    if (x.size() == 0) return d.add_grad(0, Variable<T>(Array<T>::from_shape(x.shape())));
    d.add_grad(0, broadcast_to(d.g, x.shape()) * reshape(var_direction(reshape(x, {x.size()}), 0, c), x.shape()));
  });
}

template <class T>
Variable<T> var(const Variable<T>& x, long axis, bool keepdims, VarOptions options) {
  static const OpInfo op{"var_axis", "dx = g 2 (x - mean) / (n - correction), along axis"};
  const std::size_t ax = normalize_axis("var", axis, x.dimension());
  check_correction("var", options.correction);
  const double c = options.correction;
  return record<T>(op, finish_reduction(var_keepdims(x.value(), ax, c), ax, keepdims), {x}, [ax, c](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    if (x.size() == 0) return d.add_grad(0, Variable<T>(Array<T>::from_shape(x.shape())));
    d.add_grad(0, grad_broadcast(d, ax) * var_direction(x, ax, c));
  });
}

template <class T>
Variable<T> stddev(const Variable<T>& x, VarOptions options) {
  static const OpInfo op{"stddev", "dx = g (x - mean) / ((n - correction) std), 0 where std = 0"};
  check_correction("stddev", options.correction);
  const double c = options.correction;
  Array<T> v(var_keepdims(flat(x.value()), 0, c)(0));
  v = xt::sqrt(v);
  return record<T>(op, std::move(v), {x}, [c](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    if (x.size() == 0) return d.add_grad(0, Variable<T>(Array<T>::from_shape(x.shape())));
    // var_direction is 2 (x - mean) / divisor, and dstd = dvar / (2 std)
    const Variable<T> dir = reshape(var_direction(reshape(x, {x.size()}), 0, c), x.shape());
    d.add_grad(0, broadcast_to(div_or_zero(d.g, T(2) * d.output()), x.shape()) * dir);
  });
}

template <class T>
Variable<T> stddev(const Variable<T>& x, long axis, bool keepdims, VarOptions options) {
  static const OpInfo op{"stddev_axis", "dx = g (x - mean) / ((n - correction) std), 0 where std = 0, along axis"};
  const std::size_t ax = normalize_axis("stddev", axis, x.dimension());
  check_correction("stddev", options.correction);
  const double c = options.correction;
  Array<T> v = var_keepdims(x.value(), ax, c);
  for (T& e : v) e = std::sqrt(e);
  return record<T>(op, finish_reduction(std::move(v), ax, keepdims), {x}, [ax, c](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    if (x.size() == 0) return d.add_grad(0, Variable<T>(Array<T>::from_shape(x.shape())));
    const Variable<T> s = reshape(d.output(), keepdims_shape(x.shape(), ax));
    d.add_grad(0, broadcast_to(div_or_zero(grad_keepdims(d, ax), T(2) * s), x.shape()) * var_direction(x, ax, c));
  });
}

template <class T>
Variable<T> norm(const Variable<T>& x, double p) {
  static const OpInfo op{"norm", "dx = g sign(x) |x|^(p-1) / norm^(p-1) (0 where norm = 0; inf: ties share)"};
  check_p(p);
  if (std::isinf(p) && x.size() == 0)
    throw ShapeError("norm: the inf-norm of an empty input (shape " + to_string(x.shape()) + ") is undefined");
  return record<T>(op, Array<T>(norm_keepdims(flat(x.value()), 0, p)(0)), {x}, [p](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    const Variable<T> y = reshape(d.output(), {1});
    d.add_grad(0, reshape(norm_vjp(reshape(x, {x.size()}), reshape(d.g, {1}), y, 0, p), x.shape()));
  });
}

template <class T>
Variable<T> norm(const Variable<T>& x, double p, long axis, bool keepdims) {
  static const OpInfo op{"norm_axis",
                         "dx = g sign(x) |x|^(p-1) / norm^(p-1) (0 where norm = 0; inf: ties share), along axis"};
  const std::size_t ax = normalize_axis("norm", axis, x.dimension());
  check_p(p);
  if (std::isinf(p) && x.shape()[ax] == 0)
    throw ShapeError("norm: the inf-norm over axis " + std::to_string(ax) + " of length 0 (shape " +
                     to_string(x.shape()) + ") is undefined");
  return record<T>(op, finish_reduction(norm_keepdims(x.value(), ax, p), ax, keepdims), {x}, [ax, p](Backward<T>& d) {
    const Variable<T> x = d.input(0);
    const Variable<T> y = reshape(d.output(), keepdims_shape(x.shape(), ax));
    d.add_grad(0, norm_vjp(x, grad_keepdims(d, ax), y, ax, p));
  });
}

namespace {
// x with the axes `ax` (sorted, in range) moved to the end and merged into one
// of their total length: a reduction over the last axis of it is the reduction
// over `ax`, in differentiable ops (permute, reshape). `result` gets the shape
// of that reduction (with the axes kept if keepdims).
template <class T>
Variable<T> axes_to_last(const Variable<T>& x, const std::vector<std::size_t>& ax, bool keepdims, Shape& result) {
  const Shape& shape = x.shape();
  std::vector<long> perm;
  Shape merged;
  std::size_t n = 1;
  for (std::size_t d = 0; d < shape.size(); ++d)
    if (!std::binary_search(ax.begin(), ax.end(), d)) {
      perm.push_back(long(d));
      merged.push_back(shape[d]);
    }
  for (std::size_t a : ax) {
    perm.push_back(long(a));
    n *= shape[a];
  }
  merged.push_back(n);
  result = keepdims ? kept_axes_shape(shape, ax) : dropped_axes_shape(shape, ax);
  bool identity = true;
  for (std::size_t d = 0; d < perm.size(); ++d) identity = identity && perm[d] == long(d);
  return reshape(identity ? x : permute(x, perm), merged);
}

// A reduction over several axes from its one-axis form reduce(x, axis, keepdims):
// that form itself for one axis, else applied to the last axis of axes_to_last(x).
template <class T, class Reduce>
Variable<T> over_axes(const char* name, const Variable<T>& x, const Axes& axes, bool keepdims, Reduce reduce) {
  const std::vector<std::size_t> ax = normalize_axes(name, axes, x.dimension());
  if (ax.size() == 1) return reduce(x, long(ax[0]), keepdims);
  Shape result;
  const Variable<T> lanes = axes_to_last(x, ax, keepdims, result);
  return reshape(reduce(lanes, -1L, false), result);
}
}  // namespace

template <class T>
Variable<T> detail::var_axes(const Variable<T>& x, const Axes& axes, bool keepdims, VarOptions options) {
  check_correction("var", options.correction);
  return over_axes("var", x, axes, keepdims, [options](const Variable<T>& v, long axis, bool kd) {
    return var(v, axis, kd, options);
  });
}

template <class T>
Variable<T> detail::stddev_axes(const Variable<T>& x, const Axes& axes, bool keepdims, VarOptions options) {
  check_correction("stddev", options.correction);
  return over_axes("stddev", x, axes, keepdims, [options](const Variable<T>& v, long axis, bool kd) {
    return stddev(v, axis, kd, options);
  });
}

template <class T>
Variable<T> norm(const Variable<T>& x, double p, const Axes& axes, bool keepdims) {
  check_p(p);
  std::size_t n = 1;
  for (std::size_t a : normalize_axes("norm", axes, x.dimension())) n *= x.shape()[a];
  if (std::isinf(p) && n == 0)
    throw ShapeError("norm: the inf-norm over axes holding no elements (shape " + to_string(x.shape()) +
                     ") is undefined");
  return over_axes("norm", x, axes, keepdims, [p](const Variable<T>& v, long axis, bool kd) {
    return norm(v, p, axis, kd);
  });
}

template <class T>
Variable<T> cumsum(const Variable<T>& x, long axis) {
  static const OpInfo op{"cumsum", "dx = cumsum_backward(g) (the reverse running sum)"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  return record<T>(op, running_sum(x.value(), ax, false), {x},
                   [ax](Backward<T>& d) { d.add_grad(0, cumsum_backward(d.g, long(ax))); });
}

template <class T>
Variable<T> cumsum_backward(const Variable<T>& g, long axis) {
  static const OpInfo op{"cumsum_backward", "dg = cumsum(gg)"};
  const std::size_t ax = normalize_axis(op, axis, g.dimension());
  return record<T>(op, running_sum(g.value(), ax, true), {g},
                   [ax](Backward<T>& d) { d.add_grad(0, cumsum(d.g, long(ax))); });
}

template <class T>
xt::xarray<std::int64_t> argmax(const Variable<T>& x) {
  return arg_all("argmax", x, std::greater<T>());
}

template <class T>
xt::xarray<std::int64_t> argmax(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"argmax", "(no gradient)"};
  return arg_axis(op, x, axis, keepdims, std::greater<T>());
}

template <class T>
xt::xarray<std::int64_t> argmin(const Variable<T>& x) {
  return arg_all("argmin", x, std::less<T>());
}

template <class T>
xt::xarray<std::int64_t> argmin(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"argmin", "(no gradient)"};
  return arg_axis(op, x, axis, keepdims, std::less<T>());
}

#define WENGERT_INSTANTIATE(T)                                                  \
  template Array<T> detail::sum_keepdims(const Array<T>&, std::size_t);         \
  template Array<T> detail::max_keepdims(const Array<T>&, std::size_t);         \
  template Array<T> detail::logsumexp_keepdims(const Array<T>&, std::size_t);   \
  template Array<T> detail::softmax_of(const Array<T>&, std::size_t);           \
  template Array<T> detail::log_softmax_of(const Array<T>&, std::size_t);       \
  template Array<T> detail::log_softmax_vjp(const Array<T>&, const Array<T>&, std::size_t); \
  template Variable<T> sum(const Variable<T>&);                                 \
  template Variable<T> sum(const Variable<T>&, long, bool);                     \
  template Variable<T> sum(const Variable<T>&, const Axes&, bool);              \
  template Variable<T> sum_to(const Variable<T>&, const Shape&);                \
  template Array<T> detail::sum_to(const Array<T>&, const Shape&);              \
  template Variable<T> mean(const Variable<T>&);                                \
  template Variable<T> mean(const Variable<T>&, long, bool);                    \
  template Variable<T> mean(const Variable<T>&, const Axes&, bool);             \
  template Variable<T> max(const Variable<T>&);                                 \
  template Variable<T> max(const Variable<T>&, long, bool);                     \
  template Variable<T> min(const Variable<T>&);                                 \
  template Variable<T> min(const Variable<T>&, long, bool);                     \
  template Variable<T> logsumexp(const Variable<T>&, long, bool);               \
  template Variable<T> logsumexp(const Variable<T>&, const Axes&, bool);        \
  template Variable<T> max(const Variable<T>&, const Axes&, bool);              \
  template Variable<T> min(const Variable<T>&, const Axes&, bool);              \
  template Variable<T> prod(const Variable<T>&);                                \
  template Variable<T> prod(const Variable<T>&, long, bool);                    \
  template Variable<T> prod_others(const Variable<T>&, long);                   \
  template Variable<T> prod_others_backward(const Variable<T>&, const Variable<T>&, long); \
  template Variable<T> var(const Variable<T>&, VarOptions);                     \
  template Variable<T> var(const Variable<T>&, long, bool, VarOptions);         \
  template Variable<T> stddev(const Variable<T>&, VarOptions);                     \
  template Variable<T> stddev(const Variable<T>&, long, bool, VarOptions);         \
  template Variable<T> norm(const Variable<T>&, double);                        \
  template Variable<T> norm(const Variable<T>&, double, long, bool);            \
  template Variable<T> norm(const Variable<T>&, double, const Axes&, bool);     \
  template Variable<T> detail::var_axes(const Variable<T>&, const Axes&, bool, VarOptions);    \
  template Variable<T> detail::stddev_axes(const Variable<T>&, const Axes&, bool, VarOptions); \
  template Variable<T> cumsum(const Variable<T>&, long);                        \
  template Variable<T> cumsum_backward(const Variable<T>&, long);               \
  template xt::xarray<std::int64_t> argmax(const Variable<T>&);                 \
  template xt::xarray<std::int64_t> argmax(const Variable<T>&, long, bool);     \
  template xt::xarray<std::int64_t> argmin(const Variable<T>&);                 \
  template xt::xarray<std::int64_t> argmin(const Variable<T>&, long, bool);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
