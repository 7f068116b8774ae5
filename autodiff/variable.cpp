// Variable, the recording of ops, and the reverse sweep.
#include "variable.hpp"

#include <cmath>
#include <ostream>
#include <sstream>

#include <xtensor/xio.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xreducer.hpp>
#include <xtensor/xtensor.hpp>

#include "detail/kernels.hpp"
#include "op.hpp"
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
  if (n.is_leaf()) return n.has_grad;
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
  if (!n.has_grad) throw GraphError("grad(): no gradient yet: call backward() first (or it was zeroed)");
  return n.grad;
}

template <class T>
void Variable<T>::zero_grad() {
  Node<T>& n = node();
  n.has_grad = false;  // the buffer is kept and overwritten by the next backward
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
Variable<T>& Variable<T>::register_hook(GradHook<T> hook) {
  if (node().is_leaf())
    throw GraphError("register_hook: this value is a leaf; read its grad() after backward()");
  node_->extra().hooks.push_back(std::move(hook));
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

namespace {

// The op whose backward closure is running, for error messages.
thread_local const OpInfo* op_in_backward = nullptr;

struct OpInBackwardScope {
  ~OpInBackwardScope() { op_in_backward = nullptr; }
};

template <class T>
void finish_gradient(Node<T>& node) {
  if (!node.extras) return;
  auto& extra = *node.extras;
  for (auto& hook : extra.hooks) hook(node.grad);
  if (node.retains_grad) {
    if (extra.has_retained_grad)
      extra.retained_grad += node.grad;
    else
      extra.retained_grad = node.grad;
    extra.has_retained_grad = true;
  }
}

template <class T>
void run_backward(const NodePtr<T>& root_ptr, const Array<T>* seed, const BackwardOptions& options) {
  Node<T>& root = *root_ptr;
  if (root.released)
    throw GraphError(std::string("backward: the tape that recorded this value (op '") + root.op->name +
                     "') was released by an earlier backward(); pass retain_graph = true to the first "
                     "backward() to differentiate the same graph twice");
  if (!root.requires_grad)
    throw GraphError("backward: this value does not require a gradient (no input of the ops that made it "
                     "requires one, or it was computed under no_grad)");
  if (seed && !detail::same_shape(seed->shape(), root.value.shape()))
    throw ShapeError("backward: seed gradient of shape " + to_string(seed->shape()) + " for a value of shape " +
                     to_string(root.value.shape()));
  if (!seed && root.value.size() != 1)
    throw GraphError("backward: the value has shape " + to_string(root.value.shape()) +
                     "; backward() without a seed needs a scalar (reduce it with sum or mean, or pass a seed "
                     "gradient of the same shape)");

  Tape<T>& tape = Tape<T>::current();
  if (!root.is_leaf() && (root.tape_index >= tape.size() || tape.at(root.tape_index) != root_ptr))
    throw GraphError("backward: this value was not recorded on this thread's tape (each thread has its own)");

  if (seed)
    accumulate_grad(root, *seed);
  else
    accumulate_grad(root, Array<T>(root.value.shape(), T(1)));  // dC/dC = 1
  if (root.is_leaf()) return;

  std::unique_ptr<detail::SweepPrinter<T>> printer;
  if (options.trace) printer = std::make_unique<detail::SweepPrinter<T>>(*options.trace, tape, root.tape_index);

  OpInBackwardScope scope;
  try {
    for (std::size_t i = root.tape_index + 1; i-- > 0;) {
      NodePtr<T> node = tape.at(i);
      if (!node || !node->has_grad) continue;  // not on a path to the root
      finish_gradient(*node);
      if (printer) printer->step(*node);
      op_in_backward = node->op;
      node->backward(*node);
      node->has_grad = false;  // an intermediate's adjoint is spent; free it
      node->grad = empty_array<T>();
    }
  } catch (...) {
    for (std::size_t i = 0; i <= root.tape_index; ++i)
      if (auto node = tape.at(i)) node->has_grad = false;
    throw;
  }
  if (printer) printer->finish();
  if (!options.retain_graph) tape.release();
}

}  // namespace

template <class T>
void Variable<T>::backward(const BackwardOptions& options) const {
  run_backward<T>(node_ptr_checked(), nullptr, options);
}

template <class T>
void Variable<T>::backward_seeded(const Array<T>& seed, const BackwardOptions& options) const {
  run_backward<T>(node_ptr_checked(), &seed, options);
}

template <class T>
const NodePtr<T>& Variable<T>::node_ptr_checked() const {
  node();
  return node_;
}

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

template <class T>
void after_accumulate(Node<T>& input) {
  if (input.released)
    throw GraphError(std::string("backward: reached a value made by op '") + input.op->name +
                     "' whose tape was released by an earlier backward(); pass retain_graph = true to keep it");
  if (anomaly_detection_enabled()) {
    std::string what = std::string("the backward of op '") + (op_in_backward ? op_in_backward->name : "seed") +
                       "' (gradient for an input of shape " + to_string(input.value.shape()) + ")";
    check_finite(input.grad, what);
  }
}

void throw_gradient_shape(const Shape& input_shape, const Shape& gradient_shape) {
  throw ShapeError(std::string("backward of op '") + (op_in_backward ? op_in_backward->name : "seed") +
                   "': gradient of shape " + to_string(gradient_shape) +
                   " cannot be summed to its input's shape " + to_string(input_shape));
}

}  // namespace detail

template <class T>
static Variable<T> record_inputs(const OpInfo& op, Array<T>&& value, const Variable<T>* inputs, std::size_t count,
                                 BackwardFn<T>&& backward) {
  if (anomaly_detection_enabled())
    detail::check_finite(value, std::string("the forward of op '") + op.name + "'");
  bool any_requires_grad = false;
  for (std::size_t i = 0; i < count; ++i) {
    if (!inputs[i].defined()) throw GraphError(std::string(op.name) + ": input " + std::to_string(i) + " is empty");
    any_requires_grad = any_requires_grad || inputs[i].requires_grad();
  }
  auto node = std::allocate_shared<Node<T>>(PoolAllocator<Node<T>>(), std::move(value));
  if (!any_requires_grad || !grad_enabled()) return Variable<T>(std::move(node));  // a constant
  node->requires_grad = true;
  node->op = &op;
  for (std::size_t i = 0; i < count; ++i) node->inputs.push_back(inputs[i].node_ptr());
  node->backward = std::move(backward);
  Tape<T>::current().push(node);
  return Variable<T>(std::move(node));
}

template <class T>
Variable<T> record(const OpInfo& op, Array<T>&& value, std::initializer_list<Variable<T>> inputs,
                   BackwardFn<T> backward) {
  return record_inputs(op, std::move(value), inputs.begin(), inputs.size(), std::move(backward));
}

template <class T>
Variable<T> record(const OpInfo& op, Array<T>&& value, const std::vector<Variable<T>>& inputs,
                   BackwardFn<T> backward) {
  return record_inputs(op, std::move(value), inputs.data(), inputs.size(), std::move(backward));
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

template <class T>
Array<T> sum_to(const Array<T>& gradient, const Shape& shape) {
  const Shape& from = gradient.shape();
  if (detail::same_shape(from, shape)) return gradient;
  if (from.size() < shape.size()) detail::throw_gradient_shape(shape, from);
  const std::size_t lead = from.size() - shape.size();
  Array<T> summed = gradient;
  for (std::size_t i = 0; i < from.size(); ++i) {
    const bool broadcast_axis = i < lead || (shape[i - lead] == 1 && from[i] != 1);
    if (broadcast_axis)
      summed = detail::sum_keepdims(summed, i);
    else if (shape[i - lead] != from[i])
      detail::throw_gradient_shape(shape, from);
  }
  summed.reshape(shape);
  return summed;
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
  template Variable<T> record(const OpInfo&, Array<T>&&, std::initializer_list<Variable<T>>, BackwardFn<T>);  \
  template Variable<T> record(const OpInfo&, Array<T>&&, const std::vector<Variable<T>>&, BackwardFn<T>);     \
  template Array<T> sum_to(const Array<T>&, const Shape&);                                                    \
  template void detail::after_accumulate(Node<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
