// Data-parallel training under `mpirun -np 2`: the ranks' averaged steps are the
// steps of one process on the whole batch, the averaging starts during the
// backward sweep, and misuse is an error. Every rank runs every part.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <distributed/distributed.hpp>
#include <nn/nn.hpp>
#include <xtensor/xmath.hpp>

#include "check.hpp"

using D = double;

namespace {

// 40 samples of 3 features in 4 classes, the same on every rank.
nn::Dataset<D> small_data() {
  nn::Dataset<D> data;
  data.inputs = autodiff::randn<D>({40, 3}, {.seed = 11}).value();
  for (std::size_t i = 0; i < 40; ++i) data.labels.push_back((i * 7) % 4);
  return data;
}

nn::Sequential<D> small_model() { return nn::mlp<D>({3, 16, 4}, nn::Tanh<D>()); }

double max_difference(nn::Module<D>& a, nn::Module<D>& b) {
  double worst = 0;
  auto p = a.parameters(), q = b.parameters();
  for (std::size_t i = 0; i < p.size(); ++i)
    for (std::size_t k = 0; k < p[i].size(); ++k)
      worst = std::max(worst, std::abs(p[i].value().data()[k] - q[i].value().data()[k]));
  return worst;
}

auto mean_cross_entropy = [](const nn::Variable<D>& logits, const nn::Batch<D>& batch) {
  return nn::cross_entropy(logits, batch.labels);  // the mean over the rank's batch
};

// 2 ranks x batch 4 for 20 steps (4 epochs of 5) against one process with batch 8.
void same_parameters_as_one_process(const distributed::Communicator& world) {
  const nn::Dataset<D> data = small_data();
  nn::manual_seed(100 + world.rank());  // different on each rank: DataParallel must broadcast rank 0's
  nn::Sequential<D> model = small_model();
  nn::SGD<D> optimizer(model.parameters(), {.lr = 0.5, .momentum = 0.9});
  nn::FitOptions options;
  options.epochs = 4;
  options.batch_size = 8 / world.size();
  options.l2 = 0.01;
  options.seed = 5;
  options.progress = nullptr;
  const nn::History history = distributed::fit(model, optimizer, mean_cross_entropy, data, options, world);
  MPI_CHECK(history.batch_losses.size() == 20 * 2 / world.size());

  // Every rank has rank 0's parameters, bit for bit.
  std::vector<double> mine;
  for (auto& p : model.parameters()) mine.insert(mine.end(), p.value().begin(), p.value().end());
  const auto all = world.gather(mine);
  for (std::size_t r = 1; r < all.size(); ++r) MPI_CHECK(all[r] == all[0]);

  if (world.rank() != 0) return;
  nn::manual_seed(100);
  nn::Sequential<D> serial = small_model();
  nn::manual_seed(100);
  nn::Sequential<D> initial = small_model();  // rank 0's starting point, kept
  nn::SGD<D> serial_optimizer(serial.parameters(), {.lr = 0.5, .momentum = 0.9});
  options.batch_size = 8;
  const nn::History serial_history = nn::fit(serial, serial_optimizer, mean_cross_entropy, data, options);
  const double difference = max_difference(model, serial);
  std::printf("20 steps of 2 x 4 samples against 1 x 8: largest parameter difference %.3g (moved %.3g)\n",
              difference, max_difference(serial, initial));
  MPI_CHECK(difference <= 1e-12);
  MPI_CHECK(max_difference(serial, initial) > 0.1);  // it trained: the comparison means something
  for (std::size_t e = 0; e < history.epochs.size(); ++e) {  // the reported loss is the global mean
    MPI_CHECK(std::abs(history.epochs[e].loss - serial_history.epochs[e].loss) <= 1e-12);
    MPI_CHECK(history.epochs[e].train_accuracy == serial_history.epochs[e].train_accuracy);
  }
}

// With a bucket per parameter, the last layer's all-reduces start before the sweep
// reaches the first layer, and every bucket has started when backward() returns.
void communication_overlaps_the_sweep(const distributed::Communicator& world) {
  nn::manual_seed(3);
  nn::Sequential<D> model = small_model();
  distributed::DataParallel<D> ddp(model, world, {.bucket_megabytes = 1e-9, .first_bucket_megabytes = 1e-9});
  MPI_CHECK(ddp.bucket_count() == 4);
  const nn::Dataset<D> data = small_data();
  nn::Variable<D> hidden = model[1](model[0](nn::Variable<D>(data.inputs)));
  std::size_t started_when_the_sweep_reached_layer_1 = 0;
  hidden.register_hook([&](const autodiff::Array<D>&) {
    started_when_the_sweep_reached_layer_1 = ddp.buckets_started();
  });
  nn::cross_entropy(model[2](hidden), data.labels).backward();
  MPI_CHECK(started_when_the_sweep_reached_layer_1 == 2);  // the last Linear's bias and weight
  MPI_CHECK(ddp.buckets_started() == 4);
  const autodiff::Array<D> local = model.parameters()[0].grad();
  ddp.synchronize();
  MPI_CHECK(ddp.buckets_started() == 0);
  // The mean of the ranks' gradients: here all ranks had the same data, so their own.
  MPI_CHECK(xt::allclose(model.parameters()[0].grad(), local, 1e-15, 1e-15));
}

// Each rank's gradient differs (its rank number times the data): the result is their mean.
void synchronize_averages(const distributed::Communicator& world) {
  nn::manual_seed(4);
  nn::Sequential<D> model = small_model();
  distributed::DataParallel<D> ddp(model, world);
  const nn::Dataset<D> data = small_data();
  nn::Variable<D> cost = nn::cross_entropy(model(nn::Variable<D>(data.inputs)), data.labels) * D(world.rank() + 1);
  cost.backward();
  const autodiff::Array<D> local = model.parameters()[2].grad();
  ddp.synchronize();
  const D factor = D(world.size() + 1) / 2 / D(world.rank() + 1);  // mean of 1..n over mine
  MPI_CHECK(xt::allclose(model.parameters()[2].grad(), local * factor, 1e-14, 1e-14));
}

void misuse_is_an_error(const distributed::Communicator& world) {
  nn::manual_seed(5);
  nn::Sequential<D> model = small_model();
  distributed::DataParallel<D> ddp(model, world);
  const nn::Dataset<D> data = small_data();
  auto cost = [&] { return nn::cross_entropy(model(nn::Variable<D>(data.inputs)), data.labels); };
  cost().backward();
  std::string message;
  try {
    cost().backward();  // no synchronize() in between
  } catch (const std::logic_error& e) {
    message = e.what();
  }
  MPI_CHECK(message.find("DataParallel") != std::string::npos);
  MPI_CHECK(message.find("'2.weight'") != std::string::npos);  // the first gradient the sweep finishes (affine's w)
  MPI_CHECK(message.find("synchronize()") != std::string::npos);
  ddp.synchronize();

  message.clear();
  try {
    distributed::DataParallel<D> bad(model, world, {.bucket_megabytes = 0});
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  MPI_CHECK(message.find("bucket_megabytes 0") != std::string::npos);
}

}  // namespace

int main(int argc, char** argv) {
  return distributed::run(argc, argv, [](const distributed::Communicator& world) {
    test::rank = int(world.rank());
    same_parameters_as_one_process(world);
    communication_overlaps_the_sweep(world);
    synchronize_averages(world);
    misuse_is_an_error(world);
    if (world.rank() == 0) std::printf("%s\n", test::failures ? "FAILED" : "data-parallel tests passed");
    return test::failures ? 1 : 0;
  });
}
