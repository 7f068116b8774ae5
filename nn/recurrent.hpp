// Recurrent layers: Elman RNN, LSTM and GRU, batch-first, several layers, with
// PyTorch's equations, gate order and parameter names and shapes, so that a
// LibTorch state dict loads by name and gives the same outputs. Composed of
// autodiff ops: their gradients come from the tape.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "module.hpp"

namespace nn {

// A recurrent layer's state, shaped (num_layers, batch, hidden) as PyTorch's:
// h is torch's h_0 / h_n, c is the LSTM's c_0 / c_n (torch passes them as the
// tuple (h, c); an RNN and a GRU have h only, and c stays empty). An empty h
// (default-constructed) means zeros, as torch's hx=None; an LSTM takes both or neither.
template <class T>
struct RecurrentState {
  Variable<T> h;
  Variable<T> c;
};

// What forward_with_state returns: torch's (output, h_n) or (output, (h_n, c_n)),
// as `auto [output, state] = lstm.forward_with_state(x, state);`.
template <class T>
struct RecurrentOutput {
  Variable<T> output;  // (batch, time, hidden): the last layer's h at every step
  RecurrentState<T> state;  // the final state of every layer
};

enum class RecurrentKind { rnn_tanh, rnn_relu, lstm, gru };

// The common part of RNN, LSTM and GRU. Input x of shape (batch, time, input),
// time >= 1 (batch_first=True in torch). Layer l has the parameters weight_ih_l{l}
// (gates * hidden, input or hidden), weight_hh_l{l} (gates * hidden, hidden),
// bias_ih_l{l} and bias_hh_l{l} (gates * hidden), gates = 1, 4, 3, drawn from
// U(-1/sqrt(hidden), 1/sqrt(hidden)) as PyTorch. An LSTM layer is one fused op
// (autodiff::lstm_layer); the RNN and the GRU are composed step by step, each step's
// input projection a product of its own.
// Differences from torch: no dropout between layers, no bidirectional, no proj_size,
// no unbatched 2-D input (a ShapeError; unsqueeze(x, 0) it).
template <class T = float>
class Recurrent : public Module<T> {
 public:
  // The output sequence (batch, time, hidden), from a zero initial state: what a
  // Sequential passes on.
  Variable<T> forward(const Variable<T>& x) override;
  RecurrentOutput<T> forward_with_state(const Variable<T>& x, const RecurrentState<T>& state = {});
  // {x}, {x, h0} or (LSTM) {x, h0, c0} -> {output, h_n} or (LSTM) {output, h_n, c_n}.
  std::vector<Variable<T>> forward_values(const std::vector<Variable<T>>& inputs) override;
  std::string describe() const override;

  // torch's rnn.weight_ih_l0 and so on; layer < num_layers (else std::out_of_range).
  Variable<T>& weight_ih(std::size_t layer) { return parameter(layer, 0); }
  Variable<T>& weight_hh(std::size_t layer) { return parameter(layer, 1); }
  Variable<T>& bias_ih(std::size_t layer) { return parameter(layer, 2); }
  Variable<T>& bias_hh(std::size_t layer) { return parameter(layer, 3); }
  std::size_t input_size() const { return input_; }
  std::size_t hidden_size() const { return hidden_; }
  std::size_t num_layers() const { return layers_; }
  RecurrentKind kind() const { return kind_; }

 protected:
  Recurrent(RecurrentKind kind, std::size_t input_size, std::size_t hidden_size, std::size_t num_layers);

 private:
  Variable<T>& parameter(std::size_t layer, std::size_t which);
  void check(const Variable<T>& x, const RecurrentState<T>& state);
  RecurrentOutput<T> forward_lstm(const Variable<T>& x, const RecurrentState<T>& state);
  std::string name() const;
  RecurrentKind kind_;
  std::size_t input_, hidden_, layers_;
};

enum class Nonlinearity { tanh, relu };

// Elman RNN (torch.nn.RNN): h_t = tanh(x_t W_ih^T + b_ih + h_(t-1) W_hh^T + b_hh), or relu.
template <class T = float>
class RNN : public Recurrent<T> {
 public:
  RNN(std::size_t input_size, std::size_t hidden_size, std::size_t num_layers = 1,
      Nonlinearity nonlinearity = Nonlinearity::tanh)
      : Recurrent<T>(nonlinearity == Nonlinearity::tanh ? RecurrentKind::rnn_tanh : RecurrentKind::rnn_relu,
                     input_size, hidden_size, num_layers) {}
};

// LSTM (torch.nn.LSTM), the gates stacked in the order i, f, g, o:
// i = sigma(x W_ii^T + b_ii + h W_hi^T + b_hi), f = sigma(..), g = tanh(..), o = sigma(..),
// c' = f c + i g, h' = o tanh(c').
template <class T = float>
class LSTM : public Recurrent<T> {
 public:
  LSTM(std::size_t input_size, std::size_t hidden_size, std::size_t num_layers = 1)
      : Recurrent<T>(RecurrentKind::lstm, input_size, hidden_size, num_layers) {}
};

// GRU (torch.nn.GRU), the gates stacked in the order r, z, n:
// r = sigma(x W_ir^T + b_ir + h W_hr^T + b_hr), z = sigma(..),
// n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)), h' = (1 - z) n + z h.
template <class T = float>
class GRU : public Recurrent<T> {
 public:
  GRU(std::size_t input_size, std::size_t hidden_size, std::size_t num_layers = 1)
      : Recurrent<T>(RecurrentKind::gru, input_size, hidden_size, num_layers) {}
};

}  // namespace nn
