// What Module::operator() costs over forward(): since summary(shape) traces
// output shapes through operator(), a call checks one atomic counter first.
// Both ways through the same 7-layer, 8-wide MLP at batch 1 (where per-call
// overhead weighs most), interleaved in one run; prints the median time ratio.
//
//   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DWENGERT_BUILD_BENCH=ON
//   cmake --build build -j1 --target module_call_overhead
//   OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 build/bench/module_call_overhead
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include <nn/nn.hpp>

int main() {
  nn::manual_seed(1);
  nn::Sequential<float> model = nn::mlp<float>({8, 8, 8, 8, 8}, nn::ReLU<float>());
  const nn::Variable<float> x = autodiff::randn<float>({1, 8});
  autodiff::no_grad scope;
  auto direct = [&] {  // each layer's forward(), as Sequential did before
    nn::Variable<float> h = x;
    for (std::size_t i = 0; i < model.size(); ++i) h = model[i].forward(h);
    return h;
  };
  auto through_call = [&] { return model(x); };  // Sequential calls each layer's operator()
  auto seconds = [](auto pass) {
    const auto start = std::chrono::steady_clock::now();
    float sum = 0;
    for (int k = 0; k < 20000; ++k) sum += pass().value()(0, 0);
    volatile float sink = sum;
    (void)sink;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::vector<double> ratios;
  for (int round = 0; round < 15; ++round) {
    const double a = seconds(direct), b = seconds(through_call);
    ratios.push_back(b / a);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("operator() / forward() time, 15 rounds of 20000 passes: median %.3f (min %.3f, max %.3f)\n", ratios[7],
              ratios.front(), ratios.back());
}
