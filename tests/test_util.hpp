// Helpers shared by the tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include <autodiff/variable.hpp>
#include <xtensor/xbuilder.hpp>

namespace test {

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A fresh directory under the system's temporary directory, removed with everything in it
// afterwards; dir / "name" is a path inside it.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device device;
    path = std::filesystem::temp_directory_path() /
           ("wengert_test_" + std::to_string(device()) + "_" + std::to_string(device()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// Seeded uniform values in [lo, hi).
inline autodiff::Array<double> random_array(const autodiff::Shape& shape, unsigned seed, double lo = -2,
                                            double hi = 2) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<double> uniform(lo, hi);
  auto a = autodiff::Array<double>::from_shape(shape);
  for (auto& v : a) v = uniform(engine);
  return a;
}

// An int64 index array of `shape` from its values in C order (a braced literal with
// one element per row, {{0}, {1}}, is ambiguous to xtensor).
inline xt::xarray<std::int64_t> index_array(const autodiff::Shape& shape, const std::vector<std::int64_t>& values) {
  auto a = xt::xarray<std::int64_t>::from_shape(shape);
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

// 0, 1, 2, ... in the given shape (np.arange(n).reshape(shape)): every element tells where it came from.
inline autodiff::Array<double> iota(const autodiff::Shape& shape) {
  auto a = autodiff::Array<double>::from_shape(shape);
  for (std::size_t i = 0; i < a.size(); ++i) a.data()[i] = double(i);
  return a;
}

// A column (n, 1) of the given values (a nested braced list of one is ambiguous for xtensor).
template <class T = double>
xt::xarray<T> column_of(std::initializer_list<T> values) {
  xt::xarray<T> c = xt::xarray<T>::from_shape({values.size(), 1});
  std::copy(values.begin(), values.end(), c.begin());
  return c;
}

// d sum(seed * f(x)) / dx at x, for a seed of ones unless one is given.
template <class F>
autodiff::Array<double> grad_of(F f, const autodiff::Array<double>& x, const autodiff::Array<double>& seed) {
  autodiff::Variable<double> leaf(x, true);
  f(leaf).backward(seed);
  return leaf.grad();
}
template <class F>
autodiff::Array<double> grad_of(F f, const autodiff::Array<double>& x) {
  autodiff::Variable<double> leaf(x, true);
  autodiff::Variable<double> y = f(leaf);
  y.backward(autodiff::Array<double>(xt::ones<double>(y.shape())));
  return leaf.grad();
}

// a and b have the same shape and agree to tol everywhere, absolutely or relatively:
// xt::allclose(a, b, tol, tol) (|a - b| <= tol or <= tol max(|a|, |b|); equal infinities
// agree, NaN agrees with nothing), without <xtensor/xmath.hpp>.
inline bool close(const autodiff::Array<double>& a, const autodiff::Array<double>& b, double tol = 1e-12) {
  if (a.shape() != b.shape()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double x = a.data()[i], y = b.data()[i], d = std::abs(x - y);
    if (std::isinf(x) && std::isinf(y) ? x != y : !(d <= tol || d <= tol * std::max(std::abs(x), std::abs(y))))
      return false;
  }
  return true;
}

// |a - b| in units of the last place at b (the subnormal spacing for b near 0);
// 0 when both are the same infinity or both NaN, infinite when only one is.
template <class T>
double ulps(T a, T b) {
  using L = std::numeric_limits<T>;
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : L::infinity();
  if (std::isinf(a) || std::isinf(b)) return a == b ? 0 : L::infinity();
  const T mag = std::abs(b);
  const T unit = mag < L::min() ? L::denorm_min() : std::nextafter(mag, L::infinity()) - mag;
  return double(std::abs(a - b)) / double(unit);
}

// The message of the exception f throws, or "(no exception)".
inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

}  // namespace test
