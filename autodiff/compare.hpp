// Comparisons and masks: x > y, x >= 0.5, ==, logical and/or/not. A mask is a
// plain boolean array: it carries no gradient, and where() picks with it:
//
//   autodiff::where(x > 0 && x < 1, x, 0.1 * x)   // xtensor's && ! || compose masks too
//
// Variable with Variable broadcasts as NumPy does (a ShapeError naming the op
// otherwise: "greater: shapes (3, 4) and (5,) cannot be broadcast together");
// a scalar may stand on either side. NaN compares as IEEE: every comparison
// with NaN is false except !=, so NaN != NaN is true and NaN == NaN is false.
// Comparisons read values only: nothing is recorded on the tape.
#pragma once

#include <xtensor/xarray.hpp>

#include "elementwise.hpp"

namespace autodiff {

using Mask = xt::xarray<bool>;

// NumPy's names; the operators below call them.
template <class T> Mask greater(const Variable<T>& a, const Variable<T>& b);
template <class T> Mask greater_equal(const Variable<T>& a, const Variable<T>& b);
template <class T> Mask less(const Variable<T>& a, const Variable<T>& b);
template <class T> Mask less_equal(const Variable<T>& a, const Variable<T>& b);
template <class T> Mask equal(const Variable<T>& a, const Variable<T>& b);
template <class T> Mask not_equal(const Variable<T>& a, const Variable<T>& b);
template <class T> Mask greater(const Variable<T>& a, Scalar<T> b);
template <class T> Mask greater_equal(const Variable<T>& a, Scalar<T> b);
template <class T> Mask less(const Variable<T>& a, Scalar<T> b);
template <class T> Mask less_equal(const Variable<T>& a, Scalar<T> b);
template <class T> Mask equal(const Variable<T>& a, Scalar<T> b);
template <class T> Mask not_equal(const Variable<T>& a, Scalar<T> b);

// Elementwise logic on masks, broadcast as NumPy does (a ShapeError naming the op otherwise).
Mask logical_and(const Mask& a, const Mask& b);
Mask logical_or(const Mask& a, const Mask& b);
Mask logical_xor(const Mask& a, const Mask& b);
Mask logical_not(const Mask& a);

// Operators. The scalar on the left is turned around: 0.5 < x is x > 0.5.
template <class T> Mask operator>(const Variable<T>& a, const Variable<T>& b) { return greater(a, b); }
template <class T> Mask operator>=(const Variable<T>& a, const Variable<T>& b) { return greater_equal(a, b); }
template <class T> Mask operator<(const Variable<T>& a, const Variable<T>& b) { return less(a, b); }
template <class T> Mask operator<=(const Variable<T>& a, const Variable<T>& b) { return less_equal(a, b); }
template <class T> Mask operator==(const Variable<T>& a, const Variable<T>& b) { return equal(a, b); }
template <class T> Mask operator!=(const Variable<T>& a, const Variable<T>& b) { return not_equal(a, b); }
template <class T> Mask operator>(const Variable<T>& a, Scalar<T> s) { return greater(a, s); }
template <class T> Mask operator>=(const Variable<T>& a, Scalar<T> s) { return greater_equal(a, s); }
template <class T> Mask operator<(const Variable<T>& a, Scalar<T> s) { return less(a, s); }
template <class T> Mask operator<=(const Variable<T>& a, Scalar<T> s) { return less_equal(a, s); }
template <class T> Mask operator==(const Variable<T>& a, Scalar<T> s) { return equal(a, s); }
template <class T> Mask operator!=(const Variable<T>& a, Scalar<T> s) { return not_equal(a, s); }
template <class T> Mask operator>(Scalar<T> s, const Variable<T>& a) { return less(a, s); }
template <class T> Mask operator>=(Scalar<T> s, const Variable<T>& a) { return less_equal(a, s); }
template <class T> Mask operator<(Scalar<T> s, const Variable<T>& a) { return greater(a, s); }
template <class T> Mask operator<=(Scalar<T> s, const Variable<T>& a) { return greater_equal(a, s); }
template <class T> Mask operator==(Scalar<T> s, const Variable<T>& a) { return equal(a, s); }
template <class T> Mask operator!=(Scalar<T> s, const Variable<T>& a) { return not_equal(a, s); }

}  // namespace autodiff
