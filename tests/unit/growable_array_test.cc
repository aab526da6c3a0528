// GrowableArray: values survive every growth (on the heap, across the one
// move into the reservation, and inside it), what lies past size() is zero,
// the reservation never moves, and the stated maximum holds.
#include "vm/base/growable_array.h"

#include <sys/mman.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "gtest/gtest.h"

namespace picklevm {
namespace {

using Array = GrowableArray<uint64_t>;
constexpr size_t kHeapElements = Array::kHeapBytes / sizeof(uint64_t);

TEST(GrowableArray, ValuesSurviveTheMoveIntoTheReservation) {
  Array a(size_t{1} << 30);
  for (uint64_t i = 0; i < 3 * kHeapElements; ++i) {
    ASSERT_TRUE(a.PushBack(i * 7 + 1));
    if (i + 1 == kHeapElements) {
      EXPECT_FALSE(a.mapped());
    }
  }
  EXPECT_TRUE(a.mapped());
  for (uint64_t i = 0; i < 3 * kHeapElements; ++i) {
    ASSERT_EQ(a[i], i * 7 + 1) << i;
  }
}

TEST(GrowableArray, ResizeGivesZeros) {
  Array a(size_t{1} << 30);
  // On the heap, across the move, and inside the reservation: the new
  // elements read as zero, the old keep their values.
  for (size_t n : {size_t{10}, size_t{1000}, kHeapElements + 5,
                   8 * kHeapElements}) {
    size_t old = a.size();
    if (old > 0) a[old - 1] = 42;
    ASSERT_TRUE(a.Resize(n));
    EXPECT_EQ(a.size(), n);
    if (old > 0) {
      EXPECT_EQ(a[old - 1], 42u);
    }
    for (size_t i = old; i < n; ++i) ASSERT_EQ(a[i], 0u) << i;
  }
  EXPECT_TRUE(a.Resize(3));  // never shrinks
  EXPECT_EQ(a.size(), 8 * kHeapElements);
}

TEST(GrowableArray, ValuesSurviveManyMappedGrowths) {
  Array a(size_t{1} << 30);
  ASSERT_TRUE(a.Resize(kHeapElements + 1));
  ASSERT_TRUE(a.mapped());
  for (size_t i = 0; i < a.size(); ++i) a[i] = i ^ 0x5555;
  size_t filled = a.size();
  // 64 MiB: several mremaps, in place or moved.
  for (size_t n = 2 * filled; n <= 128 * kHeapElements; n *= 2) {
    ASSERT_TRUE(a.Resize(n));
    for (size_t i = filled; i < n; ++i) ASSERT_EQ(a[i], 0u) << i;
    for (size_t i = filled; i < n; ++i) a[i] = i ^ 0x5555;
    filled = n;
  }
  for (size_t i = 0; i < filled; ++i) ASSERT_EQ(a[i], i ^ 0x5555) << i;
}

TEST(GrowableArray, TheMaximumHolds) {
  Array small(100);
  EXPECT_TRUE(small.Resize(100));
  EXPECT_FALSE(small.Resize(101));
  EXPECT_FALSE(small.PushBack(1));
  EXPECT_EQ(small.size(), 100u);
  // A maximum no byte count can express is clamped, not overflowed.
  Array huge(SIZE_MAX);
  EXPECT_FALSE(huge.Resize(SIZE_MAX));
  EXPECT_TRUE(huge.Resize(kHeapElements * 2));
}

// Under an address-space limit the array takes what it needs, not its
// maximum's worth of address space (a memo reserving for its worst case
// left a large decode's arena without room), and when the limit is reached
// growth fails cleanly with every element kept.  In a child process, so
// the limit does not reach the rest of the suite.
size_t MappedBytesNow() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (f == nullptr || std::fscanf(f, "%lu", &pages) != 1) std::_Exit(2);
  std::fclose(f);
  return pages * 4096;
}

[[noreturn]] void GrowUnderAnAddressSpaceLimit() {
  rlimit lim{};
  lim.rlim_cur = lim.rlim_max = MappedBytesNow() + (size_t{512} << 20);
  if (setrlimit(RLIMIT_AS, &lim) != 0) std::_Exit(3);
  // A 384 MiB maximum, 16 MiB used: the rest of the process must still
  // be able to map 400 MiB.
  Array a((size_t{384} << 20) / sizeof(uint64_t));
  uint64_t n = 0;
  for (; n < (size_t{16} << 20) / sizeof(uint64_t); ++n) {
    if (!a.PushBack(n)) std::_Exit(4);
  }
  void* other = mmap(nullptr, size_t{400} << 20, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (other == MAP_FAILED) std::_Exit(5);
  // Now growth runs into the limit and fails cleanly, values kept.
  while (a.PushBack(n)) ++n;
  for (uint64_t i = 0; i < n; ++i) {
    if (a[i] != i) std::_Exit(6);
  }
  std::_Exit(0);
}

TEST(GrowableArrayDeathTest, UnderAnAddressSpaceLimitItGrowsUntilItFails) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's shadow memory exceeds any such limit";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  GTEST_SKIP() << "AddressSanitizer's shadow memory exceeds any such limit";
#endif
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(GrowUnderAnAddressSpaceLimit(), ::testing::ExitedWithCode(0),
              "");
}

}  // namespace
}  // namespace picklevm
