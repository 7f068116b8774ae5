// nn::check_backprop: a backprop written by hand in plain xtensor, as a student
// writes it, with the classic mistakes planted one at a time; each must be named
// at its layer and equation, and the right one must pass.
#include <doctest/doctest.h>

#include <cmath>

#include <nn/nn.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "test_util.hpp"

using namespace nn;
using autodiff::Disagreement;
using test::contains;

namespace {

enum class Plant {
  none,
  missing_fprime,      // BP2 without ⊙ f'(z^l), in every layer
  wrong_transpose,     // BP2 with W^2 for W^{2 T} (W^2 is square)
  no_batch_average,    // BP1 without the 1/M of the mean cost
  sign_output_delta,   // BP1 as (y - a^L) / M
  wrong_output_delta,  // BP1 with the sigmoid' of the quadratic cost kept: ⊙ a^L (1 - a^L)
  db_mean,             // BP3 as a mean over the batch
  dW_of_z,             // BP4 at layer 2 with z^1 for a^1
  dW_pytorch_layout,   // dW^3 handed in as (out, in)
};

const std::size_t M = 6;

// 5-4-4-3, sigmoid hidden layers, logits out; the batch: M samples, 3 classes.
struct Setup {
  Sequential<double> model;
  Batch<double> batch;
  Setup() {
    manual_seed(21);
    model.add(Linear<double>(5, 4)).add(Sigmoid<double>()).add(Linear<double>(4, 4)).add(Sigmoid<double>());
    model.add(Linear<double>(4, 3, xavier_uniform(), normal(0.0, 0.1)));
    batch = {Variable<double>(test::random_array({M, 5}, 22, -1, 1)), Labels{0, 2, 1, 1, 0, 2}, Variable<double>()};
  }
  const Array<double>& W(std::size_t l) { return model.get<Linear<double>>(2 * (l - 1)).weight().value(); }
  const Array<double>& b(std::size_t l) { return model.get<Linear<double>>(2 * (l - 1)).bias().value(); }
};

const LossFunction<double> mean_cross_entropy = [](const Variable<double>& logits, const Batch<double>& batch) {
  return cross_entropy(logits, batch.labels, Reduction::mean);
};

Array<double> dot(const Array<double>& a, const Array<double>& b) {
  return autodiff::matmul(Variable<double>(a), Variable<double>(b)).value();
}
Array<double> T(const Array<double>& a) { return xt::transpose(a); }
Array<double> sigmoid(const Array<double>& z) { return 1.0 / (1.0 + xt::exp(-z)); }
Array<double> softmax_rows(const Array<double>& z) {
  const Array<double> e = xt::exp(z);
  const Array<double> row_sum = xt::sum(e, {1});
  return e / xt::view(row_sum, xt::all(), xt::newaxis());
}

// The lecture's BP1-BP4, row-vector convention (z^l = a^{l-1} W^l + b^l).
std::vector<LayerBackprop> hand_backprop(Setup& s, Plant plant) {
  const std::size_t L = 3;
  std::vector<Array<double>> z(L + 1), a(L + 1);
  a[0] = s.batch.inputs.value();
  for (std::size_t l = 1; l <= L; ++l) {
    z[l] = dot(a[l - 1], s.W(l)) + s.b(l);
    a[l] = l < L ? sigmoid(z[l]) : softmax_rows(z[l]);
  }
  const Array<double> y = one_hot<double>(s.batch.labels, 3);
  std::vector<LayerBackprop> g(L);
  Array<double> delta = (a[L] - y) / double(M);                                              // BP1
  if (plant == Plant::no_batch_average) delta = a[L] - y;
  if (plant == Plant::sign_output_delta) delta = (y - a[L]) / double(M);
  if (plant == Plant::wrong_output_delta) delta = (a[L] - y) * a[L] * (1.0 - a[L]) / double(M);
  for (std::size_t l = L; l >= 1; --l) {
    g[l - 1].delta = delta;
    g[l - 1].db = xt::sum(delta, {0});                                                        // BP3
    if (plant == Plant::db_mean) g[l - 1].db = xt::sum(delta, {0}) / double(M);
    g[l - 1].dW = dot(T(plant == Plant::dW_of_z && l == 2 ? z[1] : a[l - 1]), delta);         // BP4
    if (plant == Plant::dW_pytorch_layout && l == 3) g[l - 1].dW = T(g[l - 1].dW);
    if (l == 1) break;
    const Array<double> back = dot(delta, plant == Plant::wrong_transpose && l == 2 ? s.W(l) : T(s.W(l)));
    delta = plant == Plant::missing_fprime ? back : Array<double>(back * a[l - 1] * (1.0 - a[l - 1]));  // BP2
  }
  return g;
}

BackpropReport checked(Plant plant) {
  Setup s;
  const BackpropReport report = check_backprop(s.model, mean_cross_entropy, s.batch, hand_backprop(s, plant));
  for (const auto& p : s.model.parameters()) CHECK_FALSE(p.has_grad());  // no leaf's grad() is touched
  return report;
}

// The report on `plant`, which must name this layer and equation, in words that contain `words`.
BackpropReport named_at(Plant plant, std::size_t layer, const char* equation, const std::string& words) {
  const BackpropReport report = checked(plant);
  CHECK_FALSE(report.passed);
  CHECK(report.layer == layer);
  CHECK(report.equation == equation);
  CHECK(contains(report.message, words));
  return report;
}

const BackpropQuantityCheck& find(const BackpropReport& report, const std::string& quantity) {
  for (const auto& check : report.checks)
    if (check.quantity == quantity) return check;
  FAIL("no check of " << quantity);
  return report.checks.front();
}

}  // namespace

TEST_CASE("check_backprop: a right backprop passes, every quantity of every layer in the order of the equations") {
  const BackpropReport report = checked(Plant::none);
  CHECK(report.passed);
  CHECK(report.layer == 0);
  CHECK(report.message.empty());
  REQUIRE(report.checks.size() == 9);
  const char* order[][2] = {{"delta^3", "BP1"}, {"dC/db^3", "BP3"}, {"dC/dW^3", "BP4"},
                            {"delta^2", "BP2"}, {"dC/db^2", "BP3"}, {"dC/dW^2", "BP4"},
                            {"delta^1", "BP2"}, {"dC/db^1", "BP3"}, {"dC/dW^1", "BP4"}};
  for (std::size_t i = 0; i < 9; ++i) {
    CHECK(report.checks[i].quantity == order[i][0]);
    CHECK(report.checks[i].equation == order[i][1]);
    CHECK(report.checks[i].equation_check.passed);
    CHECK(report.checks[i].tape_check.max_rel_error < 1e-7);  // relative to atol 1e-8 where entries are near 0
  }
  CHECK(contains(report.to_string(), "backprop check passed"));

  Setup s;  // db as a (1, n_l) row, as NumPy's sum(axis=0, keepdims=True) gives it, is accepted too
  std::vector<LayerBackprop> rows = hand_backprop(s, Plant::none);
  for (auto& layer : rows) layer.db.reshape({1, layer.db.size()});
  CHECK(check_backprop(s.model, mean_cross_entropy, s.batch, rows).passed);
}

TEST_CASE("check_backprop: a missing f'(z^l) is named at the first layer it breaks, BP2") {
  const BackpropReport report =
      named_at(Plant::missing_fprime, 2, "BP2", "layer 2: delta^2 disagrees (BP2) while delta^3 agrees");
  CHECK(contains(report.message, "without ⊙ f'(z^2): the f'(z^2) factor is missing"));
  CHECK(contains(report.message, "Also failing, each given your own values upstream: BP2 at layer 1."));
  CHECK(find(report, "dC/dW^2").equation_check.passed);  // BP4 holds on its (wrong) delta^2
  CHECK_FALSE(find(report, "dC/dW^2").tape_check.passed);
}

TEST_CASE("check_backprop: W^{l+1} for W^{l+1 T} is named at the layer below it") {
  const BackpropReport report =
      named_at(Plant::wrong_transpose, 1, "BP2", "layer 1: delta^1 disagrees (BP2) while delta^2 agrees");
  CHECK(contains(report.message, "W^2 where BP2 has its transpose"));
  CHECK(find(report, "delta^2").tape_check.passed);
}

TEST_CASE("check_backprop: a missing 1/M in BP1 is a factor M of delta^L, and nothing else is wrong") {
  const BackpropReport report =
      named_at(Plant::no_batch_average, 3, "BP1",
               "layer 3 (the output layer): delta^3 disagrees (BP1): yours are 6.0 times the tape's: a missing 1/6?");
  const autodiff::Diagnosis& d = find(report, "delta^3").equation_check.diagnosis;
  CHECK(d.kind == Disagreement::factor);
  CHECK(d.factor == doctest::Approx(6.0).epsilon(1e-9));
  CHECK(contains(report.message, "M = 6 is the batch size"));
  CHECK_FALSE(contains(report.message, "Also failing"));
  for (const auto& check : report.checks) CHECK(check.equation_check.passed == (check.quantity != "delta^3"));
}

TEST_CASE("check_backprop: mistakes in the output layer are found there, though every gradient is wrong") {
  const BackpropReport sign = named_at(Plant::sign_output_delta, 3, "BP1", "yours is minus the tape's");
  CHECK(find(sign, "delta^3").equation_check.diagnosis.kind == Disagreement::sign);

  const BackpropReport wrong = named_at(Plant::wrong_output_delta, 3, "BP1",
                                        "layer 3 (the output layer): delta^3 disagrees (BP1): yours are the tape's "
                                        "times an elementwise factor between");
  for (const auto& check : wrong.checks) {
    CAPTURE(check.quantity);
    CHECK_FALSE(check.tape_check.passed);                                   // every quantity is off ...
    CHECK(check.equation_check.passed == (check.quantity != "delta^3"));   // ... because of BP1 alone
  }
  CHECK(contains(wrong.to_string(), "delta^3[")); // the worst entries
}

TEST_CASE("check_backprop: BP3 and BP4 mistakes are named while delta agrees") {
  const BackpropReport mean =
      named_at(Plant::db_mean, 3, "BP3", "layer 3 (the output layer): dC/db^3 disagrees (BP3) while delta^3 agrees");
  CHECK(contains(mean.message, "a missing factor 6?"));
  CHECK(contains(mean.message, "a 1/M too many"));

  const BackpropReport of_z =
      named_at(Plant::dW_of_z, 2, "BP4", "layer 2: dC/dW^2 disagrees (BP4) while delta^2 agrees");
  CHECK_FALSE(contains(of_z.message, "Also failing"));

  const BackpropReport layout =
      named_at(Plant::dW_pytorch_layout, 3, "BP4", "yours has shape (3, 4), the transpose of (4, 3)");
  CHECK(find(layout, "dC/dW^3").equation_check.diagnosis.kind == Disagreement::transpose);
  CHECK(contains(layout.message, "hand in its transpose"));
}

TEST_CASE("check_backprop: BP1 without f'(z^L) when an activation follows the last Linear") {
  manual_seed(23);
  Sequential<double> model;
  model.add(Linear<double>(3, 4)).add(Tanh<double>()).add(Linear<double>(4, 2)).add(Sigmoid<double>());
  const Array<double> x = test::random_array({5, 3}, 24, -1, 1), t = test::random_array({5, 2}, 25, 0, 1);
  const Batch<double> batch{Variable<double>(x), {}, Variable<double>(t)};
  const LossFunction<double> loss = [](const Variable<double>& a, const Batch<double>& b) { return mse(a, b.targets); };
  const Array<double>&W1 = model.get<Linear<double>>(0).weight().value(), &b1 = model.get<Linear<double>>(0).bias().value();
  const Array<double>&W2 = model.get<Linear<double>>(2).weight().value(), &b2 = model.get<Linear<double>>(2).bias().value();
  const Array<double> a1 = xt::tanh(dot(x, W1) + b1), a2 = sigmoid(dot(a1, W2) + b2);
  auto backprop = [&](bool with_fprime) {
    // C = (1 / (M K)) sum (a^2 - t)^2, M K = 10: dC/da^2 = 2 (a^2 - t) / 10
    const Array<double> dC_da = 2.0 * (a2 - t) / 10.0;
    const Array<double> delta2 = with_fprime ? Array<double>(dC_da * a2 * (1.0 - a2)) : dC_da;
    const Array<double> delta1 = dot(delta2, T(W2)) * (1.0 - a1 * a1);
    return std::vector<LayerBackprop>{{delta1, dot(T(x), delta1), xt::sum(delta1, {0})},
                                      {delta2, dot(T(a1), delta2), xt::sum(delta2, {0})}};
  };
  CHECK(check_backprop(model, loss, batch, backprop(true)).passed);
  const BackpropReport report = check_backprop(model, loss, batch, backprop(false));
  CHECK(report.layer == 2);
  CHECK(report.equation == "BP1");
  CHECK(contains(report.message, "yours is dC/da^2: the ⊙ f'(z^2) of BP1 is missing"));
}
