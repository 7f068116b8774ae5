// Argument checks shared by the nn sources: every message names the call the
// user made, the values involved and what is wrong with them.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <autodiff/variable.hpp>

namespace nn::detail {

// A number as a person would write it: "0.1", "1e-08", "nan", "-inf".
inline std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

// A label or index: a size_t made from a negative int (-1) is printed as -1,
// not as 18446744073709551615.
inline std::string label_string(std::size_t label) {
  if (label > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()))
    return std::to_string(static_cast<std::int64_t>(label));
  return std::to_string(label);
}

// A hyper-parameter that must be a finite number in a range; the message
// names the call ("Adam"), the parameter ("beta1") and the value.
inline void require(bool ok, const std::string& call, const std::string& what, double value, const std::string& rule) {
  if (!ok) throw std::invalid_argument(call + ": " + what + " " + number(value) + " " + rule);
}
inline void require_at_least(const std::string& call, const std::string& what, double value, double low) {
  require(std::isfinite(value) && value >= low, call, what, value, "must be a finite number >= " + number(low));
}
inline void require_above(const std::string& call, const std::string& what, double value, double low) {
  require(std::isfinite(value) && value > low, call, what, value, "must be a finite number > " + number(low));
}
// low <= value < high
inline void require_in_half_open(const std::string& call, const std::string& what, double value, double low,
                                 double high) {
  require(value >= low && value < high, call, what, value, "must lie in [" + number(low) + ", " + number(high) + ")");
}
inline void require_in_closed(const std::string& call, const std::string& what, double value, double low,
                              double high) {
  require(value >= low && value <= high, call, what, value, "must lie in [" + number(low) + ", " + number(high) + "]");
}

// A Variable handle that refers to a value (not default-constructed).
template <class T>
void require_defined(const std::string& call, const std::string& what, const autodiff::Variable<T>& v) {
  if (!v.defined()) throw autodiff::GraphError(call + ": " + what + " is an empty Variable (default-constructed, never assigned)");
}

// The position of flat index i in an array of this shape, as NumPy indexes it: "[1, 2]".
inline std::string position(const autodiff::Shape& shape, std::size_t i) {
  if (shape.empty()) return "[]";
  std::vector<std::size_t> at(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    at[d] = shape[d] ? i % shape[d] : 0;
    if (shape[d]) i /= shape[d];
  }
  std::string text = "[";
  for (std::size_t d = 0; d < at.size(); ++d) text += (d ? ", " : "") + std::to_string(at[d]);
  return text + "]";
}

// The number of elements of a shape, or nothing if it does not fit in 64 bits.
inline bool checked_product(const autodiff::Shape& shape, std::size_t& count) {
  count = 1;
  for (std::size_t d : shape)
    if (d == 0) {
      count = 0;
      return true;
    }
  for (std::size_t d : shape)
    if (__builtin_mul_overflow(count, d, &count)) return false;
  return true;
}

// An allocation the system refused, with the call that asked for it in front of
// autodiff's message (the size): still a std::bad_alloc, and an autodiff::OutOfMemory.
class OutOfMemoryIn : public autodiff::OutOfMemory {
 public:
  OutOfMemoryIn(const std::string& call, std::size_t bytes)
      : autodiff::OutOfMemory(bytes), message_(call + ": " + autodiff::OutOfMemory::what()) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

}  // namespace nn::detail
