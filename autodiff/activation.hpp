// Activation functions of the lecture, and softmax / log-softmax along an axis.
#pragma once

#include "elementwise.hpp"  // Scalar<T>
#include "variable.hpp"

namespace autodiff {

// sigma(x) = 1 / (1 + e^-x);  sigma' = sigma (1 - sigma)
template <class T> Variable<T> sigmoid(const Variable<T>& x);
// tanh' = 1 - tanh^2
template <class T> Variable<T> tanh(const Variable<T>& x);
// max(x, 0); gradient 0 at x = 0 (PyTorch's convention). NaN stays NaN.
template <class T> Variable<T> relu(const Variable<T>& x);
// x for x > 0, alpha x otherwise; gradient alpha at x = 0.
template <class T> Variable<T> leaky_relu(const Variable<T>& x, T alpha = T(0.01));
// x for x > 0, alpha (e^x - 1) otherwise.
template <class T> Variable<T> elu(const Variable<T>& x, T alpha = T(1));
// The perceptron's step: 1 for x > 0, 0 otherwise. Its gradient is zero
// everywhere (undefined at 0): it is recorded, but passes nothing back.
template <class T> Variable<T> heaviside(const Variable<T>& x);
// log(1 + e^(beta x)) / beta, and x itself where beta x > threshold, exactly
// as PyTorch's softplus (so the value jumps by log1p(e^-threshold) / beta there).
// Computed as (max(z, 0) + log1p(e^-|z|)) / beta with z = beta x: full relative
// precision in the left tail (softplus(-40) = 4.248e-18) and no overflow on the
// right. dx = g sigmoid(beta x), and g where beta x > threshold. beta may be
// negative (as in PyTorch); beta = 0 or a NaN parameter is an invalid_argument.
template <class T> Variable<T> softplus(const Variable<T>& x, Scalar<T> beta = 1, Scalar<T> threshold = 20);
// GELU's two forms, as PyTorch's approximate = "none" and "tanh".
enum class Gelu { exact, tanh };
// exact: x Phi(x), Phi the standard normal distribution function, computed as
// x erfc(-x / sqrt 2) / 2 (erfc: no cancellation in the left tail, where
// PyTorch's x (1 + erf(x / sqrt 2)) / 2 gives 0 below x = -8).
// tanh: x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2, computed as x sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)).
// Both: gelu(inf) = inf, gelu(-inf) = -0 (the limits; PyTorch gives NaN at -inf).
template <class T> Variable<T> gelu(const Variable<T>& x, Gelu approximate = Gelu::exact);
// SiLU (swish) x sigmoid(x); dx = g s (1 + x (1 - s)), s = sigmoid(x). silu(-inf) = -0.
template <class T> Variable<T> silu(const Variable<T>& x);
// Mish x tanh(softplus(x)); dx = g (t + x sigmoid(x) (1 - t^2)), t = tanh(softplus(x)). mish(-inf) = -0.
template <class T> Variable<T> mish(const Variable<T>& x);
// min(max(x, min_val), max_val). The gradient passes only strictly inside
// (min_val, max_val): 0 at the bounds themselves, as PyTorch's hardtanh_backward
// (clip passes it at the bounds), and 0 for NaN. NaN stays NaN. A NaN bound or
// min_val > max_val is an invalid_argument.
template <class T> Variable<T> hardtanh(const Variable<T>& x, Scalar<T> min_val = -1, Scalar<T> max_val = 1);
// e^x / sum e^x along axis, computed with the maximum subtracted (no overflow).
template <class T> Variable<T> softmax(const Variable<T>& x, long axis = -1);
// x - logsumexp(x) along axis: the stable way to the log-probabilities.
template <class T> Variable<T> log_softmax(const Variable<T>& x, long axis = -1);

// Backward ops: an activation's vector-Jacobian product as an op of its own, so
// that it runs in one pass and has a derivative of its own (PyTorch has the same).
// g y (1 - y), y = sigmoid(x)
template <class T> Variable<T> sigmoid_backward(const Variable<T>& g, const Variable<T>& y);
// g (1 - y^2), y = tanh(x)
template <class T> Variable<T> tanh_backward(const Variable<T>& g, const Variable<T>& y);
// g [x > 0] + alpha g [x <= 0]: relu's (alpha = 0) and leaky_relu's
template <class T> Variable<T> relu_backward(const Variable<T>& g, const Variable<T>& x, T alpha = T(0));
// g - e^y sum(g, axis), y = log_softmax(x, axis)
template <class T> Variable<T> log_softmax_backward(const Variable<T>& g, const Variable<T>& y, long axis = -1);

}  // namespace autodiff
