// Each op: its value, then its backward closure (g = dC/d out), side by side.
#include "math.hpp"

#include "op.hpp"

namespace autodiff {

}  // namespace autodiff
