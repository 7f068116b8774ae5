// Variables made from nothing: zeros, ones, full, eye, arange, linspace, rand,
// randn, and literals for a column or a row. Each is a leaf: pass
// {.requires_grad = true} to make it a parameter.
//
//   auto w = autodiff::randn<double>({3, 2}, {.requires_grad = true, .seed = 7});
//   auto x = autodiff::column({0.7, -0.5});  // shape (2, 1), no brace ambiguity
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <type_traits>

#include "variable.hpp"

namespace autodiff {

struct FactoryOptions {
  bool requires_grad = false;
  // rand and randn only: a seed for this draw alone. Without one they draw from
  // this thread's generator, which manual_seed() resets (as torch.manual_seed).
  std::optional<std::uint64_t> seed{};
};

template <class T = double> Variable<T> zeros(const Shape& shape, FactoryOptions options = {});
template <class T = double> Variable<T> ones(const Shape& shape, FactoryOptions options = {});
template <class T = double> Variable<T> full(const Shape& shape, std::type_identity_t<T> value, FactoryOptions options = {});
// A (rows, columns) matrix with ones on the diagonal (columns = rows by default).
// Counts are signed so that a negative one is an error, not a huge size.
template <class T = double>
Variable<T> eye(std::int64_t rows, std::optional<std::int64_t> columns = {}, FactoryOptions options = {});
template <class T = double> Variable<T> eye(std::int64_t rows, FactoryOptions options);
// start, start + step, ... below stop (above it for step < 0): ceil((stop - start) / step)
// values, as NumPy's arange; each value is start + i step (no accumulated rounding).
template <class T = double> Variable<T> arange(std::type_identity_t<T> start, std::type_identity_t<T> stop, std::type_identity_t<T> step = T(1),
                   FactoryOptions options = {});
template <class T = double> Variable<T> arange(std::type_identity_t<T> stop, FactoryOptions options = {});
// `count` evenly spaced values from start to stop (stop included unless !endpoint), as NumPy's linspace.
template <class T = double>
Variable<T> linspace(std::type_identity_t<T> start, std::type_identity_t<T> stop, std::int64_t count, bool endpoint = true, FactoryOptions options = {});
// Uniform on [0, 1) and standard normal values. The draws are the same with every
// compiler and standard library (a SplitMix64 stream and the Box-Muller transform).
template <class T = double> Variable<T> rand(const Shape& shape, FactoryOptions options = {});
template <class T = double> Variable<T> randn(const Shape& shape, FactoryOptions options = {});
// Seeds this thread's random draws: rand and randn, and nn's initialisers,
// splits and shuffles (nn::manual_seed is this function), as torch.manual_seed.
// The seed is 42 until it is set.
void manual_seed(std::uint64_t seed);
std::uint64_t initial_seed();  // the seed last set on this thread
// This thread's generator, to save and restore it (torch.get_rng_state and
// set_rng_state): after set_rng_state(s), the draws are those that followed get_rng_state().
struct RngState {
  std::uint64_t seed = 42;     // what initial_seed() returns
  std::uint64_t counter = 42;  // the SplitMix64 stream's state
};
RngState get_rng_state();
void set_rng_state(const RngState& state);
namespace detail {
// Counts manual_seed calls on this thread: other generators (nn's) reseed when it changes.
std::uint64_t seed_generation();
}  // namespace detail

// Literals: `column({0.7, -0.5})` has shape (2, 1) and `row({1.0, 2.0})` shape
// (1, 2). (Array<double>{{0.7}, {-0.5}} does not compile: {0.7} is a double or a
// one-element list to C++, and the call is ambiguous.)
// double unless asked: column({1, 2}) is a column of doubles, column<float>({...}) of floats.
template <class T = double>
Variable<T> column(std::initializer_list<std::type_identity_t<T>> values, FactoryOptions options = {});
template <class T = double>
Variable<T> row(std::initializer_list<std::type_identity_t<T>> values, FactoryOptions options = {});

}  // namespace autodiff
