// wengert's own threads, for kernels that split a batch (the direct convolution):
// a pool of autodiff::num_threads() - 1 workers beside the calling thread, made
// once and reused (a thread costs tens of microseconds to start, as much as a
// LeNet layer's share of a batch).
#pragma once

#include <cstddef>
#include <functional>

namespace autodiff::detail {

// Runs body(part) for part in [0, parts), on up to `parts` threads (the calling
// thread among them), and returns when every part is done. Inside a part (or
// when another thread is using the pool) the parts run one after another on the
// calling thread. Parts must not touch the tape or allocate arrays that outlive
// them: they work on buffers the caller made. An exception thrown by a part is
// rethrown here, once all parts have finished.
void parallel_for(std::size_t parts, const std::function<void(std::size_t part)>& body);

// How many parts a kernel should split into: autodiff::num_threads() (or the
// override below), at most `items`.
std::size_t parallel_parts(std::size_t items);
// Sets the thread count for wengert's own kernels alone, leaving OpenBLAS's as it
// is (for tests, and ThreadSanitizer, which does not see OpenBLAS's threads); 0
// goes back to autodiff::num_threads().
void set_parallel_threads(std::size_t threads);

}  // namespace autodiff::detail
