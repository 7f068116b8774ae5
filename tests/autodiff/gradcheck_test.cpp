// The gradient checker, as a student uses it: it must pass right gradients and
// name the entries of wrong ones.
#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

#include <xtensor/xview.hpp>

#include "test_util.hpp"

using namespace autodiff;
using test::contains;
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

// ---- the diagnosis: planted mistakes are named, right gradients get none ------------

namespace {
// C = mean(a ⊙ x^2) over the 16 entries of a (4, 4) x: dC/dx = 2 a x / 16.
const Array<double> weights = test::random_array({4, 4}, 30);
V mean_cost(const std::vector<V>& in) { return mean(V(weights) * square(in[0])); }
const Array<double> x44 = test::random_array({4, 4}, 31);
Array<double> right_gradient() { return Array<double>(2.0 * weights * x44 / 16.0); }

Diagnosis diagnosis_of(const Array<double>& yours) {
  const GradCheckReport report = check_gradients(mean_cost, {x44}, {yours}, {.input_names = {"x"}});
  REQUIRE(report.inputs.size() == 1);
  return report.inputs[0].diagnosis;
}
}  // namespace

TEST_CASE("diagnosis: a right gradient passes with nothing to say, even with rounding noise") {
  const GradCheckReport report = check_gradients(mean_cost, {x44}, {right_gradient()});
  CHECK(report.passed);
  CHECK(report.inputs[0].diagnosis.kind == Disagreement::none);
  CHECK(report.inputs[0].diagnosis.sentence.empty());
  const std::string text = report.to_string();
  CHECK(std::count(text.begin(), text.end(), '\n') == 3);  // title, header, x: no diagnosis line
  Array<double> noisy = right_gradient() + 1e-9 * test::random_array({4, 4}, 32);
  CHECK(diagnose(noisy, right_gradient()).kind == Disagreement::none);
}

TEST_CASE("diagnosis: a forgotten 1/N is a constant factor N, and a missing 2 is a factor 1/2") {
  const Diagnosis sum_for_mean = diagnosis_of(Array<double>(2.0 * weights * x44));
  CHECK(sum_for_mean.kind == Disagreement::factor);
  CHECK(sum_for_mean.factor == doctest::Approx(16.0).epsilon(1e-6));
  CHECK(contains(sum_for_mean.sentence, "yours are 16.0 times the finite differences: a missing 1/16?"));

  const Diagnosis no_two = diagnosis_of(Array<double>(weights * x44 / 16.0));
  CHECK(no_two.kind == Disagreement::factor);
  CHECK(no_two.factor == doctest::Approx(0.5).epsilon(1e-6));
  CHECK(contains(no_two.sentence, "0.5 times the finite differences: a missing factor 2?"));

  const Diagnosis odd = diagnosis_of(Array<double>(1.37 * right_gradient()));
  CHECK(odd.kind == Disagreement::factor);
  CHECK(contains(odd.sentence, "1.37 times"));
  CHECK(contains(odd.sentence, "a wrong constant factor"));

  // a gradcheck of an op whose backward forgets the 2 of d(x^2)/dx
  const GradCheckReport broken =
      gradcheck([](const std::vector<V>& in) { return sum(broken_square(in[0])); }, {Array<double>{1.0, -2.0, 0.5}});
  CHECK(broken.inputs[0].diagnosis.kind == Disagreement::factor);
  CHECK(contains(broken.to_string(), "input 0: yours are 0.5 times the finite differences: a missing factor 2?"));
}

TEST_CASE("diagnosis: a sign error, a transpose, zeros, a broadcast term, an elementwise factor") {
  const Array<double> right = right_gradient();
  const Diagnosis sign = diagnosis_of(Array<double>(-right));
  CHECK(sign.kind == Disagreement::sign);
  CHECK(contains(sign.sentence, "minus the finite differences"));

  const Diagnosis flipped = diagnosis_of(Array<double>(xt::transpose(right)));
  CHECK(flipped.kind == Disagreement::transpose);
  CHECK(flipped.factor == doctest::Approx(1.0));
  CHECK(contains(flipped.sentence, "yours is the transpose of the finite differences"));
  const Diagnosis flipped_sum = diagnosis_of(Array<double>(16.0 * xt::transpose(right)));
  CHECK(flipped_sum.kind == Disagreement::transpose);
  CHECK(contains(flipped_sum.sentence, "a missing 1/16?"));

  CHECK(diagnosis_of(Array<double>(xt::zeros<double>({4, 4}))).kind == Disagreement::all_zero);

  Array<double> no_column = right;
  xt::view(no_column, xt::all(), 2) = 0.0;
  const Diagnosis column = diagnosis_of(no_column);
  CHECK(column.kind == Disagreement::zero_entries);
  CHECK(contains(column.sentence, "yours is zero in column 2, where the finite differences are not"));
  Array<double> two_zeros = right;
  two_zeros(0, 1) = 0.0;
  two_zeros(3, 2) = 0.0;
  const Diagnosis entries = diagnosis_of(two_zeros);
  CHECK(entries.kind == Disagreement::zero_entries);
  CHECK(contains(entries.sentence, "2 entries [0, 1], [3, 2]"));

  const Array<double> per_column = test::random_array({1, 4}, 33);  // the same in every row
  const Diagnosis term = diagnosis_of(Array<double>(right + per_column));
  CHECK(term.kind == Disagreement::broadcast_term);
  CHECK(term.axis == 0);
  CHECK(contains(term.sentence, "is the same in every row"));
  const Array<double> fprime = test::random_array({4, 4}, 36, 0.05, 0.25);  // a sigmoid' too many
  const Diagnosis elementwise = diagnosis_of(Array<double>(right * fprime));
  CHECK(elementwise.kind == Disagreement::elementwise_factor);
  CHECK(contains(elementwise.sentence, "times an elementwise factor between 0.0"));
  CHECK(contains(elementwise.sentence, "such as f'(z)?"));
  const Diagnosis offset = diagnosis_of(Array<double>(right + 0.25));
  CHECK(offset.kind == Disagreement::broadcast_term);
  CHECK(contains(offset.sentence, "plus the same 0.25 everywhere"));
}

TEST_CASE("diagnosis: a non-square gradient computed as its transpose, and one of the transposed shape") {
  const Array<double> a = test::random_array({2, 3}, 34);
  const Array<double> x = test::random_array({2, 3}, 35);
  const GradFunction f = [&](const std::vector<V>& in) { return sum(V(a) * in[0]); };  // dC/dx = a
  Array<double> read_as_transpose = xt::transpose(a);  // (3, 2), stored as a (2, 3)
  read_as_transpose.reshape({2, 3});
  const GradCheckReport report = check_gradients(f, {x}, {read_as_transpose});
  CHECK(report.inputs[0].diagnosis.kind == Disagreement::transpose);
  CHECK(contains(report.inputs[0].diagnosis.sentence, "read as a (3, 2) matrix and transposed"));
  CHECK(contains(test::message_of([&] { check_gradients(f, {x}, {Array<double>(xt::transpose(a))}); }),
                 "the transposed shape"));
}

TEST_CASE("diagnosis: random wrong gradients have no simple pattern, NaN is named, one entry claims no factor") {
  for (unsigned seed = 40; seed < 60; ++seed) {
    CAPTURE(seed);
    const Diagnosis d = diagnosis_of(test::random_array({4, 4}, seed));
    CHECK(d.kind == Disagreement::no_simple_pattern);
    CHECK(contains(d.sentence, "no simple pattern"));
  }
  Array<double> one_wrong = right_gradient();
  one_wrong(1, 3) += 0.5;
  const Diagnosis single = diagnosis_of(one_wrong);
  CHECK(single.kind == Disagreement::no_simple_pattern);
  CHECK(contains(single.sentence, "1 of 16 entries disagree, all in row 1"));

  Array<double> with_nan = right_gradient();
  with_nan(2, 2) = std::nan("");
  const Diagnosis nan = diagnosis_of(with_nan);
  CHECK(nan.kind == Disagreement::not_finite);
  CHECK(contains(nan.sentence, "yours is NaN or infinite at [2, 2]"));

  // a single number that is wrong could be any factor: none is claimed
  const GradCheckReport scalar = check_gradients([](const std::vector<V>& in) { return 3.0 * in[0]; },
                                                 {Array<double>{2.0}}, {Array<double>{6.0}});
  CHECK(scalar.inputs[0].diagnosis.kind == Disagreement::no_simple_pattern);
}
