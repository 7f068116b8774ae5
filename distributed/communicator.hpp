// MPI for wengert: the job's processes ("ranks"), the few collectives that
// data-parallel training and a parallel grid search need, and a main that turns
// an exception on any rank into the end of the whole job (not a hang).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include <mpi.h>

namespace distributed {

// MPI_Init for as long as it lives (MPI_Finalize after), unless MPI was already
// initialised by someone else. Only the thread that made it calls MPI (wengert's
// own thread pool never does): MPI_THREAD_FUNNELED.
class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  bool owns_ = false;
};

// A group of ranks (MPI_COMM_WORLD by default). Every collective below must be
// called by all its ranks, in the same order, as MPI requires.
class Communicator {
 public:
  Communicator();  // MPI_COMM_WORLD; MPI must be initialised (Environment)
  explicit Communicator(MPI_Comm comm);
  std::size_t rank() const { return rank_; }
  std::size_t size() const { return size_; }
  MPI_Comm get() const { return comm_; }
  void barrier() const;
  // data[0..count) from rank `root` to every rank (float or double).
  template <class T>
  void broadcast(T* data, std::size_t count, std::size_t root = 0) const;
  // data[0..count) := its sum over the ranks, on every rank.
  template <class T>
  void all_reduce_sum(T* data, std::size_t count) const;
  // On rank `root`: every rank's values, by rank (of any lengths); elsewhere: empty.
  std::vector<std::vector<double>> gather(const std::vector<double>& mine, std::size_t root = 0) const;

 private:
  MPI_Comm comm_;
  std::size_t rank_ = 0, size_ = 1;
};

// main's body under MPI: an exception that leaves body() on any rank is printed
// to stderr as "rank r: <what()>" and ends the whole job with MPI_Abort (exit code
// 1), so that the other ranks, waiting in a collective, do not hang. Returns what
// body returns.
//   int main(int argc, char** argv) {
//     return distributed::run(argc, argv, [&](const distributed::Communicator& world) { ...; return 0; });
//   }
int run(int& argc, char**& argv, const std::function<int(const Communicator&)>& body);

// The MPI type of float and double (for code that calls MPI itself).
template <class T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>();
template <>
MPI_Datatype mpi_type<double>();

}  // namespace distributed
