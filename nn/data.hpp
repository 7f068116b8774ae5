// Data sets, splits, encodings, scaling and minibatches.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <autodiff/variable.hpp>

#include "init.hpp"
#include "loss.hpp"
#include "state.hpp"

namespace nn {

// Inputs (samples along axis 0) and their targets: integer class labels for
// classification, or a target array (samples along axis 0) for regression.
template <class T = float>
struct Dataset {
  Array<T> inputs;
  Labels labels;   // empty for regression
  Array<T> targets = Array<T>::from_shape({0});  // empty for classification

  std::size_t size() const { return inputs.dimension() == 0 ? 0 : inputs.shape()[0]; }
  // The samples at the given indices, in that order (each index below size()).
  Dataset subset(const std::vector<std::size_t>& indices) const;
  // Throws std::invalid_argument, naming `caller`, unless the labels (if any)
  // and the targets (if any) have one entry per input row. Every function
  // that takes a Dataset checks it so.
  void check(const std::string& caller) const;
};

// Shuffled (seeded) split into (train, test); with stratify, each class keeps
// its share in both parts (classification only). test_fraction in (0, 1); a
// split that would leave either part empty is a std::invalid_argument.
template <class T>
std::pair<Dataset<T>, Dataset<T>> train_test_split(const Dataset<T>& data, double test_fraction = 0.2,
                                                   std::uint64_t seed = 0, bool stratify = false);

// labels (N) -> (N, classes) with a 1 in each label's column.
template <class T = float>
Array<T> one_hot(const Labels& labels, std::size_t classes);

// Standard scaling, fitted on training data only: (x - mean) / std per feature
// (a feature with zero variance is only centred). fit() needs finite values.
template <class T = float>
class StandardScaler {
 public:
  StandardScaler& fit(const Array<T>& x);
  Array<T> transform(const Array<T>& x) const;
  Array<T> fit_transform(const Array<T>& x) { return fit(x).transform(x); }
  const Array<T>& mean() const { return mean_; }
  const Array<T>& scale() const { return scale_; }

 private:
  Array<T> mean_, scale_;
  bool fitted_ = false;
};

// One minibatch: its inputs as a Variable, its labels and/or targets.
template <class T = float>
struct Batch {
  Variable<T> inputs;
  Labels labels;
  Variable<T> targets;
};

// Minibatches of size M over a data set, reshuffled at the start of every
// epoch (N/M batches an epoch, the last one smaller when M does not divide N):
//   for (auto& batch : loader.epoch()) { ... }
template <class T = float>
class DataLoader {
 public:
  // The loader keeps its own copy of the data (pass std::move(data) to avoid the copy).
  DataLoader(Dataset<T> data, std::size_t batch_size, bool shuffle = true, std::uint64_t seed = 0);
  // The batches of the next epoch.
  std::vector<Batch<T>> epoch();
  std::size_t batches_per_epoch() const;
  std::size_t batch_size() const { return batch_size_; }
  const Dataset<T>& data() const { return data_; }
  // Data-parallel training (PyTorch's DistributedSampler): rank r of n takes samples
  // r, r + n, r + 2n, ... of each epoch's order, which every rank shuffles alike (same
  // seed). Padded as DistributedSampler's default: when n does not divide the samples,
  // the order's first ones are taken again, so every rank has ceil(N / n) samples and as
  // many batches. Together the ranks' batch k is the unsharded loader's batch k with
  // n times the batch size (when n divides N).
  DataLoader& shard(std::size_t rank, std::size_t ranks);
  std::size_t samples_per_epoch() const;  // this rank's (all of them without shard)

  // ---- state (nn/state.hpp), to resume a run at an epoch boundary ----
  std::size_t epochs() const { return epochs_; }  // epoch() calls so far
  // "epochs", "generator" (the shuffling engine's words) and "order" (the sample
  // order the next shuffle starts from: each shuffle permutes the last order).
  StateDict state_dict() const;
  // A state of a loader over another number of samples, or words that are not a
  // generator's, is a StateError naming the key; nothing changes then.
  void load_state_dict(const StateDict& state);

 private:
  Dataset<T> data_;
  std::size_t batch_size_;
  bool shuffle_;
  Engine engine_;
  std::vector<std::size_t> order_;
  std::size_t epochs_ = 0;
  std::size_t rank_ = 0, ranks_ = 1;
};

// The 8x8 digits of the lecture: 1797 samples of 64 pixels (0..16) and a label.
// Reads the CSV (optionally gzip-compressed) shipped in data/.
template <class T = float>
Dataset<T> load_digits(const std::string& path);
// Images and labels from a pair of IDX files (MNIST, Fashion-MNIST; plain or .gz):
// inputs (N, rows, columns) with the bytes scaled to [0, 1], labels 0..255 from the
// labels file; the two must hold the same number of samples.
template <class T = float>
Dataset<T> load_idx_images(const std::string& images_path, const std::string& labels_path);

}  // namespace nn
