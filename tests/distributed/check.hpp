// A check for tests run under mpirun (doctest's main knows no MPI): a failure
// prints its rank and line, and the rank's exit code counts the failures.
#pragma once

#include <cstdio>

namespace test {
inline int failures = 0;
inline int rank = 0;
}  // namespace test

#define MPI_CHECK(condition)                                                                       \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      ++test::failures;                                                                            \
      std::fprintf(stderr, "rank %d: %s:%d: CHECK(%s) failed\n", test::rank, __FILE__, __LINE__, #condition); \
    }                                                                                              \
  } while (0)
