#include "conv.hpp"

#include "op.hpp"

namespace autodiff {

}  // namespace autodiff
