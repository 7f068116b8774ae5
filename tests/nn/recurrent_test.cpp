#include <doctest/doctest.h>

#include <nn/nn.hpp>

#include "test_util.hpp"
