#include "factory.hpp"

namespace autodiff {

}  // namespace autodiff
