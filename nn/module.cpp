#include "module.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <autodiff/activation.hpp>
#include <autodiff/elementwise.hpp>
#include <autodiff/factory.hpp>
#include <autodiff/indexing.hpp>
#include <autodiff/linalg.hpp>
#include <autodiff/shape.hpp>

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
      h = layers_[i]->forward(h);
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
