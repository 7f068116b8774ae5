// Computational graphs for teaching: the lecture's single neuron
// y = sigmoid(w x + b) and a small 2-2-1 network, each drawn as a graph (DOT,
// rendered to SVG when Graphviz's `dot` is installed) with forward values and,
// after backward, the adjoint dC/dv of every node; the tape printed as a
// Wengert list; and the reverse sweep step by step.
//
//   graph [output directory]      (default: the current directory)
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <autodiff/autodiff.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xtensor.hpp>

using autodiff::Variable;
using V = Variable<double>;

// Writes name.dot and, if Graphviz is there, renders name.svg.
void draw(const V& root, const std::string& directory, const std::string& name) {
  const std::string dot_file = directory + "/" + name + ".dot", svg_file = directory + "/" + name + ".svg";
  std::ofstream(dot_file) << autodiff::to_dot(root);
  const std::string command = "dot -Tsvg '" + dot_file + "' -o '" + svg_file + "' 2>/dev/null";
  if (std::system("command -v dot >/dev/null 2>&1") == 0 && std::system(command.c_str()) == 0)
    std::cout << "drew " << svg_file << "\n";
  else
    std::cout << "wrote " << dot_file << " (install graphviz to render it)\n";
}

int main(int argc, char** argv) {
  const std::string directory = argc > 1 ? argv[1] : ".";

  std::cout << "=== 1. A single neuron: y = sigmoid(w x + b), cost C = (y - t)^2 / 2 ===\n\n";
  V x = V::scalar(1.5).set_name("x");
  V w = V::scalar(0.8, true).set_name("w");
  V b = V::scalar(-0.5, true).set_name("b");
  V t = V::scalar(1.0).set_name("t");
  V z = (w * x + b).set_name("z");
  V y = autodiff::sigmoid(z).set_name("y");
  V cost = (0.5 * autodiff::square(y - t)).set_name("C");
  for (V* v : {&z, &y}) v->retain_grad();  // keep the adjoints of the intermediates for the picture

  autodiff::print_tape<double>(std::cout);
  std::cout << "\n";
  cost.backward({.retain_graph = true, .trace = &std::cout});  // keep the graph to draw it
  std::cout << "\nadjoints: dC/dy = " << y.grad() << ", dC/dz = " << z.grad() << ", dC/dw = " << w.grad()
            << ", dC/db = " << b.grad() << "\n";
  std::cout << "by hand:  dC/dz = (y - t) y (1 - y) = "
            << (y.item() - 1.0) * y.item() * (1 - y.item()) << ", dC/dw = dC/dz * x = "
            << (y.item() - 1.0) * y.item() * (1 - y.item()) * 1.5 << "\n";
  draw(cost, directory, "neuron");
  autodiff::Tape<double>::current().release();

  std::cout << "\n=== 2. A 2-2-1 network: a1 = sigmoid(x W1 + b1), y = sigmoid(a1 W2 + b2) ===\n\n";
  V input(xt::xtensor<double, 2>{{0.5, -1.0}});
  input.set_name("x");
  V W1(xt::xtensor<double, 2>{{0.1, -0.4}, {0.3, 0.2}}, true);
  V b1(xt::xtensor<double, 1>{0.0, 0.1}, true);
  V W2(xt::xtensor<double, 2>{{0.7}, {-0.6}}, true);
  V b2 = V::scalar(0.05, true);
  W1.set_name("W1");
  b1.set_name("b1");
  W2.set_name("W2");
  b2.set_name("b2");
  V z1 = (autodiff::matmul(input, W1) + b1).set_name("z1");
  V a1 = autodiff::sigmoid(z1).set_name("a1");
  V z2 = (autodiff::matmul(a1, W2) + b2).set_name("z2");
  V out = autodiff::sigmoid(z2).set_name("y");
  V loss = (0.5 * autodiff::sum(autodiff::square(out - 1.0))).set_name("C");
  for (V* v : {&z1, &a1, &z2, &out}) v->retain_grad();

  autodiff::print_tape<double>(std::cout);
  std::cout << "\n";
  loss.backward({.retain_graph = true, .trace = &std::cout});
  std::cout << "\ndelta of the output layer dC/dz2 = " << z2.grad() << "\n";
  std::cout << "delta of the hidden layer dC/dz1 = " << z1.grad() << "\n";
  std::cout << "dC/dW1 =\n" << W1.grad() << "\n";
  draw(loss, directory, "network_2_2_1");
  return 0;
}
