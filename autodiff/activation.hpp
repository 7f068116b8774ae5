// Activation functions of the lecture, and softmax / log-softmax along an axis.
#pragma once

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
