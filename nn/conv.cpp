#include "conv.hpp"

namespace nn {

}  // namespace nn
