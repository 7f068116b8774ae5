// The LSTM step's fused ops: value, then backward closure (g = dC/d out).
//
// lstm_state's and lstm_output's closures have two forms of one formula. A
// plain backward() runs a loop over the rows (one pass, no temporaries); a
// sweep with create_graph writes the same formula in differentiable ops, so
// that it is recorded and can be differentiated again. The gradient table runs
// both (tests/autodiff/gradients_test.cpp: recorded against plain).
#include "recurrent.hpp"

#include <memory>
#include <string>

#include "activation.hpp"
#include "detail/vector_math.hpp"
#include "elementwise.hpp"
#include "op.hpp"
#include "shape.hpp"

namespace autodiff {

namespace {

// The hidden size of gates a (batch, 4 hidden), after checking a and the state c
// (batch, hidden) against each other; `call` names the function the user called.
std::size_t hidden_size(const char* call, const Shape& gates, const Shape* state = nullptr) {
  if (gates.size() != 2 || gates[1] % 4 != 0)
    throw ShapeError(std::string(call) + ": gates of shape " + to_string(gates) +
                     "; expected (batch, 4 hidden): the i, f, g and o gates side by side");
  const std::size_t hidden = gates[1] / 4;
  if (state && (state->size() != 2 || (*state)[0] != gates[0] || (*state)[1] != hidden))
    throw ShapeError(std::string(call) + ": cell state of shape " + to_string(*state) + " for gates of shape " +
                     to_string(gates) + "; expected (" + std::to_string(gates[0]) + ", " + std::to_string(hidden) + ")");
  return hidden;
}

// Where the i, f, g columns (count 3) or the o column (start 3) lie in the gates.
SliceRegion gate_columns(const Shape& gates, std::size_t start, std::size_t count) {
  const std::size_t hidden = gates[1] / 4;
  return SliceRegion{gates[0], gates[1], 1, start * hidden, count * hidden, 1};
}

// 1 over the sigmoid gates' columns, 0 over tanh's (g): d/da of lstm_gates_backward is g (mask - 2 a).
template <class T>
Variable<T> sigmoid_columns(std::size_t hidden) {
  Array<T> mask = Array<T>::from_shape({4 * hidden});
  std::fill(mask.begin(), mask.end(), T(1));
  std::fill_n(mask.begin() + 2 * hidden, hidden, T(0));
  return Variable<T>(std::move(mask));
}

}  // namespace

template <class T>
Variable<T> lstm_gates(const Variable<T>& z) {
  static const OpInfo op{"lstm_gates", "dz = lstm_gates_backward(g, y)"};
  const std::size_t hidden = hidden_size("lstm_gates", z.shape());
  Array<T> a = Array<T>::from_shape(z.shape());
  for (std::size_t row = 0; row < z.shape()[0]; ++row) {
    const T* in = z.value().data() + row * 4 * hidden;
    T* out = a.data() + row * 4 * hidden;
    detail::sigmoid_of(in, out, 2 * hidden);                           // i, f
    detail::tanh_of(in + 2 * hidden, out + 2 * hidden, hidden);        // g
    detail::sigmoid_of(in + 3 * hidden, out + 3 * hidden, hidden);     // o
  }
  return record<T>(op, std::move(a), {z}, [](Backward<T>& d) { d.add_grad(0, lstm_gates_backward(d.g, d.output())); });
}

template <class T>
Variable<T> lstm_gates_backward(const Variable<T>& g, const Variable<T>& a) {
  static const OpInfo op{"lstm_gates_backward", "dg = lstm_gates_backward(gg, a), da = gg g ([1, 1, 0, 1] - 2 a)"};
  const std::size_t hidden = hidden_size("lstm_gates_backward", a.shape());
  if (!detail::same_shape(g.shape(), a.shape()))
    throw ShapeError("lstm_gates_backward: gradient of shape " + to_string(g.shape()) + " for gates of shape " +
                     to_string(a.shape()));
  Array<T> dz = Array<T>::from_shape(a.shape());
  const T *pg = g.value().data(), *pa = a.value().data();
  T* out = dz.data();
  for (std::size_t row = 0; row < a.shape()[0]; ++row)
    for (std::size_t gate = 0; gate < 4; ++gate, pg += hidden, pa += hidden, out += hidden)
      if (gate == 2)
        for (std::size_t j = 0; j < hidden; ++j) out[j] = pg[j] * (T(1) - pa[j] * pa[j]);  // tanh'
      else
        for (std::size_t j = 0; j < hidden; ++j) out[j] = pg[j] * pa[j] * (T(1) - pa[j]);  // sigmoid'
  return record<T>(op, std::move(dz), {g, a}, [hidden](Backward<T>& d) {
    const Variable<T> a = d.input(1);
    if (d.needs_grad(0)) d.add_grad(0, lstm_gates_backward(d.g, a));
    if (d.needs_grad(1)) d.add_grad(1, d.g * d.input(0) * (sigmoid_columns<T>(hidden) - T(2) * a));
  });
}

template <class T>
Variable<T> lstm_state(const Variable<T>& a, const Variable<T>& c) {
  static const OpInfo op{"lstm_state", "da_i = g a_g, da_f = g c, da_g = g a_i, dc = g a_f"};
  const std::size_t hidden = hidden_size("lstm_state", a.shape(), &c.shape());
  const std::size_t rows = a.shape()[0];
  Array<T> c_next = Array<T>::from_shape(c.shape());
  for (std::size_t row = 0; row < rows; ++row) {
    const T* i = a.value().data() + row * 4 * hidden;
    const T *f = i + hidden, *g = i + 2 * hidden, *cv = c.value().data() + row * hidden;
    T* out = c_next.data() + row * hidden;
    for (std::size_t j = 0; j < hidden; ++j) out[j] = f[j] * cv[j] + i[j] * g[j];
  }
  return record<T>(op, std::move(c_next), {a, c}, [hidden, rows](Backward<T>& d) {
    const Variable<T> a = d.input(0), c = d.input(1);
    Variable<T> da_ifg, dc;  // da over the i, f, g columns (batch, 3 hidden); dc
    if (grad_enabled()) {  // recorded: the formula in differentiable ops
      const auto gate = split(a, long(hidden), 1);
      if (d.needs_grad(0)) da_ifg = concatenate({d.g * gate[2], d.g * c, d.g * gate[0]}, 1);
      if (d.needs_grad(1)) dc = d.g * gate[1];
    } else {
      Array<T> da = Array<T>::from_shape({rows, 3 * hidden}), dcv = Array<T>::from_shape({rows, hidden});
      for (std::size_t row = 0; row < rows; ++row) {
        const T* i = a.value().data() + row * 4 * hidden;
        const T *f = i + hidden, *gg = i + 2 * hidden, *cv = c.value().data() + row * hidden;
        const T* g = d.g.value().data() + row * hidden;
        T *di = da.data() + row * 3 * hidden, *df = di + hidden, *dg = di + 2 * hidden, *dcr = dcv.data() + row * hidden;
        for (std::size_t j = 0; j < hidden; ++j) {
          di[j] = g[j] * gg[j];
          df[j] = g[j] * cv[j];
          dg[j] = g[j] * i[j];
          dcr[j] = g[j] * f[j];
        }
      }
      da_ifg = Variable<T>(std::move(da));
      dc = Variable<T>(std::move(dcv));
    }
    const SliceRegion columns = gate_columns(a.shape(), 0, 3);
    d.add_grad_slice(0, da_ifg, columns, [&] { return slice_backward(da_ifg, 1, 0, columns.length); });
    if (d.needs_grad(1)) d.add_grad(1, dc);
  });
}

template <class T>
Variable<T> lstm_output(const Variable<T>& a, const Variable<T>& c) {
  static const OpInfo op{"lstm_output", "da_o = g tanh(c), dc = tanh_backward(g a_o, tanh(c))"};
  const std::size_t hidden = hidden_size("lstm_output", a.shape(), &c.shape());
  const std::size_t rows = a.shape()[0];
  // tanh(c), kept for the plain backward
  auto tanh_c = std::make_shared<Array<T>>(Array<T>::from_shape(c.shape()));
  detail::tanh_of(c.value().data(), tanh_c->data(), c.size());
  Array<T> h = Array<T>::from_shape(c.shape());
  for (std::size_t row = 0; row < rows; ++row) {
    const T *o = a.value().data() + row * 4 * hidden + 3 * hidden, *t = tanh_c->data() + row * hidden;
    T* out = h.data() + row * hidden;
    for (std::size_t j = 0; j < hidden; ++j) out[j] = o[j] * t[j];
  }
  return record<T>(op, std::move(h), {a, c}, [hidden, rows, tanh_c](Backward<T>& d) {
    const Variable<T> a = d.input(0), c = d.input(1);
    Variable<T> da_o, dc;
    if (grad_enabled()) {  // recorded: the formula in differentiable ops
      const Variable<T> t = tanh(c), o = split(a, long(hidden), 1)[3];
      if (d.needs_grad(0)) da_o = d.g * t;
      if (d.needs_grad(1)) dc = tanh_backward(d.g * o, t);
    } else {
      Array<T> dav = Array<T>::from_shape({rows, hidden}), dcv = Array<T>::from_shape({rows, hidden});
      for (std::size_t row = 0; row < rows; ++row) {
        const T *o = a.value().data() + row * 4 * hidden + 3 * hidden, *t = tanh_c->data() + row * hidden;
        const T* g = d.g.value().data() + row * hidden;
        T *dor = dav.data() + row * hidden, *dcr = dcv.data() + row * hidden;
        for (std::size_t j = 0; j < hidden; ++j) {
          dor[j] = g[j] * t[j];
          dcr[j] = g[j] * o[j] * (T(1) - t[j] * t[j]);
        }
      }
      da_o = Variable<T>(std::move(dav));
      dc = Variable<T>(std::move(dcv));
    }
    const SliceRegion column = gate_columns(a.shape(), 3, 1);
    d.add_grad_slice(0, da_o, column, [&] { return slice_backward(da_o, 1, column.start, column.length); });
    if (d.needs_grad(1)) d.add_grad(1, dc);
  });
}

#define WENGERT_INSTANTIATE(T)                                                        \
  template Variable<T> lstm_gates(const Variable<T>&);                                \
  template Variable<T> lstm_gates_backward(const Variable<T>&, const Variable<T>&);   \
  template Variable<T> lstm_state(const Variable<T>&, const Variable<T>&);            \
  template Variable<T> lstm_output(const Variable<T>&, const Variable<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
