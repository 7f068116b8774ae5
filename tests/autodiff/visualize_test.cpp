// The teaching views: the Wengert list, the reverse-sweep trace, the DOT graph.
#include <doctest/doctest.h>

#include <sstream>

#include <autodiff/autodiff.hpp>

using namespace autodiff;
using V = Variable<double>;

TEST_CASE("the tape prints as a Wengert list in evaluation order") {
  Tape<double>::current().release();
  V w = V::scalar(0.5, true).set_name("w");
  V x = V::scalar(2.0).set_name("x");
  V b = V::scalar(-1.0, true);
  V y = sigmoid(w * x + b);
  const std::string list = tape_to_string<double>();
  INFO(list);
  CHECK(list.find("3 entries") != std::string::npos);
  const auto mul_at = list.find("v0 = mul(w, x)");
  const auto add_at = list.find("v1 = add(v0, x1)");
  const auto sigmoid_at = list.find("v2 = sigmoid(v1)");
  CHECK(mul_at != std::string::npos);
  CHECK(add_at != std::string::npos);
  CHECK(sigmoid_at != std::string::npos);
  CHECK(mul_at < add_at);
  CHECK(add_at < sigmoid_at);
  CHECK(list.find("dx = g y (1 - y)") != std::string::npos);

  std::ostringstream trace;
  y.backward({.trace = &trace});
  const std::string sweep = trace.str();
  INFO(sweep);
  CHECK(sweep.find("step 1: v2 = sigmoid(v1)") != std::string::npos);
  CHECK(sweep.find("step 3: v0 = mul(w, x)") != std::string::npos);
  CHECK(sweep.find("dC/dw += ") != std::string::npos);
  CHECK(sweep.find("dC/dx +=") == std::string::npos);  // x is a constant: nothing flows to it
  CHECK(sweep.find("3 steps") != std::string::npos);
}

TEST_CASE("the graph of a value exports to DOT with values and gradients") {
  V w(Array<double>{1.0, 2.0}, true);
  w.set_name("w");
  V h = tanh(w * 3.0);
  h.retain_grad();
  V loss = sum(h);
  loss.backward({.retain_graph = true});
  const std::string dot = to_dot(loss);
  INFO(dot);
  CHECK(dot.rfind("digraph", 0) == 0);
  CHECK(dot.find("label=\"tanh\"") != std::string::npos);
  CHECK(dot.find("label=\"mul_scalar\"") != std::string::npos);
  CHECK(dot.find("label=\"sum\"") != std::string::npos);
  CHECK(dot.find("{w | shape (2,) | value [1, 2] | grad [") != std::string::npos);
  CHECK(dot.find("| grad [") != std::string::npos);
  // 4 values, 3 ops: each op has one edge in per input and one edge out
  std::size_t edges = 0;
  for (auto at = dot.find("->"); at != std::string::npos; at = dot.find("->", at + 2)) ++edges;
  CHECK(edges == 6);
  Tape<double>::current().release();
}

TEST_CASE("format_compact prints small tensors in one line and large ones by shape") {
  CHECK(format_compact(Array<double>{{1.0, 2.0}, {3.0, 4.5}}) == "[[1, 2], [3, 4.5]]");
  CHECK(format_compact(Array<double>(2.5)) == "2.5");
  CHECK(format_compact(Array<double>::from_shape({64, 50})) == "(64, 50) tensor");
}
