// Computational graphs for teaching: the lecture's single neuron
// y = sigmoid(w x + b) and a small 2-2-1 network, each drawn as a graph (DOT,
// rendered to SVG when Graphviz's `dot` is installed) top to bottom, with
// forward values and, after backward({.keep_all_grads = true}), the adjoint
// dC/dv of every node; the operands of each op labelled in order (a, b of
// y - t) and the constants of ops shown (0.5 of 0.5 x); the tape printed as a
// Wengert list; and the reverse sweep step by step. Section 3 differentiates
// a derivative: the sweep recorded with create_graph is itself a graph.
//
//   graph [output directory] [--html PATH]      (default: the current directory)
//
// With --html, the 2-2-1 network's loss is also written as an interactive page
// (autodiff::write_html): open PATH in a browser and press the right arrow to
// evaluate the network op by op, then b to step through the reverse sweep, each
// adjoint appearing beside its op's derivative rule with the numbers in it.
#include <cmath>
#include <cstdio>
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
  std::string directory = ".", html_path;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == "--html" && i + 1 < argc)
      html_path = argv[++i];
    else if (argument.rfind("--", 0) == 0) {
      std::cerr << "graph: unknown option '" << argument << "' (usage: graph [output directory] [--html PATH])\n";
      return 2;
    } else
      directory = argument;
  }

  std::cout << "=== 1. A single neuron: y = sigmoid(w x + b), cost C = (y - t)^2 / 2 ===\n\n";
  V x = V::scalar(1.5).set_name("x");
  V w = V::scalar(0.8, true).set_name("w");
  V b = V::scalar(-0.5, true).set_name("b");
  V t = V::scalar(1.0).set_name("t");
  V z = (w * x + b).set_name("z");
  V y = autodiff::sigmoid(z).set_name("y");
  V cost = (0.5 * autodiff::square(y - t)).set_name("C");

  autodiff::print_tape<double>(std::cout);
  std::cout << "\n";
  // Teaching mode: keep every value's adjoint (and the graph) for the picture.
  cost.backward({.trace = &std::cout, .keep_all_grads = true});
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
  V xW1 = autodiff::matmul(input, W1).set_name("xW1");
  V z1 = (xW1 + b1).set_name("z1");
  V a1 = autodiff::sigmoid(z1).set_name("a1");
  V a1W2 = autodiff::matmul(a1, W2).set_name("a1W2");
  V z2 = (a1W2 + b2).set_name("z2");
  V out = autodiff::sigmoid(z2).set_name("y");
  V error = (out - 1.0).set_name("e");
  V squared = autodiff::square(error).set_name("e2");
  V total = autodiff::sum(squared).set_name("s");
  V loss = (0.5 * total).set_name("C");

  autodiff::print_tape<double>(std::cout);
  std::cout << "\n";
  loss.backward({.trace = &std::cout, .keep_all_grads = true});
  std::cout << "\ndelta of the output layer dC/dz2 = " << z2.grad() << "\n";
  std::cout << "delta of the hidden layer dC/dz1 = " << z1.grad() << "\n";
  std::cout << "dC/dW1 =\n" << W1.grad() << "\n";
  draw(loss, directory, "network_2_2_1");
  if (!html_path.empty()) {  // the graph is still there (keep_all_grads keeps it), so the page can sweep it again
    autodiff::write_html(loss, html_path, {.title = "2-2-1 network: C = 0.5 sum((y - 1)^2)"});
    std::cout << "wrote " << html_path << " (open it in a browser: right arrow evaluates, b steps the reverse sweep)\n";
  }
  autodiff::Tape<double>::current().release();

  std::cout << "\n=== 3. A derivative is a computation too: d/dx and d2/dx2 of y = sigmoid(w x + b) ===\n\n";
  // Now x is the variable we differentiate by (in a physics-informed network,
  // x is the position and y the network's u(x)), so x requires a gradient.
  // With create_graph = true the reverse sweep does not just compute numbers:
  // each multiplication of the chain rule is itself an op recorded on the tape,
  // and the gradient it returns is an ordinary Variable with a graph of its own.
  V x3 = V::scalar(1.5, true).set_name("x");
  V w3 = V::scalar(0.8).set_name("w");
  V b3 = V::scalar(-0.5).set_name("b");
  V z3 = (w3 * x3 + b3).set_name("z");
  V y3 = autodiff::sigmoid(z3).set_name("y");
  std::cout << "the forward pass alone:\n";
  autodiff::print_tape<double>(std::cout);

  // dy/dx = sigma'(z) w. The sweep seeds dy/dy = 1, applies sigmoid's rule
  // (g y (1 - y), the op sigmoid_backward) and then the rules of + and *
  // (the w of w x): those steps are now appended to the tape after the forward ops.
  V dy_dx = autodiff::grad(y3, x3, {.create_graph = true}).set_name("dy/dx");
  std::cout << "\nafter dy/dx = autodiff::grad(y, x, {.create_graph = true}), the sweep's own ops follow\n"
               "(c1 is a constant the sweep made: the seed dy/dy = 1):\n";
  autodiff::print_tape<double>(std::cout);
  draw(dy_dx, directory, "neuron_dy_dx");

  // The second derivative: sweep backwards through the graph of dy/dx, which
  // leads through sigmoid_backward (whose own rule, gg g (1 - 2 y), brings in
  // sigma'') and through y's forward ops back to x.
  V d2y_dx2 = autodiff::grad(dy_dx, x3, {.create_graph = true}).set_name("d2y/dx2");
  std::cout << "\nafter d2y/dx2 = autodiff::grad(dy/dx, x, {.create_graph = true}), the second sweep's ops follow:\n";
  autodiff::print_tape<double>(std::cout);
  std::cout << "(read from the top, the new entries are sigmoid_backward's own rule gg g (1 - 2 y), then the chain\n"
               " rule back through y = sigmoid(z), a sigmoid_backward again, and through z = w x + b, a product with w)\n";
  draw(d2y_dx2, directory, "neuron_d2y_dx2");

  // The closed forms: sigma' = sigma (1 - sigma), sigma'' = sigma (1 - sigma) (1 - 2 sigma),
  // and by the chain rule dy/dx = sigma'(z) w, d2y/dx2 = sigma''(z) w^2.
  const double w_value = w3.item(), s = 1 / (1 + std::exp(-(w_value * x3.item() + b3.item())));
  const double first = s * (1 - s) * w_value, second = s * (1 - s) * (1 - 2 * s) * w_value * w_value;
  const double first_error = std::abs(dy_dx.item() - first), second_error = std::abs(d2y_dx2.item() - second);
  std::printf("\n  dy/dx   from the tape %.15f, closed form sigma'(z) w    %.15f (difference %.1e)\n",
              dy_dx.item(), first, first_error);
  std::printf("  d2y/dx2 from the tape %.15f, closed form sigma''(z) w^2 %.15f (difference %.1e)\n",
              d2y_dx2.item(), second, second_error);
  std::cout << "A derivative computed with create_graph is itself a computation on the tape, made of the same\n"
               "ops as the function; so it can be printed, drawn and differentiated again, like any other value.\n";
  const bool ok = first_error < 1e-12 && second_error < 1e-12;
  std::cout << (ok ? "derivatives of derivatives match the closed forms\n" : "MISMATCH with the closed forms\n");
  return ok ? 0 : 1;
}
