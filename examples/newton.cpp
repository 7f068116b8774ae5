// Newton's method without ever forming the Hessian: softmax (multinomial
// logistic) regression on the 8x8 digits, all ten classes, fitted by
//   (1) Newton-CG: each step solves H d = -g by conjugate gradients, which
//       needs H only through products H v (Hessian-vector products, computed
//       by differentiating the gradient: grad of grad, Pearlmutter 1994);
//   (2) plain gradient descent, d = -g,
// both with the same backtracking (Armijo) line search, from the same start,
// to the same loss. Printed: the loss per iteration, and the iterations and
// wall time each method needs.
//
// The loss of the parameters Theta (65 x 10: a weight per pixel and class,
// and a last row of biases) on the n training images is
//   f(Theta) = 1/n sum_i cross_entropy(softmax(x_i Theta), label_i) + lambda/2 |Theta|^2.
// f is convex. Without the L2 term its Hessian is singular: adding the same
// number to every class's logit changes no probability, so f is flat in that
// direction (and in the weights of the pixels that are 0 in every image).
// lambda > 0 makes H positive definite, so Newton's step is defined and CG
// applies (Nocedal & Wright, Numerical Optimization, 2nd ed., ch. 5 and 7.1).
//
//   newton [output directory] [--quick]     (default directory: the current one)
// (--quick stops gradient descent after 300 iterations.)
// writes newton.dat, newton.gp and, with gnuplot, newton.png.
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
#include <random>
#include <string>
#include <vector>

#include <nn/nn.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

// float64: Newton converges to the last digits, and float32's 1e-7 would hide that.
using T = double;
using V = autodiff::Variable<T>;
using nn::Array;
using Clock = std::chrono::steady_clock;

// The L2 strength. Every eigenvalue of H is at least lambda, while the largest
// are set by the data, so a small lambda means a large condition number of H:
// the smaller it is, the more iterations gradient descent needs (its error shrinks
// by a factor about 1 - 1/condition per step), while Newton's count hardly moves.
const T lambda = 1e-4;

// <a, b> over all entries.
T dot(const Array<T>& a, const Array<T>& b) { return xt::sum(a * b)(); }
T norm(const Array<T>& a) { return std::sqrt(dot(a, a)); }

// The training images with a column of ones appended (for the biases), and their labels.
struct Data {
  V inputs;  // (n, 65), a constant
  nn::Labels labels;
};

// f(Theta): the mean cross-entropy of the softmax plus the L2 term. Ordinary
// ops on the tape, so everything below (gradient, Hessian-vector products)
// comes from differentiating this one function.
V loss(const Data& data, const V& theta) {
  const V logits = autodiff::matmul(data.inputs, theta);
  return nn::cross_entropy(logits, data.labels) + T(lambda / 2) * autodiff::sum(autodiff::square(theta));
}

// f at a point, without recording anything (for the line search).
T loss_value(const Data& data, const Array<T>& theta) {
  autodiff::no_grad scope;
  return loss(data, V(theta)).item();
}

// Backtracking (Armijo) line search: the largest t in t0, t0/2, t0/4, ... with
// f(theta + t d) <= f(theta) + c t <g, d>, a sufficient decrease. Returns t, and the new loss in f_new.
T line_search(const Data& data, const Array<T>& theta, T f, const Array<T>& g, const Array<T>& d, T t0, T& f_new) {
  const T c = 1e-4, slope = dot(g, d);  // slope < 0: d is a descent direction
  for (T t = t0;; t /= 2) {
    f_new = loss_value(data, theta + t * d);
    if (f_new <= f + c * t * slope || t < 1e-12) return t;
  }
}

// One row of the history: the loss after an iteration and the time so far.
struct Record {
  std::size_t iteration;
  T loss;
  double seconds;
};

// ---------------------------------------------------------------------------
// Newton-CG
// ---------------------------------------------------------------------------
// Conjugate gradients (Hestenes & Stiefel 1952) for H d = b with H symmetric
// positive definite, given only v -> H v. Stops when |H d - b| <= tolerance.
Array<T> conjugate_gradients(const std::function<Array<T>(const Array<T>&)>& hessian_times, const Array<T>& b,
                             T tolerance, std::size_t max_iterations, std::size_t& iterations) {
  Array<T> d = xt::zeros<T>(b.shape());
  Array<T> r = b;  // the residual b - H d
  Array<T> p = r;  // the search direction, H-conjugate to the earlier ones
  T rr = dot(r, r);
  for (iterations = 0; iterations < max_iterations && std::sqrt(rr) > tolerance; ++iterations) {
    const Array<T> hp = hessian_times(p);
    const T curvature = dot(p, hp);
    if (curvature <= 0) break;  // cannot happen for a positive definite H; a guard for other losses
    const T alpha = rr / curvature;
    d += alpha * p;
    r -= alpha * hp;
    const T rr_next = dot(r, r);
    p = r + (rr_next / rr) * p;
    rr = rr_next;
  }
  return d;
}

// Newton's method from theta (overwritten with the minimiser) until |grad f| <= gradient_tolerance.
std::vector<Record> newton_cg(const Data& data, Array<T>& theta, T gradient_tolerance, std::size_t& hvps) {
  std::vector<Record> history;
  hvps = 0;
  const auto start = Clock::now();
  history.push_back({0, loss_value(data, theta), 0.0});
  std::printf("  %4s  %20s  %11s  %8s  %6s\n", "iter", "loss", "|g| before", "CG steps", "step t");
  for (std::size_t k = 1; k <= 50; ++k) {
    // The gradient with create_graph: a Variable whose computation is on the
    // tape, so that it can be differentiated once more.
    const V at(theta, true);
    const V f = loss(data, at);
    const V g = autodiff::grad(f, at, {.create_graph = true});
    const Array<T> gradient = g.value();
    const T gradient_norm = norm(gradient);
    if (gradient_norm <= gradient_tolerance) break;

    // H v = d/dTheta <g(Theta), v>: one reverse sweep over the gradient's
    // graph, seeded with v. retain_graph keeps that graph for the next CG step.
    auto hessian_times = [&](const Array<T>& v) {
      ++hvps;
      return autodiff::grad(g, at, {.grad_outputs = {V(v)}, .retain_graph = true}).value();
    };
    // Solve H d = -g only as accurately as it pays: loosely far from the
    // minimum, ever more tightly near it (the forcing term min(0.5, sqrt|g|) |g|
    // of Nocedal & Wright's algorithm 7.1 gives superlinear convergence).
    std::size_t cg_steps = 0;
    const Array<T> d = conjugate_gradients(hessian_times, Array<T>(-gradient),
                                           std::min<T>(0.5, std::sqrt(gradient_norm)) * gradient_norm, 200,
                                           cg_steps);
    T f_new;
    const T t = line_search(data, theta, f.item(), gradient, d, 1.0, f_new);  // Newton's natural step is t = 1
    theta += t * d;
    history.push_back({k, f_new, std::chrono::duration<double>(Clock::now() - start).count()});
    std::printf("  %4zu  %20.15f  %11.2e  %8zu  %6.3g\n", k, f_new, gradient_norm, cg_steps, t);
  }
  return history;
}

// 1 -> 2 -> 5 -> 10 -> 20 -> 50 -> ...: the iterations at which to print.
std::size_t next_in_1_2_5(std::size_t n) {
  std::size_t leading = n;
  while (leading % 10 == 0) leading /= 10;
  return leading == 2 ? n / 2 * 5 : n * 2;
}

// ---------------------------------------------------------------------------
// Gradient descent
// ---------------------------------------------------------------------------
// theta -= t g, with the line search starting each iteration from twice the
// last accepted step (so t adapts to the curvature instead of being guessed).
std::vector<Record> gradient_descent(const Data& data, Array<T> theta, T target, std::size_t max_iterations) {
  std::vector<Record> history;
  const auto start = Clock::now();
  T f = loss_value(data, theta), t = 1;
  history.push_back({0, f, 0.0});
  std::size_t next_print = 1;
  std::printf("  %6s  %20s  %11s  %9s\n", "iter", "loss", "|g| before", "step t");
  for (std::size_t k = 1; k <= max_iterations && f > target; ++k) {
    const V at(theta, true);
    const V f_variable = loss(data, at);
    const Array<T> gradient = autodiff::grad(f_variable, at).value();
    t = line_search(data, theta, f, gradient, Array<T>(-gradient), 2 * t, f);
    theta -= t * gradient;
    history.push_back({k, f, std::chrono::duration<double>(Clock::now() - start).count()});
    if (k == next_print || f <= target || k == max_iterations) {  // at iterations 1, 2, 5, 10, 20, 50, ...
      std::printf("  %6zu  %20.15f  %11.2e  %9.3g\n", k, f, norm(gradient), t);
      next_print = next_in_1_2_5(next_print);
    }
  }
  return history;
}

// The first record at or below the target loss, or nullptr.
const Record* first_below(const std::vector<Record>& history, T target) {
  for (const Record& r : history)
    if (r.loss <= target) return &r;
  return nullptr;
}

// ---------------------------------------------------------------------------
void plot(const std::string& directory, const std::vector<Record>& newton, const std::vector<Record>& descent,
          T minimum) {
  const std::string stem = directory + "/newton";
  {
    std::ofstream data(stem + ".dat");
    data.precision(17);
    for (const auto* history : {&newton, &descent}) {
      data << "# iteration  seconds  f - f*\n";
      for (const Record& r : *history)
        if (r.loss - minimum > 0) data << r.iteration << " " << r.seconds << " " << r.loss - minimum << "\n";
      data << "\n\n";
    }
  }
  {
    std::ofstream script(stem + ".gp");
    script << "set terminal pngcairo size 1100,450\n"
           << "set output '" << stem << ".png'\n"
           << "set multiplot layout 1,2 title 'Softmax regression on the digits: f - f* (f* = the minimum Newton reaches)'\n"
           << "set logscale y\nset format y '10^{%L}'\nset ylabel 'f - f*'\n"
           << "set logscale x\nset xlabel 'iteration + 1'\n"
           << "plot '" << stem << ".dat' index 0 using ($1+1):3 with linespoints lw 2 title 'Newton-CG', \\\n"
           << "     '' index 1 using ($1+1):3 with lines lw 2 title 'gradient descent'\n"
           << "unset logscale x\nset xlabel 'seconds'\n"
           << "plot '" << stem << ".dat' index 0 using 2:3 with linespoints lw 2 title 'Newton-CG', \\\n"
           << "     '' index 1 using 2:3 with lines lw 2 title 'gradient descent'\n"
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

  // The digits, 80/20 split, pixels standardised with the training set's statistics.
  nn::Dataset<T> digits = nn::load_digits<T>(WENGERT_DATA_DIR "/digits.csv.gz");
  auto [train, test] = nn::train_test_split(digits, 0.2, /*seed=*/1);
  nn::StandardScaler<T> scaler;
  train.inputs = scaler.fit_transform(train.inputs);
  test.inputs = scaler.transform(test.inputs);
  auto with_ones = [](const Array<T>& x) {
    Array<T> result = xt::ones<T>({x.shape()[0], x.shape()[1] + 1});
    xt::view(result, xt::all(), xt::range(0, x.shape()[1])) = x;
    return result;
  };
  const Data data{V(with_ones(train.inputs)), train.labels};
  const std::size_t features = data.inputs.shape()[1], classes = 10;
  std::printf("softmax regression on %zu training images, %zu x %zu = %zu parameters, lambda = %g\n\n",
              train.size(), features, classes, features * classes, lambda);

  // -- The Hessian-vector product, checked before we rely on it ------------
  // At a random point and in a random direction v: grad of grad against
  // autodiff::hvp (the same idea, packaged) and against central differences of
  // the gradient, (g(Theta + eps v) - g(Theta - eps v)) / (2 eps).
  std::mt19937_64 engine(3);
  std::normal_distribution<T> normal(0, 0.1);
  Array<T> point = xt::zeros<T>({features, classes}), direction = xt::zeros<T>({features, classes});
  for (auto& value : point) value = normal(engine);
  for (auto& value : direction) value = normal(engine);
  auto gradient_at = [&](const Array<T>& theta) {
    const V at(theta, true);
    return Array<T>(autodiff::grad(loss(data, at), at).value());
  };
  const V at(point, true);
  const V g = autodiff::grad(loss(data, at), at, {.create_graph = true});
  // retain_graph: g's graph is swept again below (for H u).
  const Array<T> hv = autodiff::grad(g, at, {.grad_outputs = {V(direction)}, .retain_graph = true}).value();
  const Array<T> hv_packaged =
      autodiff::hvp<T>([&](const V& theta) { return loss(data, theta); }, V(point), V(direction)).value();
  const T eps = 1e-5;
  const Array<T> hv_differences =
      (gradient_at(point + eps * direction) - gradient_at(point - eps * direction)) / (2 * eps);
  const T packaged_error = xt::amax(xt::abs(hv - hv_packaged))(), difference_error =
                                                                      xt::amax(xt::abs(hv - hv_differences))();
  const T hv_scale = xt::amax(xt::abs(hv))();
  std::printf("Hessian-vector product H v (largest entry %.3e):\n", hv_scale);
  std::printf("  grad of grad against autodiff::hvp:               max difference %.1e\n", packaged_error);
  std::printf("  grad of grad against differences of the gradient: max difference %.1e\n", difference_error);
  // lambda's role: u = the same number added to every class's logit of every
  // image (all entries of Theta's bias row equal) changes no probability, so
  // the cross-entropy's Hessian is 0 along u and H u = lambda u exactly.
  Array<T> u = xt::zeros<T>({features, classes});
  xt::view(u, features - 1, xt::all()) = T(1);
  const Array<T> hu = autodiff::grad(g, at, {.grad_outputs = {V(u)}}).value();
  const T lambda_error = xt::amax(xt::abs(hu - lambda * u))();
  std::printf("  H u = lambda u along u = 'add 1 to every logit': max |H u - lambda u| = %.1e\n", lambda_error);
  std::printf("  (so without the L2 term H would be singular; with it, every eigenvalue is >= lambda)\n\n");
  const bool hvp_ok = packaged_error <= 1e-12 * (1 + hv_scale) && difference_error <= 1e-6 * (1 + hv_scale) &&
                      lambda_error <= 1e-12;

  // -- Newton-CG, from Theta = 0 to the minimum ----------------------------
  const Array<T> start = xt::zeros<T>({features, classes});
  std::cout << "Newton-CG (each CG step is one Hessian-vector product):\n";
  std::size_t hvps = 0;
  const auto newton_start = Clock::now();
  Array<T> minimiser = start;
  const std::vector<Record> newton = newton_cg(data, minimiser, 1e-10, hvps);
  const double newton_seconds = std::chrono::duration<double>(Clock::now() - newton_start).count();
  const T minimum = newton.back().loss;
  std::printf("converged in %zu iterations, %zu Hessian-vector products, %.3f s: f* = %.15f\n\n",
              newton.size() - 1, hvps, newton_seconds, minimum);

  // -- Gradient descent to the same loss -----------------------------------
  // "The same loss": f - f* below a gap, for gaps from 1e-2 (two digits of f*)
  // to 1e-10 (ten digits). Gradient descent runs until the smallest gap.
  const std::vector<T> gaps = {1e-2, 1e-4, 1e-6, 1e-8, 1e-10};
  const std::size_t max_iterations = quick ? 300 : 100000;
  std::printf("gradient descent until f - f* <= %.0e (at most %zu iterations):\n", gaps.back(), max_iterations);
  const std::vector<Record> descent = gradient_descent(data, start, minimum + gaps.back(), max_iterations);
  std::cout << "\n";
  plot(directory, newton, descent, minimum);

  // The minimiser is a classifier: its accuracy on the held-out images.
  {
    autodiff::no_grad scope;
    const Array<T> logits = autodiff::matmul(V(with_ones(test.inputs)), V(minimiser)).value();
    std::printf("the minimiser classifies %.1f%% of the %zu held-out test images correctly\n\n",
                100 * nn::accuracy(nn::argmax_rows(logits), test.labels), test.size());
  }

  // Iterations and time to each gap, side by side.
  std::printf("summary: iterations and seconds from Theta = 0 until f - f* <= gap\n");
  std::printf("  %7s  %22s  %22s  %9s\n", "gap", "Newton-CG", "gradient descent", "speed-up");
  bool descent_slower = true;
  for (T gap : gaps) {
    const Record* n = first_below(newton, minimum + gap);
    const Record* d = first_below(descent, minimum + gap);
    std::printf("  %7.0e  %6zu it  %10.4f s  ", gap, n->iteration, n->seconds);  // Newton reaches f* itself
    if (d) {
      std::printf("%6zu it  %10.4f s  %8.1fx\n", d->iteration, d->seconds, d->seconds / n->seconds);
      descent_slower = descent_slower && d->iteration >= n->iteration;
    } else {
      std::printf("not within %zu it (%.3f s)\n", descent.back().iteration, descent.back().seconds);
    }
  }
  std::printf("  (Newton-CG: %zu Hessian-vector products in all; both with the same line search)\n", hvps);
  std::printf("  Hessian-vector products: %s\n", hvp_ok ? "ok" : "FAILED");

  // The checks: the HVPs are right; Newton converges to |grad| <= 1e-10 within
  // 20 iterations; gradient descent needs at least as many iterations to every
  // gap, and (in the full run) gets to the smallest one.
  const bool newton_ok = newton.size() - 1 <= 20 && first_below(newton, minimum + gaps.back()) != nullptr;
  const bool descent_ok = descent_slower && (quick || first_below(descent, minimum + gaps.back()) != nullptr);
  return hvp_ok && newton_ok && descent_ok ? 0 : 1;
}
