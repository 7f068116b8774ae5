// Variable, the recording of ops, and the reverse sweep.
#include "variable.hpp"

#include <cmath>
#include <ostream>
#include <sstream>
#include <unordered_map>
#include <utility>

#include <xtensor/xio.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xreducer.hpp>
#include <xtensor/xtensor.hpp>

#include "detail/kernels.hpp"
#include "elementwise.hpp"
#include "op.hpp"
#include "reduction.hpp"
#include "tape.hpp"
#include "visualize.hpp"

namespace autodiff {

std::string to_string(const Shape& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// ---- Variable ----------------------------------------------------------------

template <class T>
Variable<T>::Variable(Array<T> value, bool requires_grad)
    : node_(std::allocate_shared<Node<T>>(PoolAllocator<Node<T>>(), std::move(value))) {
  node_->requires_grad = requires_grad;
}

template <class T>
Variable<T> Variable<T>::scalar(T value, bool requires_grad) {
  return Variable(Array<T>(value), requires_grad);
}

template <class T>
Node<T>& Variable<T>::node() const {
  if (!node_) throw GraphError("use of an empty Variable (default-constructed, never assigned)");
  return *node_;
}

template <class T>
Array<T>& Variable<T>::data() {
  if (!node().is_leaf())
    throw GraphError(std::string("data(): in-place access is for leaves; this value was made by op '") +
                     node().op->name + "' (detach() it first)");
  ++node_->version;  // ops recorded before this call must not be differentiated with the new value
  return node_->value;
}

template <class T>
T Variable<T>::item() const {
  if (size() != 1)
    throw ShapeError("item(): the value has shape " + to_string(shape()) + ", not one element");
  return *node().value.begin();
}

template <class T>
Variable<T>& Variable<T>::set_requires_grad(bool required) {
  if (!node().is_leaf())
    throw GraphError("set_requires_grad: only leaves can be changed; use detach() for a non-leaf value");
  node_->requires_grad = required;
  return *this;
}

template <class T>
bool Variable<T>::has_grad() const {
  const Node<T>& n = node();
  if (n.is_leaf()) return n.grad != nullptr;
  return n.extras && n.extras->has_retained_grad;
}

template <class T>
const Array<T>& Variable<T>::grad() const {
  const Node<T>& n = node();
  if (!n.is_leaf()) {
    if (!n.retains_grad)
      throw GraphError(std::string("grad(): this value was made by op '") + n.op->name +
                       "'; call retain_grad() on it before backward() to keep its gradient");
    if (!n.extras->has_retained_grad)
      throw GraphError("grad(): no gradient yet: backward() has not reached this value");
    return n.extras->retained_grad;
  }
  if (!n.requires_grad) throw GraphError("grad(): this value does not require a gradient");
  if (!n.grad) throw GraphError("grad(): no gradient yet: call backward() first (or it was zeroed)");
  return n.grad->value;
}

template <class T>
Variable<T> Variable<T>::grad_variable() const {
  const Node<T>& n = node();
  if (!n.is_leaf()) return Variable<T>(grad());  // a retained gradient is a plain value
  grad();  // the same errors
  return Variable<T>(n.grad);
}

template <class T>
void Variable<T>::zero_grad() {
  Node<T>& n = node();
  n.grad.reset();
  if (n.extras) n.extras->has_retained_grad = false;
}

template <class T>
Variable<T>& Variable<T>::retain_grad() {
  if (!node().is_leaf()) {
    node_->retains_grad = true;
    node_->extra();
  }
  return *this;  // leaves keep their gradient anyway
}

template <class T>
bool& leaf_hooks_registered();  // below, with the sweep

template <class T>
Variable<T>& Variable<T>::register_hook(GradHook<T> hook) {
  node_->extra().hooks.push_back(std::move(hook));
  if (node().is_leaf()) leaf_hooks_registered<T>() = true;  // sweeps on this thread count leaves' uses from now on
  return *this;
}

template <class T>
Variable<T> Variable<T>::detach() const {
  return Variable<T>(node().value, false);
}

template <class T>
const std::string& Variable<T>::name() const {
  static const std::string none;
  return node().extras ? node_->extras->name : none;
}

template <class T>
Variable<T>& Variable<T>::set_name(std::string name) {
  node().extra().name = std::move(name);
  return *this;
}

template <class T>
std::ostream& operator<<(std::ostream& out, const Variable<T>& v) {
  out << "Variable" << to_string(v.shape());
  if (v.op()) out << " op=" << v.op()->name;
  if (v.requires_grad()) out << " requires_grad";
  return out << "\n" << v.value();
}

// ---- the reverse sweep -----------------------------------------------------------
//
// One reverse loop over the tape, in recording order (a topological order):
// each node that holds an adjoint runs its backward closure, which adds its
// inputs' shares with Backward::add_grad. The loop stops once no node is left
// waiting. Leaves' gradients are committed only at the end, and the swept
// graph released only then: a sweep that throws changes nothing.

namespace {

thread_local std::uint32_t sweep_counter = 0;

// What the sweep running on this thread knows (sweeps nest: a hook may start one).
template <class T>
struct Sweep {
  std::uint32_t id = 0;        // marks of this sweep (Node::visited, Node::needed)
  std::uint32_t prune_id = 0;  // = id when only paths to given inputs are followed
  std::size_t pending = 0;     // non-leaf nodes holding an adjoint not yet swept
  // Plain pointers: every node here lies on the graph of the outputs, which the
  // caller holds, and nothing is released before the sweep ends.
  std::vector<Node<T>*> touched;     // every node given an adjoint
  std::vector<Node<T>*> swept;       // the nodes whose closures ran (released at the end)
  std::vector<const Node<T>*> kept;  // non-leaf targets: their adjoints outlive their closures
  // Leaves with hooks: the uses left in this sweep (a hook fires when its leaf's count reaches 0).
  std::unordered_map<const Node<T>*, std::size_t> hooked_leaf_uses;

  void reset(std::uint32_t new_id) {
    id = new_id;
    prune_id = 0;
    pending = 0;
    touched.clear();
    swept.clear();
    kept.clear();
    hooked_leaf_uses.clear();
    op = nullptr;
  }
  const OpInfo* op = nullptr;       // whose closure is running, for messages
  detail::SweepListener<T>* listener = nullptr;  // a teaching view watching this sweep
};

template <class T>
Sweep<T>*& current_sweep() {
  thread_local Sweep<T>* sweep = nullptr;
  return sweep;
}

}  // namespace

// Whether a leaf on this thread was ever given a hook: only then do sweeps count leaves' uses.
template <class T>
bool& leaf_hooks_registered() {
  thread_local bool registered = false;
  return registered;
}

namespace {

// Sweeps' bookkeeping kept between sweeps, so that a training step does not
// reallocate its lists (one per nesting depth).
template <class T>
std::vector<std::unique_ptr<Sweep<T>>>& spare_sweeps() {
  thread_local std::vector<std::unique_ptr<Sweep<T>>> spare;
  return spare;
}

template <class T>
detail::SweepListener<T>*& next_sweep_listener() {
  thread_local detail::SweepListener<T>* listener = nullptr;
  return listener;
}

const char* running_op_name() {
  if (auto* s = current_sweep<double>(); s && s->op) return s->op->name;
  if (auto* s = current_sweep<float>(); s && s->op) return s->op->name;
  return "seed";
}

}  // namespace

namespace detail {
template <class T>
ListenToNextSweep<T>::ListenToNextSweep(SweepListener<T>& listener)
    : previous_(std::exchange(next_sweep_listener<T>(), &listener)) {}
template <class T>
ListenToNextSweep<T>::~ListenToNextSweep() {
  next_sweep_listener<T>() = previous_;
}
}  // namespace detail

// ---- recording -------------------------------------------------------------------

namespace detail {

template <class T>
void check_finite(const Array<T>& values, const std::string& what) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    T v = values.data()[i];
    if (!std::isfinite(v)) {
      std::ostringstream message;
      message << "anomaly: " << what << " produced " << (std::isnan(v) ? "NaN" : "Inf") << " at flat index "
              << i << " of a tensor of shape " << to_string(values.shape());
      throw AnomalyError(message.str());
    }
  }
}

[[noreturn]] void throw_gradient_shape(const Shape& input_shape, const Shape& gradient_shape) {
  throw ShapeError(std::string("backward of op '") + running_op_name() + "': gradient of shape " +
                   to_string(gradient_shape) + " cannot be summed to its input's shape " + to_string(input_shape));
}

}  // namespace detail

template <class T>
static Variable<T> record_inputs(const OpInfo& op, Array<T>&& value, const Variable<T>* inputs, std::size_t count,
                                 BackwardFn<T>&& backward, OpConstants constants) {
  if (anomaly_detection_enabled()) {
    const std::string in_backward = running_op_name();  // "seed" outside any backward closure
    detail::check_finite(value, in_backward == "seed" ? std::string("the forward of op '") + op.name + "'"
                                                      : "the backward of op '" + in_backward + "' (its step '" +
                                                            op.name + "')");
  }
  bool any_requires_grad = false, from_sweep = false;
  for (std::size_t i = 0; i < count; ++i) {
    if (!inputs[i].defined()) throw GraphError(std::string(op.name) + ": input " + std::to_string(i) + " is empty");
    any_requires_grad = any_requires_grad || inputs[i].requires_grad();
    from_sweep = from_sweep || inputs[i].node().made_by_sweep;
  }
  auto node = std::allocate_shared<Node<T>>(PoolAllocator<Node<T>>(), std::move(value));
  if (!any_requires_grad || !grad_enabled()) {  // a constant
    node->made_by_sweep = from_sweep;  // so that differentiating it says why it cannot be
    return Variable<T>(std::move(node));
  }
  node->requires_grad = true;
  node->op = &op;
  for (std::size_t i = 0; i < count; ++i) node->inputs.push_back(inputs[i].node_ptr());
  node->backward = std::move(backward);
  node->constants[0] = constants.first;
  node->constants[1] = constants.second;
  Tape<T>::current().push(node);
  return Variable<T>(std::move(node));
}

template <class T>
Variable<T> record(const OpInfo& op, Array<T>&& value, std::initializer_list<Variable<T>> inputs,
                   BackwardFn<T> backward, OpConstants constants) {
  return record_inputs(op, std::move(value), inputs.begin(), inputs.size(), std::move(backward), constants);
}

template <class T>
Variable<T> record(const OpInfo& op, Array<T>&& value, const std::vector<Variable<T>>& inputs,
                   BackwardFn<T> backward, OpConstants constants) {
  return record_inputs(op, std::move(value), inputs.data(), inputs.size(), std::move(backward), constants);
}

namespace {

template <class T>
std::string released_message(const Node<T>& node) {
  return std::string("reached a value made by op '") + node.op->name +
         "' whose graph was released by an earlier backward() or grad(); pass retain_graph = true to the first "
         "one to differentiate the same graph twice";
}

// dC/d(node) += gradient, with the gradient already of the node's shape.
template <class T>
void add_adjoint(Sweep<T>& sweep, const NodePtr<T>& node, Variable<T>&& gradient) {
  if (!node->adjoint) {
    node->adjoint = gradient.node_ptr();
    sweep.touched.push_back(node.get());
    if (!node->is_leaf()) ++sweep.pending;
  } else if (!grad_enabled() && node->adjoint.use_count() == 1) {
    xt::noalias(node->adjoint->value) += gradient.value();  // not shared with anything: add in place
  } else {
    node->adjoint = add(Variable<T>(node->adjoint), gradient).node_ptr();
  }
}

template <class T>
void check_gradient(const Node<T>& input, const Array<T>& gradient) {
  if (!anomaly_detection_enabled()) return;
  std::string what = std::string("the backward of op '") + running_op_name() + "' (gradient for an input of shape " +
                     to_string(input.value.shape()) + ")";
  detail::check_finite(gradient, what);
}

// An input changed in place (data()) after the op used it would give a gradient
// computed from the new value: refuse, naming the op and the input.
template <class T>
void check_versions(const Node<T>& node, const std::string& caller) {
  for (std::size_t i = 0; i < node.inputs.size(); ++i) {
    const Node<T>& input = *node.inputs[i];
    if (input.version != node.inputs.recorded_version(i))
      throw GraphError(caller + ": input " + std::to_string(i) + " of op '" + node.op->name + "' (shape " +
                       to_string(input.value.shape()) + ") was changed in place through data() after the op used it; "
                       "compute the forward pass again after changing it");
  }
}

template <class T>
void finish_gradient(Node<T>& node, bool keep_all_grads) {
  if (keep_all_grads && !node.retains_grad) {  // teaching mode: as retain_grad() on every value
    node.retains_grad = true;
    node.extra();
  }
  if (!node.extras) return;
  auto& extra = *node.extras;
  for (auto& hook : extra.hooks) hook(node.adjoint->value);
  if (node.retains_grad) {
    if (extra.has_retained_grad)
      extra.retained_grad += node.adjoint->value;
    else
      extra.retained_grad = node.adjoint->value;
    extra.has_retained_grad = true;
  }
}

// Marks (Node::needed = id) the nodes on a path from the outputs to a target:
// the sweep then computes nothing else. Iterative, post-order.
template <class T>
void mark_paths(const std::vector<NodePtr<T>>& outputs, std::uint32_t id) {
  std::vector<std::pair<Node<T>*, std::size_t>> stack;  // node, next input to visit
  for (const auto& out : outputs) {
    if (out->visited == id) continue;
    out->visited = id;
    stack.push_back({out.get(), 0});
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next < node->inputs.size()) {
        Node<T>* input = node->inputs[next++].get();
        if (input->requires_grad && input->visited != id) {
          input->visited = id;
          stack.push_back({input, 0});
        }
        continue;
      }
      // A released node's inputs are gone: keep it, so the sweep reaches it and says so.
      bool on_path = node->needed == id || (node->released && !node->is_leaf());
      for (auto& input : node->inputs) on_path = on_path || input->needed == id;
      if (on_path) node->needed = id;
      stack.pop_back();
    }
  }
}

// A leaf's gradient is complete in a sweep once every op on the swept graph that uses it
// has run its closure: count those uses, for the leaves with hooks (DataParallel's
// gradient hooks start communication there, while the sweep goes on).
template <class T>
void count_hooked_leaf_uses(Sweep<T>& sweep, const std::vector<NodePtr<T>>& roots) {
  const std::uint32_t mark = ++sweep_counter;
  std::vector<Node<T>*> stack;
  for (const auto& root : roots)
    if (root->visited != mark) root->visited = mark, stack.push_back(root.get());
  while (!stack.empty()) {
    Node<T>* node = stack.back();
    stack.pop_back();
    for (auto& input : node->inputs) {
      if (!input->requires_grad) continue;
      if (input->is_leaf() && input->extras && !input->extras->hooks.empty()) ++sweep.hooked_leaf_uses[input.get()];
      if (input->visited != mark) input->visited = mark, stack.push_back(input.get());
    }
  }
}

constexpr std::size_t kHooksRan = std::size_t(-1);

template <class T>
void run_leaf_hooks(Sweep<T>& sweep, Node<T>& leaf) {
  sweep.hooked_leaf_uses[&leaf] = kHooksRan;
  for (auto& hook : leaf.extras->hooks) hook(leaf.adjoint->value);
}

// After `node`'s closure: the hooks of the leaves whose gradient it completed.
template <class T>
void leaf_uses_done(Sweep<T>& sweep, Node<T>& node) {
  for (auto& input : node.inputs) {
    auto found = sweep.hooked_leaf_uses.find(input.get());
    if (found == sweep.hooked_leaf_uses.end() || found->second == kHooksRan) continue;
    if (--found->second == 0 && input->adjoint) run_leaf_hooks(sweep, *input);
  }
}

// At the end of the sweep, the hooked leaves still waiting (a use that passed no gradient, a root).
template <class T>
void remaining_leaf_hooks(Sweep<T>& sweep) {
  for (Node<T>* node : sweep.touched)
    if (node->is_leaf() && node->adjoint && node->extras && !node->extras->hooks.empty()) {
      auto found = sweep.hooked_leaf_uses.find(node);
      if (found == sweep.hooked_leaf_uses.end() || found->second != kHooksRan) run_leaf_hooks(sweep, *node);
    }
}

struct SweepRequest {
  bool create_graph = false;
  bool retain_graph = false;
  bool prune = false;
  bool keep_all_grads = false;
  std::ostream* trace = nullptr;
  const char* caller = "backward";
};

// Runs the sweep from outputs seeded with seeds; `on_done(sweep)` reads the
// results before the adjoints are cleared. Leaves every node as it found it
// when anything throws.
template <class T, class OnDone>
void sweep_from(const std::vector<Variable<T>>& outputs, std::vector<Variable<T>> seeds,
                const std::vector<NodePtr<T>>& targets, const SweepRequest& request, OnDone&& on_done) {
  const std::string caller = request.caller;
  Tape<T>& tape = Tape<T>::current();
  std::vector<NodePtr<T>> roots;
  std::size_t start = 0;
  bool any_op = false;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    const std::string which = outputs.size() == 1 ? "the output" : "output " + std::to_string(k);
    if (!outputs[k].defined()) throw GraphError(caller + ": " + which + " is an empty Variable");
    const NodePtr<T>& root = outputs[k].node_ptr();
    if (root->released) throw GraphError(caller + ": " + released_message(*root));
    if (!root->requires_grad) {
      if (root->made_by_sweep)
        throw GraphError(caller + ": " + which + " was computed from a gradient made without create_graph = true, "
                         "so it has no graph to differentiate; pass create_graph = true to the grad() or backward() "
                         "that computed it");
      throw GraphError(caller + ": " + which + " does not require a gradient (no input of the ops that made it "
                       "requires one, or it was computed under no_grad)");
    }
    if (!seeds[k].defined()) {
      if (root->value.size() != 1)
        throw GraphError(caller + ": " + which + " has shape " + to_string(root->value.shape()) +
                         "; without a seed it must be a scalar (reduce it with sum or mean, or pass a seed "
                         "gradient of the same shape)");
      seeds[k] = Variable<T>(Array<T>(root->value.shape(), T(1)));  // dC/dC = 1
    } else if (!detail::same_shape(seeds[k].shape(), root->value.shape())) {
      throw ShapeError(caller + ": seed gradient of shape " + to_string(seeds[k].shape()) + " for " + which +
                       " of shape " + to_string(root->value.shape()));
    } else if (!request.create_graph) {
      seeds[k] = Variable<T>(seeds[k].value());  // a private copy, so in-place sums cannot reach the caller's
    }
    if (!root->is_leaf()) {
      if (root->tape_index >= tape.size() || tape.at(root->tape_index) != root)
        throw GraphError(caller + ": " + which + " was not recorded on this thread's tape (each thread has its own)");
      start = std::max(start, root->tape_index);
      any_op = true;
    }
    roots.push_back(root);
  }

  auto& spare = spare_sweeps<T>();
  std::unique_ptr<Sweep<T>> owned = spare.empty() ? std::make_unique<Sweep<T>>() : std::move(spare.back());
  if (!spare.empty()) spare.pop_back();
  struct GiveBack {
    std::vector<std::unique_ptr<Sweep<T>>>& spare;
    std::unique_ptr<Sweep<T>>& owned;
    ~GiveBack() { spare.push_back(std::move(owned)); }
  } give_back{spare, owned};
  Sweep<T>& sweep = *owned;
  sweep.reset(++sweep_counter);
  if (sweep.id == 0) sweep.id = ++sweep_counter;  // 0 means "no mark"
  sweep.listener = std::exchange(next_sweep_listener<T>(), nullptr);  // only this sweep, not those it starts
  struct GiveListenerBack {
    detail::SweepListener<T>* listener;
    ~GiveListenerBack() {
      if (listener) next_sweep_listener<T>() = listener;
    }
  } give_listener_back{sweep.listener};
  if (request.prune) {
    sweep.prune_id = sweep.id;
    for (const auto& target : targets) {
      target->needed = sweep.id;
      if (!target->is_leaf()) sweep.kept.push_back(target.get());
    }
    mark_paths(roots, sweep.id);
  }
  const bool leaf_hooks = !sweep.listener && leaf_hooks_registered<T>();  // a watched sweep runs no hooks
  if (leaf_hooks) count_hooked_leaf_uses(sweep, roots);
  Sweep<T>* outer = current_sweep<T>();
  current_sweep<T>() = &sweep;
  const bool grad_mode_before = grad_enabled();
  set_grad_enabled(request.create_graph);
  tape.begin_sweep();
  auto restore = [&] {
    for (Node<T>* node : sweep.touched) node->adjoint.reset();
    tape.end_sweep();
    set_grad_enabled(grad_mode_before);
    current_sweep<T>() = outer;
  };
  try {
    for (std::size_t k = 0; k < roots.size(); ++k)
      if (!request.prune || roots[k]->needed == sweep.id) {
        add_adjoint(sweep, roots[k], std::move(seeds[k]));
        if (sweep.listener) sweep.listener->seeded(*roots[k], roots[k]->adjoint->value);
      }

    std::unique_ptr<detail::SweepPrinter<T>> printer;
    if (request.trace && any_op)
      printer = std::make_unique<detail::SweepPrinter<T>>(*request.trace, tape, start, *roots[0]);
    for (std::size_t i = start + 1; i-- > 0 && sweep.pending > 0;) {
      NodePtr<T> node = tape.at(i);
      if (!node || !node->adjoint) continue;  // not on a path to an output
      --sweep.pending;
      if (sweep.listener)
        sweep.listener->step(*node, node->adjoint->value);
      else
        finish_gradient(*node, request.keep_all_grads);
      if (printer) printer->step(*node);
      sweep.op = node->op;
      check_versions(*node, caller);
      Backward<T> context(node, Variable<T>(node->adjoint), sweep.prune_id);
      node->backward(context);
      sweep.op = nullptr;
      if (leaf_hooks) leaf_uses_done(sweep, *node);
      sweep.swept.push_back(node.get());
      // An intermediate's adjoint is spent: free it now (peak memory), unless it is asked for.
      if (std::find(sweep.kept.begin(), sweep.kept.end(), node.get()) == sweep.kept.end()) node->adjoint.reset();
    }
    if (sweep.pending > 0)
      throw GraphError(caller + ": " + std::to_string(sweep.pending) + " value(s) on the path from the output were "
                       "not recorded on this thread's tape: a graph cannot span two threads");
    if (printer) printer->finish();
    if (leaf_hooks) remaining_leaf_hooks(sweep);
    on_done(sweep);
  } catch (...) {
    restore();
    throw;
  }
  restore();
  if (!request.retain_graph) {
    // In reverse, from the deepest: releasing a node may free its inputs, which are released by then.
    for (auto it = sweep.swept.rbegin(); it != sweep.swept.rend(); ++it) {
      Node<T>* node = *it;
      node->released = true;
      node->backward = nullptr;
      node->inputs.clear();
    }
    sweep.swept.clear();
    tape.trim();
  }
}

// The gradient a sweep computed: a constant (marked as such) unless create_graph.
template <class T>
NodePtr<T> result_of(const NodePtr<T>& adjoint, bool create_graph) {
  if (!create_graph) adjoint->made_by_sweep = true;
  return adjoint;
}

}  // namespace

template <class T>
void Backward<T>::add_grad(std::size_t i, Variable<T> gradient) {
  if (!needs_grad(i)) return;
  const NodePtr<T>& input = output_->inputs[i];
  if (input->released) throw GraphError(std::string("backward: ") + released_message(*input));
  const Shape& shape = input->value.shape();
  if (!detail::same_shape(gradient.shape(), shape)) {
    if (gradient.dimension() < shape.size()) detail::throw_gradient_shape(shape, gradient.shape());
    gradient = sum_to(gradient, shape);
  }
  check_gradient(*input, gradient.value());
  Sweep<T>& sweep = *current_sweep<T>();
  if (!sweep.listener) {
    add_adjoint(sweep, input, std::move(gradient));
    return;
  }
  const Array<T> contribution = gradient.value();  // copied: the adjoint may be summed into it in place
  add_adjoint(sweep, input, std::move(gradient));
  sweep.listener->added(*output_, i, contribution, input->adjoint->value);
}

template <class T>
bool Backward<T>::add_slice_in_place(std::size_t i, const Variable<T>& gradient, const SliceRegion& region) {
  const NodePtr<T>& input = output_->inputs[i];
  if (grad_enabled() || input->released) return false;  // recorded (create_graph), or add_grad's error
  if (current_sweep<T>()->listener) return false;  // a watched sweep shows each contribution whole
  if (input->adjoint && input->adjoint.use_count() != 1) return false;  // shared: add out of place
  if (region.outer * region.count * region.inner != gradient.size() ||
      region.outer * region.length * region.inner != input->value.size())
    throw std::logic_error("add_grad_slice: a region that does not fit its gradient or input");
  check_gradient(*input, gradient.value());
  if (!input->adjoint) {
    Array<T> zeros = Array<T>::from_shape(input->value.shape());
    std::fill_n(zeros.data(), zeros.size(), T(0));
    detail::place_slice<false>(gradient.value().data(), zeros.data(), region);
    add_adjoint(*current_sweep<T>(), input, Variable<T>(std::move(zeros)));
  } else {
    detail::place_slice<true>(gradient.value().data(), input->adjoint->value.data(), region);
  }
  return true;
}

template <class T>
void Variable<T>::backward(const BackwardOptions<T>& options) const {
  backward(Variable(), options);
}

template <class T>
void Variable<T>::backward(const Variable& seed, const BackwardOptions<T>& options) const {
  node();
  SweepRequest request;
  request.create_graph = options.create_graph;
  request.retain_graph = options.retain_graph.value_or(options.create_graph || options.keep_all_grads);
  request.keep_all_grads = options.keep_all_grads;
  request.trace = options.trace;
  std::vector<NodePtr<T>> targets;
  for (std::size_t k = 0; k < options.inputs.size(); ++k) {
    const Variable& input = options.inputs[k];
    if (!input.defined() || !input.is_leaf() || !input.requires_grad())
      throw GraphError("backward: inputs[" + std::to_string(k) + "] must be a leaf that requires a gradient" +
                       (input.defined() && !input.is_leaf() ? " (use autodiff::grad for values computed by ops)" : ""));
    targets.push_back(input.node_ptr());
  }
  request.prune = !targets.empty();
  sweep_from<T>({*this}, {seed}, targets, request, [&](Sweep<T>& sweep) {
    for (Node<T>* node : sweep.touched) {
      if (!node->is_leaf() || !node->requires_grad || !node->adjoint) continue;
      if (request.prune && node->needed != sweep.id) continue;
      // Two leaves can be handed the same gradient array (the backward of a + b passes g to both):
      // each gets its own copy, as PyTorch's AccumulateGrad clones a gradient it cannot steal, so an
      // in-place change to one leaf's gradient (clip_grad_norm) does not reach the other's.
      if (!node->grad && !request.create_graph && node->adjoint.use_count() > 1)
        node->grad = result_of(Variable<T>(Array<T>(node->adjoint->value)).node_ptr(), false);
      else if (!node->grad)
        node->grad = result_of(node->adjoint, request.create_graph);
      else if (!request.create_graph && node->grad.use_count() == 1 && !node->grad->requires_grad)
        xt::noalias(node->grad->value) += node->adjoint->value;
      else
        node->grad = result_of(add(Variable(node->grad), Variable(node->adjoint)).node_ptr(), request.create_graph);
    }
  });
}

template <class T>
std::vector<Variable<T>> grad(const std::vector<Variable<T>>& outputs, const std::vector<Variable<T>>& inputs,
                              const GradOptions<T>& options) {
  if (outputs.empty()) throw GraphError("grad: no outputs given");
  if (!options.grad_outputs.empty() && options.grad_outputs.size() != outputs.size())
    throw GraphError("grad: " + std::to_string(options.grad_outputs.size()) + " grad_outputs for " +
                     std::to_string(outputs.size()) + " outputs");
  std::vector<NodePtr<T>> targets;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].defined()) throw GraphError("grad: input " + std::to_string(k) + " is an empty Variable");
    if (!inputs[k].requires_grad())
      throw GraphError("grad: input " + std::to_string(k) + " (shape " + to_string(inputs[k].shape()) +
                       ") does not require a gradient");
    targets.push_back(inputs[k].node_ptr());
  }
  SweepRequest request;
  request.create_graph = options.create_graph;
  request.retain_graph = options.retain_graph.value_or(options.create_graph);
  request.prune = true;
  request.caller = "grad";
  std::vector<Variable<T>> seeds = options.grad_outputs;
  seeds.resize(outputs.size());
  std::vector<Variable<T>> results(inputs.size());
  sweep_from<T>(outputs, seeds, targets, request, [&](Sweep<T>&) {
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      if (targets[k]->adjoint) {
        results[k] = Variable<T>(result_of(targets[k]->adjoint, request.create_graph));
      } else if (!options.allow_unused) {  // thrown before anything is released
        throw GraphError("grad: input " + std::to_string(k) + " (shape " + to_string(inputs[k].shape()) +
                         ") is not used to compute the outputs; pass allow_unused = true to get an empty Variable "
                         "for it (or materialize_grads = true for zeros)");
      } else if (options.materialize_grads) {
        results[k] = Variable<T>(Array<T>(xt::zeros<T>(inputs[k].shape())));
      }
    }
  });
  return results;
}

// ---- broadcasting ------------------------------------------------------------

Shape broadcast_shape(const OpInfo& op, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    // Align from the right, as NumPy does.
    std::size_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    std::size_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(std::string(op.name) + ": shapes " + to_string(a) + " and " + to_string(b) +
                       " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::size_t normalize_axis(const OpInfo& op, long axis, std::size_t rank) {
  const long r = static_cast<long>(rank);
  if (axis < -r || axis >= r)
    throw ShapeError(std::string(op.name) + ": axis " + std::to_string(axis) + " is out of range for a tensor of rank " +
                     std::to_string(rank));
  return static_cast<std::size_t>(axis < 0 ? axis + r : axis);
}

// ---- explicit instantiations -------------------------------------------------

#define WENGERT_INSTANTIATE(T)                                                                                \
  template class Variable<T>;                                                                                 \
  template std::ostream& operator<<(std::ostream&, const Variable<T>&);                                       \
  template Variable<T> record(const OpInfo&, Array<T>&&, std::initializer_list<Variable<T>>, BackwardFn<T>,   \
                              OpConstants);                                                                   \
  template Variable<T> record(const OpInfo&, Array<T>&&, const std::vector<Variable<T>>&, BackwardFn<T>,      \
                              OpConstants);                                                                   \
  template class Backward<T>;                                                                                 \
  template class detail::ListenToNextSweep<T>;                                                                \
  template std::vector<Variable<T>> grad(const std::vector<Variable<T>>&, const std::vector<Variable<T>>&,     \
                                         const GradOptions<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
