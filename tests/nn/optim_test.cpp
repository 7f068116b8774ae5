// Optimizers against PyTorch's update formulas, recomputed here in plain double
// arithmetic, and the learning-rate schedules against their formulas.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <nn/module.hpp>
#include <nn/normalization.hpp>
#include <nn/optim.hpp>
#include <nn/recurrent.hpp>

#include "test_util.hpp"

using namespace nn;
using V = autodiff::Variable<double>;
using A = autodiff::Array<double>;
using Vector = std::vector<double>;

namespace {
using test::message_of;

// The problem every optimizer runs on: w starts at kStart and step k minimises
// loss_k = sum(w^2 / 2 + c_k w), so the gradient fed to step k is w + c_k.
const Vector kStart = {1.0, -0.5, 0.25};
const std::vector<Vector> kCoefficients = {
    {0.5, -1.0, 2.0}, {-0.3, 0.8, 1.5}, {1.2, 0.1, -0.7}, {0.4, -2.0, 0.3}, {-1.0, 0.6, 0.9}};
constexpr std::size_t kSteps = 5;

A to_array(const Vector& v) {
  A a = A::from_shape({v.size()});
  for (std::size_t i = 0; i < v.size(); ++i) a(i) = v[i];
  return a;
}

// The gradient of loss_k at w, element i (what the tape should produce).
double gradient(const Vector& w, std::size_t k, std::size_t i) { return w[i] + kCoefficients[k][i]; }

// Runs kSteps steps of the optimizer made by `make` through the tape and returns w.
template <class Make>
A run(Make make) {
  V w(to_array(kStart), true);
  auto optimizer = make(std::vector<V>{w});
  for (std::size_t k = 0; k < kSteps; ++k) {
    optimizer.zero_grad();
    V loss = autodiff::sum(w * w * 0.5 + V(to_array(kCoefficients[k])) * w);
    loss.backward();
    optimizer.step();
  }
  CHECK(optimizer.steps() == kSteps);
  return w.value();
}

void check_close(const A& actual, const Vector& expected) {
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(actual(i) == doctest::Approx(expected[i]).epsilon(1e-12));
  }
  // The run must have moved away from the start, or the comparison proves little.
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(std::abs(expected[i] - kStart[i]) > 1e-3);
}

// Reference SGD (PyTorch): g += wd w; momentum: v = g at the first step, then v = mu v + g;
// w -= lr v, or with Nesterov w -= lr (g + mu v).
Vector reference_sgd(double lr, double mu, bool nesterov, double wd) {
  Vector w = kStart, v(w.size(), 0.0);
  for (std::size_t k = 0; k < kSteps; ++k) {
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double g = gradient(w, k, i) + wd * w[i];
      if (mu == 0) {
        w[i] -= lr * g;
        continue;
      }
      v[i] = k == 0 ? g : mu * v[i] + g;
      w[i] -= nesterov ? lr * (g + mu * v[i]) : lr * v[i];
    }
  }
  return w;
}

// Reference Adam with bias corrections m^ = m / (1 - b1^t), v^ = v / (1 - b2^t), t from 1.
Vector reference_adam(double lr, double b1, double b2, double eps, double wd) {
  Vector w = kStart, m(w.size(), 0.0), v(w.size(), 0.0);
  double b1_t = 1, b2_t = 1;  // b1^t, b2^t by repeated multiplication
  for (std::size_t k = 0; k < kSteps; ++k) {
    b1_t *= b1;
    b2_t *= b2;
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double g = gradient(w, k, i) + wd * w[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const double m_hat = m[i] / (1 - b1_t), v_hat = v[i] / (1 - b2_t);
      w[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
  return w;
}
}  // namespace

TEST_CASE("plain SGD takes w -= lr * g at every step") {
  const A w = run([](std::vector<V> p) { return SGD<double>(std::move(p), 0.1); });
  check_close(w, reference_sgd(0.1, 0, false, 0));
  // Spelled out for the first step: w1 = w0 - lr (w0 + c0).
  Vector one = kStart;
  for (std::size_t i = 0; i < one.size(); ++i) one[i] -= 0.1 * (kStart[i] + kCoefficients[0][i]);
  V p(to_array(kStart), true);
  SGD<double> sgd({p}, 0.1);
  autodiff::sum(p * p * 0.5 + V(to_array(kCoefficients[0])) * p).backward();
  sgd.step();
  for (std::size_t i = 0; i < one.size(); ++i) CHECK(p.value()(i) == doctest::Approx(one[i]).epsilon(1e-14));
}

TEST_CASE("SGD with momentum: v starts at the first gradient, then v = mu v + g, w -= lr v") {
  const A w = run([](std::vector<V> p) { return SGD<double>(std::move(p), 0.1, 0.9); });
  check_close(w, reference_sgd(0.1, 0.9, false, 0));
  // Momentum must make a difference on this problem.
  const Vector plain = reference_sgd(0.1, 0, false, 0);
  CHECK(std::abs(w(0) - plain[0]) > 1e-2);
}

TEST_CASE("SGD with Nesterov momentum takes w -= lr (g + mu v)") {
  const A w = run([](std::vector<V> p) { return SGD<double>(std::move(p), 0.1, 0.9, true); });
  check_close(w, reference_sgd(0.1, 0.9, true, 0));
  // Nesterov must differ from classical momentum on this problem.
  const Vector classical = reference_sgd(0.1, 0.9, false, 0);
  double largest = 0;
  for (std::size_t i = 0; i < classical.size(); ++i) largest = std::max(largest, std::abs(w(i) - classical[i]));
  CHECK(largest > 1e-2);
}

TEST_CASE("weight decay adds weight_decay * w to the gradient before the update (SGD momentum and Adam)") {
  const A sgd = run([](std::vector<V> p) { return SGD<double>(std::move(p), 0.1, 0.9, false, 0.2); });
  check_close(sgd, reference_sgd(0.1, 0.9, false, 0.2));
  CHECK(std::abs(sgd(0) - reference_sgd(0.1, 0.9, false, 0)[0]) > 1e-2);

  const A adam = run([](std::vector<V> p) { return Adam<double>(std::move(p), 0.1, 0.9, 0.999, 1e-8, 0.5); });
  check_close(adam, reference_adam(0.1, 0.9, 0.999, 1e-8, 0.5));
  CHECK(std::abs(adam(0) - reference_adam(0.1, 0.9, 0.999, 1e-8, 0)[0]) > 1e-3);
}

TEST_CASE("Adagrad: s += g^2, w -= lr g / (sqrt(s) + eps)") {
  for (const double eps : {1e-10, 0.5}) {  // a large eps shows it is added outside the root
    CAPTURE(eps);
    const A w = run([eps](std::vector<V> p) { return Adagrad<double>(std::move(p), 0.3, eps); });
    Vector expected = kStart, s(expected.size(), 0.0);
    for (std::size_t k = 0; k < kSteps; ++k)
      for (std::size_t i = 0; i < expected.size(); ++i) {
        const double g = gradient(expected, k, i);
        s[i] += g * g;
        expected[i] -= 0.3 * g / (std::sqrt(s[i]) + eps);
      }
    check_close(w, expected);
  }
}

TEST_CASE("RMSprop: s = alpha s + (1 - alpha) g^2, w -= lr g / (sqrt(s) + eps)") {
  for (const double eps : {1e-8, 0.5}) {
    CAPTURE(eps);
    const A w = run([eps](std::vector<V> p) { return RMSprop<double>(std::move(p), 0.05, 0.9, eps); });
    Vector expected = kStart, s(expected.size(), 0.0);
    for (std::size_t k = 0; k < kSteps; ++k)
      for (std::size_t i = 0; i < expected.size(); ++i) {
        const double g = gradient(expected, k, i);
        s[i] = 0.9 * s[i] + 0.1 * g * g;
        expected[i] -= 0.05 * g / (std::sqrt(s[i]) + eps);
      }
    check_close(w, expected);
  }
}

TEST_CASE("Adam: moments with bias corrections, w -= lr m^ / (sqrt(v^) + eps)") {
  for (const double eps : {1e-8, 0.5}) {
    CAPTURE(eps);
    const A w = run([eps](std::vector<V> p) { return Adam<double>(std::move(p), 0.1, 0.9, 0.999, eps); });
    check_close(w, reference_adam(0.1, 0.9, 0.999, eps, 0));
  }
  // The first bias-corrected step moves each weight by about lr, in the gradient's opposite direction.
  V p(to_array(kStart), true);
  Adam<double> adam({p}, 0.1);
  autodiff::sum(p * p * 0.5 + V(to_array(kCoefficients[0])) * p).backward();
  adam.step();
  for (std::size_t i = 0; i < kStart.size(); ++i) {
    const double g = kStart[i] + kCoefficients[0][i];
    CHECK(p.value()(i) == doctest::Approx(kStart[i] - 0.1 * (g > 0 ? 1 : -1)).epsilon(1e-6));
  }
}

TEST_CASE("Adam in float32 follows the double reference to float precision") {
  autodiff::Variable<float> w(xt::cast<float>(to_array(kStart)), true);
  Adam<float> adam({w}, 0.1f);
  for (std::size_t k = 0; k < kSteps; ++k) {
    adam.zero_grad();
    autodiff::Variable<float> c(xt::cast<float>(to_array(kCoefficients[k])));
    autodiff::sum(w * w * 0.5f + c * w).backward();
    adam.step();
  }
  const Vector expected = reference_adam(0.1, 0.9, 0.999, 1e-8, 0);
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(w.value()(i) == doctest::Approx(expected[i]).epsilon(1e-5));
}

TEST_CASE("Adam counts steps per parameter for its bias correction, like PyTorch's state['step']") {
  // b gets no gradient in the first step; PyTorch's first update of b then uses t = 1.
  V a(A{1.0}, true), b(A{2.0}, true);
  Adam<double> adam({a, b}, 0.1);
  autodiff::sum(a * 3.0).backward();
  adam.step();
  CHECK(b.value()(0) == 2.0);  // no gradient, no update
  adam.zero_grad();
  autodiff::sum(a * 3.0 + b * 4.0).backward();
  adam.step();
  // b's first update: m^ = g, v^ = g^2, so b moves by lr g / (|g| + eps) = 0.1.
  CHECK(b.value()(0) == doctest::Approx(2.0 - 0.1 * 4.0 / (4.0 + 1e-8)).epsilon(1e-12));
}

TEST_CASE("an optimizer skips parameters without a gradient and rejects non-leaves") {
  V used(A{1.0, 2.0}, true), unused(A{5.0, 6.0}, true);
  SGD<double> sgd({used, unused}, 0.5, 0.9);
  autodiff::sum(used * 2.0).backward();
  sgd.step();
  CHECK(used.value() == A{0.0, 1.0});
  CHECK(unused.value() == A{5.0, 6.0});

  V leaf(A{1.0}, true);
  V computed = leaf * 2.0;
  CHECK(message_of([&] { SGD<double>({computed}, 0.1); }).find("leaf") != std::string::npos);
  CHECK_THROWS_AS(Adam<double>({V(A{1.0})}, 0.1), autodiff::GraphError);
  autodiff::Tape<double>::current().release();
}

TEST_CASE("set_learning_rate changes the step size of the following steps") {
  V w(A{1.0}, true);
  SGD<double> sgd({w}, 0.1);
  autodiff::sum(w * 2.0).backward();  // g = 2
  sgd.step();                         // 1 - 0.2
  sgd.set_learning_rate(0.01);
  CHECK(sgd.learning_rate() == 0.01);
  sgd.step();  // the same gradient again: 0.8 - 0.02
  CHECK(w.value()(0) == doctest::Approx(0.78).epsilon(1e-14));
}

// ---- issue #14: LibTorch's options, AdamW, parameter groups ----------------------------

namespace {
// Reference SGD with dampening: v = g at the first step (undamped), then v = mu v + (1 - d) g.
Vector reference_sgd_dampened(double lr, double mu, double dampening, double wd) {
  Vector w = kStart, v(w.size(), 0.0);
  for (std::size_t k = 0; k < kSteps; ++k)
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double g = gradient(w, k, i) + wd * w[i];
      v[i] = k == 0 ? g : mu * v[i] + (1 - dampening) * g;
      w[i] -= lr * v[i];
    }
  return w;
}

// Reference Adagrad (PyTorch): s starts at init; step t (from 1) uses clr = lr / (1 + (t - 1) lr_decay).
Vector reference_adagrad(double lr, double lr_decay, double init, double eps, double wd) {
  Vector w = kStart, s(w.size(), init);
  for (std::size_t k = 0; k < kSteps; ++k) {
    const double clr = lr / (1 + double(k) * lr_decay);
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double g = gradient(w, k, i) + wd * w[i];
      s[i] += g * g;
      w[i] -= clr * g / (std::sqrt(s[i]) + eps);
    }
  }
  return w;
}

// Reference RMSprop (PyTorch): centered divides by sqrt(s - a^2) + eps with a the mean
// gradient; momentum accumulates b = mu b + g / denominator and steps by lr b.
Vector reference_rmsprop(double lr, double alpha, double eps, double wd, double mu, bool centered) {
  Vector w = kStart, s(w.size(), 0.0), a(w.size(), 0.0), b(w.size(), 0.0);
  for (std::size_t k = 0; k < kSteps; ++k)
    for (std::size_t i = 0; i < w.size(); ++i) {
      const double g = gradient(w, k, i) + wd * w[i];
      s[i] = alpha * s[i] + (1 - alpha) * g * g;
      a[i] = alpha * a[i] + (1 - alpha) * g;
      const double denominator = (centered ? std::sqrt(s[i] - a[i] * a[i]) : std::sqrt(s[i])) + eps;
      if (mu > 0) {
        b[i] = mu * b[i] + g / denominator;
        w[i] -= lr * b[i];
      } else {
        w[i] -= lr * g / denominator;
      }
    }
  return w;
}

// Reference Adam with AMSGrad (the largest v so far in place of v) and AdamW's decoupled
// decay (w *= 1 - lr wd before the step, the gradient left as it is).
Vector reference_adam_full(double lr, double b1, double b2, double eps, double wd, bool amsgrad, bool decoupled) {
  Vector w = kStart, m(w.size(), 0.0), v(w.size(), 0.0), largest(w.size(), 0.0);
  for (std::size_t k = 0; k < kSteps; ++k) {
    const double t = double(k + 1);
    for (std::size_t i = 0; i < w.size(); ++i) {
      double g = gradient(w, k, i);
      if (decoupled) w[i] *= 1 - lr * wd;
      else g += wd * w[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      largest[i] = std::max(largest[i], v[i]);
      const double m_hat = m[i] / (1 - std::pow(b1, t));
      const double v_hat = (amsgrad ? largest[i] : v[i]) / (1 - std::pow(b2, t));
      w[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
  return w;
}

double largest_difference(const A& a, const Vector& b) {
  double largest = 0;
  for (std::size_t i = 0; i < b.size(); ++i) largest = std::max(largest, std::abs(a(i) - b[i]));
  return largest;
}
}  // namespace

TEST_CASE("the options structs give the positional constructors' results") {
  check_close(run([](std::vector<V> p) { return SGD<double>(std::move(p), {.lr = 0.1, .momentum = 0.9, .nesterov = true}); }),
              reference_sgd(0.1, 0.9, true, 0));
  check_close(run([](std::vector<V> p) { return SGD<double>(std::move(p), {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.2}); }),
              reference_sgd(0.1, 0.9, false, 0.2));
  check_close(run([](std::vector<V> p) { return Adam<double>(std::move(p), {.lr = 0.1, .betas = {0.8, 0.99}, .eps = 0.5}); }),
              reference_adam(0.1, 0.8, 0.99, 0.5, 0));
  // defaults are PyTorch's
  const AdamOptions adam;
  CHECK(adam.lr == 1e-3);
  CHECK(adam.betas == std::pair{0.9, 0.999});
  CHECK(adam.eps == 1e-8);
  CHECK(AdamWOptions{}.weight_decay == 0.01);
  CHECK(AdagradOptions{}.eps == 1e-10);
  CHECK(RMSpropOptions{}.alpha == 0.99);
}

TEST_CASE("SGD's dampening scales the gradient into the momentum buffer from the second step on") {
  const A w = run([](std::vector<V> p) { return SGD<double>(std::move(p), {.lr = 0.1, .momentum = 0.9, .dampening = 0.3}); });
  check_close(w, reference_sgd_dampened(0.1, 0.9, 0.3, 0));
  CHECK(largest_difference(w, reference_sgd(0.1, 0.9, false, 0)) > 1e-2);  // dampening matters
  // with weight decay, which is dampened too (it is part of the gradient)
  check_close(run([](std::vector<V> p) {
                return SGD<double>(std::move(p), {.lr = 0.1, .momentum = 0.9, .dampening = 0.5, .weight_decay = 0.2});
              }),
              reference_sgd_dampened(0.1, 0.9, 0.5, 0.2));
  // dampening 1: the buffer only decays after the first step, v = mu^k g_0
  V p(A{1.0}, true);
  SGD<double> sgd({p}, {.lr = 0.1, .momentum = 0.5, .dampening = 1.0});
  autodiff::sum(p * 2.0).backward();  // g = 2 at every step
  sgd.step();
  sgd.step();
  CHECK(sgd.velocity()[0](0) == doctest::Approx(1.0).epsilon(1e-15));  // 0.5 * 2
  CHECK(p.value()(0) == doctest::Approx(1.0 - 0.1 * 2 - 0.1 * 1).epsilon(1e-14));
}

TEST_CASE("Adagrad's lr_decay and initial_accumulator_value") {
  for (const double lr_decay : {0.0, 0.5})
    for (const double init : {0.0, 2.0}) {
      CAPTURE(lr_decay);
      CAPTURE(init);
      const A w = run([=](std::vector<V> p) {
        return Adagrad<double>(std::move(p), {.lr = 0.3, .lr_decay = lr_decay, .initial_accumulator_value = init});
      });
      check_close(w, reference_adagrad(0.3, lr_decay, init, 1e-10, 0));
      if (lr_decay != 0 || init != 0) CHECK(largest_difference(w, reference_adagrad(0.3, 0, 0, 1e-10, 0)) > 1e-2);
    }
  check_close(run([](std::vector<V> p) {
                return Adagrad<double>(std::move(p), {.lr = 0.3, .lr_decay = 0.1, .weight_decay = 0.4, .eps = 0.5});
              }),
              reference_adagrad(0.3, 0.1, 0, 0.5, 0.4));
  // the accumulator starts at the value
  V p(A{1.0, 2.0}, true);
  Adagrad<double> adagrad({p}, {.initial_accumulator_value = 0.25});
  CHECK(adagrad.sum_squares()[0] == A{0.25, 0.25});
}

TEST_CASE("RMSprop's momentum and centered options") {
  for (const double mu : {0.0, 0.8})
    for (const bool centered : {false, true}) {
      CAPTURE(mu);
      CAPTURE(centered);
      const A w = run([=](std::vector<V> p) {
        return RMSprop<double>(std::move(p), {.lr = 0.05, .alpha = 0.9, .eps = 1e-8, .momentum = mu, .centered = centered});
      });
      check_close(w, reference_rmsprop(0.05, 0.9, 1e-8, 0, mu, centered));
      if (mu != 0 || centered) CHECK(largest_difference(w, reference_rmsprop(0.05, 0.9, 1e-8, 0, 0, false)) > 1e-3);
    }
  check_close(run([](std::vector<V> p) {
                return RMSprop<double>(std::move(p),
                                       {.lr = 0.05, .alpha = 0.7, .eps = 0.1, .weight_decay = 0.3, .momentum = 0.5, .centered = true});
              }),
              reference_rmsprop(0.05, 0.7, 0.1, 0.3, 0.5, true));
  // the state holds the mean square, the mean gradient (centered) and the momentum buffer
  V p(A{1.0}, true);
  RMSprop<double> both({p}, {.momentum = 0.9, .centered = true});
  CHECK(both.state().size() == 3);
  CHECK(RMSprop<double>({p}).state().size() == 1);
}

TEST_CASE("Adam's amsgrad divides by the largest second moment so far") {
  // beta2 = 0.5 forgets fast, so v falls on this problem and the maximum matters
  const A w = run([](std::vector<V> p) { return Adam<double>(std::move(p), {.lr = 0.1, .betas = {0.9, 0.5}, .amsgrad = true}); });
  check_close(w, reference_adam_full(0.1, 0.9, 0.5, 1e-8, 0, true, false));
  CHECK(largest_difference(w, reference_adam(0.1, 0.9, 0.5, 1e-8, 0)) > 1e-3);
  check_close(run([](std::vector<V> p) {
                return Adam<double>(std::move(p), {.lr = 0.1, .betas = {0.8, 0.6}, .eps = 0.01, .weight_decay = 0.3, .amsgrad = true});
              }),
              reference_adam_full(0.1, 0.8, 0.6, 0.01, 0.3, true, false));
  V p(A{1.0}, true);
  CHECK(Adam<double>({p}, {.amsgrad = true}).state().size() == 3);  // m, v, max v
}

TEST_CASE("AdamW decays the weights by lr * weight_decay before the Adam step on the plain gradient") {
  const A w = run([](std::vector<V> p) { return AdamW<double>(std::move(p), {.lr = 0.1, .weight_decay = 0.5}); });
  check_close(w, reference_adam_full(0.1, 0.9, 0.999, 1e-8, 0.5, false, true));
  check_close(run([](std::vector<V> p) {
                return AdamW<double>(std::move(p), {.lr = 0.1, .betas = {0.9, 0.5}, .weight_decay = 0.5, .amsgrad = true});
              }),
              reference_adam_full(0.1, 0.9, 0.5, 1e-8, 0.5, true, true));
  // Adam with the same weight_decay (L2 in the gradient) takes a different path
  const A coupled = run([](std::vector<V> p) { return Adam<double>(std::move(p), {.lr = 0.1, .weight_decay = 0.5}); });
  CHECK(largest_difference(coupled, reference_adam_full(0.1, 0.9, 0.999, 1e-8, 0.5, false, false)) < 1e-12);
  CHECK(largest_difference(w, {coupled(0), coupled(1), coupled(2)}) > 1e-2);

  // The first step spelled out (m^ = g, v^ = g^2): AdamW w1 = w0 (1 - lr wd) - lr g / (|g| + eps);
  // Adam + L2: w1 = w0 - lr g' / (|g'| + eps) with g' = g + wd w0.
  V a(A{2.0}, true), b(A{2.0}, true);
  AdamW<double> adamw({a}, {.lr = 0.1, .weight_decay = 0.5});
  Adam<double> adam({b}, {.lr = 0.1, .weight_decay = 0.5});
  autodiff::sum(a * -0.5).backward();  // g = -0.5, g' = -0.5 + 1 = 0.5: opposite signs
  autodiff::sum(b * -0.5).backward();
  adamw.step();
  adam.step();
  CHECK(a.value()(0) == doctest::Approx(2.0 * 0.95 + 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));  // 2.0
  CHECK(b.value()(0) == doctest::Approx(2.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-14));         // 1.9

  // weight_decay 0 is Adam exactly; the default is 0.01 (PyTorch's)
  V c(to_array(kStart), true);
  const A no_decay = run([](std::vector<V> p) { return AdamW<double>(std::move(p), {.lr = 0.1, .weight_decay = 0}); });
  const A plain = run([](std::vector<V> p) { return Adam<double>(std::move(p), 0.1); });
  CHECK(no_decay == plain);
  AdamW<double> defaults({c});
  CHECK(defaults.weight_decay(0) == 0.01);
  CHECK(defaults.learning_rate() == 1e-3);
  CHECK(defaults.name() == "AdamW");
  check_close(run([](std::vector<V> p) { return AdamW<double>(std::move(p), 0.1); }),
              reference_adam_full(0.1, 0.9, 0.999, 1e-8, 0.01, false, true));
}

TEST_CASE("parameter groups: each group's learning rate and weight decay, the optimizer's defaults for the rest") {
  V a(A{1.0, -2.0}, true), b(A{0.5}, true), c(A{3.0}, true);
  SGD<double> sgd({{.parameters = {a}, .lr = 0.1}, {.parameters = {b}, .weight_decay = 0.5}, {.parameters = {c}}},
                  {.lr = 0.01, .weight_decay = 0.2});
  REQUIRE(sgd.group_count() == 3);
  CHECK(sgd.learning_rate(0) == 0.1);
  CHECK(sgd.weight_decay(0) == 0.2);  // default
  CHECK(sgd.learning_rate(1) == 0.01);  // default
  CHECK(sgd.weight_decay(1) == 0.5);
  CHECK(sgd.learning_rate(2) == 0.01);
  CHECK(sgd.weight_decay(2) == 0.2);
  CHECK(sgd.learning_rate() == 0.1);  // group 0's
  CHECK(sgd.parameters().size() == 3);
  REQUIRE(sgd.group_parameters(1).size() == 1);
  CHECK(sgd.group_parameters(1)[0].node_ptr() == b.node_ptr());

  const auto loss = [&] { return autodiff::sum(a * a) + autodiff::sum(b * b) + autodiff::sum(c * c); };  // g = 2 w
  loss().backward();
  sgd.step();
  CHECK(a.value()(0) == doctest::Approx(1.0 - 0.1 * (2.0 + 0.2) * 1.0).epsilon(1e-14));
  CHECK(a.value()(1) == doctest::Approx(-2.0 - 0.1 * (2.0 + 0.2) * -2.0).epsilon(1e-14));
  CHECK(b.value()(0) == doctest::Approx(0.5 - 0.01 * (2.0 + 0.5) * 0.5).epsilon(1e-14));
  CHECK(c.value()(0) == doctest::Approx(3.0 - 0.01 * (2.0 + 0.2) * 3.0).epsilon(1e-14));

  // one group's rate changes, the others' stay
  sgd.set_learning_rate(2, 0.05);
  CHECK(sgd.learning_rate(2) == 0.05);
  CHECK(sgd.learning_rate(1) == 0.01);
  const double a0 = a.value()(0), b0 = b.value()(0), c0 = c.value()(0);
  sgd.zero_grad();
  loss().backward();
  sgd.step();
  CHECK(a.value()(0) == doctest::Approx(a0 - 0.1 * 2.2 * a0).epsilon(1e-14));
  CHECK(b.value()(0) == doctest::Approx(b0 - 0.01 * 2.5 * b0).epsilon(1e-14));
  CHECK(c.value()(0) == doctest::Approx(c0 - 0.05 * 2.2 * c0).epsilon(1e-14));

  // set_learning_rate(rate) sets every group
  sgd.set_learning_rate(0.3);
  for (std::size_t g = 0; g < 3; ++g) CHECK(sgd.learning_rate(g) == 0.3);
}

TEST_CASE("parameter groups in Adam: each group moves by its own rate at the first step; an empty group is allowed") {
  V a(A{1.0}, true), b(A{1.0}, true);
  Adam<double> adam({{.parameters = {a}, .lr = 0.1}, {.parameters = {}}, {.parameters = {b}}}, {.lr = 0.01});
  CHECK(adam.group_count() == 3);
  autodiff::sum(a * 3.0 + b * 3.0).backward();
  adam.step();
  CHECK(a.value()(0) == doctest::Approx(1.0 - 0.1 * 3.0 / (3.0 + 1e-8)).epsilon(1e-14));
  CHECK(b.value()(0) == doctest::Approx(1.0 - 0.01 * 3.0 / (3.0 + 1e-8)).epsilon(1e-14));
  CHECK(adam.updates() == std::vector<std::size_t>{1, 1});
}

TEST_CASE("decay_groups puts biases and BatchNorm and LayerNorm parameters in a group without decay") {
  Sequential<double> model;
  model.add(Linear<double>(4, 5)).add(BatchNorm1d<double>(5)).add(Linear<double>(5, 3)).add(LayerNorm<double>({3}));
  const auto groups = decay_groups(model, 0.1);
  REQUIRE(groups.size() == 2);
  const auto names = [&](const ParamGroup<double>& group) {
    std::vector<std::string> found;
    for (const V& p : group.parameters)
      for (const auto& [name, q] : model.named_parameters())
        if (q.node_ptr() == p.node_ptr()) found.push_back(name);
    return found;
  };
  CHECK(names(groups[0]) == std::vector<std::string>{"0.weight", "2.weight"});
  CHECK(names(groups[1]) == std::vector<std::string>{"0.bias", "1.weight", "1.bias", "2.bias", "3.weight", "3.bias"});
  CHECK(groups[0].weight_decay == 0.1);
  CHECK(groups[1].weight_decay == 0.0);
  CHECK_FALSE(groups[0].lr.has_value());

  // With zero gradients, SGD's only change is the decay: the weights shrink by 1 - lr wd, the rest stay.
  SGD<double> sgd(groups, {.lr = 0.5});
  std::vector<A> before;
  for (const auto& p : model.parameters()) before.push_back(p.value());
  (autodiff::sum(model(V(test::random_array({6, 4}, 3)))) * 0.0).backward();
  sgd.step();
  const auto after = model.named_parameters();
  for (std::size_t i = 0; i < after.size(); ++i) {
    CAPTURE(after[i].first);
    REQUIRE(after[i].second.has_grad());
    const bool decayed = after[i].first == "0.weight" || after[i].first == "2.weight";
    if (decayed) CHECK(xt::allclose(after[i].second.value(), before[i] * 0.95, 1e-14, 0));
    else CHECK(after[i].second.value() == before[i]);
  }

  // an RNN's bias_ih_l0 and bias_hh_l0 are biases
  RNN<double> rnn(3, 4);
  const auto rnn_groups = decay_groups(rnn, 0.1);
  CHECK(rnn_groups[0].parameters.size() == 2);
  CHECK(rnn_groups[1].parameters.size() == 2);
  for (const V& p : rnn_groups[1].parameters) CHECK(p.name().rfind("bias_", 0) == 0);
}

TEST_CASE("a group's learning rate is what the schedule-facing accessors read and write; step() then uses it") {
  V a(A{1.0}, true), b(A{1.0}, true);
  AdamW<double> adamw({{.parameters = {a}}, {.parameters = {b}, .lr = 0.5, .weight_decay = 0.0}}, {.lr = 0.1});
  adamw.set_learning_rate(1, 0.2);
  autodiff::sum(a * 1.0 + b * 1.0).backward();
  adamw.step();
  CHECK(a.value()(0) == doctest::Approx(1.0 * (1 - 0.1 * 0.01) - 0.1 * 1.0 / (1.0 + 1e-8)).epsilon(1e-14));
  CHECK(b.value()(0) == doctest::Approx(1.0 - 0.2 * 1.0 / (1.0 + 1e-8)).epsilon(1e-14));
}

// ---- learning-rate schedules ------------------------------------------------------

TEST_CASE("StepDecay multiplies the initial rate by gamma once every step_size epochs") {
  StepDecay schedule(3, 0.5);
  double expected = 0.2, current = 0.2;
  for (std::size_t epoch = 1; epoch <= 10; ++epoch) {
    if (epoch % 3 == 0) expected *= 0.5;  // after epochs 3, 6, 9
    current = schedule.next(0.2, current, {epoch, 100 * epoch, 1.0});
    CAPTURE(epoch);
    CHECK(current == doctest::Approx(expected).epsilon(1e-14));
  }
  CHECK(current == doctest::Approx(0.2 / 8).epsilon(1e-14));
}

TEST_CASE("ExponentialDecay gives lr0 * gamma^epoch") {
  ExponentialDecay schedule(0.9);
  double expected = 0.5, current = 0.5;
  for (std::size_t epoch = 1; epoch <= 6; ++epoch) {
    expected *= 0.9;
    current = schedule.next(0.5, current, {epoch, 0, 1.0});
    CAPTURE(epoch);
    CHECK(current == doctest::Approx(expected).epsilon(1e-14));
  }
  CHECK(current == doctest::Approx(0.5 * 0.531441).epsilon(1e-12));
}

TEST_CASE("InverseScaling gives lr0 / (samples_seen + 1)^power_t") {
  InverseScaling square_root;  // power_t 0.5
  CHECK(square_root.next(0.3, 0.3, {1, 99, 1.0}) == doctest::Approx(0.3 / 10).epsilon(1e-14));
  CHECK(square_root.next(0.3, 0.03, {2, 399, 1.0}) == doctest::Approx(0.3 / 20).epsilon(1e-14));
  InverseScaling quarter(0.25);
  CHECK(quarter.next(1.0, 1.0, {1, 15, 1.0}) == doctest::Approx(0.5).epsilon(1e-14));       // 16^-1/4
  CHECK(quarter.next(1.0, 0.5, {2, 80, 1.0}) == doctest::Approx(1.0 / 3).epsilon(1e-14));   // 81^-1/4
  InverseScaling one(1.0);
  CHECK(one.next(2.0, 2.0, {1, 0, 1.0}) == doctest::Approx(2.0).epsilon(1e-14));           // no samples yet
}

TEST_CASE("ReduceOnPlateau divides by the divisor after `patience` epochs without an improvement of tol") {
  ReduceOnPlateau schedule(5, 2, 1e-3, 1e-3);
  struct Epoch {
    double loss, expected_rate;
  };
  const std::vector<Epoch> epochs = {
      {1.0, 0.1},      // improves on +inf
      {0.9, 0.1},      // improves by 0.1
      {0.8995, 0.1},   // improves by 5e-4 < tol: first bad epoch
      {0.95, 0.02},    // second bad epoch in a row: divided by 5
      {0.5, 0.02},     // improves: the count restarts
      {0.7, 0.02},     // bad 1
      {0.4, 0.02},     // improves: the count restarts again
      {0.3995, 0.02},  // bad 1 (better, but not by tol)
      {0.3992, 0.004}, // bad 2: divided by 5
      {0.6, 0.004},    // bad 1
      {0.6, 0.001},    // bad 2: 0.0008 is clipped at min_rate 1e-3
      {0.6, 0.001},
      {0.6, 0.001},    // stays at the minimum
  };
  double rate = 0.1;
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    rate = schedule.next(0.1, rate, {e + 1, 0, epochs[e].loss});
    CAPTURE(e);
    CHECK(rate == doctest::Approx(epochs[e].expected_rate).epsilon(1e-12));
  }
}

TEST_CASE("ReduceOnPlateau with patience 1 reduces on every bad epoch; ConstantRate keeps the rate") {
  ReduceOnPlateau schedule(2, 1, 0.0, 0.0);
  double rate = 1.0;
  rate = schedule.next(1.0, rate, {1, 0, 3.0});
  CHECK(rate == 1.0);
  rate = schedule.next(1.0, rate, {2, 0, 3.0});  // equal loss is no improvement
  CHECK(rate == 0.5);
  rate = schedule.next(1.0, rate, {3, 0, 4.0});
  CHECK(rate == 0.25);
  rate = schedule.next(1.0, rate, {4, 0, 2.0});
  CHECK(rate == 0.25);

  ConstantRate constant;
  CHECK(constant.next(1.0, 0.37, {5, 10, 9.0}) == 0.37);
}

// ---- gradient clipping ----

namespace {
// Two parameters with gradients (3, 4) and (12,): joint 2-norm 13, 1-norm 19, max 12.
std::vector<V> with_gradients() {
  V a(A{0.0, 0.0}, true), b(A{0.0}, true);
  (sum(a * V(A{3.0, -4.0})) + sum(b * 12.0)).backward();
  return {a, b};
}
}  // namespace

TEST_CASE("clip_grad_norm scales all gradients together to max_norm and returns the norm before") {
  auto p = with_gradients();
  CHECK(clip_grad_norm(p, 6.5) == doctest::Approx(13.0));
  const double scale = 6.5 / (13.0 + 1e-6);  // PyTorch's max_norm / (norm + 1e-6)
  CHECK(p[0].grad()(0) == doctest::Approx(3.0 * scale).epsilon(1e-14));
  CHECK(p[0].grad()(1) == doctest::Approx(-4.0 * scale).epsilon(1e-14));
  CHECK(p[1].grad()(0) == doctest::Approx(12.0 * scale).epsilon(1e-14));
  // below max_norm nothing changes
  p = with_gradients();
  CHECK(clip_grad_norm(p, 100.0) == doctest::Approx(13.0));
  CHECK(p[1].grad()(0) == 12.0);
  // other norms
  p = with_gradients();
  CHECK(clip_grad_norm(p, 1.9, 1.0) == doctest::Approx(19.0));
  CHECK(p[0].grad()(1) == doctest::Approx(-4.0 * 1.9 / (19.0 + 1e-6)));
  p = with_gradients();
  CHECK(clip_grad_norm(p, 6.0, INFINITY) == doctest::Approx(12.0));
  CHECK(p[1].grad()(0) == doctest::Approx(6.0 * 12.0 / (12.0 + 1e-6)));
  // a parameter without a gradient is skipped
  V unused(A{1.0}, true);
  p = with_gradients();
  p.push_back(unused);
  CHECK(clip_grad_norm(p, 1.0) == doctest::Approx(13.0));
  CHECK_FALSE(unused.has_grad());
}

TEST_CASE("clip_grad_norm and clip_grad_value scale two parameters that got the same gradient (a + b) once each") {
  // An RNN's bias_ih and bias_hh are such a pair: the backward of a + b passes one array to both.
  for (bool create_graph : {false, true}) {
    CAPTURE(create_graph);
    V a(A{0.0, 0.0}, true), b(A{0.0, 0.0}, true);
    sum((a + b) * V(A{3.0, -4.0})).backward({.create_graph = create_graph});
    CHECK(clip_grad_norm<double>({a, b}, 1.0) == doctest::Approx(std::sqrt(50.0)));
    const double scale = 1.0 / (std::sqrt(50.0) + 1e-6);
    for (const V& p : {a, b}) {
      CHECK(p.grad()(0) == doctest::Approx(3.0 * scale).epsilon(1e-14));
      CHECK(p.grad()(1) == doctest::Approx(-4.0 * scale).epsilon(1e-14));
    }
    clip_grad_value<double>({a, b}, 0.5);
    for (const V& p : {a, b}) CHECK(p.grad()(1) == doctest::Approx(-0.5));
    CHECK(a.grad()(0) == doctest::Approx(3.0 * scale).epsilon(1e-14));  // below 0.5: unchanged
  }
}

TEST_CASE("clip_grad_value clamps every entry, keeping NaN") {
  auto p = with_gradients();
  clip_grad_value(p, 3.5);
  CHECK(p[0].grad() == A{3.0, -3.5});
  CHECK(p[1].grad() == A{3.5});
}

TEST_CASE("a training step with clipping: the update uses the clipped gradient") {
  auto p = with_gradients();
  SGD<double> sgd(p, 0.5);
  clip_grad_norm(p, 1.3);
  sgd.step();
  CHECK(p[1].value()(0) == doctest::Approx(-0.5 * 12.0 * 1.3 / (13.0 + 1e-6)));
}

TEST_CASE("clip_grad_value checks every parameter before touching any gradient") {
  auto p = with_gradients();
  const auto version = p[0].node().grad->version;
  const A before = p[0].grad();
  CHECK_THROWS_AS(clip_grad_value<double>({p[0], V()}, 0.5), autodiff::GraphError);
  CHECK(p[0].node().grad->version == version);
  CHECK(p[0].grad() == before);
}
