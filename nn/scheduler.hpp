// Learning-rate schedulers on one interface, stepped per batch or per epoch
// (torch.optim.lr_scheduler). Issue #14: filled in by the scheduler work.
#pragma once

#include "optim.hpp"

namespace nn {}  // namespace nn
