// The convolutional and pooling layers: PyTorch's shapes, initialisation and
// messages, outputs equal to the ops they wrap, and a small CNN that learns.
#include <doctest/doctest.h>

#include <cmath>

#include <nn/nn.hpp>

#include "test_util.hpp"

using namespace nn;
using V = Variable<double>;
using A = autodiff::Array<double>;

TEST_CASE("Conv2d: PyTorch's weight layout and initialisation bounds, forward = conv2d") {
  manual_seed(7);
  Conv2d<double> conv(4, 6, {3, 2}, 2, 1, 1, 2);
  CHECK(conv.describe() == "Conv2d(4 -> 6, kernel (3, 2), stride 2, padding 1, groups 2)");
  REQUIRE(conv.weight().shape() == autodiff::Shape{6, 2, 3, 2});
  REQUIRE(conv.bias().shape() == autodiff::Shape{6});
  CHECK(conv.parameter_count() == 6 * 2 * 3 * 2 + 6);
  const double bound = 1 / std::sqrt(2.0 * 3 * 2);  // fan_in = in / groups * kH kW = 12
  CHECK(xt::amax(xt::abs(conv.weight().value()))() <= bound);
  CHECK(xt::amax(xt::abs(conv.bias().value()))() <= bound);
  CHECK(xt::amax(xt::abs(conv.weight().value()))() > 0.7 * bound);  // spread over the interval, not tiny
  const V x(test::random_array({2, 4, 7, 6}, 3));
  const V y = conv(x);
  const V want = autodiff::conv2d(x, conv.weight(), conv.bias(), {.stride = 2, .padding = 1, .groups = 2});
  CHECK(y.value() == want.value());
  auto names = conv.named_parameters();
  CHECK(names[0].first == "weight");
  CHECK(names[1].first == "bias");

  Conv2d<float> nobias(1, 3, 5, 1, 0, 1, 1, false);
  CHECK(nobias.describe() == "Conv2d(1 -> 3, kernel 5, no bias)");
  CHECK(nobias.parameters().size() == 1);
  CHECK_THROWS_AS(nobias.bias(), std::logic_error);
}

TEST_CASE("Conv2d and Conv1d: input shape errors name the layer") {
  Conv2d<float> conv(1, 6, 5);
  const std::string m = test::message_of([&] { conv(Variable<float>(autodiff::Array<float>::from_shape({5, 3, 28, 28}))); });
  CHECK(m == "Conv2d(1 -> 6, kernel 5) got input of shape (5, 3, 28, 28), expected (batch, 1, H, W)");
  CHECK_THROWS_AS(conv(Variable<float>(autodiff::Array<float>::from_shape({1, 28, 28}))), autodiff::ShapeError);
  const std::string small = test::message_of([&] { conv(Variable<float>(autodiff::Array<float>::from_shape({2, 1, 4, 9}))); });
  CHECK(small.find("Conv2d(1 -> 6, kernel 5): conv2d: kernel (5, 5)") == 0);
  CHECK_THROWS_AS(Conv2d<float>(3, 4, 3, 1, 0, 1, 2), std::invalid_argument);  // 3 channels, groups 2
  CHECK_THROWS_AS(Conv2d<float>(3, 4, 0), std::invalid_argument);
  CHECK_THROWS_AS(Conv2d<float>(3, 4, 3, 0), std::invalid_argument);

  Conv1d<float> c1(2, 4, 3, 2, 1);
  CHECK(c1.describe() == "Conv1d(2 -> 4, kernel 3, stride 2, padding 1)");
  const std::string m1 = test::message_of([&] { c1(Variable<float>(autodiff::Array<float>::from_shape({5, 3, 10}))); });
  CHECK(m1 == "Conv1d(2 -> 4, kernel 3, stride 2, padding 1) got input of shape (5, 3, 10), expected (batch, 2, L)");
  MaxPool2d<float> pool(2);
  CHECK(pool.describe() == "MaxPool2d(kernel 2)");
  CHECK(test::message_of([&] { pool(Variable<float>(autodiff::Array<float>::from_shape({5, 10}))); }) ==
        "MaxPool2d(kernel 2) got input of shape (5, 10), expected (batch, channels, H, W)");
  CHECK_THROWS_AS(MaxPool2d<float>(3, 1, 2), std::invalid_argument);  // padding over half the kernel
  CHECK_THROWS_AS(AdaptiveAvgPool2d<float>(0), std::invalid_argument);
}

TEST_CASE("Conv1d: weight (out, in / groups, k), forward = conv1d") {
  manual_seed(3);
  Conv1d<double> conv(4, 2, 3, 1, 2, 2, 2);
  REQUIRE(conv.weight().shape() == autodiff::Shape{2, 2, 3});
  const double bound = 1 / std::sqrt(6.0);
  CHECK(xt::amax(xt::abs(conv.weight().value()))() <= bound);
  const V x(test::random_array({3, 4, 9}, 4));
  const V y = conv(x);
  CHECK(y.shape() == autodiff::Shape{3, 2, 9});  // 9 + 4 - 2 * 2 - 1 + 1 = 9
  CHECK(y.value() == autodiff::conv1d(x, conv.weight(), conv.bias(), {.padding = 2, .dilation = 2, .groups = 2}).value());
}

TEST_CASE("pooling layers equal their ops") {
  const V x(test::random_array({2, 3, 7, 6}, 5));
  CHECK(MaxPool2d<double>(3, 2, 1)(x).value() == autodiff::max_pool2d(x, 3, 2, 1).value());
  CHECK(AvgPool2d<double>(2)(x).value() == autodiff::avg_pool2d(x, 2).value());
  CHECK(AvgPool2d<double>(3, 2, 1, false)(x).value() == autodiff::avg_pool2d(x, 3, 2, 1, false).value());
  CHECK(AdaptiveAvgPool2d<double>(1)(x).shape() == autodiff::Shape{2, 3, 1, 1});
  CHECK(AdaptiveAvgPool2d<double>({2, 3}).describe() == "AdaptiveAvgPool2d((2, 3))");
  CHECK(AvgPool2d<double>(3, 2, 1, false).describe() == "AvgPool2d(kernel 3, stride 2, padding 1, count_include_pad false)");
}

TEST_CASE("Upsample: each pixel becomes a block, and its gradient is the block's sum") {
  const V x(test::random_array({2, 3, 2, 3}, 7), true);
  Upsample<double> up({2, 3});
  const V y = up(x);
  REQUIRE(y.shape() == autodiff::Shape{2, 3, 4, 9});
  const autodiff::Array<double> w = test::random_array({2, 3, 4, 9}, 8);
  autodiff::sum(y * V(w)).backward();
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j) {
          double block = 0;
          for (std::size_t a = 0; a < 2; ++a)
            for (std::size_t b = 0; b < 3; ++b) {
              CHECK(y.value()(n, c, 2 * i + a, 3 * j + b) == x.value()(n, c, i, j));
              block += w(n, c, 2 * i + a, 3 * j + b);
            }
          CHECK(x.grad()(n, c, i, j) == doctest::Approx(block).epsilon(1e-12));
        }
  CHECK(up.describe() == "Upsample(scale (2, 3), nearest)");
  CHECK(test::message_of([&] { up(V(autodiff::Array<double>::from_shape({2, 3}))); }) ==
        "Upsample(scale (2, 3), nearest) got input of shape (2, 3), expected (batch, channels, H, W)");
  CHECK_THROWS_AS(Upsample<double>({0, 2}), std::invalid_argument);
}

TEST_CASE("a LeNet-shaped CNN: shapes, gradients against finite differences, and it learns") {
  manual_seed(11);
  Sequential<double> model;
  model.add(Conv2d<double>(1, 3, 3, 1, 1)).add(Tanh<double>()).add(MaxPool2d<double>(2));
  model.add(Conv2d<double>(3, 4, 3)).add(Tanh<double>()).add(AdaptiveAvgPool2d<double>(1)).add(Flatten<double>());
  model.add(Linear<double>(4, 2));
  const V x(test::random_array({6, 1, 8, 8}, 12));
  const V out = model(x);
  REQUIRE(out.shape() == autodiff::Shape{6, 2});
  // targets: the sign of the mean of the left half against the right half
  Labels labels;
  for (std::size_t n = 0; n < 6; ++n) {
    double left = 0, right = 0;
    for (std::size_t i = 0; i < 8; ++i)
      for (std::size_t j = 0; j < 8; ++j) (j < 4 ? left : right) += x.value()(n, 0, i, j);
    labels.push_back(left > right ? 1 : 0);
  }
  auto parameters = model.parameters();
  std::vector<Array<double>> values;
  for (auto& p : parameters) values.push_back(p.value());
  auto loss_of = [&](const std::vector<V>& leaves) {
    for (std::size_t i = 0; i < leaves.size(); ++i) parameters[i].data() = leaves[i].value();
    return cross_entropy(model(x), labels);
  };
  model.zero_grad();
  cross_entropy(model(x), labels).backward();
  std::vector<Array<double>> gradients;
  for (auto& p : parameters) gradients.push_back(p.grad());
  const auto report = autodiff::check_gradients(loss_of, values, gradients);
  CHECK_MESSAGE(report.passed, report.to_string());
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].data() = values[i];

  Adam<double> optimizer(model.parameters(), 0.05);
  const double first = cross_entropy(model(x), labels).value()();
  for (int step = 0; step < 60; ++step) {
    optimizer.zero_grad();
    cross_entropy(model(x), labels).backward();
    optimizer.step();
  }
  CHECK(cross_entropy(model(x), labels).value()() < 0.2 * first);
}
