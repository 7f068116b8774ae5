// Batch normalisation and layer normalisation (PyTorch's formulas and running statistics).
#pragma once

#include "module.hpp"

namespace nn {

}  // namespace nn
