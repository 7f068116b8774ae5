#include "scheduler.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <utility>

#include "check.hpp"

namespace nn {

namespace {

// The only two places that touch the optimizer's rates: one per parameter group.
template <class T>
std::vector<double> read_rates(const Optimizer<T>& optimizer) {
  std::vector<double> rates;
  for (std::size_t g = 0; g < optimizer.group_count(); ++g) rates.push_back(optimizer.learning_rate(g));
  return rates;
}

template <class T>
void write_rates(Optimizer<T>& optimizer, const std::vector<double>& rates) {
  for (std::size_t g = 0; g < rates.size(); ++g) optimizer.set_learning_rate(g, rates[g]);
}

template <class T>
std::size_t group_count(const Optimizer<T>& optimizer) {
  return read_rates(optimizer).size();
}

std::size_t next_serial() {
  static std::atomic<std::size_t> counter{0};
  return counter++;
}

// A count (steps, a period) of at least `low`; a size_t made from a negative int
// is named as the negative number it was.
void require_count(const std::string& call, const std::string& what, std::size_t value, std::size_t low) {
  if (value > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max()))
    throw std::invalid_argument(call + ": " + what + " " + detail::label_string(value) + " is negative");
  if (value < low)
    throw std::invalid_argument(call + ": " + what + " " + std::to_string(value) + " must be at least " +
                                std::to_string(low));
}

// Rates that can be written into an optimizer: one per group, each a finite number >= 0.
void require_rates(const std::string& call, const std::string& what, const std::vector<double>& rates,
                   std::size_t groups) {
  if (rates.size() != groups)
    throw std::invalid_argument(call + ": got " + std::to_string(rates.size()) + " " + what + " for " +
                                std::to_string(groups) + " parameter group(s)");
  for (std::size_t g = 0; g < rates.size(); ++g)
    if (!(std::isfinite(rates[g]) && rates[g] >= 0))
      throw std::invalid_argument(call + ": " + what + " " + detail::number(rates[g]) + " of group " +
                                  std::to_string(g) + " must be a finite number >= 0");
}

// Half a cosine from `high` (fraction 0) to `low` (fraction 1).
double cosine_between(double high, double low, double fraction) {
  return low + (high - low) * (1 + std::cos(std::numbers::pi * fraction)) / 2;
}

}  // namespace

// ---- the interface -------------------------------------------------------------------

template <class T>
LRScheduler<T>::LRScheduler(std::string name, Optimizer<T>& optimizer)
    : base_rates_(read_rates(optimizer)), name_(std::move(name)), optimizer_(optimizer), serial_(next_serial()) {}

template <class T>
void LRScheduler<T>::start() {
  jump(0, rates_at(0));
}

template <class T>
void LRScheduler<T>::step() {
  const std::size_t next = step_count_ + 1;
  jump(next, rates_at(next));
}

template <class T>
void LRScheduler<T>::jump(std::size_t step, const std::vector<double>& rates) {
  for (std::size_t g = 0; g < rates.size(); ++g)
    if (!(std::isfinite(rates[g]) && rates[g] >= 0))  // gamma > 1 for long enough overflows
      throw std::runtime_error(name_ + "::step: the learning rate of step " + std::to_string(step) + " (group " +
                               std::to_string(g) + ") is " + detail::number(rates[g]) +
                               ", not a finite number >= 0; nothing was changed");
  write_rates(optimizer_, rates);
  rates_ = rates;
  step_count_ = step;
  moved_to(step);
}

template <class T>
void LRScheduler<T>::follow(std::size_t step, std::vector<double> rates) {
  rates_ = std::move(rates);
  step_count_ = step;
  moved_to(step);
}

template <class T>
SchedulerState LRScheduler<T>::state() const {
  SchedulerState state;
  state.step_count = step_count_;
  state.base_rates = base_rates_;
  state.rates = rates_;
  return state;
}

template <class T>
void LRScheduler<T>::set_base_rates(std::vector<double> rates) {
  base_rates_ = std::move(rates);
}

template <class T>
void LRScheduler<T>::load_state(const SchedulerState& state) {
  require_rates(name_ + "::load_state", "base rates", state.base_rates, group_count(optimizer_));
  const std::vector<double> saved = base_rates_;
  set_base_rates(state.base_rates);
  try {
    jump(state.step_count, rates_at(state.step_count));
  } catch (...) {
    set_base_rates(saved);
    throw;
  }
}

// ---- closed forms --------------------------------------------------------------------

template <class T>
StepLR<T>::StepLR(Optimizer<T>& optimizer, std::size_t step_size, double gamma)
    : LRScheduler<T>("StepLR", optimizer), step_size_(step_size), gamma_(gamma) {
  require_count("StepLR", "step_size", step_size, 1);
  detail::require_above("StepLR", "gamma", gamma, 0);
  this->start();
}

template <class T>
std::vector<double> StepLR<T>::rates_at(std::size_t step) const {
  std::vector<double> rates;
  for (double base : this->base_rates_) rates.push_back(base * std::pow(gamma_, double(step / step_size_)));
  return rates;
}

template <class T>
MultiStepLR<T>::MultiStepLR(Optimizer<T>& optimizer, std::vector<std::size_t> milestones, double gamma)
    : LRScheduler<T>("MultiStepLR", optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  for (std::size_t i = 0; i < milestones_.size(); ++i) {
    require_count("MultiStepLR", "milestone " + std::to_string(i) + " =", milestones_[i], 0);
    if (i > 0 && milestones_[i] <= milestones_[i - 1])
      throw std::invalid_argument("MultiStepLR: milestones must be strictly increasing, but milestone " +
                                  std::to_string(i) + " is " + std::to_string(milestones_[i]) + " after " +
                                  std::to_string(milestones_[i - 1]));
  }
  detail::require_above("MultiStepLR", "gamma", gamma, 0);
  this->start();
}

template <class T>
std::vector<double> MultiStepLR<T>::rates_at(std::size_t step) const {
  // PyTorch: gamma ** bisect_right(milestones, last_epoch)
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), step) - milestones_.begin();
  std::vector<double> rates;
  for (double base : this->base_rates_) rates.push_back(base * std::pow(gamma_, double(passed)));
  return rates;
}

template <class T>
ExponentialLR<T>::ExponentialLR(Optimizer<T>& optimizer, double gamma)
    : LRScheduler<T>("ExponentialLR", optimizer), gamma_(gamma) {
  detail::require_above("ExponentialLR", "gamma", gamma, 0);
  this->start();
}

template <class T>
std::vector<double> ExponentialLR<T>::rates_at(std::size_t step) const {
  std::vector<double> rates;
  for (double base : this->base_rates_) rates.push_back(base * std::pow(gamma_, double(step)));
  return rates;
}

template <class T>
CosineAnnealingLR<T>::CosineAnnealingLR(Optimizer<T>& optimizer, std::size_t T_max, double eta_min)
    : LRScheduler<T>("CosineAnnealingLR", optimizer), T_max_(T_max), eta_min_(eta_min) {
  require_count("CosineAnnealingLR", "T_max", T_max, 1);
  detail::require_at_least("CosineAnnealingLR", "eta_min", eta_min, 0);
  this->start();
}

template <class T>
std::vector<double> CosineAnnealingLR<T>::rates_at(std::size_t step) const {
  // The cosine has period 2 T_max: reducing the step first keeps its argument small on long runs.
  const std::size_t within = step % (2 * T_max_);
  std::vector<double> rates;
  for (double base : this->base_rates_)
    rates.push_back(cosine_between(base, eta_min_, double(within) / double(T_max_)));
  return rates;
}

template <class T>
CosineAnnealingWarmRestarts<T>::CosineAnnealingWarmRestarts(Optimizer<T>& optimizer, std::size_t T_0,
                                                            std::size_t T_mult, double eta_min)
    : LRScheduler<T>("CosineAnnealingWarmRestarts", optimizer), T_0_(T_0), T_mult_(T_mult), eta_min_(eta_min) {
  require_count("CosineAnnealingWarmRestarts", "T_0", T_0, 1);
  require_count("CosineAnnealingWarmRestarts", "T_mult", T_mult, 1);
  detail::require_at_least("CosineAnnealingWarmRestarts", "eta_min", eta_min, 0);
  this->start();
}

template <class T>
std::vector<double> CosineAnnealingWarmRestarts<T>::rates_at(std::size_t step) const {
  // T_cur steps into a cycle of T_i steps: cycles of T_0, T_0 T_mult, T_0 T_mult^2, ...
  std::size_t t_cur = step, t_i = T_0_;
  if (T_mult_ == 1) {
    t_cur %= T_0_;
  } else {
    while (t_cur >= t_i) {
      t_cur -= t_i;
      if (__builtin_mul_overflow(t_i, T_mult_, &t_i)) t_i = std::numeric_limits<std::size_t>::max();
    }
  }
  std::vector<double> rates;
  for (double base : this->base_rates_) rates.push_back(cosine_between(base, eta_min_, double(t_cur) / double(t_i)));
  return rates;
}

template <class T>
LinearLR<T>::LinearLR(Optimizer<T>& optimizer, double start_factor, double end_factor, std::size_t total_iters)
    : LRScheduler<T>("LinearLR", optimizer), start_factor_(start_factor), end_factor_(end_factor),
      total_iters_(total_iters) {
  detail::require(start_factor > 0 && start_factor <= 1, "LinearLR", "start_factor", start_factor,
                  "must lie in (0, 1]");
  detail::require_in_closed("LinearLR", "end_factor", end_factor, 0, 1);
  require_count("LinearLR", "total_iters", total_iters, 1);
  this->start();
}

template <class T>
std::vector<double> LinearLR<T>::rates_at(std::size_t step) const {
  const double done = double(std::min(step, total_iters_)) / double(total_iters_);
  const double factor = start_factor_ + (end_factor_ - start_factor_) * done;
  std::vector<double> rates;
  for (double base : this->base_rates_) rates.push_back(base * factor);
  return rates;
}

template <class T>
OneCycleLR<T>::OneCycleLR(Optimizer<T>& optimizer, double max_lr, std::size_t total_steps, double pct_start,
                          Anneal anneal_strategy, double div_factor, double final_div_factor, bool three_phase)
    : OneCycleLR(optimizer, std::vector<double>(group_count(optimizer), max_lr), total_steps, pct_start,
                 anneal_strategy, div_factor, final_div_factor, three_phase) {}

template <class T>
OneCycleLR<T>::OneCycleLR(Optimizer<T>& optimizer, std::vector<double> max_lrs, std::size_t total_steps,
                          double pct_start, Anneal anneal_strategy, double div_factor, double final_div_factor,
                          bool three_phase)
    : LRScheduler<T>("OneCycleLR", optimizer), max_lrs_(std::move(max_lrs)), total_steps_(total_steps),
      anneal_(anneal_strategy), final_div_factor_(final_div_factor) {
  const std::string call = "OneCycleLR";
  require_rates(call, "max_lr", max_lrs_, group_count(optimizer));
  require_count(call, "total_steps", total_steps, 2);
  detail::require(pct_start > 0 && pct_start < 1, call, "pct_start", pct_start, "must lie in (0, 1)");
  detail::require_above(call, "div_factor", div_factor, 0);
  detail::require_above(call, "final_div_factor", final_div_factor, 0);
  // PyTorch's phase ends; a rise that ends at step 0 would divide 0 by 0 (PyTorch's ZeroDivisionError).
  // (compared as products: `pct_start * total_steps - 1 > 0` may be fused into one fma, which
  // sees 0.1 * 10 - 1 as 5.6e-17 rather than 0)
  const double rise_steps = pct_start * double(total_steps), rise_end = rise_steps - 1;
  if (!(rise_steps > 1))
    throw std::invalid_argument("OneCycleLR: pct_start " + detail::number(pct_start) + " of total_steps " +
                                std::to_string(total_steps) + " leaves " + detail::number(rise_steps) +
                                " step(s) to rise in; pct_start * total_steps must be more than 1");
  if (!three_phase) {
    phases_ = {{rise_end, 0, 1}, {double(total_steps) - 1, 1, 2}};
  } else {
    const double fall_end = 2 * pct_start * double(total_steps) - 2;
    if (!(2 * rise_steps < double(total_steps) + 1))  // fall_end < total_steps - 1
      throw std::invalid_argument("OneCycleLR: with three_phase, pct_start " + detail::number(pct_start) +
                                  " of total_steps " + std::to_string(total_steps) +
                                  " leaves no steps for the last phase; 2 * pct_start * total_steps must be less "
                                  "than total_steps + 1");
    phases_ = {{rise_end, 0, 1}, {fall_end, 1, 0}, {double(total_steps) - 1, 0, 2}};
  }
  this->base_rates_.clear();  // PyTorch's initial_lr = max_lr / div_factor, whatever the optimizer's rate
  for (double peak : max_lrs_) this->base_rates_.push_back(peak / div_factor);
  this->start();
}

template <class T>
std::vector<double> OneCycleLR<T>::rates_at(std::size_t step) const {
  if (step > total_steps_)
    throw std::out_of_range("OneCycleLR::step: tried to go to step " + std::to_string(step) +
                            " but total_steps is " + std::to_string(total_steps_) +
                            "; build it with total_steps = the number of batches it will see");
  std::vector<double> rates;
  for (std::size_t g = 0; g < this->base_rates_.size(); ++g) {
    const double initial = this->base_rates_[g];
    const double values[3] = {initial, max_lrs_[g], initial / final_div_factor_};
    double start_step = 0;
    for (std::size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      if (double(step) <= phase.end_step || i + 1 == phases_.size()) {
        const double fraction = (double(step) - start_step) / (phase.end_step - start_step);
        const double from = values[phase.from], to = values[phase.to];
        rates.push_back(anneal_ == Anneal::cos ? cosine_between(from, to, fraction) : from + (to - from) * fraction);
        break;
      }
      start_step = phase.end_step;
    }
  }
  return rates;
}

// ---- one after another ---------------------------------------------------------------

template <class T>
SequentialLR<T>::SequentialLR(Optimizer<T>& optimizer, std::vector<std::shared_ptr<LRScheduler<T>>> schedulers,
                              std::vector<std::size_t> milestones)
    : LRScheduler<T>("SequentialLR", optimizer), schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  if (schedulers_.empty()) throw std::invalid_argument("SequentialLR: got no schedulers");
  for (std::size_t i = 0; i < schedulers_.size(); ++i) {
    if (!schedulers_[i]) throw std::invalid_argument("SequentialLR: scheduler " + std::to_string(i) + " is null");
    if (&schedulers_[i]->optimizer() != &optimizer)
      throw std::invalid_argument("SequentialLR: scheduler " + std::to_string(i) + " (" + schedulers_[i]->name() +
                                  ") is bound to another optimizer");
  }
  if (milestones_.size() + 1 != schedulers_.size())
    throw std::invalid_argument("SequentialLR: got " + std::to_string(schedulers_.size()) + " schedulers and " +
                                std::to_string(milestones_.size()) + " milestones; it needs one milestone fewer (" +
                                std::to_string(schedulers_.size() - 1) + ")");
  for (std::size_t i = 0; i < milestones_.size(); ++i) {
    require_count("SequentialLR", "milestone " + std::to_string(i) + " =", milestones_[i], 1);
    if (i > 0 && milestones_[i] <= milestones_[i - 1])
      throw std::invalid_argument("SequentialLR: milestones must be strictly increasing, but milestone " +
                                  std::to_string(i) + " is " + std::to_string(milestones_[i]) + " after " +
                                  std::to_string(milestones_[i - 1]));
  }
  // The first scheduler built saw the optimizer's own rates; the later ones saw
  // rates it had already changed (PyTorch keeps the first in group['initial_lr']).
  const auto first = std::min_element(schedulers_.begin(), schedulers_.end(),
                                      [](const auto& a, const auto& b) { return a->serial_ < b->serial_; });
  set_base_rates((*first)->base_rates_);
  this->start();
}

template <class T>
void SequentialLR<T>::set_base_rates(std::vector<double> rates) {
  for (auto& scheduler : schedulers_) scheduler->set_base_rates(rates);
  this->base_rates_ = std::move(rates);
}

template <class T>
std::pair<std::size_t, std::size_t> SequentialLR<T>::locate(std::size_t step) const {
  // PyTorch: bisect_right(milestones, last_epoch), and that scheduler's step(0) at its milestone
  const std::size_t index = std::upper_bound(milestones_.begin(), milestones_.end(), step) - milestones_.begin();
  return {index, index == 0 ? step : step - milestones_[index - 1]};
}

template <class T>
std::vector<double> SequentialLR<T>::rates_at(std::size_t step) const {
  const auto [index, local] = locate(step);
  return schedulers_[index]->rates_at(local);
}

template <class T>
void SequentialLR<T>::moved_to(std::size_t step) {
  const auto [index, local] = locate(step);
  schedulers_[index]->follow(local, this->rates());
}

// ---- on a plateau --------------------------------------------------------------------

template <class T>
ReduceLROnPlateau<T>::ReduceLROnPlateau(Optimizer<T>& optimizer, PlateauMode mode, double factor,
                                        std::size_t patience, double threshold, ThresholdMode threshold_mode,
                                        std::size_t cooldown, double min_lr, double eps)
    : optimizer_(optimizer), mode_(mode), factor_(factor), patience_(patience), threshold_(threshold),
      threshold_mode_(threshold_mode), cooldown_(cooldown), min_lr_(min_lr), eps_(eps),
      rates_(read_rates(optimizer)) {
  const std::string call = "ReduceLROnPlateau";
  detail::require(factor > 0 && factor < 1, call, "factor", factor,
                  "must lie in (0, 1) (the rate is multiplied by it on a plateau)");
  require_count(call, "patience", patience, 0);
  require_count(call, "cooldown", cooldown, 0);
  detail::require_at_least(call, "threshold", threshold, 0);
  detail::require_at_least(call, "min_lr", min_lr, 0);
  detail::require_at_least(call, "eps", eps, 0);
  best_ = mode == PlateauMode::min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

template <class T>
bool ReduceLROnPlateau<T>::is_better(double metric) const {
  // PyTorch's _is_better (a NaN metric is never better)
  if (mode_ == PlateauMode::min)
    return threshold_mode_ == ThresholdMode::rel ? metric < best_ * (1 - threshold_) : metric < best_ - threshold_;
  return threshold_mode_ == ThresholdMode::rel ? metric > best_ * (1 + threshold_) : metric > best_ + threshold_;
}

template <class T>
void ReduceLROnPlateau<T>::step(double metric) {
  ++step_count_;
  if (is_better(metric)) {
    best_ = metric;
    bad_steps_ = 0;
  } else {
    ++bad_steps_;
  }
  if (cooldown_left_ > 0) {  // bad steps in the cooldown are not counted
    --cooldown_left_;
    bad_steps_ = 0;
  }
  if (bad_steps_ > patience_) {
    std::vector<double> rates = read_rates(optimizer_);  // the optimizer's, in case they were set by hand
    bool changed = false;
    for (double& rate : rates) {
      const double lowered = std::max(rate * factor_, min_lr_);
      if (rate - lowered > eps_) {
        rate = lowered;
        changed = true;
      }
    }
    if (changed) write_rates(optimizer_, rates);
    cooldown_left_ = cooldown_;
    bad_steps_ = 0;
  }
  rates_ = read_rates(optimizer_);
}

template <class T>
SchedulerState ReduceLROnPlateau<T>::state() const {
  SchedulerState state;
  state.step_count = step_count_;
  state.rates = rates_;
  state.best = best_;
  state.bad_steps = bad_steps_;
  state.cooldown_left = cooldown_left_;
  return state;
}

template <class T>
void ReduceLROnPlateau<T>::load_state(const SchedulerState& state) {
  require_rates("ReduceLROnPlateau::load_state", "rates", state.rates, group_count(optimizer_));
  write_rates(optimizer_, state.rates);
  rates_ = state.rates;
  step_count_ = state.step_count;
  best_ = state.best;
  bad_steps_ = state.bad_steps;
  cooldown_left_ = state.cooldown_left;
}

#define WENGERT_INSTANTIATE(T)                  \
  template class LRScheduler<T>;                \
  template class StepLR<T>;                     \
  template class MultiStepLR<T>;                \
  template class ExponentialLR<T>;              \
  template class CosineAnnealingLR<T>;          \
  template class CosineAnnealingWarmRestarts<T>; \
  template class LinearLR<T>;                   \
  template class OneCycleLR<T>;                 \
  template class SequentialLR<T>;               \
  template class ReduceLROnPlateau<T>;
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
