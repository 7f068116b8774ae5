// Each op: its value, then its backward closure (g = dC/d out), side by side.
// Every op here has an adjoint (index_select / index_select_backward, gather /
// gather_backward, at / at_backward) that is its vector-Jacobian product, so
// derivatives of any order are defined. Indices are checked and made
// non-negative once, by the op the user called, and shared by the backward
// ops made from it.
#include "indexing.hpp"

#include <algorithm>
#include <memory>
#include <numeric>
#include <string>

#include "detail/kernels.hpp"
#include "op.hpp"

namespace autodiff {

namespace {

// index_select copies runs of `inner` elements of x seen as (outer, n, inner) around the axis.
using detail::AxisLanes;
using detail::lanes_around;

template <class T>
Array<T> zero_array(const Shape& shape) {
  Array<T> y = Array<T>::from_shape(shape);
  std::fill_n(y.data(), y.size(), T(0));
  return y;
}

std::string list_to_string(const std::vector<std::int64_t>& index) { return detail::joined(index); }

// i in [-length, length) made non-negative, or a ShapeError naming the index, the axis and its length.
std::size_t checked_index(const std::string& where, std::int64_t i, std::size_t axis, const Shape& shape,
                          const std::string& at = "") {
  const auto length = static_cast<std::int64_t>(shape[axis]);
  if (i < -length || i >= length)
    throw ShapeError(where + ": index " + std::to_string(i) + " out of range for axis " + std::to_string(axis) +
                     " of length " + std::to_string(length) + " (shape " + to_string(shape) + ")" + at);
  return static_cast<std::size_t>(i < 0 ? i + length : i);
}

// in[k] in [-n, n) made non-negative into out[k]; returns the position of the
// first entry out of range, or count if there is none. Branch-free (it
// vectorises): i + n computed unsigned is in [0, 2n) exactly for the valid i.
std::size_t normalize_indices(const std::int64_t* __restrict in, std::size_t count, std::size_t n,
                              std::size_t* __restrict out) {
  const std::uint64_t un = n, twice = 2 * un;
  std::uint64_t bad = 0;  // (an integer, not a bool: the loop vectorises)
  for (std::size_t k = 0; k < count; ++k) {
    const std::int64_t i = in[k];
    const std::uint64_t shifted = static_cast<std::uint64_t>(i) + un;
    bad |= shifted >= twice;
    out[k] = i < 0 ? shifted : static_cast<std::uint64_t>(i);
  }
  if (!bad) return count;
  std::size_t k = 0;
  while (static_cast<std::uint64_t>(in[k]) + un < twice) ++k;
  return k;
}

// ---- index_select ------------------------------------------------------------

// Checked, non-negative indices, shared by an op and the backward ops made from it.
using Indices = std::shared_ptr<const std::vector<std::size_t>>;

Indices checked_indices(const char* fn, const IndexList& indices, std::size_t axis, const Shape& shape) {
  auto checked = std::make_shared<std::vector<std::size_t>>(indices.size());
  const std::size_t k = normalize_indices(indices.data(), indices.size(), shape[axis], checked->data());
  if (k < indices.size()) checked_index(fn, indices[k], axis, shape, ", at indices[" + std::to_string(k) + "]");
  return checked;
}

const OpInfo index_select_op{"index_select", "dx = index_select_backward(g, axis, indices, length of x's axis)"};
const OpInfo index_select_backward_op{"index_select_backward", "dg = index_select(gg, axis, indices)"};

template <class T>
Variable<T> index_select_backward_impl(const Variable<T>& g, std::size_t ax, const Indices& indices,
                                       std::size_t length);

template <class T>
Variable<T> index_select_impl(const Variable<T>& x, std::size_t ax, const Indices& indices) {
  const AxisLanes v = lanes_around(x.shape(), ax);
  const std::size_t m = indices->size();
  const std::size_t* at = indices->data();
  Shape shape = x.shape();
  shape[ax] = m;
  Array<T> y = Array<T>::from_shape(shape);
  const T* in = x.value().data();
  T* out = y.data();
  // Plain copies: along the last axis one element per index from a row of x,
  // along the others a contiguous run of `inner` elements per index.
  if (v.inner == 1) {
    for (std::size_t o = 0; o < v.outer; ++o) {
      const T* row = in + o * v.n;
      T* to = out + o * m;
      for (std::size_t k = 0; k < m; ++k) to[k] = row[at[k]];
    }
  } else {
    for (std::size_t o = 0; o < v.outer; ++o)
      for (std::size_t k = 0; k < m; ++k)
        std::copy_n(in + (o * v.n + at[k]) * v.inner, v.inner, out + (o * m + k) * v.inner);
  }
  return record<T>(index_select_op, std::move(y), {x}, [ax, indices](Backward<T>& d) {
    d.add_grad(0, index_select_backward_impl(d.g, ax, indices, d.input(0).shape()[ax]));
  });
}

template <class T>
Variable<T> index_select_backward_impl(const Variable<T>& g, std::size_t ax, const Indices& indices,
                                       std::size_t length) {
  Shape shape = g.shape();
  shape[ax] = length;
  Array<T> y = zero_array<T>(shape);
  const AxisLanes v = lanes_around(shape, ax);
  const std::size_t m = indices->size();
  const std::size_t* at = indices->data();
  const T* in = g.value().data();
  T* out = y.data();
  if (v.inner == 1) {
    for (std::size_t o = 0; o < v.outer; ++o) {
      const T* from = in + o * m;
      T* row = out + o * length;
      for (std::size_t k = 0; k < m; ++k) row[at[k]] += from[k];  // a repeated index adds up
    }
  } else {
    for (std::size_t o = 0; o < v.outer; ++o)
      for (std::size_t k = 0; k < m; ++k) {
        const T* from = in + (o * m + k) * v.inner;
        T* to = out + (o * length + at[k]) * v.inner;
        for (std::size_t j = 0; j < v.inner; ++j) to[j] += from[j];
      }
  }
  return record<T>(index_select_backward_op, std::move(y), {g},
                   [ax, indices](Backward<T>& d) { d.add_grad(0, index_select_impl(d.g, ax, indices)); });
}

// ---- gather, scatter_add -------------------------------------------------------

// A checked index array: its shape and its entries made non-negative, row-major.
struct GatherIndex {
  Shape shape;
  std::size_t count = 0;
  std::unique_ptr<std::size_t[]> at;
};
using GatherIndexPtr = std::shared_ptr<const GatherIndex>;

// Checks index against x (same rank; off the axis, extents no larger than x's;
// entries in range) and, for scatter_add, src (same rank, extents no larger).
GatherIndexPtr checked_gather_index(const char* fn, const IndexArray& index, std::size_t ax, const Shape& x,
                                    const char* x_name, const Shape* src = nullptr, const char* src_name = "src") {
  const std::size_t r = x.size();
  const Shape index_shape(index.shape().begin(), index.shape().end());
  if (index.dimension() != r)
    throw ShapeError(std::string(fn) + ": index of shape " + to_string(index_shape) + " has rank " +
                     std::to_string(index.dimension()) + ", " + x_name + " of shape " + to_string(x) + " rank " +
                     std::to_string(r));
  if (src && src->size() != r)
    throw ShapeError(std::string(fn) + ": " + src_name + " of shape " + to_string(*src) + " has rank " +
                     std::to_string(src->size()) + ", " + x_name + " of shape " + to_string(x) + " rank " +
                     std::to_string(r));
  for (std::size_t d = 0; d < r; ++d) {
    if (d != ax && index_shape[d] > x[d])
      throw ShapeError(std::string(fn) + ": index of shape " + to_string(index_shape) + " is longer than " + x_name +
                       " of shape " + to_string(x) + " along axis " + std::to_string(d) + " (only axis " +
                       std::to_string(ax) + " may differ)");
    if (src && index_shape[d] > (*src)[d])
      throw ShapeError(std::string(fn) + ": index of shape " + to_string(index_shape) +
                       " is longer than " + src_name + " of shape " + to_string(*src) + " along axis " +
                       std::to_string(d));
  }
  auto checked = std::make_shared<GatherIndex>();
  checked->shape = index_shape;
  checked->count = index.size();
  checked->at = std::make_unique_for_overwrite<std::size_t[]>(index.size());  // no zero fill: all written
  const std::size_t k = normalize_indices(index.data(), index.size(), x[ax], checked->at.get());
  if (k < index.size()) {
    std::vector<std::int64_t> position(r);  // of the bad entry in index
    for (std::size_t d = r, rest = k; d-- > 0; rest /= index_shape[d])
      position[d] = static_cast<std::int64_t>(rest % index_shape[d]);
    checked_index(fn, index.data()[k], ax, x, ", at index[" + list_to_string(position) + "]");  // throws
  }
  return checked;
}

// Calls f(s, b) for every position p of index in row-major order: s is p's
// offset in an array of shape `small` (index's extents or larger), b the offset
// in an array of shape `big` of p with its axis coordinate replaced by index[p].
// An odometer over all axes but the last, and a plain loop along the last.
template <class F>
void for_each_position(const GatherIndex& index, std::size_t ax, const Shape& small, const Shape& big, F f) {
  if (index.count == 0) return;
  const std::size_t last = index.shape.size() - 1, len = index.shape[last];
  const std::vector<std::size_t> ss = detail::strides_of(small), bs = detail::strides_of(big);
  const std::size_t axis_stride = bs[ax];
  // The offsets of a row's start in small and in big (without the axis coordinate, which index gives).
  const Shape rows(index.shape.begin(), index.shape.end() - 1);
  const std::vector<std::size_t> s_steps(ss.begin(), ss.end() - 1);
  std::vector<std::size_t> b_steps(bs.begin(), bs.end() - 1);
  if (ax != last) b_steps[ax] = 0;
  detail::for_each_offset(rows, [&](std::size_t row, std::size_t s_base, std::size_t b_base) {
    const std::size_t* at = index.at.get() + row * len;
    if (ax == last)
      for (std::size_t k = 0; k < len; ++k) f(s_base + k, b_base + at[k]);
    else
      for (std::size_t k = 0; k < len; ++k) f(s_base + k, b_base + k + at[k] * axis_stride);
  }, s_steps, b_steps);
}

const OpInfo gather_op{"gather", "dx = gather_backward(g, axis, index, shape of x)"};
const OpInfo gather_backward_op{"gather_backward", "dg = gather(gg, axis, index)"};
const OpInfo scatter_add_op{"scatter_add", "dx = g, dsrc = gather(g, axis, index)"};

template <class T>
Variable<T> gather_backward_impl(const Variable<T>& g, std::size_t ax, const GatherIndexPtr& index,
                                 const Shape& shape);

// gather into an output of shape out_shape (index's extents or larger: zeros
// beyond them, which is what the gradient of scatter_add's src needs).
template <class T>
Variable<T> gather_impl(const Variable<T>& x, std::size_t ax, const GatherIndexPtr& index, const Shape& out_shape) {
  Array<T> y = detail::same_shape(out_shape, index->shape) ? Array<T>::from_shape(out_shape) : zero_array<T>(out_shape);
  const T* in = x.value().data();
  T* out = y.data();
  for_each_position(*index, ax, out_shape, x.shape(), [in, out](std::size_t s, std::size_t b) { out[s] = in[b]; });
  return record<T>(gather_op, std::move(y), {x}, [ax, index](Backward<T>& d) {
    d.add_grad(0, gather_backward_impl(d.g, ax, index, d.input(0).shape()));
  });
}

template <class T>
Variable<T> gather_backward_impl(const Variable<T>& g, std::size_t ax, const GatherIndexPtr& index,
                                 const Shape& shape) {
  Array<T> y = zero_array<T>(shape);
  const T* in = g.value().data();
  T* out = y.data();
  for_each_position(*index, ax, g.shape(), shape, [in, out](std::size_t s, std::size_t b) { out[b] += in[s]; });
  return record<T>(gather_backward_op, std::move(y), {g}, [ax, index](Backward<T>& d) {
    d.add_grad(0, gather_impl(d.g, ax, index, d.input(0).shape()));
  });
}

// ---- element access ------------------------------------------------------------

const OpInfo at_op{"at", "dx = at_backward(g, index, shape of x)"};
const OpInfo at_backward_op{"at_backward", "dg = at(gg, index)"};

// The sub-array at an index is one contiguous run of x: its offset, and its shape.
struct Position {
  std::size_t offset;
  Shape sub_shape;
};

// fn names the call in messages: "at: x(0, 5): index 5 out of range ...".
Position checked_position(const char* fn, const std::vector<std::int64_t>& index, const Shape& shape) {
  auto where = [&] { return std::string(fn) + ": x(" + list_to_string(index) + ")"; };  // only for errors
  const std::size_t k = index.size(), r = shape.size();
  if (k > r)
    throw ShapeError(where() + ": " + std::to_string(k) + " indices for shape " + to_string(shape) + " of rank " +
                     std::to_string(r));
  // offset = sum of index[d] * stride[d], strides from the last axis in
  std::size_t offset = 0, stride = 1;
  for (std::size_t d = r; d-- > 0;) {
    if (d < k) {
      const auto length = static_cast<std::int64_t>(shape[d]);
      std::int64_t i = index[d];
      if (i < -length || i >= length) checked_index(where(), i, d, shape);  // throws
      if (i < 0) i += length;
      offset += static_cast<std::size_t>(i) * stride;
    }
    stride *= shape[d];
  }
  return {offset, Shape(shape.begin() + static_cast<std::ptrdiff_t>(k), shape.end())};
}

template <class T>
Variable<T> at_backward_impl(const Variable<T>& g, std::size_t offset, const Shape& shape);

template <class T>
Variable<T> at_impl(const Variable<T>& x, std::size_t offset, const Shape& sub_shape) {
  Array<T> y = Array<T>::from_shape(sub_shape);
  std::copy_n(x.value().data() + offset, y.size(), y.data());
  // x[i] is the block of y.size() values at offset: a one-index slice of x seen as
  // (1, blocks, block size), whose gradient the sweep can add in place.
  const std::size_t block = std::max<std::size_t>(y.size(), 1);
  const SliceRegion region{1, std::max<std::size_t>(x.size(), 1) / block, y.size(), offset / block, 1, 1};
  return record<T>(at_op, std::move(y), {x}, [offset, region](Backward<T>& d) {
    d.add_grad_slice(0, d.g, region, [&] { return at_backward_impl(d.g, offset, d.input(0).shape()); });
  });
}

template <class T>
Variable<T> at_backward_impl(const Variable<T>& g, std::size_t offset, const Shape& shape) {
  Array<T> y = zero_array<T>(shape);
  std::copy_n(g.value().data(), g.size(), y.data() + offset);
  return record<T>(at_backward_op, std::move(y), {g}, [offset](Backward<T>& d) {
    d.add_grad(0, at_impl(d.g, offset, d.input(0).shape()));
  });
}

}  // namespace

template <class T>
Variable<T> index_select(const Variable<T>& x, long axis, const IndexList& indices) {
  const std::size_t ax = normalize_axis(index_select_op, axis, x.dimension());
  return index_select_impl(x, ax, checked_indices("index_select", indices, ax, x.shape()));
}

template <class T>
Variable<T> index_select(const Variable<T>& x, long axis, const std::vector<std::size_t>& indices) {
  IndexList signed_indices(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    if (indices[k] > std::size_t(INT64_MAX))
      throw ShapeError("index_select: index " + std::to_string(indices[k]) + " (entry " + std::to_string(k) +
                       ") is above 2^63 - 1, perhaps a negative number wrapped around (x of shape " +
                       to_string(x.shape()) + ")");
    signed_indices[k] = std::int64_t(indices[k]);
  }
  return index_select(x, axis, signed_indices);
}

template <class T>
Variable<T> index_select_backward(const Variable<T>& g, long axis, const IndexList& indices, std::size_t length) {
  const std::size_t ax = normalize_axis(index_select_backward_op, axis, g.dimension());
  if (g.shape()[ax] != indices.size())
    throw ShapeError("index_select_backward: " + std::to_string(indices.size()) + " indices for a gradient of shape " +
                     to_string(g.shape()) + " along axis " + std::to_string(ax));
  Shape shape = g.shape();
  shape[ax] = length;
  checked_size("index_select_backward", shape);
  return index_select_backward_impl(g, ax, checked_indices("index_select_backward", indices, ax, shape), length);
}

template <class T>
Variable<T> gather(const Variable<T>& x, long axis, const IndexArray& index) {
  const std::size_t ax = normalize_axis(gather_op, axis, x.dimension());
  GatherIndexPtr checked = checked_gather_index("gather", index, ax, x.shape(), "x");
  const Shape out_shape = checked->shape;
  return gather_impl(x, ax, checked, out_shape);
}

template <class T>
Variable<T> gather_backward(const Variable<T>& g, long axis, const IndexArray& index, const Shape& shape) {
  const std::size_t ax = normalize_axis(gather_backward_op, axis, shape.size());
  checked_size("gather_backward", shape);
  const Shape& g_shape = g.shape();
  return gather_backward_impl(g, ax, checked_gather_index("gather_backward", index, ax, shape, "the result", &g_shape, "g"),
                              shape);
}

template <class T>
Variable<T> scatter_add(const Variable<T>& x, long axis, const IndexArray& index, const Variable<T>& src) {
  const std::size_t ax = normalize_axis(scatter_add_op, axis, x.dimension());
  const Shape& src_shape = src.shape();
  GatherIndexPtr checked = checked_gather_index("scatter_add", index, ax, x.shape(), "x", &src_shape);
  Array<T> y = x.value();
  const T* in = src.value().data();
  T* out = y.data();
  for_each_position(*checked, ax, src_shape, x.shape(), [in, out](std::size_t s, std::size_t b) { out[b] += in[s]; });
  return record<T>(scatter_add_op, std::move(y), {x, src}, [ax, checked](Backward<T>& d) {
    if (d.needs_grad(0)) d.add_grad(0, d.g);
    if (d.needs_grad(1)) d.add_grad(1, gather_impl(d.g, ax, checked, d.input(1).shape()));
  });
}

template <class T>
Variable<T> at(const Variable<T>& x, const std::vector<std::int64_t>& index) {
  if (index.empty()) {
    x.node();  // an empty Variable throws here
    return x;  // x[()] is x itself, as NumPy
  }
  const Position p = checked_position("at", index, x.shape());
  return at_impl(x, p.offset, p.sub_shape);
}

template <class T>
Variable<T> at_backward(const Variable<T>& g, const std::vector<std::int64_t>& index, const Shape& shape) {
  checked_size("at_backward", shape);
  const Position p = checked_position("at_backward", index, shape);
  if (!detail::same_shape(g.shape(), p.sub_shape))
    throw ShapeError("at_backward: a gradient of shape " + to_string(g.shape()) + " for x(" + list_to_string(index) +
                     ") of shape " + to_string(p.sub_shape) + " (x of shape " + to_string(shape) + ")");
  return at_backward_impl(g, p.offset, shape);
}

namespace detail {

void throw_unsigned_index(const std::vector<std::string>& indices, const std::vector<bool>& too_large,
                          const Shape& shape) {
  std::string list;
  for (std::size_t i = 0; i < indices.size(); ++i) list += (i ? ", " : "") + indices[i];
  const std::size_t k = std::size_t(std::find(too_large.begin(), too_large.end(), true) - too_large.begin());
  const std::string where = "at: x(" + list + "): index " + indices[k] + " ";
  const std::string why = "; an unsigned index above 2^63 - 1, perhaps a negative one wrapped around";
  if (k >= shape.size())
    throw ShapeError(where + "for axis " + std::to_string(k) + " of shape " + to_string(shape) + " of rank " +
                     std::to_string(shape.size()) + why);
  throw ShapeError(where + "out of range for axis " + std::to_string(k) + " of length " + std::to_string(shape[k]) +
                   " (shape " + to_string(shape) + why + ")");
}

}  // namespace detail

#define WENGERT_INSTANTIATE(T)                                                                              \
  template Variable<T> index_select(const Variable<T>&, long, const IndexList&);                            \
  template Variable<T> index_select(const Variable<T>&, long, const std::vector<std::size_t>&);             \
  template Variable<T> index_select_backward(const Variable<T>&, long, const IndexList&, std::size_t);      \
  template Variable<T> gather(const Variable<T>&, long, const IndexArray&);                                 \
  template Variable<T> gather_backward(const Variable<T>&, long, const IndexArray&, const Shape&);          \
  template Variable<T> scatter_add(const Variable<T>&, long, const IndexArray&, const Variable<T>&);        \
  template Variable<T> at(const Variable<T>&, const std::vector<std::int64_t>&);                            \
  template Variable<T> at_backward(const Variable<T>&, const std::vector<std::int64_t>&, const Shape&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
