// The perceptron: one Heaviside unit, y = step(x . w + b), trained with
// Rosenblatt's rule w += eta (t - y) x, b += eta (t - y). It learns AND and OR,
// which a line separates, and cannot learn XOR, which no line separates. A
// two-layer MLP trained by backpropagation on the tape learns XOR.
#include <iostream>

#include <nn/nn.hpp>
#include <xtensor/xtensor.hpp>

using autodiff::Array;
using autodiff::Variable;

const Array<double> inputs = xt::xtensor<double, 2>{{0, 0}, {0, 1}, {1, 0}, {1, 1}};

// Trains a perceptron on the truth table `targets`; returns how many of the 4 rows it gets right.
int train_perceptron(const char* name, const Array<double>& targets) {
  Variable<double> w(xt::xtensor<double, 1>{0.0, 0.0}), b = Variable<double>::scalar(0.0);
  const double eta = 0.1;
  auto predict = [&](std::size_t i) {
    const double z = inputs(i, 0) * w.value()(0) + inputs(i, 1) * w.value()(1) + b.item();
    return autodiff::heaviside(Variable<double>::scalar(z)).item();  // 1 if z > 0, else 0
  };
  for (int epoch = 0; epoch < 20; ++epoch)
    for (std::size_t i = 0; i < 4; ++i) {
      const double error = targets(i) - predict(i);  // the perceptron rule needs no gradient
      w.data()(0) += eta * error * inputs(i, 0);
      w.data()(1) += eta * error * inputs(i, 1);
      b.data()() += eta * error;
    }
  int right = 0;
  std::cout << name << ": w = (" << w.value()(0) << ", " << w.value()(1) << "), b = " << b.item() << "\n";
  std::cout << "  x1 x2 | target perceptron\n";
  for (std::size_t i = 0; i < 4; ++i) {
    const double y = predict(i);
    right += y == targets(i);
    std::cout << "   " << inputs(i, 0) << "  " << inputs(i, 1) << " |   " << targets(i) << "        " << y
              << (y == targets(i) ? "" : "   <- wrong") << "\n";
  }
  return right;
}

int main() {
  const int and_right = train_perceptron("AND", Array<double>{0, 0, 0, 1});
  const int or_right = train_perceptron("OR", Array<double>{0, 1, 1, 1});
  const int xor_right = train_perceptron("XOR", Array<double>{0, 1, 1, 0});
  std::cout << "\nThe perceptron gets AND " << and_right << "/4, OR " << or_right << "/4, XOR " << xor_right
            << "/4: no straight line separates XOR's classes.\n\n";

  // A 2-4-1 MLP with a tanh hidden layer, trained by gradient descent on the tape.
  nn::manual_seed(1);
  nn::Sequential<double> mlp = nn::mlp<double>({2, 4, 1}, nn::Tanh<double>(), nn::xavier_normal());
  nn::Adam<double> optimizer(mlp.parameters(), 0.05);
  const Variable<double> x(inputs), t(xt::xtensor<double, 2>{{0}, {1}, {1}, {0}});
  for (int step = 0; step < 500; ++step) {
    optimizer.zero_grad();
    nn::binary_cross_entropy_with_logits(mlp(x), t).backward();
    optimizer.step();
  }
  const Array<double> probability = 1.0 / (1.0 + xt::exp(-nn::predict(mlp, inputs)));
  int mlp_right = 0;
  std::cout << "XOR with a 2-4-1 MLP:\n  x1 x2 | target  P(y = 1)\n";
  for (std::size_t i = 0; i < 4; ++i) {
    mlp_right += (probability(i, 0) > 0.5) == (t.value()(i, 0) == 1.0);
    std::cout << "   " << inputs(i, 0) << "  " << inputs(i, 1) << " |   " << t.value()(i, 0) << "     "
              << probability(i, 0) << "\n";
  }
  std::cout << "The MLP gets XOR " << mlp_right << "/4.\n";
  return and_right == 4 && or_right == 4 && xor_right < 4 && mlp_right == 4 ? 0 : 1;
}
