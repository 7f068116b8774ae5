// Data-parallel training on this machine (issue #16; results in RESULTS.md): the
// Fashion-MNIST MLP 784-512-256-10 (ReLU, float32, SGD, mean cross-entropy) with a
// global batch B per step, and the all-reduce of its gradients (535,818 values).
//
//   distributed_bench [--batch 128] [--steps 300] [--threads 2]      one process, B a step
//   mpirun -np 2 distributed_bench --mpi [--batch 128] [--steps 300]  n ranks x 1 thread, B/n each
//   mpirun -np 2 distributed_bench --mpi --allreduce [--repeats 200]  the all-reduce alone
//
// Plain timed loops (no Google Benchmark: each rank is a process of its own).
// Rank 0 prints; the time of a step is rank 0's wall time between barriers.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <autodiff/linalg.hpp>
#include <distributed/distributed.hpp>
#include <nn/nn.hpp>

using T = float;
using Clock = std::chrono::steady_clock;

namespace {

struct Settings {
  bool mpi = false, allreduce = false;
  std::size_t batch = 128, steps = 300, repeats = 200;
  int threads = 1;
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

nn::Dataset<T> fashion_mnist_or_noise() {
  const std::string directory = "/usr/share/datasets/fashion-mnist";
  nn::Dataset<T> data;
  if (std::filesystem::exists(directory + "/train-images-idx3-ubyte.gz")) {
    data = nn::load_idx_images<T>(directory + "/train-images-idx3-ubyte.gz", directory + "/train-labels-idx1-ubyte.gz");
    data.inputs.reshape({data.size(), 784});
  } else {  // the throughput does not depend on the pixels
    data.inputs = autodiff::rand<T>({60000, 784}, {.seed = 1}).value();
    for (std::size_t i = 0; i < 60000; ++i) data.labels.push_back(i % 10);
  }
  return data;
}

// Trains `steps` steps (after 20 untimed ones) and prints samples/s; per rank the
// time of forward + backward, the time waiting in synchronize(), and the CPU time.
void train(const Settings& settings, const distributed::Communicator* world) {
  const std::size_t ranks = world ? world->size() : 1;
  const nn::Dataset<T> data = fashion_mnist_or_noise();
  nn::manual_seed(1);
  nn::Sequential<T> model = nn::mlp<T>({784, 512, 256, 10}, nn::ReLU<T>());
  nn::SGD<T> optimizer(model.parameters(), 0.05);
  std::unique_ptr<distributed::DataParallel<T>> ddp;
  if (world) ddp = std::make_unique<distributed::DataParallel<T>>(model, *world);
  nn::DataLoader<T> loader(data, settings.batch / ranks, true, 7);
  if (world) loader.shard(world->rank(), ranks);
  const std::size_t warm_up = 20;
  std::vector<nn::Batch<T>> batches = loader.epoch();
  double waiting = 0, computing = 0, total = 0;
  Clock::time_point start;
  std::clock_t cpu_start = 0;
  for (std::size_t step = 0; step < warm_up + settings.steps; ++step) {
    if (step == warm_up) {
      if (world) world->barrier();
      start = Clock::now();
      cpu_start = std::clock();
    }
    const nn::Batch<T>& batch = batches[step % batches.size()];
    const auto compute_start = Clock::now();
    optimizer.zero_grad();
    nn::cross_entropy(model(batch.inputs), batch.labels).backward();
    if (step >= warm_up) computing += seconds_since(compute_start);
    if (ddp) {
      const auto sync_start = Clock::now();
      ddp->synchronize();
      if (step >= warm_up) waiting += seconds_since(sync_start);
    }
    optimizer.step();
  }
  if (world) world->barrier();
  total = seconds_since(start);
  const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;  // this process's CPU time (all threads)
  std::vector<std::vector<double>> per_rank{{computing, waiting, cpu}};
  if (world) per_rank = world->gather({computing, waiting, cpu});
  if (world && world->rank() != 0) return;
  std::printf("%zu x %d thread(s), batch %zu a step (%zu a rank): %.0f samples/s, %.2f ms a step",
              ranks, settings.threads, settings.batch, settings.batch / ranks,
              double(settings.steps * settings.batch) / total, 1e3 * total / double(settings.steps));
  std::printf("\n");
  for (std::size_t r = 0; r < per_rank.size(); ++r)
    std::printf("  rank %zu: forward + backward %.2f ms a step, synchronize() %.2f ms (%zu buckets); "
                "CPU time %.2f ms a step (cpu/wall %.2f)\n",
                r, 1e3 * per_rank[r][0] / double(settings.steps), 1e3 * per_rank[r][1] / double(settings.steps),
                ddp ? ddp->bucket_count() : 0, 1e3 * per_rank[r][2] / double(settings.steps), per_rank[r][2] / total);
}

// MPI_Allreduce of the gradients' 535,818 floats in one message (the bound that
// bucketing and overlap work against).
void time_allreduce(const Settings& settings, const distributed::Communicator& world) {
  nn::Sequential<T> model = nn::mlp<T>({784, 512, 256, 10}, nn::ReLU<T>());
  std::vector<T> values(model.parameter_count(), T(1));
  std::vector<double> times;
  for (std::size_t r = 0; r < settings.repeats + 10; ++r) {
    world.barrier();
    const auto start = Clock::now();
    world.all_reduce_sum(values.data(), values.size());
    if (r >= 10) times.push_back(seconds_since(start));
  }
  if (world.rank() == 0)
    std::printf("MPI_Allreduce of %zu floats (%.2f MB) over %zu ranks: median %.3f ms, min %.3f ms (%zu repeats)\n",
                values.size(), 4e-6 * double(values.size()), world.size(), 1e3 * median(times),
                1e3 * *std::min_element(times.begin(), times.end()), times.size());
  // The same message as DataParallel sends it: MPI_Iallreduce, then MPI_Wait.
  std::vector<T> sums(values.size());
  times.clear();
  for (std::size_t r = 0; r < settings.repeats + 10; ++r) {
    world.barrier();
    const auto start = Clock::now();
    MPI_Request request;
    MPI_Iallreduce(values.data(), sums.data(), int(values.size()), MPI_FLOAT, MPI_SUM, world.get(), &request);
    MPI_Wait(&request, MPI_STATUS_IGNORE);
    if (r >= 10) times.push_back(seconds_since(start));
  }
  if (world.rank() == 0)
    std::printf("MPI_Iallreduce + MPI_Wait of the same: median %.3f ms, min %.3f ms\n", 1e3 * median(times),
                1e3 * *std::min_element(times.begin(), times.end()));
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    auto next = [&] { return i + 1 < argc ? std::stoul(argv[++i]) : 0ul; };
    if (argument == "--mpi") settings.mpi = true;
    else if (argument == "--allreduce") settings.allreduce = true;
    else if (argument == "--batch") settings.batch = next();
    else if (argument == "--steps") settings.steps = next();
    else if (argument == "--repeats") settings.repeats = next();
    else if (argument == "--threads") settings.threads = int(next());
    else {
      std::fprintf(stderr, "distributed_bench: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  autodiff::set_num_threads(settings.threads);
  if (!settings.mpi) {
    train(settings, nullptr);
    return 0;
  }
  return distributed::run(argc, argv, [&](const distributed::Communicator& world) {
    if (settings.allreduce) time_allreduce(settings, world);
    else train(settings, &world);
    return 0;
  });
}
