#include "recurrent.hpp"

namespace nn {

}  // namespace nn
