#include "loss.hpp"

#include <autodiff/activation.hpp>
#include <autodiff/elementwise.hpp>
#include <autodiff/reduction.hpp>
#include <autodiff/shape.hpp>
#include <xtensor/xoperation.hpp>

#include "check.hpp"

namespace nn {

using namespace autodiff;

namespace {

// A known reduction, and a mean only over at least one value (PyTorch would return NaN).
void check_reduction(const char* loss, Reduction reduction, std::size_t values, const Shape& shape) {
  if (reduction != Reduction::mean && reduction != Reduction::sum)
    throw std::invalid_argument(std::string(loss) + ": unknown reduction " + std::to_string(static_cast<int>(reduction)) +
                                " (Reduction::mean or Reduction::sum)");
  if (reduction == Reduction::mean && values == 0)
    throw ShapeError(std::string(loss) + ": the mean over an empty batch (shape " + to_string(shape) +
                     ") is undefined; use Reduction::sum or pass at least one sample");
}

// The caller checked the reduction (check_reduction) before recording anything.
template <class T>
Variable<T> reduce(const Variable<T>& per_sample, Reduction reduction) {
  return reduction == Reduction::mean ? mean(per_sample) : sum(per_sample);
}

template <class T>
void check_same_shape(const char* loss, const Variable<T>& a, const Variable<T>& b, const char* a_name = "prediction",
                      const char* b_name = "target") {
  detail::require_defined(loss, std::string("the ") + a_name, a);
  detail::require_defined(loss, std::string("the ") + b_name, b);
  if (a.shape() != b.shape())
    throw ShapeError(std::string(loss) + ": " + a_name + " of shape " + to_string(a.shape()) + " and " + b_name +
                     " of shape " + to_string(b.shape()) + " differ");
}

// Every entry of `values` in [0, 1] (NaN is not).
template <class T>
void check_unit_interval(const char* loss, const char* what, const Variable<T>& values) {
  const Array<T>& a = values.value();
  const T* data = a.data();
  for (std::size_t i = 0, n = a.size(); i < n; ++i)
    if (!(data[i] >= T(0) && data[i] <= T(1)))
      throw std::invalid_argument(std::string(loss) + ": " + what + " " + detail::number(double(data[i])) + " at " +
                                  detail::position(a.shape(), i) + " is outside [0, 1]");
}

// Logits or log-probabilities of shape (batch, classes) and one label in [0, classes) per row.
template <class T>
void check_labels(const char* loss, const char* what, const Variable<T>& scores, const Labels& labels) {
  detail::require_defined(loss, what, scores);
  if (scores.dimension() != 2)
    throw ShapeError(std::string(loss) + ": " + what + " must have shape (batch, classes), got shape " +
                     to_string(scores.shape()));
  const std::size_t rows = scores.shape()[0], classes = scores.shape()[1];
  if (labels.size() != rows)
    throw ShapeError(std::string(loss) + ": " + std::to_string(labels.size()) + " labels for " + what + " of shape " +
                     to_string(scores.shape()) + " (one label per row)");
  if (classes == 0 && rows > 0)
    throw ShapeError(std::string(loss) + ": " + what + " of shape " + to_string(scores.shape()) + " have no classes");
  for (std::size_t i = 0; i < rows; ++i)
    if (labels[i] >= classes)
      throw ShapeError(std::string(loss) + ": label " + detail::label_string(labels[i]) + " (row " + std::to_string(i) +
                       ") out of range for " + std::to_string(classes) + " classes");
}

// log(1 + e^-|z|) - t min(z, 0) + (1 - t) max(z, 0): binary cross-entropy from logits. Its
// gradient is sigmoid(z) - t with each regime's small term computed directly (e^z / (1 + e^z)
// for z <= 0, -e^-z / (1 + e^-z) for z > 0), so it keeps its precision where it is tiny.
template <class T>
Variable<T> bce_from_logits(const Variable<T>& z, const Variable<T>& t) {
  const xt::xarray<bool> positive = z.value() > T(0);
  const xt::xarray<bool> not_positive = !positive;
  const Variable<T> z_positive = where(positive, z, T(0));      // max(z, 0), gradient 1 for z > 0
  const Variable<T> z_negative = where(not_positive, z, T(0));  // min(z, 0), gradient 1 for z <= 0
  const Variable<T> log_term = log(T(1) + exp(z_negative - z_positive));  // log(1 + e^-|z|); e^-|z| <= 1
  return log_term + (T(1) - t) * z_positive - t * z_negative;
}

}  // namespace

template <class T>
Variable<T> mse(const Variable<T>& prediction, const Variable<T>& target, Reduction reduction) {
  check_same_shape("mse", prediction, target);
  check_reduction("mse", reduction, prediction.size(), prediction.shape());
  return reduce(square(prediction - target), reduction);
}

template <class T>
Variable<T> half_sum_squared_error(const Variable<T>& prediction, const Variable<T>& target) {
  check_same_shape("half_sum_squared_error", prediction, target);
  return T(0.5) * sum(square(prediction - target));
}

template <class T>
Variable<T> binary_cross_entropy(const Variable<T>& probability, const Variable<T>& target, Reduction reduction) {
  check_same_shape("binary_cross_entropy", probability, target, "probability");
  check_reduction("binary_cross_entropy", reduction, probability.size(), probability.shape());
  check_unit_interval("binary_cross_entropy", "probability", probability);
  check_unit_interval("binary_cross_entropy", "target", target);
  // Probabilities of exactly 0 or 1 are moved to eps or 1 - eps so that log(0) cannot occur; the
  // move is a constant, so the gradient still flows there (a clip would block it).
  const T eps = std::is_same_v<T, float> ? T(1e-7) : T(1e-12);
  const Array<T> nudge = xt::clip(probability.value(), eps, T(1) - eps) - probability.value();
  const Variable<T> p = xt::any(xt::not_equal(nudge, T(0))) ? probability + Variable<T>(nudge) : probability;
  return reduce(-(target * log(p) + (T(1) - target) * log(T(1) - p)), reduction);
}

template <class T>
Variable<T> binary_cross_entropy_with_logits(const Variable<T>& logits, const Variable<T>& target, Reduction reduction) {
  check_same_shape("binary_cross_entropy_with_logits", logits, target, "logits");
  check_reduction("binary_cross_entropy_with_logits", reduction, logits.size(), logits.shape());
  check_unit_interval("binary_cross_entropy_with_logits", "target", target);
  return reduce(bce_from_logits(logits, target), reduction);
}

template <class T>
Variable<T> nll_loss(const Variable<T>& log_probabilities, const Labels& labels, Reduction reduction) {
  check_labels("nll_loss", "log-probabilities", log_probabilities, labels);
  check_reduction("nll_loss", reduction, labels.size(), log_probabilities.shape());
  return reduce(-pick(log_probabilities, labels), reduction);
}

template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const Labels& labels, Reduction reduction) {
  check_labels("cross_entropy", "logits", logits, labels);
  check_reduction("cross_entropy", reduction, labels.size(), logits.shape());
  return reduce(-pick(log_softmax(logits, 1), labels), reduction);
}

template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const Variable<T>& targets, Reduction reduction) {
  check_same_shape("cross_entropy", logits, targets, "logits", "targets");
  if (logits.dimension() != 2)
    throw ShapeError("cross_entropy: logits must have shape (batch, classes), got shape " + to_string(logits.shape()));
  if (logits.shape()[1] == 0 && logits.shape()[0] > 0)
    throw ShapeError("cross_entropy: logits of shape " + to_string(logits.shape()) + " have no classes");
  check_reduction("cross_entropy", reduction, logits.shape()[0], logits.shape());
  check_unit_interval("cross_entropy", "target probability", targets);
  const Variable<T> per_sample = -sum(targets * log_softmax(logits, 1), 1);
  return reduce(per_sample, reduction);
}

template <class T>
Variable<T> l2_penalty(const std::vector<Variable<T>>& weights, T lambda) {
  detail::require_at_least("l2_penalty", "lambda", double(lambda), 0);
  for (std::size_t i = 0; i < weights.size(); ++i)
    detail::require_defined("l2_penalty", "weight " + std::to_string(i), weights[i]);
  Variable<T> total = Variable<T>::scalar(T(0));
  for (const auto& w : weights) total = total + sum(square(w));
  return lambda * total;
}

template <class T>
Variable<T> l2_penalty(const Module<T>& model, T lambda) {
  return l2_penalty(model.weights(), lambda);
}

#define WENGERT_INSTANTIATE(T)                                                                              \
  template Variable<T> mse(const Variable<T>&, const Variable<T>&, Reduction);                              \
  template Variable<T> half_sum_squared_error(const Variable<T>&, const Variable<T>&);                      \
  template Variable<T> binary_cross_entropy(const Variable<T>&, const Variable<T>&, Reduction);             \
  template Variable<T> binary_cross_entropy_with_logits(const Variable<T>&, const Variable<T>&, Reduction); \
  template Variable<T> cross_entropy(const Variable<T>&, const Labels&, Reduction);                         \
  template Variable<T> cross_entropy(const Variable<T>&, const Variable<T>&, Reduction);                    \
  template Variable<T> nll_loss(const Variable<T>&, const Labels&, Reduction);                              \
  template Variable<T> l2_penalty(const std::vector<Variable<T>>&, T);                                      \
  template Variable<T> l2_penalty(const Module<T>&, T);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
