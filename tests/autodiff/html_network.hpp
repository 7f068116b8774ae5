// The graph example's 2-2-1 network (examples/graph.cpp), for the tape viewer's tests:
// a1 = sigmoid(x W1 + b1), y = sigmoid(a1 W2 + b2), C = 0.5 sum((y - 1)^2).
#pragma once

#include <regex>
#include <string>
#include <vector>

#include <autodiff/autodiff.hpp>
#include <xtensor/xtensor.hpp>

namespace test {

struct Network221 {
  using V = autodiff::Variable<double>;
  V x, W1, b1, W2, b2, xW1, z1, a1, a1W2, z2, y, error, squared, total, loss;

  Network221() {
    x = V(xt::xtensor<double, 2>{{0.5, -1.0}});
    W1 = V(xt::xtensor<double, 2>{{0.1, -0.4}, {0.3, 0.2}}, true);
    b1 = V(xt::xtensor<double, 1>{0.0, 0.1}, true);
    W2 = V(xt::xtensor<double, 2>{{0.7}, {-0.6}}, true);
    b2 = V::scalar(0.05, true);
    xW1 = autodiff::matmul(x, W1);
    z1 = xW1 + b1;
    a1 = autodiff::sigmoid(z1);
    a1W2 = autodiff::matmul(a1, W2);
    z2 = a1W2 + b2;
    y = autodiff::sigmoid(z2);
    error = y - 1.0;
    squared = autodiff::square(error);
    total = autodiff::sum(squared);
    loss = 0.5 * total;
    const char* names[] = {"x", "W1", "b1", "W2", "b2", "xW1", "z1", "a1", "a1W2", "z2", "y", "e", "e2", "s", "C"};
    std::size_t k = 0;
    for (V* v : all()) v->set_name(names[k++]);
  }
  std::vector<V*> all() {
    return {&x, &W1, &b1, &W2, &b2, &xW1, &z1, &a1, &a1W2, &z2, &y, &error, &squared, &total, &loss};
  }
};

// Every number written in text, in order (what a page shows, read back).
inline std::vector<double> numbers_in(const std::string& text) {
  static const std::regex number(R"([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)");
  std::vector<double> values;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it)
    values.push_back(std::stod(it->str()));
  return values;
}

}  // namespace test
