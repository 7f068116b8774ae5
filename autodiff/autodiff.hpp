// Everything of wengert's autodiff core in one include.
#pragma once

#include "activation.hpp"
#include "compare.hpp"
#include "conv.hpp"
#include "elementwise.hpp"
#include "factory.hpp"
#include "functional.hpp"
#include "gradcheck.hpp"
#include "indexing.hpp"
#include "linalg.hpp"
#include "math.hpp"
#include "op.hpp"
#include "reduction.hpp"
#include "shape.hpp"
#include "tape.hpp"
#include "variable.hpp"
#include "visualize.hpp"
