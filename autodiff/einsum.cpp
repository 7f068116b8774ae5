// einsum: contractions written as subscripts, through BLAS where it pays. The
// value is computed on plain arrays (labels summed away first, then each pair
// of operands permuted into stacks of matrices and multiplied by gemm); the
// gradient of each operand is another einsum, of g with the other operands.
#include "linalg.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "detail/kernels.hpp"
#include "op.hpp"
#include "shape.hpp"

namespace autodiff {

namespace {

using Labels = std::string;

bool has(const Labels& labels, char c) { return labels.find(c) != Labels::npos; }
bool is_label(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
std::string quoted(char c) { return std::string("'") + c + "'"; }

// The subscripts, parsed and checked against the operands' shapes.
struct Spec {
  std::vector<Labels> inputs;
  Labels output;
  std::array<std::size_t, 128> size{};  // each label's length
  std::size_t size_of(const Labels& labels) const {
    std::size_t n = 1;
    for (char c : labels) n *= size[std::size_t(c)];
    return n;
  }
  Shape shape_of(const Labels& labels) const {
    Shape s;
    for (char c : labels) s.push_back(size[std::size_t(c)]);
    return s;
  }
};

// " (subscripts "ij,jk->ik", shapes (2, 3) and (4, 5))": what every message ends with.
std::string context(const std::string& subscripts, const std::vector<Shape>& shapes) {
  std::string list;
  for (std::size_t i = 0; i < shapes.size(); ++i)
    list += (i == 0 ? "" : i + 1 == shapes.size() ? " and " : ", ") + to_string(shapes[i]);
  return " (subscripts \"" + subscripts + "\", " + (shapes.size() == 1 ? "shape " : "shapes ") +
         (shapes.empty() ? "none" : list) + ")";
}

Spec parse(const std::string& subscripts, const std::vector<Shape>& shapes) {
  const auto bad = [&](const std::string& what) {
    throw std::invalid_argument("einsum: " + what + context(subscripts, shapes));
  };
  const auto bad_shape = [&](const std::string& what) {
    throw ShapeError("einsum: " + what + context(subscripts, shapes));
  };
  if (shapes.empty()) bad("needs at least one operand");
  std::string s;  // spaces are ignored, as in NumPy
  for (char c : subscripts)
    if (c != ' ') s += c;
  const std::size_t arrow = s.find("->");
  const bool explicit_output = arrow != std::string::npos;
  const std::string lhs = s.substr(0, arrow), rhs = explicit_output ? s.substr(arrow + 2) : "";
  for (std::size_t i = 0; i < lhs.size() + rhs.size(); ++i) {
    const bool in_output = i >= lhs.size();
    const char c = in_output ? rhs[i - lhs.size()] : lhs[i];
    if (is_label(c) || (c == ',' && !in_output)) continue;
    if (c == '.') bad("ellipsis ('...') is not supported");
    if (c == ',') bad("unexpected ',' in the output");
    if (c == '-' || c == '>') bad("unexpected " + quoted(c) + " (the output follows a single \"->\")");
    bad("bad character " + quoted(c) + " (labels are the letters a-z and A-Z)");
  }
  Spec spec;
  for (std::size_t from = 0;;) {  // terms between commas (an empty one is a 0-D operand)
    const std::size_t comma = lhs.find(',', from);
    spec.inputs.push_back(lhs.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  if (spec.inputs.size() != shapes.size())
    bad(std::to_string(spec.inputs.size()) + (spec.inputs.size() == 1 ? " subscript term for " : " subscript terms for ") +
        std::to_string(shapes.size()) + (shapes.size() == 1 ? " operand" : " operands"));
  std::array<long, 128> seen_in;
  seen_in.fill(-1);
  std::array<int, 128> count{};
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const Labels& term = spec.inputs[i];
    if (term.size() != shapes[i].size())
      bad_shape("operand " + std::to_string(i) + " has rank " + std::to_string(shapes[i].size()) + " but " +
                std::to_string(term.size()) + " labels \"" + term + "\"");
    for (std::size_t d = 0; d < term.size(); ++d) {
      const std::size_t c = std::size_t(term[d]);
      ++count[c];  // a label repeated within an operand counts each time (einsum("ii") is the trace)
      if (seen_in[c] < 0) {
        seen_in[c] = long(i);
        spec.size[c] = shapes[i][d];
      } else if (spec.size[c] != shapes[i][d]) {
        bad_shape("label " + quoted(term[d]) + " has length " + std::to_string(spec.size[c]) + " in operand " +
                  std::to_string(seen_in[c]) + " but " + std::to_string(shapes[i][d]) +
                  (seen_in[c] == long(i) ? " in the same operand" : " in operand " + std::to_string(i)));
      }
    }
  }
  if (explicit_output) {
    for (std::size_t d = 0; d < rhs.size(); ++d) {
      if (count[std::size_t(rhs[d])] == 0) bad("output label " + quoted(rhs[d]) + " appears in no operand");
      if (rhs.find(rhs[d]) != d) bad("output label " + quoted(rhs[d]) + " repeats");
    }
    spec.output = rhs;
  } else {
    for (std::size_t c = 0; c < 128; ++c)  // the labels that appear once, in ASCII order (as NumPy)
      if (count[c] == 1) spec.output += char(c);
  }
  checked_size("einsum", spec.shape_of(spec.output));  // before any intermediate is made
  return spec;
}

// An operand or an intermediate result: its labels and its value (an operand's own array, not copied).
template <class T>
struct Term {
  Labels labels;
  const Array<T>* borrowed = nullptr;
  Array<T> own = empty_array<T>();
  const Array<T>& value() const { return borrowed ? *borrowed : own; }
};

std::vector<std::size_t> positions(const Labels& from, const Labels& to) {
  std::vector<std::size_t> p;
  for (char c : to) p.push_back(from.find(c));
  return p;
}

// The labels of an operand with each repeat dropped ("iij" -> "ij").
Labels distinct(const Labels& labels) {
  Labels d;
  for (char c : labels)
    if (!has(d, c)) d += c;
  return d;
}

// The steps through an array with these (repeating) labels that move every axis
// of a label at once: the diagonal that a label repeated within an operand picks.
std::vector<std::size_t> diagonal_steps(const Labels& labels, const Shape& shape) {
  const std::vector<std::size_t> stride = detail::strides_of(shape);
  std::vector<std::size_t> steps;
  for (char c : distinct(labels)) {
    std::size_t step = 0;
    for (std::size_t d = 0; d < labels.size(); ++d)
      if (labels[d] == c) step += stride[d];
    steps.push_back(step);
  }
  return steps;
}

// term permuted to the labels `to` (the same labels in another order).
template <class T>
Term<T> arranged(Term<T>&& term, const Labels& to) {
  if (term.labels == to) return std::move(term);
  Term<T> out;
  out.labels = to;
  out.own = detail::permuted(term.value(), positions(term.labels, to));
  return out;
}

// term with its labels outside `needed` summed away.
template <class T>
Term<T> summed(Term<T>&& term, const std::array<bool, 128>& needed, const Spec& spec) {
  Labels kept, dropped;
  for (char c : term.labels) (needed[std::size_t(c)] ? kept : dropped) += c;
  if (dropped.empty()) return std::move(term);
  const Term<T> x = arranged(std::move(term), kept + dropped);  // the summed labels last
  const std::size_t rows = spec.size_of(kept), width = spec.size_of(dropped);
  Term<T> out;
  out.labels = kept;
  out.own = Array<T>::from_shape(spec.shape_of(kept));
  const T* in = x.value().data();
  for (std::size_t r = 0; r < rows; ++r) {
    T s = T(0);
    for (std::size_t j = 0; j < width; ++j) s += in[r * width + j];
    out.own.data()[r] = s;
  }
  return out;
}

// The product of two terms over their shared labels: those in `keep` stay as batch
// axes, the others are contracted. Each side is a stack of matrices, (batch, rows,
// contracted) or its transpose, copied only when it is neither already. When the
// result is `wanted` with its two sides swapped, the operands are swapped instead
// (c^T = b^T a^T, by flags), so that no permutation follows.
template <class T>
Term<T> contracted(Term<T>&& left, Term<T>&& right, const std::array<bool, 128>& keep, const Spec& spec,
                   const Labels& wanted = "") {
  Labels batch, inner, left_only, right_only;
  for (char c : left.labels)
    (has(right.labels, c) ? (keep[std::size_t(c)] ? batch : inner) : left_only) += c;
  for (char c : right.labels)
    if (!has(left.labels, c)) right_only += c;
  if (!wanted.empty() && wanted != batch + left_only + right_only && wanted == batch + right_only + left_only)
    return contracted(std::move(right), std::move(left), keep, spec);
  const std::size_t b = spec.size_of(batch), m = spec.size_of(left_only), k = spec.size_of(inner),
                    n = spec.size_of(right_only);
  const bool ta = left.labels != batch + left_only + inner && left.labels == batch + inner + left_only;
  const bool tb = right.labels != batch + inner + right_only && right.labels == batch + right_only + inner;
  const Term<T> a = arranged(std::move(left), ta ? batch + inner + left_only : batch + left_only + inner);
  const Term<T> c = arranged(std::move(right), tb ? batch + right_only + inner : batch + inner + right_only);
  Term<T> out;
  out.labels = batch + left_only + right_only;
  checked_size("einsum", spec.shape_of(out.labels));  // "i,j,k->ijk" of huge vectors would wrap
  out.own = Array<T>::from_shape(spec.shape_of(out.labels));
  std::vector<std::size_t> a_offsets(b), c_offsets(b);
  for (std::size_t i = 0; i < b; ++i) a_offsets[i] = i * m * k, c_offsets[i] = i * k * n;
  detail::gemm_batches(ta, tb, m, n, k, a.value().data(), ta ? m : k, a_offsets, c.value().data(), tb ? k : n,
                       c_offsets, out.own.data());
  return out;
}

template <class T>
Array<T> evaluate(const Spec& spec, const std::vector<Variable<T>>& operands) {
  const std::size_t count = operands.size();
  // needed_after[j]: the labels of the output and of operands j, j + 1, ...
  std::vector<std::array<bool, 128>> needed_after(count + 1);
  needed_after[count].fill(false);
  for (char c : spec.output) needed_after[count][std::size_t(c)] = true;
  for (std::size_t j = count; j-- > 0;) {
    needed_after[j] = needed_after[j + 1];
    for (char c : spec.inputs[j]) needed_after[j][std::size_t(c)] = true;
  }
  const auto term = [&](std::size_t j) {
    Term<T> t;
    const Labels& labels = spec.inputs[j];
    t.labels = distinct(labels);
    if (t.labels == labels) {
      t.borrowed = &operands[j].value();
    } else {  // a label repeated within the operand: its diagonal
      const T* x = operands[j].value().data();
      t.own = Array<T>::from_shape(spec.shape_of(t.labels));
      T* y = t.own.data();
      detail::for_each_offset(t.own.shape(), [x, y](std::size_t i, std::size_t at) { y[i] = x[at]; },
                              diagonal_steps(labels, operands[j].shape()));
    }
    return t;
  };
  Term<T> current = summed(term(0), needed_after[1], spec);
  for (std::size_t j = 1; j < count; ++j) {
    std::array<bool, 128> needed = needed_after[j + 1];
    for (char c : current.labels) needed[std::size_t(c)] = true;
    current = contracted(std::move(current), summed(term(j), needed, spec), needed_after[j + 1], spec,
                         j + 1 == count ? spec.output : Labels());
  }
  current = arranged(summed(std::move(current), needed_after[count], spec), spec.output);
  if (current.borrowed) return *current.borrowed;  // einsum("ij->ij", x): a copy
  return std::move(current.own);
}

// The adjoint of taking a diagonal: zeros of `shape` (whose axes carry `labels`,
// some repeated) with g, labelled distinct(labels), on the diagonal. Its VJP takes
// the diagonal again: einsum(labels -> distinct(labels)).
template <class T>
Variable<T> diagonal_backward(const Variable<T>& g, const Labels& labels, const Shape& shape) {
  static const OpInfo op{"einsum_diagonal_backward", "dg = einsum(labels -> distinct labels, gg)"};
  Array<T> y = Array<T>::from_shape(shape);
  std::fill(y.begin(), y.end(), T(0));
  const T* from = g.value().data();
  T* to = y.data();
  detail::for_each_offset(g.shape(), [from, to](std::size_t i, std::size_t at) { to[at] = from[i]; },
                          diagonal_steps(labels, shape));
  return record<T>(op, std::move(y), {g}, [labels](Backward<T>& d) {
    d.add_grad(0, einsum(labels + "->" + distinct(labels), d.g));
  });
}

}  // namespace

template <class T>
Variable<T> einsum(const std::string& subscripts, const std::vector<Variable<T>>& operands) {
  static const OpInfo op{"einsum", "d operand i = einsum of g and the other operands, to operand i's labels"};
  std::vector<Shape> shapes;
  for (const auto& x : operands) shapes.push_back(x.shape());
  Spec spec = parse(subscripts, shapes);
  Array<T> value = evaluate(spec, operands);
  return record<T>(op, std::move(value), operands, [spec](Backward<T>& d) {
    for (std::size_t i = 0; i < d.inputs(); ++i) {
      if (!d.needs_grad(i)) continue;
      // Operand i's labels that g or another operand carries; the rest were summed
      // away inside operand i, so its gradient is constant along them (broadcast).
      const Labels own = distinct(spec.inputs[i]);
      Labels reached;
      for (char c : own) {
        bool elsewhere = has(spec.output, c);
        for (std::size_t j = 0; j < d.inputs() && !elsewhere; ++j) elsewhere = j != i && has(spec.inputs[j], c);
        if (elsewhere) reached += c;
      }
      std::string subscripts = spec.output;
      std::vector<Variable<T>> operands{d.g};
      for (std::size_t j = 0; j < d.inputs(); ++j)
        if (j != i) subscripts += "," + spec.inputs[j], operands.push_back(d.input(j));
      Variable<T> gradient = einsum(subscripts + "->" + reached, operands);
      if (reached != own) {
        Shape with_ones;
        for (char c : own) with_ones.push_back(has(reached, c) ? spec.size[std::size_t(c)] : 1);
        gradient = broadcast_to(reshape(gradient, with_ones), spec.shape_of(own));
      }
      if (own != spec.inputs[i]) gradient = diagonal_backward(gradient, spec.inputs[i], d.input(i).shape());
      d.add_grad(i, gradient);
    }
  });
}

#define WENGERT_INSTANTIATE(T) \
  template Variable<T> einsum(const std::string&, const std::vector<Variable<T>>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
