// nn::check_backprop: a student's BP1-BP4 against the tape, equation by
// equation. Each equation is checked on the student's own values upstream (the
// tape's vector-Jacobian products of one layer, seeded with their delta), so a
// mistake fails at the equation where it is made and nowhere below it.
#include <iomanip>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include <autodiff/linalg.hpp>
#include <autodiff/tape.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>

#include "gradcheck.hpp"

namespace nn {

namespace {

using autodiff::Disagreement;
using autodiff::InputCheck;
using autodiff::Shape;

const std::string kCall = "nn::check_backprop";
const std::string kTape = "the tape's";

std::string sup(const std::string& name, std::size_t l) { return name + "^" + std::to_string(l); }  // "delta^3"

// The model's Linear layers in order; any other layer must be parameter-free.
std::vector<Linear<double>*> linear_layers(Sequential<double>& model) {
  std::vector<Linear<double>*> linears;
  for (std::size_t i = 0; i < model.size(); ++i) {
    Module<double>& layer = model[i];
    if (auto* linear = dynamic_cast<Linear<double>*>(&layer))
      linears.push_back(linear);
    else if (!layer.parameters().empty())
      throw std::invalid_argument(kCall + ": layer " + std::to_string(i) + " of " + model.describe() + ", " +
                                  layer.describe() +
                                  ", has parameters but is not a Linear: the check knows Linear layers and "
                                  "parameter-free layers (activations) between them");
  }
  if (linears.empty()) throw std::invalid_argument(kCall + ": " + model.describe() + " has no Linear layer");
  return linears;
}

void require_shape(std::size_t l, const char* what, const Array<double>& a, const std::vector<Shape>& accepted,
                   const std::string& expected) {
  for (const Shape& shape : accepted)
    if (a.shape() == shape) return;
  throw std::invalid_argument(kCall + ": layer " + std::to_string(l) + "'s " + what + " has shape " +
                              autodiff::to_string(a.shape()) + " where " + expected + " is expected");
}

void require_shapes(const std::vector<Linear<double>*>& linears, std::size_t M, const std::vector<LayerBackprop>& yours,
                    const Sequential<double>& model) {
  if (yours.size() != linears.size())
    throw std::invalid_argument(kCall + ": " + std::to_string(yours.size()) + " LayerBackprop given for the " +
                                std::to_string(linears.size()) + " Linear layers of " + model.describe() +
                                " (one per Linear, l = 1.." + std::to_string(linears.size()) + ")");
  for (std::size_t l = 1; l <= linears.size(); ++l) {
    const std::size_t in = linears[l - 1]->in_features(), out = linears[l - 1]->out_features();
    const std::string W = autodiff::to_string({in, out});
    require_shape(l, "delta", yours[l - 1].delta, {{M, out}},
                  autodiff::to_string({M, out}) + " (batch, n_" + std::to_string(l) + ")");
    require_shape(l, "dW", yours[l - 1].dW, {{in, out}, {out, in}},
                  W + " (in, out, as nn::Linear's weight) or its transpose " + autodiff::to_string({out, in}));
    require_shape(l, "db", yours[l - 1].db, {{out}, {1, out}},
                  autodiff::to_string({out}) + " or " + autodiff::to_string({1, out}));
  }
}

// The forward pass, layer by layer: index l = 1..L holds a^{l-1} (the input of
// the l-th Linear) and z^l (its output).
struct Forward {
  std::vector<Variable<double>> input{Variable<double>()}, z{Variable<double>()};
  Variable<double> output, cost;
};

Forward run(Sequential<double>& model, const LossFunction<double>& loss, const Batch<double>& batch) {
  Forward f;
  Variable<double> a(batch.inputs.value());  // a constant: the check differentiates in the parameters
  for (std::size_t i = 0; i < model.size(); ++i) {
    const bool linear = dynamic_cast<Linear<double>*>(&model[i]) != nullptr;
    if (linear) f.input.push_back(a);
    a = model[i](a);
    if (linear) f.z.push_back(a);
  }
  f.output = a;
  f.cost = loss(a, batch);
  if (f.cost.size() != 1)
    throw std::invalid_argument(kCall + ": the loss has shape " + autodiff::to_string(f.cost.shape()) +
                                "; the cost must be one number (a mean or a sum over the batch)");
  return f;
}

// d<seed, output>/d inputs, keeping the graph for the next question.
std::vector<Array<double>> vjps(const Variable<double>& output, const std::vector<Variable<double>>& inputs,
                                const Array<double>& seed) {
  std::vector<Array<double>> values;
  for (const auto& g : autodiff::grad(output, inputs,
                                      {.grad_outputs = {Variable<double>(seed)}, .retain_graph = true,
                                       .allow_unused = true, .materialize_grads = true}))
    values.push_back(g.value());
  return values;
}

autodiff::GradCheckOptions compare_options(const BackpropCheckOptions& options) {
  autodiff::GradCheckOptions compared;
  compared.atol = options.atol;
  compared.rtol = options.rtol;
  compared.max_listed = options.max_listed;
  return compared;
}

bool agrees(const Array<double>& yours, const Array<double>& reference, const BackpropCheckOptions& options) {
  return compare_gradient("", yours, reference, compare_options(options)).passed;
}

// yours against the reference; a dW handed in as (out, in) is compared as its transpose.
InputCheck compare(const std::string& name, const Array<double>& yours, const Array<double>& reference,
                   const BackpropCheckOptions& options) {
  if (yours.shape() == reference.shape()) return compare_gradient(name, yours, reference, compare_options(options), kTape);
  const Array<double> flipped = xt::transpose(yours);
  InputCheck check = compare_gradient(name, flipped, reference, compare_options(options), kTape);
  const std::string layout = "yours has shape " + autodiff::to_string(yours.shape()) + ", the transpose of " +
                             autodiff::to_string(reference.shape()) +
                             " (nn::Linear keeps W^l as (n_{l-1}, n_l): z^l = a^{l-1} W^l + b^l)";
  if (check.passed) {
    check.passed = false;
    check.failed_entries = reference.size();
    check.diagnosis = {Disagreement::transpose, 1, 0, layout + "; transposed, it agrees: hand in its transpose"};
  } else {
    check.diagnosis.sentence = layout + "; even transposed, " + check.diagnosis.sentence;
  }
  return check;
}

// The batch size M, when a factor is M or 1/M.
std::string batch_note(const autodiff::Diagnosis& d, std::size_t M) {
  if (d.kind != Disagreement::factor) return "";
  const double c = std::abs(d.factor), m = static_cast<double>(M);
  if (std::abs(c / m - 1) <= 1e-3)
    return " M = " + std::to_string(M) + " is the batch size: a cost averaged over the batch puts 1/M into delta^L.";
  if (std::abs(c * m - 1) <= 1e-3)
    return " M = " + std::to_string(M) + " is the batch size: a 1/M too many (a mean where BP3 sums over the batch?).";
  return "";
}

// The classic BP1 mistake, when activations follow the last Linear: yours is
// dC/da^L, without ⊙ f'(z^L). Empty when it is not that.
std::string bp1_hint(const Forward& f, std::size_t L, const Array<double>& delta, const BackpropCheckOptions& options) {
  if (f.output.node_ptr() == f.z[L].node_ptr()) return "";
  if (!agrees(delta, vjps(f.cost, {f.output}, xt::ones<double>(f.cost.shape()))[0], options)) return "";
  const std::string l = std::to_string(L);
  return "yours is dC/da^" + l + ": the ⊙ f'(z^" + l + ") of BP1 is missing";
}

// The classic BP2 mistakes, tried on your delta^{l+1}: no ⊙ f'(z^l), or a square
// W^{l+1} used untransposed. Empty when it is neither.
std::string bp2_hint(const Forward& f, std::size_t l, const Array<double>& delta, const Array<double>& next,
                     const Array<double>& W, const BackpropCheckOptions& options) {
  const std::string here = std::to_string(l), above = std::to_string(l + 1);
  const bool activation = f.input[l + 1].node_ptr() != f.z[l].node_ptr();
  if (activation && agrees(delta, vjps(f.z[l + 1], {f.input[l + 1]}, next)[0], options))
    return "yours is delta^" + above + " W^{" + above + " T} without ⊙ f'(z^" + here + "): the f'(z^" + here +
           ") factor is missing";
  if (W.shape()[0] != W.shape()[1]) return "";  // W^{l+1} for W^{l+1 T} would not have fitted
  const Array<double> untransposed = autodiff::matmul(Variable<double>(next), Variable<double>(W)).value();
  if (!agrees(delta, vjps(f.input[l + 1], {f.z[l]}, untransposed)[0], options)) return "";
  return "yours is (delta^" + above + " W^" + above + ") ⊙ f'(z^" + here + "): W^" + above +
         " where BP2 has its transpose W^{" + above + " T}";
}

// The sentence for the first equation that fails (then the others), or for
// the first quantity off the tape when every equation holds.
void name_first_disagreement(BackpropReport& report, std::size_t L, std::size_t M) {
  const BackpropQuantityCheck* first = nullptr;
  std::vector<std::string> others;
  for (const auto& check : report.checks)
    if (!check.equation_check.passed) {
      if (first) others.push_back(check.equation + " at layer " + std::to_string(check.layer));
      else first = &check;
    }
  for (const auto& check : report.checks)
    if (!first && !check.tape_check.passed) first = &check;
  if (!first) return;

  report.layer = first->layer;
  report.quantity = first->quantity;
  report.equation = first->equation;
  std::string text = "layer " + std::to_string(first->layer) + (first->layer == L ? " (the output layer)" : "") + ": " +
                     first->quantity + " disagrees (" + first->equation + ")";
  if (first->equation == "BP2") text += " while " + sup("delta", first->layer + 1) + " agrees";
  if (first->equation == "BP3" || first->equation == "BP4") text += " while " + sup("delta", first->layer) + " agrees";
  const std::string& sentence = first->equation_check.diagnosis.sentence;
  if (first->equation_check.passed)
    text += " with the tape, though each equation holds given your values upstream: errors that add up over the "
            "layers (loosen atol and rtol?)";
  else
    text += ": " + sentence + (!sentence.empty() && sentence.back() == '?' ? "" : ".") +
            batch_note(first->equation_check.diagnosis, M);
  if (!others.empty()) {
    text += " Also failing, each given your own values upstream: ";
    for (std::size_t i = 0; i < others.size(); ++i) text += (i ? ", " : "") + others[i];
    text += ".";
  }
  report.message = text;
}

}  // namespace

BackpropReport check_backprop(Sequential<double>& model, const LossFunction<double>& loss, const Batch<double>& batch,
                              const std::vector<LayerBackprop>& yours, const BackpropCheckOptions& options) {
  if (!loss) throw std::invalid_argument(kCall + ": no loss function given (an empty std::function)");
  if (!batch.inputs.defined()) throw std::invalid_argument(kCall + ": the batch has no inputs (an empty Variable)");
  if (batch.inputs.dimension() < 2)
    throw std::invalid_argument(kCall + ": the batch's inputs have shape " + autodiff::to_string(batch.inputs.shape()) +
                                "; one sample per row, (M, features), is expected");
  const std::vector<Linear<double>*> linears = linear_layers(model);
  const std::size_t L = linears.size(), M = batch.inputs.shape()[0];
  require_shapes(linears, M, yours, model);

  ModeScope<double> evaluation(model, false);  // Dropout off: every pass computes the same function
  autodiff::enable_grad recording;
  const Forward f = run(model, loss, batch);

  // The truth: delta^l = dC/dz^l, then dC/dW^l and dC/db^l of every layer.
  std::vector<Variable<double>> wrt(f.z.begin() + 1, f.z.end());
  for (Linear<double>* linear : linears) wrt.insert(wrt.end(), {linear->weight(), linear->bias()});
  const std::vector<Array<double>> truth = vjps(f.cost, wrt, xt::ones<double>(f.cost.shape()));

  BackpropReport report;
  auto add = [&](std::size_t l, const std::string& quantity, const std::string& equation, const Array<double>& mine,
                 const Array<double>& from_upstream, const Array<double>& tape, const std::string& hint) {
    BackpropQuantityCheck check{l, quantity, equation, compare(quantity, mine, from_upstream, options),
                                compare(quantity, mine, tape, options)};
    if (!check.equation_check.passed && !hint.empty()) check.equation_check.diagnosis.sentence = hint;
    report.passed = report.passed && check.tape_check.passed;
    report.checks.push_back(std::move(check));
  };
  for (std::size_t l = L; l >= 1; --l) {
    const LayerBackprop& mine = yours[l - 1];
    const Array<double>& true_delta = truth[l - 1];
    if (l == L) {
      const bool right = agrees(mine.delta, true_delta, options);
      add(l, sup("delta", l), "BP1", mine.delta, true_delta, true_delta, right ? "" : bp1_hint(f, L, mine.delta, options));
    } else {
      const Array<double>& next = yours[l].delta;  // your delta^{l+1}
      const Array<double> from_next = vjps(f.z[l + 1], {f.z[l]}, next)[0];
      const bool right = agrees(mine.delta, from_next, options);
      add(l, sup("delta", l), "BP2", mine.delta, from_next, true_delta,
          right ? "" : bp2_hint(f, l, mine.delta, next, linears[l]->weight().value(), options));
    }
    // BP3 and BP4 on your delta^l: the tape's VJPs of z^l = a^{l-1} W^l + b^l.
    const std::vector<Array<double>> local = vjps(f.z[l], {linears[l - 1]->bias(), linears[l - 1]->weight()}, mine.delta);
    Array<double> db = mine.db;
    db.reshape({mine.db.size()});
    add(l, sup("dC/db", l), "BP3", db, local[0], truth[L + 2 * (l - 1) + 1], "");
    add(l, sup("dC/dW", l), "BP4", mine.dW, local[1], truth[L + 2 * (l - 1)], "");
  }
  name_first_disagreement(report, L, M);
  return report;
}

std::ostream& operator<<(std::ostream& out, const BackpropReport& report) { return out << report.to_string(); }

std::string BackpropReport::to_string() const {
  std::ostringstream out;
  out << "backprop check " << (passed ? "passed" : "FAILED") << "\n";
  out << "  " << std::left << std::setw(7) << "layer" << std::setw(12) << "quantity" << std::setw(10) << "equation"
      << std::setw(26) << "given your upstream" << "against the tape (max rel err)\n";
  for (const auto& check : checks)
    out << "  " << std::left << std::setw(7) << check.layer << std::setw(12) << check.quantity << std::setw(10)
        << check.equation << std::setw(26) << (check.equation_check.passed ? "holds" : "FAILS")
        << (check.tape_check.passed ? "agrees " : "DISAGREES ") << std::setprecision(3)
        << check.tape_check.max_rel_error << "\n";
  if (message.empty()) return out.str();
  out << message << "\n";
  for (const auto& check : checks)
    if (check.quantity == quantity) {
      const InputCheck& shown = check.equation_check.passed ? check.tape_check : check.equation_check;
      for (const auto& entry : shown.worst)
        out << "  " << quantity << entry.index << ": yours " << std::setprecision(8) << entry.yours << ", the tape's "
            << entry.numeric << "\n";
    }
  return out.str();
}

}  // namespace nn
