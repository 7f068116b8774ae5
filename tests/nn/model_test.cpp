// Whole models: their gradients from the tape against finite differences, and
// against the lecture's four backprop equations written out by hand.
#include <doctest/doctest.h>

#include <cmath>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>

#include <nn/nn.hpp>

#include "test_util.hpp"

using namespace nn;
using V = Variable<double>;
using A = autodiff::Array<double>;

namespace {

using ModelLoss = std::function<V(Module<double>&)>;

// Reverse-mode gradients of every parameter of `model` against central finite
// differences of the same loss.
autodiff::GradCheckReport check_model(Module<double>& model, const ModelLoss& loss) {
  auto parameters = model.parameters();
  model.zero_grad();
  loss(model).backward();
  std::vector<Array<double>> values, gradients;
  std::vector<std::string> names;
  for (auto& [name, p] : model.named_parameters()) {
    values.push_back(p.value());
    gradients.push_back(p.grad());
    names.push_back(name);
  }
  auto with_values = [&](const std::vector<V>& leaves) {
    for (std::size_t i = 0; i < leaves.size(); ++i) parameters[i].data() = leaves[i].value();
    return loss(model);
  };
  auto report = autodiff::check_gradients(with_values, values, gradients, {.input_names = names});
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].data() = values[i];  // restore
  return report;
}

struct NamedActivation {
  const char* name;
  Activation<double> activation;
};

const std::vector<NamedActivation> activations = {
    {"sigmoid", Sigmoid<double>()}, {"tanh", Tanh<double>()},   {"relu", ReLU<double>()},
    {"leaky_relu", LeakyReLU<double>(0.1)}, {"elu", ELU<double>(0.8)}, {"identity", Identity<double>()},
};

const Labels labels_6 = {0, 2, 1, 1, 0, 2};

}  // namespace

TEST_CASE("MLPs of 1-3 hidden layers with every activation and L2: tape gradients match finite differences") {
  const Array<double> x = test::random_array({6, 4}, 11);
  for (std::size_t hidden_layers = 1; hidden_layers <= 3; ++hidden_layers) {
    for (const auto& [name, activation] : activations) {
      manual_seed(hidden_layers);
      std::vector<std::size_t> sizes{4};
      for (std::size_t l = 0; l < hidden_layers; ++l) sizes.push_back(5);
      sizes.push_back(3);
      // Non-zero biases so that no ReLU sits exactly at its kink.
      Sequential<double> model = mlp<double>(sizes, activation, xavier_normal(), normal(0.0, 0.5));
      auto report = check_model(model, [&](Module<double>& m) {
        return cross_entropy(m(V(x)), labels_6) + l2_penalty(m, 0.01);
      });
      INFO(hidden_layers, " hidden layers, ", name, "\n", report.to_string());
      CHECK(report.passed);
    }
  }
}

TEST_CASE("every loss, through a model, matches finite differences") {
  const Array<double> x = test::random_array({6, 4}, 12);
  const Array<double> regression_target = test::random_array({6, 3}, 13);
  const Array<double> binary_target = xt::cast<double>(test::random_array({6, 3}, 14) > 0.0);
  const std::vector<std::pair<const char*, std::function<V(const V&)>>> losses = {
      {"mse mean", [&](const V& z) { return mse(z, V(regression_target)); }},
      {"mse sum", [&](const V& z) { return mse(z, V(regression_target), Reduction::sum); }},
      {"half sum of squares", [&](const V& z) { return half_sum_squared_error(z, V(regression_target)); }},
      {"binary cross-entropy", [&](const V& z) { return binary_cross_entropy(autodiff::sigmoid(z), V(binary_target)); }},
      {"binary cross-entropy with logits", [&](const V& z) { return binary_cross_entropy_with_logits(z, V(binary_target)); }},
      {"cross-entropy, labels", [&](const V& z) { return cross_entropy(z, labels_6); }},
      {"cross-entropy, labels, sum", [&](const V& z) { return cross_entropy(z, labels_6, Reduction::sum); }},
      {"cross-entropy, one-hot", [&](const V& z) { return cross_entropy(z, V(one_hot<double>(labels_6, 3))); }},
      {"negative log-likelihood", [&](const V& z) { return nll_loss(autodiff::log_softmax(z), labels_6); }},
  };
  for (const auto& [name, loss] : losses) {
    manual_seed(3);
    Sequential<double> model = mlp<double>({4, 5, 3}, Tanh<double>(), xavier_normal(), normal(0.0, 0.5));
    auto report = check_model(model, [&](Module<double>& m) { return loss(m(V(x))) + l2_penalty(m, 0.05); });
    INFO(name, "\n", report.to_string());
    CHECK(report.passed);
  }
}

TEST_CASE("the tape's gradients equal the lecture's four backprop equations to 1e-10") {
  // Network: z1 = x W1 + b1, a1 = sigmoid(z1), z2 = a1 W2 + b2, p = softmax(z2),
  // C = -sum_i log p[i, y_i] / n + lambda (|W1|^2 + |W2|^2).
  manual_seed(5);
  Sequential<double> model = mlp<double>({4, 6, 3}, Sigmoid<double>(), xavier_normal(), normal(0.0, 0.1));
  const Array<double> x = test::random_array({6, 4}, 15);
  const double lambda = 0.01, n = 6;
  Array<double> W1 = model.parameters()[0].value(), b1 = model.parameters()[1].value();
  Array<double> W2 = model.parameters()[2].value(), b2 = model.parameters()[3].value();

  // By hand, in plain loops.
  auto matmul = [](const Array<double>& a, const Array<double>& b) {
    Array<double> c = xt::zeros<double>({a.shape()[0], b.shape()[1]});
    for (std::size_t i = 0; i < a.shape()[0]; ++i)
      for (std::size_t k = 0; k < a.shape()[1]; ++k)
        for (std::size_t j = 0; j < b.shape()[1]; ++j) c(i, j) += a(i, k) * b(k, j);
    return c;
  };
  const Array<double> z1 = matmul(x, W1) + b1;
  const Array<double> a1 = 1.0 / (1.0 + xt::exp(-z1));
  const Array<double> z2 = matmul(a1, W2) + b2;
  Array<double> p = xt::exp(z2);
  for (std::size_t i = 0; i < 6; ++i) {
    double total = 0;
    for (std::size_t j = 0; j < 3; ++j) total += p(i, j);
    for (std::size_t j = 0; j < 3; ++j) p(i, j) /= total;
  }
  // (1) output error: delta2 = dC/dz2 = (p - onehot(y)) / n
  const Array<double> delta2 = (p - one_hot<double>(labels_6, 3)) / n;
  // (2) back-propagated error: delta1 = (delta2 W2^T) * sigma'(z1)
  const Array<double> delta1 = matmul(delta2, xt::transpose(W2)) * a1 * (1.0 - a1);
  // (3) dC/dW^l = a^(l-1)^T delta^l (+ 2 lambda W^l), (4) dC/db^l = sum over samples of delta^l
  const Array<double> dW2 = matmul(xt::transpose(a1), delta2) + 2 * lambda * W2;
  const Array<double> dW1 = matmul(xt::transpose(x), delta1) + 2 * lambda * W1;
  const Array<double> db2 = xt::sum(delta2, {0}), db1 = xt::sum(delta1, {0});

  // With the tape.
  V hidden = model[0](V(x));
  hidden.retain_grad();
  V logits = model[2](model[1](hidden));
  logits.retain_grad();
  V cost = cross_entropy(logits, labels_6) + l2_penalty(model, lambda);
  cost.backward();

  auto close = [](const Array<double>& tape, const Array<double>& hand) {
    return xt::amax(xt::abs(tape - hand))() <= 1e-10 * std::max(1.0, double(xt::amax(xt::abs(hand))()));
  };
  CHECK(close(logits.grad(), delta2));
  CHECK(close(hidden.grad(), delta1));
  CHECK(close(model.parameters()[0].grad(), dW1));
  CHECK(close(model.parameters()[1].grad(), db1));
  CHECK(close(model.parameters()[2].grad(), dW2));
  CHECK(close(model.parameters()[3].grad(), db2));
}

TEST_CASE("modules list named parameters, count them and summarise the model") {
  Sequential<float> model;
  model.add(Linear<float>(64, 50)).add(Sigmoid<float>()).add(Linear<float>(50, 10));
  const auto named = model.named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[0].first == "0.weight");
  CHECK(named[1].first == "0.bias");
  CHECK(named[2].first == "2.weight");
  CHECK(named[0].second.shape() == autodiff::Shape{64, 50});
  CHECK(named[3].second.shape() == autodiff::Shape{10});
  CHECK(model.parameter_count() == 64 * 50 + 50 + 50 * 10 + 10);
  CHECK(model.weights().size() == 2);
  CHECK(model.weights()[1].shape() == autodiff::Shape{50, 10});
  const std::string summary = model.summary();
  CHECK(summary.find("Linear(64 -> 50)   3250 parameters") != std::string::npos);
  CHECK(summary.find("Sigmoid") != std::string::npos);
  CHECK(summary.find("total: 3760 parameters") != std::string::npos);
  // Every parameter is a leaf that requires a gradient, and zero_grad clears them all.
  Variable<float> x(xt::ones<float>({2, 64}));
  autodiff::sum(model(x)).backward();
  for (auto& p : model.parameters()) CHECK(p.has_grad());
  model.zero_grad();
  for (auto& p : model.parameters()) CHECK_FALSE(p.has_grad());
}

TEST_CASE("a layer given a wrong input shape says so") {
  Linear<float> layer(4, 3);
  Variable<float> x(xt::ones<float>({2, 5}));
  CHECK_THROWS_AS(layer(x), autodiff::ShapeError);
}

TEST_CASE("train() and eval() set the mode of a module and all its submodules") {
  Sequential<double> inner;
  inner.add(Dropout<double>(0.3));
  Sequential<double> model;
  model.add(Linear<double>(3, 2)).add(std::move(inner));
  CHECK(model.is_training());
  model.eval();
  CHECK_FALSE(model.is_training());
  CHECK_FALSE(model[0].is_training());
  CHECK_FALSE(dynamic_cast<Sequential<double>&>(model[1])[0].is_training());
  model.train();
  CHECK(dynamic_cast<Sequential<double>&>(model[1])[0].is_training());
  {
    ModeScope<double> evaluation(model, false);
    CHECK_FALSE(model[1].is_training());
  }
  CHECK(model[1].is_training());
  // a submodule the user put in evaluation mode stays there after a scope (and after predict)
  model[1].eval();
  {
    ModeScope<double> training(model, true);
    CHECK(model[1].is_training());
  }
  CHECK_FALSE(model[1].is_training());
  CHECK(model.is_training());
  predict(model, A{{1.0, 2.0, 3.0}});
  CHECK_FALSE(model[1].is_training());
  CHECK(model.modules().size() == 4);  // model, Linear, the inner Sequential, Dropout
}

TEST_CASE("Dropout: zeroes about p of the elements in training, scales the rest by 1/(1-p), identity in eval") {
  autodiff::manual_seed(5);
  Dropout<double> dropout(0.25);
  const V x(A(xt::ones<double>({200, 50})), true);
  const V y = dropout(x);
  std::size_t zeros = 0;
  for (double v : y.value()) {
    CHECK((v == 0.0 || v == doctest::Approx(1 / 0.75)));
    zeros += v == 0.0;
  }
  // 10,000 draws with p = 0.25: within 4 standard deviations (43)
  CHECK(std::abs(double(zeros) - 2500.0) < 4 * std::sqrt(10000 * 0.25 * 0.75));
  // the gradient is the same mask
  sum(y).backward();
  CHECK(x.grad() == y.value());
  // repeatable with the seed
  autodiff::manual_seed(5);
  CHECK(Dropout<double>(0.25)(x).value() == y.value());
  dropout.eval();
  CHECK(dropout(x).value() == x.value());
  dropout.train();
  CHECK(Dropout<double>(1.0)(x).value() == A(xt::zeros<double>({200, 50})));
  CHECK(Dropout<double>(0.0)(x).value() == x.value());
}

TEST_CASE("predict runs in evaluation mode (no dropout) and gives the mode back; fit trains in training mode") {
  Sequential<double> model;
  model.add(Linear<double>(2, 2)).add(Dropout<double>(0.9));
  const A inputs = {{1.0, 2.0}, {3.0, 4.0}};
  const A first = predict(model, inputs);
  CHECK(predict(model, inputs) == first);  // deterministic: no dropout
  CHECK(model.is_training());
  model.eval();
  CHECK(predict(model, inputs) == first);
  CHECK_FALSE(model.is_training());
}

namespace {
// A module with a parameter, a buffer and a submodule, to test buffers.
struct Counter : Module<double> {
  Counter() {
    register_parameter("scale", V(A{2.0}));
    register_buffer("count", A{0.0});
    register_buffer("history", A::from_shape({3}));
  }
  V forward(const V& x) override {
    registered_buffer(0)(0) += 1;
    return x * registered_parameter(0);
  }
  std::string describe() const override { return "Counter"; }
  using Module<double>::register_buffer;
};
}  // namespace

TEST_CASE("buffers: named through submodules, shared by copies, not parameters, names checked") {
  Counter counter;
  Sequential<double> inner;
  inner.add(Linear<double>(2, 2)).add(counter);
  Sequential<double> model;
  model.add(Counter()).add(inner);
  const auto buffers = model.named_buffers();
  REQUIRE(buffers.size() == 4);
  CHECK(buffers[0].first == "0.count");
  CHECK(buffers[1].first == "0.history");
  CHECK(buffers[2].first == "1.1.count");
  CHECK(buffers[3].first == "1.1.history");
  CHECK(buffers[1].second->shape() == autodiff::Shape{3});
  CHECK(model.parameters().size() == 4);  // 0.scale, 1.0.weight, 1.0.bias, 1.1.scale: no buffer
  model(V(A::from_shape({1, 2})));
  CHECK((*buffers[0].second)(0) == 1.0);
  CHECK((*buffers[2].second)(0) == 1.0);
  // the copy added to `inner` shares its buffers with `counter`, as it shares its parameters
  CHECK(counter.named_buffers()[0].second == buffers[2].second);
  // a buffer shared twice is listed once
  Sequential<double> twice;
  twice.add(counter).add(counter);
  CHECK(twice.named_buffers().size() == 2);
  CHECK(test::message_of([&] { counter.register_buffer("scale", A{1.0}); }).find("a parameter named 'scale'") !=
        std::string::npos);
  CHECK(test::message_of([&] { counter.register_buffer("count", A{1.0}); }).find("a buffer named 'count'") !=
        std::string::npos);
  CHECK_THROWS_AS(counter.register_buffer("a.b", A{1.0}), std::invalid_argument);
  CHECK_THROWS_AS(counter.register_buffer("", A{1.0}), std::invalid_argument);
  CHECK(Linear<double>(2, 3).named_buffers().empty());
}

TEST_CASE("Embedding: rows of the weight for indices of any shape, N(0, 1) init, gradients add up") {
  manual_seed(11);
  Embedding<double> embedding(50, 40);
  CHECK(embedding.describe() == "Embedding(50, 40)");
  const A& w = embedding.weight().value();
  REQUIRE(w.shape() == autodiff::Shape{50, 40});
  double mean = 0, sd = 0;
  for (double v : w) mean += v / double(w.size());
  for (double v : w) sd += (v - mean) * (v - mean) / double(w.size());
  sd = std::sqrt(sd);
  CHECK(std::fabs(mean) < 0.05);  // 2000 draws of N(0, 1): standard error 0.022
  CHECK(std::fabs(sd - 1) < 0.05);
  Embedding<double> small(5, 3);
  const A& t = small.weight().value();
  const auto index = test::index_array({2, 3}, {4, 0, 4, 1, 2, 0});
  V y = small(index);
  REQUIRE(y.shape() == autodiff::Shape{2, 3, 3});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 3; ++k) CHECK(y.value()(i, j, k) == t(index(i, j), k));
  CHECK(small(autodiff::IndexList{3, 1}).shape() == autodiff::Shape{2, 3});
  CHECK(small(autodiff::IndexList{3, 1}).value()(0, 2) == t(3, 2));
  // as whole numbers in a Variable (what a Sequential passes)
  CHECK(small(V(A{{4.0, 0.0}})).value() == small(test::index_array({1, 2}, {4, 0})).value());
  // the gradient of row i is the sum of the gradients where i was used
  autodiff::sum(y * y).backward();
  const A& g = small.weight().grad();
  for (std::size_t k = 0; k < 3; ++k) {
    CHECK(g(4, k) == doctest::Approx(4 * t(4, k)));
    CHECK(g(0, k) == doctest::Approx(4 * t(0, k)));
    CHECK(g(1, k) == doctest::Approx(2 * t(1, k)));
    CHECK(g(3, k) == 0);
  }
  // errors name the layer, the index and where it is
  CHECK(test::message_of([&] { small(test::index_array({2, 2}, {0, 1, 5, 2})); })
            .find("Embedding(5, 3): index 5 at [1, 0] is out of range [0, 5)") != std::string::npos);
  CHECK_THROWS_AS(small(autodiff::IndexList{-1}), autodiff::ShapeError);
  CHECK(test::message_of([&] { small(V(A{0.5})); }).find("not a whole-number index") != std::string::npos);
  CHECK_THROWS_AS(small(V(A{1e30})), autodiff::ShapeError);
  CHECK(small(autodiff::IndexList{}).shape() == autodiff::Shape{0, 3});
}
