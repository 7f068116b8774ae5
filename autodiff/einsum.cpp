// einsum: contractions written as subscripts, through BLAS where it pays.
#include "linalg.hpp"

#include "op.hpp"

namespace autodiff {

}  // namespace autodiff
