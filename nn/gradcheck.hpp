// Gradient checking for a whole module: every parameter's reverse-mode
// gradient of a loss against central finite differences, in double precision,
// with autodiff::gradcheck (autodiff/gradcheck.hpp) doing the checking; and a
// student's hand-written backprop checked equation by equation (BP1-BP4).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

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

// ---- check_backprop: your BP1-BP4 against the tape, layer by layer ----------------------------
//
// The convention is nn::Linear's (row vectors, one sample per row): layer l
// computes z^l = a^{l-1} W^l + b^l with W^l of shape (n_{l-1}, n_l) = (in, out),
// then a^l = f(z^l) by the parameter-free layers that follow it. The equations:
//   (BP1) delta^L = dC/da^L ⊙ f'(z^L)            (BP3) dC/db^l = sum of delta^l over the batch (rows)
//   (BP2) delta^l = (delta^{l+1} W^{l+1 T}) ⊙ f'(z^l)   (BP4) dC/dW^l = a^{l-1 T} delta^l

// Your backprop of one layer l = 1..L (the model's Linear layers, in order).
struct LayerBackprop {
  Array<double> delta;  // dC/dz^l, (M, n_l): one row per sample
  Array<double> dW;     // dC/dW^l, (n_{l-1}, n_l); the transposed (n_l, n_{l-1}) (PyTorch's layout) is
                        // compared as its transpose and reported as a transpose
  Array<double> db;     // dC/db^l, (n_l) or (1, n_l)
};

struct BackpropCheckOptions {
  // An entry agrees when |yours - reference| <= atol + rtol |reference|: both are
  // exact up to rounding in double; a float32 backprop needs atol 1e-6, rtol 1e-4.
  double atol = 1e-8;
  double rtol = 1e-6;
  std::size_t max_listed = 5;  // worst entries listed per quantity
};

// One quantity of one layer, checked twice.
struct BackpropQuantityCheck {
  std::size_t layer = 0;  // l, 1..L
  std::string quantity;   // "delta^3", "dC/dW^3", "dC/db^3"
  std::string equation;   // "BP1", "BP2", "BP3" or "BP4"
  // Yours against the equation applied to your own values upstream (your
  // delta^{l+1} for BP2, your delta^l for BP3 and BP4; for BP1 the tape's
  // delta^L): it fails at the equation you got wrong, and nowhere below it.
  autodiff::InputCheck equation_check;
  autodiff::InputCheck tape_check;  // yours against the tape's dC/d(quantity)
};

struct BackpropReport {
  bool passed = true;  // every quantity agrees with the tape
  // In the order the equations are used: layer L (BP1, BP3, BP4), then l = L-1 .. 1 (BP2, BP3, BP4).
  std::vector<BackpropQuantityCheck> checks;
  // The first disagreement in that order (layer 0 and empty strings when passed):
  std::size_t layer = 0;
  std::string quantity, equation;
  // "layer 3 (the output layer): delta^3 disagrees (BP1): yours are 32.0 times the tape's: a missing 1/32? ..."
  std::string message;
  std::string to_string() const;  // the table of checks, then the message and the worst entries
};
std::ostream& operator<<(std::ostream& out, const BackpropReport& report);

// Checks your per-layer deltas and gradients of loss(model(batch.inputs), batch)
// against the tape: the model is run layer by layer (in evaluation mode) with
// each Linear's output z^l kept, the tape gives delta^l = dC/dz^l, dC/dW^l and
// dC/db^l, and the walk from l = L down to 1 names the first equation that does
// not hold, with its worst entries and the kind of disagreement (a factor, a
// sign, a transpose, a forgotten f'(z^l), W^{l+1} not transposed, ...).
// The model: Linear layers and parameter-free layers (activations, Flatten,
// Dropout) between them; no leaf's grad() is touched. Wrong sizes, a layer with
// parameters that is not a Linear, or an empty loss are std::invalid_argument.
BackpropReport check_backprop(Sequential<double>& model, const LossFunction<double>& loss, const Batch<double>& batch,
                              const std::vector<LayerBackprop>& yours, const BackpropCheckOptions& options = {});

}  // namespace nn
