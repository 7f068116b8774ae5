// The gradient checker, as a student uses it: it must pass right gradients and
// name the entries of wrong ones.
#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

namespace {
V loss_of(const std::vector<V>& in) { return sum(square(matmul(in[0], in[1]))); }

// An op whose backward is wrong on purpose (a factor 2 missing).
V broken_square(const V& x) {
  static const OpInfo op{"broken_square", "dx = g x (wrong: should be 2 g x)"};
  return record<double>(op, xt::square(x.value()), {x},
                        [](Backward<double>& d) { d.add_grad(0, d.g * d.input(0)); });
}
}  // namespace

TEST_CASE("right gradients pass") {
  const std::vector<Array<double>> inputs{test::random_array({3, 4}, 1), test::random_array({4, 2}, 2)};
  const GradCheckReport report = gradcheck(loss_of, inputs, {.input_names = {"x", "w"}});
  CHECK(report.passed);
  REQUIRE(report.inputs.size() == 2);
  CHECK(report.inputs[1].name == "w");
  CHECK(report.inputs[1].max_abs_error < 1e-6);
  CHECK(report.to_string().find("passed") != std::string::npos);
}

TEST_CASE("a wrong backward is caught") {
  const GradCheckReport report =
      gradcheck([](const std::vector<V>& in) { return sum(broken_square(in[0])); }, {Array<double>{1.0, -2.0}});
  CHECK_FALSE(report.passed);
  CHECK(report.inputs[0].failed_entries == 2);
  CHECK(report.inputs[0].worst[0].numeric == doctest::Approx(-4.0));
  CHECK(report.inputs[0].worst[0].yours == doctest::Approx(-2.0));
}

TEST_CASE("hand-computed gradients are compared entry by entry and the wrong ones are named") {
  const Array<double> x = test::random_array({3, 4}, 3), w = test::random_array({4, 2}, 4);
  // By hand: C = sum((x w)^2)  =>  dC/dw = x^T (2 x w), dC/dx = (2 x w) w^T
  Array<double> xw = xt::zeros<double>({3, 2});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t k = 0; k < 4; ++k)
      for (std::size_t j = 0; j < 2; ++j) xw(i, j) += x(i, k) * w(k, j);
  Array<double> dw = xt::zeros<double>({4, 2}), dx = xt::zeros<double>({3, 4});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t k = 0; k < 4; ++k)
      for (std::size_t j = 0; j < 2; ++j) {
        dw(k, j) += x(i, k) * 2 * xw(i, j);
        dx(i, k) += 2 * xw(i, j) * w(k, j);
      }
  CHECK(check_gradients(loss_of, {x, w}, {dx, dw}).passed);

  Array<double> wrong_dw = dw;
  wrong_dw(2, 1) += 0.5;
  const GradCheckReport report = check_gradients(loss_of, {x, w}, {dx, wrong_dw}, {.input_names = {"x", "W"}});
  CHECK_FALSE(report.passed);
  CHECK(report.inputs[0].passed);
  CHECK(report.inputs[1].failed_entries == 1);
  CHECK(report.inputs[1].worst[0].index == "[2, 1]");
  CHECK(report.to_string().find("W[2, 1]") != std::string::npos);
  CHECK_THROWS_AS(check_gradients(loss_of, {x, w}, {dx}), ShapeError);
}

TEST_CASE("non-scalar outputs are checked through a random projection") {
  const GradCheckReport report =
      gradcheck([](const std::vector<V>& in) { return tanh(in[0]) * in[1]; },
                {test::random_array({2, 3}, 5), test::random_array({3}, 6)});
  CHECK(report.passed);
  const GradCheckReport broken = gradcheck([](const std::vector<V>& in) { return broken_square(in[0]); },
                                           {test::random_array({2, 3}, 7)});
  CHECK_FALSE(broken.passed);
}
