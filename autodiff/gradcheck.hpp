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

struct InputCheck {
  std::string name;
  Shape shape;
  double max_abs_error = 0;
  double max_rel_error = 0;  // |yours - numeric| / max(|yours|, |numeric|, atol)
  std::size_t failed_entries = 0;
  bool passed = true;
  std::vector<GradientEntry> worst;  // the failing entries with the largest errors
};

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
// against finite differences: the report names the entries that disagree.
GradCheckReport check_gradients(const GradFunction& f, const std::vector<Array<double>>& inputs,
                                const std::vector<Array<double>>& gradients, const GradCheckOptions& options = {});

// Central finite differences of sum(f(x) * projection) for every input
// (without a projection f must be scalar).
std::vector<Array<double>> numerical_gradients(const GradFunction& f, const std::vector<Array<double>>& inputs,
                                               double eps = 1e-6,
                                               const std::optional<Array<double>>& projection = std::nullopt);

}  // namespace autodiff
