// Teaching views of the tape: the graph of a value in Graphviz DOT, the tape as
// a Wengert list, and (through BackwardOptions::trace) the reverse sweep step by step.
#pragma once

#include <cctype>
#include <cstddef>
#include <iosfwd>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tape.hpp"
#include "variable.hpp"

namespace autodiff {

struct DotOptions {
  // Values and gradients of tensors up to this many elements are printed in the nodes.
  std::size_t max_elements = 16;
  bool show_values = true;
  // dC/dz of each value z that has one: leaves' grad(), and the others' after
  // retain_grad() or backward({.keep_all_grads = true})
  bool show_grads = true;
  bool left_to_right = false;  // lay the graph out from left to right (default: top to bottom, as write_html)
};

// The computational graph that produced `root`, as Graphviz DOT (render with
// `dot -Tsvg graph.dot -o graph.svg`). Values are boxes, ops are ellipses that
// show their scalar arguments ("mul_scalar / s=0.5"); the edges into an op of
// two or more inputs are labelled with the operand each is, as its derivative
// rule names them (a, b of sub: a - b), or by position. To draw every gradient,
// run backward({.keep_all_grads = true}) first (it keeps the graph); a graph
// released by a plain backward() is a GraphError, not a picture of the root alone.
template <class T>
std::string to_dot(const Variable<T>& root, const DotOptions& options = {});

// This thread's tape as a Wengert list: index, op, inputs and scalar arguments
// ("v1 = mul_scalar(v0, s=0.5)"), output shape, and each op's derivative rule.
// Unnamed leaves are x1, x2, ... (c1, ... for constants); unnamed op results are v<index>.
template <class T>
void print_tape(std::ostream& out);
template <class T>
std::string tape_to_string();

// A tensor in one line, "[[1, 2], [3, 4]]", or "(64, 50) tensor" when larger than max_elements;
// numbers with `precision` significant digits.
template <class T>
std::string format_compact(const Array<T>& values, std::size_t max_elements = 16, int precision = 4);

namespace detail {

// A letter, '_' or (not first) a digit: a character of a symbol in a derivative rule.
inline bool identifier_char(char c, bool first) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalpha(u) || c == '_' || (!first && std::isdigit(u));
}

// One clause of an op's derivative rule: "db = -g" of sub's "da = g, db = -g".
struct RuleClause {
  std::string symbol, rhs;  // "b", "-g"
};
// The rule of `op` split into one clause per input, or nothing if it does not
// read that way ("d operand i = ..." of einsum, or a clause count other than `inputs`).
std::vector<RuleClause> input_clauses(const OpInfo& op, std::size_t inputs);
// How the views name input i of an op: its rule's symbol, or its position.
inline std::string operand_label(const std::vector<RuleClause>& clauses, std::size_t i) {
  return clauses.empty() ? std::to_string(i) : clauses[i].symbol;
}
// A node's scalar arguments (OpInfo::constants) as {name, value}: {"s", "0.5"},
// the value in its element type's precision.
template <class T>
std::vector<std::pair<std::string, std::string>> named_constants(const Node<T>& node);
// The same as "s=0.5" or "lo=-1, hi=1" ("" for none).
template <class T>
std::string constants_text(const Node<T>& node);

// Names the nodes of a tape the way print_tape shows them.
template <class T>
class NodeNames {
 public:
  const std::string& operator()(const Node<T>& node);

 private:
  std::unordered_map<const Node<T>*, std::string> names_;
  std::size_t leaves_ = 0, constants_ = 0;
};

// "v1 = mul_scalar(v0, s=0.5)": a node as the Wengert list shows it.
template <class T>
std::string call_text(NodeNames<T>& names, const Node<T>& node);

// Prints the reverse sweep: one line per op, with the chain-rule product it adds.
template <class T>
class SweepPrinter {
 public:
  SweepPrinter(std::ostream& out, const Tape<T>& tape, std::size_t root_index, const Node<T>& root);
  void step(const Node<T>& node);
  void finish();

 private:
  std::ostream& out_;
  NodeNames<T> names_;
  std::size_t steps_ = 0;
};

}  // namespace detail
}  // namespace autodiff
