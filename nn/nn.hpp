// Everything of wengert's neural-network library in one include.
#pragma once

#include <autodiff/autodiff.hpp>

#include "checkpoint.hpp"
#include "conv.hpp"
#include "data.hpp"
#include "gradcheck.hpp"
#include "init.hpp"
#include "io.hpp"
#include "loss.hpp"
#include "metrics.hpp"
#include "module.hpp"
#include "normalization.hpp"
#include "optim.hpp"
#include "recurrent.hpp"
#include "scheduler.hpp"
#include "train.hpp"
