// Per-op overhead of the tape on tiny tensors (float32): a chain of N = 1000
// elementwise ops, y = x; y = y + c, y * c, tanh(y) in turn (or one op kind
// only), on tensors of shape (1,) and (32, 50).
//
//   BM_Record           forward with recording (x requires a gradient), then
//                       Tape::release(): the cost of building the graph
//   BM_NoGrad           the same forward inside a no_grad scope: no graph
//   BM_ForwardBackward  forward with recording, then backward() (for (1,)) or
//                       sum(y).backward() (for (32, 50)); backward releases the tape
//   BM_RawXtensor       the same chain on plain xt::xarray values, no autodiff:
//                       the floor that xtensor's own allocation and loops set
//   BM_MakeNode, BM_DefaultArray  floors of one op's bookkeeping: a tape node
//                       made and freed as the tape makes it (allocate_shared
//                       from the per-thread pool), and a default-constructed
//                       autodiff::Array (xtensor gives it one element, from the pool)
//   BM_Exp<T>, BM_Sigmoid<T>  e^x and 1 / (1 + e^-x) over 1437 x 50 values (the
//                       full-batch hidden layer), counter per_value: impl 0 = xtensor's
//                       expression (xsimd's exp), 1 = autodiff's kernel
//                       (detail::exp_of, detail::sigmoid_of), 2 = a std::exp loop
//   BM_Relu             relu's forward on (128, 512) floats, counter per_value:
//                       impl 0 = xtensor's where(x < 0, 0, x), 1 = autodiff::relu
//                       under no_grad (a std::max loop)
//   BM_ReluBackward     relu's vector-Jacobian product on (128, 512) floats (g where
//                       x > 0, else 0), counter per_value: impl 0 = what relu's backward
//                       runs, the op autodiff::relu_backward under no_grad; 1 = where(mask, g, 0),
//                       the mask made beforehand (what it ran before); 2 = a plain loop
//                       out[i] = x[i] > 0 ? g[i] : 0 (the floor)
//   BM_SgdUpdate        w -= lr g on a (784, 512) float weight: impl 0 = xtensor's
//                       noalias(w) -= lr * g, 1 = the plain loop nn::SGD runs
//   BM_BatchedMatmul    forward and backward of a product over 16 x 32 rows of 64
//                       features times a (64, 64) weight, counter per_value (per output
//                       value): impl 0 = the 2-D matmul of (512, 64) rows, 1 = a (16, 32, 64)
//                       stack times the matrix (one gemm, db in one gemm too), 2 = a stack
//                       times a (16, 64, 64) stack (16 gemms), 3 = einsum("bij,bjk->bik")
//                       of the same stacks
//   BM_Permute          axes moved on 2^17 floats, counter per_value: impl 0 = transpose
//                       of a (256, 512) matrix, 1 = xt::transpose assigned to an array (what
//                       transpose ran before), 2 = permute (16, 128, 64) by (2, 0, 1),
//                       3 = permute (16, 128, 64) by (1, 0, 2) (rows copied whole)
//   BM_Conv2d           forward and backward of a LeNet-sized convolution on float32, batch 64,
//                       layer 0 = 1 -> 6 channels on 28x28, kernel 5 (the input wants no gradient:
//                       dw and db only), layer 1 = 6 -> 16 on 14x14, kernel 5 (dx too), layer 2 =
//                       32 -> 64 on 26x26, kernel 3 (the MNIST example CNN's second, dx too); impl 0 =
//                       autodiff::conv2d with bias, then backward with a seed, impl 1 = the GEMM
//                       floor: the same im2col products (y = W col, dW += g col^T, and for layers
//                       1, 2 dcol = W^T g) per batch element on buffers made beforehand, impl 2 = the
//                       same products as one gemm each over the whole batch, impl 3 and 4 = as impl
//                       0 with the im2col (3) or the direct kernels (4) forced (detail/conv_direct.hpp)
//
// The counter per_op is time / (iterations * N), shown in seconds with an SI
// prefix ("812n" = 812 ns per op). Arguments: {shape, kind}: shape 0 = (1,),
// 1 = (32, 50); kind 0 = add/mul/tanh in turn, 1 = add only, 2 = mul only,
// 3 = tanh only.
//
//   OPENBLAS_NUM_THREADS=1 ./build/bench/ops_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cmath>
#include <cstddef>
#include <memory>
#include <random>
#include <string>

#include <autodiff/autodiff.hpp>
#include <autodiff/detail/conv_direct.hpp>
#include <autodiff/detail/vector_math.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xnoalias.hpp>

namespace {

using autodiff::Array;
using autodiff::Shape;
using V = autodiff::Variable<float>;

// Values uniform in [-1, 1), reproducible from the seed.
Array<float> random(const Shape& shape, unsigned seed) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  Array<float> a = Array<float>::from_shape(shape);
  for (auto& v : a) v = uniform(engine);
  return a;
}

constexpr int kChain = 1000;

Shape shape_of(int index) { return index == 0 ? Shape{1} : Shape{32, 50}; }

const char* kind_name(int kind) {
  switch (kind) {
    case 0: return "add/mul/tanh";
    case 1: return "add";
    case 2: return "mul";
    default: return "tanh";
  }
}

// Which op step i of a chain of the given kind applies: 0 add, 1 mul, 2 tanh.
int op_at(int kind, int i) { return kind == 0 ? i % 3 : kind - 1; }

// Constants near 1 keep the chain's values finite and away from 0 for 1000 steps.
V chain(const V& x, const V& add_c, const V& mul_c, int kind) {
  V y = x;
  for (int i = 0; i < kChain; ++i) {
    switch (op_at(kind, i)) {
      case 0: y = y + add_c; break;
      case 1: y = y * mul_c; break;
      default: y = autodiff::tanh(y); break;
    }
  }
  return y;
}

struct Inputs {
  V x, add_c, mul_c;
  explicit Inputs(const Shape& shape)
      : x(Array<float>(shape, 0.5f), /*requires_grad=*/true),
        add_c(Array<float>(shape, 0.01f)),
        mul_c(Array<float>(shape, 0.999f)) {}
};

void set_counters(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * kChain);
  state.counters["per_op"] = benchmark::Counter(
      kChain, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  const Shape shape = shape_of(int(state.range(0)));
  state.SetLabel(std::string(kind_name(int(state.range(1)))) + " " + autodiff::to_string(shape));
}

void BM_Record(benchmark::State& state) {
  const int kind = int(state.range(1));
  Inputs in(shape_of(int(state.range(0))));
  autodiff::Tape<float>::current().release();
  for (auto _ : state) {
    V y = chain(in.x, in.add_c, in.mul_c, kind);
    benchmark::DoNotOptimize(y.value().data());
    autodiff::Tape<float>::current().release();
  }
  set_counters(state);
}

void BM_NoGrad(benchmark::State& state) {
  const int kind = int(state.range(1));
  Inputs in(shape_of(int(state.range(0))));
  autodiff::no_grad scope;
  for (auto _ : state) {
    V y = chain(in.x, in.add_c, in.mul_c, kind);
    benchmark::DoNotOptimize(y.value().data());
  }
  set_counters(state);
}

void BM_ForwardBackward(benchmark::State& state) {
  const int kind = int(state.range(1));
  Inputs in(shape_of(int(state.range(0))));
  const bool scalar = in.x.size() == 1;
  autodiff::Tape<float>::current().release();
  for (auto _ : state) {
    V y = chain(in.x, in.add_c, in.mul_c, kind);
    if (scalar)
      y.backward();
    else
      autodiff::sum(y).backward();  // one extra op on top of the chain's 1000
    benchmark::DoNotOptimize(in.x.grad().data());
    in.x.zero_grad();
  }
  set_counters(state);
}

void BM_RawXtensor(benchmark::State& state) {
  const int kind = int(state.range(1));
  const Shape shape = shape_of(int(state.range(0)));
  const Array<float> x(shape, 0.5f), add_c(shape, 0.01f), mul_c(shape, 0.999f);
  for (auto _ : state) {
    Array<float> y = x;
    for (int i = 0; i < kChain; ++i) {
      switch (op_at(kind, i)) {
        case 0: y = y + add_c; break;
        case 1: y = y * mul_c; break;
        default: y = xt::tanh(y); break;
      }
    }
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state);
}

void BM_MakeNode(benchmark::State& state) {
  for (auto _ : state) {
    auto node = std::allocate_shared<autodiff::Node<float>>(autodiff::PoolAllocator<autodiff::Node<float>>());
    benchmark::DoNotOptimize(node.get());
  }
}

void BM_DefaultArray(benchmark::State& state) {
  for (auto _ : state) {
    Array<float> a;
    benchmark::DoNotOptimize(a.data());
  }
}

void set_per_value(benchmark::State& state, std::size_t values) {
  state.counters["per_value"] = benchmark::Counter(double(state.iterations()) * double(values),
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Values as a hidden layer's pre-activations would have them: N(0, 4^2).
template <class T>
Array<T> pre_activations() {
  Array<T> x = Array<T>::from_shape({1437 * 50});
  std::mt19937 rng(5);
  std::normal_distribution<T> normal(T(0), T(4));
  for (auto& v : x) v = normal(rng);
  return x;
}

template <class T>
void BM_Exp(benchmark::State& state) {
  const Array<T> x = pre_activations<T>();
  Array<T> y = Array<T>::from_shape(x.shape());
  for (auto _ : state) {
    switch (state.range(0)) {
      case 0: xt::noalias(y) = xt::exp(x); break;
      case 1: autodiff::detail::exp_of(x.data(), y.data(), x.size()); break;
      default:
        for (std::size_t i = 0; i < x.size(); ++i) y.data()[i] = std::exp(x.data()[i]);
    }
    benchmark::DoNotOptimize(y.data());
  }
  set_per_value(state, x.size());
}

template <class T>
void BM_Sigmoid(benchmark::State& state) {
  const Array<T> x = pre_activations<T>();
  Array<T> y = Array<T>::from_shape(x.shape());
  for (auto _ : state) {
    switch (state.range(0)) {
      case 0: xt::noalias(y) = T(1) / (T(1) + xt::exp(-x)); break;
      case 1: autodiff::detail::sigmoid_of(x.data(), y.data(), x.size()); break;
      default:
        for (std::size_t i = 0; i < x.size(); ++i) y.data()[i] = T(1) / (T(1) + std::exp(-x.data()[i]));
    }
    benchmark::DoNotOptimize(y.data());
  }
  set_per_value(state, x.size());
}

void BM_Relu(benchmark::State& state) {
  const Array<float> x = pre_activations<float>();
  Array<float> input = Array<float>::from_shape({128, 512});
  std::copy(x.data(), x.data() + input.size(), input.data());
  autodiff::no_grad scope;
  const V v(input);
  for (auto _ : state) {
    if (state.range(0) == 0) {
      Array<float> y = xt::where(input < 0.f, 0.f, input);
      benchmark::DoNotOptimize(y.data());
    } else {
      V y = autodiff::relu(v);
      benchmark::DoNotOptimize(y.value().data());
    }
  }
  set_per_value(state, input.size());
}

void BM_ReluBackward(benchmark::State& state) {
  const Array<float> values = pre_activations<float>();
  Array<float> x = Array<float>::from_shape({128, 512}), g = Array<float>::from_shape({128, 512});
  std::copy(values.data(), values.data() + x.size(), x.data());
  std::copy(values.data() + (values.size() - g.size()), values.data() + values.size(), g.data());  // the last 65536
  autodiff::no_grad scope;
  const V gv(g), xv(x);
  const xt::xarray<bool> mask = x > 0.f;
  Array<float> out = Array<float>::from_shape({128, 512});
  for (auto _ : state) {
    switch (state.range(0)) {
      case 0: {
        V y = autodiff::relu_backward(gv, xv);
        benchmark::DoNotOptimize(y.value().data());
        break;
      }
      case 1: {
        V y = autodiff::where(mask, gv, 0.f);
        benchmark::DoNotOptimize(y.value().data());
        break;
      }
      default: {
        const float* xs = x.data();
        const float* gs = g.data();
        float* o = out.data();
        for (std::size_t i = 0, n = out.size(); i < n; ++i) o[i] = xs[i] > 0.f ? gs[i] : 0.f;
        benchmark::DoNotOptimize(out.data());
      }
    }
  }
  set_per_value(state, x.size());
}

void BM_SgdUpdate(benchmark::State& state) {
  Array<float> w = xt::ones<float>({784, 512}), g = xt::ones<float>({784, 512});
  const float lr = 1e-6f;
  for (auto _ : state) {
    if (state.range(0) == 0) {
      xt::noalias(w) -= lr * g;
    } else {
      float* weights = w.data();
      const float* gradient = g.data();
      for (std::size_t k = 0, n = w.size(); k < n; ++k) weights[k] -= lr * gradient[k];
    }
    benchmark::DoNotOptimize(w.data());
  }
  set_per_value(state, w.size());
}

void BM_BatchedMatmul(benchmark::State& state) {
  const std::size_t batch = 16, m = 32, k = 64, n = 64;
  const int impl = int(state.range(0));
  const Shape x_shape = impl == 0 ? Shape{batch * m, k} : Shape{batch, m, k};
  const Shape w_shape = impl >= 2 ? Shape{batch, k, n} : Shape{k, n};
  V x(random(x_shape, 1), true), w(random(w_shape, 2), true);
  for (auto _ : state) {
    V y = impl == 3 ? autodiff::einsum("bij,bjk->bik", x, w) : autodiff::matmul(x, w);
    autodiff::sum(y).backward();
    benchmark::DoNotOptimize(w.grad().data());
    x.zero_grad();
    w.zero_grad();
  }
  set_per_value(state, batch * m * n);
}

void BM_Permute(benchmark::State& state) {
  const int impl = int(state.range(0));
  Array<float> x = xt::ones<float>(impl <= 1 ? Shape{256, 512} : Shape{16, 128, 64});
  const autodiff::no_grad scope;
  const V v(x);
  for (auto _ : state) {
    if (impl == 0) {
      V y = autodiff::transpose(v);
      benchmark::DoNotOptimize(y.value().data());
    } else if (impl == 1) {
      Array<float> y = xt::transpose(x);
      benchmark::DoNotOptimize(y.data());
    } else {
      V y = autodiff::permute(v, impl == 2 ? std::vector<long>{2, 0, 1} : std::vector<long>{1, 0, 2});
      benchmark::DoNotOptimize(y.value().data());
    }
  }
  set_per_value(state, x.size());
}

void chain_args(benchmark::internal::Benchmark* b) {
  for (int shape = 0; shape < 2; ++shape)
    for (int kind = 0; kind < 4; ++kind) b->Args({shape, kind});
  b->ArgNames({"shape", "kind"});
}

void BM_Conv2d(benchmark::State& state) {
  const int layer = int(state.range(0)), impl = int(state.range(1));
  // layers 0 and 1: LeNet's (without padding); 2: the MNIST example CNN's second convolution
  const std::size_t n = 64, c = layer == 0 ? 1 : layer == 1 ? 6 : 32, o = layer == 0 ? 6 : layer == 1 ? 16 : 64,
                    hw = layer == 0 ? 28 : layer == 1 ? 14 : 26, k = layer == 2 ? 3 : 5;
  const std::size_t out = hw - k + 1, cols = out * out, rows = c * k * k;
  const bool input_grad = layer >= 1;
  using autodiff::detail::ConvAlgorithm;
  autodiff::detail::set_conv_algorithm(impl == 3   ? ConvAlgorithm::im2col
                                       : impl == 4 ? ConvAlgorithm::direct
                                                   : ConvAlgorithm::automatic);
  if (impl == 0 || impl >= 3) {
    V x(random({n, c, hw, hw}, 1), input_grad), w(random({o, c, k, k}, 2), true), b(random({o}, 3), true);
    const Array<float> seed = random({n, o, out, out}, 4);
    for (auto _ : state) {
      V y = autodiff::conv2d(x, w, b);
      y.backward(seed);
      benchmark::DoNotOptimize(w.grad().data());
      w.zero_grad();
      b.zero_grad();
      if (input_grad) x.zero_grad();
    }
  } else {
    const std::size_t width = impl == 2 ? n * cols : cols;  // one product over the whole batch, or one per element
    const Array<float> w = random({o, rows}, 2), col = random({rows, width}, 1), g = random({o, width}, 4);
    Array<float> y = Array<float>::from_shape({o, width}), dw = Array<float>::from_shape({o, rows}),
                 dcol = Array<float>::from_shape({rows, width});
    // The im2col products: y = W col, dW (+)= g col^T, and dcol = W^T g when the input wants a gradient.
    const auto products = [&](float dw_beta) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(o), int(width), int(rows), 1.f, w.data(), int(rows),
                  col.data(), int(width), 0.f, y.data(), int(width));
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(o), int(rows), int(width), 1.f, g.data(), int(width),
                  col.data(), int(width), dw_beta, dw.data(), int(rows));
      if (input_grad)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(rows), int(width), int(o), 1.f, w.data(), int(rows),
                    g.data(), int(width), 0.f, dcol.data(), int(width));
    };
    for (auto _ : state) {
      if (impl == 2)
        products(0.f);
      else
        for (std::size_t i = 0; i < n; ++i) products(1.f);
      benchmark::DoNotOptimize(dw.data());
      benchmark::DoNotOptimize(dcol.data());
    }
  }
  autodiff::detail::set_conv_algorithm(ConvAlgorithm::automatic);
  state.SetLabel(layer == 0 ? "1->6 28x28 k5" : layer == 1 ? "6->16 14x14 k5" : "32->64 26x26 k3");
}

}  // namespace

BENCHMARK(BM_Record)->Apply(chain_args);
BENCHMARK(BM_NoGrad)->Apply(chain_args);
BENCHMARK(BM_ForwardBackward)->Apply(chain_args);
BENCHMARK(BM_RawXtensor)->Apply(chain_args);
BENCHMARK(BM_MakeNode);
BENCHMARK(BM_DefaultArray);
BENCHMARK(BM_Exp<double>)->DenseRange(0, 2)->ArgName("impl");
BENCHMARK(BM_Exp<float>)->DenseRange(0, 2)->ArgName("impl");
BENCHMARK(BM_Sigmoid<double>)->DenseRange(0, 2)->ArgName("impl");
BENCHMARK(BM_Sigmoid<float>)->DenseRange(0, 2)->ArgName("impl");
BENCHMARK(BM_Relu)->DenseRange(0, 1)->ArgName("impl");
BENCHMARK(BM_ReluBackward)->DenseRange(0, 2)->ArgName("impl");
BENCHMARK(BM_SgdUpdate)->DenseRange(0, 1)->ArgName("impl");
BENCHMARK(BM_BatchedMatmul)->DenseRange(0, 3)->ArgName("impl");
BENCHMARK(BM_Permute)->DenseRange(0, 3)->ArgName("impl");
BENCHMARK(BM_Conv2d)->ArgsProduct({{0, 1, 2}, {0, 1, 2, 3, 4}})->ArgNames({"layer", "impl"})->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
