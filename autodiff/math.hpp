// Elementwise functions beyond arithmetic: trigonometric, hyperbolic, and the
// accurate forms near 0 (log1p, expm1), each with its derivative.
//
// Values come from the C library (std::sin, std::log1p, std::erf, ...), one
// value at a time: within an ulp or two over the whole range, subnormal and
// huge arguments included, and inf and NaN as the C library gives them (NaN
// in, NaN out; asin(2) is NaN, log1p(-1) is -inf, as in NumPy and PyTorch).
#pragma once

#include "elementwise.hpp"

namespace autodiff {

namespace detail {
inline constexpr long double two_over_sqrt_pi = 1.12837916709551257389615890312154517L;  // erf' (0)
}  // namespace detail

// Trigonometric (radians).
template <class T> Variable<T> sin(const Variable<T>& x);   // dx = g cos x
template <class T> Variable<T> cos(const Variable<T>& x);   // dx = -g sin x
template <class T> Variable<T> tan(const Variable<T>& x);   // dx = g (1 + tan^2 x)
template <class T> Variable<T> asin(const Variable<T>& x);  // dx = g / sqrt(1 - x^2): inf at |x| = 1
template <class T> Variable<T> acos(const Variable<T>& x);  // dx = -g / sqrt(1 - x^2)
template <class T> Variable<T> atan(const Variable<T>& x);  // dx = g / (1 + x^2)
// The angle of the point (x, y) in (-pi, pi], with NumPy broadcasting of y and x
// (std::atan2's signed zeros: atan2(0, -1) = pi, atan2(-0, -1) = -pi).
// dy = g x / (x^2 + y^2), dx = -g y / (x^2 + y^2); at (0, 0) the gradient is NaN, as PyTorch's.
template <class T> Variable<T> atan2(const Variable<T>& y, const Variable<T>& x);
template <class T> Variable<T> atan2(const Variable<T>& y, Scalar<T> x);
template <class T> Variable<T> atan2(Scalar<T> y, const Variable<T>& x);

// Hyperbolic (tanh is in activation.hpp).
template <class T> Variable<T> sinh(const Variable<T>& x);   // dx = g cosh x
template <class T> Variable<T> cosh(const Variable<T>& x);   // dx = g sinh x
template <class T> Variable<T> asinh(const Variable<T>& x);  // dx = g / sqrt(1 + x^2)
template <class T> Variable<T> acosh(const Variable<T>& x);  // x >= 1; dx = g / sqrt(x^2 - 1)
template <class T> Variable<T> atanh(const Variable<T>& x);  // |x| <= 1; dx = g / (1 - x^2)

// Logarithms and exponentials that keep full precision near 0: log1p(1e-18) is 1e-18.
template <class T> Variable<T> log1p(const Variable<T>& x);  // log(1 + x); dx = g / (1 + x)
template <class T> Variable<T> expm1(const Variable<T>& x);  // e^x - 1; dx = g (out + 1)
template <class T> Variable<T> log2(const Variable<T>& x);   // dx = g / (x ln 2)
template <class T> Variable<T> log10(const Variable<T>& x);  // dx = g / (x ln 10)

// The error function and its complement erfc = 1 - erf (accurate where erf is
// near 1: erfc(10) is 2.09e-45, not 0). d erf = g 2/sqrt(pi) e^(-x^2).
template <class T> Variable<T> erf(const Variable<T>& x);
template <class T> Variable<T> erfc(const Variable<T>& x);

// -1, 0 or 1 (0 for both zeros). Its gradient is zero everywhere (undefined at
// 0): recorded, but it passes nothing back, like heaviside. NaN stays NaN, as
// NumPy's sign (PyTorch's sign gives 0 for NaN).
template <class T> Variable<T> sign(const Variable<T>& x);
// 1 / x (inf at 0, as IEEE division); dx = -g out^2.
template <class T> Variable<T> reciprocal(const Variable<T>& x);

}  // namespace autodiff
