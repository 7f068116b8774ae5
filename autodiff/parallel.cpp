// The pool of detail/parallel.hpp: workers sleep on a condition variable until a
// job's generation changes, take parts by an atomic counter, and the last part
// to finish wakes the caller.
#include "detail/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "linalg.hpp"

namespace autodiff::detail {

namespace {

thread_local bool inside_part = false;
std::atomic<std::size_t> threads_override{0};

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  // false: the pool is busy (another thread's job): run the parts inline
  bool run(std::size_t parts, const std::function<void(std::size_t)>& body) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    grow(parts - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      parts_ = parts;
      next_ = 0;
      unfinished_ = parts;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return unfinished_ == 0; });
    body_ = nullptr;
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  void grow(std::size_t workers) {
    while (workers_.size() < workers) workers_.emplace_back([this, seen = generation_]() mutable { loop(seen); });
  }

  void loop(std::size_t seen) {
    inside_part = true;  // a worker's own parallel_for calls run inline
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      work();
    }
  }

  // Takes parts until none is left; the last one to finish wakes the caller.
  void work() {
    const bool was_inside = inside_part;
    inside_part = true;
    for (;;) {
      std::size_t part;
      const std::function<void(std::size_t)>* body;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (body_ == nullptr || next_ >= parts_) break;
        part = next_++;
        body = body_;
      }
      std::exception_ptr error;
      try {
        (*body)(part);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (error && !error_) error_ = error;
      if (--unfinished_ == 0) done_.notify_one();
    }
    inside_part = was_inside;
  }

  std::mutex busy_;   // one job at a time
  std::mutex mutex_;  // guards everything below
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  const std::function<void(std::size_t)>* body_ = nullptr;
  std::size_t parts_ = 0, next_ = 0, unfinished_ = 0, generation_ = 0;
  std::exception_ptr error_;
  bool stopping_ = false;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

void parallel_for(std::size_t parts, const std::function<void(std::size_t)>& body) {
  if (parts == 0) return;
  if (parts == 1 || inside_part || !pool().run(parts, body))
    for (std::size_t part = 0; part < parts; ++part) body(part);
}

std::size_t parallel_parts(std::size_t items) {
  const std::size_t set = threads_override;
  const std::size_t threads = set > 0 ? set : std::size_t(std::max(1, num_threads()));
  return std::max<std::size_t>(1, std::min(items, threads));
}

void set_parallel_threads(std::size_t threads) { threads_override = threads; }

}  // namespace autodiff::detail
