// Check your own backprop: the lecture's four backpropagation equations written
// by hand in plain xtensor, then checked twice,
//   (1) against the tape: the same network as autodiff Variables, with
//       retain_grad() on every pre-activation z^l, so the tape's dC/dz^l is the
//       lecture's delta^l and can be compared layer by layer;
//   (2) against central finite differences (autodiff::check_gradients), which
//       needs no derivative at all.
// A switch injects the classic mistakes into the hand-written code, to see what
// each one breaks and that the checks catch it.
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
//   backprop_check [--mistake=none|missing-fprime|wrong-transpose|no-batch-average] [--all] [digits.csv.gz]
//
// Exit code 0 when the outcome is as expected: no mismatch without a mistake,
// at least one mismatch (found by both checks) with one; --all runs every case.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>
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
const double tape_tolerance = 1e-6;  // hand vs tape: both are exact up to rounding

enum class Mistake { none, missing_fprime, wrong_transpose, no_batch_average };
const std::vector<std::pair<Mistake, const char*>> mistake_names = {{Mistake::none, "none"},
                                                                    {Mistake::missing_fprime, "missing-fprime"},
                                                                    {Mistake::wrong_transpose, "wrong-transpose"},
                                                                    {Mistake::no_batch_average, "no-batch-average"}};

// The parameters, indexed as in the lecture: W[l], b[l] for l = 1..L (index 0 unused).
struct Network {
  std::vector<Matrix> W, b;
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

Gradients hand_backprop(const Network& net, const Matrix& x, const Matrix& y, Mistake mistake) {
  const double M = static_cast<double>(x.shape(0));

  // Forward pass, keeping every z^l and a^l for the backward pass.
  std::vector<Matrix> z(L + 1), a(L + 1);
  a[0] = x;
  for (std::size_t l = 1; l <= L; ++l) {
    z[l] = xt::linalg::dot(a[l - 1], net.W[l]) + net.b[l];  // z^l = a^{l-1} W^l + b^l (b^l added to every row)
    a[l] = l < L ? sigmoid(z[l]) : softmax_rows(z[l]);
  }

  Gradients g{std::vector<Matrix>(L + 1), std::vector<Matrix>(L + 1), std::vector<Matrix>(L + 1)};
  // (BP1) For C = -(1/M) sum_samples sum_k y_k log a^L_k with a^L = softmax(z^L),
  // dC/da^L and softmax's Jacobian collapse to delta^L = (a^L - y) / M.
  g.delta[L] = (a[L] - y) / M;
  // MISTAKE: the cost averages over the batch, so the gradient must too. Without
  // the 1/M every delta, dW and db is M times too large (relative error M - 1 = 31).
  if (mistake == Mistake::no_batch_average) g.delta[L] = a[L] - y;

  for (std::size_t l = L; l >= 1; --l) {
    // (BP3) b^l is added to every sample's row, so its gradient sums delta^l over the batch.
    g.db[l] = xt::sum(g.delta[l], {0});
    // (BP4) dC/dW^l = a^{l-1 T} delta^l: (n_{l-1}, M) x (M, n_l), the sum over the batch is in the product.
    g.dW[l] = xt::linalg::dot(xt::transpose(a[l - 1]), g.delta[l]);
    if (l == 1) break;

    // (BP2) one layer down: delta^{l-1} = (delta^l W^{l T}) ⊙ f'(z^{l-1}).
    Matrix W_transposed = xt::transpose(net.W[l]);
    // MISTAKE: W^l instead of W^{l T}. For a non-square W^l the product
    // (M, n_l) x (n_{l-1}, n_l) does not fit and xtensor throws, so a student
    // notices at once; for the square 20x20 W^2 of this network it runs and
    // gives wrong numbers, the dangerous case. That is why one hidden layer is
    // square, and why the mistake is made only where the shapes allow it.
    if (mistake == Mistake::wrong_transpose && net.W[l].shape(0) == net.W[l].shape(1)) W_transposed = net.W[l];
    const Matrix back = xt::linalg::dot(g.delta[l], W_transposed);
    const Matrix sigmoid_prime = a[l - 1] * (1.0 - a[l - 1]);  // f'(z) = sigmoid(z) (1 - sigmoid(z)), from a = f(z)
    g.delta[l - 1] = back * sigmoid_prime;
    if (mistake == Mistake::missing_fprime) g.delta[l - 1] = back;  // MISTAKE: ⊙ f'(z^{l-1}) forgotten
  }
  return g;
}

// ---- 2. The same network on the tape ---------------------------------------------

// params = {W^1, b^1, ..., W^L, b^L}. If `z_out` is given, each z^l is stored
// there with retain_grad(), so after backward() z_out[l].grad() = dC/dz^l = delta^l.
Variable<double> tape_cost(const std::vector<Variable<double>>& params, const Matrix& x, const nn::Labels& labels,
                           std::vector<Variable<double>>* z_out = nullptr) {
  Variable<double> a(x);  // the input: a leaf that needs no gradient
  Variable<double> z;
  for (std::size_t l = 1; l <= L; ++l) {
    z = matmul(a, params[2 * (l - 1)]) + params[2 * (l - 1) + 1];  // z^l = a^{l-1} W^l + b^l
    if (z_out) (*z_out)[l] = z.retain_grad();
    if (l < L) a = sigmoid(z);
  }
  // Softmax + cross-entropy from the logits z^L, averaged over the batch: the same cost as the hand code.
  return nn::cross_entropy(z, labels, nn::Reduction::mean);
}

std::vector<Variable<double>> as_variables(const Network& net) {
  std::vector<Variable<double>> params;
  for (std::size_t l = 1; l <= L; ++l) {
    params.emplace_back(net.W[l], /*requires_grad=*/true);
    params.emplace_back(net.b[l], /*requires_grad=*/true);
  }
  return params;
}

// ---- 3. Comparing ----------------------------------------------------------------

// max |hand - reference| / max |reference|: relative to the largest entry, so
// that tiny entries (where rounding dominates) do not inflate it. A shape
// mismatch counts as an infinite error.
double relative_error(const Matrix& hand, const Matrix& reference) {
  if (hand.shape() != reference.shape()) return std::numeric_limits<double>::infinity();
  const double scale = std::max(xt::amax(xt::abs(reference))(), std::numeric_limits<double>::min());
  return xt::amax(xt::abs(hand - reference))() / scale;
}

std::string quantity_name(std::size_t layer, const std::string& quantity) {
  return "layer " + std::to_string(layer) + " " + quantity;  // "layer 2 dC/dW"
}

struct Outcome {
  std::set<std::string> tape_mismatches, finite_difference_mismatches;  // quantity names
};

Outcome check_backprop(const Network& net, const Matrix& x, const nn::Labels& labels, Mistake mistake) {
  const Matrix y = nn::one_hot<double>(labels, layer_sizes[L]);
  const Gradients hand = hand_backprop(net, x, y, mistake);
  Outcome outcome;

  // (1) The tape: backward() fills dC/dW^l, dC/db^l (leaves) and dC/dz^l (retained).
  std::vector<Variable<double>> params = as_variables(net);
  std::vector<Variable<double>> z(L + 1);
  tape_cost(params, x, labels, &z).backward();
  std::printf("  (1) hand-derived vs tape (max rel error; agreement < %.0e)\n", tape_tolerance);
  for (std::size_t l = L; l >= 1; --l) {
    const std::pair<const char*, double> errors[] = {
        {"delta", relative_error(hand.delta[l], z[l].grad())},
        {"dC/dW", relative_error(hand.dW[l], params[2 * (l - 1)].grad())},
        {"dC/db", relative_error(hand.db[l], params[2 * (l - 1) + 1].grad())}};
    for (const auto& [quantity, error] : errors) {
      const bool ok = error < tape_tolerance;
      std::printf("      layer %zu %-6s max rel error %9.2e  %s\n", l, quantity, error, ok ? "ok" : "MISMATCH");
      if (!ok) outcome.tape_mismatches.insert(quantity_name(l, quantity));
    }
  }

  // (2) Finite differences of the cost in every weight and bias, against the hand gradients.
  // Differences carry ~1e-10 of rounding noise, so this uses gradcheck's tolerance
  // |hand - numeric| <= atol + rtol |numeric| (1e-5, 1e-3) rather than 1e-6, and
  // its entrywise relative error |hand - numeric| / max(|hand|, |numeric|, atol).
  std::vector<Matrix> values, hand_gradients;
  autodiff::GradCheckOptions options;
  for (std::size_t l = 1; l <= L; ++l) {
    values.insert(values.end(), {net.W[l], net.b[l]});
    hand_gradients.insert(hand_gradients.end(), {hand.dW[l], hand.db[l]});
    options.input_names.push_back(quantity_name(l, "dC/dW"));
    options.input_names.push_back(quantity_name(l, "dC/db"));
  }
  auto cost = [&](const std::vector<Variable<double>>& p) { return tape_cost(p, x, labels); };
  const autodiff::GradCheckReport report = autodiff::check_gradients(cost, values, hand_gradients, options);
  std::printf("  (2) hand-derived vs central finite differences\n");
  for (std::size_t i = 0; i < report.inputs.size(); ++i) {
    const autodiff::InputCheck& input = report.inputs[i];
    std::printf("      %-13s max rel error %9.2e  %s", input.name.c_str(), input.max_rel_error,
                input.passed ? "ok\n" : "MISMATCH");
    if (!input.passed) {  // the report lists the worst entries: show the first
      const autodiff::GradientEntry& worst = input.worst.front();
      std::printf(" (%zu of %zu entries; worst %s: hand %.6f, numeric %.6f)\n", input.failed_entries,
                  hand_gradients[i].size(), worst.index.c_str(), worst.yours, worst.numeric);
      outcome.finite_difference_mismatches.insert(input.name);
    }
  }
  return outcome;
}

// Without a mistake nothing may disagree; with one, both checks must catch it.
bool as_expected(Mistake mistake, const Outcome& outcome) {
  const bool tape_clean = outcome.tape_mismatches.empty();
  const bool differences_clean = outcome.finite_difference_mismatches.empty();
  return mistake == Mistake::none ? tape_clean && differences_clean : !tape_clean && !differences_clean;
}

// A cell of the summary: "T" if the quantity disagrees with the tape, "F" with
// finite differences, "TF" with both, "." if it agrees.
std::string summary_mark(const Outcome& outcome, const std::string& quantity) {
  std::string mark;
  if (outcome.tape_mismatches.count(quantity)) mark += "T";
  if (outcome.finite_difference_mismatches.count(quantity)) mark += "F";
  return mark.empty() ? "." : mark;
}

int main(int argc, char** argv) {
  std::string path = WENGERT_DATA_DIR "/digits.csv.gz";
  std::vector<std::pair<Mistake, const char*>> runs = {mistake_names[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--all") {
      runs = mistake_names;
    } else if (arg.rfind("--mistake=", 0) == 0) {
      runs.clear();
      for (const auto& entry : mistake_names)
        if (arg.substr(10) == entry.second) runs = {entry};
      if (runs.empty()) {
        std::fprintf(stderr, "unknown mistake '%s'; one of: none missing-fprime wrong-transpose no-batch-average\n",
                     arg.substr(10).c_str());
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
  const nn::Dataset<double> batch = digits.subset(first);

  // Random weights (Glorot) and small random biases, so that no gradient is trivially zero.
  nn::manual_seed(42);
  Network net{std::vector<Matrix>(L + 1), std::vector<Matrix>(L + 1)};
  for (std::size_t l = 1; l <= L; ++l) {
    const std::size_t n_in = layer_sizes[l - 1], n_out = layer_sizes[l];
    net.W[l] = nn::sample(nn::xavier_normal(), {n_in, n_out}, n_in, n_out);
    net.b[l] = nn::sample(nn::normal(0.0, 0.1), {n_out}, n_in, n_out);
  }
  std::printf("network 64-20-20-10 (sigmoid, sigmoid, softmax), minibatch of %zu digits, mean cross-entropy\n",
              batch_size);

  std::vector<Outcome> outcomes;
  for (const auto& [mistake, name] : runs) {
    std::printf("\n--mistake=%s\n", name);
    outcomes.push_back(check_backprop(net, batch.inputs, batch.labels, mistake));
  }

  // Summary: one row per run, one column per quantity (finite differences check dW and db only).
  const char* quantities[] = {"delta", "dC/dW", "dC/db"};
  std::printf("\nsummary: quantities that disagree (T: with the tape, F: with finite differences)\n%-18s", "");
  for (std::size_t l = L; l >= 1; --l) std::printf("|       layer %zu       ", l);
  std::printf("|\n%-18s", "mistake");
  for (std::size_t l = L; l >= 1; --l) std::printf("| delta  dC/dW  dC/db ");
  std::printf("| outcome\n");
  bool all_as_expected = true;
  for (std::size_t run = 0; run < runs.size(); ++run) {
    const Outcome& outcome = outcomes[run];
    std::printf("%-18s", runs[run].second);
    for (std::size_t l = L; l >= 1; --l) {
      std::printf("|");
      for (const char* quantity : quantities)
        std::printf(" %-6s", summary_mark(outcome, quantity_name(l, quantity)).c_str());
    }
    const bool expected = as_expected(runs[run].first, outcome);
    all_as_expected = all_as_expected && expected;
    std::printf("| %s\n", expected ? "as expected" : "NOT AS EXPECTED");
  }
  std::printf("%s\n", all_as_expected ? "all outcomes as expected" : "SOME OUTCOMES NOT AS EXPECTED");
  return all_as_expected ? 0 : 1;
}
