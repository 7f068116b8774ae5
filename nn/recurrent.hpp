// Recurrent layers (RNN, LSTM, GRU; batch-first, PyTorch's gate order), normalisation
// (BatchNorm1d/2d, LayerNorm) and Embedding.
#pragma once

#include "module.hpp"

namespace nn {

}  // namespace nn
