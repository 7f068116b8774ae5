// A rank that throws ends the whole job with its message: rank 1 throws while
// rank 0 waits for it in a collective (which would otherwise wait forever):
//   failure_test            in a barrier
//   failure_test --in-fit   in the third step of distributed::fit (rank 0 then waits in
//                           the gradients' all-reduce)
#include <cstring>
#include <stdexcept>

#include <distributed/distributed.hpp>
#include <nn/nn.hpp>

namespace {
[[noreturn]] void fail() { throw std::runtime_error("the data of rank 1 is missing (test)"); }

void train_until_rank_1_fails(const distributed::Communicator& world) {
  nn::Dataset<double> data;
  data.inputs = autodiff::randn<double>({32, 3}, {.seed = 1}).value();
  for (std::size_t i = 0; i < 32; ++i) data.labels.push_back(i % 2);
  nn::Sequential<double> model = nn::mlp<double>({3, 4, 2});
  nn::SGD<double> optimizer(model.parameters(), 0.1);
  nn::FitOptions options;
  options.epochs = 1;
  options.batch_size = 4;
  std::size_t batches = 0;
  distributed::fit(model, optimizer, [&](auto& logits, auto& batch) {
    if (world.rank() == 1 && ++batches == 3) fail();
    return nn::cross_entropy(logits, batch.labels);
  }, data, options, world);
}
}  // namespace

int main(int argc, char** argv) {
  const bool in_fit = argc > 1 && std::strcmp(argv[1], "--in-fit") == 0;
  return distributed::run(argc, argv, [&](const distributed::Communicator& world) {
    if (in_fit) train_until_rank_1_fails(world);
    if (world.rank() == 1) fail();
    world.barrier();  // rank 0 waits here for rank 1
    return 0;
  });
}
