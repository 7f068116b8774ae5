// Loss values against their formulas, and their stability at extreme inputs.
#include <doctest/doctest.h>

#include <cmath>

#include <nn/nn.hpp>

#include "test_util.hpp"

using namespace nn;
using V = Variable<double>;

TEST_CASE("loss values follow their formulas") {
  const Array<double> y{{1.0, 2.0}, {3.0, 4.0}}, t{{1.5, 2.0}, {2.0, 6.0}};
  // squared errors: 0.25, 0, 1, 4 -> sum 5.25
  CHECK(mse(V(y), V(t)).item() == doctest::Approx(5.25 / 4));
  CHECK(mse(V(y), V(t), Reduction::sum).item() == doctest::Approx(5.25));
  CHECK(half_sum_squared_error(V(y), V(t)).item() == doctest::Approx(5.25 / 2));

  const Array<double> z{{2.0, -1.0, 0.5}, {0.0, 3.0, -2.0}};
  const Labels labels{2, 1};
  double expected = 0;
  for (std::size_t i = 0; i < 2; ++i) {
    double total = 0;
    for (std::size_t j = 0; j < 3; ++j) total += std::exp(z(i, j));
    expected += -std::log(std::exp(z(i, labels[i])) / total);
  }
  CHECK(cross_entropy(V(z), labels, Reduction::sum).item() == doctest::Approx(expected));
  CHECK(cross_entropy(V(z), labels).item() == doctest::Approx(expected / 2));
  CHECK(cross_entropy(V(z), V(one_hot<double>(labels, 3))).item() == doctest::Approx(expected / 2));

  const Array<double> logits{0.3, -1.2, 2.0}, targets{1.0, 0.0, 1.0};
  double bce = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const double p = 1 / (1 + std::exp(-logits(i)));
    bce += -(targets(i) * std::log(p) + (1 - targets(i)) * std::log(1 - p));
  }
  CHECK(binary_cross_entropy(autodiff::sigmoid(V(logits)), V(targets)).item() == doctest::Approx(bce / 3));
  CHECK(binary_cross_entropy_with_logits(V(logits), V(targets)).item() == doctest::Approx(bce / 3));
  CHECK(binary_cross_entropy_with_logits(V(logits), V(targets), Reduction::sum).item() == doctest::Approx(bce));

  V w1(Array<double>{{1.0, 2.0}}), w2(Array<double>{3.0});
  CHECK(l2_penalty<double>({w1, w2}, 0.5).item() == doctest::Approx(0.5 * (1 + 4 + 9)));
}

TEST_CASE("losses from logits stay finite at extreme logits, in float32 too") {
  Variable<float> z(Array<float>{{1000.f, -1000.f, 0.f}, {-500.f, 500.f, 20.f}}, true);
  Variable<float> ce = cross_entropy(z, Labels{1, 1});
  CHECK(std::isfinite(ce.item()));
  CHECK(ce.item() == doctest::Approx(1000.0));  // the first sample is 2000 nats off, the second 0
  ce.backward();
  CHECK(xt::all(xt::isfinite(z.grad())));

  Variable<float> logits(Array<float>{-1000.f, 1000.f, -90.f}, true);
  Variable<float> bce = binary_cross_entropy_with_logits(logits, Variable<float>(Array<float>{1.f, 0.f, 0.f}), Reduction::sum);
  CHECK(bce.item() == doctest::Approx(2000.0));
  bce.backward();
  CHECK(xt::all(xt::isfinite(logits.grad())));
  // Probabilities of exactly 0 or 1 are clipped: no log(0).
  CHECK(std::isfinite(binary_cross_entropy(Variable<float>(Array<float>{0.f, 1.f}), Variable<float>(Array<float>{1.f, 0.f})).item()));
}

TEST_CASE("losses name the shapes that do not match") {
  V y(Array<double>::from_shape({4, 3})), t(Array<double>::from_shape({4, 2}));
  std::string message;
  try {
    mse(y, t);
  } catch (const autodiff::ShapeError& e) {
    message = e.what();
  }
  CHECK(message.find("mse") != std::string::npos);
  CHECK(message.find("(4, 3)") != std::string::npos);
  CHECK(message.find("(4, 2)") != std::string::npos);
  CHECK_THROWS_AS(cross_entropy(y, Labels{0, 1, 2}), autodiff::ShapeError);
  CHECK_THROWS_AS(cross_entropy(y, Labels{0, 1, 2, 3}), autodiff::ShapeError);  // label 3 with 3 classes
}
