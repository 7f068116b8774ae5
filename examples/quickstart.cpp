// A first look at wengert's tape: define a function on variables, run it,
// differentiate it with backward(), read the gradients, and check them.
//
//   f(w, b) = sigmoid(x . w + b)  for fixed x: the lecture's single neuron.
#include <iostream>

#include <autodiff/autodiff.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xtensor.hpp>

using autodiff::Variable;

int main() {
  // The leaves: inputs x (constant) and parameters w, b (we want dC/dw, dC/db).
  Variable<double> x(autodiff::Array<double>{{1.0, 2.0, -1.0}});  // one sample, 3 features
  Variable<double> w(xt::xtensor<double, 2>{{0.5}, {-0.25}, {0.1}}, /*requires_grad=*/true);  // 3 x 1
  Variable<double> b = Variable<double>::scalar(0.2, true);
  x.set_name("x");
  w.set_name("w");
  b.set_name("b");

  // The forward pass records every op on the tape (a Wengert list).
  Variable<double> z = matmul(x, w) + b;
  Variable<double> y = sigmoid(z);
  Variable<double> cost = 0.5 * square(y - 1.0);  // C = (y - t)^2 / 2 with target t = 1
  z.set_name("z");
  z.retain_grad();  // keep dC/dz, the neuron's "delta"

  std::cout << "The tape after the forward pass:\n";
  autodiff::print_tape<double>(std::cout);

  std::cout << "\n";
  cost.backward({.trace = &std::cout});  // the reverse sweep, step by step

  std::cout << "\ncost    = " << cost.item() << "\n";
  std::cout << "dC/dz   = " << z.grad() << "   (delta = (y - t) y (1 - y))\n";
  std::cout << "dC/dw   =\n" << w.grad() << "\n   (= x^T delta)\n";
  std::cout << "dC/db   = " << b.grad() << "\n\n";

  // The same function checked against central finite differences.
  auto neuron_cost = [&](const std::vector<Variable<double>>& p) {
    return 0.5 * square(sigmoid(matmul(x, p[0]) + p[1]) - 1.0);
  };
  autodiff::GradCheckReport report =
      autodiff::gradcheck(neuron_cost, {w.value(), b.value()}, {.input_names = {"w", "b"}});
  std::cout << report;
  return report.passed ? 0 : 1;
}
