// Helpers shared by the tests.
#pragma once

#include <random>

#include <autodiff/variable.hpp>

namespace test {

// Seeded uniform values in [lo, hi).
inline autodiff::Array<double> random_array(const autodiff::Shape& shape, unsigned seed, double lo = -2,
                                            double hi = 2) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<double> uniform(lo, hi);
  auto a = autodiff::Array<double>::from_shape(shape);
  for (auto& v : a) v = uniform(engine);
  return a;
}

}  // namespace test
