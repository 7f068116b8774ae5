#include "module.hpp"

#include <algorithm>
#include <cmath>
#include <cxxabi.h>
#include <cstdlib>
#include <iomanip>
#include <set>
#include <sstream>
#include <unordered_map>

#include <autodiff/activation.hpp>
#include <autodiff/elementwise.hpp>
#include <autodiff/factory.hpp>
#include <autodiff/indexing.hpp>
#include <autodiff/linalg.hpp>
#include <autodiff/shape.hpp>
#include <autodiff/tape.hpp>

#include "check.hpp"


namespace nn {

// ---- Module ------------------------------------------------------------------

template <class T>
std::vector<NamedParameter<T>> Module<T>::named_parameters() const {
  std::vector<NamedParameter<T>> all = parameters_;
  for (const auto& [prefix, child] : children_)
    for (auto& [name, parameter] : child->named_parameters()) {
      const bool seen = std::any_of(all.begin(), all.end(), [&](const NamedParameter<T>& kept) {
        return kept.second.node_ptr() == parameter.node_ptr();
      });
      if (!seen) all.emplace_back(prefix + "." + name, parameter);  // a shared parameter is listed once
    }
  return all;
}

template <class T>
std::vector<Variable<T>> Module<T>::parameters() const {
  std::vector<Variable<T>> all;
  for (auto& [name, parameter] : named_parameters()) all.push_back(parameter);
  return all;
}

template <class T>
std::vector<NamedBuffer<T>> Module<T>::named_buffers() const {
  std::vector<NamedBuffer<T>> all = buffers_;
  for (const auto& [prefix, child] : children_)
    for (auto& [name, buffer] : child->named_buffers()) {
      const bool seen = std::any_of(all.begin(), all.end(), [&](const NamedBuffer<T>& kept) {
        return kept.second == buffer;
      });
      if (!seen) all.emplace_back(prefix + "." + name, buffer);
    }
  return all;
}

template <class T>
std::vector<Variable<T>> Module<T>::forward_values(const std::vector<Variable<T>>& inputs) {
  if (inputs.size() != 1)
    throw std::invalid_argument(describe() + ": forward_values takes 1 input here, got " +
                                std::to_string(inputs.size()));
  return {forward(inputs[0])};
}

template <class T>
std::vector<Variable<T>> Module<T>::weights() const {
  std::vector<Variable<T>> all;
  for (auto& [name, parameter] : named_parameters())
    if (name == "weight" || (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0))
      all.push_back(parameter);
  return all;
}

template <class T>
std::size_t Module<T>::parameter_count() const {
  std::size_t count = 0;
  for (auto& parameter : parameters()) count += parameter.size();
  return count;
}

template <class T>
void Module<T>::zero_grad() {
  for (auto& parameter : parameters()) parameter.zero_grad();
}

template <class T>
std::string Module<T>::summary() const {
  std::ostringstream out;
  out << describe() << "\n";
  for (const auto& [name, child] : children_) {
    std::size_t count = child->parameter_count();
    out << "  (" << name << ") " << child->describe();
    if (count) out << "   " << count << " parameters";
    out << "\n";
  }
  out << "total: " << parameter_count() << " parameters\n";
  return out.str();
}

template <class T>
std::vector<Module<T>*> Module<T>::modules() {
  std::vector<Module<T>*> all{this};
  for (auto& [name, child] : children_)
    for (Module<T>* m : child->modules()) all.push_back(m);
  return all;
}

template <class T>
void Module<T>::train(bool training) {
  training_ = training;
  for (auto& [name, child] : children_) child->train(training);
}

namespace {
template <class T>
void check_name(const char* call, const std::string& name,
                const std::vector<NamedParameter<T>>& parameters, const std::vector<NamedBuffer<T>>& buffers,
                const std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>>& children) {
  if (name.empty()) throw std::invalid_argument(std::string(call) + ": the name is empty");
  if (name.find_first_of("./") != std::string::npos)
    throw std::invalid_argument(std::string(call) + ": name '" + name + "' contains '.' or '/'");
  for (const auto& [used, parameter] : parameters)
    if (used == name) throw std::invalid_argument(std::string(call) + ": a parameter named '" + name + "' exists already");
  for (const auto& [used, buffer] : buffers)
    if (used == name) throw std::invalid_argument(std::string(call) + ": a buffer named '" + name + "' exists already");
  for (const auto& [used, child] : children)
    if (used == name) throw std::invalid_argument(std::string(call) + ": a submodule named '" + name + "' exists already");
}
}  // namespace

template <class T>
Variable<T>& Module<T>::register_parameter(std::string name, Variable<T> parameter) {
  check_name("register_parameter", name, parameters_, buffers_, children_);
  detail::require_defined("register_parameter", "parameter '" + name + "'", parameter);
  if (!parameter.is_leaf())
    throw autodiff::GraphError("register_parameter: parameter '" + name + "' was made by op '" + parameter.op()->name +
                               "'; a parameter must be a leaf (detach() it)");
  parameter.set_requires_grad(true);
  parameter.set_name(name);
  parameters_.emplace_back(std::move(name), std::move(parameter));
  return parameters_.back().second;
}

template <class T>
void Module<T>::register_module(std::string name, std::shared_ptr<Module<T>> module) {
  check_name("register_module", name, parameters_, buffers_, children_);
  if (!module) throw std::invalid_argument("register_module: submodule '" + name + "' is null");
  if (module.get() == this) throw std::invalid_argument("register_module: a module cannot be its own submodule ('" + name + "')");
  children_.emplace_back(std::move(name), std::move(module));
}

template <class T>
Array<T>& Module<T>::register_buffer(std::string name, Array<T> value) {
  check_name("register_buffer", name, parameters_, buffers_, children_);
  buffers_.emplace_back(std::move(name), std::make_shared<Array<T>>(std::move(value)));
  return *buffers_.back().second;
}

// ---- Linear ------------------------------------------------------------------

template <class T>
Linear<T>::Linear(std::size_t in, std::size_t out, const Initializer& weight_init, const Initializer& bias_init)
    : in_(in), out_(out) {
  if (in == 0 || out == 0)
    throw std::invalid_argument(describe() + ": in and out features must be at least 1");
  std::size_t count = 0;
  if (!detail::checked_product({in, out}, count))
    throw std::invalid_argument(describe() + ": a weight of shape " + autodiff::to_string({in, out}) +
                                " has more than 2^64 elements");
  Array<T> weight;
  try {
    weight = xt::cast<T>(sample(weight_init, {in, out}, in, out));
  } catch (const detail::OutOfMemoryIn&) {
    throw;
  } catch (const std::bad_alloc&) {  // the draw is made in double, then cast
    throw detail::OutOfMemoryIn(describe() + ": the weight of shape " + autodiff::to_string({in, out}),
                                count * sizeof(double));
  }
  this->register_parameter("weight", Variable<T>(std::move(weight)));
  this->register_parameter("bias", Variable<T>(xt::cast<T>(sample(bias_init, {out}, in, out))));
}

template <class T>
Variable<T> Linear<T>::forward(const Variable<T>& x) {
  detail::require_defined(describe(), "the input", x);
  Variable<T>& w = weight();
  Variable<T>& b = bias();
  detail::require_defined(describe(), "the weight", w);
  detail::require_defined(describe(), "the bias", b);
  if (w.shape() != autodiff::Shape{in_, out_})
    throw autodiff::ShapeError(describe() + ": the weight has shape " + autodiff::to_string(w.shape()) +
                               " where " + autodiff::to_string({in_, out_}) + " is expected");
  if (b.shape() != autodiff::Shape{out_})
    throw autodiff::ShapeError(describe() + ": the bias has shape " + autodiff::to_string(b.shape()) + " where " +
                               autodiff::to_string({out_}) + " is expected");
  if (x.dimension() != 2 || x.shape()[1] != in_)
    throw autodiff::ShapeError(describe() + " got input of shape " + autodiff::to_string(x.shape()) +
                               ", expected (batch, " + std::to_string(in_) + ")");
  return autodiff::affine(x, w, b);  // z = x W + b
}

template <class T>
std::string Linear<T>::describe() const {
  return "Linear(" + std::to_string(in_) + " -> " + std::to_string(out_) + ")";
}

// ---- activations --------------------------------------------------------------

template <class T> Activation<T> Sigmoid() { return {"Sigmoid", [](const Variable<T>& x) { return autodiff::sigmoid(x); }}; }
template <class T> Activation<T> Tanh() { return {"Tanh", [](const Variable<T>& x) { return autodiff::tanh(x); }}; }
template <class T> Activation<T> ReLU() { return {"ReLU", [](const Variable<T>& x) { return autodiff::relu(x); }}; }
template <class T> Activation<T> Identity() { return {"Identity", [](const Variable<T>& x) { return x; }}; }
template <class T> Activation<T> Heaviside() {
  return {"Heaviside", [](const Variable<T>& x) { return autodiff::heaviside(x); }};
}
template <class T> Activation<T> Flatten() {
  return {"Flatten", [](const Variable<T>& x) { return autodiff::flatten(x, 1); }};
}
template <class T> Activation<T> LeakyReLU(T alpha) {
  detail::require(std::isfinite(double(alpha)), "LeakyReLU", "alpha", double(alpha), "must be a finite number");
  return {"LeakyReLU(" + std::to_string(alpha) + ")",
          [alpha](const Variable<T>& x) { return autodiff::leaky_relu(x, alpha); }};
}
template <class T> Activation<T> ELU(T alpha) {
  detail::require(std::isfinite(double(alpha)), "ELU", "alpha", double(alpha), "must be a finite number");
  return {"ELU(" + std::to_string(alpha) + ")", [alpha](const Variable<T>& x) { return autodiff::elu(x, alpha); }};
}
template <class T> Activation<T> Softmax(long axis) {
  return {"Softmax", [axis](const Variable<T>& x) { return autodiff::softmax(x, axis); }};
}

// ---- Dropout -------------------------------------------------------------------

template <class T>
Dropout<T>::Dropout(double p) : p_(p) {
  detail::require_in_closed("Dropout", "p", p, 0, 1);
}

template <class T>
Variable<T> Dropout<T>::forward(const Variable<T>& x) {
  detail::require_defined(describe(), "the input", x);
  if (!this->is_training() || p_ == 0) return x;
  // mask / (1 - p) where the draw keeps the element: a constant, so dx = g mask / (1 - p)
  Array<T> keep = autodiff::rand<T>(x.shape()).value();
  const T scale = p_ < 1 ? T(1 / (1 - p_)) : T(0);
  for (auto& u : keep) u = double(u) >= p_ ? scale : T(0);
  return x * Variable<T>(std::move(keep));
}

template <class T>
std::string Dropout<T>::describe() const {
  return "Dropout(p=" + detail::number(p_) + ")";
}

// ---- Embedding -----------------------------------------------------------------

template <class T>
Embedding<T>::Embedding(std::size_t num_embeddings, std::size_t dim, const Initializer& init)
    : num_(num_embeddings), dim_(dim) {
  std::size_t count = 0;
  if (!detail::checked_product({num_embeddings, dim}, count))
    throw std::invalid_argument(describe() + ": a weight of shape " + autodiff::to_string({num_embeddings, dim}) +
                                " has more than 2^64 elements");
  Array<T> weight;
  try {
    weight = xt::cast<T>(sample(init, {num_embeddings, dim}, num_embeddings, dim));
  } catch (const detail::OutOfMemoryIn&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw detail::OutOfMemoryIn(describe() + ": the weight of shape " + autodiff::to_string({num_embeddings, dim}),
                                count * sizeof(double));
  }
  this->register_parameter("weight", Variable<T>(std::move(weight)));
}

template <class T>
Variable<T> Embedding<T>::lookup(const std::int64_t* indices, std::size_t count, const autodiff::Shape& shape) {
  Variable<T>& w = weight();
  detail::require_defined(describe(), "the weight", w);
  if (w.shape() != autodiff::Shape{num_, dim_})
    throw autodiff::ShapeError(describe() + ": the weight has shape " + autodiff::to_string(w.shape()) + " where " +
                               autodiff::to_string({num_, dim_}) + " is expected");
  for (std::size_t k = 0; k < count; ++k)
    if (indices[k] < 0 || static_cast<std::uint64_t>(indices[k]) >= num_)
      throw autodiff::ShapeError(describe() + ": index " + std::to_string(indices[k]) + " at " +
                                 detail::position(shape, k) + " is out of range [0, " + std::to_string(num_) + ")");
  autodiff::Shape out = shape;
  out.push_back(dim_);
  return autodiff::reshape(autodiff::index_select(w, 0, autodiff::IndexList(indices, indices + count)), out);
}

template <class T>
Variable<T> Embedding<T>::forward(const autodiff::IndexArray& indices) {
  const autodiff::Shape shape(indices.shape().begin(), indices.shape().end());
  return lookup(indices.data(), indices.size(), shape);
}

template <class T>
Variable<T> Embedding<T>::forward(const autodiff::IndexList& indices) {
  return lookup(indices.data(), indices.size(), autodiff::Shape{indices.size()});
}

template <class T>
Variable<T> Embedding<T>::forward(const Variable<T>& x) {
  detail::require_defined(describe(), "the input", x);
  std::vector<std::int64_t> indices(x.size());
  std::size_t k = 0;
  for (T v : x.value()) {
    // a value beyond int64's range is out of range; NaN, inf and fractions are not indices
    if (!(std::isfinite(double(v)) && std::floor(double(v)) == double(v)))
      throw std::invalid_argument(describe() + ": the input holds " + detail::number(double(v)) + " at " +
                                  detail::position(x.shape(), k) + ", not a whole-number index");
    if (std::fabs(double(v)) >= 9.2e18)
      throw autodiff::ShapeError(describe() + ": index " + detail::number(double(v)) + " at " +
                                 detail::position(x.shape(), k) + " is out of range [0, " + std::to_string(num_) + ")");
    indices[k++] = static_cast<std::int64_t>(v);
  }
  return lookup(indices.data(), indices.size(), x.shape());
}

template <class T>
std::string Embedding<T>::describe() const {
  return "Embedding(" + std::to_string(num_) + ", " + std::to_string(dim_) + ")";
}

// ---- Sequential ----------------------------------------------------------------

namespace {
// "Sequential layer 2: " and the layer's own message (which names the layer, or else gets its
// description in parentheses).
template <class T>
std::string in_layer(std::size_t i, const Module<T>& layer, const char* message) {
  const std::string described = layer.describe();
  const std::string text = message;
  const std::string nested = "Sequential layer ";  // a nested Sequential's error: "Sequential layer 1.0: ..."
  if (text.rfind(nested, 0) == 0) return nested + std::to_string(i) + "." + text.substr(nested.size());
  return nested + std::to_string(i) + ": " + (text.rfind(described, 0) == 0 ? text : "(" + described + ") " + text);
}
}  // namespace

template <class T>
Variable<T> Sequential<T>::forward(const Variable<T>& x) {
  Variable<T> h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    try {
      h = (*layers_[i])(h);  // through operator(), so that summary(shape) sees each layer
    } catch (const autodiff::ShapeError& e) {
      throw autodiff::ShapeError(in_layer(i, *layers_[i], e.what()));
    } catch (const autodiff::GraphError& e) {
      throw autodiff::GraphError(in_layer(i, *layers_[i], e.what()));
    } catch (const autodiff::AnomalyError& e) {
      throw autodiff::AnomalyError(in_layer(i, *layers_[i], e.what()));
    }
  }
  return h;
}

template <class T>
Module<T>& Sequential<T>::operator[](std::size_t i) {
  if (i >= layers_.size())
    throw std::out_of_range("Sequential[" + detail::label_string(i) + "]: index out of range for " +
                            std::to_string(layers_.size()) + " layers");
  return *layers_[i];
}

template <class T>
std::string Sequential<T>::describe() const {
  return "Sequential(" + std::to_string(layers_.size()) + " layers)";
}

template <class T>
Sequential<T> mlp(const std::vector<std::size_t>& sizes, const Activation<T>& activation,
                  const Initializer& weight_init, const Initializer& bias_init) {
  if (sizes.size() < 2) throw std::invalid_argument("mlp: needs at least the input and output sizes");
  Sequential<T> model;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    model.add(Linear<T>(sizes[i], sizes[i + 1], weight_init, bias_init));
    if (i + 2 < sizes.size()) model.add(activation);
  }
  return model;
}

#define WENGERT_INSTANTIATE(T)                                                                      \
  template class Module<T>;                                                                         \
  template class Linear<T>;                                                                         \
  template class Dropout<T>;                                                                        \
  template class Embedding<T>;                                                                      \
  template class Sequential<T>;                                                                     \
  template Activation<T> Sigmoid<T>();                                                              \
  template Activation<T> Tanh<T>();                                                                 \
  template Activation<T> ReLU<T>();                                                                 \
  template Activation<T> LeakyReLU<T>(T);                                                           \
  template Activation<T> ELU<T>(T);                                                                 \
  template Activation<T> Softmax<T>(long);                                                          \
  template Activation<T> Identity<T>();                                                             \
  template Activation<T> Heaviside<T>();                                                            \
  template Activation<T> Flatten<T>();                                                              \
  template Sequential<T> mlp(const std::vector<std::size_t>&, const Activation<T>&, const Initializer&, \
                             const Initializer&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn

// ---- Module ergonomics: summary with shapes, typed access, functional_call (issue 14)

namespace nn {

namespace detail {

std::atomic<int> running_shape_traces{0};

std::string type_name(const std::type_info& type) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : type.name();
  std::free(demangled);
  return name;
}

std::string wrong_module_type(const std::string& call, const std::string& what, const std::string& description,
                              const std::type_info& actual, const std::type_info& wanted) {
  return call + ": " + what + " is " + description + " (a " + type_name(actual) + "), not a " + type_name(wanted);
}

}  // namespace detail

namespace {

struct ShapeRecord {
  autodiff::Shape shape;
  std::size_t calls = 0;
};
// The trace of the summary(shape) running on this thread, keyed by module.
thread_local std::unordered_map<const void*, ShapeRecord>* shape_trace = nullptr;

// 12345 -> "12,345"
std::string with_commas(std::size_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string joined_names(const std::vector<std::string>& names, std::size_t most = 12) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < most; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > most) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

}  // namespace

template <class T>
Variable<T> Module<T>::traced_forward(const Variable<T>& x) {
  Variable<T> y = forward(x);
  if (shape_trace) {
    ShapeRecord& record = (*shape_trace)[this];
    if (record.calls++ == 0 && y.defined()) record.shape = y.shape();
  }
  return y;
}

template <class T>
std::vector<std::pair<std::string, Module<T>*>> Module<T>::named_children() const {
  std::vector<std::pair<std::string, Module<T>*>> all;
  for (const auto& [name, child] : children_) all.emplace_back(name, child.get());
  return all;
}

template <class T>
Module<T>& Module<T>::find_submodule(const std::string& path, const std::string& call) {
  Module<T>* module = this;
  std::string walked;  // the part of the path found so far
  std::size_t start = 0;
  while (!path.empty() && start <= path.size()) {
    const std::size_t dot = std::min(path.find('.', start), path.size());
    const std::string part = path.substr(start, dot - start);
    Module<T>* next = nullptr;
    std::vector<std::string> names;
    for (const auto& [name, child] : module->children_) {
      names.push_back(name);
      if (name == part) next = child.get();
    }
    if (!next) {
      const std::string where = walked.empty() ? module->describe() : "'" + walked + "' (" + module->describe() + ")";
      throw std::out_of_range(call + ": " + where + " has no submodule '" + part + "'; " +
                              (names.empty() ? "it has no submodules" : "its submodules are " + joined_names(names)));
    }
    walked += (walked.empty() ? "" : ".") + part;
    module = next;
    start = dot + 1;
  }
  return *module;
}

template <class T>
Module<T>& Module<T>::submodule(const std::string& path) {
  return find_submodule(path, "submodule(\"" + path + "\")");
}

template <class T>
std::string Module<T>::summary(const autodiff::Shape& input_shape) {
  const std::string call = "summary(" + autodiff::to_string(input_shape) + ")";
  std::size_t count = 0;
  if (!detail::checked_product(input_shape, count))
    throw std::invalid_argument(call + ": an input of shape " + autodiff::to_string(input_shape) +
                                " has more than 2^64 elements");
  return shape_summary(Array<T>(xt::zeros<T>(input_shape)), call);
}

template <class T>
std::string Module<T>::summary_on(const Array<T>& sample) {
  return shape_summary(sample, "summary_on(a sample of shape " + autodiff::to_string(sample.shape()) + ")");
}

template <class T>
std::string Module<T>::shape_summary(const Array<T>& sample, const std::string& call) {
  std::unordered_map<const void*, ShapeRecord> trace;
  Variable<T> output;
  {
    autodiff::no_grad scope;                  // no tape
    ModeScope<T> evaluation(*this, false);    // no dropout, no update of running statistics
    struct Tracing {                          // on for this scope, off again if forward throws
      std::unordered_map<const void*, ShapeRecord>* previous;
      explicit Tracing(std::unordered_map<const void*, ShapeRecord>* trace) : previous(shape_trace) {
        shape_trace = trace;
        ++detail::running_shape_traces;
      }
      ~Tracing() {
        --detail::running_shape_traces;
        shape_trace = previous;
      }
    } tracing(&trace);
    const std::string failed = call + ": the forward pass of " + describe() + " on an input of shape " +
                               autodiff::to_string(sample.shape()) + " failed: ";
    try {
      output = (*this)(Variable<T>(sample));
    } catch (const autodiff::ShapeError& e) {
      throw autodiff::ShapeError(failed + e.what());
    } catch (const autodiff::GraphError& e) {
      throw autodiff::GraphError(failed + e.what());
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(failed + e.what());
    }
  }

  struct Row {
    std::string name, type, shape, params;
  };
  std::vector<Row> rows{{"input", "", autodiff::to_string(sample.shape()), ""}};
  std::set<const void*> counted;  // a shared parameter counts once
  std::size_t total = 0;
  auto own_parameters = [&](const Module<T>& m) {
    std::size_t n = 0;
    for (const auto& [name, parameter] : m.parameters_)
      if (counted.insert(parameter.node_ptr().get()).second) n += parameter.size();
    total += n;
    return n;
  };
  auto shape_of = [&](const Module<T>& m) {
    auto found = trace.find(&m);
    if (found == trace.end()) return std::string("-");
    std::string text = autodiff::to_string(found->second.shape);
    if (found->second.calls > 1) text += " x" + std::to_string(found->second.calls);  // called several times
    return text;
  };
  auto add_rows = [&](auto&& self, const Module<T>& m, const std::string& prefix, std::size_t depth) -> void {
    for (const auto& [name, child] : m.children_) {
      const std::string path = prefix.empty() ? name : prefix + "." + name;
      const std::size_t n = own_parameters(*child);
      rows.push_back({std::string(2 * depth, ' ') + path, child->describe(), shape_of(*child), n ? with_commas(n) : ""});
      self(self, *child, path, depth + 1);
    }
  };
  const std::size_t root_parameters = own_parameters(*this);
  add_rows(add_rows, *this, "", 0);
  if (root_parameters)  // parameters the model registered itself
    rows.push_back({"(own)", describe(), "", with_commas(root_parameters)});
  rows.push_back({"output", describe(), output.defined() ? autodiff::to_string(output.shape()) : "-", ""});

  std::size_t widths[4] = {5, 4, 12, 6};  // at least the headers
  for (const Row& row : rows) {
    widths[0] = std::max(widths[0], row.name.size());
    widths[1] = std::max(widths[1], row.type.size());
    widths[2] = std::max(widths[2], row.shape.size());
    widths[3] = std::max(widths[3], row.params.size());
  }
  std::ostringstream out;
  auto line = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d) {
    out << std::left << std::setw(int(widths[0])) << a << "  " << std::setw(int(widths[1])) << b << "  "
        << std::setw(int(widths[2])) << c << "  " << std::right << std::setw(int(widths[3])) << d << "\n";
  };
  const std::string rule(widths[0] + widths[1] + widths[2] + widths[3] + 6, '-');
  line("Layer", "Type", "Output shape", "Params");
  out << rule << "\n";
  for (std::size_t i = 0; i + 1 < rows.size(); ++i) line(rows[i].name, rows[i].type, rows[i].shape, rows[i].params);
  out << rule << "\n";
  line(rows.back().name, rows.back().type, rows.back().shape, "");
  out << "Total parameters: " << with_commas(total) << "\n";
  return out.str();
}

template <class T>
ParameterSwap<T>::ParameterSwap(Module<T>& model, const std::vector<NamedParameter<T>>& replacements,
                                const std::string& call) {
  const std::vector<NamedParameter<T>> named = model.named_parameters();
  std::vector<std::pair<const void*, const Variable<T>*>> plan;  // a parameter's node, its replacement
  for (std::size_t i = 0; i < replacements.size(); ++i) {
    const auto& [name, value] = replacements[i];
    for (std::size_t j = 0; j < i; ++j)
      if (replacements[j].first == name)
        throw std::invalid_argument(call + ": parameter '" + name + "' is given twice");
    auto found = std::find_if(named.begin(), named.end(), [&](const NamedParameter<T>& p) { return p.first == name; });
    if (found == named.end()) {
      std::vector<std::string> names;
      for (const auto& p : named) names.push_back(p.first);
      throw std::invalid_argument(call + ": " + model.describe() + " has no parameter '" + name + "'; " +
                                  (names.empty() ? "it has none" : "its parameters are " + joined_names(names)));
    }
    if (!value.defined()) throw std::invalid_argument(call + ": the replacement for '" + name + "' is an empty Variable");
    if (value.shape() != found->second.shape())
      throw autodiff::ShapeError(call + ": the replacement for '" + name + "' has shape " +
                                 autodiff::to_string(value.shape()) + ", the parameter " +
                                 autodiff::to_string(found->second.shape()));
    plan.emplace_back(found->second.node_ptr().get(), &value);
  }
  std::set<Module<T>*> visited;  // a submodule registered twice holds its slots once
  for (Module<T>* m : model.modules()) {
    if (!visited.insert(m).second) continue;
    for (auto& [name, slot] : m->parameters_)
      for (const auto& [node, replacement] : plan)
        if (slot.node_ptr().get() == node) {
          originals_.emplace_back(&slot, slot);
          slot = *replacement;
          break;
        }
  }
}

template <class T>
ParameterSwap<T>::~ParameterSwap() {
  for (auto it = originals_.rbegin(); it != originals_.rend(); ++it) *it->first = std::move(it->second);
}

template <class T>
Variable<T> functional_call(Module<T>& model, const std::vector<NamedParameter<T>>& replacements,
                            const Variable<T>& input) {
  ParameterSwap<T> swap(model, replacements, "functional_call");
  return model(input);
}

template <class T>
std::vector<Variable<T>> functional_call_values(Module<T>& model, const std::vector<NamedParameter<T>>& replacements,
                                                const std::vector<Variable<T>>& inputs) {
  ParameterSwap<T> swap(model, replacements, "functional_call_values");
  return model.forward_values(inputs);
}

// Members defined after Module's explicit instantiation above are instantiated one by one.
#define WENGERT_INSTANTIATE_ERGONOMICS(T)                                                                      \
  template Variable<T> Module<T>::traced_forward(const Variable<T>&);                                          \
  template std::vector<std::pair<std::string, Module<T>*>> Module<T>::named_children() const;                  \
  template Module<T>& Module<T>::find_submodule(const std::string&, const std::string&);                       \
  template Module<T>& Module<T>::submodule(const std::string&);                                                \
  template std::string Module<T>::summary(const autodiff::Shape&);                                             \
  template std::string Module<T>::summary_on(const Array<T>&);                                                 \
  template std::string Module<T>::shape_summary(const Array<T>&, const std::string&);                          \
  template class ParameterSwap<T>;                                                                            \
  template Variable<T> functional_call(Module<T>&, const std::vector<NamedParameter<T>>&, const Variable<T>&); \
  template std::vector<Variable<T>> functional_call_values(Module<T>&, const std::vector<NamedParameter<T>>&,  \
                                                           const std::vector<Variable<T>>&);
WENGERT_INSTANTIATE_ERGONOMICS(float)
WENGERT_INSTANTIATE_ERGONOMICS(double)
#undef WENGERT_INSTANTIATE_ERGONOMICS

}  // namespace nn
