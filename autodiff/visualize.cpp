#include "visualize.hpp"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <unordered_set>
#include <vector>

#include "op.hpp"  // detail::number

namespace autodiff {

template <class T>
std::string format_compact(const Array<T>& values, std::size_t max_elements, int precision) {
  if (values.size() > max_elements) return to_string(values.shape()) + " tensor";
  std::ostringstream out;
  out << std::setprecision(precision);
  const auto& shape = values.shape();
  if (shape.empty()) {
    out << values();
    return out.str();
  }
  // Print nested brackets for any rank by walking the flat, row-major data.
  std::vector<std::size_t> index(shape.size(), 0);
  for (std::size_t flat = 0; flat < values.size(); ++flat) {
    std::size_t opened = 0;
    while (opened < shape.size() && index[shape.size() - 1 - opened] == 0) ++opened;
    if (flat == 0) opened = shape.size();
    out << std::string(opened, '[') << values.data()[flat];
    // advance the index and close the brackets of the axes that wrapped
    std::size_t closed = 0;
    for (std::size_t axis = shape.size(); axis-- > 0;) {
      if (++index[axis] < shape[axis]) break;
      index[axis] = 0;
      ++closed;
    }
    out << std::string(closed, ']');
    if (flat + 1 < values.size()) out << ", ";
  }
  return out.str();
}

namespace detail {

// The length of "d<symbol> = " at `at` in rule (the start of a clause), or 0.
static std::size_t clause_head(const std::string& rule, std::size_t at) {
  if (rule.compare(at, 1, "d") != 0 || at + 1 >= rule.size() || !identifier_char(rule[at + 1], true)) return 0;
  std::size_t end = at + 2;
  while (end < rule.size() && identifier_char(rule[end], false)) ++end;
  return rule.compare(end, 3, " = ") == 0 ? end + 3 - at : 0;
}

std::vector<RuleClause> input_clauses(const OpInfo& op, std::size_t inputs) {
  const std::string rule = op.derivative;
  std::vector<RuleClause> clauses;
  std::vector<std::size_t> starts;  // where each clause's rhs starts
  for (std::size_t at = 0; at < rule.size(); at = rule.find(", ", at + 1)) {
    const std::size_t begin = at == 0 ? 0 : at + 2, head = clause_head(rule, begin);
    if (head == 0) {
      if (at == 0) return {};  // the rule does not start with a clause
      continue;                // a comma inside a clause
    }
    if (!clauses.empty()) clauses.back().rhs = rule.substr(starts.back(), at - starts.back());
    clauses.push_back({rule.substr(begin + 1, head - 4), ""});
    starts.push_back(begin + head);
  }
  if (clauses.size() != inputs) return {};
  clauses.back().rhs = rule.substr(starts.back());
  return clauses;
}

template <class T>
std::vector<std::pair<std::string, std::string>> named_constants(const Node<T>& node) {
  std::vector<std::pair<std::string, std::string>> constants;
  if (!node.op || !node.op->constants) return constants;
  const std::string names = node.op->constants;  // "lo, hi"
  for (std::size_t start = 0, k = 0; start <= names.size() && k < 2; ++k) {
    const std::size_t comma = std::min(names.find(", ", start), names.size());
    constants.emplace_back(names.substr(start, comma - start), number(static_cast<T>(node.constants[k])));
    start = comma + 2;
  }
  return constants;
}

template <class T>
std::string constants_text(const Node<T>& node) {
  std::string text;
  for (const auto& [name, value] : named_constants(node)) text += (text.empty() ? "" : ", ") + name + "=" + value;
  return text;
}

template <class T>
const std::string& NodeNames<T>::operator()(const Node<T>& node) {
  auto found = names_.find(&node);
  if (found != names_.end()) return found->second;
  std::string name;
  if (node.extras && !node.extras->name.empty())
    name = node.extras->name;
  else if (!node.is_leaf())
    name = "v" + std::to_string(node.tape_index);
  else if (node.requires_grad)
    name = "x" + std::to_string(++leaves_);
  else
    name = "c" + std::to_string(++constants_);
  return names_.emplace(&node, std::move(name)).first->second;
}

template <class T>
std::string call_text(NodeNames<T>& names, const Node<T>& node) {
  std::string text = names(node) + " = " + node.op->name + "(";
  for (std::size_t i = 0; i < node.inputs.size(); ++i) text += (i ? ", " : "") + names(*node.inputs[i]);
  const std::string constants = constants_text(node);
  if (!constants.empty()) text += (node.inputs.size() ? ", " : "") + constants;
  return text + ")";
}

template <class T>
SweepPrinter<T>::SweepPrinter(std::ostream& out, const Tape<T>& tape, std::size_t root_index, const Node<T>& root)
    : out_(out) {
  // Name the nodes in tape order, exactly as print_tape does.
  for (std::size_t i = 0; i <= root_index; ++i)
    if (auto node = tape.at(i))
      for (auto& input : node->inputs) names_(*input);
  for (std::size_t i = 0; i <= root_index; ++i)
    if (auto node = tape.at(i)) names_(*node);
  out_ << "reverse sweep from " << names_(root) << ", seeded with dC/d" << names_(root) << " = "
       << format_compact(root.adjoint->value, 8) << "\n";
}

template <class T>
void SweepPrinter<T>::step(const Node<T>& node) {
  ++steps_;
  out_ << "  step " << steps_ << ": " << call_text(names_, node) << "    g = dC/d" << names_(node) << " = "
       << format_compact(node.adjoint->value, 8) << "\n";
  for (std::size_t i = 0; i < node.inputs.size(); ++i)
    if (node.inputs[i]->requires_grad)
      out_ << "      dC/d" << names_(*node.inputs[i]) << " += vjp of input " << i << "   [" << node.op->name
           << ": " << node.op->derivative << "]\n";
}

template <class T>
void SweepPrinter<T>::finish() {
  out_ << "  done: " << steps_ << " steps\n";
}

}  // namespace detail

template <class T>
void print_tape(std::ostream& out) {
  const Tape<T>& tape = Tape<T>::current();
  detail::NodeNames<T> names;
  std::vector<NodePtr<T>> live;
  for (std::size_t i = 0; i < tape.size(); ++i)
    if (auto node = tape.at(i)) live.push_back(node);
  for (auto& node : live)
    for (auto& input : node->inputs) names(*input);
  out << "Wengert list: " << live.size() << " entries on this thread's tape\n";
  out << "  " << std::left << std::setw(5) << "#" << std::setw(34) << "operation" << std::setw(14) << "shape"
      << "derivative (g = dC/d output)\n";
  for (auto& node : live) {
    out << "  " << std::left << std::setw(5) << node->tape_index << std::setw(34)
        << detail::call_text(names, *node) << std::setw(14) << to_string(node->value.shape())
        << node->op->derivative << "\n";
  }
}

template <class T>
std::string tape_to_string() {
  std::ostringstream out;
  print_tape<T>(out);
  return out.str();
}

static std::string dot_escape(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '"' || c == '\\' || c == '{' || c == '}' || c == '|' || c == '<' || c == '>') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

// "name | shape (2,) | value [1, 2] | dC/dname [..]", each field escaped for a record label.
template <class T>
static std::string value_label(detail::NodeNames<T>& names, const Node<T>& node, const DotOptions& options) {
  const std::string& name = names(node);
  std::vector<std::string> fields{name, "shape " + to_string(node.value.shape())};
  if (options.show_values) fields.push_back("value " + format_compact(node.value, options.max_elements));
  if (options.show_grads) {
    const Array<T>* grad = node.is_leaf() && node.grad ? &node.grad->value
                           : node.extras && node.extras->has_retained_grad ? &node.extras->retained_grad
                                                                             : nullptr;
    if (grad) fields.push_back("dC/d" + name + " " + format_compact(*grad, options.max_elements));
  }
  std::string label;
  for (const auto& field : fields) label += (label.empty() ? "" : " | ") + dot_escape(field);
  return label;
}

template <class T>
std::string to_dot(const Variable<T>& root, const DotOptions& options) {
  if (!root.defined()) throw GraphError("to_dot: the value is an empty Variable (default-constructed, never assigned)");
  // Collect the graph behind root (depth-first through the inputs).
  std::vector<const Node<T>*> nodes;
  std::unordered_set<const Node<T>*> seen;
  std::vector<const Node<T>*> stack{&root.node()};
  while (!stack.empty()) {
    const Node<T>* node = stack.back();
    stack.pop_back();
    if (!seen.insert(node).second) continue;
    if (node->released)  // its inputs are gone: a picture would show a part of the graph as the whole
      throw GraphError(std::string("to_dot: the graph ") + (node == &root.node() ? "of this value" : "behind it") +
                       " (op '" + node->op->name + "') was released by backward() or grad(); pass "
                       "retain_graph = true to that call (or backward({.keep_all_grads = true}), which keeps the "
                       "graph and every value's gradient) to draw the graph afterwards");
    nodes.push_back(node);
    for (auto& input : node->inputs) stack.push_back(input.get());
  }
  // Leaves first, then ops in tape order, so names match print_tape.
  std::stable_sort(nodes.begin(), nodes.end(), [](const Node<T>* a, const Node<T>* b) {
    if (a->is_leaf() != b->is_leaf()) return a->is_leaf();
    return !a->is_leaf() && a->tape_index < b->tape_index;
  });
  detail::NodeNames<T> names;
  std::unordered_map<const Node<T>*, std::size_t> id;
  for (auto* node : nodes) id.emplace(node, id.size());

  // A record's fields run across the rank direction (side by side top to bottom,
  // stacked left to right), and the ranks are packed close: the 2-2-1 network's
  // 21 ranks fit about 1100 x 1100 pt, a slide's shape, not a strip 4437 pt long.
  std::ostringstream dot;
  dot << "digraph wengert {\n  rankdir=" << (options.left_to_right ? "LR" : "TB")
      << ";\n  ranksep=0.25;\n  nodesep=0.25;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
         "  edge [fontname=\"Helvetica\", fontsize=9];\n";
  for (auto* node : nodes) {
    dot << "  n" << id[node] << " [shape=record, label=\"" << value_label(names, *node, options) << "\""
        << (node->is_leaf() && node->requires_grad ? ", style=filled, fillcolor=\"#dde8ff\"" : "") << "];\n";
    if (node->is_leaf()) continue;
    const std::string constants = detail::constants_text(*node);
    // ordering=in: the operands are drawn in argument order (a left of b)
    dot << "  op" << id[node] << " [shape=ellipse, height=0.3, margin=0.02, ordering=in, label=\""
        << dot_escape(node->op->name)
        << (constants.empty() ? "" : "\\n" + dot_escape(constants)) << "\"];\n";
    dot << "  op" << id[node] << " -> n" << id[node] << ";\n";
    const auto clauses = node->inputs.size() > 1 ? detail::input_clauses(*node->op, node->inputs.size())
                                                 : std::vector<detail::RuleClause>{};
    for (std::size_t i = 0; i < node->inputs.size(); ++i) {
      dot << "  n" << id[node->inputs[i].get()] << " -> op" << id[node];
      if (node->inputs.size() > 1) dot << " [label=\"" << dot_escape(detail::operand_label(clauses, i)) << "\"]";
      dot << ";\n";
    }
  }
  dot << "}\n";
  return dot.str();
}

#define WENGERT_INSTANTIATE(T)                                                  \
  template std::string format_compact(const Array<T>&, std::size_t, int);      \
  template std::vector<std::pair<std::string, std::string>> detail::named_constants(const Node<T>&); \
  template std::string detail::constants_text(const Node<T>&);                  \
  template std::string detail::call_text(detail::NodeNames<T>&, const Node<T>&); \
  template class detail::NodeNames<T>;                                          \
  template class detail::SweepPrinter<T>;                                       \
  template void print_tape<T>(std::ostream&);                                   \
  template std::string tape_to_string<T>();                                     \
  template std::string to_dot(const Variable<T>&, const DotOptions&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
