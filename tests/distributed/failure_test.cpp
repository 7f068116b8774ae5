// A rank that throws ends the whole job with its message: rank 1 throws while
// rank 0 waits for it in a collective (which would otherwise wait forever).
#include <stdexcept>

#include <distributed/distributed.hpp>

int main(int argc, char** argv) {
  return distributed::run(argc, argv, [](const distributed::Communicator& world) {
    if (world.rank() == 1) throw std::runtime_error("the data of rank 1 is missing (test)");
    world.barrier();  // rank 0 waits here for rank 1
    return 0;
  });
}
