// Initialisers: sample moments of a large draw against the specified
// distributions, and repeatability through manual_seed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <nn/init.hpp>
#include <nn/module.hpp>
#include <xtensor/xbuilder.hpp>

using namespace nn;
using Plain = xt::xarray<double>;  // std::allocator, not autodiff::Array's pool

namespace {
// 200 x 300 = 60000 draws; fan_in != fan_out so that Glorot and He differ and a
// swapped fan_in/fan_out would show.
constexpr std::size_t kFanIn = 200, kFanOut = 300;
constexpr double kCount = double(kFanIn * kFanOut);

struct Moments {
  double mean, variance;  // variance with divisor n - 1
  double min, max;
};

Moments moments_of(const Plain& values) {
  const double n = double(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / n;
  double squares = 0, lo = values(0), hi = values(0);
  for (double v : values) {
    squares += (v - mean) * (v - mean);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return {mean, squares / (n - 1), lo, hi};
}

// Checks the sample mean and variance of n draws against a distribution with
// the given mean, variance and fourth central moment, within 5 standard errors:
// SE(mean) = sigma / sqrt(n), SE(variance) = sqrt((mu4 - sigma^4) / n).
void check_moments(const Plain& values, double mean, double variance, double fourth_moment) {
  REQUIRE(values.size() == kFanIn * kFanOut);
  const Moments m = moments_of(values);
  const double se_mean = std::sqrt(variance / kCount);
  const double se_variance = std::sqrt((fourth_moment - variance * variance) / kCount);
  CAPTURE(m.mean);
  CAPTURE(m.variance);
  CHECK(std::abs(m.mean - mean) < 5 * se_mean);
  CHECK(std::abs(m.variance - variance) < 5 * se_variance);
}

// Normal(mean, sigma^2): mu4 = 3 sigma^4.
void check_normal(const Plain& values, double mean, double variance) {
  check_moments(values, mean, variance, 3 * variance * variance);
}

// Uniform(lo, hi): variance (hi - lo)^2 / 12, mu4 = (hi - lo)^4 / 80; every value in [lo, hi]
// and the extremes reached (for 60000 draws, missing the last 0.1% of the range at
// either end has probability about e^-30).
void check_uniform(const Plain& values, double lo, double hi) {
  const double width = hi - lo;
  check_moments(values, (lo + hi) / 2, width * width / 12, std::pow(width, 4) / 80);
  const Moments m = moments_of(values);
  CHECK(m.min >= lo);
  CHECK(m.max <= hi);
  CHECK(m.min < lo + 1e-3 * width);
  CHECK(m.max > hi - 1e-3 * width);
}

Plain draw(const Initializer& init) { return sample(init, {kFanIn, kFanOut}, kFanIn, kFanOut); }
}  // namespace

TEST_CASE("zeros and constant fill every entry with the value") {
  manual_seed(1);
  const Plain z = draw(zeros());
  CHECK(z.shape() == Plain::shape_type{kFanIn, kFanOut});
  CHECK(std::all_of(z.begin(), z.end(), [](double v) { return v == 0.0; }));
  const Plain c = draw(constant(0.01));
  CHECK(std::all_of(c.begin(), c.end(), [](double v) { return v == 0.01; }));
  const Plain negative = sample(constant(-2.5), {4}, 1, 1);
  CHECK(negative == Plain{-2.5, -2.5, -2.5, -2.5});
}

TEST_CASE("normal(mean, std) has the requested sample mean and variance") {
  manual_seed(2);
  check_normal(draw(normal()), 0.0, 1.0);
  check_normal(draw(normal(3.0, 0.5)), 3.0, 0.25);
  check_normal(draw(normal(-1.0, 2.0)), -1.0, 4.0);
}

TEST_CASE("uniform(lo, hi) covers [lo, hi] with mean (lo + hi) / 2 and variance (hi - lo)^2 / 12") {
  manual_seed(3);
  check_uniform(draw(uniform()), -1.0, 1.0);
  check_uniform(draw(uniform(2.0, 5.0)), 2.0, 5.0);
}

TEST_CASE("xavier_normal has variance 2 / (fan_in + fan_out)") {
  manual_seed(4);
  check_normal(draw(xavier_normal()), 0.0, 2.0 / double(kFanIn + kFanOut));
}

TEST_CASE("xavier_uniform is U(-a, a) with a = sqrt(6 / (fan_in + fan_out))") {
  manual_seed(5);
  const double a = std::sqrt(6.0 / double(kFanIn + kFanOut));
  const Plain values = draw(xavier_uniform());
  check_uniform(values, -a, a);
  // The same variance as xavier_normal: a^2 / 3 = 2 / (fan_in + fan_out).
  CHECK(a * a / 3 == doctest::Approx(2.0 / 500));
}

TEST_CASE("he_normal has variance 2 / fan_in") {
  manual_seed(6);
  check_normal(draw(he_normal()), 0.0, 2.0 / double(kFanIn));
}

TEST_CASE("he_uniform is U(-a, a) with a = sqrt(6 / fan_in)") {
  manual_seed(7);
  check_uniform(draw(he_uniform()), -std::sqrt(6.0 / double(kFanIn)), std::sqrt(6.0 / double(kFanIn)));
}

TEST_CASE("Linear draws its (in, out) weight with fan_in = in and fan_out = out, its bias from bias_init") {
  manual_seed(8);
  Linear<double> he(kFanIn, kFanOut, he_normal(), constant(0.01));
  CHECK(he.weight().shape() == Plain::shape_type{kFanIn, kFanOut});
  check_normal(he.weight().value(), 0.0, 2.0 / double(kFanIn));
  CHECK(he.bias().value() == xt::xarray<double>(xt::ones<double>({kFanOut}) * 0.01));

  Linear<double> glorot(kFanIn, kFanOut);  // default: xavier_uniform weights, zero bias
  const double a = std::sqrt(6.0 / double(kFanIn + kFanOut));
  check_uniform(glorot.weight().value(), -a, a);
  for (double b : glorot.bias().value()) CHECK(b == 0.0);
}

TEST_CASE("manual_seed makes draws repeatable: same seed, same values; another seed, other values") {
  manual_seed(123);
  const Plain first = sample(normal(), {50, 40}, 50, 40);
  const Plain first_uniform = sample(he_uniform(), {50, 40}, 50, 40);
  manual_seed(123);
  const Plain again = sample(normal(), {50, 40}, 50, 40);
  const Plain again_uniform = sample(he_uniform(), {50, 40}, 50, 40);
  CHECK(first == again);
  CHECK(first_uniform == again_uniform);
  CHECK(first != first_uniform);  // the engine advances between draws

  manual_seed(124);
  const Plain other = sample(normal(), {50, 40}, 50, 40);
  std::size_t equal = 0;
  for (std::size_t i = 0; i < other.size(); ++i) equal += other.data()[i] == first.data()[i];
  CHECK(equal == 0);

  // Whole models too.
  manual_seed(9);
  Linear<double> a(6, 4);
  manual_seed(9);
  Linear<double> b(6, 4);
  manual_seed(10);
  Linear<double> c(6, 4);
  CHECK(a.weight().value() == b.weight().value());
  CHECK(a.weight().value() != c.weight().value());
}

TEST_CASE("nn::manual_seed is autodiff::manual_seed: one seed for nn's engine and for rand/randn") {
  autodiff::manual_seed(77);
  const auto first = random_engine()();
  const auto draw = autodiff::randn<double>({3}).value();
  nn::manual_seed(77);
  CHECK(random_engine()() == first);
  CHECK(autodiff::randn<double>({3}).value() == draw);
  CHECK(random_engine()() == [] { Engine fresh(77); fresh(); return fresh(); }());
}
