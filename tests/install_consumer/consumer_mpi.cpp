// Builds against the installed wengert::mpi (not run: that needs mpirun).
#include <distributed/distributed.hpp>

int main(int argc, char** argv) {
  return distributed::run(argc, argv, [](const distributed::Communicator& world) {
    nn::Sequential<float> model = nn::mlp<float>({2, 3, 1});
    distributed::DataParallel<float> ddp(model, world);
    return int(ddp.bucket_count()) - 1;
  });
}
