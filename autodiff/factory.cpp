#include "factory.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "op.hpp"

namespace autodiff {

namespace {

// SplitMix64 (Steele, Lea & Flood 2014): a 64-bit stream that is the same everywhere.
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1), 53 random bits
};

struct ThreadRandom {
  std::uint64_t seed = 42;
  std::uint64_t generation = 0;
  SplitMix64 stream{42};
};
ThreadRandom& thread_random() {
  thread_local ThreadRandom random;
  return random;
}

std::string number(double x) {
  std::string text = std::to_string(x);
  return std::isfinite(x) ? text : (std::isnan(x) ? "NaN" : (x > 0 ? "inf" : "-inf"));
}

// The array of `shape`, or a ShapeError naming the call if it cannot have that many elements.
template <class T>
Array<T> array_of(const char* call, const Shape& shape) {
  checked_size(call, shape);
  return Array<T>::from_shape(shape);
}

template <class T>
Variable<T> leaf(Array<T>&& values, const FactoryOptions& options) {
  return Variable<T>(std::move(values), options.requires_grad);
}

template <class T>
Variable<T> filled(const char* call, const Shape& shape, T value, const FactoryOptions& options) {
  Array<T> values = array_of<T>(call, shape);
  values.fill(value);
  return leaf(std::move(values), options);
}

std::size_t count_of(const char* call, const char* what, std::int64_t count) {
  if (count < 0) throw std::invalid_argument(std::string(call) + ": " + what + " is " + std::to_string(count) + ", a count cannot be negative");
  return std::size_t(count);
}

template <class T>
void require_finite(const char* call, const char* what, T value) {
  if (!std::isfinite(value))
    throw std::invalid_argument(std::string(call) + ": " + what + " is " + number(double(value)) + ", not a finite number");
}

// Draws from options.seed's own stream, or from this thread's.
template <class Fill>
void draw(const FactoryOptions& options, Fill fill) {
  if (options.seed) {
    SplitMix64 own{*options.seed};
    fill(own);
  } else {
    fill(thread_random().stream);
  }
}

}  // namespace

void manual_seed(std::uint64_t seed) {
  ThreadRandom& random = thread_random();
  random.seed = seed;
  random.stream = SplitMix64{seed};
  ++random.generation;
}
std::uint64_t initial_seed() { return thread_random().seed; }
std::uint64_t detail::seed_generation() { return thread_random().generation; }

RngState get_rng_state() { return {thread_random().seed, thread_random().stream.state}; }
// Not a reseed: the generation stays, so nn's generators keep their own states.
void set_rng_state(const RngState& state) {
  thread_random().seed = state.seed;
  thread_random().stream.state = state.counter;
}

template <class T>
Variable<T> zeros(const Shape& shape, FactoryOptions options) {
  return filled<T>("zeros", shape, T(0), options);
}

template <class T>
Variable<T> ones(const Shape& shape, FactoryOptions options) {
  return filled<T>("ones", shape, T(1), options);
}

template <class T>
Variable<T> full(const Shape& shape, std::type_identity_t<T> value, FactoryOptions options) {
  return filled<T>("full", shape, value, options);
}

template <class T>
Variable<T> eye(std::int64_t rows, std::optional<std::int64_t> columns, FactoryOptions options) {
  const std::size_t m = count_of("eye", "rows", rows), n = count_of("eye", "columns", columns.value_or(rows));
  Array<T> values = array_of<T>("eye", {m, n});
  values.fill(T(0));
  for (std::size_t i = 0; i < std::min(m, n); ++i) values(i, i) = T(1);
  return leaf(std::move(values), options);
}

template <class T>
Variable<T> eye(std::int64_t rows, FactoryOptions options) {
  return eye<T>(rows, std::nullopt, options);
}

template <class T>
Variable<T> arange(std::type_identity_t<T> start, std::type_identity_t<T> stop, std::type_identity_t<T> step,
                   FactoryOptions options) {
  require_finite("arange", "start", start);
  require_finite("arange", "stop", stop);
  require_finite("arange", "step", step);
  if (step == 0) throw std::invalid_argument("arange: step is 0 (it must move from start towards stop)");
  // NumPy's length: ceil((stop - start) / step), 0 if that is negative
  const double length = std::ceil((double(stop) - double(start)) / double(step));
  if (!(length < 0x1.0p63))
    throw std::invalid_argument("arange: " + number(double(start)) + " to " + number(double(stop)) + " in steps of " +
                                number(double(step)) + " is too many values");
  const std::size_t count = length > 0 ? std::size_t(length) : 0;
  Array<T> values = array_of<T>("arange", {count});
  for (std::size_t i = 0; i < count; ++i) values(i) = T(double(start) + double(i) * double(step));
  return leaf(std::move(values), options);
}

template <class T>
Variable<T> arange(std::type_identity_t<T> stop, FactoryOptions options) {
  return arange<T>(T(0), stop, T(1), options);
}

template <class T>
Variable<T> linspace(std::type_identity_t<T> start, std::type_identity_t<T> stop, std::int64_t steps, bool endpoint,
                     FactoryOptions options) {
  require_finite("linspace", "start", start);
  require_finite("linspace", "stop", stop);
  const std::size_t count = count_of("linspace", "count", steps);
  Array<T> values = array_of<T>("linspace", {count});
  const std::size_t intervals = endpoint && count > 0 ? count - 1 : count;
  const double step = intervals > 0 ? (double(stop) - double(start)) / double(intervals) : 0.0;
  for (std::size_t i = 0; i < count; ++i) values(i) = T(double(start) + double(i) * step);
  if (endpoint && count > 1) values(count - 1) = stop;  // exactly stop, as NumPy
  return leaf(std::move(values), options);
}

template <class T>
Variable<T> rand(const Shape& shape, FactoryOptions options) {
  Array<T> values = array_of<T>("rand", shape);
  draw(options, [&](SplitMix64& stream) {
    for (auto& v : values) {
      v = T(stream.uniform());
      if (v == T(1)) v = std::nextafter(T(1), T(0));  // float rounding of a double just below 1
    }
  });
  return leaf(std::move(values), options);
}

template <class T>
Variable<T> randn(const Shape& shape, FactoryOptions options) {
  Array<T> values = array_of<T>("randn", shape);
  draw(options, [&](SplitMix64& stream) {
    // Box-Muller: two uniforms give two independent standard normals
    constexpr double two_pi = 6.283185307179586476925286766559;
    for (std::size_t i = 0; i < values.size(); i += 2) {
      const double u1 = 1.0 - stream.uniform();  // (0, 1]: log(u1) is finite
      const double u2 = stream.uniform();
      const double r = std::sqrt(-2.0 * std::log(u1));
      values.data()[i] = T(r * std::cos(two_pi * u2));
      if (i + 1 < values.size()) values.data()[i + 1] = T(r * std::sin(two_pi * u2));
    }
  });
  return leaf(std::move(values), options);
}

template <class T>
Variable<T> column(std::initializer_list<std::type_identity_t<T>> values, FactoryOptions options) {
  Array<T> array = Array<T>::from_shape({values.size(), 1});
  std::copy(values.begin(), values.end(), array.data());
  return leaf(std::move(array), options);
}

template <class T>
Variable<T> row(std::initializer_list<std::type_identity_t<T>> values, FactoryOptions options) {
  Array<T> array = Array<T>::from_shape({1, values.size()});
  std::copy(values.begin(), values.end(), array.data());
  return leaf(std::move(array), options);
}

#define WENGERT_INSTANTIATE(T)                                                                                \
  template Variable<T> zeros<T>(const Shape&, FactoryOptions);                                                \
  template Variable<T> ones<T>(const Shape&, FactoryOptions);                                                 \
  template Variable<T> full<T>(const Shape&, T, FactoryOptions);                                              \
  template Variable<T> eye<T>(std::int64_t, std::optional<std::int64_t>, FactoryOptions);                     \
  template Variable<T> eye<T>(std::int64_t, FactoryOptions);                                                  \
  template Variable<T> arange<T>(T, T, T, FactoryOptions);                                                    \
  template Variable<T> arange<T>(T, FactoryOptions);                                                          \
  template Variable<T> linspace<T>(T, T, std::int64_t, bool, FactoryOptions);                                 \
  template Variable<T> rand<T>(const Shape&, FactoryOptions);                                                 \
  template Variable<T> randn<T>(const Shape&, FactoryOptions);                                                \
  template Variable<T> column<T>(std::initializer_list<T>, FactoryOptions);                                   \
  template Variable<T> row<T>(std::initializer_list<T>, FactoryOptions);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
