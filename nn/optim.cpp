#include "optim.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <autodiff/op.hpp>
#include <autodiff/tape.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "check.hpp"

namespace nn {

template <class T>
Optimizer<T>::Optimizer(std::string name, std::vector<Variable<T>> parameters, double learning_rate,
                        double weight_decay)
    : parameters_(std::move(parameters)), learning_rate_(learning_rate), weight_decay_(weight_decay),
      name_(std::move(name)) {
  detail::require_at_least(name_, "learning rate", learning_rate, 0);
  detail::require_at_least(name_, "weight_decay", weight_decay, 0);
  if (parameters_.empty())
    throw std::invalid_argument(name_ + ": got an empty parameter list (nothing to optimize)");
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Variable<T>& p = parameters_[i];
    detail::require_defined(name_, "parameter " + std::to_string(i), p);
    const std::string what = "parameter " + std::to_string(i) + (p.name().empty() ? "" : " ('" + p.name() + "')");
    if (!p.is_leaf())
      throw autodiff::GraphError(name_ + ": " + what + " was made by op '" + p.op()->name +
                                 "'; every parameter must be a leaf that requires a gradient");
    if (!p.requires_grad())
      throw autodiff::GraphError(name_ + ": " + what +
                                 " does not require a gradient; every parameter must be a leaf that requires a gradient");
    for (std::size_t j = 0; j < i; ++j)
      if (parameters_[j].node_ptr() == p.node_ptr())
        throw std::invalid_argument(name_ + ": " + what + " is the same Variable as parameter " + std::to_string(j) +
                                    "; each parameter may appear only once (it would be updated twice)");
    shapes_.push_back(p.shape());
  }
}

template <class T>
void Optimizer<T>::set_learning_rate(double rate) {
  detail::require_at_least(name_ + "::set_learning_rate", "learning rate", rate, 0);
  learning_rate_ = rate;
}

template <class T>
void Optimizer<T>::step() {
  // Everything is checked before anything changes.
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Variable<T>& p = parameters_[i];
    const std::string what = "parameter " + std::to_string(i) + (p.name().empty() ? "" : " ('" + p.name() + "')");
    if (!autodiff::detail::same_shape(p.shape(), shapes_[i]))
      throw autodiff::ShapeError(name_ + "::step: " + what + " has shape " + autodiff::to_string(p.shape()) +
                                 " but had shape " + autodiff::to_string(shapes_[i]) +
                                 " when the optimizer was built; build a new optimizer after resizing a parameter");
    if (p.has_grad() && !autodiff::detail::same_shape(p.grad().shape(), p.shape()))
      throw autodiff::ShapeError(name_ + "::step: the gradient of " + what + " has shape " +
                                 autodiff::to_string(p.grad().shape()) + " where the parameter has shape " +
                                 autodiff::to_string(p.shape()));
  }
  autodiff::no_grad scope;
  ++steps_;
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    Variable<T>& p = parameters_[i];
    if (!p.has_grad()) continue;
    if (weight_decay_ != 0) {
      const Array<T> gradient = p.grad() + T(weight_decay_) * p.value();
      update(i, p.data(), gradient);
    } else {
      update(i, p.data(), p.grad());
    }
  }
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& p : parameters_) p.zero_grad();
}

template <class T>
std::vector<Array<T>> Optimizer<T>::make_state() const {
  std::vector<Array<T>> state;
  for (auto& p : parameters_) state.push_back(xt::zeros<T>(p.shape()));
  return state;
}

template <class T>
SGD<T>::SGD(std::vector<Variable<T>> parameters, double learning_rate, double momentum, bool nesterov,
            double weight_decay)
    : Optimizer<T>("SGD", std::move(parameters), learning_rate, weight_decay), momentum_(momentum), nesterov_(nesterov) {
  detail::require_at_least("SGD", "momentum", momentum, 0);
  if (nesterov && momentum == 0)
    throw std::invalid_argument("SGD: Nesterov momentum needs a momentum > 0 (got momentum 0)");
  if (momentum_ != 0) velocity_ = this->make_state();
}

template <class T>
void SGD<T>::update(std::size_t i, Array<T>& w, const Array<T>& g) {
  const T lr = T(this->learning_rate_), mu = T(momentum_);
  if (momentum_ == 0) {  // w -= lr g as a plain loop: `xt::noalias(w) -= lr * g` takes 1.9x as long
    T* weights = w.data();
    const T* gradient = g.data();
    for (std::size_t k = 0, n = w.size(); k < n; ++k) weights[k] -= lr * gradient[k];
    return;
  }
  Array<T>& v = velocity_[i];  // starts at 0, so the first update sets v = g (as PyTorch)
  xt::noalias(v) = mu * v + g;
  if (nesterov_) xt::noalias(w) -= lr * (g + mu * v);
  else xt::noalias(w) -= lr * v;
}

template <class T>
Adagrad<T>::Adagrad(std::vector<Variable<T>> parameters, double learning_rate, double eps, double weight_decay)
    : Optimizer<T>("Adagrad", std::move(parameters), learning_rate, weight_decay), eps_(eps) {
  detail::require_above("Adagrad", "eps", eps, 0);
  sum_squares_ = this->make_state();
}

template <class T>
void Adagrad<T>::update(std::size_t i, Array<T>& w, const Array<T>& g) {
  Array<T>& s = sum_squares_[i];
  xt::noalias(s) += g * g;
  xt::noalias(w) -= T(this->learning_rate_) * g / (xt::sqrt(s) + T(eps_));
}

template <class T>
RMSprop<T>::RMSprop(std::vector<Variable<T>> parameters, double learning_rate, double alpha, double eps,
                    double weight_decay)
    : Optimizer<T>("RMSprop", std::move(parameters), learning_rate, weight_decay), alpha_(alpha), eps_(eps) {
  detail::require_in_closed("RMSprop", "alpha", alpha, 0, 1);
  detail::require_above("RMSprop", "eps", eps, 0);
  mean_squares_ = this->make_state();
}

template <class T>
void RMSprop<T>::update(std::size_t i, Array<T>& w, const Array<T>& g) {
  Array<T>& s = mean_squares_[i];
  xt::noalias(s) = T(alpha_) * s + T(1 - alpha_) * g * g;
  xt::noalias(w) -= T(this->learning_rate_) * g / (xt::sqrt(s) + T(eps_));
}

template <class T>
Adam<T>::Adam(std::vector<Variable<T>> parameters, double learning_rate, double beta1, double beta2, double eps,
              double weight_decay)
    : Optimizer<T>("Adam", std::move(parameters), learning_rate, weight_decay), beta1_(beta1), beta2_(beta2), eps_(eps) {
  detail::require_in_half_open("Adam", "beta1", beta1, 0, 1);
  detail::require_in_half_open("Adam", "beta2", beta2, 0, 1);
  detail::require_above("Adam", "eps", eps, 0);
  m_ = this->make_state();
  v_ = this->make_state();
  updates_.assign(this->parameters_.size(), 0);
}

template <class T>
std::vector<Array<T>> Adam<T>::state() const {
  std::vector<Array<T>> all = m_;
  all.insert(all.end(), v_.begin(), v_.end());
  return all;
}

template <class T>
void Adam<T>::update(std::size_t i, Array<T>& w, const Array<T>& g) {
  Array<T>&m = m_[i], &v = v_[i];
  xt::noalias(m) = T(beta1_) * m + T(1 - beta1_) * g;
  xt::noalias(v) = T(beta2_) * v + T(1 - beta2_) * g * g;
  const double t = double(++updates_[i]);
  const T m_correction = T(1 / (1 - std::pow(beta1_, t)));
  const T v_correction = T(1 / (1 - std::pow(beta2_, t)));
  xt::noalias(w) -= T(this->learning_rate_) * (m * m_correction) / (xt::sqrt(v * v_correction) + T(eps_));
}

StepDecay::StepDecay(std::size_t step_size, double gamma) : step_size_(step_size), gamma_(gamma) {
  if (step_size == 0) throw std::invalid_argument("StepDecay: step size 0 must be at least 1 (epochs per decay)");
  detail::require_at_least("StepDecay", "gamma", gamma, 0);
}

ExponentialDecay::ExponentialDecay(double gamma) : gamma_(gamma) {
  detail::require_at_least("ExponentialDecay", "gamma", gamma, 0);
}

InverseScaling::InverseScaling(double power_t) : power_t_(power_t) {
  detail::require_at_least("InverseScaling", "power_t", power_t, 0);
}

ReduceOnPlateau::ReduceOnPlateau(double divisor, std::size_t patience, double tol, double min_rate)
    : divisor_(divisor), patience_(patience), tol_(tol), min_rate_(min_rate) {
  detail::require(std::isfinite(divisor) && divisor > 1, "ReduceOnPlateau", "divisor", divisor,
                  "must be a finite number > 1 (the rate is divided by it: a factor 1 / divisor in (0, 1))");
  detail::require_at_least("ReduceOnPlateau", "tol", tol, 0);
  detail::require_at_least("ReduceOnPlateau", "min_rate", min_rate, 0);
}

double StepDecay::next(double initial, double, const EpochEnd& end) {
  return initial * std::pow(gamma_, double(end.epoch / step_size_));
}

double ExponentialDecay::next(double initial, double, const EpochEnd& end) {
  return initial * std::pow(gamma_, double(end.epoch));
}

double InverseScaling::next(double initial, double, const EpochEnd& end) {
  return initial / std::pow(double(end.samples_seen) + 1, power_t_);
}

double ReduceOnPlateau::next(double, double current, const EpochEnd& end) {
  if (end.loss < best_ - tol_) {
    best_ = end.loss;
    bad_epochs_ = 0;
    return current;
  }
  best_ = std::min(best_, end.loss);
  if (++bad_epochs_ < patience_) return current;
  bad_epochs_ = 0;
  if (current <= min_rate_) return current;  // a rate already at or below the floor is not raised to it
  return std::max(min_rate_, current / divisor_);
}

// ---- gradient clipping ---------------------------------------------------------

namespace {
// The gradients to clip, in place (a parameter without one is skipped, as in PyTorch).
template <class T>
std::vector<Array<T>*> gradients_of(const char* call, const std::vector<Variable<T>>& parameters) {
  std::vector<Array<T>*> gradients;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    detail::require_defined(call, "parameter " + std::to_string(i), parameters[i]);
    if (!parameters[i].has_grad()) continue;
    autodiff::Node<T>& gradient = *parameters[i].node().grad;
    // a gradient shared by two parameters (create_graph's a + b, or a parameter listed twice) is changed once
    if (std::find(gradients.begin(), gradients.end(), &gradient.value) != gradients.end()) continue;
    ++gradient.version;  // a graph that used this gradient (create_graph) would see the change
    gradients.push_back(&gradient.value);
  }
  return gradients;
}
}  // namespace

template <class T>
double clip_grad_norm(const std::vector<Variable<T>>& parameters, double max_norm, double p, bool error_if_nonfinite) {
  detail::require(max_norm >= 0, "clip_grad_norm", "max_norm", max_norm, "must be >= 0");
  if (!(p > 0)) throw std::invalid_argument("clip_grad_norm: p = " + detail::number(p) + " is not a norm's order (> 0)");
  for (std::size_t i = 0; i < parameters.size(); ++i)
    detail::require_defined("clip_grad_norm", "parameter " + std::to_string(i), parameters[i]);
  // the norm first, in double (no overflow for float gradients), nothing changed yet
  double norm = 0;
  for (const auto& parameter : parameters) {
    if (!parameter.has_grad()) continue;
    for (T g : parameter.grad()) {
      const double a = std::abs(double(g));
      if (std::isinf(p)) norm = a > norm || a != a ? a : norm;  // a NaN stays (a > NaN is false)
      else norm += p == 2 ? a * a : p == 1 ? a : std::pow(a, p);
    }
  }
  if (!std::isinf(p)) norm = std::pow(norm, 1 / p);
  if (error_if_nonfinite && !std::isfinite(norm))
    throw std::runtime_error("clip_grad_norm: the gradients' " + detail::number(p) + "-norm is " + detail::number(norm) +
                             "; nothing was clipped (error_if_nonfinite)");
  const double scale = max_norm / (norm + 1e-6);
  if (scale < 1 || std::isnan(scale))
    for (Array<T>* g : gradients_of("clip_grad_norm", parameters)) *g *= T(scale);
  return norm;
}

template <class T>
void clip_grad_value(const std::vector<Variable<T>>& parameters, double clip_value) {
  detail::require(clip_value >= 0, "clip_grad_value", "clip_value", clip_value, "must be >= 0");
  for (std::size_t i = 0; i < parameters.size(); ++i)  // all checked before any gradient is touched
    detail::require_defined("clip_grad_value", "parameter " + std::to_string(i), parameters[i]);
  const T bound = T(clip_value);
  for (Array<T>* g : gradients_of("clip_grad_value", parameters))
    for (T& v : *g) v = v != v ? v : std::clamp(v, -bound, bound);
}

#define WENGERT_INSTANTIATE(T) \
  template class Optimizer<T>; \
  template class SGD<T>;       \
  template class Adagrad<T>;   \
  template class RMSprop<T>;   \
  template class Adam<T>;     \
  template double clip_grad_norm(const std::vector<Variable<T>>&, double, double, bool); \
  template void clip_grad_value(const std::vector<Variable<T>>&, double);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
