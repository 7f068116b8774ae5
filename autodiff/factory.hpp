// Variables made from nothing: zeros, ones, full, eye, arange, linspace, rand, randn.
#pragma once

#include "variable.hpp"

namespace autodiff {

}  // namespace autodiff
