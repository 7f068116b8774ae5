// Shape ops: value, then backward closure. They move elements, so their
// gradients move g back (and add up where an element was used twice).
#include "shape.hpp"

#include <algorithm>
#include <numeric>

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xnoalias.hpp>

#include "detail/kernels.hpp"
#include "op.hpp"
#include "reduction.hpp"

namespace autodiff {

namespace {

using detail::AxisLanes;
using detail::lanes_around;
using detail::product;

// Elements of one row (everything after axis 0) of a row-major array.
std::size_t row_size(const Shape& shape) { return product(shape, 1); }

std::size_t checked_size(const OpInfo& op, const Shape& shape) { return autodiff::checked_size(op.name, shape); }

template <class T>
Variable<T> reshape_as(const OpInfo& op, const Variable<T>& x, const Shape& shape) {
  if (checked_size(op, shape) != x.size())
    throw ShapeError(std::string(op.name) + ": cannot reshape " + to_string(x.shape()) + " (" +
                     std::to_string(x.size()) + " elements) to " + to_string(shape));
  Array<T> y = x.value();
  y.reshape(shape);
  return record<T>(op, std::move(y), {x}, [](Backward<T>& d) { d.add_grad(0, reshape(d.g, d.input(0).shape())); });
}

// shape with a new axis of `length` at position axis (svector::insert draws a
// false -Warray-bounds from g++ 12).
Shape inserted(const Shape& shape, std::size_t axis, std::size_t length) {
  Shape out;
  for (std::size_t a = 0; a <= shape.size(); ++a) {
    if (a == axis) out.push_back(length);
    if (a < shape.size()) out.push_back(shape[a]);
  }
  return out;
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
    const AxisLanes v = lanes_around(shape, axis);
    for (std::size_t o = 0; o < v.outer; ++o)
      for (std::size_t k = 0; k < v.n; ++k) std::copy_n(in + o * v.inner, v.inner, y.data() + (o * v.n + k) * v.inner);
  } else {
    xt::noalias(y) = xt::broadcast(x.value(), shape);
  }
  return record<T>(op, std::move(y), {x}, [](Backward<T>& d) { d.add_grad(0, sum_to(d.g, d.input(0).shape())); });
}

namespace {

// x[start + k * step for k < count] along axis (indices already checked): the
// op behind slice, and the gradient of slice_backward. Without keep_axis (one
// index: select), the result has no such axis.
template <class T>
Variable<T> slice_raw(const Variable<T>& x, std::size_t ax, std::size_t start, long step, std::size_t count,
                      bool keep_axis = true) {
  static const OpInfo op{"slice", "dx = slice_backward(g, axis, start, length, step): g placed at the taken indices"};
  static const OpInfo select_op{"select", "dx = slice_backward(unsqueeze(g, axis), axis, index, length)"};
  const AxisLanes v = lanes_around(x.shape(), ax);
  Shape shape = x.shape();
  shape[ax] = count;
  if (!keep_axis) shape.erase(shape.begin() + long(ax));
  Array<T> y = Array<T>::from_shape(shape);
  const SliceRegion region{v.outer, v.n, v.inner, start, count, step};
  const T* in = x.value().data();
  T* out = y.data();
  detail::for_each_slice_run(region, [&](std::size_t to, std::size_t from, std::size_t n) {
    if (n == 1) out[to] = in[from];  // single elements: a copy_n call per element costs ~10x
    else std::copy_n(in + from, n, out + to);
  });
  return record<T>(keep_axis ? op : select_op, std::move(y), {x}, [ax, region, keep_axis](Backward<T>& d) {
    d.add_grad_slice(0, d.g, region, [&] {
      return slice_backward(keep_axis ? d.g : unsqueeze(d.g, long(ax)), long(ax), region.start, region.length,
                            region.step);
    });
  });
}

}  // namespace

template <class T>
Variable<T> slice(const Variable<T>& x, long axis, long start, long stop, long step) {
  static const OpInfo op{"slice", ""};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  if (step == 0) throw std::invalid_argument("slice: step 0 (along axis " + std::to_string(ax) + ")");
  // Python's slice.indices: count from the end, then clamp into the axis
  // ([0, n] going forward, [-1, n - 1] going backward, -1 meaning before the front).
  const long n = static_cast<long>(x.shape()[ax]);
  const long lo = step > 0 ? 0 : -1, hi = step > 0 ? n : n - 1;
  auto clamp = [&](long i) {
    if (i < 0) i = i < -n ? lo : i + n;  // i + n without overflow for i near LONG_MIN
    return std::clamp(i, lo, hi);
  };
  const long first = clamp(start), last = clamp(stop);
  std::size_t count = 0;
  if (step > 0 && last > first)
    count = (std::size_t(last - first) - 1) / std::size_t(step) + 1;
  else if (step < 0 && first > last)  // -step without overflow for LONG_MIN
    count = (std::size_t(first - last) - 1) / (std::size_t(-(step + 1)) + 1) + 1;
  return slice_raw(x, ax, count == 0 ? 0 : std::size_t(first), count == 0 ? 1 : step, count);
}

template <class T>
Variable<T> slice_backward(const Variable<T>& g, long axis, std::size_t start, std::size_t length, long step) {
  static const OpInfo op{"slice_backward", "dg = slice(gg, axis, start, start + step * (length of g), step)"};
  const std::size_t ax = normalize_axis(op, axis, g.dimension());
  if (step == 0) throw std::invalid_argument("slice_backward: step 0 (along axis " + std::to_string(ax) + ")");
  const std::size_t taken = g.shape()[ax];
  // The last index written, start + (taken - 1) * step, must lie in [0, length).
  const bool fits = taken == 0 ? start <= length
                               : start < length && (step > 0 ? (length - 1 - start) / std::size_t(step) >= taken - 1
                                                             : start / (std::size_t(-(step + 1)) + 1) >= taken - 1);
  if (!fits)
    throw ShapeError("slice_backward: " + std::to_string(taken) + " elements from " + std::to_string(start) +
                     " in steps of " + std::to_string(step) + " do not fit in length " + std::to_string(length) +
                     " (gradient of shape " + to_string(g.shape()) + ", axis " + std::to_string(ax) + ")");
  Shape shape = g.shape();
  shape[ax] = length;
  checked_size(op, shape);
  Array<T> y = xt::zeros<T>(shape);
  const AxisLanes v = lanes_around(shape, ax);
  detail::place_slice<false>(g.value().data(), y.data(), SliceRegion{v.outer, v.n, v.inner, start, taken, step});
  return record<T>(op, std::move(y), {g}, [ax, start, step, taken](Backward<T>& d) {
    d.add_grad(0, slice_raw(d.g, ax, start, step, taken));
  });
}

template <class T>
Variable<T> select(const Variable<T>& x, long axis, long index) {
  static const OpInfo op{"select", ""};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  const long n = long(x.shape()[ax]);
  if (index < -n || index >= n)
    throw ShapeError("select: index " + std::to_string(index) + " out of range for axis " + std::to_string(ax) +
                     " of length " + std::to_string(n) + " (shape " + to_string(x.shape()) + ")");
  return slice_raw(x, ax, std::size_t(index < 0 ? index + n : index), 1, 1, false);
}

template <class T>
std::vector<Variable<T>> unstack(const Variable<T>& x, long axis) {
  static const OpInfo op{"unstack", ""};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  std::vector<Variable<T>> parts;
  parts.reserve(x.shape()[ax]);
  for (std::size_t i = 0; i < x.shape()[ax]; ++i) parts.push_back(slice_raw(x, ax, i, 1, 1, false));
  return parts;
}

template <class T>
Variable<T> slice_rows(const Variable<T>& x, std::size_t begin, std::size_t end) {
  if (x.dimension() == 0 || begin > end || end > x.shape()[0])
    throw ShapeError("slice_rows: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") out of range for shape " + to_string(x.shape()));
  return slice_raw(x, 0, begin, 1, end - begin);
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
  for (std::size_t r : rows)
    if (r >= count)
      throw ShapeError("index_rows_backward: row " + std::to_string(r) + " out of range for " +
                       std::to_string(count) + " rows");
  const std::size_t width = row_size(g.shape());
  Shape shape = g.shape();
  shape[0] = count;
  checked_size(op, shape);
  Array<T> y = xt::zeros<T>(shape);
  for (std::size_t i = 0; i < rows.size(); ++i) {
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
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= classes)
      throw ShapeError("pick_backward: label " + std::to_string(labels[i]) + " (row " + std::to_string(i) +
                       ") out of range for " + std::to_string(classes) + " classes");
  const Shape shape{labels.size(), classes};
  checked_size(op, shape);
  Array<T> y = xt::zeros<T>(shape);
  for (std::size_t i = 0; i < labels.size(); ++i) {
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
      if (d.needs_grad(p)) d.add_grad(p, slice_raw(d.g, ax, start, 1, length));
      start += length;
    }
  });
}

template <class T>
Variable<T> concatenate(std::initializer_list<Variable<T>> parts, long axis) {
  return concatenate(std::vector<Variable<T>>(parts), axis);
}

template <class T>
Variable<T> stack(const std::vector<Variable<T>>& parts, long axis) {
  static const OpInfo op{"stack", "dx_i = reshape(slice(g, axis, i, i + 1), shape of x_i)"};
  if (parts.empty()) throw ShapeError("stack: no inputs");
  const Shape& first = parts[0].shape();
  const long rank = static_cast<long>(first.size());
  if (axis < -rank - 1 || axis > rank)
    throw ShapeError("stack: axis " + std::to_string(axis) + " is out of range [" + std::to_string(-rank - 1) + ", " +
                     std::to_string(rank) + "] for parts of shape " + to_string(first));
  const std::size_t ax = static_cast<std::size_t>(axis < 0 ? axis + rank + 1 : axis);
  for (const auto& part : parts)
    if (!detail::same_shape(part.shape(), first))
      throw ShapeError("stack: parts of shapes " + to_string(first) + " and " + to_string(part.shape()) +
                       " (all must have one shape)");
  const Shape shape = inserted(first, ax, parts.size());
  // Row-major: each part fills one contiguous chunk per index of the axes before `ax`.
  const std::size_t outer = product(first, 0, ax), chunk = product(first, ax);
  Array<T> y = Array<T>::from_shape(shape);
  T* target = y.data();
  for (std::size_t o = 0; o < outer; ++o)
    for (const auto& part : parts) {
      std::copy_n(part.value().data() + o * chunk, chunk, target);
      target += chunk;
    }
  return record<T>(op, std::move(y), parts, [ax](Backward<T>& d) {
    for (std::size_t p = 0; p < d.inputs(); ++p)
      if (d.needs_grad(p)) d.add_grad(p, reshape(slice_raw(d.g, ax, p, 1, 1), d.input(p).shape()));
  });
}

template <class T>
Variable<T> stack(std::initializer_list<Variable<T>> parts, long axis) {
  return stack(std::vector<Variable<T>>(parts), axis);
}

namespace {

// Consecutive slices of the given lengths (already checked to add up to the axis).
template <class T>
std::vector<Variable<T>> split_at(const Variable<T>& x, std::size_t ax, const std::vector<std::size_t>& sizes) {
  std::vector<Variable<T>> parts;
  parts.reserve(sizes.size());
  std::size_t start = 0;
  for (std::size_t size : sizes) {
    parts.push_back(slice_raw(x, ax, start, 1, size));
    start += size;
  }
  return parts;
}

// Equal sections of `size` (the last one shorter), at least one.
template <class T>
std::vector<Variable<T>> split_sections(const Variable<T>& x, std::size_t ax, std::size_t size) {
  const std::size_t n = x.shape()[ax];
  std::vector<std::size_t> sizes;
  if (n == 0) sizes.push_back(0);
  for (std::size_t start = 0; start < n; start += size) sizes.push_back(std::min(size, n - start));
  return split_at(x, ax, sizes);
}

}  // namespace

template <class T>
std::vector<Variable<T>> split(const Variable<T>& x, const std::vector<long>& sizes, long axis) {
  static const OpInfo op{"split", ""};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  const std::size_t n = x.shape()[ax];
  const auto wrong_total = [&](const std::string& total) {
    return ShapeError("split: section sizes (" + detail::joined(sizes) + ") add up to " + total + " the length " +
                      std::to_string(n) + " of axis " + std::to_string(ax) + " (shape " +
                      to_string(x.shape()) + ")");
  };
  std::vector<std::size_t> lengths;
  std::size_t total = 0;
  for (long size : sizes)
    if (size < 0) throw std::invalid_argument("split: negative section size " + std::to_string(size));
  for (long size : sizes) {
    if (std::size_t(size) > n - total) throw wrong_total("more than");  // checked against what is left: no overflow
    lengths.push_back(std::size_t(size));
    total += std::size_t(size);
  }
  if (total != n) throw wrong_total(std::to_string(total) + ", not");
  return split_at(x, ax, lengths);
}

template <class T>
std::vector<Variable<T>> split(const Variable<T>& x, std::initializer_list<long> sizes, long axis) {
  return split(x, std::vector<long>(sizes), axis);
}

template <class T>
std::vector<Variable<T>> split(const Variable<T>& x, long section_size, long axis) {
  static const OpInfo op{"split", ""};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  if (section_size < 0 || (section_size == 0 && x.shape()[ax] != 0))
    throw std::invalid_argument("split: section size " + std::to_string(section_size) + " for axis " +
                                std::to_string(ax) + " of length " + std::to_string(x.shape()[ax]) +
                                " (must be positive; 0 only for an empty axis)");
  return split_sections(x, ax, std::size_t(section_size));
}

template <class T>
std::vector<Variable<T>> chunk(const Variable<T>& x, long chunks, long axis) {
  static const OpInfo op{"chunk", ""};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  if (chunks <= 0) throw std::invalid_argument("chunk: " + std::to_string(chunks) + " chunks (must be positive)");
  const std::size_t n = x.shape()[ax];
  if (n == 0) return split_at(x, ax, std::vector<std::size_t>(std::size_t(chunks), 0));
  return split_sections(x, ax, (n - 1) / std::size_t(chunks) + 1);
}

template <class T>
Variable<T> squeeze(const Variable<T>& x) {
  static const OpInfo op{"squeeze", "dx = reshape(g, shape of x)"};
  Shape shape;
  for (std::size_t d : x.shape())
    if (d != 1) shape.push_back(d);
  return reshape_as(op, x, shape);
}

template <class T>
Variable<T> squeeze(const Variable<T>& x, long axis) {
  static const OpInfo op{"squeeze", "dx = reshape(g, shape of x)"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  if (x.shape()[ax] != 1)
    throw ShapeError("squeeze: axis " + std::to_string(axis) + " has length " + std::to_string(x.shape()[ax]) +
                     ", not 1 (shape " + to_string(x.shape()) + ")");
  Shape shape = x.shape();
  shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(ax));
  return reshape_as(op, x, shape);
}

template <class T>
Variable<T> unsqueeze(const Variable<T>& x, long axis) {
  static const OpInfo op{"unsqueeze", "dx = reshape(g, shape of x)"};
  const long rank = static_cast<long>(x.dimension());
  if (axis < -rank - 1 || axis > rank)
    throw ShapeError("unsqueeze: axis " + std::to_string(axis) + " is out of range [" + std::to_string(-rank - 1) +
                     ", " + std::to_string(rank) + "] for shape " + to_string(x.shape()));
  return reshape_as(op, x, inserted(x.shape(), std::size_t(axis < 0 ? axis + rank + 1 : axis), 1));
}

template <class T>
Variable<T> expand(const Variable<T>& x, const std::vector<long>& sizes) {
  static const OpInfo op{"expand", ""};
  const std::size_t rank = x.dimension();
  auto fail = [&](const std::string& what) {
    throw ShapeError("expand: shape " + to_string(x.shape()) + " to (" + detail::joined(sizes) +
                     (sizes.size() == 1 ? ",)" : ")") + ": " + what);
  };
  if (sizes.size() < rank) fail("fewer axes than the tensor has");
  const std::size_t lead = sizes.size() - rank;
  Shape shape(sizes.size());
  for (std::size_t a = 0; a < sizes.size(); ++a) {
    const long s = sizes[a];
    if (s == -1 && a < lead) fail("-1 on the new leading axis " + std::to_string(a));
    if (s < -1) fail("length " + std::to_string(s) + " on axis " + std::to_string(a));
    if (a < lead) {
      shape[a] = std::size_t(s);
      continue;
    }
    const std::size_t own = x.shape()[a - lead];
    shape[a] = s == -1 ? own : std::size_t(s);
    if (own != 1 && shape[a] != own)
      fail("axis " + std::to_string(a) + " of length " + std::to_string(own) + " is not 1 and cannot become " +
           std::to_string(s));
  }
  checked_size(op, shape);
  return broadcast_to(x, shape);
}

namespace {

// x's shape with leading 1s and reps with leading 1s, to one rank (np.tile's rule).
struct TilePlan {
  Shape in, reps;
};

template <class T>
Variable<T> tile_as(const OpInfo& op, const Variable<T>& x, const std::vector<long>& reps) {
  const std::size_t rank = std::max(reps.size(), x.dimension());
  TilePlan plan{Shape(rank, 1), Shape(rank, 1)};
  for (std::size_t a = 0; a < x.dimension(); ++a) plan.in[rank - x.dimension() + a] = x.shape()[a];
  for (std::size_t a = 0; a < reps.size(); ++a) {
    if (reps[a] < 0)
      throw std::invalid_argument(std::string(op.name) + ": negative count " + std::to_string(reps[a]) + " for axis " +
                                  std::to_string(a));
    plan.reps[rank - reps.size() + a] = std::size_t(reps[a]);
  }
  Shape shape(rank);
  for (std::size_t a = 0; a < rank; ++a)
    if (__builtin_mul_overflow(plan.in[a], plan.reps[a], &shape[a]))
      throw ShapeError(std::string(op.name) + ": the result has more than 2^64 elements");
  checked_size(op, shape);
  // Axis by axis from the last: each block of the axes tiled so far is copied
  // reps[a] times in a row (plain copies of contiguous blocks).
  Array<T> y = x.value();
  Shape now = plan.in;
  for (std::size_t a = rank; a-- > 0;) {
    if (plan.reps[a] == 1) continue;
    const std::size_t outer = product(now, 0, a), block = product(now, a);
    now[a] *= plan.reps[a];
    Array<T> next = Array<T>::from_shape(now);
    T* out = next.data();
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t k = 0; k < plan.reps[a]; ++k, out += block) std::copy_n(y.data() + o * block, block, out);
    y = std::move(next);
  }
  y.reshape(shape);
  return record<T>(op, std::move(y), {x}, [plan](Backward<T>& d) {
    // g as (reps0, d0, reps1, d1, ...), summed over the copies.
    Shape copies, kept;
    for (std::size_t a = 0; a < plan.in.size(); ++a) {
      copies.push_back(plan.reps[a]);
      copies.push_back(plan.in[a]);
      kept.push_back(1);
      kept.push_back(plan.in[a]);
    }
    d.add_grad(0, reshape(sum_to(reshape(d.g, copies), kept), d.input(0).shape()));
  });
}

}  // namespace

template <class T>
Variable<T> tile(const Variable<T>& x, const std::vector<long>& reps) {
  static const OpInfo op{"tile", "dx = sum of g over the copies"};
  return tile_as(op, x, reps);
}

template <class T>
Variable<T> tile(const Variable<T>& x, std::initializer_list<long> reps) {
  return tile(x, std::vector<long>(reps));
}

template <class T>
Variable<T> tile(const Variable<T>& x, long reps) {
  return tile(x, std::vector<long>{reps});
}

template <class T>
Variable<T> repeat(const Variable<T>& x, const std::vector<long>& repeats) {
  static const OpInfo op{"repeat", "dx = sum of g over the copies"};
  if (repeats.size() < x.dimension())
    throw ShapeError("repeat: " + std::to_string(repeats.size()) + " counts for shape " + to_string(x.shape()) +
                     " (needs at least one per axis)");
  return tile_as(op, x, repeats);
}

template <class T>
Variable<T> repeat_interleave(const Variable<T>& x, long repeats, long axis) {
  static const OpInfo op{"repeat_interleave", "dx = g summed over each element's copies"};
  const std::size_t ax = normalize_axis(op, axis, x.dimension());
  if (repeats < 0)
    throw std::invalid_argument("repeat_interleave: negative count " + std::to_string(repeats));
  const std::size_t r = std::size_t(repeats);
  const AxisLanes v = lanes_around(x.shape(), ax);
  Shape shape = x.shape();
  if (__builtin_mul_overflow(v.n, r, &shape[ax]))
    throw ShapeError("repeat_interleave: the result has more than 2^64 elements");
  checked_size(op, shape);
  Array<T> y = Array<T>::from_shape(shape);
  const T* in = x.value().data();
  T* out = y.data();
  if (v.inner == 1)
    for (std::size_t i = 0; i < v.outer * v.n; ++i, out += r) std::fill_n(out, r, in[i]);
  else
    for (std::size_t i = 0; i < v.outer * v.n; ++i, in += v.inner)
      for (std::size_t k = 0; k < r; ++k, out += v.inner) std::copy_n(in, v.inner, out);
  return record<T>(op, std::move(y), {x}, [ax, r](Backward<T>& d) {
    // the axis split into (n, r): sum over r
    d.add_grad(0, sum(reshape(d.g, inserted(d.input(0).shape(), ax + 1, r)), long(ax) + 1));
  });
}

template <class T>
Variable<T> repeat_interleave(const Variable<T>& x, long repeats) {
  // The checks of the axis form, before flatten records anything.
  if (repeats < 0)
    throw std::invalid_argument("repeat_interleave: negative count " + std::to_string(repeats));
  std::size_t n;
  if (__builtin_mul_overflow(x.size(), std::size_t(repeats), &n))
    throw ShapeError("repeat_interleave: the result has more than 2^64 elements");
  return repeat_interleave(flatten(x), repeats, 0);
}

namespace {

// Per-axis index maps: maps[a][j] is the index along axis a of the source that
// element j along axis a of the result reads, or -1 for a constant. Pad and
// flip gather by them; pad_backward scatters (adds) by them.
using AxisMaps = std::vector<std::vector<long>>;

// The last axis's map as runs: `length` elements from `at` read the source from
// `from` on (from -1: constant), so the interior of a pad is one plain copy.
struct Run {
  std::size_t at, length;
  long from;
};
std::vector<Run> runs_of(const std::vector<long>& map) {
  std::vector<Run> runs;
  for (std::size_t j = 0; j < map.size(); ++j) {
    if (!runs.empty()) {
      Run& last = runs.back();
      if ((last.from < 0 && map[j] < 0) || (last.from >= 0 && map[j] == last.from + long(last.length))) {
        ++last.length;
        continue;
      }
    }
    runs.push_back({j, 1, map[j] < 0 ? -1 : map[j]});
  }
  return runs;
}

// Calls row(out_row, source_row_offset or -1) for each row (the last axis) of
// the result of `maps`, in order. Needs rank >= 1 and a non-empty result.
template <class F>
void for_each_row(const Shape& source, const AxisMaps& maps, F row) {
  const std::size_t rank = maps.size(), width = maps[rank - 1].size();
  std::vector<std::size_t> stride(rank, 1), at(rank, 0);
  for (std::size_t a = rank - 1; a-- > 0;) stride[a] = stride[a + 1] * source[a + 1];
  std::size_t rows = 1;
  for (std::size_t a = 0; a + 1 < rank; ++a) rows *= maps[a].size();
  for (std::size_t r = 0; r < rows; ++r) {
    long offset = 0;
    for (std::size_t a = 0; a + 1 < rank && offset >= 0; ++a) {
      const long m = maps[a][at[a]];
      offset = m < 0 ? -1 : offset + m * long(stride[a]);
    }
    row(r * width, offset);
    for (std::size_t a = rank - 1; a-- > 0;) {  // the next row: an odometer over the outer axes
      if (++at[a] < maps[a].size()) break;
      at[a] = 0;
    }
  }
}

template <class T>
Array<T> gather_by_maps(const Array<T>& x, const AxisMaps& maps, T fill) {
  if (maps.empty()) return x;  // a 0-D array
  Shape shape;
  for (const auto& m : maps) shape.push_back(m.size());
  Array<T> y = Array<T>::from_shape(shape);
  if (y.size() == 0) return y;
  const std::vector<long>& last = maps.back();
  const std::vector<Run> runs = runs_of(last);
  const std::size_t width = last.size();
  const bool short_runs = runs.size() * 4 > width;  // a flipped last axis: element by element
  for_each_row(x.shape(), maps, [&](std::size_t out_at, long offset) {
    T* out = y.data() + out_at;
    if (offset < 0) {  // an outer index in a constant border
      std::fill_n(out, width, fill);
      return;
    }
    const T* in = x.data() + offset;
    if (short_runs) {
      for (std::size_t j = 0; j < width; ++j) out[j] = last[j] < 0 ? fill : in[last[j]];
      return;
    }
    for (const Run& run : runs)
      if (run.from < 0)
        std::fill_n(out + run.at, run.length, fill);
      else
        std::copy_n(in + run.from, run.length, out + run.at);
  });
  return y;
}

// The adjoint of gather_by_maps: zeros of `source` shape, each element of g added where it read it.
template <class T>
Array<T> scatter_add_by_maps(const Array<T>& g, const AxisMaps& maps, const Shape& source) {
  if (maps.empty()) return g;
  Array<T> y = xt::zeros<T>(source);
  if (g.size() == 0 || y.size() == 0) return y;
  const std::vector<long>& last = maps.back();
  const std::vector<Run> runs = runs_of(last);
  const bool short_runs = runs.size() * 4 > last.size();
  for_each_row(source, maps, [&](std::size_t g_at, long offset) {
    if (offset < 0) return;
    const T* in = g.data() + g_at;
    T* out = y.data() + offset;
    if (short_runs) {
      for (std::size_t j = 0; j < last.size(); ++j)
        if (last[j] >= 0) out[last[j]] += in[j];
      return;
    }
    for (const Run& run : runs)
      if (run.from >= 0)
        for (std::size_t k = 0; k < run.length; ++k) out[run.from + long(k)] += in[run.at + k];
  });
  return y;
}

// One {before, after} per axis, checked against the source shape; `name` is the op the user called.
std::vector<std::pair<std::size_t, std::size_t>> pad_widths(const char* name, const Shape& source,
                                                            const PadWidths& widths, PadMode mode) {
  const std::size_t rank = source.size();
  if (widths.size() != rank && widths.size() != 1 && !(rank == 0 && widths.empty()))
    throw ShapeError(std::string(name) + ": " + std::to_string(widths.size()) + " (before, after) pairs for shape " +
                     to_string(source) + " (give one per axis, or one for all)");
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t a = 0; a < rank; ++a) {
    const auto [before, after] = widths.size() == 1 ? widths[0] : widths[a];
    if (before < 0 || after < 0)
      throw std::invalid_argument(std::string(name) + ": negative width (" + std::to_string(before) + ", " +
                                  std::to_string(after) + ") for axis " + std::to_string(a));
    const std::size_t n = source[a], b = std::size_t(before), e = std::size_t(after);
    if (mode == PadMode::reflect && (b >= n || e >= n) && (b > 0 || e > 0))
      throw ShapeError(std::string(name) + ": reflect widths (" + std::to_string(b) + ", " + std::to_string(e) +
                       ") for axis " + std::to_string(a) + " of length " + std::to_string(n) +
                       " (each must be less than the axis length; shape " + to_string(source) + ")");
    if (mode == PadMode::edge && n == 0 && (b > 0 || e > 0))
      throw ShapeError(std::string(name) + ": edge mode cannot extend axis " + std::to_string(a) +
                       " of length 0 (shape " + to_string(source) + ")");
    out.emplace_back(b, e);
  }
  return out;
}

AxisMaps pad_maps(const Shape& source, const std::vector<std::pair<std::size_t, std::size_t>>& widths, PadMode mode) {
  AxisMaps maps(source.size());
  for (std::size_t a = 0; a < source.size(); ++a) {
    const long n = long(source[a]), b = long(widths[a].first);
    auto& m = maps[a];
    m.resize(source[a] + widths[a].first + widths[a].second);
    for (std::size_t j = 0; j < m.size(); ++j) {
      long i = long(j) - b;
      if (i < 0 || i >= n) {
        if (mode == PadMode::constant) i = -1;
        else if (mode == PadMode::reflect) i = i < 0 ? -i : 2 * (n - 1) - i;
        else i = std::clamp(i, 0L, n - 1);
      }
      m[j] = i;
    }
  }
  return maps;
}

PadWidths widths_of(const std::vector<std::pair<std::size_t, std::size_t>>& widths) {
  PadWidths out;
  for (const auto& [b, e] : widths) out.emplace_back(long(b), long(e));
  return out;
}

}  // namespace

template <class T>
Variable<T> pad(const Variable<T>& x, const PadWidths& widths, PadMode mode, std::type_identity_t<T> value) {
  static const OpInfo op{"pad", "dx = pad_backward(g, widths, mode): g folded back onto x"};
  const auto w = pad_widths("pad", x.shape(), widths, mode);
  Shape shape = x.shape();
  for (std::size_t a = 0; a < shape.size(); ++a)
    if (__builtin_add_overflow(shape[a], w[a].first, &shape[a]) ||
        __builtin_add_overflow(shape[a], w[a].second, &shape[a]))
      throw ShapeError("pad: the result has more than 2^64 elements");
  checked_size(op, shape);
  Array<T> y = gather_by_maps(x.value(), pad_maps(x.shape(), w, mode), T(value));
  return record<T>(op, std::move(y), {x}, [w, mode](Backward<T>& d) {
    d.add_grad(0, pad_backward(d.g, widths_of(w), mode));
  });
}

template <class T>
Variable<T> pad_backward(const Variable<T>& g, const PadWidths& widths, PadMode mode) {
  static const OpInfo op{"pad_backward", "dg = pad(gg, widths, mode, 0)"};
  const std::size_t rank = g.dimension();
  if (widths.size() != rank && widths.size() != 1 && !(rank == 0 && widths.empty()))
    throw ShapeError("pad_backward: " + std::to_string(widths.size()) + " (before, after) pairs for a gradient of shape " +
                     to_string(g.shape()) + " (give one per axis, or one for all)");
  Shape source = g.shape();
  for (std::size_t a = 0; a < rank; ++a) {
    const auto [before, after] = widths.size() == 1 ? widths[0] : widths[a];
    if (before < 0 || after < 0 || std::size_t(before) + std::size_t(after) > source[a])
      throw ShapeError("pad_backward: widths (" + std::to_string(before) + ", " + std::to_string(after) +
                       ") do not fit axis " + std::to_string(a) + " of the gradient of shape " + to_string(g.shape()));
    source[a] -= std::size_t(before) + std::size_t(after);
  }
  const auto w = pad_widths("pad_backward", source, widths, mode);
  Array<T> y = scatter_add_by_maps(g.value(), pad_maps(source, w, mode), source);
  return record<T>(op, std::move(y), {g}, [w, mode](Backward<T>& d) {
    d.add_grad(0, pad(d.g, widths_of(w), mode, T(0)));
  });
}

template <class T>
Variable<T> flip(const Variable<T>& x, const std::vector<long>& axes) {
  static const OpInfo op{"flip", "dx = flip(g, axes)"};
  std::vector<bool> flipped(x.dimension(), false);
  std::vector<long> normalized;
  for (long axis : axes) {
    const std::size_t ax = normalize_axis(op, axis, x.dimension());
    if (flipped[ax])
      throw ShapeError("flip: axis " + std::to_string(ax) + " given twice (shape " + to_string(x.shape()) + ")");
    flipped[ax] = true;
    normalized.push_back(long(ax));
  }
  AxisMaps maps(x.dimension());
  for (std::size_t a = 0; a < x.dimension(); ++a) {
    const long n = long(x.shape()[a]);
    maps[a].resize(x.shape()[a]);
    for (long j = 0; j < n; ++j) maps[a][std::size_t(j)] = flipped[a] ? n - 1 - j : j;
  }
  return record<T>(op, gather_by_maps(x.value(), maps, T(0)), {x},
                   [normalized](Backward<T>& d) { d.add_grad(0, flip(d.g, normalized)); });
}

template <class T>
Variable<T> flip(const Variable<T>& x, std::initializer_list<long> axes) {
  return flip(x, std::vector<long>(axes));
}

template <class T>
Variable<T> flip(const Variable<T>& x, long axis) {
  return flip(x, std::vector<long>{axis});
}

template <class T>
Variable<T> flip(const Variable<T>& x) {
  std::vector<long> all(x.dimension());
  std::iota(all.begin(), all.end(), 0L);
  return flip(x, all);
}

#define WENGERT_INSTANTIATE(T)                                                                \
  template Variable<T> reshape(const Variable<T>&, const Shape&);                             \
  template Variable<T> flatten(const Variable<T>&, std::size_t);                              \
  template Variable<T> broadcast_to(const Variable<T>&, const Shape&);                        \
  template Variable<T> slice(const Variable<T>&, long, long, long, long);                     \
  template Variable<T> slice_backward(const Variable<T>&, long, std::size_t, std::size_t, long); \
  template Variable<T> index_rows_backward(const Variable<T>&, const std::vector<std::size_t>&, std::size_t); \
  template Variable<T> pick_backward(const Variable<T>&, const std::vector<std::size_t>&, std::size_t);       \
  template Variable<T> slice_rows(const Variable<T>&, std::size_t, std::size_t);              \
  template Variable<T> index_rows(const Variable<T>&, const std::vector<std::size_t>&);       \
  template Variable<T> pick(const Variable<T>&, const std::vector<std::size_t>&);             \
  template Variable<T> concatenate(const std::vector<Variable<T>>&, long);                    \
  template Variable<T> stack(const std::vector<Variable<T>>&, long);                          \
  template Variable<T> concatenate(std::initializer_list<Variable<T>>, long);                 \
  template Variable<T> stack(std::initializer_list<Variable<T>>, long);                       \
  template std::vector<Variable<T>> split(const Variable<T>&, std::initializer_list<long>, long); \
  template Variable<T> tile(const Variable<T>&, std::initializer_list<long>);                 \
  template Variable<T> tile(const Variable<T>&, long);                                        \
  template Variable<T> flip(const Variable<T>&, std::initializer_list<long>);                 \
  template Variable<T> flip(const Variable<T>&, long);                                        \
  template std::vector<Variable<T>> split(const Variable<T>&, const std::vector<long>&, long); \
  template std::vector<Variable<T>> split(const Variable<T>&, long, long);                    \
  template Variable<T> select(const Variable<T>&, long, long);                                \
  template std::vector<Variable<T>> unstack(const Variable<T>&, long);                    \
  template std::vector<Variable<T>> chunk(const Variable<T>&, long, long);                    \
  template Variable<T> squeeze(const Variable<T>&);                                           \
  template Variable<T> squeeze(const Variable<T>&, long);                                     \
  template Variable<T> unsqueeze(const Variable<T>&, long);                                   \
  template Variable<T> expand(const Variable<T>&, const std::vector<long>&);                  \
  template Variable<T> tile(const Variable<T>&, const std::vector<long>&);                    \
  template Variable<T> repeat(const Variable<T>&, const std::vector<long>&);                  \
  template Variable<T> repeat_interleave(const Variable<T>&, long, long);                     \
  template Variable<T> repeat_interleave(const Variable<T>&, long);                           \
  template Variable<T> pad(const Variable<T>&, const PadWidths&, PadMode, T);                 \
  template Variable<T> pad_backward(const Variable<T>&, const PadWidths&, PadMode);           \
  template Variable<T> flip(const Variable<T>&, const std::vector<long>&);                    \
  template Variable<T> flip(const Variable<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
