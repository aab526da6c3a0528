#include "vm/base/growable_array.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace picklevm {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kPage = 4096;
// A heap array's first size: a small model memoizes a few dozen objects,
// and a whole zeroed page for them was a measurable part of its decode.
constexpr size_t kFirstHeapBytes = 512;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) & ~(to - 1); }

// The size to map for `bytes` when `usable` are mapped: double, in whole
// huge pages, never past the maximum (rounded to a page, which mmap would
// round to anyway).  Doubling keeps the address space at most twice what
// is used, so an address-space limit (ulimit -v) meets the memo's real
// size, not its worst case.
size_t MappedSize(size_t bytes, size_t usable, size_t max_bytes) {
  size_t want = RoundUp(bytes > 2 * usable ? bytes : 2 * usable, kHugePage);
  size_t cap = RoundUp(max_bytes, kPage);
  return want < cap ? want : cap;
}

}  // namespace

GrowableStorage::~GrowableStorage() {
  if (mapped_) {
    munmap(data_, usable_);
  } else {
    std::free(data_);
  }
}

bool GrowableStorage::Expand(size_t bytes, size_t max_bytes,
                             size_t heap_bytes) {
  if (bytes <= usable_) return true;
  if (bytes > max_bytes) return false;
  if (mapped_) return ExpandMapped(bytes, max_bytes);
  if (bytes > heap_bytes) {
    // Move once into a mapping of its own; the heap copy is the last heap
    // size, about heap_bytes.
    size_t want = MappedSize(bytes, usable_, max_bytes);
    void* m = mmap(nullptr, want, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m != MAP_FAILED) {
      // Advice only: without THP these are ordinary pages.
      madvise(m, want, MADV_HUGEPAGE);
      if (usable_ > 0) std::memcpy(m, data_, usable_);
      std::free(data_);
      data_ = static_cast<char*>(m);
      usable_ = want;
      mapped_ = true;
      return true;
    }
    // No address space for it: stay on the heap.
  }
  return ExpandOnHeap(bytes, max_bytes);
}

bool GrowableStorage::ExpandOnHeap(size_t bytes, size_t max_bytes) {
  size_t want = usable_ < kFirstHeapBytes ? kFirstHeapBytes : usable_ * 2;
  if (want < bytes) want = bytes;
  if (want > max_bytes) want = max_bytes;
  char* p = static_cast<char*>(std::realloc(data_, want));
  if (p == nullptr) return false;
  std::memset(p + usable_, 0, want - usable_);
  data_ = p;
  usable_ = want;
  return true;
}

bool GrowableStorage::ExpandMapped(size_t bytes, size_t max_bytes) {
  // mremap moves page tables, not bytes: in place if the address space
  // after the mapping is free, else to a new address; either way the new
  // pages are zero and nothing is copied.
  size_t want = MappedSize(bytes, usable_, max_bytes);
  void* m = mremap(data_, usable_, want, 0);
  if (m == MAP_FAILED) m = mremap(data_, usable_, want, MREMAP_MAYMOVE);
  if (m == MAP_FAILED) return false;  // the old mapping is untouched
  madvise(static_cast<char*>(m) + usable_, want - usable_, MADV_HUGEPAGE);
  data_ = static_cast<char*>(m);
  usable_ = want;
  return true;
}

}  // namespace picklevm
