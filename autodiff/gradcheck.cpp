#include "gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <random>

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

GradCheckReport compare(const std::vector<Array<double>>& inputs, const std::vector<Array<double>>& yours,
                        const std::vector<Array<double>>& numeric, const GradCheckOptions& options) {
  GradCheckReport report;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string name = i < options.input_names.size() ? options.input_names[i] : "input " + std::to_string(i);
    report.inputs.push_back(compare_gradient(name, yours[i], numeric[i], options));
    report.passed = report.passed && report.inputs.back().passed;
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
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Shape& shape = inputs[i].shape();
    if (gradients[i].shape() == shape) continue;
    const bool transposed = shape.size() == 2 && gradients[i].shape() == Shape{shape[1], shape[0]};
    throw ShapeError("check_gradients: gradient " + std::to_string(i) + " has shape " +
                     autodiff::to_string(gradients[i].shape()) + ", its input " + autodiff::to_string(shape) +
                     (transposed ? " (the transposed shape: hand in the transpose of yours, a gradient has its input's shape)"
                                 : ""));
  }
  return compare(inputs, gradients, numerical_gradients(f, inputs, options.eps), options);
}

}  // namespace autodiff
