// Shape ops: value, then backward closure. They move elements, so their
// gradients move g back (and add up where an element was used twice).
#include "shape.hpp"

#include <algorithm>
#include <numeric>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xnoalias.hpp>

#include "op.hpp"
#include "reduction.hpp"

namespace autodiff {

namespace {

// The product of shape[from], ..., shape[to - 1] (to the end by default).
std::size_t product(const Shape& shape, std::size_t from = 0, std::size_t to = std::size_t(-1)) {
  const auto first = shape.begin() + static_cast<std::ptrdiff_t>(std::min(from, shape.size()));
  const auto last = shape.begin() + static_cast<std::ptrdiff_t>(std::min(to, shape.size()));
  return std::accumulate(first, last, std::size_t(1), std::multiplies<>());
}

// Elements of one row (everything after axis 0) of a row-major array.
std::size_t row_size(const Shape& shape) { return product(shape, 1); }

// The number of elements of shape, or a ShapeError if it does not fit in 64 bits.
std::size_t checked_size(const OpInfo& op, const Shape& shape) {
  std::size_t n = 1;
  if (std::find(shape.begin(), shape.end(), std::size_t(0)) != shape.end()) return 0;
  for (std::size_t d : shape)
    if (__builtin_mul_overflow(n, d, &n))
      throw ShapeError(std::string(op.name) + ": shape " + to_string(shape) + " has more than 2^64 elements");
  return n;
}

template <class T>
Variable<T> reshape_as(const OpInfo& op, const Variable<T>& x, const Shape& shape) {
  if (checked_size(op, shape) != x.size())
    throw ShapeError(std::string(op.name) + ": cannot reshape " + to_string(x.shape()) + " (" +
                     std::to_string(x.size()) + " elements) to " + to_string(shape));
  Array<T> y = x.value();
  y.reshape(shape);
  return record<T>(op, std::move(y), {x}, [](Backward<T>& d) { d.add_grad(0, reshape(d.g, d.input(0).shape())); });
}

// x viewed as (outer, n, inner) around an axis: the layout slices and concatenation copy in.
struct AxisView {
  std::size_t outer, n, inner;
};
AxisView around(const Shape& shape, std::size_t axis) {
  return {product(shape, 0, axis), shape[axis], product(shape, axis + 1)};
}

}  // namespace

template <class T>
Variable<T> reshape(const Variable<T>& x, const Shape& shape) {
  static const OpInfo op{"reshape", "dx = reshape(g, shape of x)"};
  return reshape_as(op, x, shape);
}

template <class T>
Variable<T> flatten(const Variable<T>& x, std::size_t start_axis) {
  static const OpInfo op{"flatten", "dx = reshape(g, shape of x)"};
  if (start_axis > x.dimension() || (x.dimension() > 0 && start_axis == x.dimension()))
    throw ShapeError("flatten: start axis " + std::to_string(start_axis) + " is out of range for shape " +
                     to_string(x.shape()));
  Shape shape(x.shape().begin(), x.shape().begin() + static_cast<std::ptrdiff_t>(start_axis));
  shape.push_back(product(x.shape(), start_axis));
  return reshape_as(op, x, shape);
}

template <class T>
Variable<T> broadcast_to(const Variable<T>& x, const Shape& shape) {
  static const OpInfo op{"broadcast_to", "dx = sum_to(g, shape of x)"};
  if (detail::same_shape(x.shape(), shape)) return x;
  checked_size(op, shape);
  const Shape joint = broadcast_shape(op, x.shape(), shape);
  if (!detail::same_shape(joint, shape))
    throw ShapeError("broadcast_to: shape " + to_string(x.shape()) + " cannot be broadcast to " + to_string(shape));
  Array<T> y = Array<T>::from_shape(shape);
  // The shapes a gradient needs (a scalar, a row repeated, an axis of length 1
  // repeated) as plain copies: xtensor's broadcasting assignment costs ~10x more.
  const std::size_t lead = shape.size() - x.dimension();
  std::size_t broadcast_axes = lead, axis = shape.size();
  for (std::size_t d = 0; d < x.dimension(); ++d)
    if (x.shape()[d] != shape[lead + d]) ++broadcast_axes, axis = lead + d;
  const T* in = x.value().data();
  if (x.size() == 1) {
    y.fill(*in);
  } else if (broadcast_axes == lead) {  // only new leading axes: the whole of x, repeated
    for (std::size_t at = 0; at < y.size(); at += x.size()) std::copy_n(in, x.size(), y.data() + at);
  } else if (broadcast_axes == 1 && lead == 0) {  // one axis of length 1 repeated n times
    const AxisView v = around(shape, axis);
    for (std::size_t o = 0; o < v.outer; ++o)
      for (std::size_t k = 0; k < v.n; ++k) std::copy_n(in + o * v.inner, v.inner, y.data() + (o * v.n + k) * v.inner);
  } else {
    xt::noalias(y) = xt::broadcast(x.value(), shape);
  }
  return record<T>(op, std::move(y), {x}, [](Backward<T>& d) { d.add_grad(0, sum_to(d.g, d.input(0).shape())); });
}

template <class T>
Variable<T> slice(const Variable<T>& x, long axis, std::size_t begin, std::size_t end) {
  static const OpInfo op{"slice", "dx = g placed at [begin, end) along axis, 0 elsewhere"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  if (begin > end || end > x.shape()[ax])
    throw ShapeError("slice: [" + std::to_string(begin) + ", " + std::to_string(end) + ") along axis " +
                     std::to_string(ax) + " is out of range for shape " + to_string(x.shape()));
  const AxisView v = around(x.shape(), ax);
  const std::size_t taken = end - begin;
  Shape shape = x.shape();
  shape[ax] = taken;
  Array<T> y = Array<T>::from_shape(shape);
  for (std::size_t o = 0; o < v.outer; ++o)
    std::copy_n(x.value().data() + (o * v.n + begin) * v.inner, taken * v.inner, y.data() + o * taken * v.inner);
  return record<T>(op, std::move(y), {x}, [ax, begin](Backward<T>& d) {
    d.add_grad(0, slice_backward(d.g, long(ax), begin, d.input(0).shape()[ax]));
  });
}

template <class T>
Variable<T> slice_backward(const Variable<T>& g, long axis, std::size_t begin, std::size_t length) {
  static const OpInfo op{"slice_backward", "dg = slice(gg, axis, begin, begin + length of g)"};
  const std::size_t ax = normalize_axis(op, axis, g.dimension());
  const std::size_t taken = g.shape()[ax];
  if (begin + taken > length)
    throw ShapeError("slice_backward: a slice of " + std::to_string(taken) + " at " + std::to_string(begin) +
                     " does not fit in length " + std::to_string(length));
  Shape shape = g.shape();
  shape[ax] = length;
  Array<T> y = xt::zeros<T>(shape);
  const AxisView v = around(shape, ax);
  for (std::size_t o = 0; o < v.outer; ++o)
    std::copy_n(g.value().data() + o * taken * v.inner, taken * v.inner, y.data() + (o * v.n + begin) * v.inner);
  return record<T>(op, std::move(y), {g}, [ax, begin, taken](Backward<T>& d) {
    d.add_grad(0, slice(d.g, long(ax), begin, begin + taken));
  });
}

template <class T>
Variable<T> slice_rows(const Variable<T>& x, std::size_t begin, std::size_t end) {
  if (x.dimension() == 0 || begin > end || end > x.shape()[0])
    throw ShapeError("slice_rows: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") out of range for shape " + to_string(x.shape()));
  return slice(x, 0, begin, end);
}

template <class T>
Variable<T> index_rows(const Variable<T>& x, const std::vector<std::size_t>& rows) {
  static const OpInfo op{"index_rows", "dx[rows[i]] += g[i]"};
  if (x.dimension() == 0) throw ShapeError("index_rows: needs at least one axis, got a scalar");
  for (std::size_t r : rows)
    if (r >= x.shape()[0])
      throw ShapeError("index_rows: row " + std::to_string(r) + " out of range for shape " + to_string(x.shape()));
  const std::size_t width = row_size(x.shape());
  Shape shape = x.shape();
  shape[0] = rows.size();
  Array<T> y = Array<T>::from_shape(shape);
  for (std::size_t i = 0; i < rows.size(); ++i)
    std::copy_n(x.value().data() + rows[i] * width, width, y.data() + i * width);
  return record<T>(op, std::move(y), {x}, [rows](Backward<T>& d) {
    d.add_grad(0, index_rows_backward(d.g, rows, d.input(0).shape()[0]));
  });
}

template <class T>
Variable<T> index_rows_backward(const Variable<T>& g, const std::vector<std::size_t>& rows, std::size_t count) {
  static const OpInfo op{"index_rows_backward", "dg = index_rows(gg, rows)"};
  if (g.dimension() == 0 || g.shape()[0] != rows.size())
    throw ShapeError("index_rows_backward: " + std::to_string(rows.size()) + " rows for a gradient of shape " +
                     to_string(g.shape()));
  const std::size_t width = row_size(g.shape());
  Shape shape = g.shape();
  shape[0] = count;
  Array<T> y = xt::zeros<T>(shape);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] >= count)
      throw ShapeError("index_rows_backward: row " + std::to_string(rows[i]) + " out of range for " +
                       std::to_string(count) + " rows");
    const T* from = g.value().data() + i * width;
    T* to = y.data() + rows[i] * width;
    for (std::size_t j = 0; j < width; ++j) to[j] += from[j];  // a repeated row adds up
  }
  return record<T>(op, std::move(y), {g}, [rows](Backward<T>& d) { d.add_grad(0, index_rows(d.g, rows)); });
}

template <class T>
Variable<T> pick(const Variable<T>& x, const std::vector<std::size_t>& labels) {
  static const OpInfo op{"pick", "dx[i, labels[i]] = g[i], 0 elsewhere"};
  if (x.dimension() != 2 || labels.size() != x.shape()[0])
    throw ShapeError("pick: needs a matrix with one row per label, got shape " + to_string(x.shape()) + " and " +
                     std::to_string(labels.size()) + " labels");
  const std::size_t classes = x.shape()[1];
  Array<T> y = Array<T>::from_shape({labels.size()});
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes)
      throw ShapeError("pick: label " + std::to_string(labels[i]) + " (row " + std::to_string(i) +
                       ") out of range for " + std::to_string(classes) + " classes");
    y(i) = x.value().data()[i * classes + labels[i]];
  }
  return record<T>(op, std::move(y), {x}, [labels, classes](Backward<T>& d) {
    d.add_grad(0, pick_backward(d.g, labels, classes));
  });
}

template <class T>
Variable<T> pick_backward(const Variable<T>& g, const std::vector<std::size_t>& labels, std::size_t classes) {
  static const OpInfo op{"pick_backward", "dg = pick(gg, labels)"};
  if (g.dimension() != 1 || g.size() != labels.size())
    throw ShapeError("pick_backward: " + std::to_string(labels.size()) + " labels for a gradient of shape " +
                     to_string(g.shape()));
  Array<T> y = xt::zeros<T>({labels.size(), classes});
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes)
      throw ShapeError("pick_backward: label " + std::to_string(labels[i]) + " (row " + std::to_string(i) +
                       ") out of range for " + std::to_string(classes) + " classes");
    y.data()[i * classes + labels[i]] = g.value()(i);
  }
  return record<T>(op, std::move(y), {g}, [labels](Backward<T>& d) { d.add_grad(0, pick(d.g, labels)); });
}

template <class T>
Variable<T> concatenate(const std::vector<Variable<T>>& parts, long axis) {
  static const OpInfo op{"concatenate", "dx_i = the slice of g that x_i filled"};
  if (parts.empty()) throw ShapeError("concatenate: no inputs");
  const Shape& first = parts[0].shape();
  const std::size_t ax = normalize_axis(op, axis, first.size());
  Shape shape = first;
  shape[ax] = 0;
  for (const auto& part : parts) {
    bool fits = part.dimension() == first.size();
    for (std::size_t d = 0; fits && d < first.size(); ++d) fits = d == ax || part.shape()[d] == first[d];
    if (!fits)
      throw ShapeError("concatenate: shapes " + to_string(first) + " and " + to_string(part.shape()) +
                       " differ outside axis " + std::to_string(ax));
    shape[ax] += part.shape()[ax];
  }
  // Row-major: each part fills one contiguous chunk per index of the axes before `ax`.
  const std::size_t outer = product(first, 0, ax);
  Array<T> y = Array<T>::from_shape(shape);
  T* target = y.data();
  for (std::size_t o = 0; o < outer; ++o)
    for (const auto& part : parts) {
      const std::size_t chunk = product(part.shape(), ax);
      std::copy_n(part.value().data() + o * chunk, chunk, target);
      target += chunk;
    }
  return record<T>(op, std::move(y), parts, [ax](Backward<T>& d) {
    std::size_t start = 0;  // where part p begins along the axis
    for (std::size_t p = 0; p < d.inputs(); ++p) {
      const std::size_t length = d.input(p).shape()[ax];
      if (d.needs_grad(p)) d.add_grad(p, slice(d.g, long(ax), start, start + length));
      start += length;
    }
  });
}

#define WENGERT_INSTANTIATE(T)                                                                \
  template Variable<T> reshape(const Variable<T>&, const Shape&);                             \
  template Variable<T> flatten(const Variable<T>&, std::size_t);                              \
  template Variable<T> broadcast_to(const Variable<T>&, const Shape&);                        \
  template Variable<T> slice(const Variable<T>&, long, std::size_t, std::size_t);             \
  template Variable<T> slice_backward(const Variable<T>&, long, std::size_t, std::size_t);    \
  template Variable<T> index_rows_backward(const Variable<T>&, const std::vector<std::size_t>&, std::size_t); \
  template Variable<T> pick_backward(const Variable<T>&, const std::vector<std::size_t>&, std::size_t);       \
  template Variable<T> slice_rows(const Variable<T>&, std::size_t, std::size_t);              \
  template Variable<T> index_rows(const Variable<T>&, const std::vector<std::size_t>&);       \
  template Variable<T> pick(const Variable<T>&, const std::vector<std::size_t>&);             \
  template Variable<T> concatenate(const std::vector<Variable<T>>&, long);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
