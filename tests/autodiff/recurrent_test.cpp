// The fused LSTM ops against the LSTM equations written out with sigmoid, tanh and split.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <xtensor/xmath.hpp>

#include "test_util.hpp"

using namespace autodiff;

namespace {

// One step as PyTorch's torch.nn.LSTM documents it, gate order i, f, g, o.
template <class T>
LstmStep<T> lstm_equations(const Variable<T>& z, const Variable<T>& c) {
  const auto gate = split(z, long(c.shape()[1]), 1);
  const Variable<T> c_next = sigmoid(gate[1]) * c + sigmoid(gate[0]) * tanh(gate[2]);
  return {sigmoid(gate[3]) * tanh(c_next), c_next};
}

template <class T>
Array<T> random(const Shape& shape, unsigned seed, double lo, double hi) {
  return xt::cast<T>(test::random_array(shape, seed, lo, hi));
}

template <class T>
void check_against_equations(T tolerance) {
  const std::size_t batch = 5, hidden = 7;  // 7: a partial SIMD register in every gate
  Variable<T> z(random<T>({batch, 4 * hidden}, 1, -3, 3), true);
  Variable<T> c(random<T>({batch, hidden}, 2, -2, 2), true);
  const auto fused = lstm_cell(z, c);
  const auto reference = lstm_equations(z, c);
  CHECK(xt::allclose(fused.h.value(), reference.h.value(), tolerance, tolerance));
  CHECK(xt::allclose(fused.c.value(), reference.c.value(), tolerance, tolerance));
  // dC/dz and dC/dc of C = sum(h w1 + c w2), fused and written out
  const Variable<T> w1(random<T>({batch, hidden}, 3, -1, 1)), w2(random<T>({batch, hidden}, 4, -1, 1));
  const auto fused_grads = grad(sum(fused.h * w1 + fused.c * w2), {z, c});
  const auto reference_grads = grad(sum(reference.h * w1 + reference.c * w2), {z, c});
  for (std::size_t i = 0; i < 2; ++i)
    CHECK(xt::allclose(fused_grads[i].value(), reference_grads[i].value(), tolerance, tolerance));
}

// A layer as lstm_cell step by step (the composition nn::LSTM used before lstm_layer).
template <class T>
LstmLayer<T> lstm_layer_by_steps(const Variable<T>& x, const Variable<T>& w_ih, const Variable<T>& w_hh,
                                 const Variable<T>& b, Variable<T> h, Variable<T> c) {
  std::vector<Variable<T>> outputs;
  for (long t = 0; t < long(x.shape()[1]); ++t) {
    const Variable<T> z = matmul(select(x, 1, t), w_ih, {.transpose_b = true}) + b + matmul(h, w_hh, {.transpose_b = true});
    const auto step = lstm_cell(z, c);
    h = step.h;
    c = step.c;
    outputs.push_back(h);
  }
  return {stack(outputs, 1), h, c};
}

// lstm_layer against lstm_layer_by_steps: outputs, and the gradients of all inputs
// of C = sum(output w1) + sum(h w2) + sum(c w3).
template <class T>
void check_layer_against_steps(T tolerance, bool with_state, bool x_wants_grad = true) {
  const std::size_t batch = 3, time = 5, input = 6, hidden = 7;  // 7: a partial SIMD register in every gate
  Variable<T> x(random<T>({batch, time, input}, 1, -2, 2), x_wants_grad);
  Variable<T> w_ih(random<T>({4 * hidden, input}, 2, -0.5, 0.5), true);
  Variable<T> w_hh(random<T>({4 * hidden, hidden}, 3, -0.5, 0.5), true);
  Variable<T> b(random<T>({4 * hidden}, 4, -1, 1), true);
  Variable<T> h0(random<T>({batch, hidden}, 5, -1, 1), true), c0(random<T>({batch, hidden}, 6, -2, 2), true);
  const Variable<T> zeros(Array<T>(xt::zeros<T>({batch, hidden})));
  const auto fused = with_state ? lstm_layer(x, w_ih, w_hh, b, h0, c0) : lstm_layer(x, w_ih, w_hh, b);
  const auto steps = lstm_layer_by_steps(x, w_ih, w_hh, b, with_state ? h0 : zeros, with_state ? c0 : zeros);
  REQUIRE(fused.output.shape() == Shape{batch, time, hidden});
  CHECK(xt::allclose(fused.output.value(), steps.output.value(), tolerance, tolerance));
  CHECK(xt::allclose(fused.h.value(), steps.h.value(), tolerance, tolerance));
  CHECK(xt::allclose(fused.c.value(), steps.c.value(), tolerance, tolerance));
  const Variable<T> w1(random<T>({batch, time, hidden}, 7, -1, 1));
  const Variable<T> w2(random<T>({batch, hidden}, 8, -1, 1)), w3(random<T>({batch, hidden}, 9, -1, 1));
  const auto cost = [&](const LstmLayer<T>& l) { return sum(l.output * w1) + sum(l.h * w2) + sum(l.c * w3); };
  std::vector<Variable<T>> inputs{w_ih, w_hh, b};
  if (x_wants_grad) inputs.push_back(x);
  if (with_state) inputs.insert(inputs.end(), {h0, c0});
  const auto fused_grads = grad(cost(fused), inputs);
  const auto step_grads = grad(cost(steps), inputs);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    INFO("input ", i);
    CHECK(xt::allclose(fused_grads[i].value(), step_grads[i].value(), tolerance, tolerance));
  }
}

}  // namespace

TEST_CASE("lstm_layer gives lstm_cell's outputs and gradients, step by step") {
  check_layer_against_steps<double>(1e-12, false);
  check_layer_against_steps<double>(1e-12, true);
  check_layer_against_steps<double>(1e-12, true, false);  // x a constant: no dx
  check_layer_against_steps<float>(2e-5f, false);
  check_layer_against_steps<float>(2e-5f, true);
}

TEST_CASE("lstm_layer's gradient under create_graph equals the plain one, and records a graph") {
  Variable<double> x(random<double>({2, 3, 4}, 1, -2, 2), true), w_ih(random<double>({8, 4}, 2, -1, 1), true);
  Variable<double> w_hh(random<double>({8, 2}, 3, -1, 1), true), b(random<double>({8}, 4, -1, 1), true);
  const auto layer = lstm_layer(x, w_ih, w_hh, b);
  const Variable<double> cost = sum(layer.output * layer.output) + sum(layer.c);
  const auto plain = grad(cost, {x, w_ih, w_hh, b}, {.retain_graph = true});
  const auto recorded = grad(cost, {x, w_ih, w_hh, b}, {.create_graph = true});
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(recorded[i].requires_grad());
    CHECK(xt::allclose(plain[i].value(), recorded[i].value(), 1e-12, 1e-14));
  }
}

TEST_CASE("lstm_layer of an empty batch, and of inputs of size 0") {
  Variable<double> w_hh(random<double>({8, 2}, 3, -1, 1), true), b(random<double>({8}, 4, -1, 1), true);
  SUBCASE("batch 0: empty outputs, zero weight gradients") {
    Variable<double> x(Array<double>::from_shape({0, 3, 4}), true), w_ih(random<double>({8, 4}, 2, -1, 1), true);
    const auto layer = lstm_layer(x, w_ih, w_hh, b);
    CHECK(layer.output.shape() == Shape{0, 3, 2});
    const auto grads = grad(sum(layer.output) + sum(layer.c), {w_ih, w_hh, b});
    for (const auto& g : grads) CHECK(xt::all(xt::equal(g.value(), 0.0)));
  }
  SUBCASE("input 0: the bias and the recurrence alone, as step by step") {
    Variable<double> x(Array<double>::from_shape({2, 3, 0}), true), w_ih(Array<double>::from_shape({8, 0}), true);
    const Variable<double> zeros(Array<double>(xt::zeros<double>({2, 2})));
    const auto layer = lstm_layer(x, w_ih, w_hh, b);
    const auto steps = lstm_layer_by_steps(x, w_ih, w_hh, b, zeros, zeros);
    CHECK(xt::allclose(layer.output.value(), steps.output.value(), 1e-13, 1e-13));
    const auto fused = grad(sum(layer.output * layer.output), {w_hh, b});
    const auto reference = grad(sum(steps.output * steps.output), {w_hh, b});
    for (std::size_t i = 0; i < 2; ++i) CHECK(xt::allclose(fused[i].value(), reference[i].value(), 1e-13, 1e-13));
  }
}

TEST_CASE("lstm_cell gives the LSTM equations' h, c and gradients") {
  check_against_equations<double>(1e-13);
  check_against_equations<float>(2e-6f);
}

TEST_CASE("lstm_cell at extreme pre-activations: saturated gates, no NaN") {
  Variable<double> z(Array<double>{{-1000, 1000, 1000, 1000, 0, -0.0, 50, -50}}, true);
  Variable<double> c(Array<double>{{3, -3}}, true);
  const auto step = lstm_cell(z, c);
  // columns [i | f | g | o], two each: i = (0, 1), f = (1, 1), g = (0, -0), o = (1, e^-50):
  // c' = f c + i g = (3, -3), h = o tanh(c') = (tanh 3, about 0)
  CHECK(step.c.value()(0, 0) == doctest::Approx(3));
  CHECK(step.c.value()(0, 1) == doctest::Approx(-3));
  CHECK(step.h.value()(0, 0) == doctest::Approx(std::tanh(3.0)));
  CHECK(step.h.value()(0, 1) == doctest::Approx(0).epsilon(1e-15));
  sum(step.h + step.c).backward();
  CHECK(xt::all(xt::isfinite(z.grad())));
  CHECK(xt::all(xt::isfinite(c.grad())));
}
