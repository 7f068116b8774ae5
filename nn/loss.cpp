#include "loss.hpp"

#include <autodiff/activation.hpp>
#include <autodiff/elementwise.hpp>
#include <autodiff/reduction.hpp>
#include <autodiff/shape.hpp>

namespace nn {

using namespace autodiff;

namespace {

template <class T>
Variable<T> reduce(const Variable<T>& per_sample, Reduction reduction) {
  return reduction == Reduction::mean ? mean(per_sample) : sum(per_sample);
}

template <class T>
void check_same_shape(const char* loss, const Variable<T>& a, const Variable<T>& b) {
  if (a.shape() != b.shape())
    throw ShapeError(std::string(loss) + ": prediction of shape " + to_string(a.shape()) + " and target of shape " +
                     to_string(b.shape()) + " differ");
}

}  // namespace

template <class T>
Variable<T> mse(const Variable<T>& prediction, const Variable<T>& target, Reduction reduction) {
  check_same_shape("mse", prediction, target);
  return reduce(square(prediction - target), reduction);
}

template <class T>
Variable<T> half_sum_squared_error(const Variable<T>& prediction, const Variable<T>& target) {
  check_same_shape("half_sum_squared_error", prediction, target);
  return T(0.5) * sum(square(prediction - target));
}

template <class T>
Variable<T> binary_cross_entropy(const Variable<T>& probability, const Variable<T>& target, Reduction reduction) {
  check_same_shape("binary_cross_entropy", probability, target);
  const T eps = std::is_same_v<T, float> ? T(1e-7) : T(1e-12);
  const Variable<T> p = clip(probability, eps, T(1) - eps);
  return reduce(-(target * log(p) + (T(1) - target) * log(T(1) - p)), reduction);
}

template <class T>
Variable<T> binary_cross_entropy_with_logits(const Variable<T>& logits, const Variable<T>& target, Reduction reduction) {
  check_same_shape("binary_cross_entropy_with_logits", logits, target);
  // log(1 + e^-z) = logsumexp([0, -z]): smooth, and no e^-z overflow for z << 0.
  const Shape column{logits.size(), 1};
  const Variable<T> zero(Array<T>(xt::zeros<T>(column)));
  const Variable<T> softplus_of_minus_z =
      reshape(logsumexp(concatenate<T>({zero, reshape(-logits, column)}, 1), 1), logits.shape());
  return reduce((T(1) - target) * logits + softplus_of_minus_z, reduction);
}

template <class T>
Variable<T> nll_loss(const Variable<T>& log_probabilities, const Labels& labels, Reduction reduction) {
  return reduce(-pick(log_probabilities, labels), reduction);
}

template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const Labels& labels, Reduction reduction) {
  return nll_loss(log_softmax(logits, 1), labels, reduction);
}

template <class T>
Variable<T> cross_entropy(const Variable<T>& logits, const Variable<T>& targets, Reduction reduction) {
  check_same_shape("cross_entropy", logits, targets);
  const Variable<T> per_sample = -sum(targets * log_softmax(logits, 1), 1);
  return reduce(per_sample, reduction);
}

template <class T>
Variable<T> l2_penalty(const std::vector<Variable<T>>& weights, T lambda) {
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
