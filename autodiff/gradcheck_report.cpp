// A gradient against its reference, entry by entry (compare_gradient), the kind
// of mistake a wrong one shows (diagnose), and the report's text. Each kind is a
// hypothesis (yours = c r, yours.T = r, ...) named only when undoing it makes
// every entry agree, with the check's own tolerance.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <ostream>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include <xtensor/xmanipulation.hpp>
#include <xtensor/xmath.hpp>

#include "gradcheck.hpp"

namespace autodiff {

namespace {

constexpr double kSignificant = 1e-3;   // entries used to fit a factor: |r| > max(atol, this * max |r|)
constexpr double kNotOne = 1e-2;        // a factor is named only if |c - 1| exceeds this
constexpr double kNearInteger = 1e-3;   // c is "k" or "1/k" when within this relative distance
constexpr double kZero = 1e-3;          // yours "is zero" where |yours| <= this * atol
constexpr std::size_t kMinFitted = 2;   // a factor needs at least this many significant entries
constexpr std::size_t kListed = 4;      // indices named in a sentence
constexpr std::size_t kMinElementwise = 4;  // an elementwise factor needs this many significant entries

struct Comparison {
  const Array<double>& reference;
  double atol, rtol;
  const std::string& reference_name;

  bool entry_agrees(double yours, double r) const { return std::abs(yours - r) <= atol + rtol * std::abs(r); }
  bool agrees(const Array<double>& yours) const {
    for (std::size_t j = 0; j < yours.size(); ++j)
      if (!entry_agrees(yours.data()[j], reference.data()[j])) return false;
    return true;
  }
  bool is_zero(double yours) const { return std::abs(yours) <= kZero * atol; }
  // Entries of the reference above this are used to fit factors (the others are near zero).
  double significant() const {
    double scale = 0;
    for (double v : reference) scale = std::max(scale, std::abs(v));
    return std::max(atol, kSignificant * scale);
  }
};

std::string index_of(const Shape& shape, std::size_t flat) {
  std::vector<std::size_t> index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::string text = "[";
  for (std::size_t d = 0; d < index.size(); ++d) text += (d ? ", " : "") + std::to_string(index[d]);
  return text + "]";
}

// "[0, 2], [1, 2], [3, 2] and 5 more"
std::string listed(const std::vector<std::string>& items) {
  std::string text;
  for (std::size_t i = 0; i < items.size() && i < kListed; ++i) text += (i ? ", " : "") + items[i];
  if (items.size() > kListed) text += " and " + std::to_string(items.size() - kListed) + " more";
  return text;
}

std::string number_text(double c) {
  char text[32];
  if (std::abs(c - std::round(c)) <= 1e-6 * std::abs(c) && std::abs(c) < 1e6)
    std::snprintf(text, sizeof text, "%.1f", std::round(c));
  else
    std::snprintf(text, sizeof text, "%.4g", c);
  return text;
}

std::string short_number(double x) {  // two digits: a range, not a fit
  char text[32];
  std::snprintf(text, sizeof text, "%.2g", x);
  return text;
}

// k when |x| is within kNearInteger of an integer k >= 2, else 0.
long near_integer(double x) {
  const double k = std::round(std::abs(x));
  return k >= 2 && std::abs(std::abs(x) / k - 1) <= kNearInteger ? static_cast<long>(k) : 0;
}

// What a factor c suggests: "a missing 1/16? ..." for 16, "a missing factor 2? ..." for 0.5.
std::string factor_hint(double c) {
  const std::string sign = c < 0 ? "a sign error and " : "";
  if (long k = near_integer(c))
    return sign + "a missing 1/" + std::to_string(k) + "? (a sum over " + std::to_string(k) +
           " values where the cost takes their mean)";
  if (long k = near_integer(1 / c))
    return sign + "a missing factor " + std::to_string(k) + "?" + (k == 2 ? " (the 2 of d(x^2)/dx = 2x)" : "");
  return sign + "a wrong constant factor?";
}

// The least-squares c of yours ~ c r over the significant entries, if yours / c
// then agrees everywhere (0 when no such c).
double fitted_factor(const Array<double>& yours, const Comparison& cmp) {
  const Array<double>& r = cmp.reference;
  const double floor = cmp.significant();
  double yr = 0, rr = 0;
  std::size_t fitted = 0;
  for (std::size_t j = 0; j < r.size(); ++j)
    if (std::abs(r.data()[j]) > floor) {
      yr += yours.data()[j] * r.data()[j];
      rr += r.data()[j] * r.data()[j];
      ++fitted;
    }
  if (fitted < kMinFitted || rr == 0) return 0;
  const double c = yr / rr;
  if (!(std::abs(c) > 1e-12) || !std::isfinite(c)) return 0;
  return cmp.agrees(Array<double>(yours / c)) ? c : 0;
}

// yours arranged as the reference would be if yours had been transposed: the
// transpose itself for a square matrix; for (a, b) with a != b, yours read as a
// (b, a) matrix (its memory order) and transposed back to (a, b).
bool transposed(const Array<double>& yours, Array<double>& out) {
  if (yours.dimension() != 2) return false;
  const std::size_t a = yours.shape()[0], b = yours.shape()[1];
  if (a < 2 || b < 2) return false;
  Array<double> as_transpose = yours;
  as_transpose.reshape({b, a});
  out = xt::transpose(as_transpose);
  return true;
}

Diagnosis not_finite(const Array<double>& yours, const Comparison& cmp) {
  std::vector<std::string> yours_bad, reference_bad;
  for (std::size_t j = 0; j < yours.size(); ++j) {
    if (!std::isfinite(yours.data()[j])) yours_bad.push_back(index_of(yours.shape(), j));
    if (!std::isfinite(cmp.reference.data()[j])) reference_bad.push_back(index_of(yours.shape(), j));
  }
  if (yours_bad.empty() && reference_bad.empty()) return {};
  if (!reference_bad.empty())
    return {Disagreement::not_finite, 1, 0,
            cmp.reference_name + " are NaN or infinite at " + listed(reference_bad) +
                ": the function is not finite near this point (or the step is too large)"};
  return {Disagreement::not_finite, 1, 0,
          "yours is NaN or infinite at " + listed(yours_bad) + ": a division by zero, a log of 0, an overflow?"};
}

// Rows (axis 0) or columns (axis 1) every one of whose failing entries is zero in yours, when they
// make up all the failing entries: "row 3" or "columns 0, 2".
std::string zero_lines(const Array<double>& yours, const std::vector<std::size_t>& failing, const Comparison& cmp) {
  if (yours.dimension() != 2) return "";
  const std::size_t rows = yours.shape()[0], columns = yours.shape()[1];
  for (std::size_t axis : {std::size_t{0}, std::size_t{1}}) {
    std::set<std::size_t> lines;
    for (std::size_t j : failing) lines.insert(axis == 0 ? j / columns : j % columns);
    if (lines.size() >= (axis == 0 ? rows : columns)) continue;  // every line: not a pattern of lines
    bool whole = true;  // yours is zero on the whole of each such line
    for (std::size_t line : lines)
      for (std::size_t k = 0; k < (axis == 0 ? columns : rows) && whole; ++k)
        whole = cmp.is_zero(axis == 0 ? yours(line, k) : yours(k, line));
    if (!whole) continue;
    std::vector<std::string> names;
    for (std::size_t line : lines) names.push_back(std::to_string(line));
    return std::string(axis == 0 ? "row" : "column") + (lines.size() > 1 ? "s " : " ") + listed(names);
  }
  return "";
}

Diagnosis zero_entries(const Array<double>& yours, const std::vector<std::size_t>& failing, const Comparison& cmp) {
  for (std::size_t j : failing)
    if (!cmp.is_zero(yours.data()[j])) return {};
  std::string where = zero_lines(yours, failing, cmp);
  if (where.empty()) {
    std::vector<std::string> indices;
    for (std::size_t j : failing) indices.push_back(index_of(yours.shape(), j));
    where = std::to_string(failing.size()) + " entr" + (failing.size() == 1 ? "y " : "ies ") + listed(indices);
  }
  return {Disagreement::zero_entries, 1, 0,
          "yours is zero in " + where + ", where " + cmp.reference_name +
              " are not; every other entry agrees: a missing term (a path through the graph left out?)"};
}

// yours - reference constant along one axis (the same in every row, say).
Diagnosis broadcast_term(const Array<double>& yours, const Comparison& cmp) {
  const Array<double> difference = yours - cmp.reference;
  std::vector<std::size_t> constant_axes;
  for (std::size_t axis = 0; axis < yours.dimension(); ++axis) {
    if (yours.shape()[axis] < 2) continue;
    const Array<double> term = xt::mean(difference, {axis}, xt::keep_dims);
    if (cmp.agrees(Array<double>(yours - term))) constant_axes.push_back(axis);
  }
  if (constant_axes.empty()) return {};
  std::size_t long_axes = 0;
  for (std::size_t d : yours.shape()) long_axes += d >= 2;
  if (constant_axes.size() == long_axes) {
    const double offset = xt::mean(difference)();
    return {Disagreement::broadcast_term, 1, constant_axes.front(),
            "yours is " + cmp.reference_name + " plus the same " + number_text(offset) +
                " everywhere: an extra (or missing) constant term?"};
  }
  const std::size_t axis = constant_axes.front();
  const std::string along = yours.dimension() == 2 ? (axis == 0 ? "in every row" : "in every column")
                                                    : "at every index of axis " + std::to_string(axis);
  return {Disagreement::broadcast_term, 1, axis,
          "yours minus " + cmp.reference_name + " is the same " + along +
              ": a term broadcast along axis " + std::to_string(axis) + " is missing or extra (a bias, or a sum over that axis?)"};
}

// yours = q ⊙ reference with every q_j of one sign in [q_min, q_max]: an
// elementwise factor (an f'(z) too many or too few). Needs kMinElementwise
// significant entries, at least half of them failing (a few wrong entries are
// not a factor); where the reference is not significant, yours must be within
// q_max of it.
Diagnosis elementwise_factor(const Array<double>& yours, std::size_t failing, const Comparison& cmp) {
  const Array<double>& r = cmp.reference;
  const double floor = cmp.significant();
  double low = std::numeric_limits<double>::infinity(), high = 0;
  int sign = 0;
  std::size_t fitted = 0;
  for (std::size_t j = 0; j < r.size(); ++j) {
    if (std::abs(r.data()[j]) <= floor) continue;
    const double q = yours.data()[j] / r.data()[j];
    const int s = q > 0 ? 1 : q < 0 ? -1 : 0;
    if (s == 0 || (sign != 0 && s != sign)) return {};
    sign = s;
    low = std::min(low, std::abs(q));
    high = std::max(high, std::abs(q));
    ++fitted;
  }
  if (fitted < kMinElementwise || 2 * failing < fitted) return {};
  for (std::size_t j = 0; j < r.size(); ++j)
    if (std::abs(r.data()[j]) <= floor && std::abs(yours.data()[j]) > high * floor + cmp.atol) return {};
  return {Disagreement::elementwise_factor, sign * high, 0,
          "yours are " + cmp.reference_name + " times an elementwise factor " + (sign < 0 ? "of the other sign, " : "") +
              "between " + short_number(low) + " and " + short_number(high) +
              ": an extra (or a missing) elementwise factor, such as f'(z)?"};
}

// Where the failing entries are, when they keep to a few rows or columns.
std::string failing_lines(const Shape& shape, const std::vector<std::size_t>& failing) {
  if (shape.size() != 2) return "";
  for (std::size_t axis : {std::size_t{0}, std::size_t{1}}) {
    std::set<std::size_t> lines;
    for (std::size_t j : failing) lines.insert(axis == 0 ? j / shape[1] : j % shape[1]);
    if (2 * lines.size() > shape[axis] || lines.size() > kListed) continue;
    std::vector<std::string> names;
    for (std::size_t line : lines) names.push_back(std::to_string(line));
    return std::string(", all in ") + (axis == 0 ? "row" : "column") + (lines.size() > 1 ? "s " : " ") + listed(names);
  }
  return "";
}

}  // namespace

Diagnosis diagnose(const Array<double>& yours, const Array<double>& reference, double atol, double rtol,
                   const std::string& reference_name) {
  if (yours.shape() != reference.shape())
    throw ShapeError("diagnose: yours has shape " + to_string(yours.shape()) + ", the reference " +
                     to_string(reference.shape()));
  const Comparison cmp{reference, atol, rtol, reference_name};
  if (cmp.agrees(yours)) return {};
  if (Diagnosis d = not_finite(yours, cmp); d.kind != Disagreement::none) return d;

  std::vector<std::size_t> failing;
  bool all_zero = true;
  for (std::size_t j = 0; j < yours.size(); ++j) {
    if (!cmp.entry_agrees(yours.data()[j], reference.data()[j])) failing.push_back(j);
    all_zero = all_zero && cmp.is_zero(yours.data()[j]);
  }
  if (all_zero)
    return {Disagreement::all_zero, 0, 0,
            "yours is zero everywhere, " + reference_name +
                " are not: a gradient never computed, or never added into (a detach, or a missing backward?)"};

  if (const double c = fitted_factor(yours, cmp); c != 0 && std::abs(c - 1) > kNotOne) {
    if (std::abs(c + 1) <= kNearInteger)
      return {Disagreement::sign, -1, 0, "yours is minus " + reference_name + ": a sign error (a - y for y - a?)"};
    return {Disagreement::factor, c, 0,
            "yours are " + number_text(c) + " times " + reference_name + ": " + factor_hint(c)};
  }
  if (Array<double> flipped; transposed(yours, flipped)) {
    const bool square = yours.shape()[0] == yours.shape()[1];
    const std::string what = square ? "yours is the transpose of " + reference_name
                                    : "yours, read as a " + to_string({yours.shape()[1], yours.shape()[0]}) +
                                          " matrix and transposed, is " + reference_name;
    if (cmp.agrees(flipped))
      return {Disagreement::transpose, 1, 0, what + ": W^T for W, or (out, in) for (in, out)?"};
    if (const double c = fitted_factor(flipped, cmp); c != 0)
      return {Disagreement::transpose, c, 0, what + " times " + number_text(c) + ": a transpose and " + factor_hint(c)};
  }
  if (Diagnosis d = zero_entries(yours, failing, cmp); d.kind != Disagreement::none) return d;
  if (Diagnosis d = broadcast_term(yours, cmp); d.kind != Disagreement::none) return d;
  if (Diagnosis d = elementwise_factor(yours, failing.size(), cmp); d.kind != Disagreement::none) return d;
  return {Disagreement::no_simple_pattern, 1, 0,
          "no simple pattern (no constant or elementwise factor, sign, transpose, missing or broadcast term fits): " +
              std::to_string(failing.size()) + " of " + std::to_string(yours.size()) + " entries disagree" +
              failing_lines(yours.shape(), failing)};
}

InputCheck compare_gradient(const std::string& name, const Array<double>& yours, const Array<double>& reference,
                            const GradCheckOptions& options, const std::string& reference_name) {
  if (yours.shape() != reference.shape())
    throw ShapeError("compare_gradient: " + name + " has shape " + to_string(yours.shape()) + ", its reference " +
                     to_string(reference.shape()));
  InputCheck check;
  check.name = name;
  check.shape = reference.shape();
  std::vector<GradientEntry> failing;
  for (std::size_t j = 0; j < yours.size(); ++j) {
    const double a = yours.data()[j], n = reference.data()[j];
    const double error = std::abs(a - n);
    const double rel = error / std::max({std::abs(a), std::abs(n), options.atol});
    check.max_abs_error = std::max(check.max_abs_error, error);
    check.max_rel_error = std::max(check.max_rel_error, rel);
    if (!(error <= options.atol + options.rtol * std::abs(n))) {  // NaN fails too
      ++check.failed_entries;
      failing.push_back({j, index_of(check.shape, j), a, n, error});
    }
  }
  std::sort(failing.begin(), failing.end(),
            [](const GradientEntry& x, const GradientEntry& y) { return x.abs_error > y.abs_error; });
  if (failing.size() > options.max_listed) failing.resize(options.max_listed);
  check.worst = std::move(failing);
  check.passed = check.failed_entries == 0;
  if (!check.passed) check.diagnosis = diagnose(yours, reference, options.atol, options.rtol, reference_name);
  return check;
}

std::ostream& operator<<(std::ostream& stream, const GradCheckReport& report) {
  return stream << report.to_string();
}

std::string GradCheckReport::to_string() const {
  const GradCheckReport& report = *this;
  std::ostringstream out;  // formatting flags stay local to this stream
  out << "gradient check " << (report.passed ? "passed" : "FAILED") << "\n";
  out << "  " << std::left << std::setw(16) << "input" << std::setw(14) << "shape" << std::setw(14) << "max abs err"
      << std::setw(14) << "max rel err" << "failed entries\n";
  for (const auto& input : report.inputs) {
    std::size_t count = 1;
    for (auto d : input.shape) count *= d;
    out << "  " << std::left << std::setw(16) << input.name << std::setw(14) << autodiff::to_string(input.shape)
        << std::setw(14) << std::setprecision(3) << input.max_abs_error << std::setw(14) << input.max_rel_error
        << input.failed_entries << " of " << count << "\n";
    for (const auto& entry : input.worst)
      out << "      " << input.name << entry.index << ": yours " << std::setprecision(8) << entry.yours
          << ", finite differences " << entry.numeric << "\n";
    if (!input.diagnosis.sentence.empty()) out << "      " << input.name << ": " << input.diagnosis.sentence << "\n";
  }
  return out.str();
}

}  // namespace autodiff
