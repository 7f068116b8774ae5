// RNN, LSTM and GRU: outputs and final states against PyTorch's equations written
// out here step by step with plain loops (float64, small odd sizes, one and two
// layers, with and without an initial state), parameter names and shapes as
// PyTorch's, gradients from the tape against finite differences (first order;
// second order on a 2-step sequence), the state API, and shape errors.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <nn/nn.hpp>

#include "test_util.hpp"

using namespace nn;
using V = Variable<double>;
using A = autodiff::Array<double>;

namespace {

double sigma(double v) { return 1 / (1 + std::exp(-v)); }

// W v + b for a (rows, n) matrix W and rows-long b: row g of torch's x W^T + b.
std::vector<double> affine_rows(const A& W, const A& b, const std::vector<double>& v) {
  const std::size_t rows = W.shape()[0], n = W.shape()[1];
  std::vector<double> out(rows);
  for (std::size_t g = 0; g < rows; ++g) {
    double s = b(g);
    for (std::size_t k = 0; k < n; ++k) s += W(g, k) * v[k];
    out[g] = s;
  }
  return out;
}

struct Reference {
  A output, h, c;  // (B, T, H), (L, B, H), (L, B, H)
};

// The equations of torch.nn.RNN/LSTM/GRU, one sample, one step, one layer at a time.
Reference reference(Recurrent<double>& layer, const A& x, const A* h0, const A* c0) {
  const std::size_t B = x.shape()[0], T = x.shape()[1], H = layer.hidden_size(), L = layer.num_layers();
  const RecurrentKind kind = layer.kind();
  Reference r{A::from_shape({B, T, H}), A::from_shape({L, B, H}), A::from_shape({L, B, H})};
  r.c.fill(0);
  for (std::size_t b = 0; b < B; ++b) {
    // the input sequence of the current layer, one vector per step
    std::vector<std::vector<double>> in(T);
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t k = 0; k < x.shape()[2]; ++k) in[t].push_back(x(b, t, k));
    for (std::size_t l = 0; l < L; ++l) {
      const A &Wih = layer.weight_ih(l).value(), &Whh = layer.weight_hh(l).value();
      const A &bih = layer.bias_ih(l).value(), &bhh = layer.bias_hh(l).value();
      std::vector<double> h(H, 0), c(H, 0);
      for (std::size_t j = 0; j < H; ++j) {
        if (h0) h[j] = (*h0)(l, b, j);
        if (c0) c[j] = (*c0)(l, b, j);
      }
      for (std::size_t t = 0; t < T; ++t) {
        const std::vector<double> gx = affine_rows(Wih, bih, in[t]), gh = affine_rows(Whh, bhh, h);
        std::vector<double> next(H);
        for (std::size_t j = 0; j < H; ++j) {
          if (kind == RecurrentKind::rnn_tanh) {
            next[j] = std::tanh(gx[j] + gh[j]);
          } else if (kind == RecurrentKind::rnn_relu) {
            next[j] = std::max(0.0, gx[j] + gh[j]);
          } else if (kind == RecurrentKind::lstm) {  // i, f, g, o
            const double i = sigma(gx[j] + gh[j]);
            const double f = sigma(gx[H + j] + gh[H + j]);
            const double g = std::tanh(gx[2 * H + j] + gh[2 * H + j]);
            const double o = sigma(gx[3 * H + j] + gh[3 * H + j]);
            c[j] = f * c[j] + i * g;
            next[j] = o * std::tanh(c[j]);
          } else {  // r, z, n
            const double rr = sigma(gx[j] + gh[j]);
            const double z = sigma(gx[H + j] + gh[H + j]);
            const double n = std::tanh(gx[2 * H + j] + rr * gh[2 * H + j]);
            next[j] = (1 - z) * n + z * h[j];
          }
        }
        h = next;
        in[t] = h;  // the next layer's input at step t
      }
      for (std::size_t j = 0; j < H; ++j) {
        r.h(l, b, j) = h[j];
        r.c(l, b, j) = c[j];
      }
    }
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t j = 0; j < H; ++j) r.output(b, t, j) = in[t][j];
  }
  return r;
}

using test::close;

std::unique_ptr<Recurrent<double>> make(RecurrentKind kind, std::size_t in, std::size_t hidden, std::size_t layers) {
  switch (kind) {
    case RecurrentKind::rnn_tanh: return std::make_unique<RNN<double>>(in, hidden, layers);
    case RecurrentKind::rnn_relu: return std::make_unique<RNN<double>>(in, hidden, layers, Nonlinearity::relu);
    case RecurrentKind::lstm: return std::make_unique<LSTM<double>>(in, hidden, layers);
    default: return std::make_unique<GRU<double>>(in, hidden, layers);
  }
}

const RecurrentKind kKinds[] = {RecurrentKind::rnn_tanh, RecurrentKind::rnn_relu, RecurrentKind::lstm,
                                RecurrentKind::gru};

}  // namespace

TEST_CASE("RNN, LSTM and GRU give PyTorch's equations step by step: outputs and final states, 1 and 2 layers") {
  manual_seed(3);
  for (RecurrentKind kind : kKinds)
    for (std::size_t layers : {1, 2}) {
      auto layer = make(kind, 3, 5, layers);
      CAPTURE(layer->describe());
      const bool lstm = kind == RecurrentKind::lstm;
      const A x = test::random_array({2, 4, 3}, 1);
      // from zeros
      auto [output, state] = layer->forward_with_state(V(x));
      Reference r = reference(*layer, x, nullptr, nullptr);
      CHECK(output.shape() == autodiff::Shape{2, 4, 5});
      CHECK(close(output.value(), r.output));
      CHECK(close(state.h.value(), r.h));
      CHECK(lstm == state.c.defined());
      if (lstm) CHECK(close(state.c.value(), r.c));
      CHECK(close(layer->forward(V(x)).value(), r.output));
      // from a given state
      const A h0 = test::random_array({layers, 2, 5}, 2, -0.8, 0.8), c0 = test::random_array({layers, 2, 5}, 3);
      RecurrentState<double> given{V(h0), lstm ? V(c0) : V()};
      auto result = layer->forward_with_state(V(x), given);
      Reference s = reference(*layer, x, &h0, lstm ? &c0 : nullptr);
      CHECK(close(result.output.value(), s.output));
      CHECK(close(result.state.h.value(), s.h));
      if (lstm) CHECK(close(result.state.c.value(), s.c));
      CHECK_FALSE(close(result.output.value(), r.output, 1e-6));  // the state made a difference
      // the final state carried on is the same as one longer sequence
      const A x2 = test::random_array({2, 3, 3}, 4);
      auto continued = layer->forward_with_state(V(x2), result.state);
      A joined = A::from_shape({2, 7, 3});
      xt::view(joined, xt::all(), xt::range(0, 4), xt::all()) = x;
      xt::view(joined, xt::all(), xt::range(4, 7), xt::all()) = x2;
      Reference whole = reference(*layer, joined, &h0, lstm ? &c0 : nullptr);
      CHECK(close(continued.state.h.value(), whole.h));
      CHECK(close(continued.output.value(), A(xt::view(whole.output, xt::all(), xt::range(4, 7), xt::all()))));
    }
}

TEST_CASE("recurrent parameters are named and shaped as PyTorch's, drawn from U(-1/sqrt(hidden), 1/sqrt(hidden))") {
  LSTM<double> lstm(3, 7, 2);
  const auto named = lstm.named_parameters();
  REQUIRE(named.size() == 8);
  const char* names[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"};
  const autodiff::Shape shapes[] = {{28, 3}, {28, 7}, {28}, {28}, {28, 7}, {28, 7}, {28}, {28}};
  const double k = 1 / std::sqrt(7.0);
  for (std::size_t i = 0; i < 8; ++i) {
    CHECK(named[i].first == names[i]);
    CHECK(named[i].second.shape() == shapes[i]);
    CHECK(xt::amax(xt::abs(named[i].second.value()))() <= k);
  }
  CHECK(xt::amax(xt::abs(lstm.weight_hh(1).value()))() > 0.8 * k);  // spread over the range, not a constant
  CHECK(GRU<double>(4, 6).weight_ih(0).shape() == autodiff::Shape{18, 4});
  CHECK(RNN<double>(4, 6).weight_hh(0).shape() == autodiff::Shape{6, 6});
  CHECK(lstm.describe() == "LSTM(3 -> 7, num_layers=2)");
  CHECK(RNN<double>(2, 3, 1, Nonlinearity::relu).describe() == "RNN(2 -> 3, relu)");
  CHECK(lstm.parameter_count() == (28 * 3 + 28 * 7 + 2 * 28) + (28 * 7 + 28 * 7 + 2 * 28));
  CHECK_THROWS_AS(lstm.weight_ih(2), std::out_of_range);
}

TEST_CASE("recurrent layers: gradients of a sequence loss over every parameter, input and state") {
  for (RecurrentKind kind : kKinds) {
    const bool lstm = kind == RecurrentKind::lstm;
    auto layer = make(kind, 2, 3, 2);
    CAPTURE(layer->describe());
    for (std::size_t steps : {std::size_t(3), std::size_t(2)}) {
      CAPTURE(steps);
      // inputs: x, h0, c0, then the 8 parameters
      autodiff::GradFunction f = [&](const std::vector<V>& in) {
        for (std::size_t l = 0; l < 2; ++l) {
          layer->weight_ih(l) = in[3 + 4 * l];
          layer->weight_hh(l) = in[4 + 4 * l];
          layer->bias_ih(l) = in[5 + 4 * l];
          layer->bias_hh(l) = in[6 + 4 * l];
        }
        auto [output, state] = layer->forward_with_state(in[0], {in[1], lstm ? in[2] : V()});
        std::vector<V> parts{autodiff::flatten(output), autodiff::flatten(state.h)};
        if (lstm) parts.push_back(autodiff::flatten(state.c));
        // in[2] enters the RNN's and GRU's loss too, so that every input has a gradient
        if (!lstm) parts.push_back(autodiff::flatten(in[2]));
        return autodiff::concatenate(parts);
      };
      std::vector<A> inputs{test::random_array({2, steps, 2}, 1), test::random_array({2, 2, 3}, 2, -0.8, 0.8),
                            test::random_array({2, 2, 3}, 3)};
      for (auto& [name, p] : layer->named_parameters()) inputs.push_back(p.value());
      auto first = autodiff::gradcheck(f, inputs);
      CHECK_MESSAGE(first.passed, first.to_string());
      if (steps == 2) {
        auto second = autodiff::gradgradcheck(f, inputs);
        CHECK_MESSAGE(second.passed, second.to_string());
      }
    }
  }
}

TEST_CASE("recurrent layers in a Sequential, through forward_values, and in float32") {
  manual_seed(5);
  LSTM<double> lstm(3, 4);
  const A x = test::random_array({2, 5, 3}, 7);
  Sequential<double> model;
  model.add(lstm).add(Tanh<double>());  // the copy shares the parameters, as a copied Variable does
  CHECK(close(model(V(x)).value(), A(xt::tanh(lstm(V(x)).value()))));
  const A h0 = test::random_array({1, 2, 4}, 8), c0 = test::random_array({1, 2, 4}, 9);
  auto values = lstm.forward_values({V(x), V(h0), V(c0)});
  REQUIRE(values.size() == 3);
  auto [output, state] = lstm.forward_with_state(V(x), {V(h0), V(c0)});
  CHECK(close(values[0].value(), output.value()));
  CHECK(close(values[1].value(), state.h.value()));
  CHECK(close(values[2].value(), state.c.value()));
  CHECK(lstm.forward_values({V(x)}).size() == 3);
  GRU<double> gru(3, 4);
  CHECK(gru.forward_values({V(x), V(h0)}).size() == 2);
  CHECK_THROWS_AS(lstm.forward_values({V(x), V(h0)}), std::invalid_argument);
  CHECK_THROWS_AS(Linear<double>(3, 2).forward_values({V(x), V(x)}), std::invalid_argument);
  CHECK(Linear<double>(3, 2).forward_values({V(A::from_shape({1, 3}))}).size() == 1);

  // float32 gives the float64 result to float precision
  LSTM<float> single(3, 4);
  for (std::size_t i = 0; i < 4; ++i)
    single.parameters()[i].data() = xt::cast<float>(lstm.parameters()[i].value());
  const auto y = single(Variable<float>(autodiff::Array<float>(xt::cast<float>(x)))).value();
  CHECK(xt::allclose(xt::cast<double>(y), lstm(V(x)).value(), 1e-5, 1e-5));
}

TEST_CASE("recurrent layers: wrong shapes and states are errors naming the layer") {
  LSTM<double> lstm(3, 4, 2);
  auto message = [](const std::function<void()>& f) { return test::message_of(f); };
  CHECK(message([&] { lstm(V(A::from_shape({2, 5, 4}))); })
            .find("LSTM(3 -> 4, num_layers=2) got input of shape (2, 5, 4), expected (batch, time, 3)") !=
        std::string::npos);
  CHECK_THROWS_AS(lstm(V(A::from_shape({5, 3}))), autodiff::ShapeError);
  CHECK(message([&] { lstm(V(A::from_shape({2, 0, 3}))); }).find("empty sequence") != std::string::npos);
  const V x(A(xt::zeros<double>({2, 5, 3})));
  CHECK(message([&] {
          lstm.forward_with_state(x, {V(A::from_shape({1, 2, 4})), V(A::from_shape({1, 2, 4}))});
        }).find("the initial state h has shape (1, 2, 4), expected (num_layers, batch, hidden) = (2, 2, 4)") !=
        std::string::npos);
  CHECK_THROWS_AS(lstm.forward_with_state(x, {V(A::from_shape({2, 2, 4})), V()}), std::invalid_argument);
  CHECK_THROWS_AS(GRU<double>(3, 4).forward_with_state(x, {V(), V(A::from_shape({1, 2, 4}))}), std::invalid_argument);
  CHECK_THROWS_AS(RNN<double>(0, 4), std::invalid_argument);
  CHECK_THROWS_AS(RNN<double>(3, 4, 0), std::invalid_argument);
}
