// Array kernels shared by several ops (not recorded on the tape).
#pragma once

#include <algorithm>
#include <array>
#include <utility>
#include <cstddef>
#include <string>
#include <vector>

#include "../variable.hpp"

namespace autodiff::detail {

// ---- index arithmetic shared by the shape, indexing and product ops ----------

// The product of shape[from], ..., shape[to - 1] (to the end by default; 1 for none).
inline std::size_t product(const Shape& shape, std::size_t from = 0, std::size_t to = std::size_t(-1)) {
  std::size_t n = 1;
  for (std::size_t d = from; d < to && d < shape.size(); ++d) n *= shape[d];
  return n;
}

// A row-major array seen as (outer, n, inner) around an axis: element k of lane
// (o, i) is at (o * n + k) * inner + i.
struct AxisLanes {
  std::size_t outer, n, inner;
};
inline AxisLanes lanes_around(const Shape& shape, std::size_t axis) {
  return {product(shape, 0, axis), shape[axis], product(shape, axis + 1)};
}

// Row-major strides of shape (in elements).
inline std::vector<std::size_t> strides_of(const Shape& shape) {
  std::vector<std::size_t> strides(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

// run(slice offset, array offset, n) for each run of n consecutive elements of a
// slice and of the array it was taken from (slice, slice_backward, and a slice's
// gradient added in place): one run per lane for step 1, else one per index.
template <class Run>
void for_each_slice_run(const SliceRegion& r, Run run) {
  for (std::size_t o = 0, at = 0; o < r.outer; ++o) {
    const std::size_t lane = o * r.length * r.inner;
    if (r.step == 1) {
      run(at, lane + r.start * r.inner, r.count * r.inner);
      at += r.count * r.inner;
    } else {
      for (std::size_t k = 0; k < r.count; ++k, at += r.inner)
        run(at, lane + std::size_t(long(r.start) + long(k) * r.step) * r.inner, r.inner);
    }
  }
}

// Writes a slice's values (with accumulate: adds them) at their places in the array
// the slice was taken from.
template <bool accumulate, class T>
void place_slice(const T* slice, T* array, const SliceRegion& r) {
  for_each_slice_run(r, [&](std::size_t from, std::size_t to, std::size_t n) {
    if (n == 1) {  // single elements: a call per element would cost ~10x
      if constexpr (accumulate) array[to] += slice[from];
      else array[to] = slice[from];
    } else if constexpr (accumulate) {
      for (std::size_t j = 0; j < n; ++j) array[to + j] += slice[from + j];
    } else {
      std::copy_n(slice + from, n, array + to);
    }
  });
}

// f(e, offsets...) for each position e (row-major) of `shape`: an odometer in
// which each offset moves by its own steps[a] along axis a (the offsets of one
// position in other arrays: strides, 0 for a broadcast axis, diagonal steps).
template <class F, class... Steps>
void for_each_offset(const Shape& shape, F f, const Steps&... steps) {
  const std::size_t count = product(shape), rank = shape.size();
  std::vector<std::size_t> index(rank, 0);
  std::array<std::size_t, sizeof...(Steps)> offset{};
  for (std::size_t e = 0; e < count; ++e) {
    [&]<std::size_t... k>(std::index_sequence<k...>) { f(e, offset[k]...); }(std::index_sequence_for<Steps...>{});
    for (std::size_t a = rank; a-- > 0;) {
      std::size_t k = 0;
      ((offset[k++] += steps[a]), ...);
      if (++index[a] < shape[a]) break;
      k = 0;
      ((offset[k++] -= steps[a] * index[a]), ...);
      index[a] = 0;
    }
  }
}

// "1, -2, 3": the values joined by ", " (for messages).
template <class Values>
std::string joined(const Values& values) {
  std::string s;
  bool first = true;
  for (const auto& v : values) {
    s += (first ? "" : ", ") + std::to_string(v);
    first = false;
  }
  return s;
}

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
