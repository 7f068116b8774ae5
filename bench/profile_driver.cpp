// A wengert-only loop over one of peer_bench's first-order workloads, for
// valgrind --tool=callgrind and perf record: no LibTorch in the process (which
// valgrind runs slowly), no timing harness, and only the library API that
// every version since the memory pool has, so the same file builds against an
// older checkout for an A/B of instruction counts (bench/RESULTS.md, 2026-12-01):
//
//   profile_driver tiny|digits|fashion|fullbatch ITERATIONS
//
//   # instructions per iteration: the difference of N and 2N iterations, divided by N
//   OPENBLAS_CORETYPE=Haswell valgrind --tool=callgrind build/bench/profile_driver digits 100
//   OPENBLAS_CORETYPE=Haswell valgrind --tool=callgrind build/bench/profile_driver digits 200
//   # against another checkout's libraries (e.g. /work/baseline, built with -mno-avx512f), one command:
//   g++ -std=gnu++20 -O3 -DNDEBUG -DXTENSOR_USE_XSIMD -march=native -mno-avx512f -I/work/baseline
//       bench/profile_driver.cpp /work/baseline/build-bench/nn/libwengert_nn.a
//       /work/baseline/build-bench/autodiff/libwengert_autodiff.a -lopenblas -lpthread -o profile_driver_old
//
// (valgrind 3.19 cannot decode AVX-512: OPENBLAS_CORETYPE=Haswell keeps OpenBLAS
// off its AVX-512 kernels.) The workloads are peer_bench's shapes with other
// random data: tiny (1000 add/mul/tanh ops on one element, forward + backward),
// digits (64-50 sigmoid-10, batch 32, SGD step), fashion (784-512-256-10 ReLU,
// batch 128, SGD step), fullbatch (the digits network on 1437 samples, float64,
// gradient only).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

namespace {

template <class T>
struct Net {
  nn::Sequential<T> model;
  autodiff::Variable<T> x;
  nn::Labels labels;
  std::unique_ptr<nn::SGD<T>> optimizer;

  Net(const std::vector<std::size_t>& sizes, std::size_t batch, bool relu, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<T> normal(T(0), T(1));
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      model.add(nn::Linear<T>(sizes[l], sizes[l + 1]));
      if (l + 2 < sizes.size()) {
        if (relu) model.add(nn::ReLU<T>());
        else model.add(nn::Sigmoid<T>());
      }
    }
    autodiff::Array<T> values = autodiff::Array<T>::from_shape({batch, sizes.front()});
    for (std::size_t i = 0; i < values.size(); ++i) values.data()[i] = normal(rng);
    x = autodiff::Variable<T>(values);
    for (std::size_t i = 0; i < batch; ++i) labels.push_back(rng() % sizes.back());
    optimizer = std::make_unique<nn::SGD<T>>(model.parameters(), 0.01);
  }
  void gradient() {
    model.zero_grad();
    nn::cross_entropy(model(x), labels).backward();
  }
  void step() {
    optimizer->zero_grad();
    nn::cross_entropy(model(x), labels).backward();
    optimizer->step();
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: profile_driver tiny|digits|fashion|fullbatch ITERATIONS\n");
    return 2;
  }
  const std::string workload = argv[1];
  const long iterations = std::atol(argv[2]);
  autodiff::set_num_threads(1);
  double sink = 0;
  const auto start = std::chrono::steady_clock::now();
  if (workload == "tiny") {
    using V = autodiff::Variable<float>;
    V x(autodiff::Array<float>(autodiff::Shape{1}, 0.5f), true);
    V add_c(autodiff::Array<float>(autodiff::Shape{1}, 0.01f)), mul_c(autodiff::Array<float>(autodiff::Shape{1}, 0.999f));
    for (long it = 0; it < iterations; ++it) {
      V y = x;
      for (int i = 0; i < 1000; ++i) {
        switch (i % 3) {
          case 0: y = y + add_c; break;
          case 1: y = y * mul_c; break;
          default: y = autodiff::tanh(y); break;
        }
      }
      y.backward();
      sink += x.grad()(0);
      x.zero_grad();
    }
  } else if (workload == "digits") {
    Net<float> net({64, 50, 10}, 32, false, 1);
    for (long i = 0; i < iterations; ++i) net.step();
  } else if (workload == "fashion") {
    Net<float> net({784, 512, 256, 10}, 128, true, 2);
    for (long i = 0; i < iterations; ++i) net.step();
  } else if (workload == "fullbatch") {
    Net<double> net({64, 50, 10}, 1437, false, 4);
    for (long i = 0; i < iterations; ++i) net.gradient();
  } else {
    std::fprintf(stderr, "profile_driver: unknown workload %s\n", workload.c_str());
    return 2;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %ld iterations, %.3f us each (sink %g)\n", workload.c_str(), iterations,
              1e6 * seconds / double(iterations), sink);
  return 0;
}
