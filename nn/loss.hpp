// Cost functions of the lecture, built from autodiff ops (no hand-written
// derivatives): their gradients come from the tape.
#pragma once

#include <cstddef>
#include <vector>

#include <autodiff/variable.hpp>

#include "module.hpp"

namespace nn {

using Labels = std::vector<std::size_t>;

// mean: average over the samples (PyTorch's and Keras's default); over an empty
//   batch it is a ShapeError (PyTorch returns NaN).
// sum: summed over the samples (the lecture's NumPy code sums the minibatch gradient).
enum class Reduction { mean, sum };

// Mean squared error: mean (or sum) of (prediction - target)^2 over all entries.
template <class T> Variable<T> mse(const Variable<T>& prediction, const Variable<T>& target, Reduction reduction = Reduction::mean);
// The lecture's form C = 1/2 sum (prediction - target)^2, whose derivative is (prediction - target).
template <class T> Variable<T> half_sum_squared_error(const Variable<T>& prediction, const Variable<T>& target);

// -[t log p + (1 - t) log(1 - p)] for probabilities p and targets t, both in [0, 1] (anything else,
// NaN included, is a std::invalid_argument naming the value and its index). p = 0 or 1 is moved to
// eps or 1 - eps so that log(0) cannot occur; the gradient still flows there.
template <class T> Variable<T> binary_cross_entropy(const Variable<T>& probability, const Variable<T>& target, Reduction reduction = Reduction::mean);
// The same from logits z (p = sigmoid(z)), targets in [0, 1], computed as
// log(1 + e^-|z|) + (1 - t) max(z, 0) - t min(z, 0): stable for any z, and its gradient
// sigmoid(z) - t keeps full precision where it is tiny (z = -35, t = 0 gives 6.3e-16).
template <class T> Variable<T> binary_cross_entropy_with_logits(const Variable<T>& logits, const Variable<T>& target, Reduction reduction = Reduction::mean);

// Categorical cross-entropy from logits (batch, classes) and integer labels, one per row,
// each in [0, classes) (else a ShapeError: "cross_entropy: label 3 (row 2) out of range for 3 classes"):
// -log softmax(z)[label], with log-softmax computed by log-sum-exp.
template <class T> Variable<T> cross_entropy(const Variable<T>& logits, const Labels& labels, Reduction reduction = Reduction::mean);
// The same with one-hot (or any probability) targets of shape (batch, classes), each in [0, 1].
template <class T> Variable<T> cross_entropy(const Variable<T>& logits, const Variable<T>& targets, Reduction reduction = Reduction::mean);
// Negative log-likelihood of log-probabilities (e.g. the output of log_softmax).
template <class T> Variable<T> nll_loss(const Variable<T>& log_probabilities, const Labels& labels, Reduction reduction = Reduction::mean);

// L2 regularisation: lambda * sum over the weights of sum(w^2), lambda >= 0. Add it to any loss.
template <class T> Variable<T> l2_penalty(const std::vector<Variable<T>>& weights, T lambda);
// ... over a module's weights (biases excluded, as in the lecture).
template <class T> Variable<T> l2_penalty(const Module<T>& model, T lambda);

}  // namespace nn
