#include "init.hpp"

#include <cmath>

namespace nn {

Engine& random_engine() {
  thread_local Engine engine(42);
  return engine;
}

void manual_seed(std::uint64_t seed) { random_engine().seed(seed); }

namespace {
template <class Distribution>
void fill_from(xt::xarray<double>& values, Distribution distribution, Engine& engine) {
  for (auto& v : values) v = distribution(engine);
}
}  // namespace

Initializer zeros() { return constant(0.0); }

Initializer constant(double value) {
  return {"constant(" + std::to_string(value) + ")",
          [value](xt::xarray<double>& values, std::size_t, std::size_t, Engine&) { values.fill(value); }};
}

Initializer normal(double mean, double stddev) {
  return {"normal", [mean, stddev](xt::xarray<double>& values, std::size_t, std::size_t, Engine& engine) {
            fill_from(values, std::normal_distribution<double>(mean, stddev), engine);
          }};
}

Initializer uniform(double low, double high) {
  return {"uniform", [low, high](xt::xarray<double>& values, std::size_t, std::size_t, Engine& engine) {
            fill_from(values, std::uniform_real_distribution<double>(low, high), engine);
          }};
}

Initializer xavier_normal() {
  return {"xavier_normal", [](xt::xarray<double>& values, std::size_t in, std::size_t out, Engine& engine) {
            fill_from(values, std::normal_distribution<double>(0.0, std::sqrt(2.0 / double(in + out))), engine);
          }};
}

Initializer xavier_uniform() {
  return {"xavier_uniform", [](xt::xarray<double>& values, std::size_t in, std::size_t out, Engine& engine) {
            const double a = std::sqrt(6.0 / double(in + out));
            fill_from(values, std::uniform_real_distribution<double>(-a, a), engine);
          }};
}

Initializer he_normal() {
  return {"he_normal", [](xt::xarray<double>& values, std::size_t in, std::size_t, Engine& engine) {
            fill_from(values, std::normal_distribution<double>(0.0, std::sqrt(2.0 / double(in))), engine);
          }};
}

Initializer he_uniform() {
  return {"he_uniform", [](xt::xarray<double>& values, std::size_t in, std::size_t, Engine& engine) {
            const double a = std::sqrt(6.0 / double(in));
            fill_from(values, std::uniform_real_distribution<double>(-a, a), engine);
          }};
}

xt::xarray<double> sample(const Initializer& init, const xt::xarray<double>::shape_type& shape, std::size_t fan_in,
                          std::size_t fan_out) {
  auto values = xt::xarray<double>::from_shape(shape);
  init.fill(values, fan_in, fan_out, random_engine());
  return values;
}

}  // namespace nn
