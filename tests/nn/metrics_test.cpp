// Classification and regression metrics on small hand-worked cases.
#include <doctest/doctest.h>

#include <functional>
#include <sstream>
#include <string>

#include <nn/metrics.hpp>
#include <xtensor/xmath.hpp>

#include "test_util.hpp"

using namespace nn;
using A = autodiff::Array<double>;

using test::message_of;

TEST_CASE("argmax_rows gives each row's column of the largest score, the first one on ties") {
  const A scores = {{0.1, 0.7, 0.2}, {-1.0, -3.0, -2.0}, {5.0, 5.0, 1.0}, {0.0, 2.0, 2.0}, {-1.0, -1.0, 3.5}};
  CHECK(argmax_rows(scores) == Labels{1, 0, 0, 1, 2});
  autodiff::Array<float> single = {4.f, -4.f};
  single.reshape({2, 1});
  CHECK(argmax_rows(single) == Labels{0, 0});
  CHECK_THROWS_AS(argmax_rows(A{1.0, 2.0}), autodiff::ShapeError);
}

TEST_CASE("accuracy is the fraction of predictions equal to the truth, from labels or from scores") {
  CHECK(accuracy(Labels{1, 2, 3, 4}, Labels{1, 2, 0, 4}) == doctest::Approx(0.75));
  CHECK(accuracy(Labels{0, 0, 0}, Labels{1, 1, 1}) == 0.0);
  CHECK(accuracy(Labels{2}, Labels{2}) == 1.0);

  // Rows predict 1, 0, 2, 2, 0 (argmax); the truth agrees on 3 of 5.
  const A logits = {{0.0, 3.0, 1.0}, {2.0, -1.0, 0.0}, {0.0, 0.5, 0.6}, {1.0, 1.0, 9.0}, {0.3, 0.2, 0.1}};
  const Labels truth = {1, 1, 2, 0, 0};
  CHECK(accuracy(logits, truth) == doctest::Approx(0.6));
  CHECK(accuracy(autodiff::Array<float>(xt::cast<float>(logits)), truth) == doctest::Approx(0.6));
}

TEST_CASE("accuracy with different numbers of predictions and labels is an error naming both") {
  const std::string message = message_of([] { accuracy(Labels{1, 2, 3}, Labels{1, 2}); });
  CHECK(message.find("3 predictions") != std::string::npos);
  CHECK(message.find("2 labels") != std::string::npos);
  CHECK_THROWS_AS(accuracy(Labels{}, Labels{}), std::invalid_argument);
  CHECK_THROWS_AS(accuracy(A{{1.0, 0.0}, {0.0, 1.0}}, Labels{0, 1, 1}), std::invalid_argument);
}

TEST_CASE("print_confusion_matrix: a row per true class with its accuracy, names when given") {
  const xt::xarray<std::size_t> counts = {{3, 1, 0}, {0, 0, 0}, {1, 0, 4}};
  std::ostringstream plain, named;
  print_confusion_matrix(plain, counts);
  CHECK(plain.str() ==
        "        0     1     2   accuracy\n"
        "0       3     1     0   0.750\n"
        "1       0     0     0   -\n"
        "2       1     0     4   0.800\n");
  print_confusion_matrix(named, counts, {"cat", "dog", "bird"});
  CHECK(named.str() ==
        "             0     1     2   accuracy\n"
        "0  cat       3     1     0   0.750\n"
        "1  dog       0     0     0   -\n"
        "2  bird      1     0     4   0.800\n");
  CHECK(message_of([&] { print_confusion_matrix(plain, counts, {"a", "b"}); }) ==
        "print_confusion_matrix: 2 class names for 3 classes");
  CHECK_THROWS_AS(print_confusion_matrix(plain, xt::xarray<std::size_t>::from_shape({2, 3})), autodiff::ShapeError);
}

TEST_CASE("confusion_matrix counts samples of true class i predicted as class j") {
  const Labels truth = {0, 0, 0, 1, 1, 2, 2, 2, 2, 0};
  const Labels predicted = {0, 1, 0, 1, 2, 2, 2, 0, 2, 0};
  const xt::xarray<std::size_t> counts = confusion_matrix(predicted, truth, 4);
  // By hand: class 0 -> 0,1,0,0; class 1 -> 1,2; class 2 -> 2,2,0,2; class 3 never occurs.
  const xt::xarray<std::size_t> expected = {{3, 1, 0, 0}, {0, 1, 1, 0}, {1, 0, 3, 0}, {0, 0, 0, 0}};
  CHECK(counts == expected);
  CHECK(xt::sum(counts)() == truth.size());

  CHECK_THROWS_AS(confusion_matrix(Labels{0, 1}, Labels{0}, 2), std::invalid_argument);
  const std::string message = message_of([] { confusion_matrix(Labels{0, 3}, Labels{0, 1}, 3); });
  CHECK(message.find("sample 1") != std::string::npos);
  CHECK_THROWS_AS(confusion_matrix(Labels{0}, Labels{2}, 2), std::out_of_range);
}

TEST_CASE("mean_squared_error averages the squared differences over all entries") {
  // Differences 1, -2, 0, 3: (1 + 4 + 0 + 9) / 4.
  CHECK(mean_squared_error(A{{2.0, 0.0}, {5.0, 7.0}}, A{{1.0, 2.0}, {5.0, 4.0}}) == doctest::Approx(3.5));
  CHECK(mean_squared_error(A{1.5, 2.5}, A{1.5, 2.5}) == 0.0);
  CHECK(mean_squared_error(autodiff::Array<float>{0.5f}, autodiff::Array<float>{-0.5f}) == doctest::Approx(1.0));
  const std::string message = message_of([] { mean_squared_error(A{1.0, 2.0}, A{{1.0, 2.0}}); });
  CHECK(message.find("(2,)") != std::string::npos);
  CHECK(message.find("(1, 2)") != std::string::npos);
  CHECK_THROWS_AS(mean_squared_error(A{1.0, 2.0, 3.0}, A{1.0, 2.0}), autodiff::ShapeError);
}

TEST_CASE("r2_score is 1 for a perfect prediction, 0 for predicting the mean, 1 - SS_res / SS_tot otherwise") {
  const A truth = {1.0, 2.0, 3.0, 4.0};
  CHECK(r2_score(truth, truth) == doctest::Approx(1.0));
  CHECK(r2_score(A{2.5, 2.5, 2.5, 2.5}, truth) == doctest::Approx(0.0).epsilon(1e-12));
  // SS_res = 1, SS_tot = 2.25 + 0.25 + 0.25 + 2.25 = 5.
  CHECK(r2_score(A{1.0, 2.0, 3.0, 5.0}, truth) == doctest::Approx(0.8));
  // Worse than the mean is negative: SS_res = 9 + 1 + 1 + 9 = 20.
  CHECK(r2_score(A{4.0, 3.0, 2.0, 1.0}, truth) == doctest::Approx(1.0 - 20.0 / 5.0));
  // Over every entry of a 2-D target: mean 2.5 again.
  CHECK(r2_score(A{{1.0, 2.0}, {3.0, 5.0}}, A{{1.0, 2.0}, {3.0, 4.0}}) == doctest::Approx(0.8));
  CHECK_THROWS_AS(r2_score(A{1.0}, A{1.0, 2.0}), autodiff::ShapeError);
}
