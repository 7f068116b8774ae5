// Optimizers that update a module's parameters from their gradients, with
// PyTorch's update formulas, and learning-rate schedules.
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <autodiff/variable.hpp>

#include "state.hpp"

namespace nn {

using autodiff::Array;
using autodiff::Variable;

// One group of parameters with its own hyper-parameters (PyTorch's param_groups):
// a learning rate or weight decay not given here is the optimizer's default.
//   nn::SGD<float> sgd({{.parameters = body.parameters(), .lr = 0.01}, {.parameters = head.parameters()}},
//                      {.lr = 0.1, .momentum = 0.9});  // the head at 0.1
// A parameter may be in one group only; an empty group is allowed (as PyTorch).
template <class T = float>
struct ParamGroup {
  std::vector<Variable<T>> parameters = {};
  std::optional<double> lr = std::nullopt;            // the optimizer's lr if not given
  std::optional<double> weight_decay = std::nullopt;  // the optimizer's weight_decay if not given
};

template <class T>
class Module;

// The common "no weight decay on biases and norms" recipe: group 0 holds the
// parameters that are decayed by `weight_decay`, group 1 (weight_decay 0) every
// bias (a parameter whose last name component is "bias" or starts with "bias_", as
// an RNN's bias_ih_l0) and every parameter of a BatchNorm or LayerNorm. Both
// groups take the optimizer's learning rate. Always two groups (one may be empty).
//   nn::AdamW<float> opt(nn::decay_groups(model, 0.05), {.lr = 1e-3});
template <class T>
std::vector<ParamGroup<T>> decay_groups(Module<T>& model, double weight_decay);

template <class T = float>
class Optimizer {
 public:
  // Checks what every optimizer needs (PyTorch's checks): at least one parameter,
  // distinct leaves that require a gradient (a parameter in two groups is an error
  // naming it), learning rates >= 0 (0 is allowed, as in PyTorch) and weight decays
  // >= 0. `name` is used in error messages; the defaults fill in what a group leaves out.
  Optimizer(std::string name, std::vector<ParamGroup<T>> groups, double learning_rate, double weight_decay);
  Optimizer(std::string name, std::vector<Variable<T>> parameters, double learning_rate, double weight_decay);
  Optimizer(std::vector<Variable<T>> parameters, double learning_rate, double weight_decay)
      : Optimizer("Optimizer", std::move(parameters), learning_rate, weight_decay) {}
  virtual ~Optimizer() = default;
  // One update of every parameter that has a gradient (not recorded on the tape).
  // Every parameter and gradient is checked first: if step() throws (a parameter
  // resized since the optimizer was built), nothing has changed, not even steps().
  void step();
  void zero_grad();
  // Group 0's learning rate; set_learning_rate(rate) sets every group's.
  double learning_rate() const { return groups_[0].learning_rate; }
  // A rate >= 0 (std::invalid_argument otherwise).
  void set_learning_rate(double rate);
  // Per group (what schedulers use); a group >= group_count() is std::out_of_range.
  std::size_t group_count() const { return groups_.size(); }
  double learning_rate(std::size_t group) const;
  void set_learning_rate(std::size_t group, double rate);
  double weight_decay(std::size_t group) const;
  // The parameters of one group (parameters() lists all groups' in order).
  std::vector<Variable<T>> group_parameters(std::size_t group) const;
  std::size_t steps() const { return steps_; }
  // Updates of each parameter so far (PyTorch's state['step']): a parameter
  // without a gradient at a step is not updated and not counted.
  const std::vector<std::size_t>& updates() const { return updates_; }
  const std::string& name() const { return name_; }
  const std::vector<Variable<T>>& parameters() const { return parameters_; }
  // Copies of every per-parameter state array (momenta, moments, ...), in a
  // fixed order: for checks and tests that the state did not change.
  virtual std::vector<Array<T>> state() const { return {}; }

  // ---- state (nn/state.hpp) ----
  // PyTorch's optimizer state_dict, flat: "kind" (name() as text), "steps", per group
  // "param_groups.<g>.lr", ".weight_decay" and ".params" (the parameters' indices),
  // per parameter "state.<i>.step" (updates()[i]) and the optimizer's arrays under
  // PyTorch's names ("state.<i>.exp_avg", ...), and the hyper-parameters as
  // "options.<name>" (one set per optimizer here, per group in PyTorch).
  StateDict state_dict() const;
  // Restores a state_dict() (PyTorch's load_state_dict: the hyper-parameters too).
  // Another kind of optimizer, other group or parameter counts, an array of
  // another shape or a hyper-parameter the constructor would reject is a
  // StateError naming the key; on any error nothing has changed.
  void load_state_dict(const StateDict& state);

 protected:
  // Each optimizer's own part of its state_dict: options and per-parameter arrays.
  virtual void write_state(StateDict&) const {}
  // Reads and checks that part (throwing StateError), changing nothing; returns
  // what puts it in place, which cannot fail.
  virtual std::function<void()> read_state(const StateDict&) { return [] {}; }
  // Updates parameter i in place at learning rate lr (its group's); the gradient
  // already includes the coupled weight decay. updates()[i] already counts this update.
  virtual void update(std::size_t i, Array<T>& parameter, const Array<T>& gradient, double lr) = 0;
  // Per-parameter state, each parameter's shape filled with `value`.
  std::vector<Array<T>> make_state(double value = 0) const;

  std::vector<Variable<T>> parameters_;  // every group's, in order
  // true: w *= 1 - lr * weight_decay before update() (AdamW, Loshchilov & Hutter);
  // false: weight_decay * w is added to the gradient (L2 in the optimizer)
  bool decoupled_weight_decay_ = false;

 private:
  struct Group {
    std::size_t begin, end;  // its parameters are parameters_[begin, end)
    double learning_rate, weight_decay;
  };
  const Group& group(const std::string& call, std::size_t g) const;
  std::string name_;
  std::vector<Group> groups_;
  std::vector<std::size_t> group_of_;    // each parameter's group
  std::vector<autodiff::Shape> shapes_;  // each parameter's shape when the optimizer was built
  std::vector<std::size_t> updates_;
  std::size_t steps_ = 0;
};

// PyTorch's names and defaults (torch.optim.SGD; lr has no default in LibTorch 1.13,
// 1e-3 in PyTorch 2).
struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

// Gradient descent: w -= lr * g. With momentum mu: v = g at a parameter's first
// update, then v = mu v + (1 - dampening) g; w -= lr v, or with Nesterov
// w -= lr (g + mu v). momentum >= 0; Nesterov needs momentum > 0 and dampening 0 (as PyTorch).
template <class T = float>
class SGD : public Optimizer<T> {
 public:
  SGD(std::vector<Variable<T>> parameters, double learning_rate, double momentum = 0, bool nesterov = false,
      double weight_decay = 0);
  SGD(std::vector<Variable<T>> parameters, const SGDOptions& options);
  SGD(std::vector<ParamGroup<T>> groups, const SGDOptions& options = {});
  const SGDOptions& options() const { return options_; }
  const std::vector<Array<T>>& velocity() const { return velocity_; }  // empty without momentum
  std::vector<Array<T>> state() const override { return velocity_; }

 protected:
  void update(std::size_t i, Array<T>& parameter, const Array<T>& gradient, double lr) override;
  void write_state(StateDict& state) const override;  // state_dict()
  std::function<void()> read_state(const StateDict& state) override;

 private:
  SGDOptions options_;
  std::vector<Array<T>> velocity_;
};

struct AdagradOptions {
  double lr = 0.01;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
};

// Adagrad: s += g^2, w -= clr g / (sqrt(s) + eps) with clr = lr / (1 + (t - 1) lr_decay)
// at a parameter's t-th update; s starts at initial_accumulator_value. eps > 0 (with
// eps = 0, which PyTorch allows, a zero gradient gives 0 / 0 = NaN); lr_decay >= 0,
// initial_accumulator_value >= 0.
template <class T = float>
class Adagrad : public Optimizer<T> {
 public:
  Adagrad(std::vector<Variable<T>> parameters, double learning_rate = 0.01, double eps = 1e-10,
          double weight_decay = 0);
  Adagrad(std::vector<Variable<T>> parameters, const AdagradOptions& options);
  Adagrad(std::vector<ParamGroup<T>> groups, const AdagradOptions& options = {});
  const AdagradOptions& options() const { return options_; }
  const std::vector<Array<T>>& sum_squares() const { return sum_squares_; }
  std::vector<Array<T>> state() const override { return sum_squares_; }

 protected:
  void update(std::size_t i, Array<T>& parameter, const Array<T>& gradient, double lr) override;
  void write_state(StateDict& state) const override;  // state_dict()
  std::function<void()> read_state(const StateDict& state) override;

 private:
  AdagradOptions options_;
  std::vector<Array<T>> sum_squares_;
};

struct RMSpropOptions {
  double lr = 0.01;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};

// RMSprop: s = alpha s + (1 - alpha) g^2 and d = sqrt(s) + eps; centered (Graves 2013):
// also a = alpha a + (1 - alpha) g and d = sqrt(s - a^2) + eps. Then w -= lr g / d, or
// with momentum mu: b = mu b + g / d, w -= lr b. alpha in [0, 1] (above 1, s turns
// negative and its square root NaN), eps > 0, momentum >= 0.
template <class T = float>
class RMSprop : public Optimizer<T> {
 public:
  RMSprop(std::vector<Variable<T>> parameters, double learning_rate = 0.01, double alpha = 0.99, double eps = 1e-8,
          double weight_decay = 0);
  RMSprop(std::vector<Variable<T>> parameters, const RMSpropOptions& options);
  RMSprop(std::vector<ParamGroup<T>> groups, const RMSpropOptions& options = {});
  const RMSpropOptions& options() const { return options_; }
  const std::vector<Array<T>>& mean_squares() const { return mean_squares_; }
  const std::vector<Array<T>>& mean_gradients() const { return mean_gradients_; }  // centered only (grad_avg)
  const std::vector<Array<T>>& momentum_buffers() const { return momentum_buffers_; }  // momentum > 0 only
  std::vector<Array<T>> state() const override;

 protected:
  void update(std::size_t i, Array<T>& parameter, const Array<T>& gradient, double lr) override;
  void write_state(StateDict& state) const override;  // state_dict()
  std::function<void()> read_state(const StateDict& state) override;

 private:
  RMSpropOptions options_;
  std::vector<Array<T>> mean_squares_, mean_gradients_, momentum_buffers_;
};

struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
};

// AdamW's defaults: Adam's, with weight_decay 0.01 (decoupled). A struct of its own, not one
// derived from AdamOptions: designated initialisers ({.lr = ...}) cannot name a base's members.
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.01;
  bool amsgrad = false;
};

// Adam (Kingma & Ba): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
// w -= lr m^ / (sqrt(v^) + eps) with the bias corrections m^ = m / (1 - b1^t),
// v^ = v / (1 - b2^t), t the parameter's update count. AMSGrad (Reddi et al. 2018)
// uses the largest v so far in place of v. beta1 and beta2 in [0, 1) (as PyTorch), eps > 0.
template <class T = float>
class Adam : public Optimizer<T> {
 public:
  Adam(std::vector<Variable<T>> parameters, double learning_rate = 0.001, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8, double weight_decay = 0);
  Adam(std::vector<Variable<T>> parameters, const AdamOptions& options);
  Adam(std::vector<ParamGroup<T>> groups, const AdamOptions& options = {});
  const AdamOptions& options() const { return options_; }
  const std::vector<Array<T>>& first_moments() const { return m_; }   // PyTorch's exp_avg
  const std::vector<Array<T>>& second_moments() const { return v_; }  // exp_avg_sq
  const std::vector<Array<T>>& max_second_moments() const { return max_v_; }  // max_exp_avg_sq (amsgrad only)
  std::vector<Array<T>> state() const override;

 protected:
  // AdamW's: the name for messages, and the weight decay decoupled.
  Adam(std::string name, std::vector<ParamGroup<T>> groups, const AdamOptions& options, bool decoupled);
  void update(std::size_t i, Array<T>& parameter, const Array<T>& gradient, double lr) override;
  void write_state(StateDict& state) const override;  // state_dict()
  std::function<void()> read_state(const StateDict& state) override;

 private:
  AdamOptions options_;
  std::vector<Array<T>> m_, v_, max_v_;
};

// AdamW (Loshchilov & Hutter 2019): w *= 1 - lr * weight_decay, then the Adam step
// on the plain gradient (LibTorch's order). Default weight_decay 0.01, as PyTorch.
template <class T = float>
class AdamW : public Adam<T> {
 public:
  AdamW(std::vector<Variable<T>> parameters, double learning_rate = 0.001, double beta1 = 0.9,
        double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0.01);
  AdamW(std::vector<Variable<T>> parameters, const AdamWOptions& options);
  AdamW(std::vector<ParamGroup<T>> groups, const AdamWOptions& options = {});
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
