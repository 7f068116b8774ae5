#include "communicator.hpp"

#include <climits>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>

namespace distributed {

namespace {
// MPI counts are ints: a larger message is an error, not a silent wrap.
int count_of(std::size_t count, const char* call) {
  if (count > std::size_t(INT_MAX))
    throw std::invalid_argument(std::string(call) + ": " + std::to_string(count) + " values are more than one MPI "
                                "message holds (2^31 - 1)");
  return int(count);
}

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(std::string(call) + ": " + std::string(text, std::size_t(length)));
}

int root_of(std::size_t root, std::size_t size, const char* call) {
  if (root >= size)
    throw std::invalid_argument(std::string(call) + ": root " + std::to_string(root) + " is not a rank of " +
                                std::to_string(size));
  return int(root);
}
}  // namespace

template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}

Environment::Environment(int& argc, char**& argv) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (initialised) return;
  int provided = 0;
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  owns_ = true;  // MPI's errors stay fatal (MPI_ERRORS_ARE_FATAL): a failed collective ends the whole job
}

Environment::~Environment() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (owns_ && !finalised) MPI_Finalize();
}

Communicator::Communicator() : Communicator(MPI_COMM_WORLD) {}

Communicator::Communicator(MPI_Comm comm) : comm_(comm) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised)
    throw std::logic_error("distributed::Communicator: MPI is not initialised; make a distributed::Environment "
                           "first (or call distributed::run)");
  int rank = 0, size = 1;
  check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  check(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  rank_ = std::size_t(rank);
  size_ = std::size_t(size);
}

void Communicator::barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier"); }

template <class T>
void Communicator::broadcast(T* data, std::size_t count, std::size_t root) const {
  check(MPI_Bcast(data, count_of(count, "broadcast"), mpi_type<T>(), root_of(root, size_, "broadcast"), comm_),
        "MPI_Bcast");
}

template <class T>
void Communicator::all_reduce_sum(T* data, std::size_t count) const {
  check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(count, "all_reduce_sum"), mpi_type<T>(), MPI_SUM, comm_),
        "MPI_Allreduce");
}

std::vector<std::vector<double>> Communicator::gather(const std::vector<double>& mine, std::size_t root) const {
  const int at = root_of(root, size_, "gather");
  int length = count_of(mine.size(), "gather");
  std::vector<int> lengths(rank_ == root ? size_ : 0), offsets(lengths.size());
  check(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, at, comm_), "MPI_Gather");
  std::size_t total = 0;
  for (std::size_t r = 0; r < lengths.size(); ++r) {
    offsets[r] = count_of(total, "gather");
    total += std::size_t(lengths[r]);
  }
  std::vector<double> all(total);
  check(MPI_Gatherv(mine.data(), length, MPI_DOUBLE, all.data(), lengths.data(), offsets.data(), MPI_DOUBLE, at,
                    comm_),
        "MPI_Gatherv");
  std::vector<std::vector<double>> by_rank(lengths.size());
  for (std::size_t r = 0; r < lengths.size(); ++r)
    by_rank[r].assign(all.begin() + offsets[r], all.begin() + offsets[r] + lengths[r]);
  return by_rank;
}

int run(int& argc, char**& argv, const std::function<int(const Communicator&)>& body) {
  Environment mpi(argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string failure;
  try {
    const Communicator world;
    return body(world);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "an exception that is not a std::exception";
  }
  std::fprintf(stderr, "rank %d: %s\n", rank, failure.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);  // the other ranks may be waiting for this one: end them all
  return 1;
}

template void Communicator::broadcast(float*, std::size_t, std::size_t) const;
template void Communicator::broadcast(double*, std::size_t, std::size_t) const;
template void Communicator::all_reduce_sum(float*, std::size_t) const;
template void Communicator::all_reduce_sum(double*, std::size_t) const;

}  // namespace distributed
