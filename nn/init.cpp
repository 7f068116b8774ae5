#include "init.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include <autodiff/variable.hpp>

#include "check.hpp"
#include "state.hpp"

namespace nn {

namespace {
struct SeededEngine {
  Engine engine{autodiff::initial_seed()};
  std::uint64_t seeded_at = autodiff::detail::seed_generation();
};
SeededEngine& seeded_engine() {
  thread_local SeededEngine slot;
  if (slot.seeded_at != autodiff::detail::seed_generation()) {  // manual_seed was called since
    slot.engine.seed(autodiff::initial_seed());
    slot.seeded_at = autodiff::detail::seed_generation();
  }
  return slot;
}
}  // namespace

Engine& random_engine() { return seeded_engine().engine; }

std::vector<std::uint64_t> engine_state(const Engine& engine) {
  std::stringstream text;
  text << engine;
  std::vector<std::uint64_t> words;
  std::uint64_t word;
  while (text >> word) words.push_back(word);
  return words;
}

void set_engine_state(Engine& engine, const std::vector<std::uint64_t>& words, const std::string& call) {
  static const std::size_t expected = engine_state(Engine()).size();
  if (words.size() != expected)
    throw StateError(call + ": a generator state of " + std::to_string(words.size()) + " words where " +
                     std::to_string(expected) + " are expected");
  std::stringstream text;
  for (std::uint64_t word : words) text << word << ' ';
  Engine restored;
  if (!(text >> restored)) throw StateError(call + ": the generator state's words are not a valid state");
  engine = restored;
}

RngState get_rng_state() { return {autodiff::get_rng_state(), engine_state(random_engine())}; }

void set_rng_state(const RngState& state) {
  SeededEngine& slot = seeded_engine();
  set_engine_state(slot.engine, state.engine, "set_rng_state");
  autodiff::set_rng_state(state.autodiff);
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
