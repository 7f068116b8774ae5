// A fit-style training loop with validation split and early stopping (as
// scikit-learn's MLPClassifier), built from the pieces any user can call.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <iostream>
#include <memory>
#include <vector>

#include "data.hpp"
#include "module.hpp"
#include "optim.hpp"
#include "scheduler.hpp"

namespace nn {

// The loss of a batch from the model's output, e.g.
//   [](auto& logits, auto& batch) { return nn::cross_entropy(logits, batch.labels); }
template <class T>
using LossFunction = std::function<Variable<T>(const Variable<T>& output, const Batch<T>& batch)>;

// Data-parallel training (PyTorch's DistributedDataParallel): one model per process
// ("rank"), each training on its own part of every epoch. distributed::DataParallel
// implements it over MPI; nn itself knows no MPI. With FitOptions::distributed, fit
// gives rank r of n every n-th sample of each shuffled epoch (DataLoader::shard),
// calls synchronize() between backward() and the optimizer step, prints on rank 0
// only, and reports every loss as the mean over the ranks.
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual std::size_t rank() const = 0;
  virtual std::size_t size() const = 0;
  // After backward(): wait until every gradient is the mean over the ranks.
  virtual void synchronize() = 0;
  // The mean over the ranks of a number each has (a loss), the same on every rank.
  virtual double mean(double local) = 0;
  // True on every rank when it is true on any (a callback's stop).
  virtual bool any(bool local) = 0;
};

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
  // A progress bar (batches done, loss, samples/s, ETA, redrawn with '\r') while an
  // epoch runs, when `progress` is std::cout, std::cerr or std::clog and that is a
  // terminal (automatic); always or never on request. The epoch line replaces it.
  enum class Bar { automatic, always, never } progress_bar = Bar::automatic;
  // Data-parallel training (see GradientSync): batch_size is then each rank's, and the
  // ranks must run fit with the same options and data (the seed shards them alike).
  GradientSync* distributed = nullptr;
};

struct EpochRecord {
  std::size_t epoch;
  double loss;                 // mean over the epoch's batches
  double train_accuracy;       // NaN for regression
  double validation_accuracy;  // NaN without validation data
  double learning_rate;        // group 0's rate in the epoch's last batch
  double seconds;              // the epoch's training time
  double validation_loss = std::numeric_limits<double>::quiet_NaN();  // the loss on the validation data
                                                                        // (evaluation mode); NaN without
  std::size_t batches = 0;     // batches trained (fewer than the epoch's when a callback stopped it)
};

struct History {
  std::vector<EpochRecord> epochs;
  bool stopped_early = false;         // by early_stopping or by a callback
  bool stopped_by_callback = false;
  // One entry per batch trained, over the whole run (to plot a loss curve per
  // step, or a per-batch schedule): the batch's loss and group 0's rate in its step.
  std::vector<double> batch_losses;
  std::vector<double> batch_learning_rates;
};

// When fit steps its scheduler: after every batch's optimizer step, or at the end of every epoch.
enum class StepEvery { batch, epoch };

// What a callback sees, and its way to stop training.
template <class T>
struct FitState {
  Module<T>& model;
  Optimizer<T>& optimizer;
  LRScheduler<T>* scheduler;   // the FitHooks' scheduler, or nullptr
  const History& history;      // the epochs finished so far (an epoch callback sees its own)
  std::size_t epoch;           // from 1
  std::size_t epochs;          // FitOptions::epochs
  std::size_t batch;           // within the epoch, from 1 (epoch callbacks: the batches trained)
  std::size_t batches;         // batches per epoch
  std::size_t samples_seen;    // training samples so far
  double loss;                 // the batch's loss (batch callbacks), the epoch's mean (epoch callbacks)
  double learning_rate;        // group 0's rate in that batch (the epoch's last batch)
  bool stop = false;           // set it to stop after this batch (epoch): Keras's stop_training
};

// Keras's Callback: override what you need. Called in this order: on_train_begin
// (epoch 0), per epoch on_epoch_begin, on_batch_end after each optimizer step
// (and the scheduler's, when it steps per batch), on_epoch_end after the epoch's
// record is in the history and its line printed (and the scheduler stepped, when
// it steps per epoch: a checkpoint written there resumes at the next epoch);
// on_train_end once at the end, also after a stop (a stop within an epoch gets no
// on_epoch_end for that partial epoch). An exception thrown by a
// callback leaves fit (the model keeps what it has learnt so far).
template <class T>
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(FitState<T>&) {}
  virtual void on_epoch_begin(FitState<T>&) {}
  virtual void on_batch_end(FitState<T>&) {}
  virtual void on_epoch_end(FitState<T>&) {}
  virtual void on_train_end(FitState<T>&) {}
};

// What fit does besides training: a scheduler and callbacks.
//   nn::CosineAnnealingLR<float> cosine(optimizer, total_batches);
//   nn::fit(model, optimizer, loss, train, options,
//           {.scheduler = &cosine, .step = nn::StepEvery::batch,
//            .on_epoch_end = {[](nn::FitState<float>& s) { if (s.loss < 0.01) s.stop = true; }}});
// The scheduler must drive `optimizer`; fit checks before training that it can
// take every step the run needs (OneCycleLR's total_steps). It replaces
// FitOptions::schedule (giving both is an error). ReduceLROnPlateau, which needs
// a metric, is stepped from an epoch callback: `plateau.step(s.history.epochs.back().validation_loss)`.
template <class T>
struct FitHooks {
  LRScheduler<T>* scheduler = nullptr;
  StepEvery step = StepEvery::epoch;
  std::vector<std::shared_ptr<Callback<T>>> callbacks = {};         // called first, in order
  std::vector<std::function<void(FitState<T>&)>> on_batch_end = {};  // then these
  std::vector<std::function<void(FitState<T>&)>> on_epoch_end = {};
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
// The same with a scheduler and callbacks.
template <class T>
History fit(Module<T>& model, Optimizer<T>& optimizer, const std::common_type_t<LossFunction<T>>& loss,
            const Dataset<T>& train, const FitOptions& options, const std::common_type_t<FitHooks<T>>& hooks);

}  // namespace nn
