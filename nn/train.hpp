// A fit-style training loop with validation split and early stopping (as
// scikit-learn's MLPClassifier), built from the pieces any user can call.
#pragma once

#include <cstddef>
#include <functional>
#include <iostream>
#include <memory>
#include <vector>

#include "data.hpp"
#include "module.hpp"
#include "optim.hpp"

namespace nn {

// The loss of a batch from the model's output, e.g.
//   [](auto& logits, auto& batch) { return nn::cross_entropy(logits, batch.labels); }
template <class T>
using LossFunction = std::function<Variable<T>(const Variable<T>& output, const Batch<T>& batch)>;

struct FitOptions {
  std::size_t epochs = 100;
  std::size_t batch_size = 32;
  double l2 = 0;                    // adds l2 * sum of squared weights (not biases) to the loss
  double validation_fraction = 0;   // held out of the training data (0: none)
  bool early_stopping = false;      // stop when the validation accuracy (or without validation
  std::size_t n_iter_no_change = 10;  // data, the training loss) has not improved by tol for
  double tol = 1e-4;                  // n_iter_no_change epochs; the best parameters are restored
  std::shared_ptr<Schedule> schedule;  // learning rate per epoch (none: constant); moves group 0, the
                                       // other parameter groups keep their ratio to it
  std::uint64_t seed = 0;           // of the shuffling and the validation split
  std::ostream* progress = &std::cout;  // one line per epoch; nullptr for silence
};

struct EpochRecord {
  std::size_t epoch;
  double loss;                 // mean over the epoch's batches
  double train_accuracy;       // NaN for regression
  double validation_accuracy;  // NaN without validation data
  double learning_rate;
  double seconds;              // the epoch's training time
};

struct History {
  std::vector<EpochRecord> epochs;
  bool stopped_early = false;
};

// The model's output for many samples, under no_grad.
template <class T>
Array<T> predict(Module<T>& model, const Array<T>& inputs);

// Everything is checked before training starts (std::invalid_argument naming the option and
// its value): a non-empty, consistent data set, batch_size >= 1, l2 >= 0, validation_fraction
// in [0, 1) leaving both parts non-empty, tol >= 0, n_iter_no_change >= 1 with early stopping,
// an optimizer over the model's parameters. The loss must return one number that requires a
// gradient; a schedule must return a finite rate >= 0.
// (common_type_t keeps the loss out of template deduction, so a lambda converts to it.)
template <class T>
History fit(Module<T>& model, Optimizer<T>& optimizer, const std::common_type_t<LossFunction<T>>& loss,
            const Dataset<T>& train, const FitOptions& options = {});

}  // namespace nn
