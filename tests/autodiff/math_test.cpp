// Forward values, conventions and errors of the ops in autodiff/math.hpp
// (their gradients are checked in gradients_test.cpp), and the numerics of the
// activations added with them (softplus, gelu, silu, mish, hardtanh).
//
// Values are compared value by value with a reference one precision up (double
// against the long double C library, float against the double one), within a
// few units in the last place, over tiny (subnormal, 1e-300, 1e-10), moderate
// and huge (1e10, 1e300) arguments of both signs, the zeros, the infinities and NaN.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

namespace {

using test::ulps;

// The precision one up: long double for double, double for float.
template <class T>
using Wide = std::conditional_t<std::is_same_v<T, double>, long double, double>;

// Arguments over the whole range: the special values, tiny and huge magnitudes
// of both signs (log-uniform), and moderate ones (uniform in [-10, 10]).
template <class T>
std::vector<T> wide_arguments() {
  using L = std::numeric_limits<T>;
  std::vector<T> x = {T(0), -T(0), L::denorm_min(), -L::denorm_min(), L::min(), -L::min(), L::max(), L::lowest(),
                      L::infinity(), -L::infinity(), L::quiet_NaN(), T(1), T(-1), T(0.5), T(-0.5), T(2), T(1e-10),
                      T(-1e-10), T(1e10), T(-1e10)};
  if constexpr (std::is_same_v<T, double>) {
    for (double v : {1e-310, 1e-300, 1e300, 1e-18, 1e18}) {
      x.push_back(v);
      x.push_back(-v);
    }
  } else {
    for (float v : {1e-40f, 1e-30f, 1e30f, 1e-18f, 1e18f}) {
      x.push_back(v);
      x.push_back(-v);
    }
  }
  std::mt19937_64 rng(7);
  const double max_exp = std::log10(double(L::max())), min_exp = std::log10(double(L::denorm_min()));
  std::uniform_real_distribution<double> exponent(min_exp, max_exp), moderate(-10, 10), unit(-1, 1);
  for (int i = 0; i < 4000; ++i) x.push_back(T(std::pow(10.0, exponent(rng)) * (i % 2 ? 1 : -1)));
  for (int i = 0; i < 4000; ++i) x.push_back(T(moderate(rng)));
  for (int i = 0; i < 2000; ++i) x.push_back(T(unit(rng)));  // asin, acos, atanh, log1p near -1
  return x;
}

struct Report {
  double worst = 0;
  std::string where;
  bool sign_of_zero = true;
};

// f applied by the op, against reference, value by value over wide_arguments().
template <class T>
Report compare_unary(const std::function<Variable<T>(const Variable<T>&)>& op,
                     const std::function<Wide<T>(Wide<T>)>& reference) {
  const std::vector<T> args = wide_arguments<T>();
  Array<T> xs = Array<T>::from_shape({args.size()});
  std::copy(args.begin(), args.end(), xs.begin());
  const Array<T> ys = op(Variable<T>(xs)).value();
  Report r;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const T expected = T(reference(Wide<T>(args[i])));
    const double u = ulps(ys(i), expected);
    if (u > r.worst) {
      r.worst = u;
      r.where = "x = " + std::to_string(double(args[i])) + " (" + std::to_string(double(ys(i))) + " vs " +
                std::to_string(double(expected)) + ")";
    }
    if (expected == T(0) && ys(i) == T(0) && std::signbit(expected) != std::signbit(ys(i))) {
      r.sign_of_zero = false;
      r.where += " sign of zero wrong at x = " + std::to_string(double(args[i]));
    }
  }
  return r;
}

template <class T>
void check_unary(const char* name, const std::function<Variable<T>(const Variable<T>&)>& op,
                 const std::function<Wide<T>(Wide<T>)>& reference, double tolerance) {
  const Report r = compare_unary<T>(op, reference);
  INFO(std::string(name), (std::is_same_v<T, double> ? " (double)" : " (float)"), ": worst ", r.worst, " ulps at ", r.where);
  CHECK(r.worst <= tolerance);
  CHECK(r.sign_of_zero);
}

template <class T>
void check_all_unary() {
  using W = Wide<T>;
  using Var = Variable<T>;
  // glibc's double functions are within 1 to 2 units (erfc a few more in the
  // tail); 1 more for the rounding of the reference to T.
  check_unary<T>("sin", [](const Var& x) { return sin(x); }, [](W v) { return std::sin(v); }, 2);
  check_unary<T>("cos", [](const Var& x) { return cos(x); }, [](W v) { return std::cos(v); }, 2);
  check_unary<T>("tan", [](const Var& x) { return tan(x); }, [](W v) { return std::tan(v); }, 2);
  check_unary<T>("asin", [](const Var& x) { return asin(x); }, [](W v) { return std::asin(v); }, 2);
  check_unary<T>("acos", [](const Var& x) { return acos(x); }, [](W v) { return std::acos(v); }, 2);
  check_unary<T>("atan", [](const Var& x) { return atan(x); }, [](W v) { return std::atan(v); }, 2);
  check_unary<T>("sinh", [](const Var& x) { return sinh(x); }, [](W v) { return std::sinh(v); }, 3);
  check_unary<T>("cosh", [](const Var& x) { return cosh(x); }, [](W v) { return std::cosh(v); }, 3);
  check_unary<T>("asinh", [](const Var& x) { return asinh(x); }, [](W v) { return std::asinh(v); }, 3);
  check_unary<T>("acosh", [](const Var& x) { return acosh(x); }, [](W v) { return std::acosh(v); }, 3);
  check_unary<T>("atanh", [](const Var& x) { return atanh(x); }, [](W v) { return std::atanh(v); }, 3);
  check_unary<T>("log1p", [](const Var& x) { return log1p(x); }, [](W v) { return std::log1p(v); }, 2);
  check_unary<T>("expm1", [](const Var& x) { return expm1(x); }, [](W v) { return std::expm1(v); }, 2);
  check_unary<T>("log2", [](const Var& x) { return log2(x); }, [](W v) { return std::log2(v); }, 2);
  check_unary<T>("log10", [](const Var& x) { return log10(x); }, [](W v) { return std::log10(v); }, 2);
  check_unary<T>("erf", [](const Var& x) { return erf(x); }, [](W v) { return std::erf(v); }, 2);
  check_unary<T>("erfc", [](const Var& x) { return erfc(x); }, [](W v) { return std::erfc(v); }, 6);
  check_unary<T>("reciprocal", [](const Var& x) { return reciprocal(x); }, [](W v) { return W(1) / v; }, 1);
  // sign: exact, and NaN stays NaN (as NumPy)
  check_unary<T>("sign", [](const Var& x) { return sign(x); },
                 [](W v) { return v > 0 ? W(1) : v < 0 ? W(-1) : v == 0 ? W(0) : v; }, 0);
}

template <class T>
void check_atan2() {
  const std::vector<T> a = wide_arguments<T>();
  std::vector<T> b = a;
  std::mt19937 rng(3);
  std::shuffle(b.begin(), b.end(), rng);
  Array<T> ys = Array<T>::from_shape({a.size()}), xs = Array<T>::from_shape({a.size()});
  std::copy(a.begin(), a.end(), ys.begin());
  std::copy(b.begin(), b.end(), xs.begin());
  const Array<T> out = atan2(Variable<T>(ys), Variable<T>(xs)).value();
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const T expected = T(std::atan2(Wide<T>(a[i]), Wide<T>(b[i])));
    worst = std::max(worst, ulps(out(i), expected));
    if (expected == T(0)) CHECK(std::signbit(out(i)) == std::signbit(expected));
  }
  CHECK(worst <= 2);
}

}  // namespace

TEST_CASE("math ops are within a few ulps of the C library one precision up, over the whole range (double)") {
  check_all_unary<double>();
}

TEST_CASE("math ops are within a few ulps of the C library one precision up, over the whole range (float)") {
  check_all_unary<float>();
}

TEST_CASE("atan2 of two arrays value by value, signed zeros and infinities included") {
  check_atan2<double>();
  check_atan2<float>();
  // the quadrants and the conventions of the signed zeros, as std::atan2 and NumPy
  const double pi = 3.14159265358979323846;
  const Array<double> y = {1.0, 1.0, -1.0, -1.0, 0.0, -0.0, 0.0, -0.0};
  const Array<double> x = {1.0, -1.0, -1.0, 1.0, -1.0, -1.0, 0.0, 0.0};
  const Array<double> out = atan2(V(y), V(x)).value();
  CHECK(out(0) == doctest::Approx(pi / 4));
  CHECK(out(1) == doctest::Approx(3 * pi / 4));
  CHECK(out(2) == doctest::Approx(-3 * pi / 4));
  CHECK(out(3) == doctest::Approx(-pi / 4));
  CHECK(out(4) == pi);
  CHECK(out(5) == -pi);
  CHECK((out(6) == 0.0 && !std::signbit(out(6))));
  CHECK((out(7) == 0.0 && std::signbit(out(7))));
}

TEST_CASE("atan2 broadcasts as NumPy, and its scalar forms agree with the array form") {
  Array<double> y = {1.0, -2.0, 0.5};
  y.reshape({3, 1});
  const Array<double> x = {3.0, -1.0, 0.25, -4.0};  // (4,)
  const Array<double> out = atan2(V(y), V(x)).value();
  REQUIRE(out.shape() == Shape{3, 4});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 4; ++j) CHECK(out(i, j) == std::atan2(y(i, 0), x(j)));
  const Array<double> row = atan2(V(x), -1.5).value(), col = atan2(-1.5, V(x)).value();
  for (std::size_t j = 0; j < 4; ++j) {
    CHECK(row(j) == std::atan2(x(j), -1.5));
    CHECK(col(j) == std::atan2(-1.5, x(j)));
  }
  // a one-element operand and an empty one
  CHECK(atan2(V(x), V(Array<double>{2.0})).value()(3) == std::atan2(-4.0, 2.0));
  CHECK(atan2(V(Array<double>::from_shape({0, 4})), V(x)).value().shape() == Shape{0, 4});
}

TEST_CASE("atan2's gradient with broadcasting, by hand, and NaN at the origin (as PyTorch)") {
  Array<double> y_column = {1.0, -2.0};
  y_column.reshape({2, 1});
  V y(y_column, true);
  V x(Array<double>{3.0, -1.0, 0.5}, true);  // (3,)
  sum(atan2(y, x)).backward();
  for (std::size_t i = 0; i < 2; ++i) {
    double dy = 0;
    for (std::size_t j = 0; j < 3; ++j) dy += x.value()(j) / (x.value()(j) * x.value()(j) + y.value()(i, 0) * y.value()(i, 0));
    CHECK(y.grad()(i, 0) == doctest::Approx(dy).epsilon(1e-14));
  }
  for (std::size_t j = 0; j < 3; ++j) {
    double dx = 0;
    for (std::size_t i = 0; i < 2; ++i) dx -= y.value()(i, 0) / (x.value()(j) * x.value()(j) + y.value()(i, 0) * y.value()(i, 0));
    CHECK(x.grad()(j) == doctest::Approx(dx).epsilon(1e-14));
  }
  V y0 = V::scalar(0.0, true), x0 = V::scalar(0.0, true);
  atan2(y0, x0).backward();
  CHECK(std::isnan(y0.grad()()));
  CHECK(std::isnan(x0.grad()()));
}

TEST_CASE("log1p, expm1 and erfc keep full relative precision where the naive forms lose it") {
  // log1p(1e-18) = 1e-18 - 5e-37: the naive log(1 + 1e-18) is 0
  CHECK(log1p(V::scalar(1e-18)).item() == double(std::log1p(static_cast<long double>(1e-18))));
  CHECK(log1p(V::scalar(1e-18)).item() == 1e-18);
  CHECK(log1p(V::scalar(-1e-300)).item() == -1e-300);
  CHECK(expm1(V::scalar(1e-18)).item() == 1e-18);
  CHECK(expm1(V::scalar(-1e-10)).item() == double(std::expm1(static_cast<long double>(-1e-10))));
  // erfc(10) = 2.088e-45, where 1 - erf(10) is 0
  CHECK(erfc(V::scalar(10.0)).item() == doctest::Approx(2.088487583762545e-45).epsilon(1e-14));
  CHECK(Variable<float>::scalar(1e-18f).item() == log1p(Variable<float>::scalar(1e-18f)).item());
  // the edges of the domains, as the C library and NumPy
  CHECK(log1p(V::scalar(-1.0)).item() == -std::numeric_limits<double>::infinity());
  CHECK(std::isnan(log1p(V::scalar(-2.0)).item()));
  CHECK(std::isnan(asin(V::scalar(1.5)).item()));
  CHECK(std::isnan(acosh(V::scalar(0.5)).item()));
  CHECK(atanh(V::scalar(1.0)).item() == std::numeric_limits<double>::infinity());
  CHECK(expm1(V::scalar(-1000.0)).item() == -1.0);
  CHECK(expm1(V::scalar(1000.0)).item() == std::numeric_limits<double>::infinity());
  CHECK(log2(V::scalar(1024.0)).item() == 10.0);
  CHECK(log10(V::scalar(1e-300)).item() == -300.0);
  CHECK(reciprocal(V::scalar(0.0)).item() == std::numeric_limits<double>::infinity());
  CHECK(reciprocal(V::scalar(-0.0)).item() == -std::numeric_limits<double>::infinity());
}

TEST_CASE("sign: -1, 0, 1, NaN for NaN; recorded, with a zero gradient (as heaviside)") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  V x(Array<double>{-2.5, -0.0, 0.0, 3.0, -inf, inf, nan}, true);
  const V s = sign(x);
  CHECK(s.requires_grad());
  const Array<double> v = s.value();
  CHECK(v(0) == -1.0);
  CHECK((v(1) == 0.0 && !std::signbit(v(1))));
  CHECK(v(2) == 0.0);
  CHECK(v(3) == 1.0);
  CHECK(v(4) == -1.0);
  CHECK(v(5) == 1.0);
  CHECK(std::isnan(v(6)));
  s.backward(Array<double>{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0});
  CHECK(x.grad() == Array<double>{0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0});
}

TEST_CASE("the math ops' gradients at points by hand (float32 too)") {
  auto grad_at = [](auto f, double at) {
    V x = V::scalar(at, true);
    f(x).backward();
    return x.grad()();
  };
  const double pi = 3.14159265358979323846;
  CHECK(grad_at([](const V& x) { return sin(x); }, 0.3) == doctest::Approx(std::cos(0.3)));
  CHECK(grad_at([](const V& x) { return cos(x); }, 0.3) == doctest::Approx(-std::sin(0.3)));
  CHECK(grad_at([](const V& x) { return tan(x); }, 0.3) == doctest::Approx(1 / (std::cos(0.3) * std::cos(0.3))));
  CHECK(grad_at([](const V& x) { return asin(x); }, 0.6) == doctest::Approx(1 / 0.8));
  CHECK(grad_at([](const V& x) { return acos(x); }, 0.6) == doctest::Approx(-1 / 0.8));
  CHECK(grad_at([](const V& x) { return atan(x); }, 2.0) == doctest::Approx(0.2));
  CHECK(grad_at([](const V& x) { return asinh(x); }, 0.75) == doctest::Approx(0.8));
  CHECK(grad_at([](const V& x) { return acosh(x); }, 1.25) == doctest::Approx(1 / 0.75));
  CHECK(grad_at([](const V& x) { return atanh(x); }, 0.5) == doctest::Approx(1 / 0.75));
  CHECK(grad_at([](const V& x) { return log1p(x); }, 1e-18) == 1.0);
  CHECK(grad_at([](const V& x) { return expm1(x); }, std::log(3.0)) == doctest::Approx(3.0));
  CHECK(grad_at([](const V& x) { return log2(x); }, 4.0) == doctest::Approx(1 / (4 * std::log(2.0))));
  CHECK(grad_at([](const V& x) { return log10(x); }, 4.0) == doctest::Approx(1 / (4 * std::log(10.0))));
  CHECK(grad_at([](const V& x) { return erf(x); }, 0.0) == doctest::Approx(2 / std::sqrt(pi)));
  CHECK(grad_at([](const V& x) { return erfc(x); }, 1.0) == doctest::Approx(-2 / std::sqrt(pi) * std::exp(-1.0)));
  CHECK(grad_at([](const V& x) { return reciprocal(x); }, -4.0) == doctest::Approx(-1.0 / 16));
  CHECK(grad_at([](const V& x) { return sinh(x); }, 1.0) == doctest::Approx(std::cosh(1.0)));
  CHECK(grad_at([](const V& x) { return cosh(x); }, 1.0) == doctest::Approx(std::sinh(1.0)));
  CHECK(grad_at([](const V& x) { return asin(x); }, 1.0) == std::numeric_limits<double>::infinity());
  // float32: the same formulas, no promotion
  Variable<float> xf(Array<float>{0.5f, -1.25f}, true);
  sum(atan2(xf, 2.0f) + erf(xf) * 2.0f + log1p(xf * xf)).backward();
  for (std::size_t i = 0; i < 2; ++i) {
    const double v = xf.value()(i);
    const double expected = 2 / (v * v + 4) + 4 / std::sqrt(pi) * std::exp(-v * v) + 2 * v / (1 + v * v);
    CHECK(xf.grad()(i) == doctest::Approx(expected).epsilon(1e-6));
  }
}

// ---- activations -------------------------------------------------------------

namespace {

// f(x) for x in [lo, hi] (n points and the listed extras) against a long double reference.
template <class T>
double worst_ulps(const std::function<Variable<T>(const Variable<T>&)>& f,
                  const std::function<long double(long double)>& reference, double lo, double hi,
                  std::string& where) {
  std::vector<T> args;
  for (int i = 0; i <= 4000; ++i) args.push_back(T(lo + (hi - lo) * i / 4000.0));
  for (T v : {T(-40), T(-30), T(-20.5), T(-10), T(-1e-3), T(1e-3), T(1e-10), T(-1e-10), T(0), T(1e-30), T(-1e-30)})
    if (v >= T(lo) && v <= T(hi)) args.push_back(v);
  Array<T> xs = Array<T>::from_shape({args.size()});
  std::copy(args.begin(), args.end(), xs.begin());
  const Array<T> ys = f(Variable<T>(xs)).value();
  double worst = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const T expected = T(reference(static_cast<long double>(args[i])));
    const double u = ulps(ys(i), expected);
    if (u > worst) {
      worst = u;
      where = "x = " + std::to_string(double(args[i]));
    }
  }
  return worst;
}

const long double sqrt2 = std::sqrt(2.0L), sqrt_2_over_pi = std::sqrt(2.0L / 3.14159265358979323846264338327950288L);

long double softplus_ref(long double x, long double beta, long double threshold) {
  return x * beta > threshold ? x : std::log1p(std::exp(beta * x)) / beta;
}
long double silu_ref(long double x) { return x / (1 + std::exp(-x)); }
long double mish_ref(long double x) { return x * std::tanh(std::log1p(std::exp(x))); }
long double gelu_ref(long double x) { return 0.5L * x * std::erfc(-x / sqrt2); }
// x sigmoid(2u) = x (1 + tanh u) / 2: the sigmoid form has no cancellation in the left tail
long double gelu_tanh_ref(long double x) {
  return x / (1 + std::exp(-2 * sqrt_2_over_pi * (x + 0.044715L * x * x * x)));
}

template <class T>
void check_activation_tails() {
  using Var = Variable<T>;
  std::string where;
  INFO(where);
  // softplus: log1p(e^x) for x <= 20, x above: within 2 units everywhere, the tails included
  CHECK(worst_ulps<T>([](const Var& x) { return softplus(x); }, [](long double x) { return softplus_ref(x, 1, 20); },
                      -60, 60, where) <= 2);
  CHECK(worst_ulps<T>([](const Var& x) { return softplus(x, 0.5, 5); },
                      [](long double x) { return softplus_ref(x, 0.5L, 5); }, -60, 60, where) <= 2);
  CHECK(worst_ulps<T>([](const Var& x) { return silu(x); }, silu_ref, -80, 80, where) <= 4);
  CHECK(worst_ulps<T>([](const Var& x) { return mish(x); }, mish_ref, -80, 80, where) <= 6);
  CHECK(worst_ulps<T>([](const Var& x) { return gelu(x); }, gelu_ref, std::is_same_v<T, float> ? -13 : -37, 10, where) <= 4);
}

}  // namespace

TEST_CASE("softplus, silu, mish and gelu keep full relative precision in the tails (long double reference)") {
  check_activation_tails<double>();
  check_activation_tails<float>();
}

TEST_CASE("softplus(-40), silu(-40), mish(-40), gelu(-10) to full relative precision") {
  const V x = V::scalar(-40.0);
  CHECK(ulps(softplus(x).item(), double(std::log1p(std::exp(-40.0L)))) <= 1);
  CHECK(softplus(x).item() == doctest::Approx(4.248354255291589e-18).epsilon(1e-15));
  CHECK(ulps(silu(x).item(), double(silu_ref(-40.0L))) <= 3);
  CHECK(ulps(mish(x).item(), double(mish_ref(-40.0L))) <= 4);
  // x Phi(x) at -10 is -7.6e-23: the erf form (PyTorch's) gives 0
  CHECK(ulps(gelu(V::scalar(-10.0)).item(), double(gelu_ref(-10.0L))) <= 4);
  CHECK(gelu(V::scalar(-10.0)).item() == doctest::Approx(-7.619853024160527e-23).epsilon(1e-14));
  // the tanh form at -10: x sigmoid(2u), where 1 + tanh u cancels to 0
  CHECK(gelu(V::scalar(-10.0), Gelu::tanh).item() == doctest::Approx(double(gelu_tanh_ref(-10.0L))).epsilon(1e-12));
  CHECK(gelu(V::scalar(-10.0), Gelu::tanh).item() < 0);
  CHECK(ulps(softplus(Variable<float>::scalar(-40.0f)).item(), float(std::log1p(std::exp(-40.0)))) <= 1);
}

TEST_CASE("gelu's tanh form equals PyTorch's formula where that one does not cancel") {
  for (double x = -3; x <= 6; x += 0.01) {
    const double k = std::sqrt(2 / 3.14159265358979323846);
    const double torch_form = 0.5 * x * (1 + std::tanh(k * (x + 0.044715 * x * x * x)));
    CHECK(gelu(V::scalar(x), Gelu::tanh).item() == doctest::Approx(torch_form).epsilon(1e-13).scale(1e-16));
    // and within 1e-3 of the exact form (the approximation's own error)
    CHECK(std::abs(gelu(V::scalar(x), Gelu::tanh).item() - gelu(V::scalar(x)).item()) < 1e-3);
  }
}

TEST_CASE("softplus follows PyTorch's threshold: x itself where beta x > threshold") {
  const Array<double> x = {-3.0, 0.0, 9.0, 10.0, 10.5, 40.0};
  const Array<double> out = softplus(V(x), 2.0, 20.0).value();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double expected = x(i) * 2 > 20 ? x(i) : std::log1p(std::exp(2 * x(i))) / 2;
    CHECK(out(i) == doctest::Approx(expected).epsilon(1e-15));
  }
  CHECK(out(3) == doctest::Approx(std::log1p(std::exp(20.0)) / 2));  // beta x = threshold: not above it
  CHECK(out(4) == 10.5);
  CHECK(out(1) == doctest::Approx(std::log(2.0) / 2));
  // a large threshold: no overflow of e^(beta x)
  CHECK(softplus(V::scalar(800.0), 1.0, 1e6).item() == 800.0);
  // negative beta (PyTorch allows it): log1p(e^(-x)) / -1
  CHECK(softplus(V::scalar(1.5), -1.0).item() == doctest::Approx(-std::log1p(std::exp(-1.5))));
  // the gradient: sigmoid(beta x) below, 1 above the threshold
  V xs(x, true);
  sum(softplus(xs, 2.0, 20.0)).backward();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double expected = x(i) * 2 > 20 ? 1.0 : 1 / (1 + std::exp(-2 * x(i)));
    CHECK(xs.grad()(i) == doctest::Approx(expected).epsilon(1e-15));
  }
}

TEST_CASE("hardtanh: the gradient passes strictly inside (min_val, max_val) only, as PyTorch") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  V x(Array<double>{-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, nan}, true);
  const V y = hardtanh(x);
  const Array<double> v = y.value();
  CHECK(v(0) == -1.0);
  CHECK(v(1) == -1.0);
  CHECK(v(2) == -0.5);
  CHECK(v(5) == 1.0);
  CHECK(v(6) == 1.0);
  CHECK(std::isnan(v(7)));
  y.backward(Array<double>{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0});
  CHECK(x.grad() == Array<double>{0.0, 0.0, 3.0, 4.0, 5.0, 0.0, 0.0, 0.0});  // 0 at the bounds -1 and 1
  // clip passes it at the bounds: the two differ exactly there
  V c(Array<double>{-1.0, 1.0}, true);
  sum(clip(c, -1.0, 1.0)).backward();
  CHECK(c.grad() == Array<double>{1.0, 1.0});
  // other bounds, and min_val == max_val (a constant)
  CHECK(hardtanh(V(Array<double>{-5.0, 0.1, 5.0}), 0.0, 6.0).value() == Array<double>{0.0, 0.1, 5.0});
  CHECK(hardtanh(V(Array<double>{-5.0, 5.0}), 2.0, 2.0).value() == Array<double>{2.0, 2.0});
  CHECK(hardtanh(Variable<float>(Array<float>{-5.0f, 0.25f}), -0.5f, 0.5f).value() == Array<float>{-0.5f, 0.25f});
}

TEST_CASE("silu, mish and gelu at points by hand: values and gradients") {
  const double pi = 3.14159265358979323846;
  const double xs[] = {-3.0, -0.7, 0.0, 0.4, 2.5};
  for (double x : xs) {
    const double s = 1 / (1 + std::exp(-x));
    const double sp = std::log1p(std::exp(x)), t = std::tanh(sp);
    const double Phi = 0.5 * std::erfc(-x / std::sqrt(2.0)), phi = std::exp(-x * x / 2) / std::sqrt(2 * pi);
    const double w = 2 * std::sqrt(2 / pi) * (x + 0.044715 * x * x * x);
    const double sw = 1 / (1 + std::exp(-w)), dw = 2 * std::sqrt(2 / pi) * (1 + 3 * 0.044715 * x * x);
    struct Case {
      const char* name;
      std::function<V(const V&)> f;
      double value, derivative;
    };
    const Case cases[] = {
        {"silu", [](const V& v) { return silu(v); }, x * s, s * (1 + x * (1 - s))},
        {"mish", [](const V& v) { return mish(v); }, x * t, t + x * s * (1 - t * t)},
        {"gelu", [](const V& v) { return gelu(v); }, x * Phi, Phi + x * phi},
        {"gelu tanh", [](const V& v) { return gelu(v, Gelu::tanh); }, x * sw, sw + x * sw * (1 - sw) * dw},
        {"softplus", [](const V& v) { return softplus(v); }, sp, s},
    };
    for (const Case& c : cases) {
      INFO(c.name, " at ", x);
      V v = V::scalar(x, true);
      const V y = c.f(v);
      CHECK(y.item() == doctest::Approx(c.value).epsilon(1e-14).scale(1e-300));
      y.backward();
      CHECK(v.grad()() == doctest::Approx(c.derivative).epsilon(1e-13));
    }
  }
}

namespace {
template <class T>
void check_no_nan_at_extremes() {
  using Var = Variable<T>;
  const std::vector<std::pair<const char*, std::function<Var(const Var&)>>> fs = {
      {"softplus", [](const Var& x) { return softplus(x); }},
      {"softplus beta 3, threshold 1e4", [](const Var& x) { return softplus(x, T(3), T(1e4)); }},
      {"gelu", [](const Var& x) { return gelu(x); }},
      {"gelu tanh", [](const Var& x) { return gelu(x, Gelu::tanh); }},
      {"silu", [](const Var& x) { return silu(x); }},
      {"mish", [](const Var& x) { return mish(x); }},
      {"hardtanh", [](const Var& x) { return hardtanh(x); }},
  };
  const T big = T(1000);
  for (const auto& [name, f] : fs) {
    INFO(name);
    Var x(Array<T>{-big, big, T(-1e4), T(1e4)}, true);
    const Var y = f(x);
    const Var g = grad(sum(y), x, {.create_graph = true});
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(std::isfinite(y.value()(i)));
      CHECK(std::isfinite(g.value()(i)));
    }
    if (g.requires_grad()) {  // (hardtanh's gradient is a constant)
      const Var gg = grad(sum(g), x);
      for (std::size_t i = 0; i < 4; ++i) CHECK(std::isfinite(gg.value()(i)));
    }
    // the limits: x (or 1 for hardtanh) on the right with slope 1 (0 for hardtanh), 0 on the left
    const bool clamps = std::string(name) == "hardtanh";
    CHECK(y.value()(1) == (clamps ? T(1) : big));
    CHECK(y.value()(0) == (clamps ? T(-1) : T(0)));
    CHECK(g.value()(1) == (clamps ? T(0) : T(1)));
    CHECK(g.value()(0) == T(0));
  }
  // the infinities give the limits, NaN stays NaN
  const T inf = std::numeric_limits<T>::infinity();
  for (const auto& [name, f] : fs) {
    INFO(name);
    const Array<T> v = f(Var(Array<T>{-inf, inf, std::numeric_limits<T>::quiet_NaN()})).value();
    const bool clamps = std::string(name) == "hardtanh";
    CHECK(v(0) == (clamps ? T(-1) : T(0)));
    CHECK(v(1) == (clamps ? T(1) : inf));
    CHECK(std::isnan(v(2)));
  }
}
}  // namespace

TEST_CASE("softplus, gelu, silu, mish, hardtanh: no NaN at x = +-1000 (values, first and second derivatives)") {
  check_no_nan_at_extremes<double>();
  check_no_nan_at_extremes<float>();
}

TEST_CASE("math ops and the new activations keep the shape: empty arrays and 0-d scalars") {
  const std::vector<std::function<V(const V&)>> fs = {
      [](const V& x) { return sin(x); },         [](const V& x) { return atan2(x, x); },
      [](const V& x) { return log1p(x); },       [](const V& x) { return erfc(x); },
      [](const V& x) { return sign(x); },        [](const V& x) { return reciprocal(x); },
      [](const V& x) { return softplus(x, 2.0); }, [](const V& x) { return gelu(x); },
      [](const V& x) { return gelu(x, Gelu::tanh); }, [](const V& x) { return silu(x); },
      [](const V& x) { return mish(x); },        [](const V& x) { return hardtanh(x); },
  };
  for (const auto& f : fs) {
    V empty(Array<double>::from_shape({0, 3}), true);
    const V y = f(empty);
    CHECK(y.shape() == Shape{0, 3});
    sum(y).backward();
    CHECK(empty.grad().shape() == Shape{0, 3});
    V s = V::scalar(0.25, true);
    const V z = f(s);
    CHECK(z.dimension() == 0);
    z.backward();
    CHECK(std::isfinite(s.grad()()));
  }
}

namespace {
// gelu (both forms), silu and mish at large finite and infinite x: the gradient
// is the limit, 1 on the right and 0 on the left, exactly (the true values
// differ from it by less than e^-1000), and the second derivative 0, never NaN.
template <class T>
void check_activation_limits(const std::vector<T>& magnitudes) {
  using Var = Variable<T>;
  const std::vector<std::pair<const char*, std::function<Var(const Var&)>>> fs = {
      {"gelu", [](const Var& x) { return gelu(x); }},
      {"gelu tanh", [](const Var& x) { return gelu(x, Gelu::tanh); }},
      {"silu", [](const Var& x) { return silu(x); }},
      {"mish", [](const Var& x) { return mish(x); }},
  };
  Array<T> values = Array<T>::from_shape({2 * magnitudes.size() + 2});
  for (std::size_t i = 0; i < magnitudes.size(); ++i) {
    values(2 * i) = magnitudes[i];
    values(2 * i + 1) = -magnitudes[i];
  }
  values(2 * magnitudes.size()) = T(0.5);  // and a point inside, where the formula is used
  values(2 * magnitudes.size() + 1) = T(-1.5);
  for (const auto& [name, f] : fs) {
    INFO(name);
    Var x(values, true);
    const Var g = grad(sum(f(x)), x, {.create_graph = true});
    const Var gg = grad(sum(g), x);
    for (std::size_t i = 0; i < magnitudes.size(); ++i) {
      INFO("x = +-", magnitudes[i]);
      CHECK(g.value()(2 * i) == T(1));
      CHECK(g.value()(2 * i + 1) == T(0));
      CHECK(gg.value()(2 * i) == T(0));
      CHECK(gg.value()(2 * i + 1) == T(0));
    }
    // inside: the same as on its own (the limits change nothing there)
    Var inner(Array<T>{T(0.5), T(-1.5)}, true);
    const Var gi = grad(sum(f(inner)), inner, {.create_graph = true});
    const Var ggi = grad(sum(gi), inner);
    // (to rounding: the vectorised exponentials of a long array and of a short one may differ in the last place)
    const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
    CHECK(double(g.value()(2 * magnitudes.size())) == doctest::Approx(double(gi.value()(0))).epsilon(tol));
    CHECK(double(g.value()(2 * magnitudes.size() + 1)) == doctest::Approx(double(gi.value()(1))).epsilon(tol));
    CHECK(double(gg.value()(2 * magnitudes.size())) == doctest::Approx(double(ggi.value()(0))).epsilon(tol));
    CHECK(double(gg.value()(2 * magnitudes.size() + 1)) == doctest::Approx(double(ggi.value()(1))).epsilon(tol));
  }
}
}  // namespace

TEST_CASE("gelu, silu and mish: gradients 1 and 0 at large and infinite x, first and second order (no inf * 0)") {
  const double inf = std::numeric_limits<double>::infinity();
  check_activation_limits<double>({1e4, 1e15, 1e200, std::numeric_limits<double>::max(), inf});
  check_activation_limits<float>({1e4f, 1e15f, 3e38f, std::numeric_limits<float>::infinity()});
}

namespace {
// The relative error of a computed derivative against a long double reference.
double rel_error(long double computed, long double reference) {
  return double(std::abs((computed - reference) / reference));
}
// d f / dx at x, by the tape.
template <class T>
T derivative(const std::function<Variable<T>(const Variable<T>&)>& f, T x) {
  Variable<T> v = Variable<T>::scalar(x, true);
  return grad(f(v), v).value()();
}
}  // namespace

TEST_CASE("asin, acos, atanh, acosh: gradients to full precision near |x| = 1 ((1 - x)(1 + x), not 1 - x^2)") {
  using F = std::function<V(const V&)>;
  const F fasin = [](const V& x) { return asin(x); }, facos = [](const V& x) { return acos(x); };
  const F fatanh = [](const V& x) { return atanh(x); }, facosh = [](const V& x) { return acosh(x); };
  for (int k : {3, 7, 11, 101, 12345}) {
    for (int e : {20, 30, 40, 50}) {
      const double h = k * std::ldexp(1.0, -e);  // exact, and 1 - h too
      INFO("h = ", h);
      for (double x : {1 - h, -(1 - h)}) {
        const long double lx = x, q = (1.0L - lx) * (1.0L + lx);
        CHECK(rel_error(derivative(fasin, x), 1 / std::sqrt(q)) < 6e-16);
        CHECK(rel_error(derivative(facos, x), -1 / std::sqrt(q)) < 6e-16);
        CHECK(rel_error(derivative(fatanh, x), 1 / q) < 6e-16);
      }
      const long double ly = 1 + h;
      CHECK(rel_error(derivative(facosh, 1 + h), 1 / std::sqrt((ly - 1) * (ly + 1))) < 6e-16);
    }
  }
  // float, against double
  using Ff = std::function<Variable<float>(const Variable<float>&)>;
  const Ff gasin = [](const Variable<float>& x) { return asin(x); };
  const Ff gatanh = [](const Variable<float>& x) { return atanh(x); };
  const Ff gacosh = [](const Variable<float>& x) { return acosh(x); };
  for (int k : {3, 7, 11, 101}) {
    const float h = float(k) * std::ldexp(1.f, -16);
    const double x = 1.0 - double(h), y = 1.0 + double(h);
    CHECK(rel_error(derivative(gasin, float(x)), 1 / std::sqrt((1 - x) * (1 + x))) < 3e-7);
    CHECK(rel_error(derivative(gatanh, float(x)), 1 / ((1 - x) * (1 + x))) < 3e-7);
    CHECK(rel_error(derivative(gacosh, float(y)), 1 / std::sqrt((y - 1) * (y + 1))) < 3e-7);
  }
}

TEST_CASE("asinh, acosh and atan2: gradients right where x^2 overflows or underflows (1e200, 1e-200)") {
  for (double x : {1e200, -1e200, 1e160, 1e300, std::numeric_limits<double>::max()}) {
    INFO("x = ", x);
    CHECK(rel_error(derivative<double>([](const V& v) { return asinh(v); }, x), 1 / std::abs(x)) < 6e-16);
    if (x > 0)
      CHECK(rel_error(derivative<double>([](const V& v) { return acosh(v); }, x), 1 / x) < 6e-16);
  }
  // asinh below the switch: still 1 / sqrt(1 + x^2)
  for (double x : {0.0, 1e-200, 3.0, -1e7, 1e9}) {
    const long double lx = x;
    CHECK(rel_error(derivative<double>([](const V& v) { return asinh(v); }, x), 1 / std::sqrt(1 + lx * lx)) < 6e-16);
  }
  CHECK(rel_error(derivative<float>([](const Variable<float>& v) { return asinh(v); }, 1e30f), 1e-30L) < 3e-7);
  // second order: finite, and right where it is representable
  {
    V x = V::scalar(1e100, true);
    const V g = grad(asinh(x), x, {.create_graph = true});
    CHECK(rel_error(grad(g, x).item(), -1e-200L) < 1e-15);  // -x / (1 + x^2)^(3/2)
    V y = V::scalar(1e200, true);
    CHECK(std::isfinite(grad(grad(asinh(y), y, {.create_graph = true}), y).item()));
  }
  // atan2: dy = x / (x^2 + y^2), dx = -y / (x^2 + y^2), at huge and tiny points
  for (double s : {1e200, 1e-200, 1e300, 1e-300, 1.0}) {
    INFO("scale ", s);
    V y(Array<double>{3 * s, -s}, true), x(Array<double>{4 * s, 2 * s}, true);
    sum(atan2(y, x)).backward();
    CHECK(rel_error(y.grad()(0), 4 / (25 * (long double)s)) < 6e-16);
    CHECK(rel_error(x.grad()(0), -3 / (25 * (long double)s)) < 6e-16);
    CHECK(rel_error(y.grad()(1), 2 / (5 * (long double)s)) < 6e-16);
    CHECK(rel_error(x.grad()(1), 1 / (5 * (long double)s)) < 6e-16);
    // broadcast partners and the scalar forms agree
    V yb(Array<double>{3 * s, -s}, true), xb = V::scalar(4 * s, true);
    sum(atan2(yb, xb)).backward();
    CHECK(rel_error(yb.grad()(0), 4 / (25 * (long double)s)) < 6e-16);
    CHECK(rel_error(xb.grad()(), (-3 / (25 * (long double)s)) + 1 / (17 * (long double)s)) < 2e-15);
    V ys(Array<double>{3 * s}, true), xs(Array<double>{4 * s}, true);
    atan2(ys, 4 * s).backward(Array<double>{1.0});
    atan2(3 * s, xs).backward(Array<double>{1.0});
    CHECK(rel_error(ys.grad()(0), 4 / (25 * (long double)s)) < 6e-16);
    CHECK(rel_error(xs.grad()(0), -3 / (25 * (long double)s)) < 6e-16);
    // second order: d^2/dy^2 = -2 x y / (x^2 + y^2)^2 = -24 / (625 s^2), where representable
    V y2 = V::scalar(3 * s, true), x2 = V::scalar(4 * s, true);
    const V gy = grad(atan2(y2, x2), y2, {.create_graph = true});
    const double second = grad(gy, y2).item();
    const long double ref = -24 / (625 * (long double)s * (long double)s);
    if (std::abs(ref) < 1e300L && std::abs(ref) > 1e-300L) CHECK(rel_error(second, ref) < 1e-15);
    CHECK(!std::isnan(second));
  }
  // float
  Variable<float> yf(Array<float>{3e30f}, true), xf(Array<float>{4e30f}, true);
  sum(atan2(yf, xf)).backward();
  CHECK(rel_error(yf.grad()(0), 4 / 25e30L) < 3e-7);
  Variable<float> yt(Array<float>{3e-30f}, true), xt_(Array<float>{4e-30f}, true);
  sum(atan2(yt, xt_)).backward();
  CHECK(rel_error(xt_.grad()(0), -3 / 25e-30L) < 3e-7);
  // the origin stays NaN, as PyTorch's
  V yo = V::scalar(0.0, true), xo = V::scalar(0.0, true);
  atan2(yo, xo).backward();
  CHECK(std::isnan(yo.grad()()));
}
