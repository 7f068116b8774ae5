// Optimizers that update a module's parameters from their gradients, with
// PyTorch's update formulas, and learning-rate schedules.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <autodiff/variable.hpp>

namespace nn {

using autodiff::Array;
using autodiff::Variable;

template <class T = float>
class Optimizer {
 public:
  // Checks what every optimizer needs (PyTorch's checks): a non-empty list of
  // distinct leaves that require a gradient, a learning rate >= 0 (0 is allowed,
  // as in PyTorch) and a weight decay >= 0. `name` is used in error messages.
  Optimizer(std::string name, std::vector<Variable<T>> parameters, double learning_rate, double weight_decay);
  Optimizer(std::vector<Variable<T>> parameters, double learning_rate, double weight_decay)
      : Optimizer("Optimizer", std::move(parameters), learning_rate, weight_decay) {}
  virtual ~Optimizer() = default;
  // One update of every parameter that has a gradient (not recorded on the tape).
  // Every parameter and gradient is checked first: if step() throws (a parameter
  // resized since the optimizer was built), nothing has changed, not even steps().
  void step();
  void zero_grad();
  double learning_rate() const { return learning_rate_; }
  // A rate >= 0 (std::invalid_argument otherwise).
  void set_learning_rate(double rate);
  std::size_t steps() const { return steps_; }
  const std::string& name() const { return name_; }
  const std::vector<Variable<T>>& parameters() const { return parameters_; }
  // Copies of every per-parameter state array (momenta, moments, ...), in a
  // fixed order: for checks and tests that the state did not change.
  virtual std::vector<Array<T>> state() const { return {}; }

 protected:
  // Updates parameter i in place; gradient already includes weight decay.
  virtual void update(std::size_t i, Array<T>& parameter, const Array<T>& gradient) = 0;
  // Per-parameter state, zero-initialised with each parameter's shape.
  std::vector<Array<T>> make_state() const;

  std::vector<Variable<T>> parameters_;
  double learning_rate_;
  double weight_decay_;  // adds weight_decay * w to the gradient (L2 in the optimizer)
  std::size_t steps_ = 0;

 private:
  std::string name_;
  std::vector<autodiff::Shape> shapes_;  // each parameter's shape when the optimizer was built
};

// Gradient descent: w -= lr * g. With momentum mu: v = mu v + g, w -= lr v;
// Nesterov: w -= lr (g + mu v). momentum >= 0; Nesterov needs momentum > 0 (as PyTorch).
template <class T = float>
class SGD : public Optimizer<T> {
 public:
  SGD(std::vector<Variable<T>> parameters, double learning_rate, double momentum = 0, bool nesterov = false,
      double weight_decay = 0);
  const std::vector<Array<T>>& velocity() const { return velocity_; }  // empty without momentum
  std::vector<Array<T>> state() const override { return velocity_; }

 protected:
  void update(std::size_t i, Array<T>& parameter, const Array<T>& gradient) override;

 private:
  double momentum_;
  bool nesterov_;
  std::vector<Array<T>> velocity_;
};

// Adagrad: s += g^2, w -= lr g / (sqrt(s) + eps). eps > 0 (with eps = 0, which
// PyTorch allows, a zero gradient gives 0 / 0 = NaN).
template <class T = float>
class Adagrad : public Optimizer<T> {
 public:
  Adagrad(std::vector<Variable<T>> parameters, double learning_rate = 0.01, double eps = 1e-10,
          double weight_decay = 0);
  const std::vector<Array<T>>& sum_squares() const { return sum_squares_; }
  std::vector<Array<T>> state() const override { return sum_squares_; }

 protected:
  void update(std::size_t i, Array<T>& parameter, const Array<T>& gradient) override;

 private:
  double eps_;
  std::vector<Array<T>> sum_squares_;
};

// RMSprop: s = alpha s + (1 - alpha) g^2, w -= lr g / (sqrt(s) + eps). alpha in
// [0, 1] (above 1, s turns negative and its square root NaN), eps > 0.
template <class T = float>
class RMSprop : public Optimizer<T> {
 public:
  RMSprop(std::vector<Variable<T>> parameters, double learning_rate = 0.01, double alpha = 0.99, double eps = 1e-8,
          double weight_decay = 0);
  const std::vector<Array<T>>& mean_squares() const { return mean_squares_; }
  std::vector<Array<T>> state() const override { return mean_squares_; }

 protected:
  void update(std::size_t i, Array<T>& parameter, const Array<T>& gradient) override;

 private:
  double alpha_, eps_;
  std::vector<Array<T>> mean_squares_;
};

// Adam (Kingma & Ba): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// w -= lr m^ / (sqrt(v^) + eps) with the bias corrections m^ = m / (1 - b1^t), v^ = v / (1 - b2^t).
// beta1 and beta2 in [0, 1) (as PyTorch), eps > 0.
template <class T = float>
class Adam : public Optimizer<T> {
 public:
  Adam(std::vector<Variable<T>> parameters, double learning_rate = 0.001, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8, double weight_decay = 0);
  const std::vector<Array<T>>& first_moments() const { return m_; }   // PyTorch's exp_avg
  const std::vector<Array<T>>& second_moments() const { return v_; }  // exp_avg_sq
  const std::vector<std::size_t>& updates() const { return updates_; }  // state['step'] per parameter
  std::vector<Array<T>> state() const override;

 protected:
  void update(std::size_t i, Array<T>& parameter, const Array<T>& gradient) override;

 private:
  double beta1_, beta2_, eps_;
  std::vector<Array<T>> m_, v_;
  std::vector<std::size_t> updates_;  // per parameter, for the bias corrections (PyTorch's state['step'])
};

// ---- learning-rate schedules ------------------------------------------------------
// Called once at the end of every epoch with what happened in it; returns the
// learning rate for the next epoch.
struct EpochEnd {
  std::size_t epoch;         // epochs completed, from 1
  std::size_t samples_seen;  // training samples seen so far
  double loss;               // the epoch's training loss
};

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual double next(double initial_rate, double current_rate, const EpochEnd& end) = 0;
};

class ConstantRate : public Schedule {
 public:
  double next(double, double current, const EpochEnd&) override { return current; }
};

// lr0 * gamma^(epoch / step_size); step_size >= 1, gamma >= 0.
class StepDecay : public Schedule {
 public:
  StepDecay(std::size_t step_size, double gamma);
  double next(double initial, double current, const EpochEnd& end) override;

 private:
  std::size_t step_size_;
  double gamma_;
};

// lr0 * gamma^epoch; gamma >= 0.
class ExponentialDecay : public Schedule {
 public:
  explicit ExponentialDecay(double gamma);
  double next(double initial, double current, const EpochEnd& end) override;

 private:
  double gamma_;
};

// scikit-learn's 'invscaling': lr0 / (t + 1)^power_t with t the samples seen; power_t >= 0.
class InverseScaling : public Schedule {
 public:
  explicit InverseScaling(double power_t = 0.5);
  double next(double initial, double current, const EpochEnd& end) override;

 private:
  double power_t_;
};

// Divides the rate by `divisor` when the loss has not improved by tol for
// `patience` epochs in a row (scikit-learn's 'adaptive': divisor 5, patience 2),
// never below min_rate (and never raising a rate already below it). divisor > 1
// (PyTorch's factor = 1 / divisor in (0, 1)), tol >= 0, min_rate >= 0.
class ReduceOnPlateau : public Schedule {
 public:
  explicit ReduceOnPlateau(double divisor = 5, std::size_t patience = 2, double tol = 1e-4, double min_rate = 1e-6);
  double next(double initial, double current, const EpochEnd& end) override;

 private:
  double divisor_;
  std::size_t patience_;
  double tol_, min_rate_;
  double best_ = std::numeric_limits<double>::infinity();
  std::size_t bad_epochs_ = 0;
};

// ---- gradient clipping (torch.nn.utils.clip_grad_norm_ and clip_grad_value_) ----

// Scales the gradients of `parameters` (those that have one) in place so that
// their joint norm (the p-norm of all entries together; p = infinity for the
// largest magnitude) is at most max_norm: each is multiplied by
// max_norm / (norm + 1e-6) when that is below 1. Returns the norm before
// clipping. What exploding RNN gradients need (Pascanu et al. 2013). max_norm >= 0,
// p > 0; with error_if_nonfinite a NaN or infinite norm is a std::runtime_error
// and nothing is changed (else, as PyTorch, the gradients become NaN).
template <class T>
double clip_grad_norm(const std::vector<Variable<T>>& parameters, double max_norm, double p = 2,
                      bool error_if_nonfinite = false);
// Clamps every gradient entry to [-clip_value, clip_value] in place; clip_value >= 0.
template <class T>
void clip_grad_value(const std::vector<Variable<T>>& parameters, double clip_value);

}  // namespace nn
