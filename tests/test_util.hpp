// Helpers shared by the tests.
#pragma once

#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <system_error>

#include <autodiff/variable.hpp>

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
