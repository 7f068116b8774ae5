#include "metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <stdexcept>

#include "check.hpp"

namespace nn {

template <class T>
Labels argmax_rows(const Array<T>& scores) {
  if (scores.dimension() != 2) throw autodiff::ShapeError("argmax_rows: needs (samples, classes), got shape " + autodiff::to_string(scores.shape()));
  const std::size_t n = scores.shape()[0], classes = scores.shape()[1];
  if (classes == 0 && n > 0)
    throw autodiff::ShapeError("argmax_rows: scores of shape " + autodiff::to_string(scores.shape()) + " have no classes");
  Labels best(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const T* row = scores.data() + i * classes;
    if (row[0] != row[0]) continue;  // NaN counts as the largest, as in NumPy's and PyTorch's argmax
    for (std::size_t j = 1; j < classes; ++j) {
      if (row[j] != row[j]) {
        best[i] = j;
        break;
      }
      if (row[j] > row[best[i]]) best[i] = j;
    }
  }
  return best;
}

double accuracy(const Labels& predicted, const Labels& truth) {
  if (predicted.size() != truth.size())
    throw std::invalid_argument("accuracy: " + std::to_string(predicted.size()) + " predictions for " +
                                std::to_string(truth.size()) + " labels");
  if (truth.empty()) throw std::invalid_argument("accuracy: 0 predictions for 0 labels; the accuracy of nothing is undefined");
  std::size_t right = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  return double(right) / double(truth.size());
}

template <class T>
double accuracy(const Array<T>& scores, const Labels& truth) {
  return accuracy(argmax_rows(scores), truth);
}

xt::xarray<std::size_t> confusion_matrix(const Labels& predicted, const Labels& truth, std::size_t classes) {
  if (predicted.size() != truth.size())
    throw std::invalid_argument("confusion_matrix: " + std::to_string(predicted.size()) + " predictions for " +
                                std::to_string(truth.size()) + " labels");
  for (std::size_t i = 0; i < truth.size(); ++i)
    if (truth[i] >= classes || predicted[i] >= classes)
      throw std::out_of_range("confusion_matrix: " +
                              (truth[i] >= classes ? "true label " + detail::label_string(truth[i])
                                                   : "predicted label " + detail::label_string(predicted[i])) +
                              " (sample " + std::to_string(i) + ") out of range for " + std::to_string(classes) +
                              " classes");
  std::size_t entries = 0;
  if (!detail::checked_product({classes, classes}, entries))
    throw std::invalid_argument("confusion_matrix: " + std::to_string(classes) + " classes make a matrix of more than 2^64 entries");
  xt::xarray<std::size_t> counts = xt::zeros<std::size_t>({classes, classes});
  for (std::size_t i = 0; i < truth.size(); ++i) ++counts(truth[i], predicted[i]);
  return counts;
}

void print_confusion_matrix(std::ostream& out, const xt::xarray<std::size_t>& counts,
                            const std::vector<std::string>& class_names) {
  const std::size_t classes = counts.dimension() == 2 ? counts.shape()[0] : 0;
  if (counts.dimension() != 2 || counts.shape()[1] != classes)
    throw autodiff::ShapeError("print_confusion_matrix: counts of shape " + autodiff::to_string(counts.shape()) +
                               ", expected a square matrix (classes, classes)");
  if (!class_names.empty() && class_names.size() != classes)
    throw std::invalid_argument("print_confusion_matrix: " + std::to_string(class_names.size()) +
                                " class names for " + std::to_string(classes) + " classes");
  std::size_t name_width = 0;
  for (const std::string& name : class_names) name_width = std::max(name_width, name.size());
  const auto cell = [](const char* format, auto value) {
    char text[32];
    std::snprintf(text, sizeof text, format, value);
    return std::string(text);
  };
  const std::string margin(name_width + (name_width ? 1 : 0) + 3, ' ');
  out << margin;
  for (std::size_t j = 0; j < classes; ++j) out << cell("%6zu", j);
  out << "   accuracy\n";
  for (std::size_t i = 0; i < classes; ++i) {
    std::size_t row_total = 0;
    out << cell("%-3zu", i) << (name_width ? class_names[i] + std::string(name_width - class_names[i].size() + 1, ' ') : "");
    for (std::size_t j = 0; j < classes; ++j) {
      out << cell("%6zu", counts(i, j));
      row_total += counts(i, j);
    }
    out << (row_total ? cell("   %.3f", double(counts(i, i)) / double(row_total)) : std::string("   -")) << "\n";
  }
}

namespace {
template <class T>
double squared_error_mean(const char* caller, const Array<T>& prediction, const Array<T>& truth) {
  if (prediction.shape() != truth.shape())
    throw autodiff::ShapeError(std::string(caller) + ": prediction of shape " + autodiff::to_string(prediction.shape()) +
                               " and truth of shape " + autodiff::to_string(truth.shape()) + " differ");
  if (truth.size() == 0)
    throw autodiff::ShapeError(std::string(caller) + ": empty arrays (shape " + autodiff::to_string(truth.shape()) +
                               "); the mean of nothing is undefined");
  double total = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const double d = double(prediction.data()[i]) - double(truth.data()[i]);
    total += d * d;
  }
  return total / double(truth.size());
}
}  // namespace

template <class T>
double mean_squared_error(const Array<T>& prediction, const Array<T>& truth) {
  return squared_error_mean("mean_squared_error", prediction, truth);
}

template <class T>
double r2_score(const Array<T>& prediction, const Array<T>& truth) {
  const double residual = squared_error_mean("r2_score", prediction, truth) * double(truth.size());
  if (truth.size() < 2)
    throw std::invalid_argument("r2_score: needs at least 2 samples, got " + std::to_string(truth.size()) +
                                " (R^2 is undefined for one)");
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
