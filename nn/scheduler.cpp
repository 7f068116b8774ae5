#include "scheduler.hpp"

namespace nn {}  // namespace nn
