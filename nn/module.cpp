#include "module.hpp"

#include <sstream>

#include <autodiff/activation.hpp>
#include <autodiff/linalg.hpp>
#include <autodiff/shape.hpp>


namespace nn {

// ---- Module ------------------------------------------------------------------

template <class T>
std::vector<NamedParameter<T>> Module<T>::named_parameters() const {
  std::vector<NamedParameter<T>> all = parameters_;
  for (const auto& [prefix, child] : children_)
    for (auto& [name, parameter] : child->named_parameters()) all.emplace_back(prefix + "." + name, parameter);
  return all;
}

template <class T>
std::vector<Variable<T>> Module<T>::parameters() const {
  std::vector<Variable<T>> all;
  for (auto& [name, parameter] : named_parameters()) all.push_back(parameter);
  return all;
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
Variable<T>& Module<T>::register_parameter(std::string name, Variable<T> parameter) {
  parameter.set_requires_grad(true);
  parameter.set_name(name);
  parameters_.emplace_back(std::move(name), std::move(parameter));
  return parameters_.back().second;
}

template <class T>
void Module<T>::register_module(std::string name, std::shared_ptr<Module<T>> module) {
  children_.emplace_back(std::move(name), std::move(module));
}

// ---- Linear ------------------------------------------------------------------

template <class T>
Linear<T>::Linear(std::size_t in, std::size_t out, const Initializer& weight_init, const Initializer& bias_init)
    : in_(in), out_(out) {
  weight_ = this->register_parameter("weight", Variable<T>(xt::cast<T>(sample(weight_init, {in, out}, in, out))));
  bias_ = this->register_parameter("bias", Variable<T>(xt::cast<T>(sample(bias_init, {out}, in, out))));
}

template <class T>
Variable<T> Linear<T>::forward(const Variable<T>& x) {
  return autodiff::affine(x, weight_, bias_);  // z = x W + b
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
  return {"LeakyReLU(" + std::to_string(alpha) + ")",
          [alpha](const Variable<T>& x) { return autodiff::leaky_relu(x, alpha); }};
}
template <class T> Activation<T> ELU(T alpha) {
  return {"ELU(" + std::to_string(alpha) + ")", [alpha](const Variable<T>& x) { return autodiff::elu(x, alpha); }};
}
template <class T> Activation<T> Softmax(long axis) {
  return {"Softmax", [axis](const Variable<T>& x) { return autodiff::softmax(x, axis); }};
}

// ---- Sequential ----------------------------------------------------------------

template <class T>
Variable<T> Sequential<T>::forward(const Variable<T>& x) {
  Variable<T> h = x;
  for (auto& layer : layers_) h = layer->forward(h);
  return h;
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
