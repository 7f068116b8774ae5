// Learning-rate schedulers: each sequence against its formula, written out here
// independently (PyTorch's formulas, or values worked out by hand), and the
// optimizer's learning rate following the schedule while a model trains.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <numbers>
#include <stdexcept>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <xtensor/xview.hpp>
#include <nn/nn.hpp>

#include "test_util.hpp"

using namespace nn;
using V = autodiff::Variable<double>;
using A = autodiff::Array<double>;
using Rates = std::vector<double>;

namespace {

constexpr double kPi = std::numbers::pi;

// An optimizer over one parameter.
struct Fixture {
  V w{test::random_array({3}, 7), true};
  SGD<double> optimizer;
  explicit Fixture(double rate = 0.1) : optimizer({w}, rate) {}
};

// The scheduler's rate at steps 0..steps, stepping it; at every step the
// optimizer's rate is the scheduler's, the step count is right, and rates_at
// gives the same rate without stepping.
template <class Scheduler>
Rates run(Scheduler& scheduler, std::size_t steps) {
  Rates rates;
  for (std::size_t t = 0; t <= steps; ++t) {
    if (t > 0) scheduler.step();
    CAPTURE(t);
    CHECK(scheduler.step_count() == t);
    CHECK(scheduler.optimizer().learning_rate() == scheduler.last_rate());
    CHECK(scheduler.rates() == Rates{scheduler.last_rate()});
    CHECK(scheduler.rates_at(t) == scheduler.rates());
    rates.push_back(scheduler.last_rate());
  }
  return rates;
}

void check_rates(const Rates& got, const Rates& want, double epsilon = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (std::size_t t = 0; t < got.size(); ++t) {
    CAPTURE(t);
    CHECK(got[t] == doctest::Approx(want[t]).epsilon(epsilon));
  }
}

// Half a cosine from `high` at fraction 0 to `low` at fraction 1.
double cosine(double high, double low, double fraction) {
  return low + (high - low) * (1 + std::cos(kPi * fraction)) / 2;
}

// 12 samples of 2 features and their targets y = 2 x0 - x1 + 0.5 (out of line: inlined into
// a test case, GCC 12 takes the shape's inline storage for uninitialised)
[[gnu::noinline]] A regression_inputs() { return test::random_array({12, 2}, 3); }
[[gnu::noinline]] A regression_targets(const A& inputs) {
  A targets = A::from_shape({inputs.shape(0), 1});
  for (std::size_t i = 0; i < inputs.shape(0); ++i) targets(i, 0) = 2 * inputs(i, 0) - inputs(i, 1) + 0.5;
  return targets;
}

}  // namespace

TEST_CASE("StepLR multiplies the rate by gamma every step_size steps") {
  Fixture f(0.1);
  StepLR<double> scheduler(f.optimizer, 3, 0.5);
  check_rates(run(scheduler, 10), {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125});
  CHECK(scheduler.base_rates() == Rates{0.1});
}

TEST_CASE("MultiStepLR multiplies the rate by gamma at each milestone") {
  Fixture f(1.0);
  MultiStepLR<double> scheduler(f.optimizer, {2, 5, 6}, 0.1);
  check_rates(run(scheduler, 8), {1, 1, 0.1, 0.1, 0.1, 0.01, 0.001, 0.001, 0.001});
  Fixture g(0.3);
  MultiStepLR<double> no_milestones(g.optimizer, {}, 0.1);  // allowed, as in PyTorch: a constant rate
  check_rates(run(no_milestones, 3), {0.3, 0.3, 0.3, 0.3});
}

TEST_CASE("ExponentialLR is base * gamma^t, exactly rather than by accumulated products") {
  Fixture f(0.5);
  ExponentialLR<double> scheduler(f.optimizer, 0.9);
  const Rates got = run(scheduler, 200);
  CHECK(got[2] == doctest::Approx(0.405).epsilon(1e-15));
  Rates want{0.5};
  for (std::size_t t = 1; t <= 200; ++t) want.push_back(want.back() * 0.9);  // PyTorch's recursive form
  check_rates(got, want, 1e-12);
  CHECK(scheduler.rates_at(200) == Rates{0.5 * std::pow(0.9, 200)});
}

TEST_CASE("CosineAnnealingLR: base at 0, (base + eta_min) / 2 at T_max / 2, eta_min at T_max, then back up") {
  const double base = 0.1, eta_min = 0.01;
  Fixture f(base);
  CosineAnnealingLR<double> scheduler(f.optimizer, 10, eta_min);
  const Rates got = run(scheduler, 40);
  CHECK(got[0] == doctest::Approx(base).epsilon(1e-15));
  CHECK(got[5] == doctest::Approx((base + eta_min) / 2).epsilon(1e-14));
  CHECK(got[10] == doctest::Approx(eta_min).epsilon(1e-14));
  CHECK(got[15] == doctest::Approx((base + eta_min) / 2).epsilon(1e-14));
  CHECK(got[20] == doctest::Approx(base).epsilon(1e-14));
  CHECK(got[30] == doctest::Approx(eta_min).epsilon(1e-14));
  for (std::size_t t = 1; t <= 10; ++t) CHECK(got[t] < got[t - 1]);
  // PyTorch's recursive get_lr, an independent formula for the same sequence
  const double T = 10;
  Rates want{base};
  for (std::size_t t = 1; t <= 40; ++t) {
    const double lr = want.back();
    if ((double(t) - 1 - T) / (2 * T) == std::floor((double(t) - 1 - T) / (2 * T)))
      want.push_back(lr + (base - eta_min) * (1 - std::cos(kPi / T)) / 2);
    else
      want.push_back((1 + std::cos(kPi * double(t) / T)) / (1 + std::cos(kPi * double(t - 1) / T)) * (lr - eta_min) +
                     eta_min);
  }
  check_rates(got, want, 1e-10);
}

TEST_CASE("CosineAnnealingWarmRestarts: cycles of T_0, T_0 T_mult, ..., back at the base rate at each restart") {
  const double base = 0.1, eta_min = 0.001;
  SUBCASE("T_mult = 2: restarts at 0, 3, 9, 21") {
    Fixture f(base);
    CosineAnnealingWarmRestarts<double> scheduler(f.optimizer, 3, 2, eta_min);
    const Rates got = run(scheduler, 25);
    Rates want;  // cycles of 3, 6, 12, 24 steps, each a half cosine from base down towards eta_min
    for (std::size_t length : {3, 6, 12, 24})
      for (std::size_t k = 0; k < length && want.size() < got.size(); ++k)
        want.push_back(cosine(base, eta_min, double(k) / double(length)));
    check_rates(got, want);
    for (std::size_t restart : {0, 3, 9, 21}) CHECK(got[restart] == doctest::Approx(base).epsilon(1e-15));
    CHECK(got[2] == doctest::Approx(eta_min + (base - eta_min) * 0.25).epsilon(1e-14));  // cos(2 pi / 3) = -1/2
    CHECK(got[6] == doctest::Approx((base + eta_min) / 2).epsilon(1e-14));               // half-way through 6
    CHECK(got[15] == doctest::Approx((base + eta_min) / 2).epsilon(1e-14));              // half-way through 12
  }
  SUBCASE("T_mult = 1: period T_0") {
    Fixture f(base);
    CosineAnnealingWarmRestarts<double> scheduler(f.optimizer, 4, 1, eta_min);
    const Rates got = run(scheduler, 12);
    for (std::size_t t = 0; t <= 12; ++t) {
      CAPTURE(t);
      CHECK(got[t] == doctest::Approx(got[t % 4]).epsilon(1e-15));
    }
    CHECK(got[2] == doctest::Approx((base + eta_min) / 2).epsilon(1e-14));
    CHECK(got[8] == doctest::Approx(base).epsilon(1e-15));
  }
}

TEST_CASE("LinearLR warms up from base * start_factor to base * end_factor over total_iters steps, then stays") {
  Fixture f(0.1);
  LinearLR<double> warmup(f.optimizer, 0.25, 1.0, 4);
  check_rates(run(warmup, 6), {0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1});
  Fixture g(0.2);
  LinearLR<double> decay(g.optimizer, 1.0, 0.5, 2);  // and down
  check_rates(run(decay, 3), {0.2, 0.15, 0.1, 0.1});
  Fixture h(0.3);
  LinearLR<double> defaults(h.optimizer);  // PyTorch's: 1/3 to 1 over 5 steps
  CHECK(defaults.last_rate() == doctest::Approx(0.1));
  CHECK(defaults.rates_at(5)[0] == doctest::Approx(0.3));
}

TEST_CASE("OneCycleLR: max_lr / div at 0, max_lr at pct_start total - 1, max_lr / (div final_div) at the end") {
  const double max_lr = 1.0, initial = max_lr / 25, final_rate = initial / 1e4;
  SUBCASE("cosine, two phases") {
    Fixture f(0.123);  // the optimizer's own rate is ignored
    OneCycleLR<double> scheduler(f.optimizer, max_lr, 100);
    CHECK(f.optimizer.learning_rate() == doctest::Approx(initial).epsilon(1e-15));
    CHECK(scheduler.base_rates() == Rates{initial});
    const Rates got = run(scheduler, 100);  // stepping to total_steps is allowed (as PyTorch)
    Rates want;  // PyTorch's phases: up until step 0.3 * 100 - 1 = 29, down until 99
    for (std::size_t t = 0; t <= 100; ++t)
      want.push_back(t <= 29 ? cosine(max_lr, initial, 1 - double(t) / 29)
                             : cosine(max_lr, final_rate, (double(t) - 29) / 70));
    check_rates(got, want);
    CHECK(got[29] == doctest::Approx(max_lr).epsilon(1e-15));
    CHECK(got[99] == doctest::Approx(final_rate).epsilon(1e-12));
    for (std::size_t t = 1; t <= 29; ++t) CHECK(got[t] > got[t - 1]);
    for (std::size_t t = 30; t <= 99; ++t) CHECK(got[t] < got[t - 1]);
    // past total_steps: an error, and nothing changes
    CHECK_THROWS_AS(scheduler.step(), std::out_of_range);
    CHECK(test::message_of([&] { scheduler.step(); }).find("total_steps is 100") != std::string::npos);
    CHECK(scheduler.step_count() == 100);
    CHECK(f.optimizer.learning_rate() == got[100]);
  }
  SUBCASE("linear, two phases") {
    Fixture f;
    OneCycleLR<double> scheduler(f.optimizer, max_lr, 50, 0.2, Anneal::linear);  // up until step 9
    const Rates got = run(scheduler, 49);
    CHECK(got[0] == doctest::Approx(initial).epsilon(1e-15));
    CHECK(got[3] == doctest::Approx(initial + (max_lr - initial) * 3 / 9).epsilon(1e-14));
    CHECK(got[9] == doctest::Approx(max_lr).epsilon(1e-14));
    CHECK(got[29] == doctest::Approx(max_lr + (final_rate - max_lr) * 20 / 40).epsilon(1e-14));
    CHECK(got[49] == doctest::Approx(final_rate).epsilon(1e-10));
  }
  SUBCASE("three phases") {
    Fixture f;
    // up until 0.25 * 100 - 1 = 24, back down to the initial rate at 48, down to the minimum at 99
    OneCycleLR<double> scheduler(f.optimizer, max_lr, 100, 0.25, Anneal::linear, 25, 1e4, true);
    const Rates got = run(scheduler, 99);
    CHECK(got[12] == doctest::Approx(initial + (max_lr - initial) * 12 / 24).epsilon(1e-14));
    CHECK(got[24] == doctest::Approx(max_lr).epsilon(1e-14));
    CHECK(got[36] == doctest::Approx((max_lr + initial) / 2).epsilon(1e-14));
    CHECK(got[48] == doctest::Approx(initial).epsilon(1e-14));
    CHECK(got[99] == doctest::Approx(final_rate).epsilon(1e-10));
    CHECK(got[70] == doctest::Approx(initial + (final_rate - initial) * 22 / 51).epsilon(1e-14));
  }
}

TEST_CASE("SequentialLR: linear warm-up then cosine annealing") {
  const double base = 0.1;
  auto check_sequence = [&](Fixture& f, SequentialLR<double>& schedule) {
    const Rates got = run(schedule, 20);
    Rates want;
    for (std::size_t t = 0; t < 5; ++t) want.push_back(base * (0.1 + 0.9 * double(t) / 5));
    for (std::size_t t = 5; t <= 20; ++t) want.push_back(cosine(base, 0.0, double(t - 5) / 10));
    check_rates(got, want);
    CHECK(got[5] == doctest::Approx(base).epsilon(1e-15));
    CHECK(got[10] == doctest::Approx(base / 2).epsilon(1e-14));
    CHECK(std::abs(got[15]) < 1e-17);
    CHECK(f.optimizer.learning_rate() == got[20]);
  };
  SUBCASE("warm-up built first") {
    Fixture f(base);
    auto warmup = std::make_shared<LinearLR<double>>(f.optimizer, 0.1, 1.0, 5);
    auto cosine_part = std::make_shared<CosineAnnealingLR<double>>(f.optimizer, 10);
    SequentialLR<double> schedule(f.optimizer, {warmup, cosine_part}, {5});
    CHECK(f.optimizer.learning_rate() == doctest::Approx(0.01));  // the warm-up's step 0
    check_sequence(f, schedule);
    CHECK(cosine_part->step_count() == 15);  // the scheduler in charge counts its own steps
    CHECK(cosine_part->last_rate() == schedule.last_rate());
    CHECK(warmup->base_rates() == Rates{base});
    CHECK(cosine_part->base_rates() == Rates{base});  // not the 0.01 the warm-up had set when it was built
  }
  SUBCASE("cosine built first: the same base rates") {
    Fixture f(base);
    auto cosine_part = std::make_shared<CosineAnnealingLR<double>>(f.optimizer, 10);
    auto warmup = std::make_shared<LinearLR<double>>(f.optimizer, 0.1, 1.0, 5);
    SequentialLR<double> schedule(f.optimizer, {warmup, cosine_part}, {5});
    check_sequence(f, schedule);
  }
  SUBCASE("three pieces") {
    Fixture f(1.0);
    auto first = std::make_shared<StepLR<double>>(f.optimizer, 1, 0.5);
    auto second = std::make_shared<MultiStepLR<double>>(f.optimizer, std::vector<std::size_t>{}, 0.5);
    auto third = std::make_shared<ExponentialLR<double>>(f.optimizer, 0.1);
    SequentialLR<double> schedule(f.optimizer, {first, second, third}, {2, 4});
    check_rates(run(schedule, 6), {1, 0.5, 1, 1, 1, 0.1, 0.01});
  }
}

TEST_CASE("ReduceLROnPlateau: patience, threshold, cooldown, min_lr and eps") {
  SUBCASE("min mode, relative threshold, with and without a cooldown") {
    const Rates metrics = {10, 9.5, 9.2, 8.95, 9, 9, 9, 9, 9, 9, 9};
    // better means below best * 0.9: 10 (the first), then 8.95 (< 9); the others are bad steps,
    // and after more than 2 bad steps in a row the rate halves
    for (std::size_t cooldown : {0, 1}) {
      CAPTURE(cooldown);
      Fixture f(1.0);
      ReduceLROnPlateau<double> scheduler(f.optimizer, PlateauMode::min, 0.5, 2, 0.1, ThresholdMode::rel, cooldown);
      CHECK(scheduler.last_rate() == 1.0);
      Rates rates;
      std::vector<std::size_t> bad;
      for (double m : metrics) {
        scheduler.step(m);
        CHECK(f.optimizer.learning_rate() == scheduler.last_rate());
        rates.push_back(scheduler.last_rate());
        bad.push_back(scheduler.bad_steps());
      }
      CHECK(scheduler.step_count() == metrics.size());
      CHECK(scheduler.best() == 8.95);
      if (cooldown == 0) {
        CHECK(rates == Rates{1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25});
        CHECK(bad == std::vector<std::size_t>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1});
      } else {  // the step after each reduction is not counted
        CHECK(rates == Rates{1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25});
        CHECK(bad == std::vector<std::size_t>{0, 1, 2, 0, 1, 2, 0, 0, 1, 2, 0});
      }
    }
  }
  SUBCASE("max mode, absolute threshold, down to min_lr and no further") {
    Fixture f(1.0);
    ReduceLROnPlateau<double> scheduler(f.optimizer, PlateauMode::max, 0.1, 0, 0.5, ThresholdMode::abs, 0, 0.02);
    Rates rates;
    for (double accuracy : {0.6, 0.9, 1.2, 1.0, 1.0}) {
      scheduler.step(accuracy);
      rates.push_back(f.optimizer.learning_rate());
    }
    // 0.9 is not above 0.6 + 0.5: reduced; 1.2 is; then 0.1 -> max(0.01, 0.02); then no change
    CHECK(rates == Rates{1, 0.1, 0.1, 0.02, 0.02});
    CHECK(scheduler.best() == 1.2);
  }
  SUBCASE("a reduction smaller than eps is skipped") {
    Fixture f(0.5);
    ReduceLROnPlateau<double> scheduler(f.optimizer, PlateauMode::min, 0.5, 0, 0, ThresholdMode::abs, 0, 0, 0.3);
    scheduler.step(1);
    scheduler.step(2);  // 0.5 -> 0.25 is a change of 0.25 <= eps
    CHECK(f.optimizer.learning_rate() == 0.5);
  }
  SUBCASE("a NaN metric is a bad step; a rate set by hand is what gets reduced") {
    Fixture f(1.0);
    ReduceLROnPlateau<double> scheduler(f.optimizer, PlateauMode::min, 0.5, 0);
    scheduler.step(1.0);
    f.optimizer.set_learning_rate(0.3);
    scheduler.step(std::nan(""));
    CHECK(scheduler.best() == 1.0);
    CHECK(f.optimizer.learning_rate() == doctest::Approx(0.15));
    CHECK(scheduler.last_rate() == doctest::Approx(0.15));
  }
}

TEST_CASE("state and load_state resume a schedule where it was") {
  SUBCASE("a closed form") {
    Fixture a(0.1), b(0.1);
    CosineAnnealingWarmRestarts<double> first(a.optimizer, 3, 2);
    for (int i = 0; i < 7; ++i) first.step();
    CosineAnnealingWarmRestarts<double> second(b.optimizer, 3, 2);
    second.load_state(first.state());
    CHECK(second.step_count() == 7);
    CHECK(b.optimizer.learning_rate() == a.optimizer.learning_rate());
    for (int i = 0; i < 5; ++i) {
      first.step();
      second.step();
      CHECK(b.optimizer.learning_rate() == a.optimizer.learning_rate());
    }
  }
  SUBCASE("OneCycleLR's base rates and SequentialLR's pieces") {
    Fixture a, b;
    OneCycleLR<double> first(a.optimizer, 2.0, 30);
    for (int i = 0; i < 12; ++i) first.step();
    OneCycleLR<double> second(b.optimizer, 2.0, 30);
    second.load_state(first.state());
    CHECK(b.optimizer.learning_rate() == a.optimizer.learning_rate());

    Fixture c(0.1), d(0.1);
    auto make = [](Fixture& f) {
      auto warmup = std::make_shared<LinearLR<double>>(f.optimizer, 0.1, 1.0, 5);
      auto cosine_part = std::make_shared<CosineAnnealingLR<double>>(f.optimizer, 10);
      const std::vector<std::shared_ptr<LRScheduler<double>>> pieces{warmup, cosine_part};
      return std::make_unique<SequentialLR<double>>(f.optimizer, pieces, std::vector<std::size_t>{5});
    };
    auto s1 = make(c), s2 = make(d);
    for (int i = 0; i < 8; ++i) s1->step();
    s2->load_state(s1->state());
    CHECK(d.optimizer.learning_rate() == c.optimizer.learning_rate());
    CHECK(s2->schedulers()[1]->step_count() == 3);
  }
  SUBCASE("ReduceLROnPlateau's best, bad steps and cooldown") {
    Fixture a(1.0), b(1.0);
    ReduceLROnPlateau<double> first(a.optimizer, PlateauMode::min, 0.5, 1, 0, ThresholdMode::rel, 2);
    for (double m : {3.0, 2.0, 2.5, 2.5}) first.step(m);  // reduced at the fourth: cooldown 2 left
    CHECK(first.cooldown_left() == 2);
    ReduceLROnPlateau<double> second(b.optimizer, PlateauMode::min, 0.5, 1, 0, ThresholdMode::rel, 2);
    second.load_state(first.state());
    CHECK(b.optimizer.learning_rate() == 0.5);
    CHECK(second.best() == 2.0);
    for (double m : {2.5, 2.5, 2.5, 2.5, 1.0, 2.0}) {
      first.step(m);
      second.step(m);
      CHECK(second.bad_steps() == first.bad_steps());
      CHECK(second.cooldown_left() == first.cooldown_left());
      CHECK(b.optimizer.learning_rate() == a.optimizer.learning_rate());
    }
    CHECK(a.optimizer.learning_rate() == 0.25);
  }
}

TEST_CASE("schedulers move each parameter group from its own base rate") {
  V w{test::random_array({3}, 7), true}, b{test::random_array({2}, 8), true};
  SGD<double> optimizer(std::vector<ParamGroup<double>>{{.parameters = {w}}, {.parameters = {b}, .lr = 0.4}},
                        SGDOptions{.lr = 0.1});
  CosineAnnealingLR<double> cosine(optimizer, 10, 0.0);
  CHECK(cosine.base_rates() == Rates{0.1, 0.4});
  for (int t = 0; t < 5; ++t) cosine.step();
  CHECK(optimizer.learning_rate(0) == doctest::Approx(0.05).epsilon(1e-14));  // (base + 0) / 2 at T_max / 2
  CHECK(optimizer.learning_rate(1) == doctest::Approx(0.2).epsilon(1e-14));
  CHECK(cosine.rates() == Rates{optimizer.learning_rate(0), optimizer.learning_rate(1)});

  SGD<double> plateau_optimizer(std::vector<ParamGroup<double>>{{.parameters = {w}}, {.parameters = {b}, .lr = 0.4}},
                                SGDOptions{.lr = 0.1});
  ReduceLROnPlateau<double> plateau(plateau_optimizer, PlateauMode::min, 0.5, 0);
  plateau.step(1.0);
  plateau.step(2.0);  // worse, patience 0: both groups halve
  CHECK(plateau_optimizer.learning_rate(0) == doctest::Approx(0.05));
  CHECK(plateau_optimizer.learning_rate(1) == doctest::Approx(0.2));
}

TEST_CASE("a scheduler on a float optimizer") {
  Variable<float> w(autodiff::Array<float>{1.f, 2.f}, true);
  Adam<float> optimizer({w}, 0.01);
  CosineAnnealingLR<float> scheduler(optimizer, 4, 0.001);
  scheduler.step();
  scheduler.step();
  CHECK(optimizer.learning_rate() == doctest::Approx(0.0055));
}

TEST_CASE("per batch or per epoch is how often step() is called: the optimizer updates with the scheduled rate") {
  // y = 2 x0 - x1 + 0.5 from 12 samples in 4 batches of 3, a Linear model trained with plain SGD,
  // so every update is w -= lr g and the rate it used can be read off the update.
  const A inputs = regression_inputs(), targets = regression_targets(inputs);
  const std::size_t batches = 4, epochs = 3;

  // One training step on batch b, checking that each parameter moved by exactly -expected_rate * gradient.
  auto train_batch = [&](Linear<double>& model, SGD<double>& optimizer, std::size_t b, double expected_rate) {
    CHECK(optimizer.learning_rate() == doctest::Approx(expected_rate).epsilon(1e-15));
    optimizer.zero_grad();
    const A x = xt::view(inputs, xt::range(3 * b, 3 * b + 3), xt::all());
    const A y = xt::view(targets, xt::range(3 * b, 3 * b + 3), xt::all());
    V loss = mse(model(V(x)), V(y));
    loss.backward();
    std::vector<A> before, gradients;
    for (auto& p : model.parameters()) {
      before.push_back(p.value());
      gradients.push_back(p.grad());
    }
    optimizer.step();
    for (std::size_t i = 0; i < before.size(); ++i) {
      const A want = before[i] - expected_rate * gradients[i];
      CHECK(xt::allclose(model.parameters()[i].value(), want, 1e-14, 1e-15));
    }
    return loss.item();
  };

  SUBCASE("per epoch: StepLR halves the rate every epoch") {
    Linear<double> model(2, 1);
    SGD<double> optimizer(model.parameters(), 0.2);
    StepLR<double> scheduler(optimizer, 1, 0.5);
    for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
      for (std::size_t b = 0; b < batches; ++b) train_batch(model, optimizer, b, 0.2 * std::pow(0.5, double(epoch)));
      scheduler.step();
    }
    CHECK(scheduler.step_count() == epochs);
  }
  SUBCASE("per batch: warm-up then cosine over every batch of the run") {
    Linear<double> model(2, 1);
    SGD<double> optimizer(model.parameters(), 0.2);
    auto warmup = std::make_shared<LinearLR<double>>(optimizer, 0.25, 1.0, 3);
    auto decay = std::make_shared<CosineAnnealingLR<double>>(optimizer, 9, 0.02);
    SequentialLR<double> scheduler(optimizer, {warmup, decay}, {3});
    std::size_t k = 0;
    for (std::size_t epoch = 0; epoch < epochs; ++epoch)
      for (std::size_t b = 0; b < batches; ++b, ++k) {
        const double rate = k < 3 ? 0.2 * (0.25 + 0.75 * double(k) / 3) : cosine(0.2, 0.02, double(k - 3) / 9);
        train_batch(model, optimizer, b, rate);
        scheduler.step();
      }
    CHECK(scheduler.step_count() == batches * epochs);
  }
}
