// Forward values, conventions and errors of the ops in autodiff/linalg.hpp
// (their gradients are checked in gradients_test.cpp).
#include <doctest/doctest.h>

#include <autodiff/autodiff.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;
