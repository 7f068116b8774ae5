// The tape's semantics: recording, the reverse sweep, accumulation, release,
// no_grad, detach, intermediate gradients, threads, anomaly mode, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <thread>

#include <autodiff/autodiff.hpp>
#include <xtensor/xtensor.hpp>

#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

using test::message_of;

TEST_CASE("backward accumulates dC/dx into every leaf that requires a gradient") {
  V x(Array<double>{1.0, 2.0, 3.0}, true);
  V w(Array<double>{0.5, -1.0, 2.0}, true);
  V c(Array<double>{1.0, 1.0, 1.0});  // a constant
  V loss = sum(x * w + c);
  loss.backward();
  CHECK(x.grad() == w.value());
  CHECK(w.grad() == x.value());
  CHECK_FALSE(c.has_grad());
  CHECK_THROWS_AS(c.grad(), GraphError);
}

TEST_CASE("float32 works too") {
  Variable<float> x(Array<float>{1.f, 2.f}, true);
  Variable<float> y = sum(tanh(x) * 2);
  y.backward();
  CHECK(x.grad()(0) == doctest::Approx(2 * (1 - std::tanh(1.0) * std::tanh(1.0))).epsilon(1e-6));
}

TEST_CASE("gradients accumulate across backward calls until zeroed, like PyTorch") {
  V x = V::scalar(3.0, true);
  (x * x).backward();
  (x * x).backward();
  CHECK(x.grad()() == 12.0);
  x.zero_grad();
  CHECK_FALSE(x.has_grad());
  (x * 5.0).backward();
  CHECK(x.grad()() == 5.0);
}

TEST_CASE("a value used on several paths gets the sum of their gradients") {
  V x = V::scalar(2.0, true);
  V y = x * x * x + x;  // dy/dx = 3x^2 + 1 = 13
  y.backward();
  CHECK(x.grad()() == 13.0);
}

TEST_CASE("two leaves handed the same gradient (a + b) each get their own array") {
  V a(Array<double>{1.0, 2.0}, true), b(Array<double>{3.0, 4.0}, true);
  V seed(Array<double>{5.0, 6.0});
  (a + b).backward(seed);  // the backward of + passes the same g to both inputs
  CHECK(a.grad() == seed.value());
  CHECK(b.grad() == seed.value());
  CHECK(a.grad().data() != b.grad().data());
  CHECK(a.grad().data() != seed.value().data());
  // so a change to one, in place (what clip_grad_norm does), leaves the other alone
  a.node().grad->value *= 2.0;
  CHECK(b.grad() == seed.value());
  // and accumulation still adds into each
  (a + b).backward(seed);
  CHECK(a.grad() == Array<double>{15.0, 18.0});
  CHECK(b.grad() == Array<double>{10.0, 12.0});
}

TEST_CASE("backward releases the tape; a second backward is a clear error unless the graph was kept") {
  Tape<double>::current().release();  // start from an empty tape
  V x = V::scalar(2.0, true);
  V y = exp(x) * x;
  CHECK(Tape<double>::current().size() == 2);
  y.backward();
  CHECK(Tape<double>::current().size() == 0);
  const std::string message = message_of([&] { y.backward(); });
  CHECK(message.find("released") != std::string::npos);
  CHECK(message.find("retain_graph") != std::string::npos);

  x.zero_grad();
  V z = exp(x) * x;
  z.backward({.retain_graph = true});
  const double once = x.grad()();
  z.backward();
  CHECK(x.grad()() == doctest::Approx(2 * once));
  CHECK(once == doctest::Approx(std::exp(2.0) * 3.0));
}

TEST_CASE("a graph built on a released value cannot silently lose gradients") {
  V x = V::scalar(2.0, true);
  V y = x * x;
  y.backward();
  V z = y * 3.0;
  CHECK_THROWS_AS(z.backward(), GraphError);
}

TEST_CASE("backward on a non-scalar needs a seed gradient of the same shape") {
  V x(Array<double>{1.0, 2.0}, true);
  V y = x * 3.0;
  const std::string message = message_of([&] { y.backward(); });
  CHECK(message.find("(2,)") != std::string::npos);
  CHECK(message.find("seed") != std::string::npos);
  CHECK_THROWS_AS(y.backward(Array<double>{1.0, 2.0, 3.0}, {.retain_graph = true}), ShapeError);
  y.backward(Array<double>{1.0, 10.0});
  CHECK(x.grad() == Array<double>{3.0, 30.0});
}

TEST_CASE("backward on a value that requires no gradient is a clear error") {
  V a(Array<double>{1.0}), b(Array<double>{2.0});
  V c = a * b;
  CHECK_FALSE(c.requires_grad());
  CHECK(message_of([&] { c.backward(); }).find("does not require a gradient") != std::string::npos);
}

TEST_CASE("no_grad records nothing and its results require no gradient") {
  V x = V::scalar(1.0, true);
  const std::size_t before = Tape<double>::current().size();
  {
    no_grad scope;
    CHECK_FALSE(grad_enabled());
    V y = exp(x) * x;
    CHECK_FALSE(y.requires_grad());
    CHECK(Tape<double>::current().size() == before);
  }
  CHECK(grad_enabled());
  V z = x * 2.0;
  CHECK(z.requires_grad());
  Tape<double>::current().release();
}

TEST_CASE("detach stops the gradient") {
  V x = V::scalar(3.0, true);
  V y = x * x;
  V d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  V z = y + d * x;  // dz/dx = 2x + d = 6 + 9
  z.backward();
  CHECK(x.grad()() == 15.0);
}

TEST_CASE("retain_grad keeps dC/dz of an intermediate (a layer's delta)") {
  V x(Array<double>{{0.5, -1.0}}, true);
  V w(Array<double>{{1.0, 2.0}, {-0.5, 0.25}}, true);
  V z = matmul(x, w);
  z.retain_grad();
  V a = sigmoid(z);
  sum(a).backward();
  // dC/dz = sigma'(z) = a (1 - a)
  const Array<double> expected = a.value() * (1.0 - a.value());
  CHECK(xt::allclose(z.grad(), expected));
  CHECK_THROWS_AS(a.grad(), GraphError);  // not retained
}

TEST_CASE("a hook sees the gradient of an intermediate value") {
  V x(Array<double>{1.0, 2.0}, true);
  V h = x * 2.0;
  Array<double> seen;
  h.register_hook([&](const Array<double>& g) { seen = g; });
  sum(h * h).backward();  // dC/dh = 2h
  CHECK(seen == Array<double>{4.0, 8.0});
}

// PyTorch's hook on a leaf (DataParallel starts a bucket's all-reduce from it): called
// once per sweep with the leaf's complete gradient of that sweep, as soon as the last
// op using the leaf has run its closure, before grad() has summed it.
TEST_CASE("a leaf's hook fires once its gradient is complete, before the sweep reaches earlier ops") {
  V w1(xt::xtensor<double, 2>{{0.5, -1.0}, {2.0, 0.25}}, true), w2(xt::xtensor<double, 2>{{1.5}, {-0.5}}, true);
  V x(xt::xtensor<double, 2>{{1.0, 2.0}});
  std::vector<std::string> events;
  Array<double> seen_w1, seen_w2;
  std::vector<bool> w2_had_grad_in_hook;  // grad() adds the sweep's share only at its end
  Array<double> w2_grad_in_hook;
  w1.register_hook([&](const Array<double>& g) { events.push_back("w1"); seen_w1 = g; });
  w2.register_hook([&](const Array<double>& g) {
    events.push_back("w2");
    seen_w2 = g;
    w2_had_grad_in_hook.push_back(w2.has_grad());
    if (w2.has_grad()) w2_grad_in_hook = w2.grad();
  });
  V h = tanh(matmul(x, w1));
  h.register_hook([&](const Array<double>&) { events.push_back("h"); });
  V cost = sum(square(matmul(h, w2)) + matmul(h, w2));  // w2 used twice: one call, with both shares
  cost.backward();
  CHECK(events == std::vector<std::string>{"w2", "h", "w1"});  // w2 is done before the sweep reaches tanh
  CHECK(seen_w2 == w2.grad());
  CHECK(seen_w1 == w1.grad());
  const Array<double> first = w2.grad();
  sum(matmul(tanh(matmul(x, w1)), w2)).backward();  // a second sweep: the hooks see its share, not the sum
  CHECK(events.size() == 5);  // w2, w1 (h belonged to the first graph)
  CHECK(xt::allclose(w2.grad(), first + seen_w2));
  CHECK_FALSE(xt::allclose(seen_w2, first));
  CHECK(w2_had_grad_in_hook == std::vector<bool>{false, true});
  CHECK(w2_grad_in_hook == first);  // in the second sweep: still only the first sweep's
}

TEST_CASE("backward from a leaf seeds the leaf itself") {
  V x = V::scalar(1.5, true);
  x.backward();
  CHECK(x.grad()() == 1.0);
}

TEST_CASE("data() changes a leaf in place and refuses op results") {
  V x(Array<double>{1.0, 2.0}, true);
  x.data()(0) = 5.0;
  CHECK(x.value()(0) == 5.0);
  V y = x * 2.0;
  CHECK_THROWS_AS(y.data(), GraphError);
  Tape<double>::current().release();
}

TEST_CASE("a training step leaves nothing on the tape and frees its intermediates") {
  V w(Array<double>{{0.1, 0.2}, {0.3, 0.4}}, true);
  V x(Array<double>{{1.0, 2.0}});
  std::weak_ptr<Node<double>> hidden;
  for (int step = 0; step < 50; ++step) {
    V h = tanh(matmul(x, w));
    hidden = h.node_ptr();
    V loss = sum(h * h);
    loss.backward();
    w.zero_grad();
    CHECK(Tape<double>::current().size() == 0);
  }
  CHECK(hidden.expired());
}

TEST_CASE("forward passes that are never differentiated do not grow the tape without bound") {
  V w(Array<double>{1.0, 2.0}, true);
  for (int i = 0; i < 20000; ++i) {
    V y = w * 2.0 + 1.0;  // dropped at once
  }
  CHECK(Tape<double>::current().size() < 10000);
  V kept = w * 3.0;
  V loss = sum(kept);
  loss.backward();
  CHECK(w.grad() == Array<double>{3.0, 3.0});
}

TEST_CASE("a graph longer than the tape's compaction threshold keeps every entry") {
  Tape<double>::current().release();
  V x = V::scalar(0.5, true);
  V y = x;
  for (int i = 0; i < 10000; ++i) {
    V dropped = x * 3.0;  // dead entries, so that compaction has something to drop
    y = y * 1.0001;
  }
  y.backward();
  CHECK(x.grad()() == doctest::Approx(std::pow(1.0001, 10000)));
}

TEST_CASE("dropping a very long chain does not overflow the stack") {
  V x = V::scalar(1.0, true);
  {
    V y = x;
    for (int i = 0; i < 300000; ++i) y = y + 1.0;
  }  // the whole chain is freed here
  Tape<double>::current().release();
  CHECK(x.requires_grad());
}

TEST_CASE("each thread has its own tape: two threads train at once") {
  auto train = [](double start, double* result) {
    V w = V::scalar(start, true);
    for (int step = 0; step < 200; ++step) {
      V loss = square(w - 3.0);
      loss.backward();
      no_grad scope;
      w.data() -= 0.1 * w.grad();
      w.zero_grad();
    }
    *result = w.item();
  };
  double a = 0, b = 0;
  std::thread first(train, 0.0, &a), second(train, 10.0, &b);
  first.join();
  second.join();
  CHECK(a == doctest::Approx(3.0));
  CHECK(b == doctest::Approx(3.0));
}

TEST_CASE("backward of a value recorded on another thread is a clear error") {
  V x = V::scalar(1.0, true);
  V y;
  std::thread other([&] { y = x * 2.0; });
  other.join();
  CHECK(message_of([&] { y.backward(); }).find("thread") != std::string::npos);
}

TEST_CASE("anomaly mode names the op that first made NaN or Inf") {
  V x(Array<double>{1.0, -1.0}, true);
  {
    detect_anomaly scope;
    const std::string forward = message_of([&] { log(x); });
    CHECK(forward.find("forward of op 'log'") != std::string::npos);
    CHECK(forward.find("NaN") != std::string::npos);

    V zero(Array<double>{0.0, 4.0}, true);
    V r = sum(sqrt(zero));  // forward is finite; d sqrt(0) = Inf
    const std::string backward = message_of([&] { r.backward(); });
    CHECK(backward.find("backward of op 'sqrt'") != std::string::npos);
    CHECK(backward.find("Inf") != std::string::npos);
    Tape<double>::current().release();
  }
  CHECK_FALSE(anomaly_detection_enabled());
  CHECK_NOTHROW(log(x));  // without anomaly mode NaN passes silently, like PyTorch
  Tape<double>::current().release();
}

TEST_CASE("shape errors name the op and both shapes") {
  V a(Array<double>::from_shape({3, 4}), true), b(Array<double>::from_shape({5}), true);
  const std::string add_message = message_of([&] { a + b; });
  CHECK(add_message.find("add") != std::string::npos);
  CHECK(add_message.find("(3, 4)") != std::string::npos);
  CHECK(add_message.find("(5,)") != std::string::npos);
  const std::string matmul_message = message_of([&] { matmul(a, a); });
  CHECK(matmul_message.find("matmul") != std::string::npos);
  CHECK(matmul_message.find("(3, 4)") != std::string::npos);
  CHECK_THROWS_AS(matmul(a, b), ShapeError);
  CHECK_THROWS_AS(reshape(a, {5, 2}), ShapeError);
  CHECK_THROWS_AS(sum(a, 2), ShapeError);
  CHECK_THROWS_AS(pick(a, {0, 1, 4}), ShapeError);
  CHECK_THROWS_AS(pick(a, {0, 1}), ShapeError);
  CHECK_THROWS_AS(slice_rows(a, 2, 4), ShapeError);
  CHECK_THROWS_AS(index_rows(a, {3}), ShapeError);
  CHECK_THROWS_AS(concatenate<double>({a, b}), ShapeError);
  CHECK_THROWS_AS(affine(a, V(Array<double>::from_shape({4, 2})), b), ShapeError);
  CHECK_THROWS_AS(autodiff::where(xt::xarray<bool>{true, false}, a, a), ShapeError);
  CHECK_THROWS_AS(V().value(), GraphError);
}
