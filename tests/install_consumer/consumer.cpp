#include <iostream>

#include <autodiff/autodiff.hpp>

int main() {
  auto x = autodiff::Variable<double>::scalar(3.0, true);
  auto y = x * x;  // dy/dx = 2x = 6
  y.backward();
  std::cout << "dy/dx = " << x.grad()() << "\n";
}
