#include "recurrent.hpp"

#include <cmath>
#include <cstdint>

#include <autodiff/activation.hpp>
#include <autodiff/elementwise.hpp>
#include <autodiff/indexing.hpp>
#include <autodiff/linalg.hpp>
#include <autodiff/recurrent.hpp>
#include <autodiff/shape.hpp>

#include "check.hpp"

namespace nn {

namespace {
std::size_t gate_count(RecurrentKind kind) {
  switch (kind) {
    case RecurrentKind::lstm: return 4;
    case RecurrentKind::gru: return 3;
    default: return 1;
  }
}
}  // namespace

template <class T>
Recurrent<T>::Recurrent(RecurrentKind kind, std::size_t input_size, std::size_t hidden_size, std::size_t num_layers)
    : kind_(kind), input_(input_size), hidden_(hidden_size), layers_(num_layers) {
  if (input_size == 0 || hidden_size == 0 || num_layers == 0)
    throw std::invalid_argument(describe() + ": input size, hidden size and num_layers must be at least 1");
  const std::size_t rows = gate_count(kind) * hidden_size;
  std::size_t count = 0;
  if (!detail::checked_product({rows, std::max(input_size, hidden_size)}, count) || rows / gate_count(kind) != hidden_size)
    throw std::invalid_argument(describe() + ": a weight of " + std::to_string(gate_count(kind)) + " x " +
                                std::to_string(hidden_size) + " rows has more than 2^64 elements");
  const double k = 1 / std::sqrt(double(hidden_size));
  const Initializer init = uniform(-k, k);
  for (std::size_t l = 0; l < num_layers; ++l) {
    const std::string suffix = "_l" + std::to_string(l);
    const std::size_t in = l == 0 ? input_size : hidden_size;
    auto draw = [&](const autodiff::Shape& shape) {
      try {
        return Array<T>(xt::cast<T>(sample(init, shape, in, hidden_size)));
      } catch (const detail::OutOfMemoryIn&) {
        throw;
      } catch (const std::bad_alloc&) {
        std::size_t n = 0;
        detail::checked_product(shape, n);
        throw detail::OutOfMemoryIn(describe() + ": a weight of shape " + autodiff::to_string(shape), n * sizeof(double));
      }
    };
    this->register_parameter("weight_ih" + suffix, Variable<T>(draw({rows, in})));
    this->register_parameter("weight_hh" + suffix, Variable<T>(draw({rows, hidden_size})));
    this->register_parameter("bias_ih" + suffix, Variable<T>(draw({rows})));
    this->register_parameter("bias_hh" + suffix, Variable<T>(draw({rows})));
  }
}

template <class T>
std::string Recurrent<T>::name() const {
  switch (kind_) {
    case RecurrentKind::lstm: return "LSTM";
    case RecurrentKind::gru: return "GRU";
    default: return "RNN";
  }
}

template <class T>
std::string Recurrent<T>::describe() const {
  std::string text = name() + "(" + std::to_string(input_) + " -> " + std::to_string(hidden_);
  if (layers_ != 1) text += ", num_layers=" + std::to_string(layers_);
  if (kind_ == RecurrentKind::rnn_relu) text += ", relu";
  return text + ")";
}

template <class T>
Variable<T>& Recurrent<T>::parameter(std::size_t layer, std::size_t which) {
  if (layer >= layers_)
    throw std::out_of_range(describe() + ": layer " + detail::label_string(layer) + " out of range for " +
                            std::to_string(layers_) + " layers");
  return this->registered_parameter(4 * layer + which);
}

template <class T>
void Recurrent<T>::check(const Variable<T>& x, const RecurrentState<T>& state) {
  using autodiff::Shape;
  using autodiff::ShapeError;
  const std::string me = describe();
  detail::require_defined(me, "the input", x);
  if (x.dimension() != 3 || x.shape()[2] != input_)
    throw ShapeError(me + " got input of shape " + autodiff::to_string(x.shape()) + ", expected (batch, time, " +
                     std::to_string(input_) + ")");
  if (x.shape()[1] == 0)
    throw ShapeError(me + " got input of shape " + autodiff::to_string(x.shape()) + ": an empty sequence (time 0)");
  const std::size_t rows = gate_count(kind_) * hidden_;
  static const char* names[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
  for (std::size_t l = 0; l < layers_; ++l)
    for (std::size_t which = 0; which < 4; ++which) {
      const Variable<T>& p = this->registered_parameter(4 * l + which);
      const std::string label = std::string(names[which]) + "_l" + std::to_string(l);
      detail::require_defined(me, label, p);
      const Shape expected = which == 0 ? Shape{rows, l == 0 ? input_ : hidden_}
                             : which == 1 ? Shape{rows, hidden_}
                                          : Shape{rows};
      if (p.shape() != expected)
        throw ShapeError(me + ": " + label + " has shape " + autodiff::to_string(p.shape()) + " where " +
                         autodiff::to_string(expected) + " is expected");
    }
  const Shape state_shape{layers_, x.shape()[0], hidden_};
  const bool lstm = kind_ == RecurrentKind::lstm;
  if (!lstm && state.c.defined())
    throw std::invalid_argument(me + ": was given a cell state c; only an LSTM has one");
  if (lstm && state.h.defined() != state.c.defined())
    throw std::invalid_argument(me + ": was given " + (state.h.defined() ? "h but no c" : "c but no h") +
                                "; an LSTM's initial state is both h and c, or neither (zeros)");
  auto check_state = [&](const Variable<T>& s, const char* label) {
    if (s.defined() && s.shape() != state_shape)
      throw ShapeError(me + ": the initial state " + label + " has shape " + autodiff::to_string(s.shape()) +
                       ", expected (num_layers, batch, hidden) = " + autodiff::to_string(state_shape));
  };
  check_state(state.h, "h");
  check_state(state.c, "c");
}

template <class T>
RecurrentOutput<T> Recurrent<T>::forward_with_state(const Variable<T>& x, const RecurrentState<T>& state) {
  using autodiff::Shape;
  check(x, state);  // everything is checked before anything is recorded
  const std::size_t batch = x.shape()[0], steps = x.shape()[1], H = hidden_;
  const long hidden = static_cast<long>(H);
  if (kind_ == RecurrentKind::lstm) return forward_lstm(x, state);
  const bool gru = kind_ == RecurrentKind::gru;
  // The RNN and the GRU step by step. The input of step t, (batch, input): x's step t
  // for the first layer, the layer below's h_t for the others. Each step's input
  // projection is its own product, which stays in cache: one product over (batch *
  // time, input) taken apart per step was measured slower (peer_bench lstm,
  // bench/RESULTS.md), as it adds passes over the whole sequence's gates. x(t)'s
  // gradient is added in place (O(time)).
  Variable<T> time_major = autodiff::permute(x, {1, 0, 2});  // (time, batch, input)
  std::vector<Variable<T>> inputs(steps);
  for (std::size_t t = 0; t < steps; ++t) inputs[t] = autodiff::at(time_major, {static_cast<std::int64_t>(t)});
  std::vector<Variable<T>> last_h;
  for (std::size_t l = 0; l < layers_; ++l) {
    Variable<T>& w_hh = weight_hh(l);
    Variable<T>& b_hh = bias_hh(l);
    Variable<T> w_ih_t = autodiff::transpose(weight_ih(l));
    // b_hh joins the input projection's bias except for the GRU, whose n gate
    // multiplies h W_hn^T + b_hn by r
    Variable<T> b = gru ? bias_ih(l) : bias_ih(l) + b_hh;
    Variable<T> w_hh_t = gru ? autodiff::transpose(w_hh) : Variable<T>();
    Variable<T> h = state.h.defined() ? autodiff::at(state.h, {static_cast<std::int64_t>(l)})
                                      : Variable<T>(Array<T>(xt::zeros<T>({batch, H})));
    for (std::size_t t = 0; t < steps; ++t) {
      Variable<T> px = autodiff::affine(inputs[t], w_ih_t, b);
      if (gru) {
        auto xs = autodiff::split(px, hidden, 1);
        auto hs_parts = autodiff::split(autodiff::affine(h, w_hh_t, b_hh), hidden, 1);
        Variable<T> r = autodiff::sigmoid(xs[0] + hs_parts[0]);
        Variable<T> z = autodiff::sigmoid(xs[1] + hs_parts[1]);
        Variable<T> n = autodiff::tanh(xs[2] + r * hs_parts[2]);
        h = n + z * (h - n);  // (1 - z) n + z h
      } else {
        Variable<T> pre = px + autodiff::matmul(h, w_hh, {.transpose_b = true});
        h = kind_ == RecurrentKind::rnn_tanh ? autodiff::tanh(pre) : autodiff::relu(pre);
      }
      inputs[t] = h;  // the next layer's input at step t, and this layer's output
    }
    last_h.push_back(h);
  }
  RecurrentOutput<T> result;
  result.output = autodiff::stack(inputs, 1);  // (batch, time, hidden)
  result.state.h = autodiff::stack(last_h, 0);
  return result;
}

// Each layer as one fused op (autodiff::lstm_layer), the layer below's output as its input.
template <class T>
RecurrentOutput<T> Recurrent<T>::forward_lstm(const Variable<T>& x, const RecurrentState<T>& state) {
  Variable<T> input = x;
  std::vector<Variable<T>> last_h, last_c;
  for (std::size_t l = 0; l < layers_; ++l) {
    Variable<T> h0, c0;
    if (state.h.defined()) {
      const auto layer = static_cast<std::int64_t>(l);
      h0 = autodiff::at(state.h, {layer});
      c0 = autodiff::at(state.c, {layer});
    }
    auto run = autodiff::lstm_layer(input, weight_ih(l), weight_hh(l), bias_ih(l) + bias_hh(l), h0, c0);
    input = run.output;
    last_h.push_back(run.h);
    last_c.push_back(run.c);
  }
  RecurrentOutput<T> result;
  result.output = input;
  result.state.h = autodiff::stack(last_h, 0);
  result.state.c = autodiff::stack(last_c, 0);
  return result;
}

template <class T>
Variable<T> Recurrent<T>::forward(const Variable<T>& x) {
  return forward_with_state(x).output;
}

template <class T>
std::vector<Variable<T>> Recurrent<T>::forward_values(const std::vector<Variable<T>>& inputs) {
  const bool lstm = kind_ == RecurrentKind::lstm;
  const std::size_t most = lstm ? 3 : 2;
  if (inputs.empty() || inputs.size() > most || (lstm && inputs.size() == 2))
    throw std::invalid_argument(describe() + ": forward_values takes " + (lstm ? "{x} or {x, h0, c0}" : "{x} or {x, h0}") +
                                ", got " + std::to_string(inputs.size()) + " values");
  RecurrentState<T> state;
  if (inputs.size() > 1) {
    detail::require_defined(describe(), "h0", inputs[1]);
    state.h = inputs[1];
  }
  if (inputs.size() > 2) {
    detail::require_defined(describe(), "c0", inputs[2]);
    state.c = inputs[2];
  }
  auto [output, final_state] = forward_with_state(inputs[0], state);
  if (lstm) return {output, final_state.h, final_state.c};
  return {output, final_state.h};
}

#define WENGERT_INSTANTIATE(T) template class Recurrent<T>;
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
