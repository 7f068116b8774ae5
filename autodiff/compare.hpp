// Comparisons and masks: x > y, x >= 0.5, ==, logical and/or/not. A mask is a
// plain boolean array: it carries no gradient, and where() picks with it.
#pragma once

#include <xtensor/xarray.hpp>

#include "elementwise.hpp"

namespace autodiff {

}  // namespace autodiff
