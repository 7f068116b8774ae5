// wengert::mpi: data-parallel training and parallel grid searches over MPI.
#pragma once

#include "communicator.hpp"
#include "data_parallel.hpp"
