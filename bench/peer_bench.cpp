// Peer benchmark: wengert against LibTorch (C++ API) and against a "GEMM floor"
// (plain OpenBLAS cblas_sgemm/dgemm calls, exactly the matrix products a
// training step must do), on the same data, shapes, dtype and thread count,
// in one process. Not a test; a program to run by hand (see bench/RESULTS.md).
//
// Workloads (float32 unless said):
//   1. tiny ops   a chain of 1000 elementwise ops (add, mul, tanh in turn) on
//                 1-element tensors; x requires a gradient, the constants do not.
//                 forward + backward, forward recording only, forward without grad.
//                 Reported in ns per op.
//   2. digits     64-50(sigmoid)-10, softmax cross-entropy (mean), batch 32:
//                 one SGD step (zero grads, forward, loss, backward, update),
//                 and forward+loss alone and forward+loss+backward (for the
//                 backward / forward ratio).
//   3. fashion    784-512(ReLU)-256(ReLU)-10, batch 128, the same three cases.
//   4. full batch the digits network on 1437 samples in float64: the gradient
//                 (zero grads, forward, loss, backward; no update). Also timed:
//                 "fused", the same gradient written by hand in the fewest
//                 passes over memory, a reference for what any implementation
//                 can reach here.
//   5. memory     (--memory wengert|torch, one framework per process, since RSS
//                 is per process): 10,000 fashion steps; VmRSS after step 100
//                 and after step 10,000, and the peak VmHWM.
//   6. hvp        second order (issue 10): the Hessian-vector product of the
//                 cross-entropy with respect to all parameters, H v for a fixed
//                 random v: wengert g = grad(loss, params, {.create_graph =
//                 true}), Hv = grad(g, params, {.grad_outputs = v}); LibTorch
//                 torch::autograd::grad with create_graph, then grad of the
//                 gradients with grad_outputs v (double backward). Also each
//                 framework's plain gradient (autodiff::grad, torch::autograd::grad),
//                 in the same rounds, for the HVP / gradient ratio. Both include
//                 the forward pass. "hvp": the digits network (64-50 sigmoid-10,
//                 batch 32); "hvp-large": 784-512(tanh)-256(tanh)-10, batch 128.
//   7. pinn       a physics-informed network for u' + u = 0, u(0) = 1 on [0, 2]:
//                 1-32(tanh)-32(tanh)-1 on 256 collocation points; u' = d sum(u)/dx
//                 by create_graph, loss = mean((u' + u)^2) + (u(0) - 1)^2, its
//                 gradient with respect to the weights (backward into them only)
//                 and an Adam step (lr 1e-3); also loss + gradient alone.
//   8-10. lenet, mnist-cnn, lstm (issue #13): CNN and LSTM training steps
//                 against LibTorch and their GEMM floors (see their section), at
//                 --threads 2 also LibTorch with fewer OpenBLAS threads ("torch O+B",
//                 O = --torch-omp N, LibTorch's OpenMP threads, default --threads: run once
//                 per N for all splits). --workload NAME runs one alone,
//                 and with --memory it picks the steps of the memory run.
//
// The GEMM floor of an L-layer MLP: forward a_l = a_{l-1} W_l for every layer;
// backward dW_l = a_{l-1}^T delta_l for every layer and delta_{l-1} = delta_l W_l^T
// for every layer but the first (nobody needs the input's gradient).
//
// Harness: each contender (framework x case) is calibrated so that one round of
// it takes about --round-ms; after a warm-up, each round runs every contender
// of a workload once (wengert / torch / floor, for all the workload's cases,
// the order rotating each round), so that noise hits all of them alike. The
// figure is the median over rounds of the time per iteration; "vs torch" and
// "vs floor" are ratios of medians, "paired" the median over rounds of the
// ratio within a round; "cpu/wall" is the process's CPU time over wall time in
// the timed rounds (below 1 at one thread: the process was descheduled or waited),
// "cpu median" the median over rounds of the process CPU time per iteration (at
// one thread and under load, closer to what a quiet machine would show).
//
// Threads: wengert's matrix products run on OpenBLAS (autodiff::set_num_threads);
// Debian's LibTorch calls the same OpenBLAS library for its GEMMs (libblas.so.3
// is OpenBLAS's interface on top of libopenblas.so.0) and uses OpenMP for its
// own kernels (torch::set_num_threads). Both are set to --threads.
//
//   OPENBLAS_NUM_THREADS=1 ./build/bench/peer_bench                 # workloads 1-4, 6, 7, 1 thread
//   OPENBLAS_NUM_THREADS=1 ./build/bench/peer_bench --threads 2
//   OPENBLAS_NUM_THREADS=1 ./build/bench/peer_bench --threads 2 --loaded --only fashion
//   OPENBLAS_NUM_THREADS=1 ./build/bench/peer_bench --memory wengert
//   OPENBLAS_NUM_THREADS=1 ./build/bench/peer_bench --memory torch
//   OPENBLAS_NUM_THREADS=1 ./build/bench/peer_bench --workload lstm [--threads 2]
//   OPENBLAS_NUM_THREADS=1 ./build/bench/peer_bench_wengert --memory wengert --workload lenet
//
// Flags: --threads N (1), --torch-omp N (LibTorch's OpenMP threads; --threads), --rounds R (15), --round-ms MS (50), --quick (few
// rounds and steps: a smoke check), --only LIST (comma-separated of tiny,
// digits, fashion, fullbatch, hvp, hvp-large, pinn, lenet, mnist-cnn, lstm), --workload NAME (one
// of those alone; with --memory, its steps instead of fashion's), --loaded (a child process busy-loops
// on one core while the workloads run), --memory FRAMEWORK, --steps N (memory steps, 10000).
// --profile 'CASE/FRAMEWORK' [--iterations N] (1000): after the checks, runs
// only that contender N times, untimed by the harness (for perf record and
// valgrind --tool=callgrind), e.g. --only hvp --profile 'hvp digits: hvp/wengert'.
// WENGERT_PEER_TORCH is 1 for peer_bench and 0 for peer_bench_wengert, the same
// program without LibTorch linked, so that --memory wengert can also be
// measured in a process that does not carry LibTorch's libraries.
#ifndef WENGERT_PEER_TORCH
#define WENGERT_PEER_TORCH 1
#endif
#if WENGERT_PEER_TORCH
#include <torch/torch.h>

#include <ATen/Parallel.h>
#endif
#include <cblas.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <autodiff/detail/vector_math.hpp>
#include <nn/nn.hpp>

namespace {

// ---- options ------------------------------------------------------------------

struct Options {
  int threads = 1;
  int torch_omp = 0;  // --torch-omp N: LibTorch's OpenMP threads (0: --threads)
  int rounds = 15;
  double round_ms = 50;
  bool quick = false;
  bool loaded = false;
  std::string memory;  // "wengert" or "torch": the memory run instead of the timed workloads
  long memory_steps = 10000;
  std::set<std::string> only;  // empty: all workloads
  std::string workload;        // --workload NAME: --only NAME, and the memory run's steps (default fashion)
  std::string profile;         // "case/framework": run only that contender, --iterations times, untimed
  long profile_iterations = 1000;
  bool runs(const std::string& workload) const { return only.empty() || only.count(workload) > 0; }
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "peer_bench: " << problem << "\n"
            << "usage: peer_bench [--threads N] [--torch-omp N] [--rounds R] [--round-ms MS] [--quick] [--loaded]\n"
            << "                  [--only tiny,digits,fashion,fullbatch,hvp,hvp-large,pinn,lenet,mnist-cnn,lstm]\n"
            << "                  [--workload NAME (one of those: --only NAME, and the steps of --memory)]\n"
            << "                  [--memory wengert|torch [--steps N]] [--profile 'CASE/FRAMEWORK' [--iterations N]]\n";
  std::exit(2);
}

bool known_workload(const std::string& w) {
  for (const char* name : {"tiny", "digits", "fashion", "fullbatch", "hvp", "hvp-large", "pinn", "lenet", "mnist-cnn",
                           "lstm"})
    if (w == name) return true;
  return false;
}

Options parse(int argc, char** argv) {
  Options o;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) usage(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  bool steps_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads") o.threads = std::stoi(value(i));
    else if (a == "--torch-omp") o.torch_omp = std::stoi(value(i));
    else if (a == "--rounds") o.rounds = std::stoi(value(i));
    else if (a == "--round-ms") o.round_ms = std::stod(value(i));
    else if (a == "--quick") o.quick = true;
    else if (a == "--loaded") o.loaded = true;
    else if (a == "--memory") o.memory = value(i);
    else if (a == "--steps") { o.memory_steps = std::stol(value(i)); steps_given = true; }
    else if (a == "--profile") o.profile = value(i);
    else if (a == "--iterations") o.profile_iterations = std::stol(value(i));
    else if (a == "--only") {
      std::stringstream list(value(i));
      for (std::string w; std::getline(list, w, ',');) {
        if (!known_workload(w)) usage("unknown workload " + w);
        o.only.insert(w);
      }
    } else if (a == "--workload") {
      o.workload = value(i);
      if (!known_workload(o.workload)) usage("unknown workload " + o.workload);
      o.only.insert(o.workload);
    } else usage("unknown argument " + a);
  }
  if (o.threads < 1 || o.rounds < 1 || o.round_ms <= 0) usage("threads, rounds and round-ms must be positive");
  if (o.torch_omp < 0) usage("--torch-omp must be positive");
  if (o.torch_omp == 0) o.torch_omp = o.threads;
  if (!o.memory.empty() && o.memory != "wengert" && o.memory != "torch") usage("--memory takes wengert or torch");
  if (o.quick) {
    o.rounds = std::min(o.rounds, 3);
    o.round_ms = std::min(o.round_ms, 5.0);
    if (!steps_given) o.memory_steps = 300;
  }
  if (o.memory_steps < 100) usage("--steps must be at least 100");
  if (!WENGERT_PEER_TORCH && o.memory != "wengert") usage("this build has no LibTorch: it runs only --memory wengert");
  return o;
}

// ---- process facts ----------------------------------------------------------

// A field of /proc/self/status in kB ("VmRSS", "VmHWM").
long status_kb(const std::string& field) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// A separate process spinning on one core for as long as this one runs
// (--loaded): the "another process is busy" condition.
pid_t spawn_busy_loop() {
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(1);
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    volatile unsigned long spins = 0;
    for (;;) spins = spins + 1;
  }
  return pid;
}

void set_threads(int threads, int torch_omp) {
  autodiff::set_num_threads(threads);  // OpenBLAS: wengert's and LibTorch's GEMMs, and the floor's
#if WENGERT_PEER_TORCH
  torch::set_num_threads(torch_omp);  // LibTorch's own kernels (OpenMP)
#else
  (void)torch_omp;
#endif
}

void print_threads() {
  std::printf("threads: wengert autodiff::num_threads() = %d (OpenBLAS, openblas_get_parallel() = %d: 1 = pthreads)",
              autodiff::num_threads(), openblas_get_parallel());
#if WENGERT_PEER_TORCH
  std::printf("; torch at::get_num_threads() = %d (OpenMP intra-op), at::get_num_interop_threads() = %d",
              at::get_num_threads(), at::get_num_interop_threads());
#endif
  std::printf("\nOpenBLAS: %s\n", openblas_get_config());
#if WENGERT_PEER_TORCH
  // The lines of LibTorch's build configuration that say which BLAS and threading it uses.
  std::istringstream config(at::show_config());
  for (std::string line; std::getline(config, line);)
    if (line.find("BLAS") != std::string::npos || line.find("OPENMP") != std::string::npos ||
        line.find("MKLDNN") != std::string::npos || line.find("LAPACK") != std::string::npos) {
      line.erase(0, line.find_first_not_of(" -"));
      std::printf("torch config: %s\n", line.c_str());
    }
#endif
}

// ---- harness ------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Contender {
  std::string name;       // the case, e.g. "digits: step"
  std::string framework;  // "wengert", "torch", "floor" or "fused" (a hand-written reference)
  std::function<void()> run;
};

struct Measured {
  std::string name, framework;
  std::vector<double> seconds;      // per iteration, one per round (wall clock)
  std::vector<double> cpu_seconds;  // per iteration, one per round (process CPU time, all threads)
  double cpu_total = 0, wall_total = 0;
  long iterations = 0;          // per round
  double median() const { return median_of(seconds); }
  double cpu_median() const { return median_of(cpu_seconds); }
  double min() const { return *std::min_element(seconds.begin(), seconds.end()); }
  double max() const { return *std::max_element(seconds.begin(), seconds.end()); }
};

// CPU time of the whole process (all its threads).
double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

double time_iterations(const std::function<void()>& run, long iterations, double* cpu_seconds = nullptr) {
  const double cpu_start = process_cpu_seconds();
  const auto start = Clock::now();
  for (long i = 0; i < iterations; ++i) run();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  if (cpu_seconds) *cpu_seconds = process_cpu_seconds() - cpu_start;
  return wall;
}

std::vector<Measured> measure(const std::vector<Contender>& contenders, const Options& o) {
  const double round_seconds = o.round_ms * 1e-3;
  std::vector<Measured> results(contenders.size());
  // Calibrate and warm up: double the iterations until a batch takes a quarter
  // round, then run one full round's worth untimed.
  for (std::size_t c = 0; c < contenders.size(); ++c) {
    results[c].name = contenders[c].name;
    results[c].framework = contenders[c].framework;
    long n = 1;
    double t = time_iterations(contenders[c].run, n);
    while (t < round_seconds / 4 && n < (1L << 24)) {
      n *= 2;
      t = time_iterations(contenders[c].run, n);
    }
    results[c].iterations = std::max(1L, std::lround(round_seconds / (t / double(n))));
    time_iterations(contenders[c].run, results[c].iterations);
  }
  for (int r = 0; r < o.rounds; ++r)
    for (std::size_t k = 0; k < contenders.size(); ++k) {
      const std::size_t c = (std::size_t(r) + k) % contenders.size();
      double cpu = 0;
      const double t = time_iterations(contenders[c].run, results[c].iterations, &cpu);
      results[c].seconds.push_back(t / double(results[c].iterations));
      results[c].cpu_seconds.push_back(cpu / double(results[c].iterations));
      results[c].cpu_total += cpu;
      results[c].wall_total += t;
    }
  return results;
}

const Measured* find(const std::vector<Measured>& results, const std::string& framework) {
  for (const auto& m : results)
    if (m.framework == framework) return &m;
  return nullptr;
}

// Median over rounds of a's time / b's time in the same round.
double paired_ratio(const Measured& a, const Measured& b) {
  std::vector<double> ratios;
  for (std::size_t r = 0; r < a.seconds.size() && r < b.seconds.size(); ++r)
    ratios.push_back(a.seconds[r] / b.seconds[r]);
  return median_of(ratios);
}

// One printed case: per_unit divides an iteration's time (e.g. 1000 ops), scale
// converts seconds into the unit (1e9 for ns, 1e6 for µs).
struct Unit {
  const char* name;
  double scale;
  double per_unit;
};

// Every measured case by name ("digits step"), for the summary against the targets.
struct Record {
  std::string name;
  std::vector<Measured> results;
  Unit unit;
};
std::vector<Record> records;

void print_header() {
  std::printf("  %-34s %-8s %11s %11s %11s %9s %7s %9s %7s %10s %5s  %s\n", "case", "who", "median", "min", "max",
              "vs torch", "paired", "vs floor", "paired", "cpu median", "cpu/wall", "it/round");
}

void report(const std::string& name, const std::vector<Measured>& results, Unit unit) {
  const Measured* torch = find(results, "torch");
  const Measured* floor = find(results, "floor");
  for (const auto& m : results) {
    const double k = unit.scale / unit.per_unit;
    std::printf("  %-34s %-8s %8.3f %-2s %8.3f %-2s %8.3f %-2s", name.c_str(), m.framework.c_str(), m.median() * k,
                unit.name, m.min() * k, unit.name, m.max() * k, unit.name);
    if (torch && &m != torch) std::printf(" %9.3f %7.3f", m.median() / torch->median(), paired_ratio(m, *torch));
    else std::printf(" %9s %7s", "", "");
    if (floor && &m != floor) std::printf(" %9.3f %7.3f", m.median() / floor->median(), paired_ratio(m, *floor));
    else std::printf(" %9s %7s", "", "");
    std::printf(" %10.3f %5.2f  %ld\n", m.cpu_median() * k, m.cpu_total / m.wall_total, m.iterations);
  }
  std::fflush(stdout);
  records.push_back({name, results, unit});
}

// Times all the contenders of several cases in the same rounds (so that the
// cases can be compared with each other too), then prints them case by case.
void run_cases(const std::vector<Contender>& contenders, Unit unit, const Options& o) {
  if (!o.profile.empty()) {  // for perf and callgrind: one contender in a loop, no harness
    for (const auto& c : contenders)
      if (c.name + "/" + c.framework == o.profile) {
        const auto start = Clock::now();
        for (long i = 0; i < o.profile_iterations; ++i) c.run();
        std::printf("  profile %s: %ld iterations, %.3f us each\n", o.profile.c_str(), o.profile_iterations,
                    1e6 * std::chrono::duration<double>(Clock::now() - start).count() / double(o.profile_iterations));
      }
    return;
  }
  const std::vector<Measured> all = measure(contenders, o);
  print_header();
  std::vector<std::string> names;
  for (const auto& m : all)
    if (std::find(names.begin(), names.end(), m.name) == names.end()) names.push_back(m.name);
  for (const auto& name : names) {
    std::vector<Measured> of_case;
    for (const auto& m : all)
      if (m.name == name) of_case.push_back(m);
    report(name, of_case, unit);
  }
}

const Record* record(const std::string& name) {
  for (const auto& r : records)
    if (r.name == name) return &r;
  return nullptr;
}

// Whatever the timed code computes ends up here, so nothing is optimised away.
double sink = 0;

int failures = 0;
void check(const std::string& what, double difference, double tolerance) {
  const bool ok = difference <= tolerance;
  std::printf("  check %-52s max |difference| = %.3g (tolerance %.1g) %s\n", what.c_str(), difference, tolerance,
              ok ? "OK" : "FAIL");
  if (!ok) ++failures;
}

// ---- workload 1: tiny ops -----------------------------------------------------
#if WENGERT_PEER_TORCH

constexpr int kChain = 1000;

void tiny_ops(const Options& o) {
  using V = autodiff::Variable<float>;
  using autodiff::Array;
  std::printf("\n== 1. tiny ops: a chain of %d ops (add, mul, tanh in turn) on shape (1,), float32 ==\n", kChain);
  // Constants near 1 keep the chain's values finite and away from 0 for 1000 steps.
  const float x0 = 0.5f, add_c0 = 0.01f, mul_c0 = 0.999f;

  V wx(Array<float>(autodiff::Shape{1}, x0), /*requires_grad=*/true);
  V wadd(Array<float>(autodiff::Shape{1}, add_c0)), wmul(Array<float>(autodiff::Shape{1}, mul_c0));
  auto wchain = [&] {
    V y = wx;
    for (int i = 0; i < kChain; ++i) {
      switch (i % 3) {
        case 0: y = y + wadd; break;
        case 1: y = y * wmul; break;
        default: y = autodiff::tanh(y); break;
      }
    }
    return y;
  };

  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  torch::Tensor tx = torch::full({1}, x0, f32).requires_grad_(true);
  torch::Tensor tadd = torch::full({1}, add_c0, f32), tmul = torch::full({1}, mul_c0, f32);
  auto tchain = [&] {
    torch::Tensor y = tx;
    for (int i = 0; i < kChain; ++i) {
      switch (i % 3) {
        case 0: y = y + tadd; break;
        case 1: y = y * tmul; break;
        default: y = torch::tanh(y); break;
      }
    }
    return y;
  };

  {  // the two frameworks compute the same value and gradient
    autodiff::Tape<float>::current().release();
    V wy = wchain();
    wy.backward();
    torch::Tensor ty = tchain();
    ty.backward();
    check("tiny ops: y", std::abs(double(wy.item()) - ty.item<double>()), 1e-5);
    check("tiny ops: dy/dx", std::abs(double(wx.grad()(0)) - tx.grad().item<double>()), 1e-4);
    wx.zero_grad();
    tx.mutable_grad() = torch::Tensor();
  }
  const Unit ns_per_op{"ns", 1e9, kChain};
  const std::string fb = "tiny: forward+backward", recording = "tiny: forward, recording",
                    nograd = "tiny: forward, no grad";
  run_cases({{fb, "wengert",
             [&] {
               V y = wchain();
               y.backward();
               sink += wx.grad()(0);
               wx.zero_grad();
             }},
            {fb, "torch",
             [&] {
               torch::Tensor y = tchain();
               y.backward();
               sink += tx.grad().data_ptr<float>()[0];
               tx.mutable_grad() = torch::Tensor();  // like wengert's zero_grad: forget the gradient
             }},
            {recording, "wengert",
             [&] {
               {
                 V y = wchain();
                 sink += y.value()(0);
               }
               autodiff::Tape<float>::current().release();
             }},
            {recording, "torch",
             [&] {
               torch::Tensor y = tchain();  // the graph goes when y does
               sink += y.data_ptr<float>()[0];
             }},
            {nograd, "wengert",
             [&] {
               autodiff::no_grad scope;
               V y = wchain();
               sink += y.value()(0);
             }},
            {nograd, "torch",
             [&] {
               torch::NoGradGuard scope;
               torch::Tensor y = tchain();
               sink += y.data_ptr<float>()[0];
             }}},
           ns_per_op, o);
}

#endif  // WENGERT_PEER_TORCH

// ---- MLP workloads: one data set, three implementations -----------------------

enum class Hidden { sigmoid, relu, tanh };

template <class T>
struct MlpData {
  std::vector<std::size_t> sizes;  // input, hidden..., output
  std::size_t batch;
  Hidden hidden;  // the hidden layers' activation
  std::vector<T> x;  // (batch, sizes[0]) row-major
  std::vector<std::size_t> labels;
  std::vector<std::vector<T>> weights;  // layer l: (sizes[l], sizes[l+1]) row-major, wengert's x W layout
  std::vector<std::vector<T>> biases;
};

template <class T>
MlpData<T> make_data(std::vector<std::size_t> sizes, std::size_t batch, Hidden hidden, unsigned seed) {
  std::mt19937 rng(seed);
  MlpData<T> d{std::move(sizes), batch, hidden, {}, {}, {}, {}};
  std::normal_distribution<T> normal(T(0), T(1));
  d.x.resize(batch * d.sizes.front());
  for (auto& v : d.x) v = normal(rng);
  std::uniform_int_distribution<std::size_t> label(0, d.sizes.back() - 1);
  for (std::size_t i = 0; i < batch; ++i) d.labels.push_back(label(rng));
  for (std::size_t l = 0; l + 1 < d.sizes.size(); ++l) {
    const std::size_t in = d.sizes[l], out = d.sizes[l + 1];
    const T a = std::sqrt(T(6) / T(in + out));  // Glorot uniform
    std::uniform_real_distribution<T> weight(-a, a), bias(T(-0.1), T(0.1));
    std::vector<T> w(in * out), b(out);
    for (auto& v : w) v = weight(rng);
    for (auto& v : b) v = bias(rng);
    d.weights.push_back(std::move(w));
    d.biases.push_back(std::move(b));
  }
  return d;
}

constexpr double kLearningRate = 0.01;

// wengert, the library's own path: nn::Sequential of nn::Linear, nn::cross_entropy, nn::SGD.
template <class T>
struct WengertMlp {
  nn::Sequential<T> model;
  std::vector<autodiff::Variable<T>> weights;  // handles on the layers' weights (same nodes)
  autodiff::Variable<T> x;
  nn::Labels labels;
  std::unique_ptr<nn::SGD<T>> optimizer;

  explicit WengertMlp(const MlpData<T>& d) : labels(d.labels) {
    auto array = [](const std::vector<T>& values, autodiff::Shape shape) {
      autodiff::Array<T> a = autodiff::Array<T>::from_shape(shape);
      std::copy(values.begin(), values.end(), a.data());
      return a;
    };
    const std::size_t layers = d.weights.size();
    for (std::size_t l = 0; l < layers; ++l) {
      nn::Linear<T> linear(d.sizes[l], d.sizes[l + 1]);
      linear.weight().data() = array(d.weights[l], {d.sizes[l], d.sizes[l + 1]});
      linear.bias().data() = array(d.biases[l], {d.sizes[l + 1]});
      weights.push_back(linear.weight());
      model.add(std::move(linear));
      if (l + 1 < layers) switch (d.hidden) {
          case Hidden::relu: model.add(nn::ReLU<T>()); break;
          case Hidden::tanh: model.add(nn::Tanh<T>()); break;
          default: model.add(nn::Sigmoid<T>()); break;
        }
    }
    x = autodiff::Variable<T>(array(d.x, {d.batch, d.sizes.front()}));
    optimizer = std::make_unique<nn::SGD<T>>(model.parameters(), kLearningRate);
  }
  autodiff::Variable<T> loss() { return nn::cross_entropy(model(x), labels); }
  void step() {
    optimizer->zero_grad();
    loss().backward();
    optimizer->step();
  }
  void forward() {  // forward + loss, recorded, graph dropped without a backward pass
    sink += double(loss().item());
    autodiff::Tape<T>::current().release();
  }
  void gradient() {  // forward + loss + backward, no update
    model.zero_grad();
    loss().backward();
  }
};

#if WENGERT_PEER_TORCH
// LibTorch: torch::nn::Sequential of torch::nn::Linear, F::cross_entropy, torch::optim::SGD.
template <class T>
struct TorchMlp {
  torch::nn::Sequential model;
  std::vector<torch::nn::Linear> linears;
  torch::Tensor x, labels;
  std::unique_ptr<torch::optim::SGD> optimizer;

  explicit TorchMlp(const MlpData<T>& d) {
    const auto dtype = std::is_same_v<T, float> ? torch::kFloat32 : torch::kFloat64;
    const std::size_t layers = d.weights.size();
    for (std::size_t l = 0; l < layers; ++l) {
      torch::nn::Linear linear(long(d.sizes[l]), long(d.sizes[l + 1]));
      linears.push_back(linear);
      model->push_back(linear);
      if (l + 1 < layers) switch (d.hidden) {
          case Hidden::relu: model->push_back(torch::nn::ReLU()); break;
          case Hidden::tanh: model->push_back(torch::nn::Tanh()); break;
          default: model->push_back(torch::nn::Sigmoid()); break;
        }
    }
    model->to(dtype);
    {
      torch::NoGradGuard no_grad;
      for (std::size_t l = 0; l < layers; ++l) {
        const long in = long(d.sizes[l]), out = long(d.sizes[l + 1]);
        // torch keeps W as (out, in) and computes x W^T + b: copy wengert's (in, out) transposed.
        linears[l]->weight.copy_(torch::from_blob(const_cast<T*>(d.weights[l].data()), {in, out}, dtype).t());
        linears[l]->bias.copy_(torch::from_blob(const_cast<T*>(d.biases[l].data()), {out}, dtype));
      }
    }
    x = torch::from_blob(const_cast<T*>(d.x.data()), {long(d.batch), long(d.sizes.front())}, dtype).clone();
    std::vector<int64_t> l64(d.labels.begin(), d.labels.end());
    labels = torch::from_blob(l64.data(), {long(l64.size())}, torch::kInt64).clone();
    optimizer = std::make_unique<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(kLearningRate));
  }
  torch::Tensor loss() { return torch::nn::functional::cross_entropy(model->forward(x), labels); }
  void step() {
    optimizer->zero_grad();
    loss().backward();
    optimizer->step();
  }
  void forward() {
    torch::Tensor l = loss();
    sink += double(l.data_ptr<T>()[0]);
  }
  void gradient() {
    model->zero_grad();
    loss().backward();
  }
};

#endif  // WENGERT_PEER_TORCH

void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float* a, int lda, const float* b,
          int ldb, float* c, int ldc, float beta = 0) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.f, a, lda, b, ldb, beta, c, ldc);
}
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const double* a, int lda, const double* b,
          int ldb, double* c, int ldc, double beta = 0) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

// The GEMMs of a training step and nothing else (no bias, activation, loss or update).
template <class T>
struct GemmFloor {
  std::vector<int> sizes;
  int batch;
  std::vector<std::vector<T>> a;      // a[0] = x, a[l] = layer l's output (batch, sizes[l])
  std::vector<std::vector<T>> w, dw;  // (sizes[l], sizes[l+1])
  std::vector<std::vector<T>> delta;  // delta[l] = dC/d(output of layer l+1), (batch, sizes[l+1])

  explicit GemmFloor(const MlpData<T>& d) : batch(int(d.batch)), w(d.weights) {
    for (auto s : d.sizes) sizes.push_back(int(s));
    const std::size_t layers = w.size();
    a.push_back(d.x);
    for (std::size_t l = 1; l <= layers; ++l) a.emplace_back(d.batch * d.sizes[l], T(0));
    std::mt19937 rng(7);
    std::normal_distribution<T> normal(T(0), T(0.01));
    for (std::size_t l = 0; l < layers; ++l) {
      dw.emplace_back(d.sizes[l] * d.sizes[l + 1], T(0));
      delta.emplace_back(d.batch * d.sizes[l + 1], T(0));
    }
    for (auto& v : delta.back()) v = normal(rng);  // the loss's gradient: any values of the right size
  }
  void forward() {
    for (std::size_t l = 0; l < w.size(); ++l)  // a_{l+1} = a_l W_l
      gemm(CblasNoTrans, CblasNoTrans, batch, sizes[l + 1], sizes[l], a[l].data(), sizes[l], w[l].data(),
           sizes[l + 1], a[l + 1].data(), sizes[l + 1]);
  }
  void backward() {
    for (std::size_t l = w.size(); l-- > 0;) {
      // dW_l = a_l^T delta_l
      gemm(CblasTrans, CblasNoTrans, sizes[l], sizes[l + 1], batch, a[l].data(), sizes[l], delta[l].data(),
           sizes[l + 1], dw[l].data(), sizes[l + 1]);
      // delta_{l-1} = delta_l W_l^T, except for the input
      if (l > 0)
        gemm(CblasNoTrans, CblasTrans, batch, sizes[l], sizes[l + 1], delta[l].data(), sizes[l + 1], w[l].data(),
             sizes[l + 1], delta[l - 1].data(), sizes[l]);
    }
  }
  void step() {
    forward();
    backward();
    sink += double(dw[0][0]);
  }
};

// A reference, not a framework: the full-batch gradient of a one-hidden-layer
// sigmoid network written by hand in the fewest passes over memory (GEMMs
// into preset bias rows, the sigmoid in place, softmax, loss and its gradient
// in one row loop, the sigmoid's derivative fused with the bias gradient), with
// wengert's vectorised sigmoid and exp. It shows how close to the floor any
// implementation of this case can come on this machine.
template <class T>
struct HandFused {
  int batch, in, hidden, out;
  std::vector<T> x, w1, b1, w2, b2, z1, z2, dz1, dz2, dw1, db1, dw2, db2;
  std::vector<std::size_t> labels;
  T loss = 0;

  explicit HandFused(const MlpData<T>& d)
      : batch(int(d.batch)), in(int(d.sizes[0])), hidden(int(d.sizes[1])), out(int(d.sizes[2])), x(d.x),
        w1(d.weights[0]), b1(d.biases[0]), w2(d.weights[1]), b2(d.biases[1]), z1(d.batch * d.sizes[1]),
        z2(d.batch * d.sizes[2]), dz1(z1.size()), dz2(z2.size()), dw1(w1.size()), db1(b1.size()), dw2(w2.size()),
        db2(b2.size()), labels(d.labels) {}
  static void fill_rows(std::vector<T>& z, const std::vector<T>& bias) {
    for (std::size_t i = 0; i < z.size(); i += bias.size()) std::copy(bias.begin(), bias.end(), z.begin() + long(i));
  }
  static void column_sums(const std::vector<T>& g, std::vector<T>& sums) {
    std::fill(sums.begin(), sums.end(), T(0));
    for (std::size_t i = 0; i < g.size(); i += sums.size())
      for (std::size_t j = 0; j < sums.size(); ++j) sums[j] += g[i + j];
  }
  void gradient() {
    fill_rows(z1, b1);  // z1 = x w1 + b1, then a1 = sigmoid(z1) in place
    gemm(CblasNoTrans, CblasNoTrans, batch, hidden, in, x.data(), in, w1.data(), hidden, z1.data(), hidden, T(1));
    autodiff::detail::sigmoid_of(z1.data(), z1.data(), z1.size());
    fill_rows(z2, b2);  // z2 = a1 w2 + b2
    gemm(CblasNoTrans, CblasNoTrans, batch, out, hidden, z1.data(), hidden, w2.data(), out, z2.data(), out, T(1));
    // loss = mean of log sum e^z2 - z2[label]; dz2 = (softmax(z2) - onehot) / batch
    for (int r = 0; r < batch; ++r) {
      T* z = z2.data() + r * out;
      T* e = dz2.data() + r * out;
      const T m = *std::max_element(z, z + out);
      for (int j = 0; j < out; ++j) e[j] = z[j] - m;
    }
    autodiff::detail::exp_of(dz2.data(), dz2.data(), dz2.size());
    loss = 0;
    for (int r = 0; r < batch; ++r) {
      T* e = dz2.data() + r * out;
      const T sum = std::accumulate(e, e + out, T(0));
      const T* z = z2.data() + r * out;
      loss += std::log(sum) + *std::max_element(z, z + out) - z[labels[std::size_t(r)]];
      for (int j = 0; j < out; ++j) e[j] /= sum * T(batch);
      e[labels[std::size_t(r)]] -= T(1) / T(batch);
    }
    loss /= T(batch);
    // backward: dw2 = a1^T dz2, db2, da1 = dz2 w2^T, dz1 = da1 a1 (1 - a1), db1, dw1 = x^T dz1
    gemm(CblasTrans, CblasNoTrans, hidden, out, batch, z1.data(), hidden, dz2.data(), out, dw2.data(), out, T(0));
    column_sums(dz2, db2);
    gemm(CblasNoTrans, CblasTrans, batch, hidden, out, dz2.data(), out, w2.data(), out, dz1.data(), hidden, T(0));
    std::fill(db1.begin(), db1.end(), T(0));
    for (std::size_t i = 0; i < dz1.size(); i += db1.size())
      for (std::size_t j = 0; j < db1.size(); ++j) {
        const T a = z1[i + j];
        db1[j] += dz1[i + j] *= a * (T(1) - a);
      }
    gemm(CblasTrans, CblasNoTrans, in, hidden, batch, x.data(), in, dz1.data(), hidden, dw1.data(), hidden, T(0));
    sink += double(loss);
  }
};

// max |a[i] - b[i]| over n values.
template <class T>
double max_abs_difference(const T* a, const T* b, std::size_t n) {
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
  return worst;
}

#if WENGERT_PEER_TORCH
// The first layer's weight gradient, and weight, of both frameworks, in wengert's (in, out) layout.
template <class T>
double max_weight_grad_difference(WengertMlp<T>& w, TorchMlp<T>& t) {
  const auto& wg = w.weights[0].grad();
  torch::Tensor tg = t.linears[0]->weight.grad().t().contiguous();
  return max_abs_difference(wg.data(), tg.data_ptr<T>(), wg.size());
}
template <class T>
double max_weight_difference(WengertMlp<T>& w, TorchMlp<T>& t) {
  const auto& wv = w.weights[0].value();
  torch::Tensor tv = t.linears[0]->weight.detach().t().contiguous();
  return max_abs_difference(wv.data(), tv.data_ptr<T>(), wv.size());
}

// Loss, gradient and one SGD update agree between the frameworks, from the same weights.
template <class T>
void check_agreement(const std::string& name, WengertMlp<T>& w, TorchMlp<T>& t, bool update) {
  const double tolerance = std::is_same_v<T, float> ? 1e-4 : 1e-10;
  const double wl = double(w.loss().item());
  autodiff::Tape<T>::current().release();
  const double tl = t.loss().template item<double>();
  check(name + ": initial loss", std::abs(wl - tl), tolerance);
  w.gradient();
  t.gradient();
  check(name + ": first layer's dC/dW", max_weight_grad_difference(w, t), tolerance);
  if (update) {
    w.step();
    t.step();
    check(name + ": first layer's W after one SGD step", max_weight_difference(w, t), tolerance);
  }
}

#endif  // WENGERT_PEER_TORCH

struct MlpTimes {
  std::string name;
  std::string full_case;     // "step" or "gradient": the case the floor's target is about
  std::string forward_case;  // forward + loss
  std::string backward_case; // forward + loss + backward
};
std::vector<MlpTimes> mlp_workloads;

// One entry per HVP workload, for the summary.
struct HvpTimes {
  std::string name;
  double hvp_target_vs_torch;
};
std::vector<HvpTimes> hvp_workloads;

#if WENGERT_PEER_TORCH
template <class T>
void mlp_workload(const std::string& name, const std::string& title, const MlpData<T>& data, bool full_step,
                  const Options& o, bool hand_fused = false) {
  std::printf("\n== %s ==\n", title.c_str());
  WengertMlp<T> w(data);
  TorchMlp<T> t(data);
  GemmFloor<T> f(data);
  check_agreement(name, w, t, full_step);
  std::unique_ptr<HandFused<T>> fused;
  if (hand_fused) {
    fused = std::make_unique<HandFused<T>>(data);
    fused->gradient();
    const auto& wg = w.weights[0].grad();
    check(name + ": the hand-fused reference's dC/dW (first layer)",
          max_abs_difference(wg.data(), fused->dw1.data(), wg.size()), 1e-12);
  }
  MlpTimes times{name, name + ": step", name + ": forward+loss", name + ": forward+loss+backward"};
  std::vector<Contender> contenders;
  if (full_step)
    contenders = {{times.full_case, "wengert", [&] { w.step(); }},
                  {times.full_case, "torch", [&] { t.step(); }},
                  {times.full_case, "floor", [&] { f.step(); }}};
  else
    times.full_case = times.backward_case;
  // The floor's forward+loss+backward runs the same GEMMs as its step: with a
  // step case it is timed twice, which shows how much identical code varies.
  contenders.insert(contenders.end(), {{times.forward_case, "wengert", [&] { w.forward(); }},
                                       {times.forward_case, "torch", [&] { t.forward(); }},
                                       {times.forward_case, "floor", [&] { f.forward(); }},
                                       {times.backward_case, "wengert", [&] { w.gradient(); }},
                                       {times.backward_case, "torch", [&] { t.gradient(); }},
                                       {times.backward_case, "floor", [&] { f.step(); }}});
  if (fused) contenders.push_back({times.backward_case, "fused", [&] { fused->gradient(); }});
  run_cases(contenders, Unit{"us", 1e6, 1}, o);
  mlp_workloads.push_back(times);
}

#endif  // WENGERT_PEER_TORCH

// ---- workloads 6 and 7: second order (issue 10) ---------------------------------
#if WENGERT_PEER_TORCH

// A fixed direction v for a Hessian-vector product, one array per parameter in
// wengert's layout and order (layer by layer: weight (in, out), bias (out)).
template <class T>
struct Direction {
  std::vector<std::vector<T>> weights, biases;
};

template <class T>
Direction<T> make_direction(const MlpData<T>& d, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<T> normal(T(0), T(1));
  Direction<T> v;
  for (std::size_t l = 0; l < d.weights.size(); ++l) {
    v.weights.emplace_back(d.weights[l].size());
    v.biases.emplace_back(d.biases[l].size());
    for (auto& x : v.weights.back()) x = normal(rng);
    for (auto& x : v.biases.back()) x = normal(rng);
  }
  return v;
}

template <class T>
autodiff::Array<T> array_of(const std::vector<T>& values, const autodiff::Shape& shape) {
  autodiff::Array<T> a = autodiff::Array<T>::from_shape(shape);
  std::copy(values.begin(), values.end(), a.data());
  return a;
}

// wengert's Hessian-vector product of the loss with respect to all parameters:
// g = grad(loss, params, create_graph), Hv = grad(g, params, grad_outputs = v).
template <class T>
struct WengertHvp {
  WengertMlp<T> net;
  std::vector<autodiff::Variable<T>> params, v;

  WengertHvp(const MlpData<T>& d, const Direction<T>& direction) : net(d), params(net.model.parameters()) {
    for (std::size_t l = 0; l < d.weights.size(); ++l) {
      v.emplace_back(array_of(direction.weights[l], {d.sizes[l], d.sizes[l + 1]}));
      v.emplace_back(array_of(direction.biases[l], {d.sizes[l + 1]}));
    }
    for (std::size_t i = 0; i < params.size(); ++i)
      if (params[i].shape() != v[i].shape()) throw std::logic_error("WengertHvp: parameters not in layer order");
  }
  std::vector<autodiff::Variable<T>> gradient() { return autodiff::grad(net.loss(), params); }
  std::vector<autodiff::Variable<T>> hvp() {
    const std::vector<autodiff::Variable<T>> g = autodiff::grad(net.loss(), params, {.create_graph = true});
    return autodiff::grad(g, params, {.grad_outputs = v});
  }
};

// LibTorch's double-backward Hessian-vector product, the way PyTorch users write it.
template <class T>
struct TorchHvp {
  TorchMlp<T> net;
  std::vector<torch::Tensor> params, v;

  TorchHvp(const MlpData<T>& d, const Direction<T>& direction) : net(d), params(net.model->parameters()) {
    const auto dtype = std::is_same_v<T, float> ? torch::kFloat32 : torch::kFloat64;
    for (std::size_t l = 0; l < d.weights.size(); ++l) {
      const long in = long(d.sizes[l]), out = long(d.sizes[l + 1]);
      v.push_back(torch::from_blob(const_cast<T*>(direction.weights[l].data()), {in, out}, dtype).t().contiguous());
      v.push_back(torch::from_blob(const_cast<T*>(direction.biases[l].data()), {out}, dtype).clone());
    }
    for (std::size_t i = 0; i < params.size(); ++i)
      if (params[i].sizes() != v[i].sizes()) throw std::logic_error("TorchHvp: parameters not in layer order");
  }
  std::vector<torch::Tensor> gradient() { return torch::autograd::grad({net.loss()}, params); }
  std::vector<torch::Tensor> hvp() {
    const std::vector<torch::Tensor> g =
        torch::autograd::grad({net.loss()}, params, {}, /*retain_graph=*/true, /*create_graph=*/true);
    return torch::autograd::grad(g, params, v);
  }
};

// max |a - b| over every parameter (wengert's weights (in, out), torch's (out, in)),
// and the largest |a| (the scale of the values compared).
template <class T>
std::pair<double, double> max_parameter_difference(const std::vector<autodiff::Variable<T>>& a,
                                                   const std::vector<torch::Tensor>& b) {
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const torch::Tensor bi = (b[i].dim() == 2 ? b[i].t() : b[i]).contiguous();
    const auto& ai = a[i].value();
    worst = std::max(worst, max_abs_difference(ai.data(), bi.data_ptr<T>(), ai.size()));
    for (std::size_t k = 0; k < ai.size(); ++k) scale = std::max(scale, std::abs(double(ai.data()[k])));
  }
  return {worst, scale};
}

template <class T>
void hvp_workload(const std::string& name, const std::string& title, const MlpData<T>& data, double target_vs_torch,
                  const Options& o) {
  std::printf("\n== %s ==\n", title.c_str());
  const Direction<T> direction = make_direction(data, 11);
  WengertHvp<T> w(data, direction);
  TorchHvp<T> t(data, direction);
  const double tolerance = 1e-4;
  {
    const auto [dg, gscale] = max_parameter_difference(w.gradient(), t.gradient());
    check(name + ": dC/dtheta, all parameters (max |g| " + std::to_string(gscale).substr(0, 6) + ")", dg, tolerance);
    const auto [dh, hscale] = max_parameter_difference(w.hvp(), t.hvp());
    check(name + ": H v, all parameters (max |Hv| " + std::to_string(hscale).substr(0, 6) + ")", dh,
          tolerance * std::max(1.0, hscale));
  }
  const std::string gradient = name + ": gradient", hvp = name + ": hvp";
  run_cases({{gradient, "wengert",
              [&] {
                const auto g = w.gradient();
                sink += double(g[0].value().data()[0]);
              }},
             {gradient, "torch",
              [&] {
                const auto g = t.gradient();
                sink += double(g[0].template data_ptr<T>()[0]);
              }},
             {hvp, "wengert",
              [&] {
                const auto hv = w.hvp();
                sink += double(hv[0].value().data()[0]);
              }},
             {hvp, "torch",
              [&] {
                const auto hv = t.hvp();
                sink += double(hv[0].template data_ptr<T>()[0]);
              }}},
            Unit{"us", 1e6, 1}, o);
  hvp_workloads.push_back({name, target_vs_torch});
}

// A physics-informed network for u' + u = 0 on [0, 2] with u(0) = 1 (examples/pinn):
// the loss needs du/dx by create_graph, then its gradient with respect to the
// weights, then an Adam step. The collocation points are a grid with x_0 = 0, so
// u(0) is the first row of u.
constexpr double kAdamRate = 1e-3;

template <class T>
MlpData<T> make_pinn_data(std::size_t points, unsigned seed) {
  MlpData<T> d = make_data<T>({1, 32, 32, 1}, points, Hidden::tanh, seed);
  for (std::size_t i = 0; i < points; ++i) d.x[i] = T(2) * T(i) / T(points - 1);
  return d;
}

template <class T>
struct WengertPinn {
  using V = autodiff::Variable<T>;
  WengertMlp<T> net;
  std::vector<V> params;
  V x;  // the collocation points (points, 1), requiring a gradient
  std::unique_ptr<nn::Adam<T>> adam;

  explicit WengertPinn(const MlpData<T>& d) : net(d), params(net.model.parameters()), x(net.x.value(), true) {
    adam = std::make_unique<nn::Adam<T>>(params, kAdamRate);
  }
  V loss(V* du_out = nullptr) {
    const V u = net.model(x);
    const V du = autodiff::grad(autodiff::sum(u), x, {.create_graph = true});
    if (du_out) *du_out = du;
    const V u0 = autodiff::slice(u, 0, 0, 1);
    return autodiff::mean(autodiff::square(du + u)) + autodiff::sum(autodiff::square(u0 - T(1)));
  }
  void gradient() {
    adam->zero_grad();
    const V l = loss();
    l.backward({.inputs = params});
    sink += double(l.item());
  }
  void step() {
    gradient();
    adam->step();
  }
};

template <class T>
struct TorchPinn {
  TorchMlp<T> net;
  std::vector<torch::Tensor> params;
  torch::Tensor x;
  std::unique_ptr<torch::optim::Adam> adam;

  explicit TorchPinn(const MlpData<T>& d)
      : net(d), params(net.model->parameters()), x(net.x.clone().requires_grad_(true)) {
    adam = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(kAdamRate));
  }
  torch::Tensor loss(torch::Tensor* du_out = nullptr) {
    const torch::Tensor u = net.model->forward(x);
    const torch::Tensor du =
        torch::autograd::grad({u.sum()}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
    if (du_out) *du_out = du;
    const torch::Tensor u0 = u.slice(0, 0, 1);
    return (du + u).square().mean() + (u0 - 1).square().sum();
  }
  void gradient() {
    adam->zero_grad();
    const torch::Tensor l = loss();
    l.backward({}, c10::nullopt, false, params);  // into the weights only, like wengert's .inputs
    sink += double(l.data_ptr<T>()[0]);
  }
  void step() {
    gradient();
    adam->step();
  }
};

void pinn_workload(const Options& o) {
  using T = float;
  std::printf("\n== 7. PINN step: u' + u = 0 on [0, 2], u(0) = 1; 1-32-32-1 tanh, 256 collocation points, "
              "u' by create_graph, Adam, float32 ==\n");
  const MlpData<T> data = make_pinn_data<T>(256, 5);
  WengertPinn<T> w(data);
  TorchPinn<T> t(data);
  {
    const double tolerance = 1e-4;
    autodiff::Variable<T> wdu;
    torch::Tensor tdu;
    const double wl = double(w.loss(&wdu).item());
    const double tl = t.loss(&tdu).template item<double>();
    check("pinn: initial loss", std::abs(wl - tl), tolerance);
    check("pinn: du/dx at the 256 points",
          max_abs_difference(wdu.value().data(), tdu.contiguous().data_ptr<T>(), wdu.size()), tolerance);
    wdu = {};
    tdu = torch::Tensor();
    w.step();
    t.step();
    const auto& wg = w.params[0].grad();
    const torch::Tensor tg = t.params[0].grad().t().contiguous();
    check("pinn: first layer's dLoss/dW", max_abs_difference(wg.data(), tg.data_ptr<T>(), wg.size()), tolerance);
    const auto& wv = w.params[2].value();
    const torch::Tensor tv = t.params[2].detach().t().contiguous();
    check("pinn: second layer's W after one Adam step", max_abs_difference(wv.data(), tv.data_ptr<T>(), wv.size()),
          tolerance);
  }
  run_cases({{"pinn: step", "wengert", [&] { w.step(); }},
             {"pinn: step", "torch", [&] { t.step(); }},
             {"pinn: loss+gradient", "wengert", [&] { w.gradient(); }},
             {"pinn: loss+gradient", "torch", [&] { t.gradient(); }}},
            Unit{"us", 1e6, 1}, o);
}

#endif  // WENGERT_PEER_TORCH

// ---- workloads 8-10: CNN and LSTM training steps (issue #13) -----------------------
//
// Each a full SGD step (zero grads, forward, cross-entropy, backward, update) on
// batch data made here, the same weights in both frameworks (wengert's initial
// weights copied into LibTorch's modules), float32:
//   lenet      LeNet-5 with ReLU, batch 64, 1x28x28: conv 1->6 k5 padding 2 (28x28),
//              ReLU, max-pool 2 (14x14), conv 6->16 k5 (10x10), ReLU, max-pool 2 (5x5),
//              flatten 400, dense 400-120, ReLU, 120-84, ReLU, 84-10.
//   mnist-cnn  the PyTorch MNIST example's CNN without its dropout, batch 64: conv
//              1->32 k3 (26x26), ReLU, conv 32->64 k3 (24x24), ReLU, max-pool 2
//              (12x12), flatten 9216, dense 9216-128, ReLU, 128-10.
//   lstm       nn::LSTM / torch::nn::LSTM (batch_first) input 32, hidden 128, 32
//              steps, batch 32; dense 128-10 on the last step's h.
// The GEMM floor of each: the products the step needs, as plain cblas_sgemm calls
// (GemmList below). Convolutions as im2col products, one per batch element
// (forward W col, weight gradient g col^T, input gradient W^T g for all but the
// first layer), on buffers made beforehand and reused by every element (so the
// floor is the products alone, from cache); the LSTM's input projection as one
// product over all steps (as LibTorch does it on CPU), its recurrent products step by step.

enum class Net { lenet, mnist_cnn, lstm };

struct NetSpec {
  Net net;
  std::string name;   // for --only / --workload, and the case "NAME: step"
  std::string title;
  autodiff::Shape input;
};

const std::vector<NetSpec>& net_specs() {
  static const std::vector<NetSpec> specs = {
      {Net::lenet, "lenet",
       "8. LeNet-5 step: conv 6 k5 pad 2, pool, conv 16 k5, pool, dense 400-120-84-10 (ReLU), batch 64, float32, SGD",
       {64, 1, 28, 28}},
      {Net::mnist_cnn, "mnist-cnn",
       "9. MNIST-example CNN step: conv 32 k3, conv 64 k3, max-pool 2, dense 9216-128-10 (ReLU, no dropout), "
       "batch 64, float32, SGD",
       {64, 1, 28, 28}},
      {Net::lstm, "lstm",
       "10. LSTM step: input 32, hidden 128, 32 steps, batch 32, dense 128-10 on the last h, cross-entropy, float32, SGD",
       {32, 32, 32}},
  };
  return specs;
}

const NetSpec* net_spec(const std::string& name) {
  for (const auto& s : net_specs())
    if (s.name == name) return &s;
  return nullptr;
}

struct NetData {
  std::vector<float> x;  // spec.input, row-major
  std::vector<std::size_t> labels;
};

NetData make_net_data(const NetSpec& spec, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  NetData d;
  std::size_t n = 1;
  for (auto s : spec.input) n *= s;
  d.x.resize(n);
  for (auto& v : d.x) v = normal(rng);
  std::uniform_int_distribution<std::size_t> label(0, 9);
  for (std::size_t i = 0; i < spec.input[0]; ++i) d.labels.push_back(label(rng));
  return d;
}

// wengert, the library's own layers: nn::Sequential, nn::cross_entropy, nn::SGD.
struct WengertNet {
  using T = float;
  nn::Sequential<T> model;
  autodiff::Variable<T> x;
  nn::Labels labels;
  std::unique_ptr<nn::SGD<T>> optimizer;

  WengertNet(const NetSpec& spec, const NetData& d) : labels(d.labels) {
    switch (spec.net) {
      case Net::lenet:
        model.add(nn::Conv2d<T>(1, 6, 5, 1, 2)).add(nn::ReLU<T>()).add(nn::MaxPool2d<T>(2));
        model.add(nn::Conv2d<T>(6, 16, 5)).add(nn::ReLU<T>()).add(nn::MaxPool2d<T>(2)).add(nn::Flatten<T>());
        model.add(nn::Linear<T>(400, 120)).add(nn::ReLU<T>()).add(nn::Linear<T>(120, 84)).add(nn::ReLU<T>());
        model.add(nn::Linear<T>(84, 10));
        break;
      case Net::mnist_cnn:
        model.add(nn::Conv2d<T>(1, 32, 3)).add(nn::ReLU<T>()).add(nn::Conv2d<T>(32, 64, 3)).add(nn::ReLU<T>());
        model.add(nn::MaxPool2d<T>(2)).add(nn::Flatten<T>());
        model.add(nn::Linear<T>(9216, 128)).add(nn::ReLU<T>()).add(nn::Linear<T>(128, 10));
        break;
      case Net::lstm:
        model.add(nn::LSTM<T>(32, 128));
        model.add(nn::Activation<T>("last step", [](const autodiff::Variable<T>& out) {  // (batch, time, hidden)
          const autodiff::Shape& s = out.shape();
          return autodiff::reshape(autodiff::slice(out, 1, long(s[1]) - 1, long(s[1])), {s[0], s[2]});
        }));
        model.add(nn::Linear<T>(128, 10));
        break;
    }
    autodiff::Array<T> input = autodiff::Array<T>::from_shape(spec.input);
    std::copy(d.x.begin(), d.x.end(), input.data());
    x = autodiff::Variable<T>(std::move(input));
    optimizer = std::make_unique<nn::SGD<T>>(model.parameters(), kLearningRate);
  }
  autodiff::Variable<T> loss() { return nn::cross_entropy(model(x), labels); }
  void step() {
    optimizer->zero_grad();
    loss().backward();
    optimizer->step();
  }
};

// One cblas_sgemm shape of a step's products, done `repeat` times (per batch element or per time step).
struct Product {
  CBLAS_TRANSPOSE ta, tb;
  int m, n, k;
  int repeat;
  float beta;  // 1 where the products accumulate (weight gradients over a batch or over time)
};

// The GEMM floor of a step: its products on buffers made beforehand.
struct GemmList {
  std::vector<Product> products;
  std::vector<std::vector<float>> a, b, c;

  explicit GemmList(std::vector<Product> list) : products(std::move(list)) {
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.f, 0.1f);
    auto random = [&](std::size_t size) {
      std::vector<float> v(size);
      for (auto& x : v) x = normal(rng);
      return v;
    };
    for (const auto& p : products) {
      a.push_back(random(std::size_t(p.m) * std::size_t(p.k)));
      b.push_back(random(std::size_t(p.k) * std::size_t(p.n)));
      c.push_back(random(std::size_t(p.m) * std::size_t(p.n)));
    }
  }
  void step() {
    for (std::size_t i = 0; i < products.size(); ++i) {
      const Product& p = products[i];
      const int lda = p.ta == CblasNoTrans ? p.k : p.m, ldb = p.tb == CblasNoTrans ? p.n : p.k;
      for (int r = 0; r < p.repeat; ++r)
        gemm(p.ta, p.tb, p.m, p.n, p.k, a[i].data(), lda, b[i].data(), ldb, c[i].data(), p.n, p.beta);
    }
    sink += double(c.back()[0]);
  }
  // The products of a convolution over a batch: o output channels, rows = c kh kw, cols = ho wo.
  static void conv(std::vector<Product>& list, int batch, int o, int rows, int cols, bool input_grad) {
    list.push_back({CblasNoTrans, CblasNoTrans, o, cols, rows, batch, 0.f});   // y = W col
    list.push_back({CblasNoTrans, CblasTrans, o, rows, cols, batch, 1.f});     // dW += g col^T
    if (input_grad) list.push_back({CblasTrans, CblasNoTrans, rows, cols, o, batch, 0.f});  // dcol = W^T g
  }
  // Dense layers sizes[0] -> ... -> sizes.back() on a batch, the input's gradient wanted (it comes from a conv).
  static void dense(std::vector<Product>& list, int batch, const std::vector<int>& sizes) {
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      const int in = sizes[l], out = sizes[l + 1];
      list.push_back({CblasNoTrans, CblasNoTrans, batch, out, in, 1, 0.f});  // a W
      list.push_back({CblasTrans, CblasNoTrans, in, out, batch, 1, 0.f});    // dW = a^T delta
      list.push_back({CblasNoTrans, CblasTrans, batch, in, out, 1, 0.f});    // delta W^T
    }
  }
  static GemmList of(Net net) {
    std::vector<Product> list;
    switch (net) {
      case Net::lenet:
        conv(list, 64, 6, 1 * 5 * 5, 28 * 28, false);
        conv(list, 64, 16, 6 * 5 * 5, 10 * 10, true);
        dense(list, 64, {400, 120, 84, 10});
        break;
      case Net::mnist_cnn:
        conv(list, 64, 32, 1 * 3 * 3, 26 * 26, false);
        conv(list, 64, 64, 32 * 3 * 3, 24 * 24, true);
        dense(list, 64, {9216, 128, 10});
        break;
      case Net::lstm: {
        const int batch = 32, steps = 32, in = 32, hidden = 128, gates = 4 * hidden;
        list.push_back({CblasNoTrans, CblasTrans, batch * steps, gates, in, 1, 0.f});   // X W_ih^T, all steps
        list.push_back({CblasNoTrans, CblasTrans, batch, gates, hidden, steps, 1.f});   // + h W_hh^T, per step
        list.push_back({CblasTrans, CblasNoTrans, gates, hidden, batch, steps, 1.f});   // dW_hh += dG^T h
        list.push_back({CblasNoTrans, CblasNoTrans, batch, hidden, gates, steps, 0.f}); // dh = dG W_hh
        list.push_back({CblasTrans, CblasNoTrans, gates, in, batch * steps, 1, 0.f});   // dW_ih = dG^T X
        list.push_back({CblasNoTrans, CblasNoTrans, batch, 10, hidden, 1, 0.f});        // head: h W
        list.push_back({CblasTrans, CblasNoTrans, hidden, 10, batch, 1, 0.f});          // dW = h^T delta
        list.push_back({CblasNoTrans, CblasTrans, batch, hidden, 10, 1, 0.f});          // dh = delta W^T
        break;
      }
    }
    return GemmList(std::move(list));
  }
};

#if WENGERT_PEER_TORCH
// LibTorch: the same layers as torch::nn modules, F::cross_entropy, torch::optim::SGD.
struct TorchNet {
  torch::nn::Sequential model;              // the CNNs
  torch::nn::LSTM lstm{nullptr};            // the LSTM workload: lstm, then head on the last step
  torch::nn::Linear head{nullptr};
  std::vector<torch::Tensor> params;
  torch::Tensor x, labels;
  std::unique_ptr<torch::optim::SGD> optimizer;

  TorchNet(const NetSpec& spec, const NetData& d, const WengertNet& w) {
    namespace tnn = torch::nn;
    switch (spec.net) {
      case Net::lenet:
        model->push_back(tnn::Conv2d(tnn::Conv2dOptions(1, 6, 5).padding(2)));
        model->push_back(tnn::ReLU());
        model->push_back(tnn::MaxPool2d(tnn::MaxPool2dOptions(2)));
        model->push_back(tnn::Conv2d(tnn::Conv2dOptions(6, 16, 5)));
        model->push_back(tnn::ReLU());
        model->push_back(tnn::MaxPool2d(tnn::MaxPool2dOptions(2)));
        model->push_back(tnn::Flatten());
        model->push_back(tnn::Linear(400, 120));
        model->push_back(tnn::ReLU());
        model->push_back(tnn::Linear(120, 84));
        model->push_back(tnn::ReLU());
        model->push_back(tnn::Linear(84, 10));
        params = model->parameters();
        break;
      case Net::mnist_cnn:
        model->push_back(tnn::Conv2d(tnn::Conv2dOptions(1, 32, 3)));
        model->push_back(tnn::ReLU());
        model->push_back(tnn::Conv2d(tnn::Conv2dOptions(32, 64, 3)));
        model->push_back(tnn::ReLU());
        model->push_back(tnn::MaxPool2d(tnn::MaxPool2dOptions(2)));
        model->push_back(tnn::Flatten());
        model->push_back(tnn::Linear(9216, 128));
        model->push_back(tnn::ReLU());
        model->push_back(tnn::Linear(128, 10));
        params = model->parameters();
        break;
      case Net::lstm:
        lstm = tnn::LSTM(tnn::LSTMOptions(32, 128).batch_first(true));
        head = tnn::Linear(128, 10);
        params = lstm->parameters();
        for (const auto& p : head->parameters()) params.push_back(p);
        break;
    }
    // wengert's initial weights, in the same order: Linear weights are (in, out) there and (out, in) here.
    const auto wparams = w.model.parameters();
    if (wparams.size() != params.size()) throw std::logic_error("TorchNet: parameter counts differ");
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const auto& wv = wparams[i].value();
      std::vector<int64_t> shape(wv.shape().begin(), wv.shape().end());
      torch::Tensor value = torch::from_blob(const_cast<float*>(wv.data()), shape, torch::kFloat32);
      if (value.sizes() != params[i].sizes()) {
        if (value.dim() != 2 || value.size(0) == value.size(1) || value.t().sizes() != params[i].sizes())
          throw std::logic_error("TorchNet: parameter " + std::to_string(i) + " has another shape");
        value = value.t();
      }
      params[i].copy_(value);
    }
    std::vector<int64_t> shape(spec.input.begin(), spec.input.end());
    x = torch::from_blob(const_cast<float*>(d.x.data()), shape, torch::kFloat32).clone();
    std::vector<int64_t> l64(d.labels.begin(), d.labels.end());
    labels = torch::from_blob(l64.data(), {long(l64.size())}, torch::kInt64).clone();
    optimizer = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(kLearningRate));
  }
  torch::Tensor logits() {
    if (lstm) return head->forward(std::get<0>(lstm->forward(x)).select(1, -1));
    return model->forward(x);
  }
  torch::Tensor loss() { return torch::nn::functional::cross_entropy(logits(), labels); }
  void step() {
    optimizer->zero_grad();
    loss().backward();
    optimizer->step();
  }
};


// The frameworks agree from the same weights: loss, first layer's gradient, and its weight after one step.
void check_net_agreement(const std::string& name, WengertNet& w, TorchNet& t) {
  const double tolerance = 1e-4;
  const double wl = double(w.loss().item());
  autodiff::Tape<float>::current().release();
  const double tl = t.loss().item<double>();
  check(name + ": initial loss (" + std::to_string(wl).substr(0, 7) + ")", std::abs(wl - tl), tolerance);
  w.step();
  t.step();
  const auto wparams = w.model.parameters();
  const auto& wg = wparams[0].grad();
  const torch::Tensor tg = t.params[0].grad().contiguous();
  check(name + ": first layer's dC/dW", max_abs_difference(wg.data(), tg.data_ptr<float>(), wg.size()), tolerance);
  const auto& wv = wparams[0].value();
  const torch::Tensor tv = t.params[0].detach().contiguous();
  check(name + ": first layer's W after one SGD step", max_abs_difference(wv.data(), tv.data_ptr<float>(), wv.size()),
        tolerance);
  const double wl2 = double(w.loss().item());
  autodiff::Tape<float>::current().release();
  check(name + ": loss after one SGD step", std::abs(wl2 - t.loss().item<double>()), tolerance);
}

std::vector<std::string> net_workloads;  // the names run, for the summary

void net_workload(const NetSpec& spec, const Options& o) {
  std::printf("\n== %s, %d thread(s); \"torch\" is LibTorch with %d OpenMP + %d OpenBLAS threads ==\n",
              spec.title.c_str(), o.threads, o.torch_omp, o.threads);
  const NetData data = make_net_data(spec, 12);
  WengertNet w(spec, data);
  TorchNet t(spec, data, w);
  GemmList f = GemmList::of(spec.net);
  check_net_agreement(spec.name, w, t);
  const std::string step = spec.name + ": step";
  std::vector<Contender> contenders = {{step, "wengert", [&] { w.step(); }},
                                       {step, "torch", [&] { t.step(); }},
                                       {step, "floor", [&] { f.step(); }}};
  // LibTorch's other splits of its threads: OpenMP's count is the process's (--torch-omp;
  // changing it between iterations costs LibTorch far more than a step: its oneDNN
  // primitives depend on it), OpenBLAS's is set around each step ("torch O+B").
  if (o.threads > 1 || o.torch_omp > 1)
    for (int blas = 1; blas < o.threads; ++blas)
      contenders.push_back({step, "torch " + std::to_string(o.torch_omp) + "+" + std::to_string(blas),
                            [&t, blas, threads = o.threads] {
                              openblas_set_num_threads(blas);
                              t.step();
                              openblas_set_num_threads(threads);
                            }});
  run_cases(contenders, Unit{"ms", 1e3, 1}, o);
  net_workloads.push_back(spec.name);
}

#endif  // WENGERT_PEER_TORCH

// ---- summary against the targets of issues 5 and 10 ------------------------------

void summary(const Options& o) {
  std::printf("\n== summary against the targets: ratio of wall-time medians [paired ratio] "
              "(ratio of CPU-time medians) ==\n");
  auto ratio = [](const std::string& name, const std::string& a, const std::string& b, double target,
                  const std::string& what) {
    const Record* r = record(name);
    if (!r) return;
    const Measured *ma = find(r->results, a), *mb = find(r->results, b);
    if (!ma || !mb) return;
    const double value = ma->median() / mb->median();
    std::printf("  %-44s %s / %s = %6.3f [%6.3f] (cpu %6.3f)", what.c_str(), a.c_str(), b.c_str(), value,
                paired_ratio(*ma, *mb), ma->cpu_median() / mb->cpu_median());
    if (target > 0) std::printf("   target <= %5.3f   %s", target, value <= target ? "met" : "MISSED");
    std::printf("\n");
  };
  ratio("tiny: forward+backward", "wengert", "torch", 0.1, "tiny ops per op (forward+backward)");
  ratio("digits: step", "wengert", "torch", 1.0 / 3, "digits step");
  const double fashion_target = o.threads == 1 ? 1.05 : 1.1;
  ratio("fashion: step", "wengert", "floor", fashion_target,
        "fashion step, " + std::to_string(o.threads) + " thread(s)" + (o.loaded ? ", loaded" : ""));
  ratio("fullbatch: forward+loss+backward", "wengert", "floor", 1.2, "full-batch gradient (float64)");
  ratio("fullbatch: forward+loss+backward", "fused", "floor", 0, "  the same by hand, fused (a reference)");
  // Second order (issue 10): one framework's HVP against its own gradient (same rounds), and against LibTorch's HVP.
  auto within = [](const std::string& a, const std::string& b, const std::string& who, double target,
                   const std::string& what) {
    const Record *ra = record(a), *rb = record(b);
    if (!ra || !rb) return;
    const Measured *ma = find(ra->results, who), *mb = find(rb->results, who);
    if (!ma || !mb) return;
    const double value = ma->median() / mb->median();
    std::printf("  %-44s %s %s / gradient = %6.3f [%6.3f] (cpu %6.3f)", what.c_str(), who.c_str(), "hvp", value,
                paired_ratio(*ma, *mb), ma->cpu_median() / mb->cpu_median());
    if (target > 0) std::printf("   target <= %5.3f   %s", target, value <= target ? "met" : "MISSED");
    std::printf("\n");
  };
  for (const auto& h : hvp_workloads) {
    within(h.name + ": hvp", h.name + ": gradient", "wengert", 4, h.name + ": HVP vs one gradient");
    within(h.name + ": hvp", h.name + ": gradient", "torch", 0, h.name + ": HVP vs one gradient");
    ratio(h.name + ": hvp", "wengert", "torch", h.hvp_target_vs_torch, h.name + ": HVP");
    ratio(h.name + ": gradient", "wengert", "torch", 0, h.name + ": gradient");
  }
  ratio("pinn: step", "wengert", "torch", 1.0 / 3, "PINN step (u' by create_graph, Adam)");
#if WENGERT_PEER_TORCH
  // Issue #13: LeNet and LSTM steps at most half LibTorch's time, the MNIST CNN at most LibTorch's,
  // each within 1.3x its floor; at 2 threads at most LibTorch's best split of its threads.
  for (const auto& name : net_workloads) {
    const std::string step = name + ": step";
    ratio(step, "wengert", "torch", name == "mnist-cnn" ? 1.0 : 0.5, step);
    ratio(step, "wengert", "floor", 1.3, step);
    ratio(step, "torch", "floor", 0, step);
    const Record* r = record(step);
    if (!r) continue;
    const Measured* best = nullptr;
    int splits = 0;
    for (const auto& m : r->results) {
      if (m.framework.rfind("torch", 0) != 0) continue;  // "torch" and "torch O+B"
      ++splits;
      if (!best || m.median() < best->median()) best = &m;
    }
    if (splits > 1) ratio(step, "wengert", best->framework, 1.0, step + " (LibTorch's best split here)");
  }
#endif
  ratio("pinn: loss+gradient", "wengert", "torch", 0, "PINN loss + gradient, no update");
  for (const auto& m : mlp_workloads) {
    const Record *fwd = record(m.forward_case), *fb = record(m.backward_case);
    if (!fwd || !fb) continue;
    for (const char* who : {"wengert", "torch", "floor"}) {
      const Measured *mf = find(fwd->results, who), *mb = find(fb->results, who);
      if (!mf || !mb) continue;
      const double forward = mf->median(), backward = mb->median() - mf->median();
      const double cpu_ratio = (mb->cpu_median() - mf->cpu_median()) / mf->cpu_median();
      std::vector<double> per_round;  // both cases ran in the same rounds
      for (std::size_t r = 0; r < mf->seconds.size() && r < mb->seconds.size(); ++r)
        per_round.push_back((mb->seconds[r] - mf->seconds[r]) / mf->seconds[r]);
      std::printf("  %-32s %-7s backward / forward = %6.3f [%6.3f] (cpu %6.3f) (forward %.1f us, backward %.1f us)%s\n",
                  (m.name + ": backward vs forward").c_str(), who, backward / forward, median_of(per_round), cpu_ratio,
                  forward * 1e6, backward * 1e6,
                  std::string(who) == "wengert" ? (backward / forward <= 2.5 ? "   target <= 2.5   met"
                                                                              : "   target <= 2.5   MISSED")
                                                : "");
    }
  }
}

// ---- workload 5: memory -------------------------------------------------------

int memory_run(const Options& o) {
  const long baseline = status_kb("VmRSS");
  const NetSpec* net = net_spec(o.workload);  // --workload lenet, mnist-cnn or lstm; otherwise fashion
  if (!o.workload.empty() && o.workload != "fashion" && !net)
    usage("--memory runs the fashion, lenet, mnist-cnn or lstm steps, not " + o.workload);
  if (net)
    std::printf("memory: %s, %ld %s steps (%s), %d thread(s)\n", o.memory.c_str(), o.memory_steps, net->name.c_str(),
                net->title.c_str(), o.threads);
  else
    std::printf("memory: %s, %ld fashion steps (784-512-256-10, batch 128, float32), %d thread(s)\n",
                o.memory.c_str(), o.memory_steps, o.threads);
  std::printf("VmRSS at start (the program's libraries loaded%s, nothing built): %ld kB\n",
              WENGERT_PEER_TORCH ? ", LibTorch's among them" : ", no LibTorch", baseline);
  const MlpData<float> data = make_data<float>({784, 512, 256, 10}, 128, Hidden::relu, 3);
  std::function<void()> step;
  std::unique_ptr<WengertMlp<float>> w;
  std::unique_ptr<WengertNet> wnet;
  const NetData net_data = net ? make_net_data(*net, 12) : NetData{};
  double final_loss = 0;
  if (o.memory == "wengert" && net) {
    wnet = std::make_unique<WengertNet>(*net, net_data);
    step = [&] { wnet->step(); };
  } else if (o.memory == "wengert") {
    w = std::make_unique<WengertMlp<float>>(data);
    step = [&] { w->step(); };
  }
#if WENGERT_PEER_TORCH
  std::unique_ptr<TorchMlp<float>> t;
  std::unique_ptr<TorchNet> tnet;
  if (o.memory == "torch" && net) {
    WengertNet weights(*net, net_data);  // only for the initial weights
    tnet = std::make_unique<TorchNet>(*net, net_data, weights);
    step = [&] { tnet->step(); };
  } else if (o.memory == "torch") {
    t = std::make_unique<TorchMlp<float>>(data);
    step = [&] { t->step(); };
  }
#endif
  std::printf("VmRSS after building the model: %ld kB\n", status_kb("VmRSS"));
  long rss_100 = 0;
  const auto start = Clock::now();
  for (long s = 1; s <= o.memory_steps; ++s) {
    step();
    if (s == 100) rss_100 = status_kb("VmRSS");
    if (s == 1 || s == 100 || s % 1000 == 0 || s == o.memory_steps)
      std::printf("  step %6ld  VmRSS %8ld kB  VmHWM %8ld kB\n", s, status_kb("VmRSS"), status_kb("VmHWM"));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const long rss_end = status_kb("VmRSS"), peak = status_kb("VmHWM");
  if (w) final_loss = double(w->loss().item());
  if (wnet) final_loss = double(wnet->loss().item());
#if WENGERT_PEER_TORCH
  if (t) final_loss = t->loss().item<double>();
  if (tnet) final_loss = tnet->loss().item<double>();
#endif
  std::printf("%s: VmRSS after step 100 = %ld kB, after step %ld = %ld kB (change %+ld kB); peak VmHWM = %ld kB "
              "(%ld kB above the start); %.2f ms per step; final loss %.6f\n",
              o.memory.c_str(), rss_100, o.memory_steps, rss_end, rss_end - rss_100, peak, peak - baseline,
              seconds * 1e3 / double(o.memory_steps), final_loss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  pid_t busy = 0;
  if (o.loaded) busy = spawn_busy_loop();  // before any thread exists in this process
  set_threads(o.threads, o.torch_omp);

  char host[256] = "";
  gethostname(host, sizeof host);
#if WENGERT_PEER_TORCH
  std::printf("peer_bench: wengert vs LibTorch %s vs GEMM floor; host %s; load average at start %s\n",
              TORCH_VERSION, host, loadavg().c_str());
#else
  std::printf("peer_bench_wengert (no LibTorch linked); host %s; load average at start %s\n", host,
              loadavg().c_str());
#endif
  // OMP_WAIT_POLICY matters to LibTorch at 2 threads on a busy machine: OpenMP's
  // workers spin by default, and a spinning worker that lost its core stalls
  // every parallel region (PASSIVE makes them sleep). libgomp reads it at load time.
  for (const char* name : {"OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS",
                           "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"})
    std::printf("%s=%s ", name, std::getenv(name) ? std::getenv(name) : "(unset)");
  std::printf("\n");
  print_threads();
  if (o.loaded) std::printf("loaded: busy-loop child process %d spins for the whole run\n", int(busy));

  int status = 0;
  if (!o.memory.empty()) {
    status = memory_run(o);
  } else {
#if WENGERT_PEER_TORCH
    std::printf("rounds %d of about %.0f ms per contender%s\n", o.rounds, o.round_ms, o.quick ? " (quick)" : "");
    const auto start = Clock::now();
    if (o.runs("tiny")) tiny_ops(o);
    if (o.runs("digits"))
      mlp_workload<float>("digits", "2. digits step: 64-50(sigmoid)-10, cross-entropy, batch 32, float32, SGD",
                          make_data<float>({64, 50, 10}, 32, Hidden::sigmoid, 1), true, o);
    if (o.runs("fashion"))
      mlp_workload<float>("fashion",
                          "3. fashion step: 784-512(ReLU)-256(ReLU)-10, cross-entropy, batch 128, float32, SGD, " +
                              std::to_string(o.threads) + " thread(s)" + (o.loaded ? ", another process busy" : ""),
                          make_data<float>({784, 512, 256, 10}, 128, Hidden::relu, 2), true, o);
    if (o.runs("fullbatch"))
      mlp_workload<double>("fullbatch", "4. full-batch gradient: 64-50(sigmoid)-10 on 1437 samples, float64, no update",
                           make_data<double>({64, 50, 10}, 1437, Hidden::sigmoid, 4), false, o, true);
    if (o.runs("hvp"))
      hvp_workload<float>("hvp digits",
                          "6a. Hessian-vector product: 64-50(sigmoid)-10, cross-entropy, batch 32, float32, "
                          "all parameters",
                          make_data<float>({64, 50, 10}, 32, Hidden::sigmoid, 1), 1.0 / 3, o);
    if (o.runs("hvp-large"))
      hvp_workload<float>("hvp large",
                          "6b. Hessian-vector product: 784-512(tanh)-256(tanh)-10, cross-entropy, batch 128, "
                          "float32, all parameters",
                          make_data<float>({784, 512, 256, 10}, 128, Hidden::tanh, 6), 1.0, o);
    if (o.runs("pinn")) pinn_workload(o);
    for (const auto& spec : net_specs())
      if (o.runs(spec.name)) net_workload(spec, o);
    summary(o);
    std::printf("\nchecks failed: %d; wall time %.1f s; load average at end %s (sink %g)\n", failures,
                std::chrono::duration<double>(Clock::now() - start).count(), loadavg().c_str(), sink);
    status = failures == 0 ? 0 : 1;
#endif
  }
  if (busy > 0) {
    kill(busy, SIGKILL);
    waitpid(busy, nullptr, 0);
  }
  return status;
}
