// A multilayer perceptron's training step (float32): forward alone, forward
// plus backward, and backward alone, so that backward / forward can be read off.
//
//   config 0  "digits": batch 32, 64 -> 50 sigmoid -> 10
//   config 1  batch 128, 784 -> 512 relu -> 256 relu -> 10
//
// Each layer is affine(h, W, b); the loss is softmax cross-entropy,
// -mean(pick(log_softmax(z), labels)).
//
//   BM_MLP_Forward          forward + loss, then Tape::release() (no backward)
//   BM_MLP_ForwardNoGrad    forward + loss under no_grad (nothing recorded)
//   BM_MLP_ForwardBackward  forward + loss + backward() (+ zero_grad of the parameters)
//   BM_MLP_Backward         backward() alone: forward runs outside the timed
//                           region (manual time with steady_clock)
//
// backward / forward = (ForwardBackward - Forward) / Forward; bench/summarize.py
// prints it from the JSON output.
//
//   OPENBLAS_NUM_THREADS=1 ./build/bench/mlp_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>

namespace {

using autodiff::Array;
using V = autodiff::Variable<float>;

struct Config {
  const char* name;
  std::size_t batch;
  std::vector<std::size_t> sizes;  // input, hidden..., output
  bool relu;                       // hidden activation: relu, else sigmoid
};

const Config& config(int index) {
  static const Config configs[] = {
      {"digits 32x(64-50-10) sigmoid", 32, {64, 50, 10}, false},
      {"128x(784-512-256-10) relu", 128, {784, 512, 256, 10}, true},
  };
  return configs[index];
}

Array<float> normal(std::mt19937& rng, const autodiff::Shape& shape, float stddev) {
  std::normal_distribution<float> dist(0.f, stddev);
  Array<float> a = Array<float>::from_shape(shape);
  for (auto& v : a) v = dist(rng);
  return a;
}

struct Mlp {
  const Config& cfg;
  V x;
  std::vector<std::size_t> labels;
  std::vector<V> weights, biases;

  explicit Mlp(const Config& c) : cfg(c) {
    std::mt19937 rng(42);
    x = V(normal(rng, {cfg.batch, cfg.sizes.front()}, 1.f));
    for (std::size_t i = 0; i < cfg.batch; ++i) labels.push_back(i % cfg.sizes.back());
    for (std::size_t l = 0; l + 1 < cfg.sizes.size(); ++l) {
      const std::size_t in = cfg.sizes[l], out = cfg.sizes[l + 1];
      weights.emplace_back(normal(rng, {in, out}, 1.f / std::sqrt(float(in))), true);
      biases.emplace_back(Array<float>(autodiff::Shape{out}, 0.01f), true);
    }
  }

  V loss() const {
    V h = x;
    const std::size_t layers = weights.size();
    for (std::size_t l = 0; l < layers; ++l) {
      h = autodiff::affine(h, weights[l], biases[l]);
      if (l + 1 < layers) h = cfg.relu ? autodiff::relu(h) : autodiff::sigmoid(h);
    }
    return -autodiff::mean(autodiff::pick(autodiff::log_softmax(h), labels));
  }

  void zero_grad() {
    for (auto& w : weights) w.zero_grad();
    for (auto& b : biases) b.zero_grad();
  }
};

void label(benchmark::State& state) { state.SetLabel(config(int(state.range(0))).name); }

void BM_MLP_Forward(benchmark::State& state) {
  Mlp mlp(config(int(state.range(0))));
  autodiff::Tape<float>::current().release();
  for (auto _ : state) {
    V loss = mlp.loss();
    benchmark::DoNotOptimize(loss.item());
    autodiff::Tape<float>::current().release();
  }
  label(state);
}

void BM_MLP_ForwardNoGrad(benchmark::State& state) {
  Mlp mlp(config(int(state.range(0))));
  autodiff::no_grad scope;
  for (auto _ : state) {
    V loss = mlp.loss();
    benchmark::DoNotOptimize(loss.item());
  }
  label(state);
}

void BM_MLP_ForwardBackward(benchmark::State& state) {
  Mlp mlp(config(int(state.range(0))));
  autodiff::Tape<float>::current().release();
  for (auto _ : state) {
    V loss = mlp.loss();
    loss.backward();
    benchmark::DoNotOptimize(mlp.weights[0].grad().data());
    mlp.zero_grad();
  }
  label(state);
}

void BM_MLP_Backward(benchmark::State& state) {
  Mlp mlp(config(int(state.range(0))));
  autodiff::Tape<float>::current().release();
  for (auto _ : state) {
    V loss = mlp.loss();
    const auto start = std::chrono::steady_clock::now();
    loss.backward();
    const auto stop = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    benchmark::DoNotOptimize(mlp.weights[0].grad().data());
    mlp.zero_grad();
  }
  label(state);
}

}  // namespace

BENCHMARK(BM_MLP_Forward)->DenseRange(0, 1)->ArgName("config")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MLP_ForwardNoGrad)->DenseRange(0, 1)->ArgName("config")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MLP_ForwardBackward)->DenseRange(0, 1)->ArgName("config")->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MLP_Backward)->DenseRange(0, 1)->ArgName("config")->UseManualTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
