#include "metrics.hpp"

#include <stdexcept>

namespace nn {

template <class T>
Labels argmax_rows(const Array<T>& scores) {
  if (scores.dimension() != 2) throw autodiff::ShapeError("argmax_rows: needs (samples, classes), got shape " + autodiff::to_string(scores.shape()));
  const std::size_t n = scores.shape()[0], classes = scores.shape()[1];
  Labels best(n, 0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 1; j < classes; ++j)
      if (scores(i, j) > scores(i, best[i])) best[i] = j;
  return best;
}

double accuracy(const Labels& predicted, const Labels& truth) {
  if (predicted.size() != truth.size() || truth.empty())
    throw std::invalid_argument("accuracy: " + std::to_string(predicted.size()) + " predictions for " +
                                std::to_string(truth.size()) + " labels");
  std::size_t right = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  return double(right) / double(truth.size());
}

template <class T>
double accuracy(const Array<T>& scores, const Labels& truth) {
  return accuracy(argmax_rows(scores), truth);
}

xt::xarray<std::size_t> confusion_matrix(const Labels& predicted, const Labels& truth, std::size_t classes) {
  if (predicted.size() != truth.size()) throw std::invalid_argument("confusion_matrix: sizes differ");
  xt::xarray<std::size_t> counts = xt::zeros<std::size_t>({classes, classes});
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] >= classes || predicted[i] >= classes)
      throw std::out_of_range("confusion_matrix: class out of range at sample " + std::to_string(i));
    ++counts(truth[i], predicted[i]);
  }
  return counts;
}

template <class T>
double mean_squared_error(const Array<T>& prediction, const Array<T>& truth) {
  if (prediction.shape() != truth.shape() || truth.size() == 0)
    throw autodiff::ShapeError("mean_squared_error: shapes " + autodiff::to_string(prediction.shape()) + " and " +
                               autodiff::to_string(truth.shape()));
  double total = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const double d = double(prediction.data()[i]) - double(truth.data()[i]);
    total += d * d;
  }
  return total / double(truth.size());
}

template <class T>
double r2_score(const Array<T>& prediction, const Array<T>& truth) {
  const double residual = mean_squared_error(prediction, truth) * double(truth.size());
  double mean = 0, total = 0;
  for (auto v : truth) mean += double(v) / double(truth.size());
  for (auto v : truth) total += (double(v) - mean) * (double(v) - mean);
  if (total == 0) return residual == 0 ? 1.0 : 0.0;  // constant truth: scikit-learn's convention
  return 1.0 - residual / total;
}

#define WENGERT_INSTANTIATE(T)                                          \
  template Labels argmax_rows(const Array<T>&);                         \
  template double accuracy(const Array<T>&, const Labels&);             \
  template double mean_squared_error(const Array<T>&, const Array<T>&); \
  template double r2_score(const Array<T>&, const Array<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
