// Everything of wengert's autodiff core in one include.
#pragma once

#include "activation.hpp"
#include "elementwise.hpp"
#include "functional.hpp"
#include "gradcheck.hpp"
#include "linalg.hpp"
#include "op.hpp"
#include "reduction.hpp"
#include "shape.hpp"
#include "tape.hpp"
#include "variable.hpp"
#include "visualize.hpp"
