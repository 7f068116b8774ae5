// Check your own backprop: the lecture's four backpropagation equations written
// by hand in plain xtensor, then checked twice,
//   (1) equation by equation against the tape (nn::check_backprop): the same
//       network as an nn::Sequential, whose tape gives delta^l = dC/dz^l, dC/dW^l
//       and dC/db^l; it names the first layer and equation (BP1-BP4) that does
//       not hold and what kind of mistake it looks like;
//   (2) against central finite differences (autodiff::check_gradients), which
//       needs no derivative at all, and says whether yours are off by a factor,
//       a sign, a transpose...
// A switch injects the classic mistakes into the hand-written code, to see what
// each one breaks and that the checks name it.
//
// The network: 64-20-20-10 on a minibatch of M = 32 of the 8x8 digits, sigmoid
// hidden layers, softmax output, cross-entropy cost AVERAGED over the minibatch
// (PyTorch's default; the lecture's NumPy code sums instead: drop the 1/M in BP1).
// Row-vector convention, one sample per row: z^l = a^{l-1} W^l + b^l, with
// W^l of shape (n_{l-1}, n_l), a^0 = x and a^l = f(z^l).
//
//   (BP1) delta^L = dC/da^L ⊙ f'(z^L);  for softmax + cross-entropy: delta^L = (a^L - y) / M
//   (BP2) delta^l = (delta^{l+1} W^{l+1 T}) ⊙ f'(z^l)
//   (BP3) dC/db^l = sum over the batch (the rows) of delta^l
//   (BP4) dC/dW^l = a^{l-1 T} delta^l
//
//   backprop_check [--mistake=none|missing-fprime|wrong-transpose|no-batch-average|wrong-output-delta] [--all]
//                  [digits.csv.gz]
//
// Exit code 0 when the outcome is as expected: no mismatch without a mistake;
// with one, both checks catch it and check_backprop names the layer and the
// equation where it was made; --all runs every case.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <nn/nn.hpp>
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

using autodiff::Variable;
using Matrix = autodiff::Array<double>;  // double precision throughout: finite differences need it

const std::vector<std::size_t> layer_sizes = {64, 20, 20, 10};  // n_0 .. n_L
const std::size_t L = layer_sizes.size() - 1;                   // layers with weights: 3
const std::size_t batch_size = 32;                              // M

enum class Mistake { none, missing_fprime, wrong_transpose, no_batch_average, wrong_output_delta };

// Each mistake, and where check_backprop must find it: the layer, the equation and words of its diagnosis.
struct Case {
  Mistake mistake;
  const char* name;
  std::size_t layer;
  const char* equation;
  const char* diagnosis;
};
const std::vector<Case> cases = {
    {Mistake::none, "none", 0, "", ""},
    {Mistake::missing_fprime, "missing-fprime", 2, "BP2", "the f'(z^2) factor is missing"},
    {Mistake::wrong_transpose, "wrong-transpose", 1, "BP2", "W^2 where BP2 has its transpose"},
    {Mistake::no_batch_average, "no-batch-average", 3, "BP1", "32.0 times the tape's: a missing 1/32?"},
    {Mistake::wrong_output_delta, "wrong-output-delta", 3, "BP1", "an elementwise factor between"}};

// The network, indexed as in the lecture: W(l), b(l) for l = 1..L are the
// weight and bias of the l-th nn::Linear, which stores W^l as (n_{l-1}, n_l).
struct Network {
  nn::Sequential<double> model;
  const Matrix& W(std::size_t l) { return linear(l).weight().value(); }
  const Matrix& b(std::size_t l) { return linear(l).bias().value(); }
  nn::Linear<double>& linear(std::size_t l) { return model.get<nn::Linear<double>>(2 * (l - 1)); }
};

// ---- 1. Hand-derived backprop, plain xtensor ------------------------------------

Matrix sigmoid(const Matrix& z) { return 1.0 / (1.0 + xt::exp(-z)); }

// Row-wise softmax; subtracting each row's maximum keeps exp from overflowing.
// (The row statistics are evaluated first and broadcast as (M, 1) columns: with
// xtensor 0.24, a lazy xt::amax(z, {1}, xt::keep_dims) inside an expression gives garbage.)
Matrix softmax_rows(const Matrix& z) {
  const Matrix row_max = xt::amax(z, {1});
  const Matrix e = xt::exp(z - xt::view(row_max, xt::all(), xt::newaxis()));
  const Matrix row_sum = xt::sum(e, {1});
  return e / xt::view(row_sum, xt::all(), xt::newaxis());
}

struct Gradients {
  std::vector<Matrix> delta, dW, db;  // delta[l] = dC/dz^l, dW[l] = dC/dW^l, db[l] = dC/db^l
};

Gradients hand_backprop(Network& net, const Matrix& x, const Matrix& y, Mistake mistake) {
  const double M = static_cast<double>(x.shape(0));

  // Forward pass, keeping every z^l and a^l for the backward pass.
  std::vector<Matrix> z(L + 1), a(L + 1);
  a[0] = x;
  for (std::size_t l = 1; l <= L; ++l) {
    z[l] = xt::linalg::dot(a[l - 1], net.W(l)) + net.b(l);  // z^l = a^{l-1} W^l + b^l (b^l added to every row)
    a[l] = l < L ? sigmoid(z[l]) : softmax_rows(z[l]);
  }

  Gradients g{std::vector<Matrix>(L + 1), std::vector<Matrix>(L + 1), std::vector<Matrix>(L + 1)};
  // (BP1) For C = -(1/M) sum_samples sum_k y_k log a^L_k with a^L = softmax(z^L),
  // dC/da^L and softmax's Jacobian collapse to delta^L = (a^L - y) / M.
  g.delta[L] = (a[L] - y) / M;
  // MISTAKE: the cost averages over the batch, so the gradient must too. Without
  // the 1/M every delta, dW and db is M times too large (relative error M - 1 = 31).
  if (mistake == Mistake::no_batch_average) g.delta[L] = a[L] - y;
  // MISTAKE: the quadratic cost's BP1, delta^L = (a^L - y) ⊙ sigmoid'(z^L), kept
  // for softmax + cross-entropy, whose derivative cancels that factor. Every
  // delta, dW and db below is wrong, though BP2-BP4 are right.
  if (mistake == Mistake::wrong_output_delta) g.delta[L] = (a[L] - y) * a[L] * (1.0 - a[L]) / M;

  for (std::size_t l = L; l >= 1; --l) {
    // (BP3) b^l is added to every sample's row, so its gradient sums delta^l over the batch.
    g.db[l] = xt::sum(g.delta[l], {0});
    // (BP4) dC/dW^l = a^{l-1 T} delta^l: (n_{l-1}, M) x (M, n_l), the sum over the batch is in the product.
    g.dW[l] = xt::linalg::dot(xt::transpose(a[l - 1]), g.delta[l]);
    if (l == 1) break;

    // (BP2) one layer down: delta^{l-1} = (delta^l W^{l T}) ⊙ f'(z^{l-1}).
    Matrix W_transposed = xt::transpose(net.W(l));
    // MISTAKE: W^l instead of W^{l T}. For a non-square W^l the product
    // (M, n_l) x (n_{l-1}, n_l) does not fit and xtensor throws, so a student
    // notices at once; for the square 20x20 W^2 of this network it runs and
    // gives wrong numbers, the dangerous case. That is why one hidden layer is
    // square, and why the mistake is made only where the shapes allow it.
    if (mistake == Mistake::wrong_transpose && net.W(l).shape(0) == net.W(l).shape(1)) W_transposed = net.W(l);
    const Matrix back = xt::linalg::dot(g.delta[l], W_transposed);
    const Matrix sigmoid_prime = a[l - 1] * (1.0 - a[l - 1]);  // f'(z) = sigmoid(z) (1 - sigmoid(z)), from a = f(z)
    g.delta[l - 1] = back * sigmoid_prime;
    if (mistake == Mistake::missing_fprime) g.delta[l - 1] = back;  // MISTAKE: ⊙ f'(z^{l-1}) forgotten
  }
  return g;
}

// ---- 2. Checking ------------------------------------------------------------------

const nn::LossFunction<double> mean_cross_entropy = [](const Variable<double>& logits, const nn::Batch<double>& b) {
  // Softmax + cross-entropy from the logits z^L, averaged over the batch: the same cost as the hand code.
  return nn::cross_entropy(logits, b.labels, nn::Reduction::mean);
};

struct Outcome {
  nn::BackpropReport backprop;
  autodiff::GradCheckReport differences;
};

Outcome check(Network& net, const nn::Batch<double>& batch, Mistake mistake) {
  const Matrix y = nn::one_hot<double>(batch.labels, layer_sizes[L]);
  const Gradients hand = hand_backprop(net, batch.inputs.value(), y, mistake);
  Outcome outcome;

  // (1) The tape, equation by equation: hand in your delta^l, dC/dW^l and dC/db^l for every layer.
  std::vector<nn::LayerBackprop> yours;
  for (std::size_t l = 1; l <= L; ++l) yours.push_back({hand.delta[l], hand.dW[l], hand.db[l]});
  outcome.backprop = nn::check_backprop(net.model, mean_cross_entropy, batch, yours);
  std::printf("  (1) hand-derived vs the tape, equation by equation (nn::check_backprop)\n%s",
              outcome.backprop.to_string().c_str());

  // (2) Finite differences of the cost in every weight and bias, against the hand gradients
  // (gradcheck's tolerance: |hand - numeric| <= 1e-5 + 1e-3 |numeric|, as the differences carry
  // ~1e-10 of rounding noise). The cost as a function of the parameters: nn::functional_call runs
  // the model with them in place of its own.
  std::vector<Matrix> values, hand_gradients;
  autodiff::GradCheckOptions options;
  for (const auto& [name, parameter] : net.model.named_parameters()) {
    values.push_back(parameter.value());
    options.input_names.push_back(name);  // "0.weight" is W^1, "2.bias" b^2, ...
  }
  for (std::size_t l = 1; l <= L; ++l) hand_gradients.insert(hand_gradients.end(), {hand.dW[l], hand.db[l]});
  const autodiff::GradFunction cost = [&](const std::vector<Variable<double>>& p) {
    std::vector<nn::NamedParameter<double>> replacements;
    for (std::size_t i = 0; i < p.size(); ++i) replacements.emplace_back(options.input_names[i], p[i]);
    return mean_cross_entropy(nn::functional_call(net.model, replacements, batch.inputs), batch);
  };
  outcome.differences = autodiff::check_gradients(cost, values, hand_gradients, options);
  std::printf("  (2) hand-derived vs central finite differences (autodiff::check_gradients)\n");
  for (const autodiff::InputCheck& input : outcome.differences.inputs) {
    std::printf("      %-9s max rel error %9.2e  %s\n", input.name.c_str(), input.max_rel_error,
                input.passed ? "ok" : "MISMATCH");
    if (!input.passed) std::printf("          %s\n", input.diagnosis.sentence.c_str());
  }
  return outcome;
}

std::size_t differences_failed(const Outcome& outcome) {
  std::size_t failed = 0;
  for (const auto& input : outcome.differences.inputs) failed += !input.passed;
  return failed;
}

// Without a mistake nothing may disagree; with one, both checks must catch it and
// check_backprop must name the layer and equation where it was made.
bool as_expected(const Case& c, const Outcome& outcome) {
  const nn::BackpropReport& report = outcome.backprop;
  if (c.mistake == Mistake::none) return report.passed && outcome.differences.passed;
  return !report.passed && !outcome.differences.passed && report.layer == c.layer && report.equation == c.equation &&
         report.message.find(c.diagnosis) != std::string::npos;
}

int main(int argc, char** argv) {
  std::string path = WENGERT_DATA_DIR "/digits.csv.gz";
  std::vector<Case> runs = {cases[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--all") {
      runs = cases;
    } else if (arg.rfind("--mistake=", 0) == 0) {
      runs.clear();
      for (const Case& c : cases)
        if (arg.substr(10) == c.name) runs = {c};
      if (runs.empty()) {
        std::fprintf(stderr, "unknown mistake '%s'; one of:", arg.substr(10).c_str());
        for (const Case& c : cases) std::fprintf(stderr, " %s", c.name);
        std::fprintf(stderr, "\n");
        return 2;
      }
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: %s [--mistake=NAME | --all] [digits.csv.gz]\n", argv[0]);
      return 2;
    } else {
      path = arg;
    }
  }

  // A minibatch of M digits, pixels scaled to zero mean and unit variance.
  nn::Dataset<double> digits = nn::load_digits<double>(path);
  digits.inputs = nn::StandardScaler<double>().fit_transform(digits.inputs);
  std::vector<std::size_t> first(batch_size);
  for (std::size_t i = 0; i < batch_size; ++i) first[i] = i;
  const nn::Dataset<double> subset = digits.subset(first);
  const nn::Batch<double> batch{Variable<double>(subset.inputs), subset.labels, Variable<double>()};

  // Random weights (Glorot) and small random biases, so that no gradient is trivially zero.
  nn::manual_seed(42);
  Network net;
  for (std::size_t l = 1; l <= L; ++l) {
    net.model.add(nn::Linear<double>(layer_sizes[l - 1], layer_sizes[l], nn::xavier_normal(), nn::normal(0.0, 0.1)));
    if (l < L) net.model.add(nn::Sigmoid<double>());
  }
  std::printf("network 64-20-20-10 (sigmoid, sigmoid, softmax), minibatch of %zu digits, mean cross-entropy\n",
              batch_size);

  std::vector<Outcome> outcomes;
  for (const Case& c : runs) {
    std::printf("\n--mistake=%s\n", c.name);
    outcomes.push_back(check(net, batch, c.mistake));
  }

  // Summary: one row per run.
  std::printf("\nsummary\n%-20s %-26s %-30s %s\n", "mistake", "check_backprop names", "finite differences", "outcome");
  bool all_as_expected = true;
  for (std::size_t run = 0; run < runs.size(); ++run) {
    const Outcome& outcome = outcomes[run];
    const std::string named = outcome.backprop.passed ? "nothing (passed)"
                                                      : "layer " + std::to_string(outcome.backprop.layer) + ", " +
                                                            outcome.backprop.equation;
    const std::string differences = std::to_string(differences_failed(outcome)) + " of " +
                                    std::to_string(outcome.differences.inputs.size()) + " parameters disagree";
    const bool expected = as_expected(runs[run], outcome);
    all_as_expected = all_as_expected && expected;
    std::printf("%-20s %-26s %-30s %s\n", runs[run].name, named.c_str(), differences.c_str(),
                expected ? "as expected" : "NOT AS EXPECTED");
  }
  std::printf("%s\n", all_as_expected ? "all outcomes as expected" : "SOME OUTCOMES NOT AS EXPECTED");
  return all_as_expected ? 0 : 1;
}
