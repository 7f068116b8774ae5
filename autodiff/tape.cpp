#include "tape.hpp"

#include <algorithm>

namespace autodiff {

template <class T>
Tape<T>& Tape<T>::current() {
  thread_local Tape<T> tape;
  return tape;
}

template <class T>
void Tape<T>::push(const NodePtr<T>& node) {
  if (entries_.size() >= compact_at_ && sweeps_ == 0) drop_expired_entries();
  node->tape_index = entries_.size();
  entries_.emplace_back(node);
}

template <class T>
void Tape<T>::drop_expired_entries() {
  // Keeps recording order (still a topological order) and renumbers the live nodes.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (auto node = entries_[i].lock(); node && !node->released) {
      node->tape_index = kept;
      if (kept != i) entries_[kept] = std::move(entries_[i]);  // (a self-move would empty the entry)
      ++kept;
    }
  }
  entries_.resize(kept);
  compact_at_ = std::max<std::size_t>(4096, 2 * kept);
}

template <class T>
void Tape<T>::release() {
  for (auto& entry : entries_) {
    if (auto node = entry.lock()) {
      node->inputs.clear();
      node->backward = nullptr;
      node->released = true;
    }
  }
  entries_.clear();
}

template <class T>
void Tape<T>::trim() {
  if (sweeps_ > 0) return;
  while (!entries_.empty()) {
    auto node = entries_.back().lock();
    if (node && !node->released) break;
    entries_.pop_back();
  }
}

template class Tape<float>;
template class Tape<double>;

namespace {
thread_local bool grad_mode = true;
thread_local bool anomaly_mode = false;
}  // namespace

bool grad_enabled() { return grad_mode; }
void set_grad_enabled(bool enabled) { grad_mode = enabled; }
no_grad::no_grad() : previous_(grad_mode) { grad_mode = false; }
no_grad::~no_grad() { grad_mode = previous_; }
enable_grad::enable_grad() : previous_(grad_mode) { grad_mode = true; }
enable_grad::~enable_grad() { grad_mode = previous_; }

bool anomaly_detection_enabled() { return anomaly_mode; }
void set_anomaly_detection(bool enabled) { anomaly_mode = enabled; }
detect_anomaly::detect_anomaly() : previous_(anomaly_mode) { anomaly_mode = true; }
detect_anomaly::~detect_anomaly() { anomaly_mode = previous_; }

}  // namespace autodiff
