// Modules: layers that own named parameters and submodules. A model is a
// composition of differentiable ops; its gradients come from the tape alone.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include <autodiff/indexing.hpp>
#include <autodiff/variable.hpp>

#include "init.hpp"
#include "state.hpp"

namespace nn {

using autodiff::Array;
using autodiff::Variable;

template <class T>
using NamedParameter = std::pair<std::string, Variable<T>>;
// A buffer: state of a module that is not a parameter (BatchNorm's running
// statistics), shared like a tensor in PyTorch: a copy of the module (or the
// pointer returned here) refers to the same array, as a copied Variable does.
template <class T>
using NamedBuffer = std::pair<std::string, std::shared_ptr<Array<T>>>;

template <class T>
class ModeScope;
template <class T>
class ParameterSwap;

namespace detail {
// How many summary(shape) traces are running, on any thread: 0 keeps Module's
// operator() to one load and a branch (the trace itself is per thread).
extern std::atomic<int> running_shape_traces;
}  // namespace detail

template <class T = float>
class Module {
 public:
  virtual ~Module() = default;
  virtual Variable<T> forward(const Variable<T>& x) = 0;
  Variable<T> operator()(const Variable<T>& x) {
    if (detail::running_shape_traces.load(std::memory_order_relaxed) == 0) return forward(x);
    return traced_forward(x);  // summary(shape) is recording output shapes
  }

  // Several values in, several out: a recurrent layer's input and initial state
  // in, its output sequence and final state out ({x, h0, c0} -> {output, h_n, c_n}
  // for an LSTM). By default one input goes through forward() and gives one output;
  // any other count is a std::invalid_argument naming the module.
  virtual std::vector<Variable<T>> forward_values(const std::vector<Variable<T>>& inputs);

  // "Linear(64 -> 50)", for summaries.
  virtual std::string describe() const = 0;

  // All parameters, with dotted names through submodules: "0.weight", "0.bias", ...
  // A parameter shared by two submodules is listed once, under its first name (as PyTorch).
  std::vector<NamedParameter<T>> named_parameters() const;
  std::vector<Variable<T>> parameters() const;
  // All buffers, with dotted names through submodules ("1.running_mean"), in
  // registration order as named_parameters; a buffer shared by two submodules is
  // listed once. Buffers are not parameters: parameters() and optimizers never see them.
  std::vector<NamedBuffer<T>> named_buffers() const;
  // Parameters named "weight" (what L2 regularisation penalises by default; biases are left out).
  std::vector<Variable<T>> weights() const;
  std::size_t parameter_count() const;
  void zero_grad();

  // One line per module with its parameter count, and the total.
  std::string summary() const;
  // Keras's table: every submodule (depth first, dotted names) with its output
  // shape and parameter count, from one forward pass on zeros of input_shape
  // (summary_on: on a sample), under no_grad and in evaluation mode, so that
  // nothing changes (BatchNorm's running statistics included). A submodule
  // shows its output shape when it is called through operator(), as Sequential
  // and custom modules do (`h = conv1_->operator()(x)` or `(*conv1_)(x)`); one
  // not called in that pass shows "-". Params counts the parameters a module
  // registered itself, so the column adds up to the total.
  std::string summary(const autodiff::Shape& input_shape);
  std::string summary_on(const Array<T>& sample);

  // The direct submodules with their names, in registration order (PyTorch's named_children()).
  std::vector<std::pair<std::string, Module<T>*>> named_children() const;
  // The submodule at a dotted path ("conv1", "encoder.0"; PyTorch's get_submodule);
  // std::out_of_range naming the path and the names that exist there.
  Module<T>& submodule(const std::string& path);
  // The same, as its own type, without a dynamic_cast at the call site:
  //   model.child<nn::Conv2d<float>>("conv1").weight()
  // A module of another type is a std::invalid_argument naming both types.
  template <class M>
  M& child(const std::string& path);

  // Training mode (the default) or evaluation mode, for this module and every
  // submodule (PyTorch's train() and eval()): Dropout is active only in training.
  // It is not no_grad: gradients flow in both modes. fit() trains in training
  // mode and predict() runs in evaluation mode (as Keras's fit and predict);
  // both restore the module's mode afterwards.
  void train(bool training = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // This module and every submodule below it, depth first (PyTorch's modules()).
  std::vector<Module*> modules();

  // ---- state (nn/state.hpp) ----
  // Every parameter and buffer by its dotted name ("0.weight", "1.running_mean"),
  // parameters first, as copies (PyTorch's state_dict()).
  StateDict state_dict() const;
  // Copies the dictionary's arrays into the parameters and buffers of the same
  // names. Every key's dtype (T) and shape are checked first; strict (the
  // default): a key the model lacks or a parameter or buffer the dictionary
  // lacks is a StateError naming them all; not strict: they are skipped and
  // listed in the result. On any error nothing has changed.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

 protected:
  // Names must be non-empty, without '.' or '/', and not already used by a parameter or a
  // submodule of this module (PyTorch's rules; a '/' would leave save_parameters' directory).
  // The parameter must be a leaf; it is made to require a gradient.
  Variable<T>& register_parameter(std::string name, Variable<T> parameter);
  void register_module(std::string name, std::shared_ptr<Module<T>> module);
  // State that is not a parameter (torch's register_buffer): same naming rules
  // (a buffer, a parameter and a submodule cannot share a name). Returns the array.
  Array<T>& register_buffer(std::string name, Array<T> value);
  // The i-th parameter (buffer) this module registered itself.
  Variable<T>& registered_parameter(std::size_t i) { return parameters_.at(i).second; }
  Array<T>& registered_buffer(std::size_t i) { return *buffers_.at(i).second; }
  const Array<T>& registered_buffer(std::size_t i) const { return *buffers_.at(i).second; }

 private:
  std::vector<NamedParameter<T>> parameters_;
  std::vector<NamedBuffer<T>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module<T>>>> children_;
  bool training_ = true;
  void set_own_mode(bool training) { training_ = training; }  // this module only (ModeScope's restore)
  Variable<T> traced_forward(const Variable<T>& x);  // forward() and its output shape into the trace
  Module<T>& find_submodule(const std::string& path, const std::string& call);
  std::string shape_summary(const Array<T>& sample, const std::string& call);
  template <class>
  friend class ModeScope;
  template <class>
  friend class ParameterSwap;  // functional_call's temporary parameters
};

// A mode (training or evaluation) for a scope; at its end every module below
// gets back the mode it had (a submodule put in eval() stays in eval()):
//   { nn::ModeScope<float> evaluation(model, false); ... }
template <class T>
class ModeScope {
 public:
  ModeScope(Module<T>& model, bool training) {
    for (Module<T>* m : model.modules()) modes_.emplace_back(m, m->is_training());
    model.train(training);
  }
  ~ModeScope() {
    for (auto& [module, training] : modes_) module->set_own_mode(training);
  }
  ModeScope(const ModeScope&) = delete;
  ModeScope& operator=(const ModeScope&) = delete;

 private:
  std::vector<std::pair<Module<T>*, bool>> modes_;
};

// A dense layer in the lecture's matrix form: y = x W + b, with x of shape
// (batch, in), W of shape (in, out) and b of shape (out,); in, out >= 1. An input
// of another shape is a ShapeError naming the layer: "Linear(64 -> 10) got input
// of shape (5, 63), expected (batch, 64)".
template <class T = float>
class Linear : public Module<T> {
 public:
  Linear(std::size_t in, std::size_t out, const Initializer& weight_init = xavier_uniform(),
         const Initializer& bias_init = zeros());
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;
  // The registered parameters themselves: what forward() uses is what
  // parameters(), optimizers and save_parameters see.
  Variable<T>& weight() { return this->registered_parameter(0); }
  Variable<T>& bias() { return this->registered_parameter(1); }
  std::size_t in_features() const { return in_; }
  std::size_t out_features() const { return out_; }

 private:
  std::size_t in_, out_;
};

// An activation (or any parameter-free function) as a module.
template <class T = float>
class Activation : public Module<T> {
 public:
  Activation(std::string name, std::function<Variable<T>(const Variable<T>&)> f)
      : name_(std::move(name)), f_(std::move(f)) {
    if (!f_) throw std::invalid_argument("Activation '" + name_ + "': no function given");
  }
  Variable<T> forward(const Variable<T>& x) override { return f_(x); }
  std::string describe() const override { return name_; }

 private:
  std::string name_;
  std::function<Variable<T>(const Variable<T>&)> f_;
};

template <class T = float> Activation<T> Sigmoid();
template <class T = float> Activation<T> Tanh();
template <class T = float> Activation<T> ReLU();
template <class T = float> Activation<T> LeakyReLU(T alpha = T(0.01));  // alpha finite
template <class T = float> Activation<T> ELU(T alpha = T(1));          // alpha finite
template <class T = float> Activation<T> Softmax(long axis = -1);
template <class T = float> Activation<T> Identity();
template <class T = float> Activation<T> Heaviside();  // the perceptron's step (zero gradient)
template <class T = float> Activation<T> Flatten();     // (batch, ...) -> (batch, features)

// Inverted dropout (Srivastava et al. 2014), as torch.nn.Dropout: in training,
// each element is zeroed with probability p and the rest are scaled by 1 / (1 - p),
// so that the expected value is unchanged; in evaluation mode it is the identity.
// The mask is drawn from autodiff's per-thread generator (autodiff::manual_seed).
// p in [0, 1]; p = 1 zeroes everything.
template <class T = float>
class Dropout : public Module<T> {
 public:
  explicit Dropout(double p = 0.5);
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;
  double p() const { return p_; }

 private:
  double p_;
};

// A lookup table of num_embeddings vectors of length dim (torch.nn.Embedding):
// indices of any shape S give an output of shape S + (dim,), row i of the weight
// (num_embeddings, dim) for index i; a row used twice gets the sum of its gradients.
// The weight is drawn from N(0, 1) as PyTorch's. An index outside [0, num_embeddings)
// is a ShapeError naming the layer (PyTorch rejects negative indices too).
// forward(Variable) takes indices stored as whole numbers (so the layer fits in a
// Sequential); a value that is not a whole number is a std::invalid_argument.
// No padding_idx, max_norm or sparse gradients.
template <class T = float>
class Embedding : public Module<T> {
 public:
  Embedding(std::size_t num_embeddings, std::size_t dim, const Initializer& init = normal(0.0, 1.0));
  Variable<T> forward(const autodiff::IndexArray& indices);
  Variable<T> forward(const autodiff::IndexList& indices);
  Variable<T> forward(const Variable<T>& indices) override;
  using Module<T>::operator();
  Variable<T> operator()(const autodiff::IndexArray& indices) { return forward(indices); }
  Variable<T> operator()(const autodiff::IndexList& indices) { return forward(indices); }
  std::string describe() const override;
  Variable<T>& weight() { return this->registered_parameter(0); }
  std::size_t num_embeddings() const { return num_; }
  std::size_t embedding_dim() const { return dim_; }

 private:
  Variable<T> lookup(const std::int64_t* indices, std::size_t count, const autodiff::Shape& shape);
  std::size_t num_, dim_;
};

// Modules applied in order, named "0", "1", ... like torch::nn::Sequential.
template <class T = float>
class Sequential : public Module<T> {
 public:
  Sequential() = default;

  template <class M>
  Sequential& add(M module) {
    auto shared = std::make_shared<M>(std::move(module));
    this->register_module(std::to_string(layers_.size()), shared);
    layers_.push_back(std::move(shared));
    return *this;
  }
  // An error in a layer is rethrown (same type) with the layer's index in front:
  // "Sequential layer 2: Linear(64 -> 10) got input of shape (5, 63), ...".
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;
  std::size_t size() const { return layers_.size(); }
  // Layer i; std::out_of_range naming i and the number of layers.
  Module<T>& operator[](std::size_t i);
  // Layer i as its own type: model.get<nn::Linear<float>>(0).weight(). An index
  // out of range is a std::out_of_range, a layer of another type a
  // std::invalid_argument naming the index, the wanted type and the layer.
  template <class M>
  M& get(std::size_t i);

 private:
  std::vector<std::shared_ptr<Module<T>>> layers_;
};

// A multilayer perceptron: sizes {64, 50, 10} gives Linear(64, 50), activation,
// Linear(50, 10); the last layer has no activation (it returns logits).
template <class T = float>
Sequential<T> mlp(const std::vector<std::size_t>& sizes, const Activation<T>& activation = Sigmoid<T>(),
                  const Initializer& weight_init = xavier_uniform(), const Initializer& bias_init = zeros());


// ---- Module ergonomics: typed access, functional_call (issue 14) --------------

namespace detail {
// "nn::Linear<float>": the demangled name of a type, for messages.
std::string type_name(const std::type_info& type);
// "<call>: <what> is <description> (a <actual type>), not a <wanted type>"
std::string wrong_module_type(const std::string& call, const std::string& what, const std::string& description,
                              const std::type_info& actual, const std::type_info& wanted);
}  // namespace detail

template <class T>
template <class M>
M& Module<T>::child(const std::string& path) {
  const std::string call = "child<" + detail::type_name(typeid(M)) + ">(\"" + path + "\")";
  Module<T>& found = find_submodule(path, call);
  if (M* typed = dynamic_cast<M*>(&found)) return *typed;
  throw std::invalid_argument(
      detail::wrong_module_type(call, "submodule '" + path + "'", found.describe(), typeid(found), typeid(M)));
}

template <class T>
template <class M>
M& Sequential<T>::get(std::size_t i) {
  const std::string call = "Sequential::get<" + detail::type_name(typeid(M)) + ">(" + std::to_string(i) + ")";
  if (i >= layers_.size())
    throw std::out_of_range(call + ": index out of range for " + std::to_string(layers_.size()) + " layers");
  if (M* typed = dynamic_cast<M*>(layers_[i].get())) return *typed;
  throw std::invalid_argument(detail::wrong_module_type(call, "layer " + std::to_string(i), layers_[i]->describe(),
                                                        typeid(*layers_[i]), typeid(M)));
}

// Parameters of a module replaced by other Variables for a scope, put back at
// its end (also when an exception leaves it). Every submodule that holds a
// replaced parameter (a shared one is held twice) sees the replacement. The
// names are named_parameters()' dotted names; an unknown or repeated name, an
// undefined Variable or a shape other than the parameter's is an error (naming
// it) before anything is replaced. functional_call is the usual way in.
template <class T>
class ParameterSwap {
 public:
  ParameterSwap(Module<T>& model, const std::vector<NamedParameter<T>>& replacements, const std::string& call);
  ~ParameterSwap();
  ParameterSwap(const ParameterSwap&) = delete;
  ParameterSwap& operator=(const ParameterSwap&) = delete;

 private:
  std::vector<std::pair<Variable<T>*, Variable<T>>> originals_;  // slot, what it held
};

// The module's output with some parameters replaced by other Variables, as
// torch.func.functional_call: gradients flow to the replacements (which may be
// computed, w - lr * g for meta-learning), the module's own parameters are not
// used and are back in place afterwards, even if forward throws.
//   Variable<double> w(Array<double>(...), true);
//   auto y = nn::functional_call(model, {{"0.weight", w}}, x);
// Buffers cannot be replaced. Modules that read their parameters through
// registered_parameter() (all of wengert's) see the replacements.
template <class T>
Variable<T> functional_call(Module<T>& model, const std::vector<NamedParameter<T>>& replacements,
                            const Variable<T>& input);
// Several inputs and outputs (forward_values), e.g. an LSTM's {x, h0, c0}.
template <class T>
std::vector<Variable<T>> functional_call_values(Module<T>& model, const std::vector<NamedParameter<T>>& replacements,
                                                const std::vector<Variable<T>>& inputs);

}  // namespace nn
