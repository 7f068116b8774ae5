#include "train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

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

template <class T>
History fit(Module<T>& model, Optimizer<T>& optimizer, const std::common_type_t<LossFunction<T>>& loss,
            const Dataset<T>& data, const FitOptions& options) {
  check_fit(model, optimizer, loss, data, options);
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
  if (options.early_stopping && classification && validation.size() == 0 && options.progress)
    *options.progress << "early stopping monitors the training loss (no validation_fraction)\n";

  ModeScope<T> training(model, true);  // dropout on in the loop (predict() turns it off for the accuracies)
  DataLoader<T> loader(std::move(train), options.batch_size, true, options.seed);
  const std::vector<Variable<T>> weights = model.weights();
  const double initial_rate = optimizer.learning_rate();
  std::vector<double> initial_group_rates;  // the schedule moves group 0; the others keep their ratio to it
  for (std::size_t g = 0; g < optimizer.group_count(); ++g) initial_group_rates.push_back(optimizer.learning_rate(g));
  History history;
  double best_score = -std::numeric_limits<double>::infinity();
  std::size_t epochs_without_improvement = 0, samples_seen = 0;
  std::vector<Array<T>> best_parameters;

  for (std::size_t epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    double loss_total = 0;
    const auto batches = loader.epoch();
    for (const Batch<T>& batch : batches) {
      optimizer.zero_grad();
      Variable<T> cost = loss(model(batch.inputs), batch);
      check_cost(cost);
      if (options.l2 > 0) cost = cost + l2_penalty(weights, T(options.l2));
      cost.backward();
      optimizer.step();
      loss_total += double(cost.item());
      samples_seen += batch.inputs.shape()[0];
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    EpochRecord record{epoch, loss_total / double(batches.size()), nan, nan, optimizer.learning_rate(), seconds};
    if (classification) {
      record.train_accuracy = accuracy(predict(model, loader.data().inputs), loader.data().labels);
      if (validation.size() > 0) record.validation_accuracy = accuracy(predict(model, validation.inputs), validation.labels);
    }
    history.epochs.push_back(record);
    if (options.progress) {
      // Only the figures this run has: no accuracies for regression, no val acc without validation data.
      std::string line = format("epoch %4zu  loss %.5f", epoch, record.loss);
      if (classification) line += format("  train acc %.4f", record.train_accuracy);
      if (classification && validation.size() > 0) line += format("  val acc %.4f", record.validation_accuracy);
      line += format("  lr %.3g  %.3f s\n", record.learning_rate, seconds);
      *options.progress << line;
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
        if (options.progress)
          *options.progress << "early stop: no improvement by " << options.tol << " for " << options.n_iter_no_change
                            << " epochs; "
                            << (restore ? "best parameters restored\n" : "no epoch had a score (NaN), parameters kept\n");
        break;
      }
    }
  }
  return history;
}

#define WENGERT_INSTANTIATE(T)                                                                  \
  template Array<T> predict(Module<T>&, const Array<T>&);                                       \
  template History fit(Module<T>&, Optimizer<T>&, const std::common_type_t<LossFunction<T>>&, \
                       const Dataset<T>&, const FitOptions&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
