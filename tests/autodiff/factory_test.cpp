// Forward values, conventions and errors of the ops in autodiff/factory.hpp
// (their gradients are checked in gradients_test.cpp).
#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

#include <cmath>
#include <numeric>

static double mean_of(const Array<double>& x) { return std::accumulate(x.begin(), x.end(), 0.0) / double(x.size()); }

TEST_CASE("zeros, ones, full and eye: values, shapes, dtype and requires_grad") {
  const V z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(xt::all(xt::equal(z.value(), 0.0)));
  CHECK_FALSE(z.requires_grad());
  const Variable<float> o = ones<float>({4}, {.requires_grad = true});
  CHECK(o.requires_grad());
  CHECK(o.is_leaf());
  CHECK(xt::all(xt::equal(o.value(), 1.0f)));
  const V f = full({2, 2}, 3);  // an int literal is a double by default
  CHECK(xt::all(xt::equal(f.value(), 3.0)));
  CHECK(zeros({}).dimension() == 0);
  CHECK(zeros({}).size() == 1);
  CHECK(zeros({3, 0}).size() == 0);
  const V i3 = eye(3);
  const V i23 = eye(2, 3);
  CHECK(i3.value() == Array<double>{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}});
  CHECK(i23.value() == Array<double>{{1, 0, 0}, {0, 1, 0}});
  CHECK(eye(3, 2).value() == Array<double>{{1, 0}, {0, 1}, {0, 0}});
  CHECK(eye(2, {.requires_grad = true}).requires_grad());
}

TEST_CASE("a factory's leaf takes gradients like any parameter") {
  V w = ones({3}, {.requires_grad = true});
  sum(w * w).backward();
  CHECK(w.grad() == Array<double>{2, 2, 2});
}

TEST_CASE("arange and linspace follow NumPy") {
  CHECK(arange(5).value() == Array<double>{0, 1, 2, 3, 4});
  CHECK(arange(1.0, 2.0, 0.25).value() == Array<double>{1.0, 1.25, 1.5, 1.75});
  CHECK(arange(3.0, 0.0, -1.0).value() == Array<double>{3, 2, 1});
  CHECK(arange(2.0, 1.0).size() == 0);  // empty, as numpy.arange(2, 1)
  // NumPy's length ceil((stop - start) / step): arange(0, 1, 0.1) has 10 values,
  // each start + i step (0.30000000000000004 at i = 3, as NumPy)
  const V tenths = arange(0.0, 1.0, 0.1);
  REQUIRE(tenths.size() == 10);
  for (std::size_t i = 0; i < 10; ++i) CHECK(tenths.value()(i) == double(i) * 0.1);
  CHECK(linspace(0.0, 1.0, 5).value() == Array<double>{0, 0.25, 0.5, 0.75, 1});
  CHECK(linspace(0.0, 1.0, 4, false).value() == Array<double>{0, 0.25, 0.5, 0.75});
  CHECK(linspace(2.0, 3.0, 1).value() == Array<double>{2.0});
  CHECK(linspace(2.0, 3.0, 0).size() == 0);
  const V third = linspace(0.0, 0.3, 7);
  CHECK(third.value()(6) == 0.3);  // the endpoint exactly
  CHECK(linspace<float>(-1, 1, 3).value() == Array<float>{-1, 0, 1});
}

TEST_CASE("rand and randn: seeded, repeatable, and distributed as promised") {
  const V a = rand({1000}, {.seed = 7}), b = rand({1000}, {.seed = 7}), c = rand({1000}, {.seed = 8});
  CHECK(a.value() == b.value());
  CHECK(a.value() != c.value());
  CHECK(xt::all(a.value() >= 0.0 && a.value() < 1.0));
  const double mean_u = mean_of(a.value());
  CHECK(std::abs(mean_u - 0.5) < 4 * std::sqrt(1.0 / 12 / 1000));  // within 4 standard errors
  const V n = randn({20000}, {.seed = 3});
  const double m = mean_of(n.value());
  Array<double> centred = n.value() - m;
  const double var = mean_of(Array<double>(centred * centred));
  CHECK(std::abs(m) < 4 / std::sqrt(20000.0));
  CHECK(std::abs(var - 1.0) < 4 * std::sqrt(2.0 / 20000));
  // odd sizes use the first of the last Box-Muller pair
  const V first3 = randn({3}, {.seed = 3});
  for (std::size_t i = 0; i < 3; ++i) CHECK(first3.value()(i) == n.value()(i));
  CHECK(xt::all(xt::isfinite(n.value())));
  // float: the same stream, rounded
  const Variable<float> af = rand<float>({1000}, {.seed = 7});
  CHECK(xt::all(af.value() >= 0.0f && af.value() < 1.0f));
  CHECK(std::abs(double(af.value()(5)) - a.value()(5)) < 1e-7);
}

TEST_CASE("manual_seed makes the thread's draws repeatable and reseeds nn's engine too") {
  manual_seed(123);
  CHECK(initial_seed() == 123);
  const V a = randn({4, 4});
  const V b = rand({4});
  manual_seed(123);
  CHECK(randn({4, 4}).value() == a.value());
  CHECK(rand({4}).value() == b.value());
  CHECK(rand({4}).value() != b.value());  // the stream moves on
  manual_seed(42);
}

TEST_CASE("column and row literals") {
  const V c = column({0.7, -0.5});
  CHECK(c.shape() == Shape{2, 1});
  CHECK(c.value()(1, 0) == -0.5);
  const Variable<float> r = row<float>({1.0f, 2.0f, 3.0f}, {.requires_grad = true});
  CHECK(r.shape() == Shape{1, 3});
  CHECK(r.requires_grad());
  CHECK(matmul(r, column<float>({1, 1, 1})).item() == 6.0f);
  CHECK(column({1, 2}).value()(1, 0) == 2.0);  // integer literals make a column of doubles
}

TEST_CASE("Variable::scalar is a 0-D leaf") {
  const V s = V::scalar(2.5, true);
  CHECK(s.dimension() == 0);
  CHECK(s.item() == 2.5);
  CHECK(s.requires_grad());
}

TEST_CASE("a factory shape with a 0 is empty even when its other lengths multiply past 2^64 (NumPy)") {
  CHECK(zeros({std::size_t(1) << 32, std::size_t(1) << 32, 0}).shape() == Shape{std::size_t(1) << 32, std::size_t(1) << 32, 0});
  CHECK(zeros({std::size_t(1) << 32, std::size_t(1) << 32, 0}).size() == 0);
  CHECK_THROWS_AS(ones({std::size_t(1) << 32, std::size_t(1) << 32}), ShapeError);
}
