// Reductions: value, then backward closure. The gradient of a reduction is g
// broadcast back over the reduced axis (times 1/n for mean, a mask for max).
#include "reduction.hpp"

#include <cmath>
#include <limits>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xreducer.hpp>
#include <numeric>

#include "detail/kernels.hpp"
#include "detail/vector_math.hpp"
#include "elementwise.hpp"
#include "op.hpp"
#include "shape.hpp"

namespace autodiff {

namespace detail {

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
  Array<T> summed = gradient;
  for (std::size_t i = 0; i < from.size(); ++i) {
    const bool broadcast_axis = i < lead || (shape[i - lead] == 1 && from[i] != 1);
    if (broadcast_axis)
      summed = sum_keepdims(summed, i);
    else if (shape[i - lead] != from[i])
      throw_gradient_shape(shape, from);
  }
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

}  // namespace

template <class T>
Variable<T> sum(const Variable<T>& x) {
  static const OpInfo op{"sum", "dx = g (broadcast)"};
  return record<T>(op, Array<T>(std::accumulate(x.value().begin(), x.value().end(), T(0))), {x},
                   [](Backward<T>& d) { d.add_grad(0, broadcast_to(d.g, d.input(0).shape())); });
}

template <class T>
Variable<T> sum(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"sum_axis", "dx = g (broadcast along axis)"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  return record<T>(op, finish_reduction(detail::sum_keepdims(x.value(), ax), ax, keepdims), {x},
                   [ax](Backward<T>& d) { d.add_grad(0, broadcast_to(grad_keepdims(d, ax), d.input(0).shape())); });
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
  return record<T>(op, Array<T>(std::accumulate(x.value().begin(), x.value().end(), T(0)) / n), {x},
                   [n](Backward<T>& d) { d.add_grad(0, broadcast_to(d.g / n, d.input(0).shape())); });
}

template <class T>
Variable<T> mean(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"mean_axis", "dx = g / n (broadcast along axis)"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  if (x.shape()[ax] == 0) throw ShapeError("mean_axis: the axis has length 0");
  const T n = T(x.shape()[ax]);
  return record<T>(op, finish_reduction<T>(detail::sum_keepdims(x.value(), ax) / n, ax, keepdims), {x},
                   [ax, n](Backward<T>& d) {
                     d.add_grad(0, broadcast_to(grad_keepdims(d, ax) / n, d.input(0).shape()));
                   });
}

template <class T>
Variable<T> max(const Variable<T>& x) {
  static const OpInfo op{"max", "dx = g [x = max] / (number of maxima)"};
  if (x.size() == 0) throw ShapeError("max: the input is empty");
  Array<T> flat = x.value();
  flat.reshape({x.size()});
  return record<T>(op, Array<T>(detail::max_keepdims(flat, 0)(0)), {x}, [](Backward<T>& d) {
    const Array<T>& x = d.input(0).value();
    Array<T> share = xt::cast<T>(xt::equal(x, d.output().item()));  // constant: max'' = 0
    share /= std::accumulate(share.begin(), share.end(), T(0));
    d.add_grad(0, broadcast_to(d.g, x.shape()) * Variable<T>(std::move(share)));
  });
}

template <class T>
Variable<T> max(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"max_axis", "dx = g [x = max] / (number of maxima), along axis"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  if (x.shape()[ax] == 0) throw ShapeError("max_axis: the axis has length 0");
  return record<T>(op, finish_reduction(detail::max_keepdims(x.value(), ax), ax, keepdims), {x}, [ax](Backward<T>& d) {
    const Array<T>& x = d.input(0).value();
    Array<T> m = d.output().value();
    m.reshape(keepdims_shape(x.shape(), ax));
    Array<T> share = xt::cast<T>(xt::equal(x, m));
    share /= detail::sum_keepdims(share, ax);
    d.add_grad(0, grad_keepdims(d, ax) * Variable<T>(std::move(share)));
  });
}

template <class T>
Variable<T> logsumexp(const Variable<T>& x, long axis, bool keepdims) {
  static const OpInfo op{"logsumexp", "dx = g e^(x - y) (the softmax of x)"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  return record<T>(op, finish_reduction(detail::logsumexp_keepdims(x.value(), ax), ax, keepdims), {x},
                   [ax](Backward<T>& d) {
                     const Variable<T> x = d.input(0);
                     const Variable<T> y = reshape(d.output(), keepdims_shape(x.shape(), ax));
                     d.add_grad(0, grad_keepdims(d, ax) * exp(x - y));
                   });
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
  template Variable<T> sum_to(const Variable<T>&, const Shape&);                \
  template Array<T> detail::sum_to(const Array<T>&, const Shape&);              \
  template Variable<T> mean(const Variable<T>&);                                \
  template Variable<T> mean(const Variable<T>&, long, bool);                    \
  template Variable<T> max(const Variable<T>&);                                 \
  template Variable<T> max(const Variable<T>&, long, bool);                     \
  template Variable<T> logsumexp(const Variable<T>&, long, bool);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
