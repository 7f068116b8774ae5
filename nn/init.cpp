#include "init.hpp"

#include <cmath>
#include <stdexcept>

#include <autodiff/variable.hpp>

#include "check.hpp"

namespace nn {

Engine& random_engine() {
  thread_local Engine engine(autodiff::initial_seed());
  thread_local std::uint64_t seeded_at = autodiff::detail::seed_generation();
  if (seeded_at != autodiff::detail::seed_generation()) {  // manual_seed was called since
    engine.seed(autodiff::initial_seed());
    seeded_at = autodiff::detail::seed_generation();
  }
  return engine;
}

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
  detail::require(std::isfinite(mean), "normal", "mean", mean, "must be a finite number");
  detail::require_at_least("normal", "stddev", stddev, 0);
  return {"normal", [mean, stddev](xt::xarray<double>& values, std::size_t, std::size_t, Engine& engine) {
            if (stddev == 0) values.fill(mean);  // std::normal_distribution needs stddev > 0
            else fill_from(values, std::normal_distribution<double>(mean, stddev), engine);
          }};
}

Initializer uniform(double low, double high) {
  detail::require(std::isfinite(low), "uniform", "low", low, "must be a finite number");
  detail::require(std::isfinite(high), "uniform", "high", high, "must be a finite number");
  if (!(low <= high))
    throw std::invalid_argument("uniform: low " + detail::number(low) + " is above high " + detail::number(high));
  if (!std::isfinite(high - low))
    throw std::invalid_argument("uniform: the range [" + detail::number(low) + ", " + detail::number(high) +
                                "] is wider than the largest double");
  return {"uniform", [low, high](xt::xarray<double>& values, std::size_t, std::size_t, Engine& engine) {
            fill_from(values, std::uniform_real_distribution<double>(low, high), engine);
          }};
}

namespace {
// Xavier needs fan_in + fan_out > 0 and He fan_in > 0 to draw anything (else a variance of 1 / 0).
void require_fan(const char* init, std::size_t fan, const char* what, const xt::xarray<double>& values) {
  if (fan == 0 && values.size() > 0)
    throw std::invalid_argument(std::string(init) + ": " + what + " is 0, so the variance is undefined (" +
                                std::to_string(values.size()) + " values to draw)");
}
}  // namespace

Initializer xavier_normal() {
  return {"xavier_normal", [](xt::xarray<double>& values, std::size_t in, std::size_t out, Engine& engine) {
            require_fan("xavier_normal", in + out, "fan_in + fan_out", values);
            fill_from(values, std::normal_distribution<double>(0.0, std::sqrt(2.0 / double(in + out))), engine);
          }};
}

Initializer xavier_uniform() {
  return {"xavier_uniform", [](xt::xarray<double>& values, std::size_t in, std::size_t out, Engine& engine) {
            require_fan("xavier_uniform", in + out, "fan_in + fan_out", values);
            const double a = std::sqrt(6.0 / double(in + out));
            fill_from(values, std::uniform_real_distribution<double>(-a, a), engine);
          }};
}

Initializer he_normal() {
  return {"he_normal", [](xt::xarray<double>& values, std::size_t in, std::size_t, Engine& engine) {
            require_fan("he_normal", in, "fan_in", values);
            fill_from(values, std::normal_distribution<double>(0.0, std::sqrt(2.0 / double(in))), engine);
          }};
}

Initializer he_uniform() {
  return {"he_uniform", [](xt::xarray<double>& values, std::size_t in, std::size_t, Engine& engine) {
            require_fan("he_uniform", in, "fan_in", values);
            const double a = std::sqrt(6.0 / double(in));
            fill_from(values, std::uniform_real_distribution<double>(-a, a), engine);
          }};
}

xt::xarray<double> sample(const Initializer& init, const xt::xarray<double>::shape_type& shape, std::size_t fan_in,
                          std::size_t fan_out) {
  if (!init.fill) throw std::invalid_argument("sample: initializer '" + init.name + "' has no fill function");
  std::size_t count = 0;
  if (!detail::checked_product(autodiff::Shape(shape.begin(), shape.end()), count))
    throw std::invalid_argument("sample: shape " + autodiff::to_string(autodiff::Shape(shape.begin(), shape.end())) +
                                " has more than 2^64 elements");
  auto values = xt::xarray<double>::from_shape(shape);
  init.fill(values, fan_in, fan_out, random_engine());
  return values;
}

}  // namespace nn
