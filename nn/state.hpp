// State dictionaries (PyTorch's state_dict): everything a model, an optimizer,
// a scheduler or a data loader needs to resume, as named arrays in a fixed order.
// nn::save_checkpoint writes one to a .npz file and load_checkpoint reads it back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <autodiff/variable.hpp>

namespace nn {

using autodiff::Array;

// A state dictionary that does not fit what it is loaded into: a missing or
// unexpected key, a wrong shape or dtype, another optimizer's state. The message
// names the call and the key. Whatever was being loaded is unchanged.
struct StateError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// What a non-strict load did not match (PyTorch's missing and unexpected keys).
struct LoadResult {
  std::vector<std::string> missing;     // keys the model has and the dictionary lacks (non-strict only)
  std::vector<std::string> unexpected;  // keys of the dictionary the model lacks
};

// The dtypes a state holds: the parameters' type (float or double), double for
// learning rates and hyper-parameters (a float rate would not resume exactly),
// int64 for counts, uint64 for generator words, uint8 for text (a kind's name).
using StateValue = std::variant<Array<float>, Array<double>, Array<std::int64_t>, Array<std::uint64_t>,
                                Array<std::uint8_t>>;

// Name -> array in insertion order, as PyTorch's OrderedDict; keys are unique.
//   nn::StateDict state = model.state_dict();
//   const auto& w = state.get<float>("0.weight");   // StateError if absent or not float
class StateDict {
 public:
  using Entry = std::pair<std::string, StateValue>;

  // Adds `key`, or replaces its value where it exists (keeping its place).
  void set(const std::string& key, StateValue value);
  bool contains(const std::string& key) const { return find(key) != nullptr; }
  // The value of `key`, as an Array<V>; a missing key or another dtype is a
  // StateError naming the key (and the dtypes).
  template <class V>
  const Array<V>& get(const std::string& key) const;
  const StateValue& at(const std::string& key) const;  // StateError if absent
  const StateValue* find(const std::string& key) const;  // nullptr if absent

  // Scalars (0-d arrays), text (uint8 arrays) and whole numbers, with the checks.
  void set_scalar(const std::string& key, double value) { set(key, Array<double>(value)); }
  void set_count(const std::string& key, std::size_t value);
  void set_text(const std::string& key, const std::string& text);
  double scalar(const std::string& key) const;    // a 0-d or one-element double array
  std::size_t count(const std::string& key) const;  // a one-element int64 array >= 0
  std::string text(const std::string& key) const;

  // The entries whose key starts with prefix + '/', with that part taken off
  // (a checkpoint's "optimizer/..." as the optimizer's own dictionary), and back.
  StateDict section(const std::string& prefix) const;
  void add_section(const std::string& prefix, const StateDict& entries);
  void add_section(const std::string& prefix, StateDict&& entries);  // moves the arrays

  std::vector<std::string> keys() const;
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }

 private:
  std::vector<Entry> entries_;
};

// The NumPy dtype of a value ("<f4", "<f8", "<i8", "<u8", "|u1") and its shape, for messages.
std::string dtype_of(const StateValue& value);
autodiff::Shape shape_of(const StateValue& value);

}  // namespace nn
