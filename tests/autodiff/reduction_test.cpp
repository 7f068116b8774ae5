// Forward values, conventions and errors of the ops in autodiff/reduction.hpp
// (their gradients are checked in gradients_test.cpp).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <type_traits>
#include <vector>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;
using Vf = Variable<float>;

namespace {

const double nan_ = std::numeric_limits<double>::quiet_NaN();
const double inf_ = std::numeric_limits<double>::infinity();

using test::grad_of;

// The Hessian of a scalar f at x, row by row, by reverse over reverse.
Array<double> hessian_of(const std::function<V(const V&)>& f, const Array<double>& x) {
  Array<double> h = xt::zeros<double>({x.size(), x.size()});
  for (std::size_t j = 0; j < x.size(); ++j) {
    V leaf(x, true);
    V g = grad(f(leaf), leaf, {.create_graph = true});
    V gj = reshape(g, {x.size()});
    Array<double> e = xt::zeros<double>({x.size()});
    e(j) = 1;
    V row = grad(sum(gj * V(e)), leaf, {.allow_unused = true, .materialize_grads = true});
    for (std::size_t i = 0; i < x.size(); ++i) h(j, i) = row.value().data()[i];
  }
  return h;
}

using test::column_of;

}  // namespace

TEST_CASE("min: values, keepdims, ties share the gradient, NaN wins") {
  const Array<double> a = {{3.0, -1.0, 2.0}, {0.5, 4.0, 0.5}};
  CHECK(min(V(a)).item() == -1.0);
  CHECK(min(V(a), 1).value() == Array<double>{-1.0, 0.5});
  CHECK(min(V(a), 0).value() == Array<double>{0.5, -1.0, 0.5});
  CHECK(min(V(a), -1, true).value() == column_of({-1.0, 0.5}));
  CHECK(min(V(a), 0, true).shape() == Shape{1, 3});
  CHECK(grad_of([](const V& x) { return min(x); }, Array<double>{1.0, 3.0, 1.0}) == Array<double>{0.5, 0.0, 0.5});
  CHECK(grad_of([](const V& x) { return min(x, 1); }, a) == Array<double>{{0.0, 1.0, 0.0}, {0.5, 0.0, 0.5}});
  CHECK(grad_of([](const V& x) { return min(x, 0, true); }, Array<double>{{1.0, 2.0}, {1.0, 3.0}, {1.0, 2.0}}) ==
        Array<double>{{1.0 / 3, 0.5}, {1.0 / 3, 0.0}, {1.0 / 3, 0.5}});
  CHECK(std::isnan(min(V(Array<double>{1.0, nan_, -5.0})).item()));
  CHECK(std::isnan(min(V(Array<double>{nan_, 1.0, -5.0}), 0).item()));
  const Array<double> m = min(V(Array<double>{{1.0, -2.0}, {nan_, 0.0}}), 0).value();
  CHECK(std::isnan(m(0)));
  CHECK(m(1) == -2.0);
  // max still does the same after sharing its code with min
  CHECK(max(V(a), 1, true).value() == column_of({3.0, 4.0}));
  CHECK(grad_of([](const V& x) { return max(x, 0); }, Array<double>{{2.0, 1.0}, {2.0, 0.0}}) ==
        Array<double>{{0.5, 1.0}, {0.5, 0.0}});
  CHECK(min(Vf(xt::xarray<float>{2.f, -3.f, 1.f})).item() == -3.f);
  CHECK(min(V(Array<double>(inf_))).item() == inf_);
}

TEST_CASE("prod: values, an empty product, float32") {
  const Array<double> a = {{2.0, -3.0, 0.5}, {1.5, 4.0, -2.0}};
  CHECK(prod(V(a)).item() == doctest::Approx(2.0 * -3.0 * 0.5 * 1.5 * 4.0 * -2.0));
  CHECK(xt::allclose(prod(V(a), 1).value(), Array<double>{-3.0, -12.0}));
  CHECK(xt::allclose(prod(V(a), 0).value(), Array<double>{3.0, -12.0, -1.0}));
  CHECK(prod(V(a), -2, true).shape() == Shape{1, 3});
  CHECK(prod(V(Array<double>::from_shape({0}))).item() == 1.0);
  CHECK(prod(V(Array<double>::from_shape({2, 0})), 1).value() == Array<double>{1.0, 1.0});
  CHECK(prod(Vf(xt::xarray<float>{{1.5f, 2.f}, {-1.f, 3.f}}), 0).value() == xt::xarray<float>{-1.5f, 6.f});
  const Array<double> b = test::random_array({2, 3, 4}, 11);
  Array<double> hand = xt::ones<double>({2, 4});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) hand(i, k) *= b(i, j, k);
  CHECK(xt::allclose(prod(V(b), 1).value(), hand));
}

TEST_CASE("prod's gradient is the product of the others, right with one zero or several") {
  CHECK(grad_of([](const V& x) { return prod(x); }, Array<double>{2.0, 0.0, 3.0}) == Array<double>{0.0, 6.0, 0.0});
  CHECK(grad_of([](const V& x) { return prod(x); }, Array<double>{0.0, 2.0, 0.0}) == Array<double>{0.0, 0.0, 0.0});
  CHECK(grad_of([](const V& x) { return prod(x); }, Array<double>{2.0, -4.0, 0.5}) == Array<double>{-2.0, 1.0, -8.0});
  const Array<double> lanes = {{2.0, 0.0, 3.0}, {0.0, 5.0, 0.0}, {1.0, 2.0, 3.0}};
  CHECK(grad_of([](const V& x) { return prod(x, 1); }, lanes) ==
        Array<double>{{0.0, 6.0, 0.0}, {0.0, 0.0, 0.0}, {6.0, 3.0, 2.0}});
  CHECK(grad_of([](const V& x) { return prod(x, 0, true); }, lanes) ==
        Array<double>{{0.0, 10.0, 0.0}, {2.0, 0.0, 9.0}, {0.0, 0.0, 0.0}});
  CHECK(grad_of([](const V& x) { return prod(x); }, Array<double>{{2.0, 0.0}, {3.0, 4.0}}) ==
        Array<double>{{0.0, 24.0}, {0.0, 0.0}});
  CHECK(grad_of([](const V& x) { return prod(x); }, Array<double>(0.0)) == Array<double>(1.0));
}

TEST_CASE("prod's second derivatives are exact with zeros, its third without") {
  // H[i][k] = product of x without i and k (i != k), 0 on the diagonal
  CHECK(hessian_of([](const V& x) { return prod(x); }, Array<double>{2.0, 0.0, 3.0}) ==
        Array<double>{{0.0, 3.0, 0.0}, {3.0, 0.0, 2.0}, {0.0, 2.0, 0.0}});
  CHECK(hessian_of([](const V& x) { return prod(x); }, Array<double>{0.0, 0.0, 3.0, 2.0}) ==
        Array<double>{{0.0, 6.0, 0.0, 0.0}, {6.0, 0.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 0.0}});
  CHECK(hessian_of([](const V& x) { return sum(prod(x, 1)); }, Array<double>{{0.0, 4.0}, {0.0, 0.0}}) ==
        Array<double>{{0.0, 1.0, 0.0, 0.0}, {1.0, 0.0, 0.0, 0.0}, {0.0, 0.0, 0.0, 1.0}, {0.0, 0.0, 1.0, 0.0}});
  // gradgradcheck at inputs with zeros (prod is multilinear: central differences are exact there)
  const Array<double> with_zeros = {{0.0, 1.5, -2.0}, {0.0, 0.0, 1.0}, {0.5, 0.0, 0.0}, {1.0, 2.0, -1.0}};
  CHECK(gradgradcheck([](const std::vector<V>& x) { return prod(x[0], 1); }, {with_zeros}).passed);
  CHECK(gradgradcheck([](const std::vector<V>& x) { return prod(x[0], 0, true); }, {with_zeros}).passed);
  CHECK(gradgradcheck([](const std::vector<V>& x) { return prod(x[0]); }, {Array<double>{2.0, 0.0, 3.0, -1.0}}).passed);
  // third order: d^3 (a b c d) / da db dc = d
  V x(Array<double>{1.5, -2.0, 0.5, 3.0}, true);
  V g1 = grad(prod(x), x, {.create_graph = true});
  V g2 = grad(sum(slice(g1, 0, 0, 1)), x, {.create_graph = true});  // d/dx (d prod / da)
  V g3 = grad(sum(slice(g2, 0, 1, 2)), x);                          // d/dx (d^2 prod / da db)
  CHECK(xt::allclose(g3.value(), Array<double>{0.0, 0.0, 3.0, 0.5}));
}

TEST_CASE("var and std: values with PyTorch's correction, over all elements and along an axis") {
  const Array<double> a = {{1.0, 2.0, 4.0}, {3.0, 3.0, 3.0}};
  CHECK(var(V(a)).item() == doctest::Approx(16.0 / 15));
  CHECK(var(V(a), {.correction = 0}).item() == doctest::Approx(8.0 / 9));
  CHECK(xt::allclose(var(V(a), 1).value(), Array<double>{7.0 / 3, 0.0}));
  CHECK(xt::allclose(var(V(a), -1, true, {.correction = 0}).value(), column_of({14.0 / 9, 0.0})));
  CHECK(xt::allclose(var(V(a), 0).value(), Array<double>{2.0, 0.5, 0.5}));
  CHECK(var(V(a), 0, true).shape() == Shape{1, 3});
  CHECK(stddev(V(a)).item() == doctest::Approx(std::sqrt(16.0 / 15)));
  CHECK(xt::allclose(stddev(V(a), 1, false, {.correction = 0}).value(),
                     Array<double>{std::sqrt(14.0 / 9), 0.0}));
  CHECK(var(V(Array<double>{1.0, 3.0}), {.correction = -1}).item() == doctest::Approx(2.0 / 3));  // NumPy's ddof = -1
  CHECK(var(Vf(xt::xarray<float>{1.f, 2.f, 4.f})).item() == doctest::Approx(7.0 / 3).epsilon(1e-6));
  // against hand loops along the middle axis of a 3-D array
  const Array<double> b = test::random_array({2, 5, 3}, 21);
  Array<double> hand = xt::zeros<double>({2, 3});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t k = 0; k < 3; ++k) {
      double m = 0, ss = 0;
      for (std::size_t j = 0; j < 5; ++j) m += b(i, j, k) / 5;
      for (std::size_t j = 0; j < 5; ++j) ss += (b(i, j, k) - m) * (b(i, j, k) - m);
      hand(i, k) = ss / 4;
    }
  CHECK(xt::allclose(var(V(b), 1).value(), hand));
  CHECK(xt::allclose(stddev(V(b), -2).value(), xt::sqrt(hand)));
}

TEST_CASE("var and std with n <= correction give inf or NaN (as NumPy and PyTorch); empty gives NaN") {
  CHECK(std::isnan(var(V(Array<double>{5.0})).item()));               // 0 / 0
  CHECK(var(V(Array<double>{1.0, 3.0}), {.correction = 2}).item() == inf_);  // 2 / 0
  CHECK(std::isnan(var(V(Array<double>{2.0, 2.0}), {.correction = 2}).item()));
  CHECK(var(V(Array<double>{5.0}), {.correction = 0}).item() == 0.0);
  CHECK(std::isnan(var(V(Array<double>::from_shape({0}))).item()));
  CHECK(std::isnan(stddev(V(Array<double>::from_shape({0}))).item()));
  const Array<double> rows = var(V(Array<double>::from_shape({3, 0})), 1).value();
  CHECK(rows.shape() == Shape{3});
  CHECK(std::isnan(rows(0)));
  CHECK(var(V(Array<double>::from_shape({3, 0})), 0).shape() == Shape{0});
  CHECK(std::isnan(stddev(V(column_of({1.0, 2.0})), 1).value()(1)));
  // the gradient of nothing is empty, not an error
  CHECK(grad_of([](const V& x) { return var(x); }, Array<double>::from_shape({0})).shape() == Shape{0});
  CHECK(grad_of([](const V& x) { return sum(stddev(x, 1)); }, Array<double>::from_shape({2, 0})).shape() ==
        Shape{2, 0});
}

TEST_CASE("var's and std's gradients; std's is 0 where std = 0 and NaN where std is NaN") {
  const Array<double> a = {{1.0, 2.0, 4.0}, {3.0, 3.0, 3.0}};
  const Array<double> dev = {{-4.0 / 3, -1.0 / 3, 5.0 / 3}, {0.0, 0.0, 0.0}};
  CHECK(xt::allclose(grad_of([](const V& x) { return var(x, 1); }, a), dev));  // 2 (x - m) / (3 - 1)
  CHECK(xt::allclose(grad_of([](const V& x) { return var(x, 1, true, {.correction = 0}); }, a), 2.0 * dev / 3.0));
  Array<double> expected = dev / (2.0 * std::sqrt(7.0 / 3));
  const Array<double> gs = grad_of([](const V& x) { return stddev(x, 1); }, a);
  CHECK(xt::allclose(gs, expected));
  CHECK(xt::all(xt::equal(xt::view(gs, 1), 0.0)));  // the constant lane: 0, not NaN
  CHECK(grad_of([](const V& x) { return stddev(x); }, Array<double>{2.0, 2.0, 2.0}) ==
        Array<double>{0.0, 0.0, 0.0});
  CHECK(xt::all(xt::isfinite(hessian_of([](const V& x) { return stddev(x); }, Array<double>{2.0, 2.0}))));
  CHECK(std::isnan(grad_of([](const V& x) { return stddev(x); }, Array<double>{2.0})(0)));
  // all elements: 2 (x - m) / (n - 1)
  CHECK(xt::allclose(grad_of([](const V& x) { return var(x); }, Array<double>{1.0, 2.0, 6.0}),
                     Array<double>{-2.0, -1.0, 3.0}));
}

TEST_CASE("norm: p = 1, 2, inf and general p, over all elements and along an axis") {
  const Array<double> a = {{3.0, -4.0}, {0.0, 0.0}};
  CHECK(norm(V(a)).item() == doctest::Approx(5.0));
  CHECK(norm(V(a), 1).item() == 7.0);
  CHECK(norm(V(a), inf_).item() == 4.0);
  CHECK(norm(V(a), 3).item() == doctest::Approx(std::cbrt(91.0)));
  CHECK(xt::allclose(norm(V(a), 2, 1).value(), Array<double>{5.0, 0.0}));
  CHECK(norm(V(a), 1, 0).value() == Array<double>{3.0, 4.0});
  CHECK(norm(V(a), inf_, -1, true).value() == column_of({4.0, 0.0}));
  CHECK(norm(V(a), 2, 0, true).shape() == Shape{1, 2});
  const Array<double> b = test::random_array({4, 5}, 31);
  CHECK(norm(V(b)).item() == doctest::Approx(std::sqrt(xt::sum(b * b)())));  // Frobenius
  CHECK(xt::allclose(norm(V(b), 1.5, 0).value(), xt::pow(xt::sum(xt::pow(xt::abs(b), 1.5), {0}), 1 / 1.5)));
  CHECK(norm(V(Array<double>::from_shape({0}))).item() == 0.0);
  CHECK(norm(V(Array<double>::from_shape({0})), 1).item() == 0.0);
  CHECK(norm(V(Array<double>::from_shape({2, 0})), 3, 1).value() == Array<double>{0.0, 0.0});
  CHECK(norm(Vf(xt::xarray<float>{3.f, 4.f})).item() == 5.f);
  CHECK(std::isnan(norm(V(Array<double>{1.0, nan_}), inf_).item()));
}

TEST_CASE("norm's gradients: x / norm, 0 at x = 0 (never NaN); sign(x) for L1; inf-norm ties share") {
  const Array<double> a = {{3.0, -4.0}, {0.0, 0.0}};
  CHECK(xt::allclose(grad_of([](const V& x) { return norm(x, 2, 1); }, a), Array<double>{{0.6, -0.8}, {0.0, 0.0}}));
  CHECK(grad_of([](const V& x) { return norm(x); }, xt::zeros<double>({2, 3})) == xt::zeros<double>({2, 3}));
  CHECK(xt::all(xt::equal(hessian_of([](const V& x) { return norm(x); }, xt::zeros<double>({3})), 0.0)));
  CHECK(grad_of([](const V& x) { return norm(x, 1); }, Array<double>{1.5, 0.0, -2.0}) == Array<double>{1.0, 0.0, -1.0});
  CHECK(grad_of([](const V& x) { return norm(x, inf_); }, Array<double>{3.0, -3.0, 1.0}) ==
        Array<double>{0.5, -0.5, 0.0});
  CHECK(grad_of([](const V& x) { return norm(x, inf_, 0); }, Array<double>{{3.0, 0.0}, {-1.0, 0.0}}) ==
        Array<double>{{1.0, 0.0}, {0.0, 0.0}});
  const double n3 = std::cbrt(91.0);
  CHECK(xt::allclose(grad_of([](const V& x) { return norm(x, 3); }, Array<double>{3.0, -4.0}),
                     Array<double>{9.0 / (n3 * n3), -16.0 / (n3 * n3)}));
  CHECK(grad_of([](const V& x) { return norm(x, 3, 1); }, a)(1, 0) == 0.0);
  CHECK(grad_of([](const V& x) { return norm(x, 1.5); }, xt::zeros<double>({2})) == xt::zeros<double>({2}));
}

TEST_CASE("cumsum and its VJP, the reverse running sum") {
  const Array<double> a = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  CHECK(cumsum(V(a), 1).value() == Array<double>{{1.0, 3.0, 6.0}, {4.0, 9.0, 15.0}});
  CHECK(cumsum(V(a), -1).value() == cumsum(V(a), 1).value());
  CHECK(cumsum(V(a), 0).value() == Array<double>{{1.0, 2.0, 3.0}, {5.0, 7.0, 9.0}});
  CHECK(cumsum_backward(V(a), 1).value() == Array<double>{{6.0, 5.0, 3.0}, {15.0, 11.0, 6.0}});
  CHECK(cumsum_backward(V(a), 0).value() == Array<double>{{5.0, 7.0, 9.0}, {4.0, 5.0, 6.0}});
  CHECK(grad_of([](const V& x) { return cumsum(x, 1); }, a) == Array<double>{{3.0, 2.0, 1.0}, {3.0, 2.0, 1.0}});
  CHECK(grad_of([](const V& x) { return cumsum_backward(x, 1); }, a) == Array<double>{{1.0, 2.0, 3.0}, {1.0, 2.0, 3.0}});
  CHECK(cumsum(V(Array<double>::from_shape({2, 0})), 1).shape() == Shape{2, 0});
  CHECK(cumsum(Vf(xt::xarray<float>{0.5f, 0.25f, 1.f}), 0).value() == xt::xarray<float>{0.5f, 0.75f, 1.75f});
  const Array<double> b = test::random_array({3, 4, 2}, 41);
  Array<double> hand = b;
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 1; j < 4; ++j)
      for (std::size_t k = 0; k < 2; ++k) hand(i, j, k) += hand(i, j - 1, k);
  CHECK(xt::allclose(cumsum(V(b), 1).value(), hand));
}

TEST_CASE("argmax and argmin: NumPy's indices, first on ties, first NaN wins") {
  const Array<double> a = {{1.0, 5.0, 5.0}, {7.0, 0.0, 7.0}};
  static_assert(std::is_same_v<decltype(argmax(V(a)))::value_type, std::int64_t>);
  CHECK(argmax(V(a)).dimension() == 0);
  CHECK(argmax(V(a))() == 3);
  CHECK(argmin(V(a))() == 4);
  CHECK(argmax(V(a), 1) == xt::xarray<std::int64_t>{1, 0});
  CHECK(argmin(V(a), 1) == xt::xarray<std::int64_t>{0, 1});
  CHECK(argmax(V(a), 0) == xt::xarray<std::int64_t>{1, 0, 1});
  CHECK(argmin(V(a), -2) == xt::xarray<std::int64_t>{0, 1, 0});
  CHECK(argmax(V(a), 1, true) == column_of<std::int64_t>({1, 0}));
  CHECK(argmin(V(a), 0, true).shape() == Shape{1, 3});
  CHECK(argmax(V(Array<double>{1.0, nan_, 3.0, nan_}))() == 1);
  CHECK(argmin(V(Array<double>{1.0, nan_, -3.0, nan_}))() == 1);
  const Array<double> with_nan = {{1.0, nan_}, {nan_, 2.0}, {3.0, 0.0}};
  CHECK(argmax(V(with_nan), 0) == xt::xarray<std::int64_t>{1, 0});
  CHECK(argmin(V(with_nan), 0) == xt::xarray<std::int64_t>{1, 0});
  CHECK(argmax(V(with_nan), 1) == xt::xarray<std::int64_t>{1, 0, 0});
  CHECK(argmax(V(Array<double>{-inf_, -inf_}))() == 0);
  CHECK(argmin(Vf(xt::xarray<float>{2.f, -1.f, -1.f}))() == 1);
  CHECK(argmax(V(Array<double>::from_shape({0, 3})), 1).shape() == Shape{0});
  const Array<double> b = test::random_array({3, 5, 2}, 51);
  xt::xarray<std::int64_t> hand = xt::zeros<std::int64_t>({3, 2});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t k = 0; k < 2; ++k)
      for (std::size_t j = 1; j < 5; ++j)
        if (b(i, j, k) > b(i, std::size_t(hand(i, k)), k)) hand(i, k) = std::int64_t(j);
  CHECK(argmax(V(b), 1) == hand);
}

TEST_CASE("sum and mean over several axes") {
  const Array<double> b = test::random_array({2, 3, 4}, 61);
  Array<double> hand = xt::zeros<double>({3});
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) hand(j) += b(i, j, k);
  CHECK(xt::allclose(sum(V(b), {0, 2}).value(), hand));
  CHECK(sum(V(b), {0, 2}).shape() == Shape{3});
  CHECK(sum(V(b), {2, 0}, true).shape() == Shape{1, 3, 1});
  CHECK(xt::allclose(sum(V(b), {0, -1}, true).value(), hand.reshape({1, 3, 1})));
  CHECK(xt::allclose(mean(V(b), {0, -1}).value(), sum(V(b), {0, 2}).value() / 8.0));
  CHECK(mean(V(b), {0, -1}, true).shape() == Shape{1, 3, 1});
  CHECK(sum(V(b), {1}).value() == sum(V(b), 1).value());  // the one-axis form
  CHECK(sum(V(b), {1}, true).shape() == Shape{2, 1, 4});
  CHECK(sum(V(b), Axes{1}).value() == sum(V(b), 1).value());
  CHECK(sum(V(b), Axes{}).value() == b);  // NumPy's axis=(): nothing reduced
  CHECK(mean(V(b), Axes{}).value() == b);
  CHECK(sum(V(b), {0, 1, 2}).item() == doctest::Approx(xt::sum(b)()));
  CHECK(sum(V(b), {0, 1, 2}).dimension() == 0);
  CHECK(sum(Vf(xt::xarray<float>{{1.f, 2.f}, {3.f, 4.f}}), {0, 1}).item() == 10.f);
  CHECK(sum(V(Array<double>::from_shape({2, 0, 3})), {0, 1}).value() == Array<double>{0.0, 0.0, 0.0});
  // the gradient: g repeated over the reduced axes
  const Array<double> seed = {1.0, 2.0, 3.0};
  V x(b, true);
  sum(x, {0, 2}).backward(seed);
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) CHECK(x.grad()(i, j, k) == seed(j));
  V y(b, true);
  mean(y, {0, 2}).backward(seed);
  CHECK(xt::allclose(y.grad(), x.grad() / 8.0));
}

TEST_CASE("max, min and logsumexp over several axes") {
  const Array<double> b = test::random_array({2, 3, 4}, 71);
  Array<double> hi = xt::zeros<double>({3}), lo = xt::zeros<double>({3}), lse = xt::zeros<double>({3});
  for (std::size_t j = 0; j < 3; ++j) {
    hi(j) = -inf_, lo(j) = inf_;
    double s = 0;
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t k = 0; k < 4; ++k) {
        hi(j) = std::max(hi(j), b(i, j, k));
        lo(j) = std::min(lo(j), b(i, j, k));
        s += std::exp(b(i, j, k));
      }
    lse(j) = std::log(s);
  }
  CHECK(max(V(b), {0, 2}).value() == hi);
  CHECK(min(V(b), {2, 0}).value() == lo);
  CHECK(xt::allclose(logsumexp(V(b), {0, -1}).value(), lse));
  CHECK(max(V(b), {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(logsumexp(V(b), {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(max(V(b), {1}).value() == max(V(b), 1).value());
  CHECK(max(V(b), Axes{}).value() == b);
  CHECK(logsumexp(V(b), Axes{}).value() == b);
  CHECK(max(V(b), {0, 1, 2}).item() == xt::amax(b)());
  // logsumexp stays finite where e^x overflows, and gives -inf over nothing
  CHECK(logsumexp(V(Array<double>{{1000.0, 1000.0}, {1000.0, 1000.0}}), {0, 1}).item() ==
        doctest::Approx(1000.0 + std::log(4.0)));
  CHECK(logsumexp(V(Array<double>::from_shape({2, 0, 3})), {0, 1}).value() == Array<double>{-inf_, -inf_, -inf_});
  // ties over several axes share evenly; a NaN wins
  const Array<double> ties = {{{1.0, 5.0}, {5.0, 0.0}}, {{5.0, 2.0}, {-1.0, 3.0}}};
  CHECK(grad_of([](const V& x) { return max(x, {0, 1}); }, ties) ==
        Array<double>{{{0.0, 1.0}, {0.5, 0.0}}, {{0.5, 0.0}, {0.0, 0.0}}});
  CHECK(grad_of([](const V& x) { return min(x, {0, 2}); }, ties) ==
        Array<double>{{{1.0, 0.0}, {0.0, 0.0}}, {{0.0, 0.0}, {1.0, 0.0}}});
  const Array<double> with_nan = {{1.0, nan_}, {2.0, 3.0}};
  CHECK(std::isnan(max(V(with_nan), {0, 1}).item()));
  CHECK(std::isnan(min(V(with_nan), {1, 0}).item()));
}

TEST_CASE("the row loops of the last axis agree with hand loops (rows long and short, a NaN late in a row)") {
  for (std::size_t n : {std::size_t(3), std::size_t(8), std::size_t(13)}) {
    const Array<double> x = test::random_array({3, n}, unsigned(80 + n));
    Array<double> s = xt::zeros<double>({3}), hi = s, lo = s, p = s, v = s, l2 = s, c = x;
    xt::xarray<std::int64_t> amax = xt::zeros<std::int64_t>({3}), amin = amax;
    for (std::size_t r = 0; r < 3; ++r) {
      hi(r) = -inf_, lo(r) = inf_, p(r) = 1;
      for (std::size_t k = 0; k < n; ++k) {
        s(r) += x(r, k);
        if (x(r, k) > hi(r)) hi(r) = x(r, k), amax(r) = std::int64_t(k);
        if (x(r, k) < lo(r)) lo(r) = x(r, k), amin(r) = std::int64_t(k);
        p(r) *= x(r, k);
        l2(r) += x(r, k) * x(r, k);
        if (k > 0) c(r, k) += c(r, k - 1);
      }
      for (std::size_t k = 0; k < n; ++k) v(r) += (x(r, k) - s(r) / double(n)) * (x(r, k) - s(r) / double(n));
      v(r) /= double(n - 1);
    }
    INFO("row length ", n);
    CHECK(xt::allclose(sum(V(x), -1).value(), s));
    CHECK(sum(V(x)).item() == doctest::Approx(xt::sum(s)()));
    CHECK(max(V(x), -1).value() == hi);
    CHECK(min(V(x), -1).value() == lo);
    CHECK(xt::allclose(prod(V(x), -1).value(), p));
    CHECK(xt::allclose(var(V(x), -1).value(), v));
    CHECK(xt::allclose(norm(V(x), 2, -1).value(), xt::sqrt(l2)));
    CHECK(xt::allclose(cumsum(V(x), -1).value(), c));
    CHECK(argmax(V(x), -1) == amax);
    CHECK(argmin(V(x), -1) == amin);
    // prod's gradient (prod_others along the last axis) against the products of the others
    const Array<double> g = grad_of([](const V& y) { return prod(y, -1); }, x);
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t k = 0; k < n; ++k) CHECK(g(r, k) == doctest::Approx(p(r) / x(r, k)));
    Array<double> with_nan = x;
    with_nan(1, n - 1) = nan_;
    const Array<double> m = max(V(with_nan), -1).value();
    CHECK(std::isnan(m(1)));
    CHECK(m(0) == hi(0));
    CHECK(std::isnan(min(V(with_nan), -1).value()(1)));
    CHECK(argmax(V(with_nan), -1)(1) == std::int64_t(n - 1));
  }
}

namespace {
// norm and its gradient at magnitudes where |x|^p alone overflows or underflows:
// the lane {3, -4} scaled by `scale` (norm 5 scale, gradient (0.6, -0.8)), and
// p = 3 and p = 1.5 on {1, 1} scaled (norm 2^(1/p) scale, gradient 2^(1/p - 1) sign).
template <class T>
void check_norm_at_scale(T scale, T rel) {
  using Var = Variable<T>;
  INFO("scale ", scale);
  Var x(Array<T>{T(3) * scale, T(-4) * scale}, true);
  const Var n = norm(x);
  CHECK(double(n.item()) == doctest::Approx(5.0 * double(scale)).epsilon(rel));
  n.backward();
  CHECK(double(x.grad()(0)) == doctest::Approx(0.6).epsilon(rel));
  CHECK(double(x.grad()(1)) == doctest::Approx(-0.8).epsilon(rel));
  Var m(Array<T>{{T(3) * scale, T(-4) * scale}, {T(0), T(0)}}, true);
  const Var na = norm(m, 2, 1);
  CHECK(double(na.value()(0)) == doctest::Approx(5.0 * double(scale)).epsilon(rel));
  CHECK(na.value()(1) == T(0));
  sum(na).backward();
  CHECK(double(m.grad()(0, 1)) == doctest::Approx(-0.8).epsilon(rel));
  CHECK(m.grad()(1, 0) == T(0));
  for (double p : {3.0, 1.5}) {
    INFO("p = ", p);
    Var y(Array<T>{scale, -scale}, true);
    const Var np = norm(y, p);
    CHECK(double(np.item()) == doctest::Approx(std::pow(2.0, 1 / p) * double(scale)).epsilon(rel));
    np.backward();
    CHECK(double(y.grad()(0)) == doctest::Approx(std::pow(2.0, 1 / p - 1)).epsilon(rel));
    CHECK(double(y.grad()(1)) == doctest::Approx(-std::pow(2.0, 1 / p - 1)).epsilon(rel));
  }
  // the second derivative of the 2-norm, (I - u u^T) / norm with u = x / norm: finite and right
  Var z(Array<T>{T(3) * scale, T(-4) * scale}, true);
  const Var gz = grad(norm(z), z, {.create_graph = true});
  const Var h0 = grad(sum(gz * Var(Array<T>{T(1), T(0)})), z);  // row 0 of the Hessian: (1 - 0.36, 0.48) / (5 scale)
  CHECK(double(h0.value()(0)) * double(scale) == doctest::Approx(0.64 / 5).epsilon(rel));
  CHECK(double(h0.value()(1)) * double(scale) == doctest::Approx(0.48 / 5).epsilon(rel));
}
}  // namespace

TEST_CASE("norm is right at any magnitude: scaled by max |x| (no overflow of |x|^p at 1e30 in float)") {
  for (float s : {1e30f, 1e-30f, 1e20f, 1e-20f, 1.f}) check_norm_at_scale<float>(s, 1e-5f);
  for (double s : {1e300, 1e-300, 1e160, 1e-160, 1.0}) check_norm_at_scale<double>(s, 1e-13);
  // infinities and NaN: inf, and NaN wins; subnormal lanes are still right
  CHECK(norm(V(Array<double>{1.0, -inf_})).item() == inf_);
  CHECK(norm(V(Array<double>{1.0, inf_}), 3).item() == inf_);
  CHECK(std::isnan(norm(V(Array<double>{inf_, nan_})).item()));
  CHECK(norm(V(Array<double>{3e-320, 4e-320})).item() == doctest::Approx(5e-320).epsilon(1e-3));
}

TEST_CASE("a braced list is always axes: sum(x, {}) reduces nothing, {1} is the axis 1, {0, 2} two axes") {
  const Array<double> b = test::random_array({2, 3, 4}, 91);
  CHECK(sum(V(b), {}).value() == b);  // NumPy's axis=() (a bare {} used to mean the axis 0)
  CHECK(mean(V(b), {}).value() == b);
  CHECK(max(V(b), {}).value() == b);
  CHECK(min(V(b), {}).value() == b);
  CHECK(logsumexp(V(b), {}).value() == b);
  CHECK(sum(V(b), {}, true).shape() == Shape{2, 3, 4});
  CHECK(sum(V(b), {1}).value() == sum(V(b), 1).value());
  CHECK(sum(V(b), 1).shape() == Shape{2, 4});  // a bare number stays the one-axis form
  CHECK(max(V(b), {-1}, true).value() == max(V(b), 2, true).value());
  CHECK(xt::allclose(sum(V(b), {0, 2}).value(), sum(sum(V(b), 2), 0).value()));
  // var and stddev over no axes: each element alone (0 / 0 with correction 1, as NumPy's axis=())
  const Array<double> v0 = var(V(b), {}).value();
  CHECK(v0.shape() == Shape{2, 3, 4});
  CHECK(xt::all(xt::isnan(v0)));
  CHECK(var(V(b), {}, false, {.correction = 0}).value() == xt::zeros<double>({2, 3, 4}));
  CHECK(stddev(V(b), {}, false, {.correction = 0}).value() == xt::zeros<double>({2, 3, 4}));
  CHECK(var(V(b), {1}).value() == var(V(b), 1).value());
}

TEST_CASE("var, stddev and norm over several axes: the Frobenius norm of each matrix of a batch") {
  const Array<double> b = test::random_array({2, 3, 4}, 93);
  // by hand, over axes 0 and 2 (8 elements per lane)
  Array<double> mean_ = xt::zeros<double>({3}), var_ = xt::zeros<double>({3});
  for (std::size_t j = 0; j < 3; ++j) {
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t k = 0; k < 4; ++k) mean_(j) += b(i, j, k) / 8;
    for (std::size_t i = 0; i < 2; ++i)
      for (std::size_t k = 0; k < 4; ++k) var_(j) += (b(i, j, k) - mean_(j)) * (b(i, j, k) - mean_(j)) / 7;
  }
  CHECK(xt::allclose(var(V(b), {0, 2}).value(), var_));
  CHECK(var(V(b), {2, 0}, true).shape() == Shape{1, 3, 1});
  Array<double> population = var_ * 7.0 / 8.0;
  population.reshape({1, 3, 1});
  CHECK(xt::allclose(var(V(b), {0, -1}, true, {.correction = 0}).value(), population));
  CHECK(xt::allclose(stddev(V(b), {0, 2}).value(), xt::sqrt(var_)));
  CHECK(xt::allclose(var(V(b), {0, 1, 2}).value(), var(V(b)).value()));
  // the Frobenius norm per matrix, and other p
  Array<double> fro = xt::zeros<double>({2}), l3 = xt::zeros<double>({2});
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) {
        fro(i) += b(i, j, k) * b(i, j, k);
        l3(i) += std::pow(std::abs(b(i, j, k)), 3.0);
      }
    fro(i) = std::sqrt(fro(i));
    l3(i) = std::cbrt(l3(i));
  }
  CHECK(xt::allclose(norm(V(b), 2, {-2, -1}).value(), fro));
  CHECK(norm(V(b), 2, {1, 2}, true).shape() == Shape{2, 1, 1});
  CHECK(xt::allclose(norm(V(b), 3, {1, 2}).value(), l3));
  CHECK(norm(V(b), inf_, {0, 1}).value() == max(abs(V(b)), {0, 1}).value());
  CHECK(norm(V(b), 2, {}).value() == xt::abs(b));
  CHECK(norm(V(Array<double>::from_shape({2, 0, 3})), 2, {0, 1}).value() == xt::zeros<double>({3}));
  // norm(x, 1) is the 1-norm of all elements (torch.norm's order: p first), not an axis
  CHECK(norm(V(b), 1).item() == doctest::Approx(xt::sum(xt::abs(b))()));
  // the gradient of the per-matrix Frobenius norm: x / norm of its matrix
  V x(b, true);
  sum(norm(x, 2, {1, 2})).backward();
  for (std::size_t i = 0; i < 2; ++i)
    for (std::size_t j = 0; j < 3; ++j)
      for (std::size_t k = 0; k < 4; ++k) CHECK(x.grad()(i, j, k) == doctest::Approx(b(i, j, k) / fro(i)));
}
