#include "optim.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include <autodiff/op.hpp>
#include <autodiff/tape.hpp>

#include "check.hpp"
#include "module.hpp"
#include "normalization.hpp"

namespace nn {

namespace {
// "parameter 3 ('weight')", with its group when there are several.
template <class T>
std::string describe_parameter(std::size_t i, const Variable<T>& p, std::size_t group, std::size_t groups) {
  return "parameter " + std::to_string(i) + (p.defined() && !p.name().empty() ? " ('" + p.name() + "')" : "") +
         (groups > 1 ? " (group " + std::to_string(group) + ")" : "");
}
}  // namespace

template <class T>
Optimizer<T>::Optimizer(std::string name, std::vector<ParamGroup<T>> groups, double learning_rate,
                        double weight_decay)
    : name_(std::move(name)) {
  detail::require_at_least(name_, "learning rate", learning_rate, 0);
  detail::require_at_least(name_, "weight_decay", weight_decay, 0);
  if (groups.empty()) throw std::invalid_argument(name_ + ": got no parameter groups (nothing to optimize)");
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const ParamGroup<T>& given = groups[g];
    const std::string which = "group " + std::to_string(g) + "'s ";
    const Group group{parameters_.size(), parameters_.size() + given.parameters.size(),
                      given.lr.value_or(learning_rate), given.weight_decay.value_or(weight_decay)};
    if (given.lr) detail::require_at_least(name_, which + "learning rate", *given.lr, 0);
    if (given.weight_decay) detail::require_at_least(name_, which + "weight_decay", *given.weight_decay, 0);
    groups_.push_back(group);
    for (const Variable<T>& p : given.parameters) {
      parameters_.push_back(p);
      group_of_.push_back(g);
    }
  }
  if (parameters_.empty())
    throw std::invalid_argument(name_ + ": got an empty parameter list (nothing to optimize)");
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Variable<T>& p = parameters_[i];
    detail::require_defined(name_, "parameter " + std::to_string(i), p);
    const std::string what = describe_parameter(i, p, group_of_[i], groups_.size());
    if (!p.is_leaf())
      throw autodiff::GraphError(name_ + ": " + what + " was made by op '" + p.op()->name +
                                 "'; every parameter must be a leaf that requires a gradient");
    if (!p.requires_grad())
      throw autodiff::GraphError(name_ + ": " + what +
                                 " does not require a gradient; every parameter must be a leaf that requires a gradient");
    for (std::size_t j = 0; j < i; ++j)
      if (parameters_[j].node_ptr() == p.node_ptr()) {
        if (group_of_[j] != group_of_[i])  // PyTorch: "some parameters appear in more than one parameter group"
          throw std::invalid_argument(name_ + ": " + what + " is the same Variable as " +
                                      describe_parameter(j, parameters_[j], group_of_[j], groups_.size()) +
                                      "; a parameter may be in only one group");
        throw std::invalid_argument(name_ + ": " + what + " is the same Variable as " +
                                    describe_parameter(j, parameters_[j], group_of_[j], groups_.size()) +
                                    "; each parameter may appear only once (it would be updated twice)");
      }
    shapes_.push_back(p.shape());
  }
  updates_.assign(parameters_.size(), 0);
}

template <class T>
Optimizer<T>::Optimizer(std::string name, std::vector<Variable<T>> parameters, double learning_rate,
                        double weight_decay)
    : Optimizer(std::move(name), std::vector<ParamGroup<T>>{ParamGroup<T>{std::move(parameters), {}, {}}},
                learning_rate, weight_decay) {}

template <class T>
const typename Optimizer<T>::Group& Optimizer<T>::group(const std::string& call, std::size_t g) const {
  if (g >= groups_.size())
    throw std::out_of_range(name_ + "::" + call + ": group " + detail::label_string(g) + " does not exist (" +
                            std::to_string(groups_.size()) + (groups_.size() == 1 ? " group)" : " groups)"));
  return groups_[g];
}

template <class T>
double Optimizer<T>::learning_rate(std::size_t g) const {
  return group("learning_rate", g).learning_rate;
}

template <class T>
double Optimizer<T>::weight_decay(std::size_t g) const {
  return group("weight_decay", g).weight_decay;
}

template <class T>
std::vector<Variable<T>> Optimizer<T>::group_parameters(std::size_t g) const {
  const Group& chosen = group("group_parameters", g);
  return {parameters_.begin() + std::ptrdiff_t(chosen.begin), parameters_.begin() + std::ptrdiff_t(chosen.end)};
}

template <class T>
void Optimizer<T>::set_learning_rate(double rate) {
  detail::require_at_least(name_ + "::set_learning_rate", "learning rate", rate, 0);
  for (Group& g : groups_) g.learning_rate = rate;
}

template <class T>
void Optimizer<T>::set_learning_rate(std::size_t g, double rate) {
  group("set_learning_rate", g);
  detail::require_at_least(name_ + "::set_learning_rate", "group " + std::to_string(g) + "'s learning rate", rate, 0);
  groups_[g].learning_rate = rate;
}

template <class T>
void Optimizer<T>::step() {
  // Everything is checked before anything changes.
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const Variable<T>& p = parameters_[i];
    const std::string what = describe_parameter(i, p, group_of_[i], groups_.size());
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
    const Group& g = groups_[group_of_[i]];
    ++updates_[i];
    if (g.weight_decay != 0 && decoupled_weight_decay_) {
      const T keep = T(1 - g.learning_rate * g.weight_decay);  // before the step, as LibTorch's AdamW
      T* w = p.data().data();
      for (std::size_t k = 0, n = p.data().size(); k < n; ++k) w[k] *= keep;
      update(i, p.data(), p.grad(), g.learning_rate);
    } else if (g.weight_decay != 0) {  // L2: the update sees g + lambda w
      Array<T> gradient = Array<T>::from_shape(p.shape());
      const T lambda = T(g.weight_decay);
      const T *w = p.value().data(), *dw = p.grad().data();
      for (std::size_t k = 0, n = gradient.size(); k < n; ++k) gradient.data()[k] = dw[k] + lambda * w[k];
      update(i, p.data(), gradient, g.learning_rate);
    } else {
      update(i, p.data(), p.grad(), g.learning_rate);
    }
  }
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& p : parameters_) p.zero_grad();
}

template <class T>
std::vector<Array<T>> Optimizer<T>::make_state(double value) const {
  std::vector<Array<T>> state;
  for (auto& p : parameters_) state.emplace_back(p.shape(), T(value));
  return state;
}

// ---- SGD ----

namespace {
template <class T>
std::vector<ParamGroup<T>> one_group(std::vector<Variable<T>> parameters) {
  return {ParamGroup<T>{std::move(parameters), {}, {}}};
}
}  // namespace

template <class T>
SGD<T>::SGD(std::vector<Variable<T>> parameters, double learning_rate, double momentum, bool nesterov,
            double weight_decay)
    : SGD(one_group(std::move(parameters)),
          SGDOptions{.lr = learning_rate, .momentum = momentum, .weight_decay = weight_decay, .nesterov = nesterov}) {}

template <class T>
SGD<T>::SGD(std::vector<Variable<T>> parameters, const SGDOptions& options)
    : SGD(one_group(std::move(parameters)), options) {}

template <class T>
SGD<T>::SGD(std::vector<ParamGroup<T>> groups, const SGDOptions& options)
    : Optimizer<T>("SGD", std::move(groups), options.lr, options.weight_decay), options_(options) {
  detail::require_at_least("SGD", "momentum", options.momentum, 0);
  detail::require(std::isfinite(options.dampening), "SGD", "dampening", options.dampening, "must be a finite number");
  if (options.nesterov && options.momentum == 0)
    throw std::invalid_argument("SGD: Nesterov momentum needs a momentum > 0 (got momentum 0)");
  if (options.nesterov && options.dampening != 0)
    throw std::invalid_argument("SGD: Nesterov momentum needs dampening 0 (got dampening " +
                                detail::number(options.dampening) + ")");
  if (options.momentum != 0) velocity_ = this->make_state();
}

template <class T>
void SGD<T>::update(std::size_t i, Array<T>& w, const Array<T>& g, double learning_rate) {
  const T lr = T(learning_rate), mu = T(options_.momentum);
  T* weights = w.data();
  const T* gradient = g.data();
  const std::size_t n = w.size();
  if (options_.momentum == 0) {
    for (std::size_t k = 0; k < n; ++k) weights[k] -= lr * gradient[k];
    return;
  }
  T* velocity = velocity_[i].data();
  const bool first = this->updates()[i] == 1;  // PyTorch's buffer starts as the first gradient, undamped
  const T damped = T(1 - options_.dampening);
  for (std::size_t k = 0; k < n; ++k) {
    velocity[k] = first ? gradient[k] : mu * velocity[k] + damped * gradient[k];
    weights[k] -= lr * (options_.nesterov ? gradient[k] + mu * velocity[k] : velocity[k]);
  }
}

// ---- Adagrad ----

template <class T>
Adagrad<T>::Adagrad(std::vector<Variable<T>> parameters, double learning_rate, double eps, double weight_decay)
    : Adagrad(one_group(std::move(parameters)),
              AdagradOptions{.lr = learning_rate, .weight_decay = weight_decay, .eps = eps}) {}

template <class T>
Adagrad<T>::Adagrad(std::vector<Variable<T>> parameters, const AdagradOptions& options)
    : Adagrad(one_group(std::move(parameters)), options) {}

template <class T>
Adagrad<T>::Adagrad(std::vector<ParamGroup<T>> groups, const AdagradOptions& options)
    : Optimizer<T>("Adagrad", std::move(groups), options.lr, options.weight_decay), options_(options) {
  detail::require_at_least("Adagrad", "lr_decay", options.lr_decay, 0);
  detail::require_at_least("Adagrad", "initial_accumulator_value", options.initial_accumulator_value, 0);
  detail::require_above("Adagrad", "eps", options.eps, 0);
  sum_squares_ = this->make_state(options.initial_accumulator_value);
}

template <class T>
void Adagrad<T>::update(std::size_t i, Array<T>& w, const Array<T>& g, double lr) {
  const T clr = T(lr / (1 + double(this->updates()[i] - 1) * options_.lr_decay)), eps = T(options_.eps);
  T *weights = w.data(), *sums = sum_squares_[i].data();
  const T* gradient = g.data();
  for (std::size_t k = 0, n = w.size(); k < n; ++k) {
    sums[k] += gradient[k] * gradient[k];
    weights[k] -= clr * gradient[k] / (std::sqrt(sums[k]) + eps);
  }
}

// ---- RMSprop ----

template <class T>
RMSprop<T>::RMSprop(std::vector<Variable<T>> parameters, double learning_rate, double alpha, double eps,
                    double weight_decay)
    : RMSprop(one_group(std::move(parameters)),
              RMSpropOptions{.lr = learning_rate, .alpha = alpha, .eps = eps, .weight_decay = weight_decay}) {}

template <class T>
RMSprop<T>::RMSprop(std::vector<Variable<T>> parameters, const RMSpropOptions& options)
    : RMSprop(one_group(std::move(parameters)), options) {}

template <class T>
RMSprop<T>::RMSprop(std::vector<ParamGroup<T>> groups, const RMSpropOptions& options)
    : Optimizer<T>("RMSprop", std::move(groups), options.lr, options.weight_decay), options_(options) {
  detail::require_in_closed("RMSprop", "alpha", options.alpha, 0, 1);
  detail::require_above("RMSprop", "eps", options.eps, 0);
  detail::require_at_least("RMSprop", "momentum", options.momentum, 0);
  mean_squares_ = this->make_state();
  if (options.centered) mean_gradients_ = this->make_state();
  if (options.momentum > 0) momentum_buffers_ = this->make_state();
}

template <class T>
std::vector<Array<T>> RMSprop<T>::state() const {
  std::vector<Array<T>> all = mean_squares_;
  all.insert(all.end(), mean_gradients_.begin(), mean_gradients_.end());
  all.insert(all.end(), momentum_buffers_.begin(), momentum_buffers_.end());
  return all;
}

template <class T>
void RMSprop<T>::update(std::size_t i, Array<T>& w, const Array<T>& g, double lr) {
  const T alpha = T(options_.alpha), rest = T(1 - options_.alpha), eps = T(options_.eps);
  const T rate = T(lr), mu = T(options_.momentum);
  T *weights = w.data(), *squares = mean_squares_[i].data();
  const T* gradient = g.data();
  const std::size_t n = w.size();
  // One loop per variant, the choices made outside it, so that each one vectorises.
  auto run = [&](auto centered, auto with_momentum) {
    T* means = centered ? mean_gradients_[i].data() : nullptr;
    T* buffer = with_momentum ? momentum_buffers_[i].data() : nullptr;
    for (std::size_t k = 0; k < n; ++k) {
      squares[k] = alpha * squares[k] + rest * gradient[k] * gradient[k];
      T variance = squares[k];
      if constexpr (centered) {  // the variance of g, not its mean square
        means[k] = alpha * means[k] + rest * gradient[k];
        variance -= means[k] * means[k];
      }
      const T step = gradient[k] / (std::sqrt(variance) + eps);
      if constexpr (with_momentum) {
        buffer[k] = mu * buffer[k] + step;
        weights[k] -= rate * buffer[k];
      } else {
        weights[k] -= rate * step;
      }
    }
  };
  using yes = std::true_type;
  using no = std::false_type;
  if (options_.centered) options_.momentum > 0 ? run(yes{}, yes{}) : run(yes{}, no{});
  else options_.momentum > 0 ? run(no{}, yes{}) : run(no{}, no{});
}

// ---- Adam and AdamW ----

template <class T>
Adam<T>::Adam(std::vector<Variable<T>> parameters, double learning_rate, double beta1, double beta2, double eps,
              double weight_decay)
    : Adam(one_group(std::move(parameters)),
           AdamOptions{.lr = learning_rate, .betas = {beta1, beta2}, .eps = eps, .weight_decay = weight_decay}) {}

template <class T>
Adam<T>::Adam(std::vector<Variable<T>> parameters, const AdamOptions& options)
    : Adam(one_group(std::move(parameters)), options) {}

template <class T>
Adam<T>::Adam(std::vector<ParamGroup<T>> groups, const AdamOptions& options)
    : Adam("Adam", std::move(groups), options, false) {}

template <class T>
Adam<T>::Adam(std::string name, std::vector<ParamGroup<T>> groups, const AdamOptions& options, bool decoupled)
    : Optimizer<T>(name, std::move(groups), options.lr, options.weight_decay), options_(options) {
  detail::require_in_half_open(name, "beta1", options.betas.first, 0, 1);
  detail::require_in_half_open(name, "beta2", options.betas.second, 0, 1);
  detail::require_above(name, "eps", options.eps, 0);
  this->decoupled_weight_decay_ = decoupled;
  m_ = this->make_state();
  v_ = this->make_state();
  if (options.amsgrad) max_v_ = this->make_state();
}

template <class T>
std::vector<Array<T>> Adam<T>::state() const {
  std::vector<Array<T>> all = m_;
  all.insert(all.end(), v_.begin(), v_.end());
  all.insert(all.end(), max_v_.begin(), max_v_.end());
  return all;
}

template <class T>
void Adam<T>::update(std::size_t i, Array<T>& w, const Array<T>& g, double lr) {
  // LibTorch's arrangement: w -= (lr / c1) m / (sqrt(v) / sqrt(c2) + eps), c = 1 - beta^t
  const auto [beta1, beta2] = options_.betas;
  const double t = double(this->updates()[i]);
  const T step_size = T(lr / (1 - std::pow(beta1, t)));
  const T root_correction = T(std::sqrt(1 - std::pow(beta2, t))), eps = T(options_.eps);
  const T b1 = T(beta1), rest1 = T(1 - beta1), b2 = T(beta2), rest2 = T(1 - beta2);
  T *weights = w.data(), *m = m_[i].data(), *v = v_[i].data();
  T* largest = options_.amsgrad ? max_v_[i].data() : nullptr;
  const T* gradient = g.data();
  for (std::size_t k = 0, n = w.size(); k < n; ++k) {
    m[k] = b1 * m[k] + rest1 * gradient[k];
    v[k] = b2 * v[k] + rest2 * gradient[k] * gradient[k];
    T second = v[k];
    if (largest) second = largest[k] = std::max(v[k], largest[k]);  // v if either is NaN, as xt::maximum
    weights[k] -= step_size * m[k] / (std::sqrt(second) / root_correction + eps);
  }
}

template <class T>
AdamW<T>::AdamW(std::vector<Variable<T>> parameters, double learning_rate, double beta1, double beta2, double eps,
                double weight_decay)
    : AdamW(one_group(std::move(parameters)),
            AdamWOptions{.lr = learning_rate, .betas = {beta1, beta2}, .eps = eps, .weight_decay = weight_decay}) {}

template <class T>
AdamW<T>::AdamW(std::vector<Variable<T>> parameters, const AdamWOptions& options)
    : AdamW(one_group(std::move(parameters)), options) {}

template <class T>
AdamW<T>::AdamW(std::vector<ParamGroup<T>> groups, const AdamWOptions& options)
    : Adam<T>("AdamW", std::move(groups),
              AdamOptions{.lr = options.lr, .betas = options.betas, .eps = options.eps,
                          .weight_decay = options.weight_decay, .amsgrad = options.amsgrad},
              true) {}

// ---- decay groups ----

template <class T>
std::vector<ParamGroup<T>> decay_groups(Module<T>& model, double weight_decay) {
  detail::require_at_least("decay_groups", "weight_decay", weight_decay, 0);
  std::vector<const void*> in_norms;  // the nodes of every BatchNorm's and LayerNorm's parameters
  for (Module<T>* m : model.modules())
    if (dynamic_cast<BatchNorm<T>*>(m) || dynamic_cast<LayerNorm<T>*>(m))
      for (const auto& [name, p] : m->named_parameters()) in_norms.push_back(p.node_ptr().get());
  ParamGroup<T> decayed{{}, {}, weight_decay}, not_decayed{{}, {}, 0.0};
  for (const auto& [name, p] : model.named_parameters()) {
    const std::size_t dot = name.rfind('.');
    const std::string last = dot == std::string::npos ? name : name.substr(dot + 1);
    const bool bias = last == "bias" || last.rfind("bias_", 0) == 0;
    const bool norm = std::find(in_norms.begin(), in_norms.end(), p.node_ptr().get()) != in_norms.end();
    (bias || norm ? not_decayed : decayed).parameters.push_back(p);
  }
  return {std::move(decayed), std::move(not_decayed)};
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
  template class Adam<T>;      \
  template class AdamW<T>;     \
  template std::vector<ParamGroup<T>> decay_groups(Module<T>&, double); \
  template double clip_grad_norm(const std::vector<Variable<T>>&, double, double, bool); \
  template void clip_grad_value(const std::vector<Variable<T>>&, double);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
