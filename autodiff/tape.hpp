// The tape (Wengert list): every op on a value that requires a gradient is
// appended here in evaluation order, so the reverse of the tape is a valid
// order for the backward sweep. One tape per thread and element type; several
// graphs (losses, gradients kept for later) live on it side by side.
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
  // Releases every graph on this thread's tape (their inputs and closures)
  // and empties it: a fresh start.
  void release();
  // Drops entries at the end whose values are gone or whose graph a sweep
  // released (after a training step's backward(), that is all of them).
  void trim();
  // A sweep reads entries by index: no compaction renumbers them meanwhile
  // (ops recorded by a create_graph sweep are appended after them).
  void begin_sweep() { ++sweeps_; }
  void end_sweep() { --sweeps_; }

 private:
  void drop_expired_entries();
  // Weak references: a forward pass that is never differentiated frees its
  // nodes as soon as the user drops them, like PyTorch's graph.
  std::vector<std::weak_ptr<Node<T>>> entries_;
  std::size_t compact_at_ = 4096;
  int sweeps_ = 0;
};

extern template class Tape<float>;
extern template class Tape<double>;

// ---- gradient mode ----------------------------------------------------------
// Whether ops record on the tape (per thread). Off inside a no_grad scope,
// and during a backward sweep without create_graph.
bool grad_enabled();
void set_grad_enabled(bool enabled);

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

// Inside this scope ops record again, even within a no_grad scope (PyTorch's enable_grad).
class enable_grad {
 public:
  enable_grad();
  ~enable_grad();
  enable_grad(const enable_grad&) = delete;
  enable_grad& operator=(const enable_grad&) = delete;

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
