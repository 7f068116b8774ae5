// The LSTM step's fused ops: value, then backward closure (g = dC/d out).
//
// lstm_state's and lstm_output's closures have two forms of one formula. A
// plain backward() runs a loop over the rows (one pass, no temporaries); a
// sweep with create_graph writes the same formula in differentiable ops, so
// that it is recorded and can be differentiated again. The gradient table runs
// both (tests/autodiff/gradients_test.cpp: recorded against plain).
#include "recurrent.hpp"

#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "activation.hpp"
#include "detail/vector_math.hpp"
#include "elementwise.hpp"
#include "linalg.hpp"
#include "op.hpp"
#include "reduction.hpp"
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

// ---------------------------------------------------------------- lstm_layer

namespace {

struct LayerSizes {
  std::size_t batch, time, input, hidden;
};

// Checks lstm_layer's arguments against each other (the hidden size is w_hh's).
template <class T>
LayerSizes layer_sizes(const Variable<T>& x, const Variable<T>& w_ih, const Variable<T>& w_hh, const Variable<T>& b,
                       const Variable<T>& h0, const Variable<T>& c0) {
  const char* names[] = {"x", "w_ih", "w_hh", "b"};
  const Variable<T>* required[] = {&x, &w_ih, &w_hh, &b};
  for (std::size_t i = 0; i < 4; ++i)
    if (!required[i]->defined()) throw std::invalid_argument(std::string("lstm_layer: ") + names[i] + " is an empty Variable");
  if (h0.defined() != c0.defined())
    throw std::invalid_argument(std::string("lstm_layer: was given ") + (h0.defined() ? "h0 but no c0" : "c0 but no h0") +
                                "; the initial state is both h0 and c0, or neither (zeros)");
  const auto fail = [](const std::string& what) { throw ShapeError("lstm_layer: " + what); };
  const Shape& ws = w_hh.shape();
  if (ws.size() != 2 || ws[0] != 4 * ws[1])
    fail("w_hh of shape " + to_string(ws) + "; expected (4 hidden, hidden): the i, f, g and o gates' rows");
  const std::size_t hidden = ws[1];
  const Shape& xs = x.shape();
  if (xs.size() != 3 || xs[1] == 0)
    fail("x of shape " + to_string(xs) + "; expected (batch, time, input) with time >= 1");
  const LayerSizes n{xs[0], xs[1], xs[2], hidden};
  // BLAS takes int sizes and strides: batch time rows, time 4 hidden between a row's steps
  const std::size_t most = std::size_t(std::numeric_limits<int>::max());
  if (n.batch * n.time > most || n.time * 4 * hidden > most || n.input > most)
    fail("x of shape " + to_string(xs) + " and w_hh of shape " + to_string(ws) +
         ": batch time or time 4 hidden is past BLAS's int sizes");
  const auto expect = [&](const Variable<T>& v, const char* name, const Shape& shape) {
    if (!detail::same_shape(v.shape(), shape))
      fail(std::string(name) + " of shape " + to_string(v.shape()) + " for x of shape " + to_string(xs) +
           " and w_hh of shape " + to_string(ws) + "; expected " + to_string(shape));
  };
  expect(w_ih, "w_ih", {4 * hidden, n.input});
  expect(b, "b", {4 * hidden});
  if (h0.defined()) {
    expect(h0, "h0", {n.batch, hidden});
    expect(c0, "c0", {n.batch, hidden});
  }
  return n;
}

// One batch row of a step, on the gates a = [i, f, g, o] (4 hidden) of that row: the
// loops apart from the arrays, with restrict, so that the compiler vectorises them.
// c = f c_prev + i g
template <class T>
void step_state_row(std::size_t H, const T* __restrict a, const T* __restrict c_prev, T* __restrict c) {
  for (std::size_t j = 0; j < H; ++j) c[j] = a[H + j] * c_prev[j] + a[j] * a[2 * H + j];
}
// h = o tanh(c)
template <class T>
void step_output_row(std::size_t H, const T* __restrict o, const T* __restrict tanh_c, T* __restrict h) {
  for (std::size_t j = 0; j < H; ++j) h[j] = o[j] * tanh_c[j];
}
// The step backward: dz from dC/dh_t (dh) and dC/dc_t (dc, then replaced by dC/dc_(t-1)).
template <class T>
void step_backward_row(std::size_t H, const T* __restrict a, const T* __restrict tanh_c, const T* __restrict c_prev,
                       const T* __restrict dh, T* __restrict dc, T* __restrict dz) {
  const T *i = a, *f = a + H, *g = a + 2 * H, *o = a + 3 * H;
  for (std::size_t j = 0; j < H; ++j) {
    const T t = tanh_c[j];
    const T dc_t = dc[j] + dh[j] * o[j] * (T(1) - t * t);  // through h_t too
    dz[j] = dc_t * g[j] * i[j] * (T(1) - i[j]);
    dz[H + j] = dc_t * c_prev[j] * f[j] * (T(1) - f[j]);
    dz[2 * H + j] = dc_t * i[j] * (T(1) - g[j] * g[j]);
    dz[3 * H + j] = dh[j] * t * o[j] * (T(1) - o[j]);
    dc[j] = dc_t * f[j];
  }
}

// What the plain backward pass reads, batch-first like x: row (b, t) of each.
template <class T>
struct LayerTrace {
  Array<T> gates;      // (batch, time, 4 hidden): lstm_gates of step t
  Array<T> cell;       // (batch, time, hidden): c_t
  Array<T> tanh_cell;  // tanh(c_t)
  Array<T> h_prev;     // (batch, time, hidden): h_(t-1), h0 (or 0) at t = 0; dW_hh is one product with it
};

// The VJP of lstm_layer without recording: backpropagation through time on the
// trace, the gates' gradients dz of all steps kept for one product per weight.
// g (batch, time + 1, hidden) is dC/dh_t for t < time, then dC/dc_T.
template <class T>
void lstm_layer_vjp(Backward<T>& d, const LayerTrace<T>& trace, const LayerSizes& n) {
  const std::size_t B = n.batch, S = n.time, H = n.hidden, G = 4 * H;
  const bool has_state = d.inputs() == 6;
  const T* g = d.g.value().data();
  const T* w_hh = d.input(2).value().data();
  const T* c0 = has_state ? d.input(5).value().data() : nullptr;
  Array<T> dz = Array<T>::from_shape({B, S, G});
  Array<T> dh = Array<T>::from_shape({B, H}), dc = Array<T>::from_shape({B, H});  // dC/dh_t, dC/dc_t
  const std::vector<T> zero_row(H, T(0));  // c0 when none was given
  for (std::size_t r = 0; r < B; ++r) {
    std::copy_n(g + (r * (S + 1) + S - 1) * H, H, dh.data() + r * H);
    std::copy_n(g + (r * (S + 1) + S) * H, H, dc.data() + r * H);
  }
  for (std::size_t t = S; t-- > 0;) {
    for (std::size_t r = 0; r < B; ++r) {
      const std::size_t row = r * S + t;
      const T* c_prev = t > 0 ? trace.cell.data() + (row - 1) * H : c0 ? c0 + r * H : zero_row.data();
      step_backward_row(H, trace.gates.data() + row * G, trace.tanh_cell.data() + row * H, c_prev, dh.data() + r * H,
                        dc.data() + r * H, dz.data() + row * G);
    }
    if (t > 0) {  // dC/dh_(t-1) = g_(t-1) + dz_t W_hh
      for (std::size_t r = 0; r < B; ++r) std::copy_n(g + (r * (S + 1) + t - 1) * H, H, dh.data() + r * H);
      detail::gemm_raw(false, false, B, H, G, dz.data() + t * G, S * G, w_hh, H, T(1), dh.data(), H);
    }
  }
  if (has_state && d.needs_grad(4)) {
    detail::gemm_raw(false, false, B, H, G, dz.data(), S * G, w_hh, H, T(0), dh.data(), H);
    d.add_grad(4, Variable<T>(std::move(dh)));
  }
  if (has_state && d.needs_grad(5)) d.add_grad(5, Variable<T>(std::move(dc)));
  const std::size_t rows = B * S;  // all steps at once from here on
  if (d.needs_grad(0)) {  // dx = dz W_ih
    Array<T> dx = Array<T>::from_shape({B, S, n.input});
    detail::gemm_raw(false, false, rows, n.input, G, dz.data(), G, d.input(1).value().data(), n.input, T(0), dx.data(), n.input);
    d.add_grad(0, Variable<T>(std::move(dx)));
  }
  if (d.needs_grad(1)) {  // dW_ih = dz^T x
    Array<T> dw = Array<T>::from_shape({G, n.input});
    detail::gemm_raw(true, false, G, n.input, rows, dz.data(), G, d.input(0).value().data(), n.input, T(0), dw.data(), n.input);
    d.add_grad(1, Variable<T>(std::move(dw)));
  }
  if (d.needs_grad(2)) {  // dW_hh = dz^T h_prev
    Array<T> dw = Array<T>::from_shape({G, H});
    detail::gemm_raw(true, false, G, H, rows, dz.data(), G, trace.h_prev.data(), H, T(0), dw.data(), H);
    d.add_grad(2, Variable<T>(std::move(dw)));
  }
  if (d.needs_grad(3)) {  // db = the sum of dz's rows
    Array<T> db = Array<T>::from_shape({G});
    std::fill_n(db.data(), G, T(0));
    for (std::size_t row = 0; row < rows; ++row) {
      const T* dzr = dz.data() + row * G;
      for (std::size_t j = 0; j < G; ++j) db.data()[j] += dzr[j];
    }
    d.add_grad(3, Variable<T>(std::move(db)));
  }
}

// The same VJP in differentiable ops (create_graph), so that it has derivatives of its
// own: the forward pass again step by step with lstm_cell's ops, for the gates and
// states the VJP reads as functions of the inputs, then the steps of lstm_layer_vjp.
template <class T>
void lstm_layer_vjp_recorded(Backward<T>& d, const LayerSizes& n) {
  const std::size_t B = n.batch, S = n.time, H = n.hidden;
  const Variable<T> x = d.input(0), w_ih = d.input(1), w_hh = d.input(2);
  const Variable<T> x_rows = reshape(x, {B * S, n.input});
  const Variable<T> projected = reshape(affine(x_rows, transpose(w_ih), d.input(3)), {B, S, 4 * H});
  const bool has_state = d.inputs() == 6;
  const Variable<T> zeros(Array<T>(xt::zeros<T>({B, H})));
  std::vector<Variable<T>> gates(S), h_prev(S), cells(S + 1);  // cells[t] = c_(t-1)
  Variable<T> h = has_state ? d.input(4) : zeros;
  cells[0] = has_state ? d.input(5) : zeros;
  for (std::size_t t = 0; t < S; ++t) {
    h_prev[t] = h;
    gates[t] = lstm_gates(select(projected, 1, long(t)) + matmul(h, w_hh, {.transpose_b = true}));
    cells[t + 1] = lstm_state(gates[t], cells[t]);
    h = lstm_output(gates[t], cells[t + 1]);
  }
  Variable<T> dh = select(d.g, 1, long(S) - 1), dc = select(d.g, 1, long(S));
  std::vector<Variable<T>> dz(S);
  for (std::size_t t = S; t-- > 0;) {
    const auto gate = split(gates[t], long(H), 1);  // i, f, g, o
    const Variable<T> tc = tanh(cells[t + 1]);
    dc = dc + tanh_backward(dh * gate[3], tc);
    dz[t] = lstm_gates_backward(concatenate({dc * gate[2], dc * cells[t], dc * gate[0], dh * tc}, 1), gates[t]);
    dc = dc * gate[1];
    dh = matmul(dz[t], w_hh);
    if (t > 0) dh = dh + select(d.g, 1, long(t) - 1);
  }
  const Variable<T> dz_rows = reshape(stack(dz, 1), {B * S, 4 * H});
  if (d.needs_grad(0)) d.add_grad(0, reshape(matmul(dz_rows, w_ih), x.shape()));
  if (d.needs_grad(1)) d.add_grad(1, matmul(dz_rows, x_rows, {.transpose_a = true}));
  if (d.needs_grad(2))
    d.add_grad(2, matmul(dz_rows, reshape(stack(h_prev, 1), {B * S, H}), {.transpose_a = true}));
  if (d.needs_grad(3)) d.add_grad(3, sum(dz_rows, 0));
  if (has_state && d.needs_grad(4)) d.add_grad(4, dh);
  if (has_state && d.needs_grad(5)) d.add_grad(5, dc);
}

// The layer as one op whose value packs its outputs: (batch, time + 1, hidden), h_t at
// step t < time, then c_T (lstm_layer takes them apart as slices).
template <class T>
Variable<T> lstm_layer_packed(const Variable<T>& x, const Variable<T>& w_ih, const Variable<T>& w_hh,
                              const Variable<T>& b, const Variable<T>& h0, const Variable<T>& c0, const LayerSizes& n) {
  static const OpInfo op{"lstm_layer",
                         "backpropagation through time: per step dz_t = lstm_gates_backward(da_t, a_t), "
                         "dh_(t-1) = g_(t-1) + dz_t W_hh; dx = dz W_ih, dW_ih = dz^T x, dW_hh = dz^T h_prev, db = sum dz"};
  const std::size_t B = n.batch, S = n.time, H = n.hidden, G = 4 * H;
  auto trace = std::make_shared<LayerTrace<T>>();
  trace->gates = Array<T>::from_shape({B, S, G});
  trace->cell = Array<T>::from_shape({B, S, H});
  trace->tanh_cell = Array<T>::from_shape({B, S, H});
  trace->h_prev = Array<T>::from_shape({B, S, H});
  T* a = trace->gates.data();  // first the pre-activations x W_ih^T + b + h W_hh^T, then the gates
  for (std::size_t row = 0; row < B * S; ++row) std::copy_n(b.value().data(), G, a + row * G);
  detail::gemm_raw(false, true, B * S, G, n.input, x.value().data(), n.input, w_ih.value().data(), n.input, T(1), a, G);
  const T* h0v = h0.defined() ? h0.value().data() : nullptr;
  const T* c0v = c0.defined() ? c0.value().data() : nullptr;
  for (std::size_t r = 0; r < B; ++r) {
    T* first = trace->h_prev.data() + r * S * H;
    if (h0v) std::copy_n(h0v + r * H, H, first);
    else std::fill_n(first, H, T(0));
  }
  Array<T> out = Array<T>::from_shape({B, S + 1, H});
  const std::vector<T> zero_row(H, T(0));  // c0 when none was given
  for (std::size_t t = 0; t < S; ++t) {
    if (t > 0 || h0v)  // + h_(t-1) W_hh^T on step t's rows
      detail::gemm_raw(false, true, B, G, H, trace->h_prev.data() + t * H, S * H, w_hh.value().data(), H, T(1), a + t * G, S * G);
    for (std::size_t r = 0; r < B; ++r) {
      const std::size_t row = r * S + t;
      T* z = a + row * G;
      detail::sigmoid_of(z, z, 2 * H);              // i, f
      detail::tanh_of(z + 2 * H, z + 2 * H, H);     // g
      detail::sigmoid_of(z + 3 * H, z + 3 * H, H);  // o
      const T* c_prev = t > 0 ? trace->cell.data() + (row - 1) * H : c0v ? c0v + r * H : zero_row.data();
      T *c = trace->cell.data() + row * H, *tc = trace->tanh_cell.data() + row * H;
      T* h = out.data() + (r * (S + 1) + t) * H;
      step_state_row(H, z, c_prev, c);
      detail::tanh_of(c, tc, H);
      step_output_row(H, z + 3 * H, tc, h);
      if (t + 1 < S) std::copy_n(h, H, trace->h_prev.data() + (row + 1) * H);
    }
  }
  for (std::size_t r = 0; r < B; ++r)
    std::copy_n(trace->cell.data() + (r * S + S - 1) * H, H, out.data() + (r * (S + 1) + S) * H);
  std::vector<Variable<T>> inputs{x, w_ih, w_hh, b};
  if (h0.defined()) inputs.insert(inputs.end(), {h0, c0});
  return record<T>(op, std::move(out), inputs, [trace, n](Backward<T>& d) {
    if (grad_enabled())
      lstm_layer_vjp_recorded(d, n);
    else
      lstm_layer_vjp(d, *trace, n);
  });
}

}  // namespace

template <class T>
LstmLayer<T> lstm_layer(const Variable<T>& x, const Variable<T>& w_ih, const Variable<T>& w_hh, const Variable<T>& b,
                        const Variable<T>& h0, const Variable<T>& c0) {
  const LayerSizes n = layer_sizes(x, w_ih, w_hh, b, h0, c0);
  const Variable<T> packed = lstm_layer_packed(x, w_ih, w_hh, b, h0, c0, n);
  const long steps = long(n.time);
  return {slice(packed, 1, 0, steps), select(packed, 1, steps - 1), select(packed, 1, steps)};
}

#define WENGERT_INSTANTIATE(T)                                                        \
  template Variable<T> lstm_gates(const Variable<T>&);                                \
  template Variable<T> lstm_gates_backward(const Variable<T>&, const Variable<T>&);   \
  template Variable<T> lstm_state(const Variable<T>&, const Variable<T>&);            \
  template Variable<T> lstm_output(const Variable<T>&, const Variable<T>&);            \
  template LstmLayer<T> lstm_layer(const Variable<T>&, const Variable<T>&, const Variable<T>&, const Variable<T>&, \
                                   const Variable<T>&, const Variable<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
