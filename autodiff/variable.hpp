// A differentiable value: an xtensor array, whether it requires a gradient,
// and (for values computed by an op) its entry on the tape.
#pragma once

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
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
  // The names of the op's scalar arguments, "s" or "lo, hi" (at most two): record()
  // keeps their values on the node, so that the teaching views can show them.
  const char* constants = nullptr;
};

template <class T>
struct Node;
template <class T>
using NodePtr = std::shared_ptr<Node<T>>;
template <class T>
class Variable;
template <class T>
class Backward;
// An op's vector-Jacobian product: reads d.g = dC/d(output) and adds each
// input's gradient with d.add_grad(i, ...), written in differentiable ops.
template <class T>
using BackwardFn = std::function<void(Backward<T>& d)>;
template <class T>
using GradHook = std::function<void(const Array<T>& grad)>;
// Element access recorded on the tape, x[index] as NumPy (autodiff/indexing.hpp;
// defined in indexing.cpp). Variable's operator() calls it.
template <class T>
Variable<T> at(const Variable<T>& x, const std::vector<std::int64_t>& index);
namespace detail {
// The ShapeError of x(...) or at(x, {...}) with an unsigned index above 2^63 - 1
// (too_large marks it): it would wrap to a negative index.
[[noreturn]] void throw_unsigned_index(const std::vector<std::string>& indices, const std::vector<bool>& too_large,
                                       const Shape& shape);
}  // namespace detail

// Rarely used parts of a node, kept out of line so a node stays small.
template <class T>
struct NodeExtras {
  std::string name;
  Array<T> retained_grad;  // retain_grad(): the gradient of a non-leaf value
  bool has_retained_grad = false;
  std::vector<GradHook<T>> hooks;
};

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
    const std::uint32_t version = node->version;
    if (size_ == kInline)
      for (std::size_t i = 0; i < kInline; ++i) {
        spill_.push_back(std::move(inline_[i]));
        spill_versions_.push_back(inline_versions_[i]);
      }
    if (size_ < kInline) {
      inline_[size_] = std::move(node);
      inline_versions_[size_] = version;
    } else {
      spill_.push_back(std::move(node));
      spill_versions_.push_back(version);
    }
    ++size_;
  }
  void clear() {
    for (auto& kept : inline_) kept.reset();
    spill_.clear();
    spill_versions_.clear();
    size_ = 0;
  }
  // The version of input i when the op used it (see Node::version).
  std::uint32_t recorded_version(std::size_t i) const {
    return spilled() ? spill_versions_[i] : inline_versions_[i];
  }

 private:
  static constexpr std::size_t kInline = 3;
  bool spilled() const { return size_ > kInline; }
  NodePtr<T> inline_[kInline];
  std::uint32_t inline_versions_[kInline] = {};
  std::vector<NodePtr<T>> spill_;
  std::vector<std::uint32_t> spill_versions_;
  std::size_t size_ = 0;
};

// One value of the computation. Leaves (inputs, parameters) have no op; values
// computed by an op keep their inputs and a backward closure until a sweep
// over their graph releases them.
template <class T>
struct Node {
  Array<T> value = empty_array<T>();
  NodePtr<T> grad;     // a leaf's gradient accumulated by backward() (null: none yet)
  NodePtr<T> adjoint;  // during a sweep: dC/d(this) so far
  bool requires_grad = false;
  bool retains_grad = false;
  bool released = false;      // a sweep freed this node's inputs and closure
  bool made_by_sweep = false;  // a gradient computed without create_graph (has no graph)
  // Counts in-place changes through Variable::data(): an op remembers each input's
  // version, and a sweep refuses to use a value changed since (PyTorch does the same).
  std::uint32_t version = 0;
  std::uint32_t visited = 0;  // sweep-local marks (see the sweep in variable.cpp)
  std::uint32_t needed = 0;
  const OpInfo* op = nullptr;
  double constants[2] = {};  // the values of op->constants (0.5 of x * 0.5)
  std::size_t tape_index = 0;
  InputList<T> inputs;
  BackwardFn<T> backward;
  std::unique_ptr<NodeExtras<T>> extras;

  bool is_leaf() const { return op == nullptr; }
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
    if (inputs.size() == 0 && !grad) return;  // a constant or a leaf without a gradient: nothing to chain
    std::vector<NodePtr<T>> pending;  // allocates only when this node is an input's last owner
    auto take = [&pending](NodePtr<T>& p) {
      if (p && p.use_count() == 1) pending.push_back(std::move(p));
    };
    for (auto& input : inputs) take(input);
    take(grad);
    while (!pending.empty()) {
      NodePtr<T> node = std::move(pending.back());
      pending.pop_back();
      if (node.use_count() == 1) {  // the last owner: take its inputs before it goes
        for (auto& input : node->inputs) take(input);
        take(node->grad);
      }
    }
  }
};

namespace detail {
// Told each step of a reverse sweep, with the numbers the engine computed (the
// HTML tape viewer records them; see autodiff/html.hpp). A sweep observed this
// way is only watched: it runs no hooks and keeps no retain_grad() values.
template <class T>
struct SweepListener {
  virtual ~SweepListener() = default;
  virtual void seeded(const Node<T>& root, const Array<T>& seed) = 0;
  // Before node's backward closure runs: g = dC/d(node), complete by now.
  virtual void step(const Node<T>& node, const Array<T>& g) = 0;
  // The closure of `node` added `contribution` to dC/d(input i), which is now `adjoint`.
  virtual void added(const Node<T>& node, std::size_t input, const Array<T>& contribution,
                     const Array<T>& adjoint) = 0;
};
// While alive, the sweeps on this thread (backward or grad) report to listener;
// a sweep started inside one (from a hook) does not.
template <class T>
class ListenToNextSweep {
 public:
  explicit ListenToNextSweep(SweepListener<T>& listener);
  ~ListenToNextSweep();
  ListenToNextSweep(const ListenToNextSweep&) = delete;
  ListenToNextSweep& operator=(const ListenToNextSweep&) = delete;

 private:
  SweepListener<T>* previous_;
};
}  // namespace detail

template <class T>
struct BackwardOptions {
  // Keep the graph so that it can be swept again (or drawn with its gradients
  // afterwards). Default: create_graph's value, as in PyTorch (true with keep_all_grads).
  std::optional<bool> retain_graph{};
  // Record the sweep itself on the tape: the gradients are then Variables that
  // can be differentiated again (second and higher derivatives).
  bool create_graph = false;
  // Accumulate into these leaves only (default: every leaf that requires a gradient).
  std::vector<Variable<T>> inputs{};
  // If set, each step of the reverse sweep is printed here (for teaching).
  std::ostream* trace = nullptr;
  // Teaching mode: keep dC/dz of every value z of the graph, as if each had been
  // retain_grad()-ed, so that grad() and to_dot show them all; keeps the graph too
  // (unless retain_graph = false), for to_dot to draw it.
  bool keep_all_grads = false;
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
  // A leaf's gradient as a Variable: after backward({.create_graph = true}) it
  // has a graph of its own and can be differentiated again.
  Variable grad_variable() const;
  bool has_grad() const;
  void zero_grad();  // forget the accumulated gradient (like PyTorch's set_to_none)

  // Keep dC/d(this) for a non-leaf value, e.g. to compare a layer's delta with
  // a hand-derived one.
  Variable& retain_grad();
  // Call hook(dC/d(this)) once the sweep has finished it (for a leaf: this sweep's share, before grad() sums it).
  Variable& register_hook(GradHook<T> hook);

  // A new leaf with the same value that requires no gradient.
  Variable detach() const;

  // x(i, j): the element x[i, j] (with fewer indices than the rank, the sub-array
  // x[i, j] of the remaining axes) as NumPy, recorded on the tape; negative
  // indices count from the end. An index out of range is a ShapeError.
  template <class... I>
    requires((std::is_integral_v<I> && !std::is_same_v<I, bool>) && ...)
  Variable operator()(I... index) const {
    constexpr auto too_large = []<class J>(J i) {
      if constexpr (std::is_unsigned_v<J>) return std::uintmax_t(i) > std::uintmax_t(INT64_MAX);
      return false;
    };
    if ((too_large(index) || ...))
      detail::throw_unsigned_index({std::to_string(index)...}, {too_large(index)...}, shape());
    return at(*this, std::vector<std::int64_t>{static_cast<std::int64_t>(index)...});
  }

  // Reverse sweep from this value: seeds dC/dC = 1 (the value must hold one
  // element) or the given seed, and accumulates into every leaf that requires
  // a gradient (or only options.inputs). Releases the swept graph unless
  // options.retain_graph; other graphs on the tape are not touched.
  void backward(const BackwardOptions<T>& options = {}) const;
  void backward(const Variable& seed, const BackwardOptions<T>& options = {}) const;
  template <class E>
  void backward(const xt::xexpression<E>& seed, const BackwardOptions<T>& options = {}) const {
    backward(Variable(Array<T>(seed.derived_cast())), options);
  }

  const std::string& name() const;
  Variable& set_name(std::string name);  // shown by to_dot and print_tape

  const OpInfo* op() const { return node().op; }
  const NodePtr<T>& node_ptr() const { return node_; }
  Node<T>& node() const;

 private:
  NodePtr<T> node_;
};

// Where a slice's values lie in the array it was taken from: that array seen as
// (outer, length, inner) row-major, the slice holding indices start, start + step, ...
// (count of them) of the middle axis; see Backward::add_grad_slice.
struct SliceRegion {
  std::size_t outer, length, inner, start, count;
  long step;
};

// What an op's backward closure sees: g = dC/d(output), the op's inputs and
// output as Variables, and add_grad to pass each input its share. Everything
// it computes is ordinary ops: recorded when the sweep has create_graph, so
// the gradient can be differentiated again; not recorded otherwise.
template <class T>
class Backward {
 public:
  Backward(const NodePtr<T>& output, Variable<T> g, std::uint32_t prune_id)
      : g(std::move(g)), output_(output), prune_id_(prune_id) {}

  const Variable<T> g;  // dC/d(output)

  Variable<T> output() const { return Variable<T>(output_); }
  Variable<T> input(std::size_t i) const { return Variable<T>(output_->inputs[i]); }
  std::size_t inputs() const { return output_->inputs.size(); }
  // Whether input i wants a gradient in this sweep: ops skip the work for the others.
  bool needs_grad(std::size_t i) const {
    const Node<T>& in = *output_->inputs[i];
    return in.requires_grad && (prune_id_ == 0 || in.needed == prune_id_);
  }
  // dC/d(input i) += gradient. A gradient of a broadcast shape is summed back
  // to the input's shape here (PyTorch's sum_to), so ops need not do it.
  void add_grad(std::size_t i, Variable<T> gradient);
  // dC/d(input i) += a gradient that is zero outside a slice of input i (the ops that
  // take slices: slice, select, unstack, x(i)): `region` says where its values go, and
  // embed() returns the full-size gradient as a differentiable op (slice_backward).
  // The result is add_grad(i, embed()), but a sweep that records nothing adds the
  // values in place into input i's gradient: taking the T steps of a sequence then
  // costs O(T) in the backward pass, not T full-size gradients.
  template <class Embed>
  void add_grad_slice(std::size_t i, const Variable<T>& gradient, const SliceRegion& region, Embed embed) {
    if (needs_grad(i) && !add_slice_in_place(i, gradient, region)) add_grad(i, embed());
  }

 private:
  bool add_slice_in_place(std::size_t i, const Variable<T>& gradient, const SliceRegion& region);

  const NodePtr<T>& output_;
  std::uint32_t prune_id_;
};

template <class T>
struct GradOptions {
  // The seeds dC/d(output), one per output (default: 1 for one-element outputs).
  std::vector<Variable<T>> grad_outputs{};
  std::optional<bool> retain_graph{};  // default: create_graph
  bool create_graph = false;         // record the sweep: the gradients can be differentiated again
  bool allow_unused = false;         // an input the outputs do not depend on gets an empty Variable
  bool materialize_grads = false;    // ... or, with this, zeros
};

// The gradients of the outputs with respect to the inputs (leaves or values
// computed on the way), as torch.autograd.grad: no leaf's grad() is touched.
template <class T>
std::vector<Variable<T>> grad(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                              const GradOptions<T>& options = {});
template <class T>
std::vector<Variable<T>> grad(const Variable<T>& output, const std::vector<Variable<T>>& inputs,
                              const GradOptions<T>& options = {}) {
  return grad(std::vector<Variable<T>>{output}, inputs, options);
}
template <class T>
Variable<T> grad(const Variable<T>& output, const Variable<T>& input, const GradOptions<T>& options = {}) {
  return grad(std::vector<Variable<T>>{output}, std::vector<Variable<T>>{input}, options)[0];
}

using Variablef = Variable<float>;
using Variabled = Variable<double>;

template <class T>
std::ostream& operator<<(std::ostream& out, const Variable<T>& v);

extern template class Variable<float>;
extern template class Variable<double>;
extern template class Backward<float>;
extern template class Backward<double>;

}  // namespace autodiff
