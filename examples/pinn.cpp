// Physics-informed neural networks (PINNs): a network u(x; theta) is trained
// so that it SATISFIES a differential equation, with no solution data at all.
// The loss is the equation's residual at a set of collocation points plus the
// initial conditions (Lagaris, Likas & Fotiadis 1998; Raissi, Perdikaris &
// Karniadakis 2019):
//   (a) decay:      u' + u = 0 on [0, 2], u(0) = 1                 exact u = e^-x
//   (b) oscillator: u'' + u = 0 on [0, 2], u(0) = 0, u'(0) = 1     exact u = sin x
// The residual needs du/dx (and d2u/dx2) of the network INSIDE the loss, and
// training needs the gradient of that loss with respect to the weights: a
// derivative of a derivative. autodiff::grad(..., {.create_graph = true})
// returns du/dx as a Variable whose computation is itself on the tape, so the
// loss's backward() differentiates through it.
//
//   pinn [output directory] [--quick]     (default directory: the current one)
// writes pinn.dat, pinn.gp and, with gnuplot, pinn.png.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <nn/nn.hpp>

// float64: the residual is a difference of derivatives, and we want to see
// errors near 1e-4 without float32's rounding (about 1e-7 relative) in the way.
using T = double;
using V = autodiff::Variable<T>;
using nn::Array;

// n points evenly spaced on [a, b] as a column (n, 1).
Array<T> grid(T a, T b, std::size_t n) {
  Array<T> x = Array<T>::from_shape({n, 1});
  for (std::size_t i = 0; i < n; ++i) x(i, 0) = a + (b - a) * T(i) / T(n - 1);
  return x;
}

// du/dx at every point, as a differentiable Variable. The network maps each row
// of x on its own (u_i depends on x_i only), so the gradient of sum_i u_i with
// respect to x is the column of pointwise derivatives u'(x_i). create_graph
// records the reverse sweep on the tape: the result can be differentiated
// again, by x (for u'') or by the weights (for training).
V d_dx(const V& u, const V& x) { return autodiff::grad(autodiff::sum(u), x, {.create_graph = true}); }

// One differential equation: its loss on the collocation points and its exact solution.
struct Problem {
  std::string name, equation;
  // The physics loss of network values u at collocation points x (x(0) = 0).
  std::function<V(const V& u, const V& x)> loss;
  std::function<T(T)> exact;
};

// (a) u' + u = 0, u(0) = 1. Mean squared residual plus the squared miss of the
// initial condition; both are zero exactly for the true solution e^-x.
V decay_loss(const V& u, const V& x) {
  const V du = d_dx(u, x);
  const V residual = du + u;
  const V u0 = autodiff::slice(u, 0, 0, 1);  // the first collocation point is x = 0
  return autodiff::mean(autodiff::square(residual)) + autodiff::sum(autodiff::square(u0 - 1.0));
}

// (b) u'' + u = 0, u(0) = 0, u'(0) = 1. u'' is the derivative of the Variable
// du, taken the same way: a second recorded sweep, through the first one; the
// training's backward() to the weights then runs back through both.
// The two initial conditions pick sin x out of the solutions a sin x + b cos x.
V oscillator_loss(const V& u, const V& x) {
  const V du = d_dx(u, x);
  const V d2u = d_dx(du, x);
  const V residual = d2u + u;
  const V u0 = autodiff::slice(u, 0, 0, 1), du0 = autodiff::slice(du, 0, 0, 1);
  return autodiff::mean(autodiff::square(residual)) + autodiff::sum(autodiff::square(u0)) +
         autodiff::sum(autodiff::square(du0 - 1.0));
}

// The largest |u(x) - exact(x)| over the test points, evaluated without a tape.
double max_error(nn::Module<T>& model, const Array<T>& x_test, const std::function<T(T)>& exact, Array<T>* values) {
  autodiff::no_grad scope;
  const Array<T> u = model(V(x_test)).value();
  double worst = 0;
  for (std::size_t i = 0; i < u.shape()[0]; ++i) worst = std::max(worst, std::abs(u(i, 0) - exact(x_test(i, 0))));
  if (values) *values = u;
  return worst;
}

// Is the gradient that training uses right? dLoss/dtheta runs back through the
// recorded sweep of du/dx (and d2u/dx2), so check it, as the training loop
// computes it, against central differences of the loss in every weight.
bool check_loss_gradient(nn::Module<T>& model, const Problem& problem) {
  std::vector<V> parameters = model.parameters();  // handles to the model's own weights
  const V x(grid(0.0, 2.0, 10), true);
  model.zero_grad();
  problem.loss(model(x), x).backward({.inputs = parameters});
  std::vector<Array<double>> values, gradients;
  for (const V& p : parameters) {
    values.push_back(p.value());
    gradients.push_back(p.grad());
  }
  model.zero_grad();
  // The loss at other weights: copy them into the model and evaluate. check_gradients
  // evaluates f under no_grad; our loss differentiates u by x inside itself, so
  // it turns recording back on for its own ops (gradgradcheck does the same).
  auto loss_at = [&](const std::vector<V>& weights) {
    autodiff::enable_grad scope;
    for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].data() = weights[i].value();
    return problem.loss(model(x), x);
  };
  autodiff::GradCheckOptions options;
  for (const auto& [name, parameter] : model.named_parameters()) options.input_names.push_back(name);
  const autodiff::GradCheckReport report = autodiff::check_gradients(loss_at, values, gradients, options);
  for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].data() = values[i];  // put the weights back
  std::cout << "dLoss/dtheta of the untrained network on 10 points against finite differences: " << report << "\n";
  return report.passed;
}

struct Result {
  bool gradient_ok;
  double max_error;
  double seconds;
  Array<T> prediction;  // on the test points, for the plot
};

Result solve(const Problem& problem, bool quick, const Array<T>& x_test) {
  std::cout << "=== " << problem.name << ": " << problem.equation << " ===\n\n";
  // A small tanh network 1-32-32-1. tanh is smooth (every derivative exists),
  // which matters here: a ReLU network has u'' = 0 almost everywhere, so the
  // oscillator's residual would be blind to its curvature.
  nn::manual_seed(7);
  nn::Sequential<T> model = nn::mlp<T>({1, 32, 32, 1}, nn::Tanh<T>(), nn::xavier_normal());
  const std::vector<V> parameters = model.parameters();
  const bool gradient_ok = check_loss_gradient(model, problem);

  // Collocation points: where the equation is enforced. x is a leaf that
  // requires a gradient, because we differentiate u by it.
  const std::size_t points = 100;
  const V x(grid(0.0, 2.0, points), true);

  // Adam with a learning rate decaying exponentially from 1e-2 to 1e-4: large
  // steps to find the solution's shape, small ones to polish it. The loss need
  // not fall at every printed step: Adam now and then jumps out of the narrow
  // valley it is in (a spike in the table), and the smaller later steps settle it again.
  const std::size_t steps = quick ? 3000 : 20000;
  const double rate_start = 1e-2, rate_end = 1e-4;
  nn::Adam<T> optimizer(parameters, rate_start);

  std::printf("  %6s  %10s  %9s  %14s\n", "step", "loss", "rate", "max |u - exact|");
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t step = 0; step <= steps; ++step) {
    const double rate = rate_start * std::pow(rate_end / rate_start, double(step) / double(steps));
    optimizer.set_learning_rate(rate);
    optimizer.zero_grad();
    const V loss = problem.loss(model(x), x);
    // Gradients into the weights only (x requires a gradient too, but it is
    // data, not a parameter). This sweep runs back through d_dx's recorded
    // sweep: dLoss/dtheta contains d/dtheta of du/dx.
    loss.backward({.inputs = parameters});
    if (step % (steps / 10) == 0)
      std::printf("  %6zu  %10.3e  %9.2e  %14.3e\n", step, loss.item(), rate,
                  max_error(model, x_test, problem.exact, nullptr));
    if (step < steps) optimizer.step();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  Result result;
  result.gradient_ok = gradient_ok;
  result.seconds = seconds;
  result.max_error = max_error(model, x_test, problem.exact, &result.prediction);
  std::printf("%zu Adam steps on %zu collocation points in %.2f s (%.2f ms a step)\n", steps, points, seconds,
              1e3 * seconds / double(steps + 1));
  std::printf("max |u(x) - exact(x)| on %zu test points in [0, 2]: %.3e\n\n", x_test.shape()[0], result.max_error);
  return result;
}

// Both solutions against the exact ones, and the errors on a log scale.
void plot(const std::string& directory, const Array<T>& x_test, const std::vector<Problem>& problems,
          const std::vector<Result>& results) {
  const std::string stem = directory + "/pinn";
  {
    std::ofstream data(stem + ".dat");
    data.precision(17);  // all digits: the errors plotted are differences near 1e-5
    data << "# x  exact_a  pinn_a  exact_b  pinn_b\n";
    for (std::size_t i = 0; i < x_test.shape()[0]; ++i) {
      const T xi = x_test(i, 0);
      data << xi;
      for (std::size_t p = 0; p < problems.size(); ++p)
        data << " " << problems[p].exact(xi) << " " << results[p].prediction(i, 0);
      data << "\n";
    }
  }
  {
    std::ofstream script(stem + ".gp");
    script << "set terminal pngcairo size 1100,800\n"
           << "set output '" << stem << ".png'\n"
           << "set multiplot layout 2,2 title 'Physics-informed 1-32-32-1 tanh networks (no solution data, only the equation)'\n"
           << "set xlabel 'x'\nset key top right\n"
           << "set title \"(a) u' + u = 0, u(0) = 1\"\n"
           << "plot '" << stem << ".dat' using 1:2 with lines lw 4 lc rgb 'black' title 'exact e^{-x}', \\\n"
           << "     '' using 1:3 with lines lw 2 dt 2 lc rgb 'red' title 'network'\n"
           << "set title \"(b) u'' + u = 0, u(0) = 0, u'(0) = 1\"\nset key bottom center\n"
           << "plot '" << stem << ".dat' using 1:4 with lines lw 4 lc rgb 'black' title 'exact sin x', \\\n"
           << "     '' using 1:5 with lines lw 2 dt 2 lc rgb 'blue' title 'network'\n"
           << "set logscale y\nset format y '10^{%L}'\nset ylabel '|u - exact|'\nset key top left\n"
           << "set title '(a) error'\n"
           << "plot '" << stem << ".dat' using 1:(abs($3-$2)) with lines lw 2 lc rgb 'red' notitle\n"
           << "set title '(b) error'\n"
           << "plot '" << stem << ".dat' using 1:(abs($5-$4)) with lines lw 2 lc rgb 'blue' notitle\n"
           << "unset multiplot\n";
  }
  const std::string command = "gnuplot '" + stem + ".gp' 2>/dev/null";
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0 && std::system(command.c_str()) == 0)
    std::cout << "plotted " << stem << ".png\n\n";
  else
    std::cout << "wrote " << stem << ".dat and .gp (install gnuplot to draw the plot)\n\n";
}

int main(int argc, char** argv) {
  std::string directory = ".";
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else directory = argv[i];
  }
  std::filesystem::create_directories(directory);

  const std::vector<Problem> problems = {
      {"(a) decay", "u' + u = 0 on [0, 2], u(0) = 1, exact u = e^-x", decay_loss, [](T x) { return std::exp(-x); }},
      {"(b) oscillator", "u'' + u = 0 on [0, 2], u(0) = 0, u'(0) = 1, exact u = sin x", oscillator_loss,
       [](T x) { return std::sin(x); }}};
  // 200 test points: not the collocation points, so the error also measures
  // how the network behaves between the points where it was trained.
  const Array<T> x_test = grid(0.0, 2.0, 200);

  std::vector<Result> results;
  for (const Problem& problem : problems) results.push_back(solve(problem, quick, x_test));
  plot(directory, x_test, problems, results);

  // The target: below 1e-3 everywhere on [0, 2] (quick mode trains 3000 steps
  // instead of 20000, and is held to 1e-2).
  const double tolerance = quick ? 1e-2 : 1e-3;
  bool ok = true;
  std::printf("summary:\n");
  for (std::size_t p = 0; p < problems.size(); ++p) {
    const bool passed = results[p].max_error < tolerance;
    ok = ok && passed && results[p].gradient_ok;
    std::printf("  %-15s max error %.3e on 200 test points (< %.0e: %s), %.1f s; loss gradient check %s\n",
                problems[p].name.c_str(), results[p].max_error, tolerance, passed ? "ok" : "FAILED",
                results[p].seconds, results[p].gradient_ok ? "ok" : "FAILED");
  }
  return ok ? 0 : 1;
}
