#include "gradcheck.hpp"

#include <sstream>
#include <stdexcept>

namespace nn {

std::string ModuleGradCheckReport::to_string() const {
  std::ostringstream out;
  out << autodiff::GradCheckReport::to_string();
  if (!passed)
    out << "worst: " << worst_parameter << worst_entry << ", max abs error " << worst_abs_error << "\n";
  return out.str();
}

ModuleGradCheckReport gradcheck(Module<double>& model, const LossFunction<double>& loss, const Batch<double>& batch,
                                const autodiff::GradCheckOptions& options) {
  if (!loss) throw std::invalid_argument("nn::gradcheck: no loss function given (an empty std::function)");
  if (!batch.inputs.defined()) throw std::invalid_argument("nn::gradcheck: the batch has no inputs (an empty Variable)");
  const std::vector<NamedParameter<double>> named = model.named_parameters();
  if (named.empty()) throw std::invalid_argument("nn::gradcheck: " + model.describe() + " has no parameters to check");

  std::vector<Array<double>> values;
  autodiff::GradCheckOptions checked = options;
  checked.input_names.clear();
  for (const auto& [name, parameter] : named) {
    values.push_back(parameter.value());
    checked.input_names.push_back(name);
  }
  ModeScope<double> evaluation(model, false);
  // The loss as a function of the parameters alone: autodiff's gradcheck hands in
  // leaves (or, for the finite differences, perturbed constants) in their place.
  const autodiff::GradFunction of_parameters = [&](const std::vector<Variable<double>>& parameters) {
    std::vector<NamedParameter<double>> replacements;
    for (std::size_t i = 0; i < named.size(); ++i) replacements.emplace_back(named[i].first, parameters[i]);
    return loss(functional_call(model, replacements, batch.inputs), batch);
  };
  ModuleGradCheckReport report;
  static_cast<autodiff::GradCheckReport&>(report) = autodiff::gradcheck(of_parameters, values, checked);

  const autodiff::InputCheck* worst = nullptr;
  for (const auto& input : report.inputs)  // a failed parameter ranks above any that passed
    if (!worst || (!input.passed && worst->passed) ||
        (input.passed == worst->passed && input.max_rel_error > worst->max_rel_error))
      worst = &input;
  if (worst) {
    report.worst_parameter = worst->name;
    report.worst_abs_error = worst->max_abs_error;
    if (!worst->worst.empty()) report.worst_entry = worst->worst.front().index;
  }
  return report;
}

}  // namespace nn
