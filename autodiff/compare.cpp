#include "compare.hpp"

#include "op.hpp"

namespace autodiff {

}  // namespace autodiff
