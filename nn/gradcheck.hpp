// Gradient checking for a whole module: every parameter's reverse-mode
// gradient of a loss against central finite differences, in double precision,
// with autodiff::gradcheck (autodiff/gradcheck.hpp) doing the checking.
#pragma once

#include <string>

#include <autodiff/gradcheck.hpp>

#include "data.hpp"
#include "module.hpp"
#include "train.hpp"

namespace nn {

// autodiff's report with one entry per parameter (named as named_parameters():
// "0.weight", "lstm.weight_hh_l0", ...) and the worst of them.
struct ModuleGradCheckReport : autodiff::GradCheckReport {
  std::string worst_parameter;  // the largest relative error; empty when no parameter was checked
  std::string worst_entry;      // its worst disagreeing entry, "[2, 7]" (empty when it passed)
  double worst_abs_error = 0;   // that parameter's max |yours - numeric|
  // autodiff's table, then "worst: <parameter><entry>, max abs error ..." when it failed.
  std::string to_string() const;
};

// Checks d loss(model(batch.inputs), batch) / d p for every parameter p of a
// float64 model at its current values (as torch.autograd.gradcheck over
// model.parameters()). The model runs through nn::functional_call with the
// checked values in place of its parameters, in evaluation mode (Dropout off,
// BatchNorm on its running statistics, so that every call computes the same
// function and no buffer changes); afterwards the model is as it was.
// Each parameter entry costs two forward passes: keep the model and the batch small.
// A model without parameters or an empty loss function is a std::invalid_argument.
ModuleGradCheckReport gradcheck(Module<double>& model, const LossFunction<double>& loss, const Batch<double>& batch,
                                const autodiff::GradCheckOptions& options = {});

}  // namespace nn
