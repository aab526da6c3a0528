#include "vm/base/arena.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstring>

// Whether AddressSanitizer is on: gcc defines __SANITIZE_ADDRESS__, clang
// (14) only answers its feature test.
#if defined(__SANITIZE_ADDRESS__)
#define PICKLEVM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PICKLEVM_ASAN 1
#endif
#endif
#if defined(PICKLEVM_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace picklevm {

namespace {

// Under AddressSanitizer every block comes from new[], which ASan guards
// with redzones; mapped blocks would hide overruns of big allocations.
#if defined(PICKLEVM_ASAN)
constexpr bool kAddressSanitizer = true;
#define PICKLEVM_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define PICKLEVM_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
constexpr bool kAddressSanitizer = false;
#define PICKLEVM_POISON(p, n) ((void)(p), (void)(n))
#define PICKLEVM_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

// Blocks smaller than a huge page that one graph freed, kept for the next
// graph this thread builds.  A service decoding one small model after
// another would otherwise get every block's pages fresh from the kernel,
// zeroed, at a page fault each (glibc maps and unmaps blocks this size
// anew each time): measured, a third of a RandomForest's decode.  Bounded
// (kCacheBytes, kCacheSlots per thread); the mapped blocks of a big graph
// (2 MiB and up) go back to the system as before.
//
// A cached block is poisoned for AddressSanitizer until it is taken again,
// and a taken block is filled with garbage in the hardened (fuzzing,
// sanitizer, debug) builds, so that nothing comes to depend on fresh pages
// being zero.  (Under ASan every block is new[]'d and may be cached; reuse
// skips ASan's quarantine, so a pointer kept from an earlier graph into a
// reused block would go unnoticed -- nothing keeps one: a graph is freed
// whole.)
constexpr size_t kCacheBytes = size_t{4} << 20;
constexpr int kCacheSlots = 16;

struct BlockCache {
  struct Slot {
    char* data;
    size_t size;
  };
  Slot slots[kCacheSlots];
  int count = 0;
  size_t bytes = 0;
  ~BlockCache();
};

// Trivially destructible, so still readable while the thread's cache is
// being destroyed: a graph freed after that (a thread_local graph, say)
// frees its blocks instead of caching them.
thread_local bool cache_gone = false;
thread_local BlockCache cache;

BlockCache::~BlockCache() {
  cache_gone = true;
  for (int i = 0; i < count; ++i) {
    PICKLEVM_UNPOISON(slots[i].data, slots[i].size);
    delete[] slots[i].data;
  }
  count = 0;
}

char* TakeCached(size_t size) {
  if (cache_gone) return nullptr;
  // Newest first: its lines may still be in cache.
  for (int i = cache.count - 1; i >= 0; --i) {
    if (cache.slots[i].size == size) {
      char* data = cache.slots[i].data;
      cache.slots[i] = cache.slots[--cache.count];
      cache.bytes -= size;
      PICKLEVM_UNPOISON(data, size);
#if defined(PICKLEVM_HARDENED) || !defined(NDEBUG)
      std::memset(data, 0xA5, size);
#endif
      return data;
    }
  }
  return nullptr;
}

bool GiveToCache(char* data, size_t size) {
  if (cache_gone || cache.count == kCacheSlots ||
      cache.bytes + size > kCacheBytes) {
    return false;
  }
  PICKLEVM_POISON(data, size);
  cache.slots[cache.count++] = {data, size};
  cache.bytes += size;
  return true;
}

}  // namespace

const char* ArenaBudgetExceeded::what() const noexcept {
  return "the graph's memory budget is used up";
}

size_t Arena::ThreadCachedBytes() { return cache_gone ? 0 : cache.bytes; }

Arena::~Arena() {
  for (const Block& b : blocks_) FreeBlock(b);
}

size_t Arena::MappedSize(size_t size) {
  if (size < kHugeBlock || kAddressSanitizer) return size;
  return (size + kHugeBlock - 1) & ~(kHugeBlock - 1);
}

Arena::Block Arena::NewBlock(size_t size, bool map) {
  if (map && size >= kHugeBlock && !kAddressSanitizer) {
    // Round up to whole huge pages and over-map by one so the block can
    // start on a 2 MiB boundary; the unused head and tail are unmapped.
    size_t want = (size + kHugeBlock - 1) & ~(kHugeBlock - 1);
    size_t span = want + kHugeBlock;
    void* m = mmap(nullptr, span, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED) {
      uintptr_t base = reinterpret_cast<uintptr_t>(m);
      uintptr_t aligned = (base + kHugeBlock - 1) & ~(kHugeBlock - 1);
      if (aligned > base) munmap(m, aligned - base);
      size_t tail = base + span - (aligned + want);
      if (tail > 0) munmap(reinterpret_cast<void*>(aligned + want), tail);
      // Advice only: without THP the block is ordinary pages.
      madvise(reinterpret_cast<void*>(aligned), want, MADV_HUGEPAGE);
      return Block{reinterpret_cast<char*>(aligned), want, true};
    }
    // No address space left for a mapping: new[] reports it as it always
    // has (std::bad_alloc).
  }
  if (char* cached = TakeCached(size)) return Block{cached, size, false};
  return Block{new char[size], size, false};
}

void Arena::FreeBlock(const Block& b) {
  if (b.mapped) {
    munmap(b.data, b.size);
  } else if (!GiveToCache(b.data, b.size)) {
    delete[] b.data;
  }
}

void Arena::ReserveBlockSlot() {
  // Geometric, as push_back's own growth: reserve(size + 1) would copy the
  // whole list at every block.
  if (blocks_.size() == blocks_.capacity()) {
    blocks_.reserve(2 * blocks_.size() + 8);
  }
}

void* Arena::TryAllocateSlow(size_t size, size_t align) {
  return CanAllocate(size, align) ? AllocateSlow(size, align) : nullptr;
}

void* Arena::AllocateSlow(size_t size, size_t align) {
  // Checked before anything is allocated, so a refusal leaves the arena as
  // it was.  Blocks are counted at the size they really take: a mapped
  // one is whole huge pages, and where that rounding would pass the budget
  // the block is an exact one from new[] instead.
  if (!InBudget(size, align)) {
    MarkOverBudget();
    throw ArenaBudgetExceeded();
  }
  const size_t left = Left();
  const bool own_block = size + align > next_block_ / 4;
  // Near the budget a shared block shrinks to what is left (it holds
  // `size`: size + align <= left).
  const size_t want =
      own_block ? size + align : (next_block_ <= left ? next_block_ : left);
  const bool map = MappedSize(want) <= left;
  const size_t taken = map ? MappedSize(want) : want;
  if (!soft_exceeded_ && bytes_reserved_ + outside_ + taken > soft_budget_) {
    MarkOverBudget();
  }
  ReserveBlockSlot();  // so push_back cannot throw and leak the block
  Block b = NewBlock(want, map);
  blocks_.push_back(b);
  bytes_reserved_ += b.size;
  if (own_block) {
    // A big allocation gets a block of its own, so a few huge strings do
    // not waste the tail of a shared one.
    bytes_used_ += size;
    uintptr_t p = (reinterpret_cast<uintptr_t>(b.data) + align - 1) &
                  ~(uintptr_t{align} - 1);
    return reinterpret_cast<void*>(p);
  }
  cur_ = b.data;
  end_ = b.data + b.size;
  if (next_block_ < kMaxBlock) next_block_ *= 2;
  return Allocate(size, align);
}

}  // namespace picklevm
