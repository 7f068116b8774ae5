// The five models issue #12 was written from, each as a user would write it with
// the ops of autodiff/ (no hand-written op, no bent layout), checked as whole
// models against finite differences at first and second order (float64).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;
using Inputs = std::vector<V>;

namespace {

// Damped oscillation y(t) = A e^(-gamma t) cos(omega t + phi).
V oscillation(const V& t, const V& A, const V& gamma, const V& omega, const V& phi) {
  return A * exp(-gamma * t) * cos(omega * t + phi);
}

}  // namespace

TEST_CASE("a damped-oscillator fit: gradients of the fit loss in the four parameters, and a Newton fit that finds them") {
  const V t = linspace(0.0, 6.0, 60);
  const V data = oscillation(t, V::scalar(1.5), V::scalar(0.3), V::scalar(2.0), V::scalar(0.4));
  // the parameters as one vector (A, gamma, omega, phi), read by element access on the tape
  const auto loss = [&](const V& p) { return mean(square(oscillation(t, p(0), p(1), p(2), p(3)) - data)); };
  const auto loss_of = [&](const Inputs& p) { return loss(p[0]); };
  const Array<double> start = {1.2, 0.5, 1.9, 0.1};
  CHECK(gradcheck(loss_of, {start}).passed);
  CHECK(gradgradcheck(loss_of, {start}).passed);
  // Damped Newton (Levenberg-Marquardt on the exact Hessian from the tape) finds the parameters the
  // data were made with: a step solves (H + lambda I) d = g, and is taken only if the loss goes down.
  V p(start, true);
  double lambda = 1e-3;
  for (int iteration = 0; iteration < 60; ++iteration) {
    const Array<double> h = hessian<double>(loss, p);
    const Array<double> g = grad(loss(p), p).value();
    double m[4][5];  // Gaussian elimination
    for (std::size_t i = 0; i < 4; ++i) {
      for (std::size_t j = 0; j < 4; ++j) m[i][j] = h(i, j) + (i == j ? lambda : 0.0);
      m[i][4] = g(i);
    }
    for (int c = 0; c < 4; ++c)
      for (int r = c + 1; r < 4; ++r) {
        const double f = m[r][c] / m[c][c];
        for (int k = c; k < 5; ++k) m[r][k] -= f * m[c][k];
      }
    Array<double> step = Array<double>::from_shape({4});
    for (int r = 3; r >= 0; --r) {
      double v = m[r][4];
      for (int k = r + 1; k < 4; ++k) v -= m[r][k] * step(std::size_t(k));
      step(std::size_t(r)) = v / m[r][r];
    }
    const V trial(p.value() - step);
    if (loss(trial).item() < loss(p).item()) {
      p.data() = trial.value();
      lambda /= 10;
    } else {
      lambda *= 10;
    }
  }
  CHECK(p.value()(0) == doctest::Approx(1.5).epsilon(1e-9));
  CHECK(p.value()(1) == doctest::Approx(0.3).epsilon(1e-9));
  CHECK(p.value()(2) == doctest::Approx(2.0).epsilon(1e-9));
  CHECK(p.value()(3) == doctest::Approx(0.4).epsilon(1e-9));
}

TEST_CASE("a physics-informed net with softplus: the residual u'' + sin(x) through create_graph, differentiated in the weights") {
  const V x(Array<double>(test::random_array({8, 1}, 3, -3.0, 3.0)), true);
  const auto residual_loss = [&](const Inputs& w) {
    const V u = sum(matmul(softplus(affine(x, w[0], w[1])), w[2]));  // 1-6-1, summed over the points
    const V du = grad(u, x, {.create_graph = true});
    const V d2u = grad(sum(du), x, {.create_graph = true});
    return mean(square(d2u + sin(x)));
  };
  const std::vector<Array<double>> weights = {test::random_array({1, 6}, 4), test::random_array({6}, 5),
                                              test::random_array({6, 1}, 6)};
  CHECK(gradcheck(residual_loss, weights).passed);
}

TEST_CASE("a student's backprop check: dC/dW = outer(a, delta) and delta from the lecture's equations") {
  // One sample through a 3-4-2 sigmoid network with the quadratic cost C = 1/2 |a2 - y|^2.
  const V x = V(test::random_array({3}, 7)), y = V(test::random_array({2}, 8, 0.0, 1.0));
  V W1(test::random_array({3, 4}, 9), true), W2(test::random_array({4, 2}, 10), true);
  const V a1 = sigmoid(matmul(x, W1));  // vector @ matrix
  const V a2 = sigmoid(matmul(a1, W2));
  (0.5 * sum(square(a2 - y))).backward();
  // BP1: delta2 = (a2 - y) sigma'(z2); BP2: delta1 = (W2 delta2) sigma'(z1); BP4: dC/dW = outer(a_prev, delta)
  const V delta2 = (a2 - y) * a2 * (1.0 - a2);
  const V delta1 = mv(W2, delta2) * a1 * (1.0 - a1);
  CHECK(xt::allclose(outer(a1, delta2).value(), W2.grad(), 1e-12, 1e-14));
  CHECK(xt::allclose(outer(x, delta1).value(), W1.grad(), 1e-12, 1e-14));
  // and each entry, through element access on the tape: dC/dW1[2, 3]
  const V cost_of = 0.5 * sum(square(sigmoid(matmul(sigmoid(matmul(x, W1)), W2)) - y));
  const V entry = grad(cost_of, W1)(2, 3);
  CHECK(entry.item() == doctest::Approx(W1.grad()(2, 3)).epsilon(1e-12));
}

TEST_CASE("an Elman RNN over a batch-first sequence: time steps by index, outputs stacked, a readout by einsum") {
  // x (batch 2, time 5, features 3); h_t = tanh(x_t W + h_(t-1) U + b); outputs y_t = h_t V.
  const V x(test::random_array({2, 5, 3}, 11)), target(test::random_array({2, 5, 2}, 12));
  const auto loss = [&](const Inputs& p) {
    V h = zeros({2, 4});
    std::vector<V> states;
    for (long step = 0; step < 5; ++step) {
      const V x_t = squeeze(slice(x, 1, step, step + 1), 1);  // (2, 3)
      h = tanh(matmul(x_t, p[0]) + matmul(h, p[1]) + p[2]);
      states.push_back(h);
    }
    const V hs = stack(states, 1);  // (2, 5, 4)
    return mean(square(einsum("bth,ho->bto", hs, p[3]) - target));
  };
  const std::vector<Array<double>> parameters = {test::random_array({3, 4}, 13), test::random_array({4, 4}, 14, -0.5, 0.5),
                                                 test::random_array({4}, 15), test::random_array({4, 2}, 16)};
  CHECK(gradcheck(loss, parameters).passed);
  CHECK(gradgradcheck(loss, parameters).passed);
  // the same with the sequence read by index_select and the outputs by a batched matmul
  const auto loss_again = [&](const Inputs& p) {
    V h = zeros({2, 4});
    std::vector<V> states;
    for (std::int64_t step = 0; step < 5; ++step) {
      h = tanh(matmul(squeeze(index_select(x, 1, {step}), 1), p[0]) + matmul(h, p[1]) + p[2]);
      states.push_back(h);
    }
    return mean(square(matmul(stack(states, 1), p[3]) - target));
  };
  std::vector<V> leaves;
  for (const auto& v : parameters) leaves.emplace_back(v, true);
  CHECK(loss(leaves).item() == doctest::Approx(loss_again(leaves).item()).epsilon(1e-14));
}

TEST_CASE("a 1-D conv net in batch-channel-length layout: padding, windows, einsum, softplus and a mean over length") {
  // x (batch 2, channels 2, length 7); 3 output channels, kernel 3, padding 1.
  const auto conv_loss = [](const Inputs& p) {
    const V& x = p[0];
    const V padded = pad(x, {{0, 0}, {0, 0}, {1, 1}});  // (2, 2, 9)
    std::vector<V> taps;
    for (long k = 0; k < 3; ++k) taps.push_back(slice(padded, 2, k, k + 7));
    const V windows = stack(taps, 2);                                                   // (2, 2, 3, 7)
    const V y = einsum("bckl,ock->bol", windows, p[1]) + unsqueeze(p[2], 1);            // (2, 3, 7)
    return sum(square(mean(softplus(y), {2})));                                         // pooled over length
  };
  const std::vector<Array<double>> inputs = {test::random_array({2, 2, 7}, 17), test::random_array({3, 2, 3}, 18),
                                             test::random_array({3}, 19)};
  CHECK(gradcheck(conv_loss, inputs).passed);
  CHECK(gradgradcheck(conv_loss, inputs).passed);
  // The convolution (a correlation, as PyTorch's conv1d) against a hand loop at one output.
  const V x(inputs[0]), w(inputs[1]);
  const V padded = pad(x, {{0, 0}, {0, 0}, {1, 1}});
  std::vector<V> taps;
  for (long k = 0; k < 3; ++k) taps.push_back(slice(padded, 2, k, k + 7));
  const V y = einsum("bckl,ock->bol", stack(taps, 2), w);
  double hand = 0;
  for (std::size_t c = 0; c < 2; ++c)
    for (std::size_t k = 0; k < 3; ++k) {
      const long at = 4 + long(k) - 1;  // output position 4, tap k, padding 1
      hand += w.value()(2, c, k) * (at >= 0 && at < 7 ? x.value()(1, c, std::size_t(at)) : 0.0);
    }
  CHECK(y.value()(1, 2, 4) == doctest::Approx(hand).epsilon(1e-13));
}
