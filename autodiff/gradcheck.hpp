// Gradient checking for anyone's gradients: reverse mode (or gradients you
// derived by hand) against central finite differences, in double precision.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "variable.hpp"

namespace autodiff {

// A function of several inputs whose gradient is checked.
using GradFunction = std::function<Variable<double>(const std::vector<Variable<double>>& inputs)>;

struct GradCheckOptions {
  double eps = 1e-6;   // step of the central difference (f(x + eps) - f(x - eps)) / 2 eps
  double atol = 1e-5;  // an entry passes when |yours - numeric| <= atol + rtol |numeric|
  double rtol = 1e-3;  // (PyTorch's gradcheck defaults)
  std::vector<std::string> input_names;  // for the report; "input 0", "input 1", ... if empty
  std::size_t max_listed = 5;            // worst disagreeing entries listed per input
  unsigned seed = 0;                     // of the random projection used for non-scalar outputs
};

struct GradientEntry {
  std::size_t flat_index;
  std::string index;  // "[2, 7]"
  double yours;       // the gradient checked (reverse mode or handed in)
  double numeric;     // central finite difference
  double abs_error;
};

// What kind of disagreement a failed gradient shows, when it is a simple one
// (autodiff::diagnose). Tested in this order; the first that fits is named.
enum class Disagreement {
  none,               // it agrees: nothing to say
  not_finite,         // NaN or infinity among yours or the reference
  all_zero,           // yours is zero everywhere, the reference is not
  sign,               // yours = -reference
  factor,             // yours = c * reference for one constant c (not 1, not -1)
  transpose,          // yours.T = reference (2-D; for a non-square shape, yours read as its transpose)
  zero_entries,       // yours is zero where the reference is not, and agrees elsewhere: a missing term
  broadcast_term,     // yours = reference + a term that is the same along one axis
  elementwise_factor, // yours = q ⊙ reference, every q of one sign (an f'(z) too many or too few?)
  no_simple_pattern,  // none of these
};

struct Diagnosis {
  Disagreement kind = Disagreement::none;
  double factor = 1;     // c for factor and sign (-1); for transpose, the factor of yours.T (1 if none);
                         // for elementwise_factor, the largest q (with its sign)
  std::size_t axis = 0;  // broadcast_term: the axis along which yours - reference does not change
  std::string sentence;  // for a student: "yours are 16.0 times the finite differences: a missing 1/16?"; empty when it agrees
};

// Names the kind of disagreement between a gradient and the reference it should
// equal (same shape), with the check's tolerance: an entry agrees when
// |yours - reference| <= atol + rtol |reference|. A fit is named only when
// every entry agrees once it is undone; a factor c is fitted by least squares
// over the entries with |reference| > max(atol, 1e-3 max |reference|) (at
// least 2 of them), must differ from 1 by more than 1%, and is called 1/k or k
// when within 0.1% of an integer k. "Zero" means |yours| <= 1e-3 atol. An
// elementwise factor needs 4 significant entries, all with ratios of one sign.
// A gradient that agrees gets kind none and an empty sentence.
Diagnosis diagnose(const Array<double>& yours, const Array<double>& reference, double atol = 1e-5, double rtol = 1e-3,
                   const std::string& reference_name = "the finite differences");

struct InputCheck {
  std::string name;
  Shape shape;
  double max_abs_error = 0;
  double max_rel_error = 0;  // |yours - numeric| / max(|yours|, |numeric|, atol)
  std::size_t failed_entries = 0;
  bool passed = true;
  std::vector<GradientEntry> worst;  // the failing entries with the largest errors
  Diagnosis diagnosis;               // the kind of disagreement (kind none when it passed)
};

// One gradient against its reference, entry by entry, with the diagnosis: what
// gradcheck and check_gradients report per input (and nn::check_backprop per
// quantity, against the tape). Shapes must be equal.
InputCheck compare_gradient(const std::string& name, const Array<double>& yours, const Array<double>& reference,
                            const GradCheckOptions& options = {},
                            const std::string& reference_name = "the finite differences");

struct GradCheckReport {
  std::vector<InputCheck> inputs;
  bool passed = true;
  std::string to_string() const;
};
std::ostream& operator<<(std::ostream& out, const GradCheckReport& report);

// Reverse-mode gradients of f at `inputs` against finite differences. A
// non-scalar output is reduced to the scalar sum(f(x) * r) with a fixed random
// r, which checks the whole vector-Jacobian product.
GradCheckReport gradcheck(const GradFunction& f, const std::vector<Array<double>>& inputs,
                          const GradCheckOptions& options = {});

// Second derivatives of f at `inputs` (reverse over reverse, through the
// graph that grad(..., {.create_graph = true}) records) against central
// differences of the first (as PyTorch's gradgradcheck): checks
// d/dx <v, d<u, f(x)>/dx> for random u and v, and its derivative in u.
GradCheckReport gradgradcheck(const GradFunction& f, const std::vector<Array<double>>& inputs,
                              const GradCheckOptions& options = {});

// Gradients computed elsewhere (by hand-derived backprop, say) of a scalar f
// against finite differences: the report names the entries that disagree and
// the kind of disagreement (a factor, a sign, a transpose, ...). A gradient of
// the input's shape transposed is a ShapeError that says so.
GradCheckReport check_gradients(const GradFunction& f, const std::vector<Array<double>>& inputs,
                                const std::vector<Array<double>>& gradients, const GradCheckOptions& options = {});

// Central finite differences of sum(f(x) * projection) for every input
// (without a projection f must be scalar).
std::vector<Array<double>> numerical_gradients(const GradFunction& f, const std::vector<Array<double>>& inputs,
                                               double eps = 1e-6,
                                               const std::optional<Array<double>>& projection = std::nullopt);

}  // namespace autodiff
