// Forward values, conventions at non-differentiable points, and numerical
// stability at extreme inputs.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <autodiff/autodiff.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

namespace {
using test::grad_of;
bool all_finite(const Array<double>& a) { return xt::all(xt::isfinite(a)); }
}  // namespace

TEST_CASE("gradients at non-differentiable points follow PyTorch's conventions") {
  const Array<double> at_zero{0.0};
  CHECK(grad_of([](const V& x) { return relu(x); }, at_zero)(0) == 0.0);
  CHECK(grad_of([](const V& x) { return abs(x); }, at_zero)(0) == 0.0);
  CHECK(grad_of([](const V& x) { return leaky_relu(x, 0.1); }, at_zero)(0) == doctest::Approx(0.1));
  CHECK(grad_of([](const V& x) { return elu(x, 0.5); }, at_zero)(0) == doctest::Approx(0.5));
  // clip passes the gradient at its bounds, and not outside them
  CHECK(grad_of([](const V& x) { return clip(x, -1.0, 1.0); }, Array<double>{-1.0, 1.0, 1.5, -2.0}) ==
        Array<double>{1.0, 1.0, 0.0, 0.0});
  // ties in max share the gradient evenly
  CHECK(grad_of([](const V& x) { return max(x); }, Array<double>{3.0, 1.0, 3.0}) == Array<double>{0.5, 0.0, 0.5});
  CHECK(grad_of([](const V& x) { return max(x, 1); }, Array<double>{{2.0, 2.0}, {1.0, 0.0}}) ==
        Array<double>{{0.5, 0.5}, {1.0, 0.0}});
  V a(Array<double>{1.0, 2.0}, true), b(Array<double>{1.0, 3.0}, true);
  sum(maximum(a, b)).backward();
  CHECK(a.grad() == Array<double>{0.5, 0.0});
  CHECK(b.grad() == Array<double>{0.5, 1.0});
}

TEST_CASE("forward values") {
  V x(Array<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  V w(Array<double>{{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}});
  CHECK(matmul(x, w).value() == Array<double>{{4.0, 5.0}, {10.0, 11.0}});
  CHECK(matmul(x, x, {.transpose_b = true}).value() == Array<double>{{14.0, 32.0}, {32.0, 77.0}});
  CHECK(matmul(x, x, {.transpose_a = true}).value()(0, 0) == 17.0);
  CHECK(affine(x, w, V(Array<double>{10.0, 20.0})).value() == Array<double>{{14.0, 25.0}, {20.0, 31.0}});
  CHECK(transpose(x).value() == Array<double>{{1.0, 4.0}, {2.0, 5.0}, {3.0, 6.0}});
  CHECK(pick(x, {2, 0}).value() == Array<double>{3.0, 4.0});
  CHECK(index_rows(x, {1, 1, 0}).value() == Array<double>{{4.0, 5.0, 6.0}, {4.0, 5.0, 6.0}, {1.0, 2.0, 3.0}});
  CHECK(slice_rows(x, 1, 2).value() == Array<double>{{4.0, 5.0, 6.0}});
  CHECK(concatenate<double>({x, x}, 1).value() ==
        Array<double>{{1.0, 2.0, 3.0, 1.0, 2.0, 3.0}, {4.0, 5.0, 6.0, 4.0, 5.0, 6.0}});
  CHECK(concatenate<double>({x, slice_rows(x, 0, 1)}, 0).value().shape()[0] == 3);
  CHECK(flatten(x).value().shape() == Shape{6});
  CHECK(sum(x).item() == 21.0);
  CHECK(sum(x, 0).value() == Array<double>{5.0, 7.0, 9.0});
  CHECK(sum(x, 1, true).value() == Array<double>(xt::xtensor<double, 2>{{6.0}, {15.0}}));
  CHECK(mean(x, -1).value() == Array<double>{2.0, 5.0});
  CHECK(max(x, 0).value() == Array<double>{4.0, 5.0, 6.0});
  CHECK(max(x).item() == 6.0);
  CHECK(heaviside(x - 3.0).value() == Array<double>{{0.0, 0.0, 0.0}, {1.0, 1.0, 1.0}});
  CHECK(xt::allclose(xt::sum(softmax(x).value(), {1}), Array<double>{1.0, 1.0}));
  CHECK(autodiff::where(xt::xarray<bool>{true, false, true}, x, -x).value() ==
        Array<double>{{1.0, -2.0, 3.0}, {4.0, -5.0, 6.0}});
}

TEST_CASE("softmax, log_softmax, logsumexp and sigmoid stay finite at extreme inputs") {
  const Array<double> extreme{{1000.0, -1000.0, 0.0}, {-1000.0, -1000.0, -1000.0}};
  V x(extreme);
  CHECK(all_finite(softmax(x).value()));
  CHECK(all_finite(log_softmax(x).value()));
  CHECK(log_softmax(x).value()(0, 0) == doctest::Approx(0.0));
  CHECK(logsumexp(x, 1).value()(0) == doctest::Approx(1000.0));
  CHECK(logsumexp(x, 1).value()(1) == doctest::Approx(-1000.0 + std::log(3.0)));
  CHECK(sigmoid(V(Array<double>{-1000.0, 1000.0})).value() == Array<double>{0.0, 1.0});
  CHECK(all_finite(grad_of([](const V& v) { return log_softmax(v); }, extreme)));
  CHECK(all_finite(grad_of([](const V& v) { return softmax(v) * v; }, extreme)));
  CHECK(all_finite(grad_of([](const V& v) { return sigmoid(v); }, Array<double>{-1000.0, 1000.0})));
  // float32 overflows at 89 in exp: the shifted forms must not.
  Variable<float> xf(Array<float>{{100.f, -100.f, 50.f}});
  CHECK(xt::all(xt::isfinite(log_softmax(xf).value())));
  CHECK(xt::all(xt::isfinite(softmax(xf).value())));
}

TEST_CASE("softmax along either axis is e^(log_softmax); a NaN spoils only its own row") {
  const Array<double> scores{{0.3, -1.2, 2.5, 0.0}, {7.0, 7.0, -3.0, 1.5}, {-0.5, 0.25, 0.125, -2.0}};
  for (long axis : {0L, 1L}) {
    const Array<double> expected = xt::exp(log_softmax(V(scores), axis).value());
    CHECK(xt::allclose(softmax(V(scores), axis).value(), expected, 1e-15, 0.0));
  }
  Array<double> with_nan = scores;
  with_nan(1, 2) = std::numeric_limits<double>::quiet_NaN();
  const Array<double> y = softmax(V(with_nan)).value();
  CHECK(xt::all(xt::isnan(xt::row(y, 1))));
  CHECK(xt::all(xt::isfinite(xt::row(y, 0))));
  CHECK(xt::all(xt::isfinite(xt::row(y, 2))));
}

TEST_CASE("relu keeps NaN visible instead of turning it into 0") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK(std::isnan(relu(V(Array<double>{nan})).value()(0)));
}
