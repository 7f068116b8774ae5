// Training end to end: XOR, separable blobs through fit(), early stopping,
// and the digits network.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include <nn/nn.hpp>
#include <xtensor/xtensor.hpp>

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
