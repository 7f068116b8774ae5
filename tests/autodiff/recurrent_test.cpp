// The fused LSTM ops against the LSTM equations written out with sigmoid, tanh and split.
#include <doctest/doctest.h>

#include <cmath>

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

}  // namespace

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
