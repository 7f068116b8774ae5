#include "train.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include <autodiff/elementwise.hpp>
#include <autodiff/tape.hpp>

#include "loss.hpp"
#include "metrics.hpp"

namespace nn {

template <class T>
Array<T> predict(Module<T>& model, const Array<T>& inputs) {
  autodiff::no_grad scope;
  return model(Variable<T>(inputs)).value();
}

template <class T>
History fit(Module<T>& model, Optimizer<T>& optimizer, const std::common_type_t<LossFunction<T>>& loss,
            const Dataset<T>& data, const FitOptions& options) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const bool classification = !data.labels.empty();
  Dataset<T> train = data, validation;
  if (options.validation_fraction > 0)
    std::tie(train, validation) = train_test_split(data, options.validation_fraction, options.seed, classification);
  if (options.early_stopping && classification && validation.size() == 0 && options.progress)
    *options.progress << "early stopping monitors the training loss (no validation_fraction)\n";

  DataLoader<T> loader(std::move(train), options.batch_size, true, options.seed);
  const std::vector<Variable<T>> weights = model.weights();
  const double initial_rate = optimizer.learning_rate();
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
      char line[160];
      int n = std::snprintf(line, sizeof line, "epoch %4zu  loss %.5f", epoch, record.loss);
      if (classification) n += std::snprintf(line + n, sizeof line - n, "  train acc %.4f", record.train_accuracy);
      if (classification && validation.size() > 0)
        n += std::snprintf(line + n, sizeof line - n, "  val acc %.4f", record.validation_accuracy);
      std::snprintf(line + n, sizeof line - n, "  lr %.3g  %.3f s\n", record.learning_rate, seconds);
      *options.progress << line;
    }
    if (options.schedule)
      optimizer.set_learning_rate(options.schedule->next(initial_rate, optimizer.learning_rate(),
                                                         {epoch, samples_seen, record.loss}));
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
        auto parameters = model.parameters();
        for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].data() = best_parameters[i];
        if (options.progress)
          *options.progress << "early stop: no improvement by " << options.tol << " for " << options.n_iter_no_change
                            << " epochs; best parameters restored\n";
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
