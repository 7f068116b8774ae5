// Indexing along any axis: index_select, gather, scatter_add, and element
// access x(i, j) recorded on the tape.
//
// Indices are PyTorch's int64: a 1-D list is an IndexList (so that
// index_select(x, 1, {2, 0, 2}) reads as it would in Python), an index array of
// x's rank (gather, scatter_add) an IndexArray. Negative indices count from the
// end as in NumPy (PyTorch's index_select, gather and scatter_add reject them);
// an index out of range is a ShapeError naming the index, the axis and its length.
// An index used twice passes back the sum of its gradients (scatter-add).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "variable.hpp"

namespace autodiff {

using IndexList = std::vector<std::int64_t>;
using IndexArray = xt::xarray<std::int64_t>;

// The slices x[..., indices[0], ...], x[..., indices[1], ...], ... along axis
// (torch.index_select, numpy.take with an axis): axis gets length indices.size().
template <class T> Variable<T> index_select(const Variable<T>& x, long axis, const IndexList& indices);
// The same with unsigned indices (class labels, as nn::load_labels returns); one
// above 2^63 - 1 is a ShapeError.
template <class T>
Variable<T> index_select(const Variable<T>& x, long axis, const std::vector<std::size_t>& indices);
// index_select(x, 1, {2, 0, 2}): a braced list (chosen over both vector overloads).
template <class T>
Variable<T> index_select(const Variable<T>& x, long axis, std::initializer_list<std::int64_t> indices) {
  return index_select(x, axis, IndexList(indices));
}

// out[i][j][k] = x[index[i][j][k]][j][k] for axis 0 (likewise for the others), as
// torch.gather: index has x's rank and, off the axis, extents no larger than x's;
// out has index's shape (numpy.take_along_axis where the extents agree).
template <class T> Variable<T> gather(const Variable<T>& x, long axis, const IndexArray& index);

// x with src[i][j][k] added at [index[i][j][k]][j][k] for axis 0 (likewise for the
// others), as torch.scatter_add: index has x's rank, extents no larger than src's
// and, off the axis, than x's (src's elements beyond index's extents are unused).
// Duplicate indices add up. dx = g, dsrc = gather(g, axis, index) (0 beyond index).
template <class T>
Variable<T> scatter_add(const Variable<T>& x, long axis, const IndexArray& index, const Variable<T>& src);

// Element access, recorded: at(x, {i, j}) = x[i, j] as NumPy, also written x(i, j)
// (also declared in variable.hpp, for Variable's operator()). Fewer indices than
// x's rank give the sub-array x[i, j] of the remaining axes; no indices give x itself.
template <class T> Variable<T> at(const Variable<T>& x, const std::vector<std::int64_t>& index);
// at(x, {i, j}) with indices of any one integer type (size_t loop counters too):
// an unsigned index above 2^63 - 1 is a ShapeError (it would wrap to a negative one).
template <class T, class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool>)
Variable<T> at(const Variable<T>& x, std::initializer_list<I> index) {
  std::vector<std::int64_t> list;
  list.reserve(index.size());
  bool too_large = false;
  for (I i : index) {
    if constexpr (std::is_unsigned_v<I>) too_large |= std::uintmax_t(i) > std::uintmax_t(INT64_MAX);
    list.push_back(static_cast<std::int64_t>(i));
  }
  if (too_large) {
    std::vector<std::string> text;
    std::vector<bool> flags;
    for (I i : index) {
      text.push_back(std::to_string(i));
      flags.push_back(std::uintmax_t(i) > std::uintmax_t(INT64_MAX));
    }
    detail::throw_unsigned_index(text, flags, x.shape());
  }
  return at(x, list);
}

// Backward ops: the vector-Jacobian products of the ops above as ops of their
// own (each the other's adjoint, so every order of derivative is defined).
// Zeros of length `length` along axis, with g's slice k added at indices[k].
template <class T>
Variable<T> index_select_backward(const Variable<T>& g, long axis, const IndexList& indices, std::size_t length);
// Zeros of `shape`, with g[p] added at p with its axis coordinate replaced by
// index[p], for every position p of index (g may be larger than index, as src
// in scatter_add: its elements beyond index's extents are unused).
template <class T>
Variable<T> gather_backward(const Variable<T>& g, long axis, const IndexArray& index, const Shape& shape);
// Zeros of `shape` with g placed at x[index] (g has the shape of the sub-array there).
template <class T>
Variable<T> at_backward(const Variable<T>& g, const std::vector<std::int64_t>& index, const Shape& shape);

}  // namespace autodiff
