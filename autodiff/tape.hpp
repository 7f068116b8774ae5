// The tape (Wengert list): every op on a value that requires a gradient is
// appended here in evaluation order, so the reverse of the tape is a valid
// order for the backward sweep. One tape per thread and element type.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "variable.hpp"

namespace autodiff {

template <class T>
class Tape {
 public:
  // This thread's tape.
  static Tape& current();

  void push(const NodePtr<T>& node);
  std::size_t size() const { return entries_.size(); }
  // Entry i, or nullptr if nothing refers to that value any more (it cannot
  // then lie on the path to anything that could call backward).
  NodePtr<T> at(std::size_t i) const { return entries_[i].lock(); }
  // Frees every recorded node's inputs and backward closure and empties the
  // tape: what backward() does at its end unless retain_graph is set.
  void release();

 private:
  void drop_expired_entries();
  // Weak references: a forward pass that is never differentiated frees its
  // nodes as soon as the user drops them, like PyTorch's graph.
  std::vector<std::weak_ptr<Node<T>>> entries_;
  std::size_t compact_at_ = 4096;
};

extern template class Tape<float>;
extern template class Tape<double>;

// ---- gradient mode ----------------------------------------------------------
// Whether ops record on the tape (per thread). Off inside a no_grad scope.
bool grad_enabled();

// Inside this scope nothing is recorded (evaluation, optimizer updates):
//   { autodiff::no_grad scope; auto y = model(x); }
class no_grad {
 public:
  no_grad();
  ~no_grad();
  no_grad(const no_grad&) = delete;
  no_grad& operator=(const no_grad&) = delete;

 private:
  bool previous_;
};

// ---- anomaly detection ------------------------------------------------------
// When on (per thread), every op checks its output in the forward pass, and
// every gradient it produces in the backward sweep, for NaN and Inf, and
// throws an AnomalyError naming the op. Costs a pass over each tensor.
bool anomaly_detection_enabled();
void set_anomaly_detection(bool enabled);

// Scope that turns anomaly detection on:  { autodiff::detect_anomaly scope; ... }
class detect_anomaly {
 public:
  detect_anomaly();
  ~detect_anomaly();
  detect_anomaly(const detect_anomaly&) = delete;
  detect_anomaly& operator=(const detect_anomaly&) = delete;

 private:
  bool previous_;
};

}  // namespace autodiff
