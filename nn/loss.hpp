// Cost functions of the lecture, built from autodiff ops (no hand-written
// derivatives): their gradients come from the tape.
#pragma once

#include <cstddef>
#include <vector>

#include <autodiff/variable.hpp>

#include "module.hpp"

namespace nn {

using Labels = std::vector<std::size_t>;

// mean: average over the samples (PyTorch's and Keras's default).
// sum: summed over the samples (the lecture's NumPy code sums the minibatch gradient).
enum class Reduction { mean, sum };

// Mean squared error: mean (or sum) of (prediction - target)^2 over all entries.
template <class T> Variable<T> mse(const Variable<T>& prediction, const Variable<T>& target, Reduction reduction = Reduction::mean);
// The lecture's form C = 1/2 sum (prediction - target)^2, whose derivative is (prediction - target).
template <class T> Variable<T> half_sum_squared_error(const Variable<T>& prediction, const Variable<T>& target);

// -[t log p + (1 - t) log(1 - p)] for probabilities p (clipped to [eps, 1 - eps] so log(0) cannot occur).
template <class T> Variable<T> binary_cross_entropy(const Variable<T>& probability, const Variable<T>& target, Reduction reduction = Reduction::mean);
// The same from logits z (p = sigmoid(z)), computed as (1 - t) z + log(1 + e^-z) with a log-sum-exp:
// stable for any z.
template <class T> Variable<T> binary_cross_entropy_with_logits(const Variable<T>& logits, const Variable<T>& target, Reduction reduction = Reduction::mean);

// Categorical cross-entropy from logits (batch, classes) and integer labels:
// -log softmax(z)[label], with log-softmax computed by log-sum-exp.
template <class T> Variable<T> cross_entropy(const Variable<T>& logits, const Labels& labels, Reduction reduction = Reduction::mean);
// The same with one-hot (or any probability) targets of shape (batch, classes).
template <class T> Variable<T> cross_entropy(const Variable<T>& logits, const Variable<T>& targets, Reduction reduction = Reduction::mean);
// Negative log-likelihood of log-probabilities (e.g. the output of log_softmax).
template <class T> Variable<T> nll_loss(const Variable<T>& log_probabilities, const Labels& labels, Reduction reduction = Reduction::mean);

// L2 regularisation: lambda * sum over the weights of sum(w^2). Add it to any loss.
template <class T> Variable<T> l2_penalty(const std::vector<Variable<T>>& weights, T lambda);
// ... over a module's weights (biases excluded, as in the lecture).
template <class T> Variable<T> l2_penalty(const Module<T>& model, T lambda);

}  // namespace nn
