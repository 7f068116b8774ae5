#include "memory.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>

namespace autodiff {

namespace {

// Size classes 64 B, 128 B, ... 4 MiB; larger blocks always go to the system.
constexpr std::size_t kSmallestClassLog2 = 6;
constexpr std::size_t kClasses = 17;
constexpr std::size_t kLargestClass = std::size_t(1) << (kSmallestClassLog2 + kClasses - 1);
// What one thread may keep cached: per class a few thousand blocks (a tape of
// tiny ops), and in all 256 MiB (a large network's step).
constexpr std::size_t kMaxBlocksPerClass = 8192;
constexpr std::size_t kMaxCachedBytes = std::size_t(256) << 20;

constexpr std::size_t class_of(std::size_t bytes) {
  const std::size_t rounded = std::bit_ceil(std::max<std::size_t>(bytes, std::size_t(1) << kSmallestClassLog2));
  return std::size_t(std::countr_zero(rounded)) - kSmallestClassLog2;
}
constexpr std::size_t class_bytes(std::size_t size_class) { return std::size_t(1) << (size_class + kSmallestClassLog2); }
static_assert(class_of(1) == 0 && class_of(64) == 0 && class_of(65) == 1 && class_of(kLargestClass) == kClasses - 1);
static_assert(class_bytes(class_of(100)) == 128);

void* system_allocate(std::size_t bytes) {
  try {
    return ::operator new(bytes, std::align_val_t(detail::kBufferAlignment));
  } catch (const std::bad_alloc&) {
    throw OutOfMemory(bytes);
  }
}
void system_deallocate(void* block) noexcept { ::operator delete(block, std::align_val_t(detail::kBufferAlignment)); }

struct FreeBlock {
  FreeBlock* next;
};

struct Cache {
  FreeBlock* head[kClasses] = {};
  std::size_t count[kClasses] = {};
  PoolStatistics statistics;

  void release() {
    for (std::size_t c = 0; c < kClasses; ++c) {
      while (head[c]) {
        FreeBlock* block = head[c];
        head[c] = block->next;
        system_deallocate(block);
      }
      count[c] = 0;
    }
    statistics.cached_bytes = 0;
  }
  ~Cache();
};

// Set once this thread's cache is gone (thread exit, or the end of the program
// for the main thread): blocks freed after that, e.g. by a static Variable,
// go straight back to the system. A bool needs no destructor, so it outlives the cache.
thread_local bool cache_destroyed = false;
thread_local Cache cache;

Cache::~Cache() {
  release();
  cache_destroyed = true;
}

}  // namespace

OutOfMemory::OutOfMemory(std::size_t bytes) {
  std::snprintf(message_, sizeof message_,
                "out of memory: an array of %zu bytes (%.3g GiB) could not be allocated", bytes,
                double(bytes) / double(std::size_t(1) << 30));
}

namespace detail {

#ifdef WENGERT_NO_POOL
// Sanitizer builds: every block to and from the system, so that AddressSanitizer
// sees each use after free.
void* allocate_block(std::size_t bytes) { return system_allocate(std::max<std::size_t>(bytes, 1)); }
void deallocate_block(void* block, std::size_t) noexcept { system_deallocate(block); }
#else
void* allocate_block(std::size_t bytes) {
  if (bytes > kLargestClass || cache_destroyed) return system_allocate(bytes);
  const std::size_t c = class_of(bytes);
  Cache& local = cache;
  if (FreeBlock* block = local.head[c]) {
    local.head[c] = block->next;
    --local.count[c];
    local.statistics.cached_bytes -= class_bytes(c);
    ++local.statistics.reused;
    return block;
  }
  ++local.statistics.fresh;
  return system_allocate(class_bytes(c));
}

void deallocate_block(void* block, std::size_t bytes) noexcept {
  if (!block) return;
  if (bytes > kLargestClass || cache_destroyed) return system_deallocate(block);
  const std::size_t c = class_of(bytes);
  Cache& local = cache;
  if (local.count[c] >= kMaxBlocksPerClass || local.statistics.cached_bytes + class_bytes(c) > kMaxCachedBytes)
    return system_deallocate(block);
  auto* free_block = static_cast<FreeBlock*>(block);
  free_block->next = local.head[c];
  local.head[c] = free_block;
  ++local.count[c];
  local.statistics.cached_bytes += class_bytes(c);
}
#endif

}  // namespace detail

PoolStatistics pool_statistics() { return cache_destroyed ? PoolStatistics{} : cache.statistics; }

void release_pool() {
  if (!cache_destroyed) cache.release();
}

}  // namespace autodiff
