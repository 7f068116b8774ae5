// Learning-rate schedulers: each sequence against its formula.
#include <doctest/doctest.h>

#include <nn/scheduler.hpp>
