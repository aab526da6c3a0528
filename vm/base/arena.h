// A bump allocator that owns every node, string copy and container array of
// one graph.  Freeing the graph frees the arena's blocks in a flat loop, so
// no destructor ever walks the (attacker-shaped) object graph.
#ifndef PICKLEVM_VM_BASE_ARENA_H_
#define PICKLEVM_VM_BASE_ARENA_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/base/attributes.h"

namespace picklevm {

// Thrown by an arena that would pass its budget (Arena::LimitReserved).
// A std::bad_alloc, so every place that already turns the system's refusal
// into an error (RunPickle, the command's main) handles it; RunPickle
// names the budget's flag.
class ArenaBudgetExceeded : public std::bad_alloc {
 public:
  const char* what() const noexcept override;
};

class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  // Uninitialised storage.  Blocks grow geometrically from 4 KiB to 16 MiB;
  // an allocation larger than a quarter block gets its own block so a few
  // huge strings do not waste the tail of a shared one.
  // Allocate, New and NewArray are always inlined: a bump and a compare,
  // on every node the machine makes (AllocateSlow is the call).
  ABSL_ATTRIBUTE_ALWAYS_INLINE void* Allocate(
      size_t size, size_t align = alignof(std::max_align_t)) {
    void* p;
    if (Bump(size, align, &p)) return p;
    return AllocateSlow(size, align);
  }

  template <typename T, typename... Args>
  ABSL_ATTRIBUTE_ALWAYS_INLINE T* New(Args&&... args) {
    static_assert(std::is_trivially_destructible_v<T>,
                  "arena objects are never destroyed");
    return new (Allocate(sizeof(T), alignof(T)))
        T(std::forward<Args>(args)...);
  }

  template <typename T>
  ABSL_ATTRIBUTE_ALWAYS_INLINE T* NewArray(size_t n) {
    static_assert(std::is_trivially_destructible_v<T>);
    return static_cast<T*>(Allocate(sizeof(T) * n, alignof(T)));
  }
  // Allocate, or nullptr where the budget refuses it (the arena then counts
  // as past its soft limit, see CanAllocate): for growth that must fail
  // rather than throw.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void* TryAllocate(size_t size, size_t align) {
    void* p;
    if (Bump(size, align, &p)) return p;
    return TryAllocateSlow(size, align);
  }
  template <typename T>
  ABSL_ATTRIBUTE_ALWAYS_INLINE T* TryNewArray(size_t n) {
    static_assert(std::is_trivially_destructible_v<T>);
    return static_cast<T*>(TryAllocate(sizeof(T) * n, alignof(T)));
  }

  std::string_view CopyString(std::string_view s) {
    if (s.empty()) return std::string_view();
    char* p = static_cast<char*>(Allocate(s.size(), 1));
    std::memcpy(p, s.data(), s.size());
    return std::string_view(p, s.size());
  }

  // Bytes handed out so far (an upper bound on live graph memory).
  size_t bytes_used() const { return bytes_used_; }
  size_t bytes_reserved() const { return bytes_reserved_; }
  // The most bytes of blocks the arena may hold: a block past it throws
  // ArenaBudgetExceeded instead of being allocated.  Before that, the
  // first block past seven eighths of it writes 0 to *signal (the graph's
  // node cap), so that the next node fails as the node limit does, at an
  // opcode the machine names, with an eighth left for what that opcode
  // still allocates.  Only lowers the budget.  Checked where a block is
  // taken, off the bump path.
  void LimitReserved(size_t bytes, uint64_t* signal) {
    if (bytes < budget_) {
      budget_ = bytes;
      soft_budget_ = bytes - bytes / 8;
    }
    signal_ = signal;
  }
  size_t budget() const { return budget_; }
  // Memory the graph's owner keeps for it outside the arena (the machine's
  // log of calls, findings and warnings: a stream makes one per BUILD of
  // one object, 3 bytes each), counted against the same budget.  Past it,
  // throws ArenaBudgetExceeded as an allocation would.
  void ChargeOutside(size_t bytes) {
    if (bytes > Left()) {
      MarkOverBudget();
      throw ArenaBudgetExceeded();
    }
    outside_ += bytes;
  }
  // A block passed seven eighths of the budget (or CanAllocate said no).
  bool soft_exceeded() const { return soft_exceeded_; }
  // Whether Allocate(size, align) stays within the budget.  If not, the
  // arena counts as past its soft limit (see LimitReserved) and nothing is
  // allocated.  Growth that would throw asks first and fails instead
  // (ArenaVec, a dict's arrays, a sequence's items), so that the machine's
  // fast path, which keeps its position in a register, never throws: it
  // leaves the opcode to the general path, which reports it at its offset.
  bool CanAllocate(size_t size, size_t align = alignof(std::max_align_t)) {
    uintptr_t p = (reinterpret_cast<uintptr_t>(cur_) + align - 1) &
                  ~(uintptr_t{align} - 1);
    if (cur_ != nullptr && p + size <= reinterpret_cast<uintptr_t>(end_)) {
      return true;
    }
    if (InBudget(size, align)) return true;
    MarkOverBudget();
    return false;
  }

  // Bytes of freed blocks this thread keeps for its next graphs (at most
  // a few MiB; see arena.cc).
  static size_t ThreadCachedBytes();

 private:
  // A block of arena memory.  Blocks of kHugeBlock or more are mapped with
  // mmap on a 2 MiB boundary and advised for transparent huge pages: a graph
  // of hundreds of MiB then costs hundreds of page faults, not hundreds of
  // thousands (measured: a third of a large decode's time went to faults).
  struct Block {
    char* data;
    size_t size;
    bool mapped;
  };
  // A block of `size` bytes; with `map`, one of kHugeBlock or more is
  // mapped and rounded up to whole huge pages (MappedSize).
  static Block NewBlock(size_t size, bool map);
  static size_t MappedSize(size_t size);
  static void FreeBlock(const Block& b);
  void ReserveBlockSlot();
  // The fast path of both: a bump within the current block.  A flag and
  // an out-parameter, not nullptr for "no room": the caller's test of the
  // pointer was one more branch on every node (+1% on the records).
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool Bump(size_t size, size_t align,
                                         void** out) {
    uintptr_t p = (reinterpret_cast<uintptr_t>(cur_) + align - 1) &
                  ~(uintptr_t{align} - 1);
    if (cur_ == nullptr || p + size > reinterpret_cast<uintptr_t>(end_)) {
      return false;
    }
    cur_ = reinterpret_cast<char*>(p + size);
    bytes_used_ += size;
    *out = reinterpret_cast<void*>(p);
    return true;
  }
  void* AllocateSlow(size_t size, size_t align);
  void* TryAllocateSlow(size_t size, size_t align);
  // Whether a new block holding `size` at `align` stays within the budget
  // (AllocateSlow and CanAllocate).
  bool InBudget(size_t size, size_t align) const {
    const size_t left = Left();
    return size <= left && align <= left - size;
  }
  // What the budget has left for blocks and outside charges.
  size_t Left() const {
    const size_t taken = bytes_reserved_ + outside_;
    return taken < budget_ ? budget_ - taken : 0;
  }
  void MarkOverBudget() {
    soft_exceeded_ = true;
    if (signal_ != nullptr) *signal_ = 0;
  }

  static constexpr size_t kHugeBlock = size_t{2} << 20;
  // Growth stops here: a partly used last block wastes address space, not
  // memory (untouched pages are never resident).
  static constexpr size_t kMaxBlock = size_t{16} << 20;
  std::vector<Block> blocks_;
  char* cur_ = nullptr;
  char* end_ = nullptr;
  size_t next_block_ = 4096;
  size_t bytes_used_ = 0;
  size_t bytes_reserved_ = 0;
  size_t budget_ = SIZE_MAX;
  size_t outside_ = 0;  // ChargeOutside
  size_t soft_budget_ = SIZE_MAX;
  uint64_t* signal_ = nullptr;
  bool soft_exceeded_ = false;
};

// A growable array in arena memory.  Growth doubles and abandons the old
// array (arena memory is reclaimed only with the whole graph), which bounds
// the waste to the array's final size.
template <typename T>
struct ArenaVec {
  static_assert(std::is_trivially_copyable_v<T>);
  T* data = nullptr;
  uint32_t size = 0;
  uint32_t capacity = 0;

  // Returns false when the array would exceed 2^32-1 elements.
  bool push_back(Arena& arena, const T& value) {
    if (size == capacity && !Grow(arena, size + 1)) return false;
    data[size++] = value;
    return true;
  }
  bool append(Arena& arena, const T* values, size_t n) {
    if (n == 0) return true;
    if (uint64_t{size} + n > UINT32_MAX) return false;
    if (size + n > capacity && !Grow(arena, size + n)) return false;
    std::memcpy(data + size, values, n * sizeof(T));
    size += static_cast<uint32_t>(n);
    return true;
  }
  // Exactly enough room for `need` elements (when the count is known, as
  // for SETITEMS: no doubling waste).
  bool Reserve(Arena& arena, uint64_t need) {
    if (need <= capacity) return true;
    return need <= UINT32_MAX && MoveTo(arena, need);
  }
  // The capacity Grow gives for `need` elements.
  static uint64_t GrownCapacity(uint32_t capacity, uint64_t need) {
    uint64_t cap = capacity == 0 ? 4 : uint64_t{capacity} * 2;
    while (cap < need) cap *= 2;
    return cap > UINT32_MAX ? UINT32_MAX : cap;
  }
  // False past 2^32-1 elements or the arena's budget (nothing changed).
  bool Grow(Arena& arena, uint64_t need) {
    return need <= UINT32_MAX && MoveTo(arena, GrownCapacity(capacity, need));
  }
  // Moves the elements into a fresh array of `cap` (> size, <= 2^32-1);
  // false, and nothing changed, where the arena's budget refuses it.
  bool MoveTo(Arena& arena, uint64_t cap) {
    T* fresh = arena.TryNewArray<T>(cap);
    if (fresh == nullptr) return false;
    if (size) std::memcpy(fresh, data, size * sizeof(T));
    data = fresh;
    capacity = static_cast<uint32_t>(cap);
    return true;
  }
  T* begin() const { return data; }
  T* end() const { return data + size; }
  T& operator[](size_t i) const { return data[i]; }
  bool empty() const { return size == 0; }
};

}  // namespace picklevm

#endif  // PICKLEVM_VM_BASE_ARENA_H_
