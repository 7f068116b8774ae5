// Recurrent cells: one LSTM step (PyTorch's torch.nn.LSTM equations and gate
// order i, f, g, o) as three fused ops. Written with split, sigmoid, tanh and
// products, a step is thirteen ops (four slices, three sigmoids, two tanh, three
// products, a sum), each with its own pass back; these are three each way.
//
//   a  = lstm_gates(z)       [sigma(z_i), sigma(z_f), tanh(z_g), sigma(z_o)]   z: (batch, 4 hidden)
//   c' = lstm_state(a, c)    a_f c + a_i a_g                                   c: (batch, hidden)
//   h' = lstm_output(a, c')  a_o tanh(c')
//
// lstm_layer runs a whole layer over a sequence as one op (below).
#pragma once

#include "variable.hpp"

namespace autodiff {

// The four gates of an LSTM step from their pre-activations z = x W_ih^T + h W_hh^T + b
// of shape (batch, 4 hidden): the sigmoid of the i, f and o quarters, the tanh of g.
template <class T> Variable<T> lstm_gates(const Variable<T>& z);
// lstm_gates' vector-Jacobian product g * [a (1 - a), a (1 - a), 1 - a^2, a (1 - a)]
// as an op of its own (as sigmoid_backward), so the gates have a second derivative.
template <class T> Variable<T> lstm_gates_backward(const Variable<T>& g, const Variable<T>& a);
// The new cell state a_f c + a_i a_g, from the gates a (batch, 4 hidden) and the cell state c.
template <class T> Variable<T> lstm_state(const Variable<T>& a, const Variable<T>& c);
// The new hidden state a_o tanh(c), from the gates and the new cell state c.
template <class T> Variable<T> lstm_output(const Variable<T>& a, const Variable<T>& c);

template <class T>
struct LstmStep {
  Variable<T> h, c;
};
// One LSTM step from the gates' pre-activations z and the cell state c.
template <class T>
LstmStep<T> lstm_cell(const Variable<T>& z, const Variable<T>& c) {
  const Variable<T> a = lstm_gates(z);
  Variable<T> c_next = lstm_state(a, c);
  return {lstm_output(a, c_next), c_next};
}

// A whole LSTM layer over a sequence as one op, as cuDNN and LibTorch's CPU LSTM:
// the input projection of all steps is one product, each step one product
// h W_hh^T added to it and one pass for gates, state and output; the backward pass
// runs through time with a product per step, then each weight gradient is one
// product over all steps. The same equations as lstm_cell step by step.
//   x (batch, time, input), time >= 1; w_ih (4 hidden, input); w_hh (4 hidden, hidden);
//   b (4 hidden): b_ih + b_hh; h0, c0 (batch, hidden), both or neither (zeros).
template <class T>
struct LstmLayer {
  Variable<T> output;  // (batch, time, hidden): h at every step
  Variable<T> h, c;    // (batch, hidden): the last step's h and c
};
template <class T>
LstmLayer<T> lstm_layer(const Variable<T>& x, const Variable<T>& w_ih, const Variable<T>& w_hh, const Variable<T>& b,
                        const Variable<T>& h0 = Variable<T>(), const Variable<T>& c0 = Variable<T>());

}  // namespace autodiff
