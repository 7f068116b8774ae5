// Convolutional and pooling layers (NCHW, PyTorch's weight layout).
#pragma once

#include "module.hpp"

namespace nn {

}  // namespace nn
