// Your own differentiable op: the Gaussian radial basis activation of the
// lecture's RBF networks, phi(x) = exp(-x^2), with its derivative
// phi'(x) = -2 x phi(x). Written the way every op in autodiff/ is written,
// checked with the gradient checker (first and second derivatives), then used
// inside a model.
//
//   custom_op [--quick]
#include <cmath>
#include <cstring>
#include <iostream>

#include <nn/nn.hpp>

using autodiff::Array;
using autodiff::Backward;
using autodiff::Variable;

// 1. The op: its value, then its backward closure (d.g = dC/d out, y = out).
//    The closure is written in Variable ops, so the derivative has a derivative
//    of its own: second order (a Hessian, a physics-informed loss) comes free.
template <class T>
Variable<T> gaussian(const Variable<T>& x) {
  static const autodiff::OpInfo op{"gaussian", "dx = -2 g x y"};
  return autodiff::record<T>(op, xt::exp(-xt::square(x.value())), {x}, [](Backward<T>& d) {
    d.add_grad(0, T(-2) * d.g * d.input(0) * d.output());
  });
}

// A wrong backward, to show what the checker says about it (the factor 2 is missing).
template <class T>
Variable<T> gaussian_wrong(const Variable<T>& x) {
  static const autodiff::OpInfo op{"gaussian_wrong", "dx = -g x y  (wrong)"};
  return autodiff::record<T>(op, xt::exp(-xt::square(x.value())), {x}, [](Backward<T>& d) {
    d.add_grad(0, -d.g * d.input(0) * d.output());
  });
}

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;

  // 2. Check it against central finite differences in double precision.
  const Array<double> x{{-1.5, -0.3, 0.0}, {0.4, 1.0, 2.2}};
  auto right = autodiff::gradcheck([](const std::vector<Variable<double>>& in) { return gaussian(in[0]); }, {x},
                                   {.input_names = {"x"}});
  std::cout << "gaussian:\n" << right << "\n";
  auto wrong = autodiff::gradcheck([](const std::vector<Variable<double>>& in) { return gaussian_wrong(in[0]); },
                                   {x}, {.input_names = {"x"}});
  std::cout << "gaussian_wrong (the checker should object):\n" << wrong << "\n";
  // Second derivatives, phi''(x) = (4 x^2 - 2) phi(x), against finite differences of the first.
  auto second = autodiff::gradgradcheck([](const std::vector<Variable<double>>& in) { return gaussian(in[0]); }, {x},
                                        {.input_names = {"x"}});
  std::cout << "gaussian, second derivatives:\n" << second << "\n";

  // 3. Use it: an RBF-style network 1-20-1 fitting f(t) = sin(2t) on [-2, 2].
  using T = float;
  const std::size_t n = 200;
  nn::Dataset<T> data;
  data.inputs = Array<T>::from_shape({n, 1});
  data.targets = Array<T>::from_shape({n, 1});
  for (std::size_t i = 0; i < n; ++i) {
    const T t = T(-2) + T(4) * T(i) / T(n - 1);
    data.inputs(i, 0) = t;
    data.targets(i, 0) = std::sin(T(2) * t);
  }
  nn::manual_seed(1);
  nn::Sequential<T> model;
  model.add(nn::Linear<T>(1, 20, nn::normal(0.0, 2.0), nn::uniform(-2.0, 2.0)))
      .add(nn::Activation<T>("Gaussian", [](const Variable<T>& z) { return gaussian(z); }))
      .add(nn::Linear<T>(20, 1));
  std::cout << model.summary();
  nn::Adam<T> optimizer(model.parameters(), 0.01);
  nn::FitOptions options;
  options.epochs = quick ? 150 : 600;
  options.batch_size = 20;
  options.progress = nullptr;
  nn::fit(model, optimizer, [](auto& y, auto& batch) { return nn::mse(y, batch.targets); }, data, options);
  const double error = nn::mean_squared_error(nn::predict(model, data.inputs), data.targets);
  std::cout << "\nmean squared error of the fit to sin(2t): " << error << "\n";
  const bool ok = right.passed && !wrong.passed && second.passed && error < (quick ? 0.05 : 0.01);
  std::cout << (ok ? "custom op: all good\n" : "custom op: something is off\n");
  return ok ? 0 : 1;
}
