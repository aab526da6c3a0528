#include "vm/base/growable_array.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace picklevm {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) & ~(to - 1); }

}  // namespace

GrowableStorage::~GrowableStorage() {
  if (reserved_ != 0) {
    munmap(data_, reserved_);
  } else {
    std::free(data_);
  }
}

bool GrowableStorage::Expand(size_t bytes, size_t max_bytes,
                             size_t heap_bytes) {
  if (bytes <= usable_) return true;
  if (bytes > max_bytes) return false;
  if (reserved_ != 0) return ExpandMapped(bytes);
  if (bytes > heap_bytes) {
    // Move once into a reservation for the maximum; the heap copy is at
    // most heap_bytes.
    size_t span = RoundUp(max_bytes, kHugePage);
    void* m = mmap(nullptr, span + kHugePage, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m != MAP_FAILED) {
      // Start on a 2 MiB boundary so every step can be one huge page.
      uintptr_t base = reinterpret_cast<uintptr_t>(m);
      uintptr_t aligned = RoundUp(base, kHugePage);
      if (aligned > base) munmap(m, aligned - base);
      size_t tail = base + span + kHugePage - (aligned + span);
      if (tail > 0) munmap(reinterpret_cast<void*>(aligned + span), tail);
      char* old = data_;
      size_t old_usable = usable_;
      data_ = reinterpret_cast<char*>(aligned);
      reserved_ = span;
      usable_ = 0;
      if (!ExpandMapped(bytes)) {
        munmap(data_, reserved_);
        data_ = old;
        usable_ = old_usable;
        reserved_ = 0;
        return ExpandOnHeap(bytes, max_bytes);
      }
      if (old_usable > 0) std::memcpy(data_, old, old_usable);
      std::free(old);
      return true;
    }
    // No address space for it: stay on the heap.
  }
  return ExpandOnHeap(bytes, max_bytes);
}

bool GrowableStorage::ExpandOnHeap(size_t bytes, size_t max_bytes) {
  size_t want = usable_ < 4096 ? 4096 : usable_ * 2;
  if (want < bytes) want = bytes;
  if (want > max_bytes) want = max_bytes;
  char* p = static_cast<char*>(std::realloc(data_, want));
  if (p == nullptr) return false;
  std::memset(p + usable_, 0, want - usable_);
  data_ = p;
  usable_ = want;
  return true;
}

bool GrowableStorage::ExpandMapped(size_t bytes) {
  // Half again what is usable, in whole huge pages: few system calls, and
  // pages made writable but never touched cost nothing.
  size_t want = RoundUp(bytes > usable_ + usable_ / 2 ? bytes
                                                      : usable_ + usable_ / 2,
                        kHugePage);
  if (want > reserved_) want = reserved_;
  if (mprotect(data_ + usable_, want - usable_, PROT_READ | PROT_WRITE) !=
      0) {
    return false;
  }
  // Advice only: without THP these are ordinary pages.
  madvise(data_ + usable_, want - usable_, MADV_HUGEPAGE);
  usable_ = want;
  return true;
}

}  // namespace picklevm
