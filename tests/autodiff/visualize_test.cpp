// The teaching views: the Wengert list, the reverse-sweep trace, the DOT graph.
#include <doctest/doctest.h>

#include <sstream>

#include <autodiff/autodiff.hpp>

#include "html_network.hpp"
#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

namespace {
// The DOT id ("n3") of the value box whose first field is `name`.
std::string box_id(const std::string& dot, const std::string& name) {
  const auto field = dot.find("label=\"" + name + " |");
  REQUIRE_MESSAGE(field != std::string::npos, name);
  const auto line = dot.rfind("\n", field) + 1;
  return dot.substr(line + 2, dot.find(' ', line + 2) - line - 2);
}
// The DOT id ("op7") of the op that made the value box `id` ("n7").
std::string op_of(const std::string& id) { return "op" + id.substr(1); }
}  // namespace

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
  CHECK(dot.find("label=\"mul_scalar\\ns=3\"") != std::string::npos);  // the constant, under the op's name
  CHECK(dot.find("label=\"sum\"") != std::string::npos);
  CHECK(dot.find("\"w | shape (2,) | value [1, 2] | dC/dw [") != std::string::npos);
  CHECK(dot.find("| dC/dv1 [") != std::string::npos);  // h = v1, kept by retain_grad()
  CHECK(dot.find("dC/dv0") == std::string::npos);      // w * 3 was not kept
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

TEST_CASE("to_dot lays the graph out top to bottom, or left to right when asked") {
  V w = V::scalar(0.5, true).set_name("w");
  V y = tanh(w * 2.0);
  const std::string down = to_dot(y), across = to_dot(y, {.left_to_right = true});
  CHECK(test::contains(down, "rankdir=TB;"));
  CHECK(test::contains(across, "rankdir=LR;"));
  // A box's fields run across the rank direction both ways (no braces, which would turn them).
  CHECK(test::contains(down, "label=\"w | shape () | value 0.5\""));
  CHECK(test::contains(across, "label=\"w | shape () | value 0.5\""));
  Tape<double>::current().release();
}

TEST_CASE("to_dot labels each operand of an op with two or more inputs, in order") {
  V y = V::scalar(0.25, true).set_name("y");
  V a2 = V::scalar(0.75, true).set_name("a2");
  V d = (y - a2).set_name("d");  // reads y - a2: y is a, a2 is b
  V back = (a2 - y).set_name("back");
  V loss = (matmul(V(xt::xtensor<double, 2>{{1.0, 2.0}}), V(xt::xtensor<double, 2>{{3.0}, {4.0}}, true)) * d * back).set_name("C");
  const std::string dot = to_dot(sum(loss));
  INFO(dot);
  const std::string sub = op_of(box_id(dot, "d")), reversed = op_of(box_id(dot, "back"));
  CHECK(test::contains(dot, "  " + box_id(dot, "y") + " -> " + sub + " [label=\"a\"];"));
  CHECK(test::contains(dot, "  " + box_id(dot, "a2") + " -> " + sub + " [label=\"b\"];"));
  CHECK(test::contains(dot, "  " + box_id(dot, "a2") + " -> " + reversed + " [label=\"a\"];"));
  CHECK(test::contains(dot, "  " + box_id(dot, "y") + " -> " + reversed + " [label=\"b\"];"));
  // Operand a listed first, and ordering=in, so Graphviz draws a left of b.
  CHECK(dot.find(box_id(dot, "y") + " -> " + sub) < dot.find(box_id(dot, "a2") + " -> " + sub));
  CHECK(test::contains(dot, "  " + sub + " [shape=ellipse, height=0.3, margin=0.02, ordering=in, label=\"sub\"];"));
  // matmul's rule names its operands a and b too; one-input ops (sum) get no edge label.
  CHECK(test::contains(dot, " -> " + op_of(box_id(dot, "v2")) + " [label=\"a\"];"));
  CHECK(test::contains(dot, " -> " + op_of(box_id(dot, "v5")) + ";"));
  Tape<double>::current().release();
}

TEST_CASE("an op whose rule does not name its operands is labelled by position") {
  V a = V(Array<double>{1.0, 2.0}, true).set_name("a");
  V b = V(Array<double>{3.0, 4.0}, true).set_name("b");
  V e = einsum("i,i->", a, b).set_name("e");
  const std::string dot = to_dot(e);
  INFO(dot);
  CHECK(test::contains(dot, "  " + box_id(dot, "a") + " -> " + op_of(box_id(dot, "e")) + " [label=\"0\"];"));
  CHECK(test::contains(dot, "  " + box_id(dot, "b") + " -> " + op_of(box_id(dot, "e")) + " [label=\"1\"];"));
  Tape<double>::current().release();
}

TEST_CASE("ops keep their scalar arguments: print_tape and to_dot show them") {
  Tape<double>::current().release();
  V x = V(Array<double>{-2.0, 0.5, 3.0}, true).set_name("x");
  V c = clip(x, -1.0, 1.0).set_name("c");
  V l = leaky_relu(c, 0.01).set_name("l");
  V p = pow(l, 3.0).set_name("p");
  V r = (1.0 - p).set_name("r");
  V loss = (0.5 * sum(r)).set_name("C");
  const std::string list = tape_to_string<double>();
  INFO(list);
  CHECK(test::contains(list, "c = clip(x, lo=-1, hi=1)"));
  CHECK(test::contains(list, "l = leaky_relu(c, alpha=0.01)"));
  CHECK(test::contains(list, "p = pow(l, p=3)"));
  CHECK(test::contains(list, "r = rsub_scalar(p, s=1)"));
  CHECK(test::contains(list, "C = mul_scalar(v4, s=0.5)"));
  const std::string dot = to_dot(loss);
  CHECK(test::contains(dot, "label=\"clip\\nlo=-1, hi=1\""));
  CHECK(test::contains(dot, "label=\"mul_scalar\\ns=0.5\""));
  // The reverse-sweep trace names the calls the same way.
  std::ostringstream trace;
  loss.backward({.trace = &trace});
  CHECK(test::contains(trace.str(), "step 1: C = mul_scalar(v4, s=0.5)"));
  // Printed in the element type's precision: 0.1f is 0.1, not the double 0.10000000149011612.
  Variable<float> f = Variable<float>(Array<float>{1.0f}, true) * 0.1f;
  CHECK(test::contains(tape_to_string<float>(), "mul_scalar(x1, s=0.1)"));
  CHECK(detail::constants_text(f.node()) == "s=0.1");
  Tape<float>::current().release();
  // A value that requires no gradient records nothing: a constant, with no op to show.
  CHECK(detail::constants_text((V::scalar(2.0) * 3.0).node()) == "");
}

namespace {
// A small graph and the function from each intermediate to its loss, for finite differences:
// z = w x + b, a = tanh(z), e = a - t, C = 0.5 sum(e^2).
struct Neuron {
  V x{Array<double>{0.3, -1.2}}, t{Array<double>{0.5, 0.1}};
  V w = V::scalar(0.8, true), b = V(Array<double>{-0.2, 0.4}, true);
  V wx, z, a, e, e2, s, loss;
  Neuron() {
    wx = w * x;
    z = wx + b;
    a = tanh(z);
    e = a - t;
    e2 = square(e);
    s = sum(e2);
    loss = 0.5 * s;
    const char* names[] = {"wx", "z", "a", "e", "e2", "s", "C"};
    std::size_t k = 0;
    for (V* v : intermediates()) v->set_name(names[k++]);
  }
  std::vector<V*> intermediates() { return {&wx, &z, &a, &e, &e2, &s, &loss}; }
  // C as a function of intermediate k alone (the rest of the graph downstream of it)
  V from(std::size_t k, V v) const {
    if (k == 0) v = v + b;
    if (k <= 1) v = tanh(v);
    if (k <= 2) v = v - t;
    if (k <= 3) v = square(v);
    if (k <= 4) v = sum(v);
    if (k <= 5) v = 0.5 * v;
    return v;
  }
};
}  // namespace

TEST_CASE("backward({.keep_all_grads = true}) keeps every intermediate's gradient, as retain_grad() on each") {
  Tape<double>::current().release();
  Neuron taught, retained;
  for (V* v : retained.intermediates()) v->retain_grad();
  retained.loss.backward();
  taught.loss.backward({.keep_all_grads = true});
  auto values = retained.intermediates(), kept = taught.intermediates();
  for (std::size_t k = 0; k < kept.size(); ++k) {
    INFO(kept[k]->name());
    REQUIRE(kept[k]->has_grad());
    CHECK(kept[k]->grad() == values[k]->grad());
    // and against central differences of the loss as a function of that value
    const Neuron& n = taught;
    const auto report = check_gradients([&](const std::vector<V>& in) { return n.from(k, in[0]); },
                                        {kept[k]->value()}, {kept[k]->grad()});
    CHECK_MESSAGE(report.passed, report.to_string());
  }
  CHECK(taught.w.grad() == retained.w.grad());  // leaves as ever
  CHECK(taught.loss.grad()() == 1.0);            // the root: dC/dC = 1

  // It keeps the graph (unless told not to), so the picture shows every adjoint.
  const std::string dot = to_dot(taught.loss);
  for (V* v : kept) CHECK_MESSAGE(test::contains(dot, "| dC/d" + v->name() + " "), v->name());
  // A second sweep accumulates into the kept gradients, as retain_grad()'s do.
  const Array<double> once = taught.z.grad();
  taught.loss.backward({.retain_graph = false, .keep_all_grads = true});
  CHECK(xt::allclose(taught.z.grad(), 2.0 * once));
  CHECK_THROWS_AS(to_dot(taught.loss), GraphError);  // retain_graph = false released it
  Tape<double>::current().release();
}

TEST_CASE("a plain backward() keeps no intermediate's gradient") {
  Neuron n;
  n.loss.backward();
  CHECK_FALSE(n.z.has_grad());
  CHECK(test::contains(test::message_of([&] { n.z.grad(); }), "retain_grad()"));
  Tape<double>::current().release();
}

TEST_CASE("to_dot of a graph released by a plain backward() says how to keep it, rather than drawing the root") {
  Neuron n;
  n.loss.backward();
  const std::string message = test::message_of([&] { to_dot(n.loss); });
  CHECK(test::contains(message, "to_dot: the graph of this value (op 'mul_scalar') was released"));
  CHECK(test::contains(message, "retain_graph = true"));
  CHECK(test::contains(message, "keep_all_grads"));
  // The part of a graph behind a released one is said to be released too.
  Neuron m;
  V twice = m.loss * 2.0;
  m.s.backward();
  CHECK(test::contains(test::message_of([&] { to_dot(twice); }), "to_dot: the graph behind it (op 'sum')"));
  Tape<double>::current().release();
}

TEST_CASE("the 2-2-1 network of the lecture: keep_all_grads shows dC/d of all 15 values") {
  Tape<double>::current().release();
  test::Network221 net;
  net.loss.backward({.keep_all_grads = true});
  const std::string dot = to_dot(net.loss);
  for (V* v : net.all())
    if (v->requires_grad()) CHECK_MESSAGE(test::contains(dot, "| dC/d" + v->name() + " "), v->name());
  CHECK_FALSE(test::contains(dot, "dC/dx "));  // the input x is a constant: no gradient
  CHECK(test::contains(dot, "label=\"add_scalar\\ns=-1\""));
  Tape<double>::current().release();
}
