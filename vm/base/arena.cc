#include "vm/base/arena.h"

#include <sys/mman.h>

#include <cstdint>

namespace picklevm {

namespace {

// Under AddressSanitizer every block comes from new[], which ASan guards
// with redzones; mapped blocks would hide overruns of big allocations.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

}  // namespace

Arena::~Arena() {
  for (const Block& b : blocks_) FreeBlock(b);
}

Arena::Block Arena::NewBlock(size_t size) {
  if (size >= kHugeBlock && !kAddressSanitizer) {
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
  return Block{new char[size], size, false};
}

void Arena::FreeBlock(const Block& b) {
  if (b.mapped) {
    munmap(b.data, b.size);
  } else {
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

void* Arena::AllocateSlow(size_t size, size_t align) {
  size_t big_threshold = next_block_ / 4;
  if (size + align > big_threshold) {
    // A big allocation gets a block of its own, so a few huge strings do
    // not waste the tail of a shared one.
    ReserveBlockSlot();  // so push_back cannot throw and leak the block
    Block b = NewBlock(size + align);
    blocks_.push_back(b);
    bytes_reserved_ += b.size;
    bytes_used_ += size;
    uintptr_t p = (reinterpret_cast<uintptr_t>(b.data) + align - 1) &
                  ~(uintptr_t{align} - 1);
    return reinterpret_cast<void*>(p);
  }
  ReserveBlockSlot();
  Block b = NewBlock(next_block_);
  blocks_.push_back(b);
  bytes_reserved_ += b.size;
  cur_ = b.data;
  end_ = b.data + b.size;
  if (next_block_ < kMaxBlock) next_block_ *= 2;
  return Allocate(size, align);
}

}  // namespace picklevm
