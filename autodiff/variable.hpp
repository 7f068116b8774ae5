// A differentiable value: an xtensor array, whether it requires a gradient,
// and (for values computed by an op) its entry on the tape.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "memory.hpp"

namespace autodiff {

// ---- errors -----------------------------------------------------------------
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Operand shapes that do not fit; the message names the op and the shapes.
struct ShapeError : Error {
  using Error::Error;
};
// Misuse of the graph: backward on a non-scalar without a seed, on a value that
// requires no gradient, or through a tape that backward() already released.
struct GraphError : Error {
  using Error::Error;
};
// Anomaly mode found NaN or Inf; the message names the op that made it.
struct AnomalyError : Error {
  using Error::Error;
};

std::string to_string(const Shape& shape);  // "(2, 3)"

// What an op is called and its vector-Jacobian product in one line, like an
// entry of PyTorch's derivatives.yaml (g is the gradient of the op's output).
struct OpInfo {
  const char* name;
  const char* derivative;
};

template <class T>
struct Node;
template <class T>
using NodePtr = std::shared_ptr<Node<T>>;
template <class T>
using BackwardFn = std::function<void(Node<T>& out)>;
template <class T>
using GradHook = std::function<void(const Array<T>& grad)>;

// Rarely used parts of a node, kept out of line so a node stays small.
template <class T>
struct NodeExtras {
  std::string name;
  Array<T> retained_grad;  // retain_grad(): the gradient of a non-leaf value
  bool has_retained_grad = false;
  std::vector<GradHook<T>> hooks;
};

// One value of the computation. Leaves (inputs, parameters) have no op; values
// computed by an op keep their inputs and a backward closure until the tape
// that recorded them is released.
// An array with no elements, made without allocating (a default xt::xarray
// allocates one element).
template <class T>
Array<T> empty_array() {
  return Array<T>(Shape{0});
}

// A node's inputs: most ops have one to three, kept inline so that recording
// an op does not allocate a vector; with more, all of them move to the heap.
template <class T>
class InputList {
 public:
  std::size_t size() const { return size_; }
  NodePtr<T>* begin() { return spilled() ? spill_.data() : inline_; }
  NodePtr<T>* end() { return begin() + size_; }
  const NodePtr<T>* begin() const { return spilled() ? spill_.data() : inline_; }
  const NodePtr<T>* end() const { return begin() + size_; }
  NodePtr<T>& operator[](std::size_t i) { return begin()[i]; }
  const NodePtr<T>& operator[](std::size_t i) const { return begin()[i]; }

  void push_back(NodePtr<T> node) {
    if (size_ == kInline)
      for (auto& kept : inline_) spill_.push_back(std::move(kept));
    if (size_ < kInline)
      inline_[size_] = std::move(node);
    else
      spill_.push_back(std::move(node));
    ++size_;
  }
  void clear() {
    for (auto& kept : inline_) kept.reset();
    spill_.clear();
    size_ = 0;
  }

 private:
  static constexpr std::size_t kInline = 3;
  bool spilled() const { return size_ > kInline; }
  NodePtr<T> inline_[kInline];
  std::vector<NodePtr<T>> spill_;
  std::size_t size_ = 0;
};

template <class T>
struct Node {
  Array<T> value = empty_array<T>();
  Array<T> grad = empty_array<T>();  // leaves: the accumulated gradient; others: the adjoint during a sweep
  bool has_grad = false;
  bool requires_grad = false;
  bool retains_grad = false;
  bool released = false;  // backward() freed this node's inputs and closure
  const OpInfo* op = nullptr;
  std::size_t tape_index = 0;
  InputList<T> inputs;
  BackwardFn<T> backward;
  std::unique_ptr<NodeExtras<T>> extras;

  bool is_leaf() const { return op == nullptr; }
  Node& input(std::size_t i) { return *inputs[i]; }
  // Whether input i wants a gradient: ops skip the work for the others.
  bool needs_grad(std::size_t i) const { return inputs[i]->requires_grad; }
  NodeExtras<T>& extra() {
    if (!extras) extras = std::make_unique<NodeExtras<T>>();
    return *extras;
  }

  Node() = default;
  explicit Node(Array<T>&& v) : value(std::move(v)) {}
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Frees a long chain of inputs iteratively: letting each node free its
  // inputs in turn would recurse once per op and overflow the stack.
  ~Node() {
    std::vector<NodePtr<T>> pending;  // allocates only when this node is an input's last owner
    for (auto& input : inputs)
      if (input && input.use_count() == 1) pending.push_back(std::move(input));
    while (!pending.empty()) {
      NodePtr<T> node = std::move(pending.back());
      pending.pop_back();
      if (node.use_count() == 1)  // the last owner: take its inputs before it goes
        for (auto& input : node->inputs) pending.push_back(std::move(input));
    }
  }
};

struct BackwardOptions {
  // Keep the tape so that backward can run again over the same graph (or the
  // graph can be drawn with its gradients afterwards).
  bool retain_graph = false;
  // If set, each step of the reverse sweep is printed here (for teaching).
  std::ostream* trace = nullptr;
};

template <class T>
class Variable {
 public:
  using value_type = T;

  // An empty handle; most calls on it throw. Useful for members filled later.
  Variable() = default;
  Variable(Array<T> value, bool requires_grad = false);
  static Variable scalar(T value, bool requires_grad = false);
  explicit Variable(NodePtr<T> node) : node_(std::move(node)) {}

  const Array<T>& value() const { return node().value; }
  // In-place access to a leaf's value, for optimizers and initialisers; it is
  // not recorded on the tape.
  Array<T>& data();
  const Shape& shape() const { return node().value.shape(); }
  std::size_t size() const { return node().value.size(); }
  std::size_t dimension() const { return node().value.dimension(); }
  T item() const;  // the value of a one-element variable

  bool requires_grad() const { return node().requires_grad; }
  Variable& set_requires_grad(bool required);  // leaves only
  bool is_leaf() const { return node().is_leaf(); }
  bool defined() const { return node_ != nullptr; }

  // The gradient accumulated by backward(): for leaves, and for other values
  // after retain_grad(). Throws if there is none yet.
  const Array<T>& grad() const;
  bool has_grad() const;
  void zero_grad();  // forget the accumulated gradient (like PyTorch's set_to_none)

  // Keep dC/d(this) for a non-leaf value, e.g. to compare a layer's delta with
  // a hand-derived one.
  Variable& retain_grad();
  // Call hook(dC/d(this)) once the sweep has finished this value's gradient.
  Variable& register_hook(GradHook<T> hook);

  // A new leaf with the same value that requires no gradient.
  Variable detach() const;

  // Reverse sweep from this value: seeds dC/dC = 1 (the value must hold one
  // element) or the given seed, and accumulates into every leaf that requires
  // a gradient. Releases the tape unless options.retain_graph.
  void backward(const BackwardOptions& options = {}) const;
  template <class E>
  void backward(const xt::xexpression<E>& seed, const BackwardOptions& options = {}) const {
    backward_seeded(Array<T>(seed.derived_cast()), options);
  }

  const std::string& name() const;
  Variable& set_name(std::string name);  // shown by to_dot and print_tape

  const OpInfo* op() const { return node().op; }
  const NodePtr<T>& node_ptr() const { return node_; }
  Node<T>& node() const;

 private:
  const NodePtr<T>& node_ptr_checked() const;
  void backward_seeded(const Array<T>& seed, const BackwardOptions& options) const;
  NodePtr<T> node_;
};

using Variablef = Variable<float>;
using Variabled = Variable<double>;

template <class T>
std::ostream& operator<<(std::ostream& out, const Variable<T>& v);

extern template class Variable<float>;
extern template class Variable<double>;

}  // namespace autodiff
