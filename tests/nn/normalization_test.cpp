// BatchNorm1d/2d and LayerNorm: outputs and running statistics against their
// formulas written out here with plain loops, gradients from the tape against
// finite differences at first and second order, evaluation mode, buffers.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <nn/nn.hpp>

#include "test_util.hpp"

using namespace nn;
using V = Variable<double>;
using A = autodiff::Array<double>;

namespace {

// Per-channel mean and biased variance of x viewed as (N, C, S), by loops.
struct Stats {
  std::vector<double> mean, var;
};
Stats channel_stats(const A& x, std::size_t C) {
  const std::size_t N = x.shape()[0], S = x.size() / (N * C);
  Stats s{std::vector<double>(C, 0), std::vector<double>(C, 0)};
  for (std::size_t c = 0; c < C; ++c) {
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t k = 0; k < S; ++k) s.mean[c] += x.data()[(n * C + c) * S + k];
    s.mean[c] /= double(N * S);
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t k = 0; k < S; ++k) {
        const double d = x.data()[(n * C + c) * S + k] - s.mean[c];
        s.var[c] += d * d;
      }
    s.var[c] /= double(N * S);
  }
  return s;
}

// (x - mean_c) / sqrt(var_c + eps) * w_c + b_c, by loops.
A normalise(const A& x, std::size_t C, const std::vector<double>& mean, const std::vector<double>& var,
            const std::vector<double>& w, const std::vector<double>& b, double eps = 1e-5) {
  const std::size_t N = x.shape()[0], S = x.size() / (N * C);
  A y = x;
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t k = 0; k < S; ++k) {
        double& v = y.data()[(n * C + c) * S + k];
        v = (v - mean[c]) / std::sqrt(var[c] + eps) * w[c] + b[c];
      }
  return y;
}

using test::close;
bool close_to(const A& a, const std::vector<double>& b, double tol = 1e-12) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < b.size(); ++i)
    if (std::fabs(a.data()[i] - b[i]) > tol * (1 + std::fabs(b[i]))) return false;
  return true;
}


// First- and second-order checks of a batch norm's training-mode forward over its input, weight and bias.
template <class Layer>
void check_gradients(Layer& layer, const autodiff::Shape& shape, bool training) {
  const std::size_t C = layer.num_features();
  layer.train(training);
  if (!training) {  // running statistics away from their initial 0 and 1
    layer.running_mean() = test::random_array({C}, 5, -0.5, 0.5);
    layer.running_var() = test::random_array({C}, 6, 0.5, 1.5);
  }
  autodiff::GradFunction f = [&](const std::vector<V>& in) {
    layer.weight() = in[1];
    layer.bias() = in[2];
    return layer(in[0]);
  };
  std::vector<A> inputs{test::random_array(shape, 1), test::random_array({C}, 2, 0.5, 1.5),
                        test::random_array({C}, 3)};
  autodiff::GradCheckOptions options;
  options.input_names = {"x", "weight", "bias"};
  auto first = autodiff::gradcheck(f, inputs, options);
  CHECK_MESSAGE(first.passed, first.to_string());
  auto second = autodiff::gradgradcheck(f, inputs, options);
  CHECK_MESSAGE(second.passed, second.to_string());
}

}  // namespace

TEST_CASE("BatchNorm1d in training: the batch's statistics, and running statistics with the unbiased variance") {
  for (const autodiff::Shape& shape : {autodiff::Shape{6, 3}, autodiff::Shape{4, 3, 5}}) {
    CAPTURE(autodiff::to_string(shape));
    BatchNorm1d<double> bn(3);
    CHECK(bn.describe() == "BatchNorm1d(3)");
    CHECK(close_to(bn.running_mean(), {0, 0, 0}));
    CHECK(close_to(bn.running_var(), {1, 1, 1}));
    CHECK(close_to(bn.weight().value(), {1, 1, 1}));
    CHECK(close_to(bn.bias().value(), {0, 0, 0}));
    bn.weight().data() = A{0.5, 2.0, -1.0};
    bn.bias().data() = A{0.1, -0.3, 0.7};
    std::vector<double> rm(3, 0), rv(3, 1);
    const std::size_t n = shape[0] * (shape.size() == 3 ? shape[2] : 1);
    for (unsigned step = 0; step < 3; ++step) {
      A x = test::random_array(shape, 10 + step, -1, 3);
      Stats s = channel_stats(x, 3);
      CHECK(close(bn(V(x)).value(), normalise(x, 3, s.mean, s.var, {0.5, 2.0, -1.0}, {0.1, -0.3, 0.7})));
      for (std::size_t c = 0; c < 3; ++c) {
        rm[c] = 0.9 * rm[c] + 0.1 * s.mean[c];
        rv[c] = 0.9 * rv[c] + 0.1 * s.var[c] * double(n) / double(n - 1);
      }
      CHECK(close_to(bn.running_mean(), rm));
      CHECK(close_to(bn.running_var(), rv));
      CHECK(bn.num_batches_tracked() == step + 1);
    }
    // evaluation mode: the running statistics, which it leaves alone
    bn.eval();
    A x = test::random_array(shape, 20);
    CHECK(close(bn(V(x)).value(), normalise(x, 3, rm, rv, {0.5, 2.0, -1.0}, {0.1, -0.3, 0.7})));
    CHECK(close(bn(V(x)).value(), normalise(x, 3, rm, rv, {0.5, 2.0, -1.0}, {0.1, -0.3, 0.7})));
    CHECK(close_to(bn.running_mean(), rm));
    CHECK(bn.num_batches_tracked() == 3);
  }
}

TEST_CASE("BatchNorm2d normalises over N, H and W; momentum, eps and affine options") {
  BatchNorm2d<double> bn(2, {.eps = 1e-3, .momentum = 0.25});
  A x = test::random_array({3, 2, 4, 5}, 7, -2, 4);
  Stats s = channel_stats(x, 2);
  CHECK(close(bn(V(x)).value(), normalise(x, 2, s.mean, s.var, {1, 1}, {0, 0}, 1e-3)));
  const double n = 3 * 4 * 5;
  CHECK(close_to(bn.running_mean(), {0.25 * s.mean[0], 0.25 * s.mean[1]}));
  CHECK(close_to(bn.running_var(), {0.75 + 0.25 * s.var[0] * n / (n - 1), 0.75 + 0.25 * s.var[1] * n / (n - 1)}));
  // the output of each channel has mean 0 and biased variance var / (var + eps)
  Stats out = channel_stats(bn(V(x)).value(), 2);
  CHECK(std::fabs(out.mean[0]) < 1e-12);
  CHECK(out.var[1] == doctest::Approx(s.var[1] / (s.var[1] + 1e-3)).epsilon(1e-12));
  // without affine: no parameters, three buffers
  BatchNorm2d<double> plain(2, {.affine = false});
  CHECK(plain.parameters().empty());
  CHECK(test::message_of([&] { plain.weight(); }).find("BatchNorm2d(2): has no weight") != std::string::npos);
  CHECK_THROWS_AS(LayerNorm<double>({3}, 1e-5, false).bias(), std::out_of_range);
  CHECK(LayerNorm<double>({3}, 1e-5, false).parameters().empty());
  CHECK(plain.named_buffers().size() == 3);
  CHECK(close(plain(V(x)).value(), normalise(x, 2, s.mean, s.var, {1, 1}, {0, 0})));
  // momentum 0 keeps the running statistics, 1 replaces them with the batch's
  BatchNorm2d<double> frozen(2, {.momentum = 0});
  frozen(V(x));
  CHECK(close_to(frozen.running_mean(), {0, 0}));
  BatchNorm2d<double> latest(2, {.momentum = 1});
  latest(V(x));
  CHECK(close_to(latest.running_mean(), s.mean));
}

TEST_CASE("BatchNorm: gradients from the tape at first and second order, in training and evaluation mode") {
  SUBCASE("1d, (N, C)") {
    BatchNorm1d<double> bn(3);
    check_gradients(bn, {5, 3}, true);
    check_gradients(bn, {5, 3}, false);
  }
  SUBCASE("1d, (N, C, L)") {
    BatchNorm1d<double> bn(2);
    check_gradients(bn, {3, 2, 4}, true);
  }
  SUBCASE("2d") {
    BatchNorm2d<double> bn(2);
    check_gradients(bn, {2, 2, 3, 3}, true);
    check_gradients(bn, {2, 2, 3, 3}, false);
  }
}

TEST_CASE("BatchNorm in a Sequential: buffers named through submodules, not parameters; train/eval switches it") {
  Sequential<double> model;
  model.add(Linear<double>(4, 3)).add(BatchNorm1d<double>(3)).add(Tanh<double>());
  auto buffers = model.named_buffers();
  REQUIRE(buffers.size() == 3);
  CHECK(buffers[0].first == "1.running_mean");
  CHECK(buffers[1].first == "1.running_var");
  CHECK(buffers[2].first == "1.num_batches_tracked");
  CHECK(model.parameters().size() == 4);
  CHECK(model.named_parameters()[2].first == "1.weight");
  A x = test::random_array({8, 4}, 3);
  model(V(x));
  CHECK(xt::amax(xt::abs(*buffers[0].second))() > 0);  // the pointer is the module's own buffer
  const A after_one = *buffers[0].second;
  model.eval();
  A y1 = model(V(x)).value();
  CHECK(*buffers[0].second == after_one);  // evaluation does not update it
  A y2 = model(V(test::random_array({1, 4}, 4))).value();  // one sample is fine in evaluation
  CHECK(y2.shape() == autodiff::Shape{1, 3});
  model.train();
  CHECK_FALSE(close(model(V(x)).value(), y1, 1e-6));
  CHECK(dynamic_cast<BatchNorm1d<double>&>(model[1]).num_batches_tracked() == 2);
}

TEST_CASE("LayerNorm: each sample normalised over its last axes, elementwise affine, gradients at two orders") {
  LayerNorm<double> ln({3, 4});
  CHECK(ln.describe() == "LayerNorm((3, 4))");
  CHECK(ln.weight().shape() == autodiff::Shape{3, 4});
  A x = test::random_array({2, 5, 3, 4}, 9, -1, 3);
  A w = test::random_array({3, 4}, 10), b = test::random_array({3, 4}, 11);
  ln.weight().data() = w;
  ln.bias().data() = b;
  A expected = x;
  for (std::size_t s = 0; s < 10; ++s) {
    double mean = 0, var = 0;
    for (std::size_t k = 0; k < 12; ++k) mean += x.data()[s * 12 + k] / 12;
    for (std::size_t k = 0; k < 12; ++k) var += std::pow(x.data()[s * 12 + k] - mean, 2) / 12;
    for (std::size_t k = 0; k < 12; ++k)
      expected.data()[s * 12 + k] = (x.data()[s * 12 + k] - mean) / std::sqrt(var + 1e-5) * w.data()[k] + b.data()[k];
  }
  CHECK(close(ln(V(x)).value(), expected));
  ln.eval();
  CHECK(close(ln(V(x)).value(), expected));

  LayerNorm<double> small({4});
  autodiff::GradFunction f = [&](const std::vector<V>& in) {
    small.weight() = in[1];
    small.bias() = in[2];
    return small(in[0]);
  };
  std::vector<A> inputs{test::random_array({3, 4}, 1), test::random_array({4}, 2), test::random_array({4}, 3)};
  auto first = autodiff::gradcheck(f, inputs);
  CHECK_MESSAGE(first.passed, first.to_string());
  auto second = autodiff::gradgradcheck(f, inputs);
  CHECK_MESSAGE(second.passed, second.to_string());
}

TEST_CASE("normalisation layers: wrong shapes and options are errors naming the layer") {
  BatchNorm1d<double> bn(3);
  CHECK(test::message_of([&] { bn(V(A::from_shape({4, 2}))); }).find("BatchNorm1d(3) got input of shape (4, 2)") !=
        std::string::npos);
  CHECK_THROWS_AS(bn(V(A::from_shape({4, 3, 2, 2}))), autodiff::ShapeError);
  CHECK_THROWS_AS(BatchNorm2d<double>(3)(V(A::from_shape({4, 3}))), autodiff::ShapeError);
  CHECK(test::message_of([&] { bn(V(A::from_shape({1, 3}))); }).find("more than 1 value per channel") !=
        std::string::npos);
  bn.eval();
  CHECK(bn(V(A(xt::ones<double>({1, 3})))).shape() == autodiff::Shape{1, 3});
  CHECK_THROWS_AS(BatchNorm1d<double>(0), std::invalid_argument);
  CHECK_THROWS_AS(BatchNorm1d<double>(2, {.momentum = 1.5}), std::invalid_argument);
  CHECK_THROWS_AS(BatchNorm1d<double>(2, {.eps = 0}), std::invalid_argument);
  CHECK(test::message_of([] { LayerNorm<double>({4})(V(A::from_shape({2, 3}))); })
            .find("LayerNorm((4,)) got input of shape (2, 3), expected (..., 4)") != std::string::npos);
}
