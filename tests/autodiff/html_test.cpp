// The interactive tape viewer (autodiff/html.hpp), read as a file: what the page holds.
// tests/autodiff/html_browser_test.cpp opens it in a real browser.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <regex>
#include <sstream>

#include <autodiff/autodiff.hpp>

#include "autodiff/html_network.hpp"
#include "test_util.hpp"

using namespace autodiff;
using V = Variable<double>;

namespace {

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

// The JSON entry of the node named `name`, up to its closing brace.
std::string node_entry(const std::string& page, const std::string& name) {
  const auto at = page.find("{\"name\":\"" + name + "\"");
  REQUIRE_MESSAGE(at != std::string::npos, "no node named " << name);
  return page.substr(at, page.find('}', page.find("\"grad_heat\"", at)) - at);
}

std::string field(const std::string& entry, const std::string& key) {
  const std::regex pattern("\"" + key + "\":\"([^\"]*)\"");
  std::smatch match;
  REQUIRE_MESSAGE(std::regex_search(entry, match, pattern), "no " << key << " in " << entry);
  return match[1];
}

// The centre of node `name`'s box in the SVG.
std::pair<double, double> box_centre(const std::string& page, const std::string& name) {
  const std::string entry_start = "{\"name\":\"" + name + "\"";
  std::size_t index = 0;
  const std::size_t entry_at = page.find(entry_start);
  for (auto at = page.find("{\"name\":\""); at < entry_at; at = page.find("{\"name\":\"", at + 1)) ++index;
  const std::regex rect("id=\"node-" + std::to_string(index) +
                        "\" data-id=\"\\d+\"><rect x=\"([-\\d.e]+)\" y=\"([-\\d.e]+)\" width=\"([\\d.e]+)\" "
                        "height=\"([\\d.e]+)\"");
  std::smatch match;
  REQUIRE(std::regex_search(page, match, rect));
  return {std::stod(match[1]) + std::stod(match[3]) / 2, std::stod(match[2]) + std::stod(match[4]) / 2};
}

}  // namespace

TEST_CASE("write_html: one self-contained page with every tape entry and the engine's values") {
  Tape<double>::current().release();
  test::Network221 net;
  const std::string page = to_html(net.loss, {.title = "the 2-2-1 network"});
  CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(page.find("<title>the 2-2-1 network</title>") != std::string::npos);
  // Nothing is loaded from anywhere: no src or href, no stylesheet link, no import; the one
  // http:// is the SVG namespace, a name and no address.
  CHECK(page.find("src=") == std::string::npos);
  CHECK(page.find("href=") == std::string::npos);
  CHECK(page.find("<link") == std::string::npos);
  CHECK(page.find("@import") == std::string::npos);
  CHECK(page.find("https://") == std::string::npos);
  CHECK(count_of(page, "http://") == 1);
  CHECK(page.find("xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);

  // Every value of the graph is a row of the Wengert list and a box of the graph, with its op call.
  CHECK(count_of(page, "<tr id=\"row-") == 15);
  CHECK(count_of(page, "<g class=\"node ") == 15);
  for (const char* call : {"xW1 = matmul(x, W1)", "z1 = add(xW1, b1)", "a1 = sigmoid(z1)", "a1W2 = matmul(a1, W2)",
                           "z2 = add(a1W2, b2)", "y = sigmoid(z2)", "e = add_scalar(y, s=-1)", "e2 = square(e)",
                           "s = sum(e2)", "C = mul_scalar(s, s=0.5)"})
    CHECK_MESSAGE(page.find(std::string("<span class=\"call\">") + call + "</span>") != std::string::npos, call);
  CHECK(page.find("<span class=\"rule\">dx = g y (1 - y)</span>") != std::string::npos);
  // Each of the 10 ops has one forward step; 2 + 3 edges into the two matmuls and adds, ... : 14 edges.
  CHECK(page.find("\"forward\":[5,6,7,8,9,10,11,12,13,14]") != std::string::npos);
  CHECK(count_of(page, "<path class=\"edge\"") == 14);

  // The values shown are the engine's (6 significant digits).
  for (V* v : net.all()) {
    const std::vector<double> shown = test::numbers_in(field(node_entry(page, v->name()), "value"));
    REQUIRE_MESSAGE(shown.size() == v->size(), v->name());
    for (std::size_t i = 0; i < shown.size(); ++i)
      CHECK_MESSAGE(shown[i] == doctest::Approx(v->value().data()[i]).epsilon(1e-5), v->name());
  }
}

TEST_CASE("write_html: the reverse sweep's steps carry the rule with the engine's numbers") {
  Tape<double>::current().release();
  test::Network221 net;
  const std::string page = to_html(net.loss);
  // Seed, then one step per op (10), in reverse tape order.
  CHECK(page.find("the reverse sweep starts at C: dC/dC = 1 (the seed)") != std::string::npos);
  CHECK(count_of(page, "\"title\":\"reverse step ") == 10);
  CHECK(page.find("reverse step 1: C = mul_scalar(s, s=0.5)") < page.find("reverse step 10: xW1 = matmul(x, W1)"));

  // y = sigmoid(z2) with one-element values: the rule with the numbers put in, and the result.
  auto four = [](double v) {
    std::ostringstream out;
    out << std::setprecision(4) << v;
    return v < 0 ? "(" + out.str() + ")" : out.str();
  };
  const double g = -(1.0 - net.y.item()), y = net.y.item();
  const std::string expected = "dC/dz2 += g y (1 - y) = " + four(g) + " · " + four(y) + " · (1 - " + four(y) + ")";
  INFO(expected);
  CHECK(page.find(expected) != std::string::npos);
  // ... and what it added is the engine's dC/dz2.
  const std::string line_start = page.substr(page.find(expected) + expected.size(), 40);
  const std::vector<double> added = test::numbers_in(line_start);
  REQUIRE(!added.empty());
  CHECK(added[0] == doctest::Approx(g * y * (1 - y)).epsilon(1e-3));
  // An op's scalar argument is put into its rule too: C = 0.5 s gives dC/ds = g s = 1 · 0.5.
  CHECK(page.find("dC/ds += g s = 1 · 0.5 = 0.5") != std::string::npos);
  // Operands of a two-input op are named on the edges (the rule's a and b).
  CHECK(page.find("<text class=\"operand\"") != std::string::npos);
  Tape<double>::current().release();
}

TEST_CASE("write_html changes nothing: grad(), retained grads and the graph are as before") {
  Tape<double>::current().release();
  test::Network221 net;
  net.z1.retain_grad();
  (void)to_html(net.loss);
  CHECK_FALSE(net.W1.has_grad());
  CHECK_FALSE(net.z1.has_grad());
  // The graph is still there: backward gives what a graph that was never drawn gives.
  net.loss.backward();
  test::Network221 fresh;
  fresh.z1.retain_grad();
  fresh.loss.backward();
  CHECK(net.W1.grad() == fresh.W1.grad());
  CHECK(net.z1.grad() == fresh.z1.grad());
  Tape<double>::current().release();
}

TEST_CASE("write_html: second-order graphs from create_graph draw and sweep too") {
  Tape<double>::current().release();
  V x = V::scalar(1.5, true).set_name("x");
  V w = V::scalar(0.8).set_name("w");
  V y = sigmoid(w * x + V::scalar(-0.5));
  V dy_dx = grad(y, x, {.create_graph = true}).set_name("dy/dx");
  const std::string page = to_html(dy_dx);
  CHECK(page.find("sigmoid_backward") != std::string::npos);
  // The last update of x's adjoint is d2y/dx2, as the engine computes it.
  const double second = grad(dy_dx, x, {.retain_graph = true}).item();
  const std::size_t x_id = [&] {
    std::size_t index = 0;
    for (auto at = page.find("{\"name\":\""); at < page.find("{\"name\":\"x\""); at = page.find("{\"name\":\"", at + 1))
      ++index;
    return index;
  }();
  const std::string update = "[" + std::to_string(x_id) + ",\"";
  const auto last = page.rfind(update);
  REQUIRE(last != std::string::npos);
  CHECK(std::stod(page.substr(last + update.size())) == doctest::Approx(second).epsilon(1e-5));
  Tape<double>::current().release();
}

TEST_CASE("write_html: large tensors show a summary and a heatmap, and left to right is an option") {
  Tape<double>::current().release();
  V a(test::random_array({20, 30}, 1), true);
  V b(test::random_array({30, 100}, 2), true);
  a.set_name("A");
  b.set_name("B");
  V product = matmul(a, b).set_name("P");
  V loss = mean(tanh(product)).set_name("L");
  const std::string page = to_html(loss);
  const std::string entry = node_entry(page, "P");
  const std::string value = field(entry, "value");
  CHECK(value.find("(20, 100) min ") != std::string::npos);
  CHECK(value.find(", mean ") != std::string::npos);
  CHECK(entry.find("\"heat\":{\"rows\":20,\"cols\":48,") != std::string::npos);  // 100 columns averaged to 48
  CHECK(node_entry(page, "A").find("\"grad_heat\":{\"rows\":20,\"cols\":30,") != std::string::npos);

  // Top to bottom by default: the loss below its inputs; with left_to_right, to their right.
  const auto [top_x, top_y] = box_centre(page, "A");
  const auto [bottom_x, bottom_y] = box_centre(page, "L");
  CHECK(bottom_y > top_y + 100);
  const std::string sideways = to_html(loss, {.left_to_right = true});
  const auto [left_x, left_y] = box_centre(sideways, "A");
  const auto [right_x, right_y] = box_centre(sideways, "L");
  CHECK(right_x > left_x + 100);
  (void)top_x, (void)bottom_x, (void)left_y, (void)right_y;
  Tape<double>::current().release();
}

TEST_CASE("write_html: NaN and Inf make a page that still parses") {
  Tape<double>::current().release();
  V x(Array<double>{-1.0, 0.0, 2.0}, true);
  x.set_name("x");
  V loss = sum(log(x)).set_name("L");  // log(-1) is NaN, log(0) is -Inf, and dL/dx(0) is Inf
  const std::string page = to_html(loss);
  const std::string entry = node_entry(page, "v0");
  CHECK(field(entry, "value").find("nan, -inf, 0.693147]") != std::string::npos);  // "nan" or "-nan"
  CHECK(entry.find("\"heat\":{\"rows\":1,\"cols\":3,\"data\":[null,null,0.6931]") != std::string::npos);
  CHECK(node_entry(page, "x").find("\"grad_heat\":{\"rows\":1,\"cols\":3,\"data\":[-1,null,0.5]") !=
        std::string::npos);
  Tape<double>::current().release();
}

TEST_CASE("write_html: float tapes, and the file on disk") {
  Tape<float>::current().release();
  Variable<float> x = Variable<float>::scalar(2.0f, true).set_name("x");
  Variable<float> y = exp(x * x).set_name("y");
  const std::string path = "html_test_page.html";
  write_html(y, path);
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  CHECK(text.str() == to_html(y));
  CHECK(text.str().find("y = exp(v0)") != std::string::npos);
  std::remove(path.c_str());
  Tape<float>::current().release();
}

TEST_CASE("write_html: bad input gets a clear error and leaves no file") {
  Tape<double>::current().release();
  V w = V::scalar(0.5, true).set_name("w");
  CHECK(test::message_of([&] { write_html(w, "unused.html"); }).find("write_html: the value (shape ()) was not "
                                                                      "computed by ops on the tape (it is a leaf)") !=
        std::string::npos);
  V vector_value = w * V(Array<double>{1.0, 2.0});
  CHECK(test::message_of([&] { write_html(vector_value, "unused.html"); })
            .find("write_html: the value has shape (2,); the page sweeps backward from a scalar") != std::string::npos);
  V loss = sum(vector_value);
  CHECK(test::message_of([&] { write_html(loss, "/nonexistent-directory/page.html"); }) ==
        "write_html: cannot write '/nonexistent-directory/page.html'");
  loss.backward();  // releases the graph
  const std::string released = test::message_of([&] { write_html(loss, "unused.html"); });
  CHECK(released.find("write_html: the graph of this value (op 'sum') was released") != std::string::npos);
  CHECK(released.find("retain_graph = true") != std::string::npos);
  CHECK_FALSE(std::ifstream("unused.html").good());
  V changed = V::scalar(2.0, true);
  V square_of_changed = square(changed);
  changed.data()() = 3.0;  // the op's input changed in place after the op used it
  CHECK(test::message_of([&] { write_html(square_of_changed, "unused.html"); })
            .find("write_html: grad: input 0 of op 'square' (shape ()) was changed in place") != std::string::npos);
  // The engine is still usable after the errors.
  V again = sum(w * V(Array<double>{1.0, 2.0}));
  again.backward();
  CHECK(w.grad()() == doctest::Approx(3.0 + 3.0));
  Tape<double>::current().release();
}
