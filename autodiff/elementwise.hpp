// Elementwise arithmetic and functions, with NumPy broadcasting for the binary
// ops; each gradient is summed back to its input's shape.
#pragma once

#include <xtensor/xarray.hpp>

#include "variable.hpp"

namespace autodiff {

namespace detail {
// Keeps a scalar argument out of template deduction, so `x * 2` works for Variable<float>.
template <class T>
struct type_identity {
  using type = T;
};
}  // namespace detail
template <class T>
using Scalar = typename detail::type_identity<T>::type;

template <class T> Variable<T> add(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> sub(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> mul(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> div(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> neg(const Variable<T>& a);

template <class T> Variable<T> add(const Variable<T>& a, Scalar<T> s);
template <class T> Variable<T> sub(Scalar<T> s, const Variable<T>& a);  // s - a
template <class T> Variable<T> mul(const Variable<T>& a, Scalar<T> s);
template <class T> Variable<T> div(const Variable<T>& a, Scalar<T> s);
template <class T> Variable<T> div(Scalar<T> s, const Variable<T>& a);  // s / a

template <class T> Variable<T> pow(const Variable<T>& a, Scalar<T> exponent);
template <class T> Variable<T> exp(const Variable<T>& a);
template <class T> Variable<T> log(const Variable<T>& a);
template <class T> Variable<T> sqrt(const Variable<T>& a);
// d|a|/da = sign(a), 0 at a = 0 (PyTorch's convention).
template <class T> Variable<T> abs(const Variable<T>& a);
template <class T> Variable<T> square(const Variable<T>& a);
// min(max(a, lo), hi); gradient 1 for lo <= a <= hi (bounds included, as PyTorch's clamp), else 0.
// With lo > hi every value is hi, as in NumPy and PyTorch.
template <class T> Variable<T> clip(const Variable<T>& a, Scalar<T> lo, Scalar<T> hi);
// Where a == b the gradient is split evenly between a and b (as PyTorch's maximum).
template <class T> Variable<T> maximum(const Variable<T>& a, const Variable<T>& b);
template <class T> Variable<T> minimum(const Variable<T>& a, const Variable<T>& b);
// condition ? a : b elementwise; the condition is not differentiated. Call it
// as autodiff::where: unqualified, the xarray argument also finds xt::where.
template <class T> Variable<T> where(const xt::xarray<bool>& condition, const Variable<T>& a, const Variable<T>& b);
// condition ? a : b with a constant b (relu's gradient is where(x > 0, g, 0)).
template <class T> Variable<T> where(const xt::xarray<bool>& condition, const Variable<T>& a, Scalar<T> b);
// condition ? a : b with a constant a.
template <class T> Variable<T> where(const xt::xarray<bool>& condition, Scalar<T> a, const Variable<T>& b);

// Operators
template <class T> Variable<T> operator+(const Variable<T>& a, const Variable<T>& b) { return add(a, b); }
template <class T> Variable<T> operator-(const Variable<T>& a, const Variable<T>& b) { return sub(a, b); }
template <class T> Variable<T> operator*(const Variable<T>& a, const Variable<T>& b) { return mul(a, b); }
template <class T> Variable<T> operator/(const Variable<T>& a, const Variable<T>& b) { return div(a, b); }
template <class T> Variable<T> operator-(const Variable<T>& a) { return neg(a); }
template <class T> Variable<T> operator+(const Variable<T>& a, Scalar<T> s) { return add(a, s); }
template <class T> Variable<T> operator+(Scalar<T> s, const Variable<T>& a) { return add(a, s); }
template <class T> Variable<T> operator-(const Variable<T>& a, Scalar<T> s) { return add(a, -s); }
template <class T> Variable<T> operator-(Scalar<T> s, const Variable<T>& a) { return sub(s, a); }
template <class T> Variable<T> operator*(const Variable<T>& a, Scalar<T> s) { return mul(a, s); }
template <class T> Variable<T> operator*(Scalar<T> s, const Variable<T>& a) { return mul(a, s); }
template <class T> Variable<T> operator/(const Variable<T>& a, Scalar<T> s) { return div(a, s); }
template <class T> Variable<T> operator/(Scalar<T> s, const Variable<T>& a) { return div(s, a); }

}  // namespace autodiff
