#include "data.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <limits>
#include <numeric>

#include <xtensor/xmath.hpp>

#include "check.hpp"
#include "io.hpp"

namespace nn {

namespace {
// The rows of a (N, ...) array at the given indices.
template <class T>
Array<T> take_rows(const Array<T>& a, const std::vector<std::size_t>& indices) {
  if (a.dimension() == 0) return Array<T>::from_shape({0});  // an empty data set (checked: no indices)
  auto shape = a.shape();
  const std::size_t width = a.size() / shape[0];
  shape[0] = indices.size();
  Array<T> out = Array<T>::from_shape(shape);
  for (std::size_t i = 0; i < indices.size(); ++i)
    std::copy_n(a.data() + indices[i] * width, width, out.data() + i * width);
  return out;
}
}  // namespace

template <class T>
void Dataset<T>::check(const std::string& caller) const {
  const std::size_t n = size();
  if (!labels.empty() && labels.size() != n)
    throw std::invalid_argument(caller + ": the data set has " + std::to_string(labels.size()) + " labels for " +
                                std::to_string(n) + " input rows (inputs of shape " + autodiff::to_string(inputs.shape()) +
                                "); give one label per row");
  if (targets.size() > 0 && (targets.dimension() == 0 || targets.shape()[0] != n))
    throw std::invalid_argument(caller + ": the data set has targets of shape " + autodiff::to_string(targets.shape()) +
                                " for " + std::to_string(n) + " input rows (inputs of shape " +
                                autodiff::to_string(inputs.shape()) + "); give one target row per input row");
}

template <class T>
Dataset<T> Dataset<T>::subset(const std::vector<std::size_t>& indices) const {
  check("Dataset::subset");
  Dataset<T> part;
  for (std::size_t i : indices)
    if (i >= size())
      throw std::out_of_range("Dataset::subset: index " + detail::label_string(i) + " out of range for " +
                              std::to_string(size()) + " samples");
  part.inputs = take_rows(inputs, indices);
  for (std::size_t i : indices)
    if (!labels.empty()) part.labels.push_back(labels[i]);
  if (targets.size() > 0) part.targets = take_rows(targets, indices);
  return part;
}

template <class T>
std::pair<Dataset<T>, Dataset<T>> train_test_split(const Dataset<T>& data, double test_fraction, std::uint64_t seed,
                                                   bool stratify) {
  if (!(test_fraction > 0 && test_fraction < 1))
    throw std::invalid_argument("train_test_split: test fraction must lie in (0, 1), got " +
                                detail::number(test_fraction));
  data.check("train_test_split");
  Engine engine(seed);
  std::vector<std::size_t> train, test;
  auto split_group = [&](std::vector<std::size_t> group) {
    std::shuffle(group.begin(), group.end(), engine);
    const auto n_test = static_cast<std::size_t>(std::round(test_fraction * double(group.size())));
    test.insert(test.end(), group.begin(), group.begin() + static_cast<std::ptrdiff_t>(n_test));
    train.insert(train.end(), group.begin() + static_cast<std::ptrdiff_t>(n_test), group.end());
  };
  if (stratify) {
    if (data.labels.size() != data.size())
      throw std::invalid_argument("train_test_split: stratify needs one label per sample, got " +
                                  std::to_string(data.labels.size()) + " labels for " + std::to_string(data.size()) +
                                  " samples");
    std::map<std::size_t, std::vector<std::size_t>> by_class;
    for (std::size_t i = 0; i < data.size(); ++i) by_class[data.labels[i]].push_back(i);
    for (auto& [label, group] : by_class) split_group(group);
    std::shuffle(train.begin(), train.end(), engine);
    std::shuffle(test.begin(), test.end(), engine);
  } else {
    std::vector<std::size_t> all(data.size());
    std::iota(all.begin(), all.end(), 0);
    split_group(all);
  }
  if (train.empty() || test.empty())
    throw std::invalid_argument("train_test_split: a test fraction of " + detail::number(test_fraction) + " of " +
                                std::to_string(data.size()) + " samples" + (stratify ? " (stratified)" : "") +
                                " leaves the " + (train.empty() ? "train" : "test") + " part empty");
  return {data.subset(train), data.subset(test)};
}

template <class T>
Array<T> one_hot(const Labels& labels, std::size_t classes) {
  std::size_t count = 0;
  if (!detail::checked_product({labels.size(), classes}, count))
    throw std::invalid_argument("one_hot: " + std::to_string(labels.size()) + " labels of " + std::to_string(classes) +
                                " classes make more than 2^64 entries");
  Array<T> encoded = xt::zeros<T>({labels.size(), classes});
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= classes)
      throw std::out_of_range("one_hot: label " + detail::label_string(labels[i]) + " (row " + std::to_string(i) +
                              ") out of range for " + std::to_string(classes) + " classes");
    encoded(i, labels[i]) = T(1);
  }
  return encoded;
}

template <class T>
StandardScaler<T>& StandardScaler<T>::fit(const Array<T>& x) {
  if (x.dimension() != 2 || x.shape()[0] == 0)
    throw autodiff::ShapeError("StandardScaler::fit: needs a non-empty (samples, features) array, got shape " +
                               autodiff::to_string(x.shape()));
  const std::size_t n = x.shape()[0], features = x.shape()[1];
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(double(x.data()[i])))
      throw std::invalid_argument("StandardScaler::fit: value " + detail::number(double(x.data()[i])) + " at " +
                                  detail::position(x.shape(), i) + "; the data must be finite");
  std::vector<double> mean(features, 0.0), variance(features, 0.0);  // in double, two passes
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < features; ++j) mean[j] += double(x(i, j));
  for (auto& m : mean) m /= double(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < features; ++j) variance[j] += (double(x(i, j)) - mean[j]) * (double(x(i, j)) - mean[j]);
  mean_ = Array<T>::from_shape({features});
  scale_ = Array<T>::from_shape({features});
  const double eps = std::numeric_limits<T>::epsilon();
  for (std::size_t j = 0; j < features; ++j) {
    variance[j] /= double(n);
    // A variance within rounding error of zero is a constant feature (scikit-learn's test): only centre it.
    const double rounding = double(n) * eps * variance[j] + std::pow(double(n) * mean[j] * eps, 2);
    mean_(j) = T(mean[j]);
    scale_(j) = variance[j] <= rounding ? T(1) : T(std::sqrt(variance[j]));
  }
  fitted_ = true;
  return *this;
}

template <class T>
Array<T> StandardScaler<T>::transform(const Array<T>& x) const {
  if (!fitted_) throw std::logic_error("StandardScaler::transform: call fit() first");
  if (x.dimension() != 2 || x.shape()[1] != mean_.size())
    throw autodiff::ShapeError("StandardScaler::transform: fitted on " + std::to_string(mean_.size()) +
                               " features, got shape " + autodiff::to_string(x.shape()));
  return (x - mean_) / scale_;
}

template <class T>
DataLoader<T>::DataLoader(Dataset<T> data, std::size_t batch_size, bool shuffle, std::uint64_t seed)
    : data_(std::move(data)), batch_size_(batch_size), shuffle_(shuffle), engine_(seed) {
  if (batch_size == 0) throw std::invalid_argument("DataLoader: batch size must be at least 1");
  data_.check("DataLoader");
  order_.resize(data_.size());
  std::iota(order_.begin(), order_.end(), 0);
}

template <class T>
DataLoader<T>& DataLoader<T>::shard(std::size_t rank, std::size_t ranks) {
  const std::string which =
      "DataLoader::shard: rank " + std::to_string(rank) + " of " + std::to_string(ranks) + " ranks";
  if (ranks == 0) throw std::invalid_argument(which + "; there must be at least 1 rank");
  if (rank >= ranks) throw std::invalid_argument(which + "; a rank must be in 0.." + std::to_string(ranks - 1));
  if (data_.size() == 0)
    throw std::invalid_argument("DataLoader::shard: the data set is empty; there is nothing to shard");
  rank_ = rank;
  ranks_ = ranks;
  return *this;
}

template <class T>
std::size_t DataLoader<T>::samples_per_epoch() const {
  return data_.size() / ranks_ + (data_.size() % ranks_ != 0);
}

template <class T>
std::size_t DataLoader<T>::batches_per_epoch() const {
  const std::size_t samples = samples_per_epoch();
  return samples / batch_size_ + (samples % batch_size_ != 0);  // ceil, without overflow
}

template <class T>
std::vector<Batch<T>> DataLoader<T>::epoch() {
  if (shuffle_) std::shuffle(order_.begin(), order_.end(), engine_);
  ++epochs_;
  std::vector<std::size_t> mine;  // this rank's part of the order: every ranks_-th, padded from the start
  mine.reserve(samples_per_epoch());
  for (std::size_t k = 0; k < samples_per_epoch(); ++k) mine.push_back(order_[(rank_ + k * ranks_) % order_.size()]);
  std::vector<Batch<T>> batches;
  for (std::size_t start = 0; start < mine.size(); start += batch_size_) {
    const auto end = std::min(start + batch_size_, mine.size());
    const std::vector<std::size_t> indices(mine.begin() + static_cast<std::ptrdiff_t>(start),
                                           mine.begin() + static_cast<std::ptrdiff_t>(end));
    Dataset<T> part = data_.subset(indices);
    Batch<T> batch{Variable<T>(std::move(part.inputs)), std::move(part.labels), Variable<T>(std::move(part.targets))};
    batches.push_back(std::move(batch));
  }
  return batches;
}

template <class T>
Dataset<T> load_digits(const std::string& path) {
  const xt::xarray<double> table = read_csv(path);
  if (table.dimension() != 2 || table.shape()[1] != 65)
    throw FileError(path + ": expected 65 columns (64 pixels and a label) per row, got shape " +
                    autodiff::to_string(table.shape()));
  Dataset<T> data;
  const std::size_t n = table.shape()[0];
  data.inputs = Array<T>::from_shape({n, 64});
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < 64; ++j) {
      const double pixel = table(i, j);
      if (!(pixel >= 0 && pixel <= 16))
        throw FileError(path + ": row " + std::to_string(i + 1) + ", column " + std::to_string(j + 1) + " has pixel " +
                        detail::number(pixel) + ", outside 0..16");
      data.inputs(i, j) = T(pixel);
    }
    const double label = table(i, 64);
    if (label < 0 || label > 9 || label != std::floor(label))
      throw FileError(path + ": row " + std::to_string(i + 1) + " has label " + detail::number(label) +
                      ", not a digit 0..9");
    data.labels.push_back(static_cast<std::size_t>(label));
  }
  return data;
}

template <class T>
Dataset<T> load_idx_images(const std::string& images_path, const std::string& labels_path) {
  const xt::xarray<std::uint8_t> images = read_idx(images_path);
  const xt::xarray<std::uint8_t> labels = read_idx(labels_path);
  if (images.dimension() != 3)
    throw FileError(images_path + ": expected images (N, rows, columns), got shape " + autodiff::to_string(images.shape()));
  if (labels.dimension() != 1 || labels.size() != images.shape()[0])
    throw FileError(labels_path + ": expected " + std::to_string(images.shape()[0]) + " labels (one per image in " +
                    images_path + "), got shape " + autodiff::to_string(labels.shape()));
  Dataset<T> data;
  data.inputs = Array<T>::from_shape(images.shape());
  std::transform(images.begin(), images.end(), data.inputs.begin(), [](std::uint8_t v) { return T(v) / T(255); });
  data.labels.assign(labels.begin(), labels.end());
  return data;
}

#define WENGERT_INSTANTIATE(T)                                                                              \
  template struct Dataset<T>;                                                                               \
  template std::pair<Dataset<T>, Dataset<T>> train_test_split(const Dataset<T>&, double, std::uint64_t, bool); \
  template Array<T> one_hot<T>(const Labels&, std::size_t);                                                 \
  template class StandardScaler<T>;                                                                         \
  template class DataLoader<T>;                                                                             \
  template Dataset<T> load_digits<T>(const std::string&);                                                  \
  template Dataset<T> load_idx_images<T>(const std::string&, const std::string&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
