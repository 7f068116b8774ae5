// Training end to end: XOR, separable blobs through fit(), early stopping,
// the digits network, and fit's scheduler, callbacks, history and progress bar.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

#include <unistd.h>

#include <nn/nn.hpp>
#include <xtensor/xtensor.hpp>

#include "test_util.hpp"

using namespace nn;

namespace {
// Two Gaussian blobs per class in 2-D, well separated.
Dataset<float> blobs(std::size_t per_class, std::uint64_t seed) {
  Engine engine(seed);
  std::normal_distribution<float> noise(0.f, 0.5f);
  const float centres[3][2] = {{-3.f, 0.f}, {3.f, 0.f}, {0.f, 4.f}};
  Dataset<float> data;
  data.inputs = Array<float>::from_shape({3 * per_class, 2});
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < per_class; ++i) {
      const std::size_t row = c * per_class + i;
      data.inputs(row, 0) = centres[c][0] + noise(engine);
      data.inputs(row, 1) = centres[c][1] + noise(engine);
      data.labels.push_back(c);
    }
  return data;
}
}  // namespace

TEST_CASE("a 2-4-1 network learns XOR (a hand-written loop from the pieces)") {
  manual_seed(1);
  Sequential<float> model = mlp<float>({2, 4, 1}, Tanh<float>(), xavier_normal(), zeros());
  Adam<float> optimizer(model.parameters(), 0.05);
  const Variable<float> x(Array<float>{{0, 0}, {0, 1}, {1, 0}, {1, 1}});
  const Variable<float> y(xt::xtensor<float, 2>{{0}, {1}, {1}, {0}});
  for (int step = 0; step < 500; ++step) {
    optimizer.zero_grad();
    binary_cross_entropy_with_logits(model(x), y).backward();
    optimizer.step();
  }
  const Array<float> logits = predict(model, x.value());
  CHECK(logits(0, 0) < 0);
  CHECK(logits(1, 0) > 0);
  CHECK(logits(2, 0) > 0);
  CHECK(logits(3, 0) < 0);
}

TEST_CASE("fit trains a classifier on separable blobs and reports each epoch") {
  manual_seed(2);
  auto [train, test] = train_test_split(blobs(100, 3), 0.2, 4);
  Sequential<float> model = mlp<float>({2, 8, 3}, ReLU<float>(), he_normal(), zeros());
  SGD<float> optimizer(model.parameters(), 0.1, 0.9);
  std::ostringstream progress;
  FitOptions options;
  options.epochs = 20;
  options.batch_size = 16;
  options.validation_fraction = 0.25;
  options.progress = &progress;
  History history = fit(model, optimizer, [](auto& z, auto& batch) { return cross_entropy(z, batch.labels); },
                        train, options);
  CHECK(history.epochs.size() == 20);
  CHECK_FALSE(history.stopped_early);
  CHECK(history.epochs.back().loss < history.epochs.front().loss);
  CHECK(history.epochs.back().validation_accuracy >= 0.95);
  CHECK(accuracy(predict(model, test.inputs), test.labels) >= 0.95);
  // one progress line per epoch, naming loss and both accuracies
  std::size_t lines = 0;
  for (char c : progress.str()) lines += c == '\n';
  CHECK(lines == 20);
  CHECK(progress.str().find("val acc") != std::string::npos);
}

TEST_CASE("early stopping stops after n_iter_no_change epochs without improvement and restores the best") {
  manual_seed(3);
  Dataset<float> data = blobs(50, 5);
  Sequential<float> model = mlp<float>({2, 8, 3}, Tanh<float>());
  SGD<float> optimizer(model.parameters(), 0.05);
  FitOptions options;
  options.epochs = 500;
  options.validation_fraction = 0.2;
  options.early_stopping = true;
  options.n_iter_no_change = 3;
  options.tol = 0.5;  // no epoch can improve accuracy by 0.5 twice
  options.progress = nullptr;
  History history = fit(model, optimizer, [](auto& z, auto& batch) { return cross_entropy(z, batch.labels); },
                        data, options);
  CHECK(history.stopped_early);
  CHECK(history.epochs.size() == 4);  // epoch 1 sets the best, then 3 without improvement

  // The best epoch was the first: the same run stopped after one epoch must give the restored parameters.
  manual_seed(3);
  Sequential<float> after_one_epoch = mlp<float>({2, 8, 3}, Tanh<float>());
  SGD<float> same_optimizer(after_one_epoch.parameters(), 0.05);
  options.epochs = 1;
  options.early_stopping = false;
  fit(after_one_epoch, same_optimizer, [](auto& z, auto& batch) { return cross_entropy(z, batch.labels); }, data,
      options);
  const auto restored = model.parameters(), expected = after_one_epoch.parameters();
  for (std::size_t i = 0; i < restored.size(); ++i) CHECK(restored[i].value() == expected[i].value());
}

TEST_CASE("a learning-rate schedule changes the optimizer's rate per epoch") {
  manual_seed(4);
  Dataset<float> data = blobs(20, 6);
  Sequential<float> model = mlp<float>({2, 4, 3}, Tanh<float>());
  SGD<float> optimizer(model.parameters(), 0.1);
  FitOptions options;
  options.epochs = 3;
  options.schedule = std::make_shared<ExponentialDecay>(0.5);
  std::ostringstream progress;
  options.progress = &progress;
  History history = fit(model, optimizer, [](auto& z, auto& batch) { return cross_entropy(z, batch.labels); },
                        data, options);
  CHECK(history.epochs[0].learning_rate == doctest::Approx(0.1));
  CHECK(history.epochs[1].learning_rate == doctest::Approx(0.05));
  CHECK(history.epochs[2].learning_rate == doctest::Approx(0.025));
  // the progress lines show the rate, and no validation accuracy when there is no validation data
  CHECK(progress.str().find("lr 0.025") != std::string::npos);
  CHECK(progress.str().find("val acc") == std::string::npos);
  CHECK(progress.str().find("nan") == std::string::npos);
}

TEST_CASE("a schedule in fit moves every parameter group, each keeping its ratio to group 0") {
  manual_seed(4);
  Dataset<float> data = blobs(20, 6);
  Sequential<float> model = mlp<float>({2, 4, 3}, Tanh<float>());
  SGD<float> optimizer(decay_groups(model, 0.0), SGDOptions{.lr = 0.1});
  optimizer.set_learning_rate(1, 0.4);
  FitOptions options;
  options.epochs = 2;
  options.schedule = std::make_shared<ExponentialDecay>(0.5);
  options.progress = nullptr;
  fit(model, optimizer, [](auto& z, auto& batch) { return cross_entropy(z, batch.labels); }, data, options);
  CHECK(optimizer.learning_rate(0) == doctest::Approx(0.025));
  CHECK(optimizer.learning_rate(1) == doctest::Approx(0.1));
}

TEST_CASE("the lecture's digits network reaches 95% in a few epochs") {
  Dataset<float> digits = load_digits<float>(WENGERT_DATA_DIR "/digits.csv.gz");
  auto [train, test] = train_test_split(digits, 0.2, 1);
  StandardScaler<float> scaler;
  train.inputs = scaler.fit_transform(train.inputs);
  test.inputs = scaler.transform(test.inputs);
  manual_seed(2024);
  Sequential<float> model = mlp<float>({64, 50, 10}, Sigmoid<float>(), xavier_uniform(), constant(0.01));
  SGD<float> optimizer(model.parameters(), 0.01);
  FitOptions options;
  options.epochs = 10;
  options.l2 = 0.001;
  options.progress = nullptr;
  fit(model, optimizer, [](auto& z, auto& batch) { return cross_entropy(z, batch.labels, Reduction::sum); }, train,
      options);
  CHECK(accuracy(predict(model, test.inputs), test.labels) >= 0.95);
}

// ---- fit with a scheduler and callbacks ---------------------------------------

namespace {

// Logs every event it gets, with the epoch and batch.
class Recorder : public Callback<float> {
 public:
  explicit Recorder(std::vector<std::string>& log) : log_(log) {}
  void on_train_begin(FitState<float>& s) override { log_.push_back("train_begin " + std::to_string(s.epoch)); }
  void on_epoch_begin(FitState<float>& s) override { log_.push_back("epoch_begin " + std::to_string(s.epoch)); }
  void on_batch_end(FitState<float>& s) override {
    log_.push_back("batch " + std::to_string(s.epoch) + "." + std::to_string(s.batch));
  }
  void on_epoch_end(FitState<float>& s) override {
    log_.push_back("epoch_end " + std::to_string(s.epoch) + " after " + std::to_string(s.batch) + " batches, " +
                   std::to_string(s.history.epochs.size()) + " in the history");
  }
  void on_train_end(FitState<float>&) override { log_.push_back("train_end"); }

 private:
  std::vector<std::string>& log_;
};

const auto classify = [](auto& z, auto& batch) { return cross_entropy(z, batch.labels); };

FitOptions quiet(std::size_t epochs, std::size_t batch_size) {
  FitOptions options;
  options.epochs = epochs;
  options.batch_size = batch_size;
  options.progress = nullptr;
  return options;
}

}  // namespace

TEST_CASE("fit calls the callbacks in order, as often as there are batches and epochs") {
  manual_seed(21);
  const Dataset<float> data = blobs(4, 7);  // 12 samples: batches of 5, 5, 2
  Sequential<float> model = mlp<float>({2, 4, 3});
  SGD<float> optimizer(model.parameters(), 0.1);
  std::vector<std::string> log;
  std::size_t batch_calls = 0;
  double last_batch_loss = 0;
  std::size_t samples_at_end = 0;
  FitHooks<float> hooks;
  hooks.callbacks.push_back(std::make_shared<Recorder>(log));
  hooks.on_batch_end.push_back([&](FitState<float>& s) {
    ++batch_calls;
    log.push_back("lambda batch");
    last_batch_loss = s.loss;
    CHECK(s.loss == s.history.batch_losses.back());  // the batch's own loss
    CHECK(s.batches == 3);
  });
  hooks.on_epoch_end.push_back([&](FitState<float>& s) {
    log.push_back("lambda epoch_end");
    samples_at_end = s.samples_seen;
    CHECK(s.loss == s.history.epochs.back().loss);
    CHECK(&s.model == &model);
    CHECK(&s.optimizer == &optimizer);
  });
  const History history = fit(model, optimizer, classify, data, quiet(2, 5), hooks);
  const std::vector<std::string> expected = {
      "train_begin 0", "epoch_begin 1", "batch 1.1", "lambda batch", "batch 1.2", "lambda batch", "batch 1.3",
      "lambda batch", "epoch_end 1 after 3 batches, 1 in the history", "lambda epoch_end", "epoch_begin 2",
      "batch 2.1", "lambda batch", "batch 2.2", "lambda batch", "batch 2.3", "lambda batch",
      "epoch_end 2 after 3 batches, 2 in the history", "lambda epoch_end", "train_end"};
  CHECK(log == expected);
  CHECK(batch_calls == 6);
  CHECK(samples_at_end == 24);
  CHECK(history.batch_losses.size() == 6);
  CHECK(history.batch_losses.back() == last_batch_loss);
  CHECK(history.epochs[1].batches == 3);
  CHECK_FALSE(history.stopped_early);
}

TEST_CASE("a callback stops fit after an epoch or within one") {
  manual_seed(22);
  const Dataset<float> data = blobs(4, 8);
  SUBCASE("at the end of epoch 2 of 10") {
    Sequential<float> model = mlp<float>({2, 4, 3});
    SGD<float> optimizer(model.parameters(), 0.1);
    std::vector<std::string> log;
    FitHooks<float> hooks;
    hooks.callbacks.push_back(std::make_shared<Recorder>(log));
    hooks.on_epoch_end.push_back([](FitState<float>& s) { s.stop = s.epoch == 2; });
    std::ostringstream progress;
    FitOptions options = quiet(10, 4);
    options.progress = &progress;
    const History history = fit(model, optimizer, classify, data, options, hooks);
    CHECK(history.epochs.size() == 2);
    CHECK(history.stopped_early);
    CHECK(history.stopped_by_callback);
    CHECK(log.back() == "train_end");
    CHECK(progress.str().find("stopped by a callback") != std::string::npos);
  }
  SUBCASE("after batch 2 of epoch 1") {
    Sequential<float> model = mlp<float>({2, 4, 3});
    SGD<float> optimizer(model.parameters(), 0.1);
    std::size_t epoch_ends = 0;
    FitHooks<float> hooks;
    hooks.on_batch_end.push_back([](FitState<float>& s) { s.stop = s.batch == 2; });
    hooks.on_epoch_end.push_back([&](FitState<float>&) { ++epoch_ends; });
    const History history = fit(model, optimizer, classify, data, quiet(10, 4), hooks);
    REQUIRE(history.epochs.size() == 1);
    CHECK(history.epochs[0].batches == 2);
    CHECK(history.batch_losses.size() == 2);
    CHECK(history.epochs[0].loss == doctest::Approx((history.batch_losses[0] + history.batch_losses[1]) / 2));
    CHECK(history.stopped_by_callback);
    CHECK(epoch_ends == 0);  // no epoch callback for a partial epoch
  }
}

TEST_CASE("fit steps a scheduler per epoch or per batch, and the history shows each rate") {
  manual_seed(23);
  const Dataset<float> data = blobs(4, 9);  // 12 samples, batches of 4: 3 per epoch
  Sequential<float> model = mlp<float>({2, 4, 3});
  SGD<float> optimizer(model.parameters(), 0.1);
  SUBCASE("per epoch: StepLR halves the rate after every epoch") {
    StepLR<float> halve(optimizer, 1, 0.5);
    const History history = fit(model, optimizer, classify, data, quiet(3, 4), {.scheduler = &halve});
    REQUIRE(history.epochs.size() == 3);
    for (std::size_t e = 0; e < 3; ++e) {
      CHECK(history.epochs[e].learning_rate == doctest::Approx(0.1 * std::pow(0.5, double(e))));
      for (std::size_t b = 0; b < 3; ++b)
        CHECK(history.batch_learning_rates[3 * e + b] == doctest::Approx(0.1 * std::pow(0.5, double(e))));
    }
    CHECK(halve.step_count() == 3);
    CHECK(optimizer.learning_rate() == doctest::Approx(0.0125));
  }
  SUBCASE("per batch: ExponentialLR halves it after every batch") {
    ExponentialLR<float> halve(optimizer, 0.5);
    const History history =
        fit(model, optimizer, classify, data, quiet(3, 4), {.scheduler = &halve, .step = StepEvery::batch});
    REQUIRE(history.batch_learning_rates.size() == 9);
    for (std::size_t k = 0; k < 9; ++k)
      CHECK(history.batch_learning_rates[k] == doctest::Approx(0.1 * std::pow(0.5, double(k))));
    for (std::size_t e = 0; e < 3; ++e)  // the epoch's last batch
      CHECK(history.epochs[e].learning_rate == doctest::Approx(0.1 * std::pow(0.5, double(3 * e + 2))));
    CHECK(halve.step_count() == 9);
  }
}

TEST_CASE("fit checks its scheduler before training: steps enough, one optimizer, not with a schedule") {
  manual_seed(24);
  const Dataset<float> data = blobs(4, 10);
  Sequential<float> model = mlp<float>({2, 4, 3});
  SGD<float> optimizer(model.parameters(), 0.1);
  const Array<float> before = model.parameters()[0].value();
  // 2 epochs of 3 batches need 6 steps; this cycle has 4
  OneCycleLR<float> cycle(optimizer, 0.5, 4);
  const double rate = optimizer.learning_rate();
  const std::string message = test::message_of(
      [&] { fit(model, optimizer, classify, data, quiet(2, 4), {.scheduler = &cycle, .step = StepEvery::batch}); });
  CHECK(message.find("fit: the scheduler (OneCycleLR) cannot take the 6 steps this run needs (2 epochs of 3 "
                     "batches, stepped per batch) from its step 0") != std::string::npos);
  CHECK(cycle.step_count() == 0);
  CHECK(optimizer.learning_rate() == rate);
  CHECK(xt::all(xt::equal(model.parameters()[0].value(), before)));
  // with 6 it runs
  OneCycleLR<float> enough(optimizer, 0.5, 6);
  CHECK(fit(model, optimizer, classify, data, quiet(2, 4), {.scheduler = &enough, .step = StepEvery::batch})
            .batch_learning_rates.size() == 6);

  SGD<float> other(model.parameters(), 0.1);
  StepLR<float> elsewhere(other, 1);
  CHECK(test::message_of([&] { fit(model, optimizer, classify, data, quiet(2, 4), {.scheduler = &elsewhere}); })
            .find("drives another optimizer") != std::string::npos);
  FitOptions both = quiet(2, 4);
  both.schedule = std::make_shared<StepDecay>(1, 0.5);
  StepLR<float> step(optimizer, 1);
  CHECK_THROWS_AS(fit(model, optimizer, classify, data, both, {.scheduler = &step}), std::invalid_argument);
}

TEST_CASE("the progress bar: '\\r', rate and ETA only on a terminal (or on request)") {
  manual_seed(25);
  const Dataset<float> data = blobs(4, 11);
  Sequential<float> model = mlp<float>({2, 4, 3});
  SGD<float> optimizer(model.parameters(), 0.1);
  std::ostringstream piped;
  FitOptions options = quiet(2, 4);
  options.progress = &piped;  // not a terminal: one line per epoch
  fit(model, optimizer, classify, data, options);
  const std::string lines = piped.str();
  CHECK(lines.find('\r') == std::string::npos);
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 2);

  std::ostringstream forced;
  options.progress = &forced;
  options.progress_bar = FitOptions::Bar::always;
  fit(model, optimizer, classify, data, options);
  const std::string text = forced.str();
  CHECK(text.find('\r') != std::string::npos);
  CHECK(text.find("samples/s") != std::string::npos);
  CHECK(text.find("ETA") != std::string::npos);
  CHECK(text.find("3/3") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);  // the epoch lines, each over its bar
  CHECK(text.find("epoch    2  loss") != std::string::npos);

  // std::cout, automatic: a bar only if stdout is a terminal (under CTest or a pipe it is not)
  std::ostringstream captured;
  std::streambuf* const stdout_buffer = std::cout.rdbuf(captured.rdbuf());
  options.progress = &std::cout;
  options.progress_bar = FitOptions::Bar::automatic;
  try {
    fit(model, optimizer, classify, data, options);
  } catch (...) {
    std::cout.rdbuf(stdout_buffer);
    throw;
  }
  std::cout.rdbuf(stdout_buffer);
  CHECK((captured.str().find('\r') != std::string::npos) == bool(isatty(STDOUT_FILENO)));
  CHECK(captured.str().find("epoch    2  loss") != std::string::npos);

  std::ostringstream never;
  options.progress = &never;
  options.progress_bar = FitOptions::Bar::never;
  fit(model, optimizer, classify, data, options);
  CHECK(never.str().find('\r') == std::string::npos);
}

TEST_CASE("fit records the validation loss per epoch (NaN without validation data)") {
  manual_seed(26);
  const Dataset<float> data = blobs(20, 12);
  Sequential<float> model = mlp<float>({2, 8, 3});
  SGD<float> optimizer(model.parameters(), 0.1, 0.9);
  FitOptions options = quiet(15, 8);
  options.validation_fraction = 0.25;
  const History history = fit(model, optimizer, classify, data, options);
  CHECK(std::isfinite(history.epochs.front().validation_loss));
  CHECK(history.epochs.back().validation_loss < history.epochs.front().validation_loss);
  CHECK(history.epochs.back().validation_loss > 0);
  const History without = fit(model, optimizer, classify, data, quiet(1, 8));
  CHECK(std::isnan(without.epochs[0].validation_loss));
}

namespace {
// A stand-in for distributed::DataParallel: rank 1 of 3, counting fit's calls. Its
// "mean over the ranks" doubles the number, so that the test sees fit report it.
class RecordingSync : public GradientSync {
 public:
  std::size_t rank() const override { return 1; }
  std::size_t size() const override { return 3; }
  void synchronize() override { ++synchronized; }
  double mean(double local) override {
    ++means;
    return 2 * local;
  }
  bool any(bool local) override { return local; }
  std::size_t synchronized = 0, means = 0;
};
}  // namespace

TEST_CASE("fit with FitOptions::distributed trains on its rank's shard, syncs every step and stays quiet off rank 0") {
  manual_seed(5);
  Dataset<float> data = blobs(10, 6);  // 30 samples: rank 1 of 3 takes 10 of them, 3 batches of 4
  Sequential<float> model = mlp<float>({2, 4, 3}, Tanh<float>());
  SGD<float> optimizer(model.parameters(), 0.1);
  RecordingSync sync;
  std::ostringstream out;
  FitOptions options;
  options.epochs = 2;
  options.batch_size = 4;
  options.progress = &out;
  options.distributed = &sync;
  std::vector<double> local_losses;
  const History history = fit(model, optimizer, [&](auto& logits, auto& batch) {
    auto cost = cross_entropy(logits, batch.labels);
    local_losses.push_back(double(cost.item()));
    return cost;
  }, data, options);
  CHECK(history.batch_losses.size() == 6);
  CHECK(sync.synchronized == 6);  // once per step, between backward and the optimizer's step
  CHECK(out.str().empty());       // only rank 0 prints
  for (std::size_t k = 0; k < 6; ++k) CHECK(history.batch_losses[k] == doctest::Approx(2 * local_losses[k]));
  CHECK(history.epochs[0].loss == doctest::Approx((history.batch_losses[0] + history.batch_losses[1] +
                                                   history.batch_losses[2]) / 3));
}
