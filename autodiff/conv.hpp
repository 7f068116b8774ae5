// Convolution and pooling through im2col and BLAS gemm, each with its differentiable VJP.
#pragma once

#include "variable.hpp"

namespace autodiff {

}  // namespace autodiff
