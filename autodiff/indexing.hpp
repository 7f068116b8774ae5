// Indexing along any axis: index_select, gather, scatter_add, and element
// access x(i, j) recorded on the tape.
#pragma once

#include <cstddef>
#include <vector>

#include "variable.hpp"

namespace autodiff {

}  // namespace autodiff
