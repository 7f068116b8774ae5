// wengert's optimizers against LibTorch's own, step for step: the digits network
// (64-50 sigmoid-10, softmax cross-entropy, mean) on one random batch of 32, in
// float64, both starting from the same weights; 5 steps of every optimizer and
// option (issue #14), including AdamW and parameter groups (no decay on biases).
// Prints, per case, the largest |w_wengert - w_torch| over every parameter after
// the 5 steps, next to how far the weights moved (so a 0 is not a case that did
// nothing). Exit code 1 if a difference exceeds 1e-12 times the move.
//
// Built only with -DWENGERT_BUILD_PEER_BENCH=ON (LibTorch is found by CMake):
//   cmake -S . -B build -DWENGERT_BUILD_PEER_BENCH=ON && cmake --build build --target torch_optim_check
//   build/bench/torch_optim_check
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nn/nn.hpp>

namespace {

using T = double;
using V = autodiff::Variable<T>;
using A = autodiff::Array<T>;
namespace to = torch::optim;

constexpr std::size_t kSteps = 5, kBatch = 32, kIn = 64, kHidden = 50, kOut = 10;

struct Problem {
  A x;
  nn::Labels labels;
  Problem() {
    std::mt19937 random(7);
    std::uniform_real_distribution<T> pixel(0, 1);
    x = A::from_shape({kBatch, kIn});
    for (T& v : x) v = pixel(random);
    for (std::size_t i = 0; i < kBatch; ++i) labels.push_back(random() % kOut);
  }
};

// The wengert model and a LibTorch copy of it (torch keeps W as (out, in)).
struct Pair {
  nn::Sequential<T> model = nn::mlp<T>({kIn, kHidden, kOut}, nn::Sigmoid<T>());
  torch::nn::Linear first{long(kIn), long(kHidden)}, second{long(kHidden), long(kOut)};
  torch::Tensor x, labels;

  explicit Pair(const Problem& problem) {
    first->to(torch::kFloat64);
    second->to(torch::kFloat64);
    const auto named = model.named_parameters();  // 0.weight (in, out), 0.bias, 2.weight, 2.bias
    torch::NoGradGuard no_grad;
    const auto copy = [](const A& from, torch::Tensor& to_tensor, bool transpose) {
      std::vector<long> shape(from.shape().begin(), from.shape().end());
      torch::Tensor t = torch::from_blob(const_cast<T*>(from.data()), shape, torch::kFloat64);
      to_tensor.copy_(transpose ? t.t() : t);
    };
    copy(named[0].second.value(), first->weight, true);
    copy(named[1].second.value(), first->bias, false);
    copy(named[2].second.value(), second->weight, true);
    copy(named[3].second.value(), second->bias, false);
    x = torch::from_blob(const_cast<T*>(problem.x.data()), {long(kBatch), long(kIn)}, torch::kFloat64).clone();
    std::vector<int64_t> l64(problem.labels.begin(), problem.labels.end());
    labels = torch::from_blob(l64.data(), {long(l64.size())}, torch::kInt64).clone();
  }
  std::vector<torch::Tensor> torch_weights() { return {first->weight, second->weight}; }
  std::vector<torch::Tensor> torch_biases() { return {first->bias, second->bias}; }
  std::vector<torch::Tensor> torch_parameters() { return {first->weight, first->bias, second->weight, second->bias}; }
  torch::Tensor torch_loss() {
    return torch::nn::functional::cross_entropy(second->forward(torch::sigmoid(first->forward(x))), labels);
  }
};

double largest(const A& a, const torch::Tensor& t, bool transpose) {
  torch::Tensor c = (transpose ? t.t() : t).contiguous();
  const T* data = c.data_ptr<T>();
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a.data()[i]) - double(data[i])));
  return d;
}

struct Case {
  std::string name;
  std::function<std::unique_ptr<nn::Optimizer<T>>(nn::Sequential<T>&)> wengert;
  std::function<std::unique_ptr<to::Optimizer>(Pair&)> torch;
};

// Two groups in both libraries: the weights with their decay, the biases without (decay_groups).
template <class Options>
std::vector<to::OptimizerParamGroup> torch_groups(Pair& p, const Options& decayed, const Options& not_decayed) {
  std::vector<to::OptimizerParamGroup> groups;
  groups.emplace_back(p.torch_weights(), std::make_unique<Options>(decayed));
  groups.emplace_back(p.torch_biases(), std::make_unique<Options>(not_decayed));
  return groups;
}

std::vector<Case> cases() {
  using nn::Sequential;
  std::vector<Case> all;
  const auto add = [&](std::string name, auto wengert, auto torch) { all.push_back({std::move(name), wengert, torch}); };
  using Ptr = std::unique_ptr<nn::Optimizer<T>>;
  using TPtr = std::unique_ptr<to::Optimizer>;

  add("SGD", [](Sequential<T>& m) -> Ptr { return std::make_unique<nn::SGD<T>>(m.parameters(), 0.5); },
      [](Pair& p) -> TPtr { return std::make_unique<to::SGD>(p.torch_parameters(), to::SGDOptions(0.5)); });
  add("SGD momentum 0.9",
      [](Sequential<T>& m) -> Ptr { return std::make_unique<nn::SGD<T>>(m.parameters(), nn::SGDOptions{.lr = 0.5, .momentum = 0.9}); },
      [](Pair& p) -> TPtr { return std::make_unique<to::SGD>(p.torch_parameters(), to::SGDOptions(0.5).momentum(0.9)); });
  add("SGD momentum 0.9 dampening 0.3",
      [](Sequential<T>& m) -> Ptr {
        return std::make_unique<nn::SGD<T>>(m.parameters(), nn::SGDOptions{.lr = 0.5, .momentum = 0.9, .dampening = 0.3});
      },
      [](Pair& p) -> TPtr {
        return std::make_unique<to::SGD>(p.torch_parameters(), to::SGDOptions(0.5).momentum(0.9).dampening(0.3));
      });
  add("SGD Nesterov 0.9, weight decay 0.01",
      [](Sequential<T>& m) -> Ptr {
        return std::make_unique<nn::SGD<T>>(m.parameters(),
                                            nn::SGDOptions{.lr = 0.5, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
      },
      [](Pair& p) -> TPtr {
        return std::make_unique<to::SGD>(p.torch_parameters(),
                                         to::SGDOptions(0.5).momentum(0.9).weight_decay(0.01).nesterov(true));
      });
  add("Adagrad",
      [](Sequential<T>& m) -> Ptr { return std::make_unique<nn::Adagrad<T>>(m.parameters(), nn::AdagradOptions{.lr = 0.1}); },
      [](Pair& p) -> TPtr { return std::make_unique<to::Adagrad>(p.torch_parameters(), to::AdagradOptions(0.1)); });
  add("Adagrad lr_decay 0.2, initial_accumulator_value 0.1, weight decay 0.01",
      [](Sequential<T>& m) -> Ptr {
        return std::make_unique<nn::Adagrad<T>>(
            m.parameters(), nn::AdagradOptions{.lr = 0.1, .lr_decay = 0.2, .weight_decay = 0.01, .initial_accumulator_value = 0.1});
      },
      [](Pair& p) -> TPtr {
        return std::make_unique<to::Adagrad>(
            p.torch_parameters(), to::AdagradOptions(0.1).lr_decay(0.2).weight_decay(0.01).initial_accumulator_value(0.1));
      });
  add("RMSprop",
      [](Sequential<T>& m) -> Ptr { return std::make_unique<nn::RMSprop<T>>(m.parameters(), nn::RMSpropOptions{.lr = 0.01}); },
      [](Pair& p) -> TPtr { return std::make_unique<to::RMSprop>(p.torch_parameters(), to::RMSpropOptions(0.01)); });
  add("RMSprop centered",
      [](Sequential<T>& m) -> Ptr {
        return std::make_unique<nn::RMSprop<T>>(m.parameters(), nn::RMSpropOptions{.lr = 0.01, .centered = true});
      },
      [](Pair& p) -> TPtr { return std::make_unique<to::RMSprop>(p.torch_parameters(), to::RMSpropOptions(0.01).centered(true)); });
  add("RMSprop momentum 0.9, centered, weight decay 0.01",
      [](Sequential<T>& m) -> Ptr {
        return std::make_unique<nn::RMSprop<T>>(
            m.parameters(), nn::RMSpropOptions{.lr = 0.01, .weight_decay = 0.01, .momentum = 0.9, .centered = true});
      },
      [](Pair& p) -> TPtr {
        return std::make_unique<to::RMSprop>(p.torch_parameters(),
                                             to::RMSpropOptions(0.01).momentum(0.9).centered(true).weight_decay(0.01));
      });
  add("Adam",
      [](Sequential<T>& m) -> Ptr { return std::make_unique<nn::Adam<T>>(m.parameters(), nn::AdamOptions{.lr = 0.01}); },
      [](Pair& p) -> TPtr { return std::make_unique<to::Adam>(p.torch_parameters(), to::AdamOptions(0.01)); });
  add("Adam amsgrad, betas (0.8, 0.5), weight decay 0.01",
      [](Sequential<T>& m) -> Ptr {
        return std::make_unique<nn::Adam<T>>(m.parameters(),
                                             nn::AdamOptions{.lr = 0.01, .betas = {0.8, 0.5}, .weight_decay = 0.01, .amsgrad = true});
      },
      [](Pair& p) -> TPtr {
        return std::make_unique<to::Adam>(
            p.torch_parameters(), to::AdamOptions(0.01).betas(std::make_tuple(0.8, 0.5)).weight_decay(0.01).amsgrad(true));
      });
  add("AdamW weight decay 0.1",
      [](Sequential<T>& m) -> Ptr { return std::make_unique<nn::AdamW<T>>(m.parameters(), nn::AdamWOptions{.lr = 0.01, .weight_decay = 0.1}); },
      [](Pair& p) -> TPtr { return std::make_unique<to::AdamW>(p.torch_parameters(), to::AdamWOptions(0.01).weight_decay(0.1)); });
  add("AdamW amsgrad, betas (0.8, 0.5)",
      [](Sequential<T>& m) -> Ptr {
        return std::make_unique<nn::AdamW<T>>(m.parameters(), nn::AdamWOptions{.lr = 0.01, .betas = {0.8, 0.5}, .amsgrad = true});
      },
      [](Pair& p) -> TPtr {
        return std::make_unique<to::AdamW>(p.torch_parameters(),
                                           to::AdamWOptions(0.01).betas(std::make_tuple(0.8, 0.5)).amsgrad(true));
      });
  add("AdamW, decay_groups(0.1): biases undecayed, their lr 0.03",
      [](Sequential<T>& m) -> Ptr {
        auto groups = nn::decay_groups(m, 0.1);
        groups[1].lr = 0.03;
        return std::make_unique<nn::AdamW<T>>(groups, nn::AdamWOptions{.lr = 0.01});
      },
      [](Pair& p) -> TPtr {
        return std::make_unique<to::AdamW>(
            torch_groups(p, to::AdamWOptions(0.01).weight_decay(0.1), to::AdamWOptions(0.03).weight_decay(0)),
            to::AdamWOptions(0.01));
      });
  add("SGD momentum, groups: weights lr 0.5 decay 0.01, biases lr 0.1",
      [](Sequential<T>& m) -> Ptr {
        auto groups = nn::decay_groups(m, 0.01);
        groups[1].lr = 0.1;
        return std::make_unique<nn::SGD<T>>(groups, nn::SGDOptions{.lr = 0.5, .momentum = 0.9});
      },
      [](Pair& p) -> TPtr {
        return std::make_unique<to::SGD>(
            torch_groups(p, to::SGDOptions(0.5).momentum(0.9).weight_decay(0.01), to::SGDOptions(0.1).momentum(0.9)),
            to::SGDOptions(0.5));
      });
  return all;
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  const Problem problem;
  int failures = 0;
  std::printf("%-72s %12s %12s\n", "optimizer (5 steps, float64)", "max |diff|", "max move");
  for (const Case& c : cases()) {
    Pair pair(problem);
    const auto start = pair.model.parameters();
    std::vector<A> initial;
    for (const auto& p : start) initial.push_back(p.value());
    auto ours = c.wengert(pair.model);
    auto theirs = c.torch(pair);
    for (std::size_t s = 0; s < kSteps; ++s) {
      ours->zero_grad();
      nn::cross_entropy(pair.model(V(problem.x)), problem.labels).backward();
      ours->step();
      theirs->zero_grad();
      pair.torch_loss().backward();
      theirs->step();
    }
    const auto ps = pair.model.parameters();
    const std::vector<torch::Tensor> tp = pair.torch_parameters();
    double difference = 0, move = 0;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      difference = std::max(difference, largest(ps[i].value(), tp[i], i % 2 == 0));
      move = std::max(move, double(xt::amax(xt::abs(ps[i].value() - initial[i]))()));
    }
    const bool ok = difference <= 1e-12 * std::max(move, 1e-300) && move > 0;
    failures += !ok;
    std::printf("%-72s %12.3g %12.3g%s\n", c.name.c_str(), difference, move, ok ? "" : "  <- DIFFERS");
  }
  return failures ? 1 : 0;
}
