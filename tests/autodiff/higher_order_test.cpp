// Derivatives of derivatives: grad() and create_graph, third order, the
// conventions at kinks, independent graphs on one tape, the functional helpers,
// and memory over many second-order steps.
#include <doctest/doctest.h>

#include <cmath>
#include <thread>

#include <autodiff/autodiff.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include "test_util.hpp"

using namespace autodiff;
using test::message_of;
using V = Variable<double>;
using Inputs = std::vector<V>;

namespace {
// d/dx f as a function of x, recorded so that it can be differentiated again.
GradFunction first_derivative(const GradFunction& f) {
  return [f](const Inputs& x) {
    enable_grad scope;
    Inputs at;
    for (const V& v : x) at.push_back(v.requires_grad() ? v : V(v.value(), true));
    V y = f(at);
    return grad(y, at[0], {.create_graph = true});
  };
}
}  // namespace

TEST_CASE("third derivatives match central differences of the second (several graphs)") {
  // gradgradcheck of x -> df/dx checks d^3 f against finite differences of d^2 f.
  const std::vector<std::pair<const char*, GradFunction>> graphs = {
      {"tanh cubed", [](const Inputs& x) { return sum(pow(tanh(x[0]), 3.0)); }},
      {"a sigmoid layer", [](const Inputs& x) { return sum(sigmoid(matmul(x[0], x[1])) * x[0]); }},
      {"log-sum-exp over rows", [](const Inputs& x) { return sum(logsumexp(x[0] * x[0], 1)); }},
      {"cross-entropy of a tanh layer",
       [](const Inputs& x) { return -mean(pick(log_softmax(tanh(matmul(x[0], x[1]))), {1, 0, 2})); }},
      {"quotients and logs", [](const Inputs& x) { return sum(log(square(x[0]) + 1.0) / (exp(x[0]) + 2.0)); }},
  };
  for (const auto& [name, f] : graphs) {
    const std::vector<Array<double>> inputs = {test::random_array({3, 3}, 7), test::random_array({3, 3}, 8)};
    const GradCheckReport report = gradgradcheck(first_derivative(f), inputs);
    INFO(std::string(name), "\n", report.to_string());
    CHECK(report.passed);
  }
}

TEST_CASE("repeated grad gives the closed forms of tanh', tanh'', tanh'''") {
  const Array<double> at{-1.3, -0.2, 0.0, 0.7, 2.1};
  V x(at, true);
  V y = tanh(x);
  V d1 = grad(sum(y), x, {.create_graph = true});
  V d2 = grad(sum(d1), x, {.create_graph = true});
  V d3 = grad(sum(d2), x);
  const Array<double> t = xt::tanh(at);
  CHECK(xt::allclose(d1.value(), 1.0 - t * t));
  CHECK(xt::allclose(d2.value(), -2.0 * t * (1.0 - t * t)));
  CHECK(xt::allclose(d3.value(), -2.0 * (1.0 - t * t) * (1.0 - 3.0 * t * t)));
  CHECK_FALSE(d3.requires_grad());  // the last one was asked without create_graph
}

TEST_CASE("second derivatives at kinks: zero for piecewise-linear ops, the left branch for elu at 0") {
  auto second = [](const std::function<V(const V&)>& f, const Array<double>& at) {
    V x(at, true);
    V d1 = grad(sum(f(x)), x, {.create_graph = true});
    if (!d1.requires_grad()) return Array<double>(xt::zeros<double>(at.shape()));  // d1 is constant in x
    return grad(sum(d1), x, {.allow_unused = true, .materialize_grads = true}).value();
  };
  const Array<double> at{-1.0, 0.0, 0.5};
  const Array<double> zeros = xt::zeros<double>({3});
  CHECK(second([](const V& x) { return relu(x); }, at) == zeros);  // relu'' = 0, also at 0
  CHECK(second([](const V& x) { return abs(x); }, at) == zeros);
  CHECK(second([](const V& x) { return leaky_relu(x, 0.1); }, at) == zeros);
  CHECK(second([](const V& x) { return clip(x, -0.5, 0.2); }, at) == zeros);
  CHECK(second([](const V& x) { return max(x); }, at) == zeros);
  // elu'' = alpha e^x for x <= 0 (elu'(0) = alpha takes the left branch, as PyTorch), 0 for x > 0
  const Array<double> elu2 = second([](const V& x) { return elu(x, 0.5); }, at);
  CHECK(elu2(0) == doctest::Approx(0.5 * std::exp(-1.0)));
  CHECK(elu2(1) == doctest::Approx(0.5));
  CHECK(elu2(2) == 0.0);
}

TEST_CASE("grad returns gradients without touching any leaf's grad()") {
  V w(Array<double>{1.0, 2.0}, true), b = V::scalar(0.5, true);
  V loss = sum(square(w * 3.0 + b));
  auto g = grad(loss, {w, b}, {.retain_graph = true});
  CHECK(xt::allclose(g[0].value(), Array<double>{21.0, 39.0}));  // 2 (3w + b) 3
  CHECK(g[1].value()() == doctest::Approx(20.0));
  CHECK_FALSE(w.has_grad());
  CHECK_FALSE(b.has_grad());
  CHECK_FALSE(g[0].requires_grad());
  loss.backward();  // the graph was kept
  CHECK(xt::allclose(w.grad(), g[0].value()));
}

TEST_CASE("grad with respect to an intermediate value, and several outputs with their seeds") {
  V x(Array<double>{0.3, -0.4}, true);
  V h = tanh(x);
  V y1 = sum(h * h), y2 = sum(h * 2.0);
  auto g = grad<double>({y1, y2}, {h}, {.grad_outputs = {V::scalar(1.0), V::scalar(10.0)}});
  CHECK(xt::allclose(g[0].value(), 2.0 * h.value() + 20.0));
}

TEST_CASE("unused inputs are an error unless allowed") {
  V x = V::scalar(1.0, true), unused = V::scalar(2.0, true);
  V y = x * x;
  const std::string message = message_of([&] { grad(y, {x, unused}, {.retain_graph = true}); });
  CHECK(message.find("input 1") != std::string::npos);
  CHECK(message.find("allow_unused") != std::string::npos);
  auto g = grad(y, {x, unused}, {.retain_graph = true, .allow_unused = true});
  CHECK(g[0].item() == 2.0);
  CHECK_FALSE(g[1].defined());
  auto z = grad(y, {x, unused}, {.allow_unused = true, .materialize_grads = true});
  CHECK(z[1].item() == 0.0);
}

TEST_CASE("a second derivative through a gradient computed without create_graph is a clear GraphError") {
  V x = V::scalar(1.5, true);
  V dy = grad(x * x * x, x);  // no create_graph: a plain value
  const std::string message = message_of([&] { grad(dy, x); });
  CHECK(message.find("create_graph") != std::string::npos);
  CHECK_THROWS_AS(grad(dy, x), GraphError);
  V dy2 = grad(x * x * x, x, {.create_graph = true});
  CHECK(grad(dy2, x).item() == doctest::Approx(6.0 * 1.5));
}

TEST_CASE("a sweep releases only its own graph: independent losses on one thread") {
  V a = V::scalar(2.0, true), b = V::scalar(3.0, true);
  V l1 = a * a, l2 = b * b;
  l1.backward();
  l2.backward();  // another graph: not released by l1's sweep (PyTorch accepts it too)
  CHECK(a.grad()() == 4.0);
  CHECK(b.grad()() == 6.0);
  // A graph shared with a swept one is released with it, and says so.
  V h = tanh(a);
  V m1 = h * 2.0, m2 = h * h;
  m1.backward();
  CHECK(message_of([&] { m2.backward(); }).find("released") != std::string::npos);
  CHECK(Tape<double>::current().size() < 10);
}

TEST_CASE("backward into the listed inputs only") {
  V w = V::scalar(2.0, true), b = V::scalar(1.0, true);
  V y = w * w * b;
  y.backward({.inputs = {w}});
  CHECK(w.grad()() == 4.0);
  CHECK_FALSE(b.has_grad());
  CHECK_THROWS_AS(V(w * 2.0).backward({.inputs = {w * 1.0}}), GraphError);  // a non-leaf
}

TEST_CASE("backward with create_graph leaves differentiable gradients in the leaves") {
  V x(Array<double>{0.5, -1.0}, true);
  V y = sum(x * x * x);
  y.backward({.create_graph = true});
  V g = x.grad_variable();  // 3 x^2, with a graph
  CHECK(g.requires_grad());
  V h = grad(sum(g), x);  // 6 x
  CHECK(xt::allclose(h.value(), 6.0 * x.value()));
  x.zero_grad();  // frees the gradient's graph (it refers to x: PyTorch has the same cycle)
}

TEST_CASE("a sweep that throws changes nothing: leaves keep their gradients and the graph is kept") {
  V w = V::scalar(2.0, true);
  V h = w * 3.0;
  V loss = h * h;
  bool fail = true;
  h.register_hook([&](const Array<double>&) {
    if (fail) throw std::runtime_error("hook failed");
  });
  CHECK_THROWS_WITH(loss.backward(), "hook failed");
  CHECK_FALSE(w.has_grad());
  fail = false;
  loss.backward();  // the graph is still there
  CHECK(w.grad()() == doctest::Approx(36.0));
}

TEST_CASE("a graph that spans two threads is an error, not lost gradients") {
  V x = V::scalar(1.0, true);
  V far;
  std::thread other([&] { far = x * 2.0; });
  other.join();
  V y = far * 3.0;  // recorded here, on top of a value recorded on the other thread
  const std::string message = message_of([&] { y.backward(); });
  CHECK(message.find("thread") != std::string::npos);
  CHECK_FALSE(x.has_grad());
}

TEST_CASE("jacobian, hessian, vjp, jvp and hvp agree with closed forms and with each other") {
  const Array<double> at{0.3, -0.7, 1.1};
  const V x(at);
  // f(x) = x sum(x^2): J = s I + 2 x x^T with s = sum x^2
  Function<double> f = [](const V& v) { return v * sum(v * v); };
  const double s = xt::sum(at * at)();
  Array<double> j_expected = xt::zeros<double>({3, 3});
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t k = 0; k < 3; ++k) j_expected(i, k) = (i == k ? s : 0.0) + 2.0 * at(i) * at(k);
  const Array<double> j = jacobian(f, x);
  CHECK(xt::allclose(j, j_expected));
  const V v(Array<double>{1.0, -2.0, 0.5});
  const Array<double> jv = xt::sum(j * xt::view(v.value(), xt::newaxis(), xt::all()), {1});
  const Array<double> vj = xt::sum(j * xt::view(v.value(), xt::all(), xt::newaxis()), {0});
  CHECK(xt::allclose(jvp(f, x, v).value(), jv));
  CHECK(xt::allclose(vjp(f, x, v).value(), vj));
  // g(x) = sum(x^2)^2 / 4: grad = s x, H = s I + 2 x x^T (the same matrix)
  Function<double> g = [](const V& v) { return square(sum(v * v)) * 0.25; };
  CHECK(xt::allclose(hessian(g, x), j_expected));
  CHECK(xt::allclose(hvp(g, x, v).value(), jv));
  // a linear f has a zero Hessian (its gradient is a constant)
  CHECK(xt::allclose(hvp(Function<double>([](const V& v) { return sum(v * 3.0); }), x, v).value(),
                     Array<double>(xt::zeros<double>({3}))));
  CHECK_THROWS_AS(hvp(f, x, v), ShapeError);  // f is not scalar
  CHECK_THROWS_AS(jvp(f, x, V(Array<double>{1.0})), ShapeError);
}

TEST_CASE("hvp with create_graph is differentiable again (third order)") {
  V x(Array<double>{0.4, -0.9}, true);
  const V v(Array<double>{1.0, 0.5});
  Function<double> f = [](const V& u) { return sum(u * u * u * u); };  // H v = 12 x^2 v
  V hv = hvp(f, x, v, {.create_graph = true});
  CHECK(xt::allclose(hv.value(), 12.0 * x.value() * x.value() * v.value()));
  V third = grad(sum(hv), x);  // 24 x v
  CHECK(xt::allclose(third.value(), 24.0 * x.value() * v.value()));
}

TEST_CASE("memory stays flat over 10,000 steps of a physics-informed loop (u' by create_graph)") {
  // u(x) = tanh(x W1 + b1) W2; loss = mean((u' + u)^2), u' = du/dx by grad(create_graph).
  V w1(test::random_array({1, 8}, 1), true), b1(test::random_array({8}, 2), true);
  V w2(test::random_array({8, 1}, 3), true);
  const Array<double> points = xt::linspace<double>(0.0, 2.0, 16).reshape({16, 1});
  std::weak_ptr<Node<double>> first_gradient;
  [[maybe_unused]] std::size_t fresh_at_100 = 0;  // read only with the pool (not in sanitizer builds)
#ifdef WENGERT_NO_POOL
  const int steps = 2000;  // sanitizer builds: slower, and no pool to watch
#else
  const int steps = 10000;
#endif
  for (int step = 0; step < steps; ++step) {
    V x(points, true);
    V u = matmul(tanh(affine(x, w1, b1)), w2);
    V du = grad(sum(u), x, {.create_graph = true});
    V loss = mean(square(du + u));
    auto g = grad(loss, {w1, b1, w2});
    {
      no_grad scope;
      w1.data() -= 0.01 * g[0].value();
      b1.data() -= 0.01 * g[1].value();
      w2.data() -= 0.01 * g[2].value();
    }
    if (step == 0) first_gradient = du.node_ptr();
    if (step == 100) fresh_at_100 = pool_statistics().fresh;
    CHECK(Tape<double>::current().size() < 200);
  }
  CHECK(first_gradient.expired());  // the create_graph graph went with the values that held it
#ifndef WENGERT_NO_POOL
  CHECK(pool_statistics().fresh == fresh_at_100);  // nothing new from the system after step 100
#endif
}
