// Checkpoint speed: save_checkpoint / load_checkpoint (one .npz through libzip,
// with the optimizer's state) against save_parameters / load_parameters (one
// .npy per parameter, the peer) and against writing and reading the same bytes
// with one std::ofstream / std::ifstream (the floor), in one run, interleaved,
// median of the repeats. A program to run by hand (bench/RESULTS.md):
//
//   OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 build/bench/checkpoint_bench [repeats]
//
// It prints, per operation, the median time, MB/s of the bytes written, and
// the ratio to the floor.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nn/checkpoint.hpp>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 7;
  const fs::path dir = fs::temp_directory_path() / "wengert_checkpoint_bench";
  fs::create_directories(dir);
  nn::manual_seed(1);
  // 784-1024-1024-10: 1.86 M float parameters, 7.5 MB; Adam's two moments triple the checkpoint.
  nn::Sequential<float> model = nn::mlp<float>({784, 1024, 1024, 10}, nn::ReLU<float>());
  nn::Adam<float> optimizer(model.parameters());
  const std::string npz = (dir / "run.npz").string(), npy_dir = (dir / "params").string(),
                    raw = (dir / "raw.bin").string();
  nn::save_checkpoint(npz, model, optimizer);
  const double checkpoint_mb = double(fs::file_size(npz)) / 1e6;
  std::string bytes(fs::file_size(npz), 'x');

  using Clock = std::chrono::steady_clock;
  struct Timed {
    const char* name;
    std::function<void()> run;
    double mb;
    std::vector<double> seconds = {};
  };
  std::vector<Timed> timed = {
      {"floor: write the checkpoint's bytes", [&] { std::ofstream(raw, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size())); }, checkpoint_mb},
      {"save_checkpoint (model + Adam)", [&] { nn::save_checkpoint(npz, model, optimizer); }, checkpoint_mb},
      {"save_parameters (model only)", [&] { nn::save_parameters(model, npy_dir); }, checkpoint_mb / 3},
      {"floor: read the checkpoint's bytes", [&] {
         std::ifstream in(raw, std::ios::binary);
         in.read(bytes.data(), std::streamsize(bytes.size()));
       }, checkpoint_mb},
      {"load_checkpoint (model + Adam)", [&] { nn::load_checkpoint(npz, model, optimizer); }, checkpoint_mb},
      {"load_parameters (model only)", [&] { nn::load_parameters(model, npy_dir); }, checkpoint_mb / 3},
  };
  for (int r = 0; r < repeats; ++r)
    for (auto& t : timed) {
      const auto start = Clock::now();
      t.run();
      t.seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
  std::printf("checkpoint of %.1f MB (%zu parameters and Adam's moments), median of %d\n", checkpoint_mb,
              model.parameter_count(), repeats);
  double floor = 0;
  for (auto& t : timed) {
    std::sort(t.seconds.begin(), t.seconds.end());
    const double median = t.seconds[t.seconds.size() / 2];
    if (std::string(t.name).rfind("floor", 0) == 0) floor = median / t.mb;  // seconds per MB
    std::printf("  %-38s %8.2f ms  %7.0f MB/s  %5.2fx the floor per MB\n", t.name, median * 1e3, t.mb / median,
                median / t.mb / floor);
  }
  fs::remove_all(dir);
}
