// An array that grows without copying its elements: the memo of a
// million-record pickle is tens of MiB, and a std::vector doubling to that
// size copies everything it holds about once more and touches twice the
// memory it keeps (measured: a tenth of a record-heavy decode went to the
// memo's reallocations and their page faults).
//
// Small arrays live on the heap as usual.  Past kHeapBytes the array moves
// once into a mapping of its own, advised for transparent huge pages, and
// from then on grows by mremap, which moves page tables rather than bytes
// (in place when it can).  Each growth doubles, so the address space is at
// most twice what is used.  If the kernel refuses the mapping (an
// address-space rlimit), the array keeps growing on the heap.  Elements may
// move when the array grows: hold indices, not pointers.
//
// Elements past size() are always zero (fresh pages are; heap growth
// zero-fills), so Resize() writes nothing.  T must be trivially copyable
// and all-zero bytes must be a valid T (pointers, integers).
#ifndef PICKLEVM_VM_BASE_GROWABLE_ARRAY_H_
#define PICKLEVM_VM_BASE_GROWABLE_ARRAY_H_

#include <cstddef>
#include <type_traits>

namespace picklevm {

// The byte-level storage behind GrowableArray (not a template, so the
// mapping logic is compiled once).
class GrowableStorage {
 public:
  GrowableStorage() = default;
  GrowableStorage(const GrowableStorage&) = delete;
  GrowableStorage& operator=(const GrowableStorage&) = delete;
  ~GrowableStorage();

  // Makes at least `bytes` bytes usable (zero beyond what was usable
  // before); `max_bytes` is the most that will ever be asked for.  False if
  // the memory cannot be had or `bytes` > `max_bytes`; the storage is then
  // unchanged.
  bool Expand(size_t bytes, size_t max_bytes, size_t heap_bytes);

  char* data() const { return data_; }
  size_t usable() const { return usable_; }
  bool mapped() const { return mapped_; }

 private:
  bool ExpandOnHeap(size_t bytes, size_t max_bytes);
  bool ExpandMapped(size_t bytes, size_t max_bytes);

  char* data_ = nullptr;
  size_t usable_ = 0;    // bytes readable and writable at data_
  bool mapped_ = false;  // data_ is a mapping of usable_ bytes, not heap
};

template <typename T>
class GrowableArray {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // Arrays up to this many bytes stay on the heap.
  static constexpr size_t kHeapBytes = size_t{512} << 10;
  // No byte count below can overflow.
  static constexpr size_t kMaxElements = (size_t{1} << 56) / sizeof(T);

  // `max_size`: the most elements the array will ever hold.
  explicit GrowableArray(size_t max_size)
      : max_size_(max_size < kMaxElements ? max_size : kMaxElements) {}

  size_t size() const { return size_; }
  T* data() const { return reinterpret_cast<T*>(storage_.data()); }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  bool mapped() const { return storage_.mapped(); }

  // Grows to `n` elements (never shrinks); the new ones are zero.  False
  // (and unchanged) if n > max_size or the memory cannot be had.
  bool Resize(size_t n) {
    if (n <= size_) return true;
    if (n > max_size_) return false;
    if (n * sizeof(T) > storage_.usable() &&
        !storage_.Expand(n * sizeof(T), max_size_ * sizeof(T), kHeapBytes)) {
      return false;
    }
    size_ = n;
    return true;
  }
  bool PushBack(T v) {
    if (!Resize(size_ + 1)) return false;
    data()[size_ - 1] = v;
    return true;
  }

 private:
  GrowableStorage storage_;
  size_t size_ = 0;
  size_t max_size_;
};

}  // namespace picklevm

#endif  // PICKLEVM_VM_BASE_GROWABLE_ARRAY_H_
