// Weight initialisers, all drawing from one seeded random engine, so that
// nn::manual_seed(s) makes a run repeatable.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include <autodiff/factory.hpp>

namespace nn {

using Engine = std::mt19937_64;

// The engine every initialiser, split and shuffle draws from (per thread). It is
// seeded from autodiff's seed: nn::manual_seed(s) is autodiff::manual_seed(s),
// one seed for rand, randn and all of nn, as torch.manual_seed.
Engine& random_engine();
using autodiff::manual_seed;

// ---- generator state (torch.get_rng_state / set_rng_state) ----
// A generator's state as numbers (the standard library's text form of the engine,
// read as words), and back; words not from engine_state() are a StateError naming `call`.
std::vector<std::uint64_t> engine_state(const Engine& engine);
void set_engine_state(Engine& engine, const std::vector<std::uint64_t>& words, const std::string& call);
// Everything this thread draws from: autodiff's generator (rand, randn, Dropout's
// masks) and random_engine() (initialisers, splits). A DataLoader has its own
// generator (DataLoader::state). After set_rng_state(s), every draw is what
// followed the get_rng_state() that gave s.
struct RngState {
  autodiff::RngState autodiff;
  std::vector<std::uint64_t> engine;  // random_engine()'s words
};
RngState get_rng_state();
void set_rng_state(const RngState& state);  // a StateError, changing nothing, if the engine's words are not valid

// Fills `values` for a layer with fan_in inputs and fan_out outputs.
struct Initializer {
  std::string name;
  std::function<void(xt::xarray<double>& values, std::size_t fan_in, std::size_t fan_out, Engine& engine)> fill;
};

// Bad parameters are a std::invalid_argument when the initialiser is made.
Initializer zeros();
Initializer constant(double value);  // the lecture's bias of 0.01 (any value, as PyTorch's constant_)
Initializer normal(double mean = 0.0, double stddev = 1.0);  // mean finite, stddev >= 0 (0: every value is mean)
Initializer uniform(double low = -1.0, double high = 1.0);  // finite, low <= high
// Glorot & Bengio (2010): variance 2 / (fan_in + fan_out)
Initializer xavier_normal();
Initializer xavier_uniform();  // U(-a, a), a = sqrt(6 / (fan_in + fan_out))
// He et al. (2015), for ReLU: variance 2 / fan_in
Initializer he_normal();
Initializer he_uniform();  // U(-a, a), a = sqrt(6 / fan_in)

// A (fan_in, fan_out)-shaped or any-shaped array drawn from init. Xavier with
// fan_in + fan_out = 0, or He with fan_in = 0, is a std::invalid_argument when
// there is anything to draw; so is a shape of more than 2^64 elements.
xt::xarray<double> sample(const Initializer& init, const xt::xarray<double>::shape_type& shape, std::size_t fan_in,
                          std::size_t fan_out);

}  // namespace nn
