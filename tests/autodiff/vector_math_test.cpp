// The vectorised e^x and sigmoid kernels against the C library, value by value:
// within a few units in the last place over the whole range, exact at the edges.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <autodiff/detail/vector_math.hpp>

#include "test_util.hpp"

using autodiff::detail::exp_of;
using autodiff::detail::sigmoid_of;

namespace {

using test::ulps;

// Arguments across the whole range of e^x, small ones, and every length of a
// SIMD tail (the buffer's length is not a multiple of the register width).
template <class T>
std::vector<T> arguments(T lo, T hi) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> wide{double(lo), double(hi)}, exponent{-40, 0};
  std::vector<T> x;
  for (int i = 0; i < 200001; ++i) x.push_back(T(wide(rng)));
  for (int i = 0; i < 20000; ++i) x.push_back(T(std::pow(10.0, exponent(rng)) * (i % 2 ? 1 : -1)));
  return x;
}

template <class T>
void check_exp() {
  const T big = std::is_same_v<T, double> ? T(709) : T(88);
  std::vector<T> x = arguments<T>(-big - 40, big);
  std::vector<T> y(x.size());
  exp_of(x.data(), y.data(), x.size());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const T expected = std::exp(x[i]);
    if (expected >= std::numeric_limits<T>::min()) worst = std::max(worst, ulps(y[i], expected));
    else REQUIRE(std::abs(y[i] - expected) <= 2 * std::numeric_limits<T>::denorm_min());  // subnormal results
  }
  CHECK(worst <= 2.0);
}

template <class T>
void check_edges() {
  using L = std::numeric_limits<T>;
  const std::vector<T> x = {L::quiet_NaN(), L::infinity(), -L::infinity(), T(0), -T(0), T(1), L::max(), L::lowest(),
                            T(1000), T(-1000), L::min(), L::denorm_min()};
  std::vector<T> y(x.size()), s(x.size());
  exp_of(x.data(), y.data(), x.size());
  sigmoid_of(x.data(), s.data(), x.size());
  CHECK(std::isnan(y[0]));
  CHECK(std::isnan(s[0]));
  CHECK(y[1] == L::infinity());
  CHECK(y[2] == T(0));
  CHECK(y[3] == T(1));
  CHECK(y[4] == T(1));
  CHECK(y[5] == doctest::Approx(std::exp(T(1))).epsilon(4 * L::epsilon()));
  CHECK(y[6] == L::infinity());
  CHECK(y[7] == T(0));
  CHECK(y[8] == L::infinity());
  CHECK(y[9] == T(0));
  CHECK(y[10] == T(1));
  CHECK(y[11] == T(1));
  CHECK(s[1] == T(1));
  CHECK(s[2] == T(0));
  CHECK(s[3] == T(0.5));
  CHECK(s[6] == T(1));
  CHECK(s[7] == T(0));
  CHECK(s[8] == T(1));
  CHECK(s[9] == T(0));
}

template <class T>
void check_sigmoid() {
  std::vector<T> x = arguments<T>(T(-80), T(80));
  std::vector<T> y(x.size());
  sigmoid_of(x.data(), y.data(), x.size());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const T expected = T(1.0L / (1.0L + std::exp(-static_cast<long double>(x[i]))));  // in extended precision
    worst = std::max(worst, ulps(y[i], expected));
  }
  // e^-x's 2 units, then the roundings of 1 + e and of the division (ulps of
  // the result: one more where 1 + e and the result sit in different binades)
  CHECK(worst <= 4.0);
}

}  // namespace

TEST_CASE("exp_of is within 2 units in the last place of std::exp, subnormal results included") {
  check_exp<double>();
  check_exp<float>();
}

TEST_CASE("exp_of and sigmoid_of: NaN stays NaN, the infinities and overflow come out exact") {
  check_edges<double>();
  check_edges<float>();
}

TEST_CASE("sigmoid_of is within 4 units in the last place of 1 / (1 + e^-x)") {
  check_sigmoid<double>();
  check_sigmoid<float>();
}

TEST_CASE("exp_of and sigmoid_of may write over their input, at every tail length") {
  for (std::size_t n = 1; n <= 19; ++n) {
    std::vector<double> x(n), expected(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = 0.37 * double(i) - 3.0;
    for (std::size_t i = 0; i < n; ++i) expected[i] = 1.0 / (1.0 + std::exp(-x[i]));
    sigmoid_of(x.data(), x.data(), n);
    for (std::size_t i = 0; i < n; ++i) CHECK(x[i] == doctest::Approx(expected[i]).epsilon(1e-15));
  }
}
