#include "gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <ostream>
#include <random>
#include <sstream>

#include "elementwise.hpp"
#include "reduction.hpp"
#include "tape.hpp"

namespace autodiff {

namespace {

std::vector<Variable<double>> as_leaves(const std::vector<Array<double>>& inputs, bool requires_grad) {
  std::vector<Variable<double>> leaves;
  for (const auto& x : inputs) leaves.emplace_back(x, requires_grad);
  return leaves;
}

double projected(const Variable<double>& y, const std::optional<Array<double>>& projection) {
  if (!projection) return y.item();
  double total = 0;
  for (std::size_t i = 0; i < y.size(); ++i) total += y.value().data()[i] * projection->data()[i];
  return total;
}

std::string index_text(const Shape& shape, std::size_t flat) {
  std::vector<std::size_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::string text = "[";
  for (std::size_t d = 0; d < index.size(); ++d) text += (d ? ", " : "") + std::to_string(index[d]);
  return text + "]";
}

GradCheckReport compare(const std::vector<Array<double>>& inputs, const std::vector<Array<double>>& yours,
                        const std::vector<Array<double>>& numeric, const GradCheckOptions& options) {
  GradCheckReport report;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    InputCheck check;
    check.name = i < options.input_names.size() ? options.input_names[i] : "input " + std::to_string(i);
    check.shape = inputs[i].shape();
    std::vector<GradientEntry> failing;
    for (std::size_t j = 0; j < inputs[i].size(); ++j) {
      const double a = yours[i].data()[j], n = numeric[i].data()[j];
      const double error = std::abs(a - n);
      const double rel = error / std::max({std::abs(a), std::abs(n), options.atol});
      check.max_abs_error = std::max(check.max_abs_error, error);
      check.max_rel_error = std::max(check.max_rel_error, rel);
      if (!(error <= options.atol + options.rtol * std::abs(n))) {  // NaN fails too
        ++check.failed_entries;
        failing.push_back({j, index_text(check.shape, j), a, n, error});
      }
    }
    std::sort(failing.begin(), failing.end(),
              [](const GradientEntry& x, const GradientEntry& y) { return x.abs_error > y.abs_error; });
    if (failing.size() > options.max_listed) failing.resize(options.max_listed);
    check.worst = std::move(failing);
    check.passed = check.failed_entries == 0;
    report.passed = report.passed && check.passed;
    report.inputs.push_back(std::move(check));
  }
  return report;
}

}  // namespace

std::vector<Array<double>> numerical_gradients(const GradFunction& f, const std::vector<Array<double>>& inputs,
                                               double eps, const std::optional<Array<double>>& projection) {
  // The inputs are constants, so f records nothing of theirs; grad mode stays as
  // it is, so that an f that takes a derivative itself (a PINN loss) still can.
  std::vector<Variable<double>> leaves = as_leaves(inputs, false);
  std::vector<Array<double>> gradients;
  for (auto& leaf : leaves) {
    Array<double> gradient = Array<double>::from_shape(leaf.shape());
    double* x = leaf.data().data();
    for (std::size_t j = 0; j < leaf.size(); ++j) {
      const double saved = x[j];
      x[j] = saved + eps;
      const double up = projected(f(leaves), projection);
      x[j] = saved - eps;
      const double down = projected(f(leaves), projection);
      x[j] = saved;
      gradient.data()[j] = (up - down) / (2 * eps);
    }
    gradients.push_back(std::move(gradient));
  }
  return gradients;
}

static std::optional<Array<double>> random_projection(const Shape& shape, unsigned seed) {
  std::mt19937 engine(seed);
  std::normal_distribution<double> normal;
  Array<double> r = Array<double>::from_shape(shape);
  for (auto& v : r) v = normal(engine);
  return r;
}

GradCheckReport gradcheck(const GradFunction& f, const std::vector<Array<double>>& inputs,
                          const GradCheckOptions& options) {
  if (!grad_enabled())
    throw GraphError("gradcheck: called inside a no_grad scope, where nothing is recorded to differentiate");
  std::vector<Variable<double>> leaves = as_leaves(inputs, true);
  Variable<double> y = f(leaves);
  std::optional<Array<double>> projection;
  if (y.size() != 1) projection = random_projection(y.shape(), options.seed);
  std::vector<Array<double>> reverse;
  std::vector<Variable<double>> gradients(leaves.size());
  if (y.requires_grad()) {
    GradOptions<double> grad_options{.allow_unused = true};
    if (projection) grad_options.grad_outputs = {Variable<double>(*projection)};
    gradients = grad(y, leaves, grad_options);
  }
  for (std::size_t i = 0; i < leaves.size(); ++i)  // an input f does not use has gradient zero
    reverse.push_back(gradients[i].defined() ? gradients[i].value() : Array<double>(xt::zeros<double>(inputs[i].shape())));
  return compare(inputs, reverse, numerical_gradients(f, inputs, options.eps, projection), options);
}

GradCheckReport gradgradcheck(const GradFunction& f, const std::vector<Array<double>>& inputs,
                              const GradCheckOptions& options) {
  if (!grad_enabled())
    throw GraphError("gradgradcheck: called inside a no_grad scope, where nothing is recorded to differentiate");
  Shape output_shape;
  {
    no_grad scope;
    output_shape = f(as_leaves(inputs, false)).shape();
  }
  // h(x, u) = sum_i <v_i, d<u, f(x)>/dx_i>, with random u and v: its gradient is
  // made of second derivatives (and, in u, of first ones through the graph that
  // the first sweep recorded), checked against central differences of h.
  const Array<double> u = *random_projection(output_shape, options.seed + 1);
  std::vector<Array<double>> v;
  for (std::size_t i = 0; i < inputs.size(); ++i) v.push_back(*random_projection(inputs[i].shape(), options.seed + 2 + unsigned(i)));
  const std::size_t n = inputs.size();
  GradFunction h = [&](const std::vector<Variable<double>>& args) {
    enable_grad scope;  // the finite differences call h under no_grad: the first gradients still need a graph
    std::vector<Variable<double>> x;
    for (std::size_t i = 0; i < n; ++i) x.push_back(args[i].requires_grad() ? args[i] : Variable<double>(args[i].value(), true));
    Variable<double> y = f(x);
    Variable<double> total = Variable<double>::scalar(0.0);
    if (!y.requires_grad()) return total;
    std::vector<Variable<double>> first =
        grad(y, x, {.grad_outputs = {args[n]}, .create_graph = true, .allow_unused = true});
    for (std::size_t i = 0; i < n; ++i)
      if (first[i].defined()) total = total + sum(first[i] * Variable<double>(v[i]));
    return total;
  };
  std::vector<Array<double>> h_inputs = inputs;
  h_inputs.push_back(u);
  GradCheckOptions h_options = options;
  if (h_options.input_names.size() == n) h_options.input_names.push_back("grad_output");
  return gradcheck(h, h_inputs, h_options);
}

GradCheckReport check_gradients(const GradFunction& f, const std::vector<Array<double>>& inputs,
                                const std::vector<Array<double>>& gradients, const GradCheckOptions& options) {
  if (gradients.size() != inputs.size())
    throw ShapeError("check_gradients: " + std::to_string(gradients.size()) + " gradients for " +
                     std::to_string(inputs.size()) + " inputs");
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (gradients[i].shape() != inputs[i].shape())
      throw ShapeError("check_gradients: gradient " + std::to_string(i) + " has shape " +
                       autodiff::to_string(gradients[i].shape()) + ", its input " +
                       autodiff::to_string(inputs[i].shape()));
  return compare(inputs, gradients, numerical_gradients(f, inputs, options.eps), options);
}

std::ostream& operator<<(std::ostream& stream, const GradCheckReport& report) {
  return stream << report.to_string();
}

std::string GradCheckReport::to_string() const {
  const GradCheckReport& report = *this;
  std::ostringstream out;  // formatting flags stay local to this stream
  out << "gradient check " << (report.passed ? "passed" : "FAILED") << "\n";
  out << "  " << std::left << std::setw(16) << "input" << std::setw(14) << "shape" << std::setw(14) << "max abs err"
      << std::setw(14) << "max rel err" << "failed entries\n";
  for (const auto& input : report.inputs) {
    std::size_t count = 1;
    for (auto d : input.shape) count *= d;
    out << "  " << std::left << std::setw(16) << input.name << std::setw(14) << autodiff::to_string(input.shape)
        << std::setw(14) << std::setprecision(3) << input.max_abs_error << std::setw(14) << input.max_rel_error
        << input.failed_entries << " of " << count << "\n";
    for (const auto& entry : input.worst)
      out << "      " << input.name << entry.index << ": yours " << std::setprecision(8) << entry.yours
          << ", finite differences " << entry.numeric << "\n";
  }
  return out.str();
}

}  // namespace autodiff
