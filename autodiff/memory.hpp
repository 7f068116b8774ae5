// Memory for arrays and tape nodes, recycled per thread.
//
// A training step makes and frees the same buffers every time: each op's
// value, each gradient, each tape node. malloc's fast path keeps only a few
// blocks per size (and aligned allocation skips it entirely), so a chain of
// ops paid half its time in malloc/free. Here freed blocks go to a free list
// of this thread, one per power-of-two size class, and the next allocation of
// that class takes one back: a few instructions instead of a few hundred.
// What the lists may keep is capped, so memory stays bounded.
#pragma once

#include <cstddef>
#include <new>

#include <xtensor/xarray.hpp>

namespace autodiff {

// What an allocation that the system refuses throws: a std::bad_alloc that says how much was asked for.
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(std::size_t bytes);
  const char* what() const noexcept override { return message_; }

 private:
  char message_[160];
};

namespace detail {
// A block of at least `bytes` bytes, aligned to kBufferAlignment (enough for
// any SIMD load, so xtensor may use aligned loads on it).
inline constexpr std::size_t kBufferAlignment = 64;
void* allocate_block(std::size_t bytes);
void deallocate_block(void* block, std::size_t bytes) noexcept;
}  // namespace detail

// Statistics of this thread's free lists (for tests and benchmarks).
struct PoolStatistics {
  std::size_t cached_bytes = 0;  // held in the free lists, ready for reuse
  std::size_t reused = 0;        // allocations served from a free list
  std::size_t fresh = 0;         // allocations that went to the system
};
PoolStatistics pool_statistics();
// Returns every cached block of this thread to the system.
void release_pool();

// The allocator of every autodiff array (and of tape nodes).
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() noexcept = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(detail::allocate_block(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { detail::deallocate_block(p, n * sizeof(T)); }

  template <class U>
  bool operator==(const PoolAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const PoolAllocator<U>&) const noexcept { return false; }
};

// The array type of a Variable's value and gradient: an xt::xarray whose
// buffer comes from the pool. It converts to and from any xt::xarray<T>.
template <class T>
using Array = xt::xarray<T, xt::layout_type::row_major, PoolAllocator<T>>;
using Shape = xt::xarray<float>::shape_type;

}  // namespace autodiff
