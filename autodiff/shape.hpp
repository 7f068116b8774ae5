// Ops that move elements without changing them: reshape, slices, gathers,
// concatenation and stacking, splits, squeezes, broadcasts, tiles, pads, flips.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <type_traits>
#include <utility>
#include <vector>

#include "variable.hpp"

namespace autodiff {

// A new shape with the same number of elements.
template <class T> Variable<T> reshape(const Variable<T>& x, const Shape& shape);
// Axes from start_axis on merged into one: flatten(x) is 1-D, flatten(x, 1) keeps the batch axis.
template <class T> Variable<T> flatten(const Variable<T>& x, std::size_t start_axis = 0);
// x repeated along axes of length 1 and new leading axes (NumPy broadcasting), to `shape`.
template <class T> Variable<T> broadcast_to(const Variable<T>& x, const Shape& shape);
// x[..., start:stop:step, ...] along axis, as Python and NumPy: negative start and
// stop count from the end, bounds out of range are clamped (an empty result is
// fine), step may be negative (x[::-1] is slice(x, axis, -1, LONG_MIN, -1): a stop
// below -length runs to the front); step 0 is an error.
template <class T> Variable<T> slice(const Variable<T>& x, long axis, long start, long stop, long step = 1);
// x[..., index, ...] along axis, without that axis (torch.select; NumPy's x[:, i]);
// a negative index counts from the end.
template <class T> Variable<T> select(const Variable<T>& x, long axis, long index);
// The selects of every index along axis (torch.unbind): the inverse of stack. Taking
// a sequence apart this way costs O(length) in the backward pass, as one slice does.
template <class T> std::vector<Variable<T>> unstack(const Variable<T>& x, long axis = 0);
// Rows [begin, end) along axis 0; bounds out of range are an error (slice clamps them).
template <class T> Variable<T> slice_rows(const Variable<T>& x, std::size_t begin, std::size_t end);
// x[rows[0]], x[rows[1]], ... along axis 0 (a row may repeat; its gradients add up).
template <class T> Variable<T> index_rows(const Variable<T>& x, const std::vector<std::size_t>& rows);
// out[i] = x[i, labels[i]] for a 2-D x: each row's entry at its class label,
// what cross-entropy on integer labels needs.
template <class T> Variable<T> pick(const Variable<T>& x, const std::vector<std::size_t>& labels);
// Joined along axis; all other axes must agree.
template <class T> Variable<T> concatenate(const std::vector<Variable<T>>& parts, long axis = 0);
// concatenate({a, b}, axis): the braced list form (T deduced from the parts).
template <class T> Variable<T> concatenate(std::initializer_list<Variable<T>> parts, long axis = 0);
// Parts of one shape joined along a new axis (NumPy's stack): axis in
// [-rank - 1, rank], a negative axis counting in the result's rank.
template <class T> Variable<T> stack(const std::vector<Variable<T>>& parts, long axis = 0);
// stack({a, b}, axis): the braced list form (T deduced from the parts).
template <class T> Variable<T> stack(std::initializer_list<Variable<T>> parts, long axis = 0);

// Consecutive slices along axis of the given lengths, which must add up to the
// axis length (torch.split with a list). Any braced list is a list of sizes:
// split(x, {5}) is one part of 5 (an error unless the axis has length 5), as in
// PyTorch; split(x, 5) is the section-size overload below.
template <class T>
std::vector<Variable<T>> split(const Variable<T>& x, const std::vector<long>& sizes, long axis = 0);
template <class T>
std::vector<Variable<T>> split(const Variable<T>& x, std::initializer_list<long> sizes, long axis = 0);
// Slices of section_size along axis, the last one shorter if the length is not
// a multiple (torch.split with an int); at least one part; 0 only for an empty axis.
template <class T> std::vector<Variable<T>> split(const Variable<T>& x, long section_size, long axis = 0);
// ceil(length / chunks)-long slices (torch.chunk): at most `chunks` parts, fewer
// when the length does not allow more; an empty axis gives `chunks` empty parts.
template <class T> std::vector<Variable<T>> chunk(const Variable<T>& x, long chunks, long axis = 0);

// x without its axes of length 1.
template <class T> Variable<T> squeeze(const Variable<T>& x);
// x without axis, which must have length 1 (NumPy raises; PyTorch would return x unchanged).
template <class T> Variable<T> squeeze(const Variable<T>& x, long axis);
// x with a new axis of length 1 at position axis in [-rank - 1, rank] (torch.unsqueeze, np.expand_dims).
template <class T> Variable<T> unsqueeze(const Variable<T>& x, long axis);
// broadcast_to with torch.expand's shape: -1 keeps that axis's length; new
// leading axes are allowed (not -1 there); other negative lengths are errors.
template <class T> Variable<T> expand(const Variable<T>& x, const std::vector<long>& shape);

// x repeated reps[a] times along each axis (np.tile): a shorter reps is padded
// with leading 1s, a longer one gives x leading axes of length 1. Reps of 0 give
// an empty result; negative reps are an error.
template <class T> Variable<T> tile(const Variable<T>& x, const std::vector<long>& reps);
template <class T> Variable<T> tile(const Variable<T>& x, std::initializer_list<long> reps);
// tile(x, 2): one count, as np.tile(x, 2) (x's last axis repeated).
template <class T> Variable<T> tile(const Variable<T>& x, long reps);
// torch.Tensor.repeat: tile, but repeats must have at least x's rank.
template <class T> Variable<T> repeat(const Variable<T>& x, const std::vector<long>& repeats);
// Each element repeated `repeats` times in place along axis: [a, b] -> [a, a, b, b]
// (torch.repeat_interleave and np.repeat with one count).
template <class T> Variable<T> repeat_interleave(const Variable<T>& x, long repeats, long axis);
// ... of the flattened x (axis None in NumPy and PyTorch): a 1-D result.
template <class T> Variable<T> repeat_interleave(const Variable<T>& x, long repeats);

// How pad fills the border: constant (the value), reflect (mirrored at the edge,
// the edge not repeated: NumPy's and PyTorch's 'reflect'; each width must be less
// than its axis length), edge (the edge repeated: NumPy's 'edge', PyTorch's 'replicate').
enum class PadMode { constant, reflect, edge, replicate = edge };
// {before, after} per axis, NumPy's pad_width: one pair for every axis, or a
// single pair used for all of them (NumPy broadcasts it too). Negative widths
// are an error (PyTorch would crop).
using PadWidths = std::vector<std::pair<long, long>>;
// x with widths[a].first elements before and widths[a].second after along each axis.
template <class T>
Variable<T> pad(const Variable<T>& x, const PadWidths& widths, PadMode mode = PadMode::constant,
                std::type_identity_t<T> value = 0);

// x reversed along the axes (np.flip); duplicate axes are an error.
template <class T> Variable<T> flip(const Variable<T>& x, const std::vector<long>& axes);
template <class T> Variable<T> flip(const Variable<T>& x, std::initializer_list<long> axes);
// flip(x, 0): one axis, as np.flip(x, 0).
template <class T> Variable<T> flip(const Variable<T>& x, long axis);
// x reversed along every axis (np.flip with axis None).
template <class T> Variable<T> flip(const Variable<T>& x);

// Backward ops: the vector-Jacobian products of the ops above as ops of their
// own (each the other's adjoint, so every order of derivative is defined).
// Zeros of `length` along axis, with g's k-th element along axis placed at
// start + k * step (start is an index, not counted from the end; step != 0).
template <class T>
Variable<T> slice_backward(const Variable<T>& g, long axis, std::size_t start, std::size_t length, long step = 1);
// The adjoint of pad: g of the padded shape folded back onto the source shape
// (each padded element's gradient added to the element it copies; constant
// borders dropped). Its own gradient is pad(gg, widths, mode, 0).
template <class T> Variable<T> pad_backward(const Variable<T>& g, const PadWidths& widths, PadMode mode);
// Zeros of `count` rows, with g's row i added to row rows[i].
template <class T>
Variable<T> index_rows_backward(const Variable<T>& g, const std::vector<std::size_t>& rows, std::size_t count);
// A (labels, classes) matrix of zeros with g[i] at [i, labels[i]].
template <class T>
Variable<T> pick_backward(const Variable<T>& g, const std::vector<std::size_t>& labels, std::size_t classes);

}  // namespace autodiff
