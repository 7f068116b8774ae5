#include "train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include <autodiff/elementwise.hpp>
#include <autodiff/tape.hpp>

#include "check.hpp"
#include "loss.hpp"
#include "metrics.hpp"

namespace nn {

template <class T>
Array<T> predict(Module<T>& model, const Array<T>& inputs) {
  autodiff::no_grad scope;
  ModeScope<T> evaluation(model, false);  // no dropout; the caller's mode comes back afterwards
  return model(Variable<T>(inputs)).value();
}

namespace {

// printf into a std::string of whatever length it takes (a loss of 1e300 has 300 digits in %f).
template <class... Args>
std::string format(const char* pattern, Args... args) {
  const int length = std::snprintf(nullptr, 0, pattern, args...);
  std::string text(static_cast<std::size_t>(length > 0 ? length : 0), '\0');
  if (length > 0) std::snprintf(text.data(), text.size() + 1, pattern, args...);
  return text;
}

// Everything fit() needs, checked before anything changes.
template <class T>
void check_fit(const Module<T>& model, const Optimizer<T>& optimizer, const LossFunction<T>& loss,
               const Dataset<T>& data, const FitOptions& options) {
  if (!loss) throw std::invalid_argument("fit: no loss function given (an empty std::function)");
  data.check("fit");
  if (data.size() == 0)
    throw std::invalid_argument("fit: the training data set is empty (inputs of shape " +
                                autodiff::to_string(data.inputs.shape()) + "); there is nothing to train on");
  if (options.batch_size == 0) throw std::invalid_argument("fit: batch_size 0 must be at least 1");
  detail::require_at_least("fit", "l2", options.l2, 0);
  detail::require_in_half_open("fit", "validation_fraction", options.validation_fraction, 0, 1);
  detail::require_at_least("fit", "tol", options.tol, 0);
  if (options.early_stopping && options.n_iter_no_change == 0)
    throw std::invalid_argument("fit: n_iter_no_change 0 must be at least 1 with early_stopping");
  if (const GradientSync* sync = options.distributed; sync && (sync->size() == 0 || sync->rank() >= sync->size()))
    throw std::invalid_argument("fit: FitOptions::distributed is rank " + std::to_string(sync->rank()) + " of " +
                                std::to_string(sync->size()) + " ranks; a rank must be below the number of ranks");
  const auto parameters = model.parameters();
  const bool shared = std::any_of(optimizer.parameters().begin(), optimizer.parameters().end(), [&](const auto& p) {
    return std::any_of(parameters.begin(), parameters.end(),
                       [&](const auto& q) { return q.node_ptr() == p.node_ptr(); });
  });
  if (!shared)
    throw std::invalid_argument("fit: the optimizer (" + optimizer.name() + ", " +
                                std::to_string(optimizer.parameters().size()) +
                                " parameters) updates none of the model's " + std::to_string(parameters.size()) +
                                " parameters; build it from model.parameters()");
}

// The accuracy on the training data; with data-parallel training each rank scores
// its n-th of the samples and the ranks add up their counts of correct ones.
template <class T>
double training_accuracy(Module<T>& model, const Dataset<T>& data, GradientSync* sync) {
  if (!sync) return accuracy(predict(model, data.inputs), data.labels);
  const std::size_t n = data.size(), ranks = sync->size();
  const std::size_t first = n * sync->rank() / ranks, end = n * (sync->rank() + 1) / ranks;
  std::vector<std::size_t> mine(end - first);
  std::iota(mine.begin(), mine.end(), first);
  const Dataset<T> part = data.subset(mine);
  const double correct = part.size() ? accuracy(predict(model, part.inputs), part.labels) * double(part.size()) : 0;
  return std::round(sync->mean(correct) * double(ranks)) / double(n);
}

// The loss must be one number that depends on something to train.
template <class T>
void check_cost(const Variable<T>& cost) {
  if (!cost.defined()) throw std::invalid_argument("fit: the loss function returned an empty Variable");
  if (cost.size() != 1)
    throw autodiff::ShapeError("fit: the loss function returned a value of shape " + autodiff::to_string(cost.shape()) +
                               ", not one number (reduce it with Reduction::mean or Reduction::sum)");
  if (!cost.requires_grad())
    throw autodiff::GraphError("fit: the loss does not depend on any parameter that requires a gradient "
                               "(was it computed under no_grad, or from detached values?)");
}

}  // namespace

namespace {

// A progress bar goes to a terminal only: std::cout, std::cerr or std::clog on a tty.
bool is_terminal(const std::ostream* stream) {
  if (stream == &std::cout) return isatty(STDOUT_FILENO);
  if (stream == &std::cerr || stream == &std::clog) return isatty(STDERR_FILENO);
  return false;
}

// 3.2 s, 4 min 10 s, 1 h 05 min
std::string duration(double seconds) {
  if (!(seconds < 1e9)) return "?";
  if (seconds < 60) return format("%.1f s", seconds);
  const long whole = long(seconds);
  if (whole < 3600) return format("%ld min %02ld s", whole / 60, whole % 60);
  return format("%ld h %02ld min", whole / 3600, (whole % 3600) / 60);
}

// The bar of one epoch, redrawn over itself with '\r' at most ten times a second.
class ProgressBar {
 public:
  ProgressBar(std::ostream* out, std::size_t epochs, std::size_t batches) : out_(out), epochs_(epochs), batches_(batches) {}
  void start() {
    start_ = std::chrono::steady_clock::now();
    last_draw_ = start_ - std::chrono::seconds(1);
  }
  void update(std::size_t epoch, std::size_t batch, std::size_t samples, double loss) {
    if (!out_) return;
    const auto now = std::chrono::steady_clock::now();
    if (batch != 1 && batch != batches_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    constexpr std::size_t width = 24;
    const std::size_t filled = batches_ ? width * batch / batches_ : width;
    std::string line = format("\repoch %4zu/%zu [", epoch, epochs_) + std::string(filled, '=') +
                       (filled < width ? ">" + std::string(width - filled - 1, ' ') : "") +
                       format("] %zu/%zu  loss %.5f", batch, batches_, loss);
    if (elapsed > 0) {
      line += format("  %.0f samples/s", double(samples) / elapsed);
      line += "  ETA " + duration(elapsed / double(batch) * double(batches_ - batch));
    }
    if (line.size() < drawn_) line += std::string(drawn_ - line.size(), ' ');  // wipe a longer old line
    drawn_ = line.size();
    *out_ << line << std::flush;
  }
  // The epoch's line over the bar.
  void finish(const std::string& line) {
    if (!out_) return;
    std::string text = "\r" + line;
    if (text.size() < drawn_ + 1) text.insert(text.size() - 1, std::string(drawn_ + 1 - text.size(), ' '));
    *out_ << text;
    drawn_ = 0;
  }

 private:
  std::ostream* out_;
  std::size_t epochs_, batches_, drawn_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// The scheduler must drive this optimizer and take every step of the run (OneCycleLR stops
// at total_steps): checked before training, so that a run cannot fail half way for it.
template <class T>
void check_scheduler(const FitOptions& options, const FitHooks<T>& hooks, const Optimizer<T>& optimizer,
                     std::size_t batches_per_epoch) {
  LRScheduler<T>* scheduler = hooks.scheduler;
  if (!scheduler) return;
  const std::string name = "the scheduler (" + scheduler->name() + ")";
  if (options.schedule)
    throw std::invalid_argument("fit: both FitOptions::schedule and " + name +
                                " are given; give one (an LRScheduler replaces the older Schedule)");
  if (&scheduler->optimizer() != &optimizer)
    throw std::invalid_argument("fit: " + name + " drives another optimizer (" + scheduler->optimizer().name() +
                                ") than the one fit trains with (" + optimizer.name() + ")");
  const bool per_batch = hooks.step == StepEvery::batch;
  const std::size_t steps = options.epochs * (per_batch ? batches_per_epoch : 1);
  const std::size_t from = scheduler->step_count();
  for (std::size_t k = 1; k <= steps; ++k) {
    std::vector<double> rates;
    try {
      rates = scheduler->rates_at(from + k);
    } catch (const std::exception& e) {
      throw std::invalid_argument(
          "fit: " + name + " cannot take the " + std::to_string(steps) + " steps this run needs (" +
          std::to_string(options.epochs) + " epochs" +
          (per_batch ? " of " + std::to_string(batches_per_epoch) + " batches, stepped per batch" : ", stepped per epoch") +
          ") from its step " + std::to_string(from) + ": step " + std::to_string(from + k) + " fails: " + e.what());
    }
    for (double rate : rates)
      if (!(std::isfinite(rate) && rate >= 0))
        throw std::invalid_argument("fit: " + name + " gives learning rate " + detail::number(rate) + " at its step " +
                                    std::to_string(from + k) + "; a rate must be a finite number >= 0");
  }
}

}  // namespace

template <class T>
History fit(Module<T>& model, Optimizer<T>& optimizer, const std::common_type_t<LossFunction<T>>& loss,
            const Dataset<T>& data, const FitOptions& options) {
  return fit(model, optimizer, loss, data, options, FitHooks<T>{});
}

template <class T>
History fit(Module<T>& model, Optimizer<T>& optimizer, const std::common_type_t<LossFunction<T>>& loss,
            const Dataset<T>& data, const FitOptions& options, const std::common_type_t<FitHooks<T>>& hooks) {
  check_fit(model, optimizer, loss, data, options);
  for (const auto& callback : hooks.callbacks)
    if (!callback) throw std::invalid_argument("fit: FitHooks::callbacks holds a null callback");
  for (const auto& callback : hooks.on_batch_end)
    if (!callback) throw std::invalid_argument("fit: FitHooks::on_batch_end holds an empty std::function");
  for (const auto& callback : hooks.on_epoch_end)
    if (!callback) throw std::invalid_argument("fit: FitHooks::on_epoch_end holds an empty std::function");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const bool classification = !data.labels.empty();
  Dataset<T> train = data, validation;
  if (options.validation_fraction > 0) {
    try {
      std::tie(train, validation) = train_test_split(data, options.validation_fraction, options.seed, classification);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("fit: validation_fraction " + detail::number(options.validation_fraction) +
                                  " cannot be held out: " + e.what());
    }
  }
  GradientSync* const sync = options.distributed;
  DataLoader<T> loader(std::move(train), options.batch_size, true, options.seed);
  if (sync) loader.shard(sync->rank(), sync->size());
  const std::size_t ranks = sync ? sync->size() : 1;  // the progress bar counts all ranks' samples
  const std::size_t batches_per_epoch = loader.batches_per_epoch();
  check_scheduler(options, hooks, optimizer, batches_per_epoch);
  LRScheduler<T>* const scheduler = hooks.scheduler;
  std::ostream* const progress = sync && sync->rank() != 0 ? nullptr : options.progress;  // rank 0 speaks
  if (options.early_stopping && classification && validation.size() == 0 && progress)
    *progress << "early stopping monitors the training loss (no validation_fraction)\n";

  ModeScope<T> training(model, true);  // dropout on in the loop (predict() turns it off for the accuracies)
  const std::vector<Variable<T>> weights = model.weights();
  const double initial_rate = optimizer.learning_rate();
  std::vector<double> initial_group_rates;  // the schedule moves group 0; the others keep their ratio to it
  for (std::size_t g = 0; g < optimizer.group_count(); ++g) initial_group_rates.push_back(optimizer.learning_rate(g));
  History history;
  double best_score = -std::numeric_limits<double>::infinity();
  std::size_t epochs_without_improvement = 0, samples_seen = 0;
  std::vector<Array<T>> best_parameters;
  const bool bar = progress && (options.progress_bar == FitOptions::Bar::always ||
                                (options.progress_bar == FitOptions::Bar::automatic && is_terminal(progress)));
  ProgressBar progress_bar(bar ? progress : nullptr, options.epochs, batches_per_epoch);

  FitState<T> state{model, optimizer, scheduler, history, 0, options.epochs, 0, batches_per_epoch, 0, nan,
                    optimizer.learning_rate()};
  auto call = [&](void (Callback<T>::*event)(FitState<T>&),
                  const std::vector<std::function<void(FitState<T>&)>>* functions) {
    for (const auto& callback : hooks.callbacks) ((*callback).*event)(state);
    if (functions)
      for (const auto& function : *functions) function(state);
    return sync ? sync->any(state.stop) : state.stop;  // all ranks stop together
  };
  bool stopped_by_callback = call(&Callback<T>::on_train_begin, nullptr);

  for (std::size_t epoch = 1; epoch <= options.epochs && !stopped_by_callback; ++epoch) {
    state.epoch = epoch;
    state.batch = 0;
    if (call(&Callback<T>::on_epoch_begin, nullptr)) {
      stopped_by_callback = true;
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    progress_bar.start();
    double loss_total = 0, last_rate = optimizer.learning_rate();
    std::size_t batches_done = 0, epoch_samples = 0;
    const auto batches = loader.epoch();
    for (const Batch<T>& batch : batches) {
      optimizer.zero_grad();
      Variable<T> cost = loss(model(batch.inputs), batch);
      check_cost(cost);
      if (options.l2 > 0) cost = cost + l2_penalty(weights, T(options.l2));
      cost.backward();
      if (sync) sync->synchronize();  // the gradients are the mean over the ranks' batches now
      last_rate = optimizer.learning_rate();
      optimizer.step();
      const double batch_loss = sync ? sync->mean(double(cost.item())) : double(cost.item());
      loss_total += batch_loss;
      ++batches_done;
      samples_seen += batch.inputs.shape()[0];
      epoch_samples += batch.inputs.shape()[0];
      history.batch_losses.push_back(batch_loss);
      history.batch_learning_rates.push_back(last_rate);
      if (scheduler && hooks.step == StepEvery::batch) scheduler->step();
      state.batch = batches_done;
      state.samples_seen = samples_seen;
      state.loss = batch_loss;
      state.learning_rate = last_rate;
      if (call(&Callback<T>::on_batch_end, &hooks.on_batch_end)) {
        stopped_by_callback = true;
        break;
      }
      progress_bar.update(epoch, batches_done, epoch_samples * ranks, loss_total / double(batches_done));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    EpochRecord record{epoch, loss_total / double(batches_done), nan, nan, last_rate, seconds};
    record.batches = batches_done;
    if (classification) record.train_accuracy = training_accuracy(model, loader.data(), sync);
    if (validation.size() > 0) {
      const Array<T> output = predict(model, validation.inputs);
      if (classification) record.validation_accuracy = accuracy(output, validation.labels);
      autodiff::no_grad scope;
      const Batch<T> all{Variable<T>(validation.inputs), validation.labels, Variable<T>(validation.targets)};
      record.validation_loss = double(loss(Variable<T>(output), all).item());
    }
    history.epochs.push_back(record);
    if (progress) {
      // Only the figures this run has: no accuracies for regression, no val acc without validation data.
      std::string line = format("epoch %4zu  loss %.5f", epoch, record.loss);
      if (classification) line += format("  train acc %.4f", record.train_accuracy);
      if (validation.size() > 0) line += format("  val loss %.5f", record.validation_loss);
      if (classification && validation.size() > 0) line += format("  val acc %.4f", record.validation_accuracy);
      line += format("  lr %.3g  %.3f s\n", record.learning_rate, seconds);
      if (bar)
        progress_bar.finish(line);
      else
        *progress << line;
    }
    if (options.schedule) {
      const double rate =
          options.schedule->next(initial_rate, optimizer.learning_rate(), {epoch, samples_seen, record.loss});
      if (!(std::isfinite(rate) && rate >= 0))
        throw std::invalid_argument("fit: the schedule returned learning rate " + detail::number(rate) +
                                    " after epoch " + std::to_string(epoch) + "; a rate must be a finite number >= 0");
      optimizer.set_learning_rate(0, rate);
      for (std::size_t g = 1; g < initial_group_rates.size(); ++g)
        if (initial_rate > 0) optimizer.set_learning_rate(g, rate * (initial_group_rates[g] / initial_rate));
    }
    if (scheduler && hooks.step == StepEvery::epoch) scheduler->step();
    if (stopped_by_callback) break;  // stopped within the epoch: no epoch callbacks for a partial epoch
    state.batch = batches_done;
    state.loss = record.loss;
    state.learning_rate = record.learning_rate;
    if (call(&Callback<T>::on_epoch_end, &hooks.on_epoch_end)) {
      stopped_by_callback = true;
      break;
    }
    if (options.early_stopping) {
      // Higher is better: validation accuracy, or minus the training loss.
      const double score = validation.size() > 0 ? record.validation_accuracy : -record.loss;
      if (score > best_score + options.tol) {
        best_score = score;
        epochs_without_improvement = 0;
        best_parameters.clear();
        for (auto& p : model.parameters()) best_parameters.push_back(p.value());
      } else if (++epochs_without_improvement >= options.n_iter_no_change) {
        history.stopped_early = true;
        // No best epoch when every score was NaN: then the parameters are kept as they are.
        const bool restore = !best_parameters.empty();
        auto parameters = model.parameters();
        if (restore)
          for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].data() = best_parameters[i];
        if (progress)
          *progress << "early stop: no improvement by " << options.tol << " for " << options.n_iter_no_change
                    << " epochs; "
                    << (restore ? "best parameters restored\n" : "no epoch had a score (NaN), parameters kept\n");
        break;
      }
    }
  }
  if (stopped_by_callback) {
    history.stopped_early = history.stopped_by_callback = true;
    if (progress) *progress << "stopped by a callback\n";
  }
  call(&Callback<T>::on_train_end, nullptr);
  return history;
}

#define WENGERT_INSTANTIATE(T)                                                                  \
  template Array<T> predict(Module<T>&, const Array<T>&);                                       \
  template History fit(Module<T>&, Optimizer<T>&, const std::common_type_t<LossFunction<T>>&, \
                       const Dataset<T>&, const FitOptions&);                                 \
  template History fit(Module<T>&, Optimizer<T>&, const std::common_type_t<LossFunction<T>>&, \
                       const Dataset<T>&, const FitOptions&, const std::common_type_t<FitHooks<T>>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
