// Learning-rate schedulers on one interface (PyTorch's torch.optim.lr_scheduler).
//
// A scheduler is bound to an optimizer and sets its learning rate. Building it
// sets the rate for step 0; each step() moves to the next step and writes that
// step's rate into the optimizer. Whether a step is a batch or an epoch is up to
// the caller, as in PyTorch: call step() after every optimizer.step() and the
// schedule counts batches (OneCycleLR is meant to be used so), call it once at
// the end of every epoch and it counts epochs:
//
//     nn::SGD<double> optimizer(model.parameters(), 0.1);
//     nn::CosineAnnealingLR<double> schedule(optimizer, /*T_max=*/epochs);
//     for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
//       for (auto& batch : loader) { ...; optimizer.step(); }
//       schedule.step();
//     }
//
// The rates are PyTorch's closed forms (`_get_closed_form_lr`), functions of the
// step count and the initial rates, so a long schedule is exact where PyTorch's
// recursive updates (lr *= gamma each step) drift by rounding. rates_at(step)
// gives any step's rates without changing anything (to plot a schedule).
//
// Every rate is kept per parameter group (rates(), base_rates()); last_rate() is
// the first group's. The optimizer must outlive its scheduler.
//
// How this relates to nn::Schedule (optim.hpp): that older interface is
// epoch-only (next(initial, current, EpochEnd)) and is what nn::fit takes
// (FitOptions::schedule); it stays for fit until fit takes an LRScheduler. This
// interface is for loops a user writes, stepped per batch or per epoch.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "optim.hpp"

namespace nn {

// What a scheduler needs to resume from a checkpoint: its counters and rates
// (the hyper-parameters come from the constructor, as in PyTorch's state_dict,
// which also restores into a scheduler built with the same arguments).
struct SchedulerState {
  std::size_t step_count = 0;      // PyTorch's last_epoch
  std::vector<double> base_rates;  // per group
  std::vector<double> rates;       // per group, the rates of step step_count
  // ReduceLROnPlateau only (0 elsewhere)
  double best = 0;              // the best metric so far
  std::size_t bad_steps = 0;    // steps since it last improved (num_bad_epochs)
  std::size_t cooldown_left = 0;  // steps left in the cooldown after a reduction
};

template <class T>
class SequentialLR;

// The interface: a schedule whose rates are a function of the step count.
template <class T = float>
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Moves to the next step and writes its rates into the optimizer. If the rate
  // cannot be computed (OneCycleLR past total_steps) or is not a finite number
  // >= 0, it throws and nothing changes.
  void step();
  // The rates after `step` steps (step 0: at construction), per group; changes nothing.
  virtual std::vector<double> rates_at(std::size_t step) const = 0;

  double last_rate() const { return rates_.front(); }  // PyTorch's get_last_lr()[0]
  const std::vector<double>& rates() const { return rates_; }  // get_last_lr()
  const std::vector<double>& base_rates() const { return base_rates_; }  // base_lrs
  std::size_t step_count() const { return step_count_; }  // steps taken since construction (last_epoch)
  const std::string& name() const { return name_; }
  Optimizer<T>& optimizer() const { return optimizer_; }

  SchedulerState state() const;
  // Restores a state() (step count and base rates) and writes that step's rates
  // into the optimizer. The state must have one base rate per group; otherwise
  // it throws std::invalid_argument and nothing changes.
  void load_state(const SchedulerState& state);
  // ---- state (nn/state.hpp) ----
  // state() as a StateDict: "kind" (name() as text), "step_count", "base_rates",
  // "rates". load_state_dict checks the kind and then does load_state (a
  // StateError naming the key, nothing changed, on any error).
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 protected:
  // Reads the optimizer's rates as the base rates; changes nothing yet.
  LRScheduler(std::string name, Optimizer<T>& optimizer);
  // Writes the rates of step 0: each constructor calls it last, after its checks
  // (so a constructor that throws leaves the optimizer as it was).
  void start();
  // Called after every move to a new step (step, load_state): SequentialLR keeps
  // the scheduler in charge in step with it.
  virtual void moved_to(std::size_t) {}
  // Replaces the base rates (load_state; SequentialLR passes them on to its schedulers).
  virtual void set_base_rates(std::vector<double> rates);
  std::vector<double> base_rates_;

 private:
  friend class SequentialLR<T>;
  // Moves to `step` with these rates: checks them, writes them, then counts.
  void jump(std::size_t step, const std::vector<double>& rates);
  // Sets the counters without writing into the optimizer (SequentialLR's schedulers).
  void follow(std::size_t step, std::vector<double> rates);

  std::string name_;
  Optimizer<T>& optimizer_;
  std::vector<double> rates_;
  std::size_t step_count_ = 0;
  std::size_t serial_;  // construction order, for SequentialLR's base rates
};

// base * gamma^(step / step_size) (integer division): the rate drops by gamma
// every step_size steps. step_size >= 1, gamma > 0.
template <class T = float>
class StepLR : public LRScheduler<T> {
 public:
  StepLR(Optimizer<T>& optimizer, std::size_t step_size, double gamma = 0.1);
  std::vector<double> rates_at(std::size_t step) const override;

 private:
  std::size_t step_size_;
  double gamma_;
};

// base * gamma^(number of milestones <= step): drops by gamma at each milestone.
// Milestones strictly increasing (may be empty), gamma > 0.
template <class T = float>
class MultiStepLR : public LRScheduler<T> {
 public:
  MultiStepLR(Optimizer<T>& optimizer, std::vector<std::size_t> milestones, double gamma = 0.1);
  std::vector<double> rates_at(std::size_t step) const override;

 private:
  std::vector<std::size_t> milestones_;
  double gamma_;
};

// base * gamma^step; gamma > 0.
template <class T = float>
class ExponentialLR : public LRScheduler<T> {
 public:
  ExponentialLR(Optimizer<T>& optimizer, double gamma);
  std::vector<double> rates_at(std::size_t step) const override;

 private:
  double gamma_;
};

// eta_min + (base - eta_min) (1 + cos(pi step / T_max)) / 2: half a cosine from
// the base rate down to eta_min at step T_max (SGDR without restarts, Loshchilov &
// Hutter 2017). Past T_max it rises again (period 2 T_max), as PyTorch's.
// T_max >= 1, eta_min >= 0.
template <class T = float>
class CosineAnnealingLR : public LRScheduler<T> {
 public:
  CosineAnnealingLR(Optimizer<T>& optimizer, std::size_t T_max, double eta_min = 0);
  std::vector<double> rates_at(std::size_t step) const override;

 private:
  std::size_t T_max_;
  double eta_min_;
};

// SGDR: the cosine above over cycles of T_0, T_0 T_mult, T_0 T_mult^2, ... steps,
// restarting at the base rate at the start of each cycle:
// eta_min + (base - eta_min) (1 + cos(pi T_cur / T_i)) / 2. T_0 >= 1, T_mult >= 1, eta_min >= 0.
template <class T = float>
class CosineAnnealingWarmRestarts : public LRScheduler<T> {
 public:
  CosineAnnealingWarmRestarts(Optimizer<T>& optimizer, std::size_t T_0, std::size_t T_mult = 1, double eta_min = 0);
  std::vector<double> rates_at(std::size_t step) const override;

 private:
  std::size_t T_0_, T_mult_;
  double eta_min_;
};

// Linear warm-up: base * factor, the factor going linearly from start_factor at
// step 0 to end_factor at step total_iters and staying there.
// start_factor in (0, 1], end_factor in [0, 1] (PyTorch's ranges), total_iters >= 1.
template <class T = float>
class LinearLR : public LRScheduler<T> {
 public:
  LinearLR(Optimizer<T>& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
           std::size_t total_iters = 5);
  std::vector<double> rates_at(std::size_t step) const override;

 private:
  double start_factor_, end_factor_;
  std::size_t total_iters_;
};

enum class Anneal { cos, linear };

// The 1cycle policy (Smith & Topin 2018), stepped once per batch: from
// initial = max_lr / div_factor up to max_lr over the first pct_start of
// total_steps, then down to initial / final_div_factor at step total_steps - 1
// (cosine or linear pieces). three_phase: up, back down to initial over as many
// steps, then down to the minimum. It ignores the optimizer's rate (the base
// rates are max_lr / div_factor) and sets it to the initial rate at
// construction, as PyTorch's. Stepping past total_steps is an error (as PyTorch).
// max_lr >= 0, total_steps >= 2, pct_start in (0, 1) with every phase longer
// than one step, div_factor > 0, final_div_factor > 0. Unlike PyTorch it does
// not cycle the momentum.
template <class T = float>
class OneCycleLR : public LRScheduler<T> {
 public:
  OneCycleLR(Optimizer<T>& optimizer, double max_lr, std::size_t total_steps, double pct_start = 0.3,
             Anneal anneal_strategy = Anneal::cos, double div_factor = 25, double final_div_factor = 1e4,
             bool three_phase = false);
  // One peak rate per group.
  OneCycleLR(Optimizer<T>& optimizer, std::vector<double> max_lrs, std::size_t total_steps, double pct_start = 0.3,
             Anneal anneal_strategy = Anneal::cos, double div_factor = 25, double final_div_factor = 1e4,
             bool three_phase = false);
  std::vector<double> rates_at(std::size_t step) const override;

 private:
  struct Phase {
    double end_step;  // PyTorch's phase end (fractional)
    int from, to;     // 0 initial, 1 max, 2 min
  };
  std::vector<double> max_lrs_;
  std::size_t total_steps_;
  Anneal anneal_;
  double final_div_factor_;
  std::vector<Phase> phases_;
};

// The schedulers in turn: schedulers[0] for steps [0, milestones[0]),
// schedulers[1] from milestones[0] on, counting its own steps from 0 there, and
// so on (PyTorch's SequentialLR). Linear warm-up then cosine:
//
//     auto warmup = std::make_shared<nn::LinearLR<double>>(optimizer, 0.1, 1.0, 5);
//     auto cosine = std::make_shared<nn::CosineAnnealingLR<double>>(optimizer, 95);
//     nn::SequentialLR<double> schedule(optimizer, {warmup, cosine}, {5});
//
// All must be bound to `optimizer`; they share the base rates of the first one
// built (the optimizer's rates before any of them changed it, PyTorch's
// initial_lr). It drives them: step it, not them. milestones: one fewer than
// the schedulers, strictly increasing, >= 1.
template <class T = float>
class SequentialLR : public LRScheduler<T> {
 public:
  SequentialLR(Optimizer<T>& optimizer, std::vector<std::shared_ptr<LRScheduler<T>>> schedulers,
               std::vector<std::size_t> milestones);
  std::vector<double> rates_at(std::size_t step) const override;
  const std::vector<std::shared_ptr<LRScheduler<T>>>& schedulers() const { return schedulers_; }

 private:
  // The scheduler in charge at `step` and its own step count there.
  std::pair<std::size_t, std::size_t> locate(std::size_t step) const;
  void moved_to(std::size_t step) override;
  void set_base_rates(std::vector<double> rates) override;
  std::vector<std::shared_ptr<LRScheduler<T>>> schedulers_;
  std::vector<std::size_t> milestones_;
};

enum class PlateauMode { min, max };  // whether a lower or a higher metric is better
enum class ThresholdMode { rel, abs };

// Lowers the rate when a metric (a validation loss, an accuracy) has stopped
// improving: step(metric) once per epoch. Better means below best (1 - threshold)
// (rel) or below best - threshold (abs), mirrored for max; after more than
// `patience` steps in a row that are not better, every group's rate becomes
// max(rate factor, min_lr), then `cooldown` steps pass in which bad steps are
// not counted. A reduction smaller than eps is skipped. It reads the rate from
// the optimizer when it reduces it (so a rate set by hand is kept).
// factor in (0, 1), threshold >= 0, min_lr >= 0, eps >= 0.
//
// Not an LRScheduler: its rate depends on the metrics, not on the step count,
// and its step needs the metric (as in PyTorch before 2.2, where it was a class
// of its own). It has the same accessors.
template <class T = float>
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer<T>& optimizer, PlateauMode mode = PlateauMode::min, double factor = 0.1,
                             std::size_t patience = 10, double threshold = 1e-4,
                             ThresholdMode threshold_mode = ThresholdMode::rel, std::size_t cooldown = 0,
                             double min_lr = 0, double eps = 1e-8);
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  // One step with this step's metric (a NaN metric counts as not better).
  void step(double metric);

  double last_rate() const { return rates_.front(); }
  const std::vector<double>& rates() const { return rates_; }
  std::size_t step_count() const { return step_count_; }
  double best() const { return best_; }
  std::size_t bad_steps() const { return bad_steps_; }  // PyTorch's num_bad_epochs
  std::size_t cooldown_left() const { return cooldown_left_; }
  bool in_cooldown() const { return cooldown_left_ > 0; }
  Optimizer<T>& optimizer() const { return optimizer_; }

  SchedulerState state() const;
  // Restores a state() and writes its rates into the optimizer; one rate per
  // group, each finite and >= 0, else std::invalid_argument and nothing changes.
  void load_state(const SchedulerState& state);
  // ---- state (nn/state.hpp) ----
  // state() as a StateDict: "kind" ("ReduceLROnPlateau"), "step_count", "rates",
  // "best", "bad_steps", "cooldown_left"; load_state_dict as load_state.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 private:
  bool is_better(double metric) const;

  Optimizer<T>& optimizer_;
  PlateauMode mode_;
  double factor_;
  std::size_t patience_;
  double threshold_;
  ThresholdMode threshold_mode_;
  std::size_t cooldown_;
  double min_lr_, eps_;
  std::vector<double> rates_;
  std::size_t step_count_ = 0;
  double best_;
  std::size_t bad_steps_ = 0, cooldown_left_ = 0;
};

}  // namespace nn
