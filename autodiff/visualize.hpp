// Teaching views of the tape: the graph of a value in Graphviz DOT, the tape as
// a Wengert list, and (through BackwardOptions::trace) the reverse sweep step by step.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <unordered_map>

#include "tape.hpp"
#include "variable.hpp"

namespace autodiff {

struct DotOptions {
  // Values and gradients of tensors up to this many elements are printed in the nodes.
  std::size_t max_elements = 16;
  bool show_values = true;
  bool show_grads = true;  // leaves' grad(), and non-leaves' after retain_grad()
};

// The computational graph that produced `root`, as Graphviz DOT (render with
// `dot -Tsvg graph.dot -o graph.svg`). Values are boxes, ops are ellipses.
// To draw gradients of a graph, run backward with retain_graph = true: a
// released tape no longer knows the inputs of its ops.
template <class T>
std::string to_dot(const Variable<T>& root, const DotOptions& options = {});

// This thread's tape as a Wengert list: index, op, inputs, output shape, and
// each op's derivative rule. Unnamed leaves are x1, x2, ... (c1, ... for
// constants); unnamed op results are v<index>.
template <class T>
void print_tape(std::ostream& out);
template <class T>
std::string tape_to_string();

// A tensor in one line, "[[1, 2], [3, 4]]", or "(64, 50) tensor" when larger than max_elements;
// numbers with `precision` significant digits.
template <class T>
std::string format_compact(const Array<T>& values, std::size_t max_elements = 16, int precision = 4);

namespace detail {

// Names the nodes of a tape the way print_tape shows them.
template <class T>
class NodeNames {
 public:
  const std::string& operator()(const Node<T>& node);

 private:
  std::unordered_map<const Node<T>*, std::string> names_;
  std::size_t leaves_ = 0, constants_ = 0;
};

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
