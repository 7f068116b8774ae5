#include "normalization.hpp"

namespace nn {

}  // namespace nn
