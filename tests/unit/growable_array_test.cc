// GrowableArray: values survive every growth (on the heap, across the one
// move into the reservation, and inside it), what lies past size() is zero,
// the reservation never moves, and the stated maximum holds.
#include "vm/base/growable_array.h"

#include <sys/resource.h>

#include <cstdint>
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

TEST(GrowableArray, TheReservationNeverMoves) {
  Array a(size_t{1} << 30);
  ASSERT_TRUE(a.Resize(kHeapElements + 1));
  ASSERT_TRUE(a.mapped());
  uint64_t* at = a.data();
  ASSERT_TRUE(a.Resize(64 * kHeapElements));  // 32 MiB: many commit steps
  EXPECT_EQ(a.data(), at);
  a[64 * kHeapElements - 1] = 5;
  EXPECT_EQ(a[64 * kHeapElements - 1], 5u);
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

// Under an address-space limit the reservation of a huge maximum fails and
// the array keeps growing on the heap.  In a child process, so the limit
// does not reach the rest of the suite.
[[noreturn]] void GrowUnderAnAddressSpaceLimit() {
  rlimit lim{};
  lim.rlim_cur = lim.rlim_max = size_t{4} << 30;
  if (setrlimit(RLIMIT_AS, &lim) != 0) std::_Exit(3);
  Array a(size_t{1} << 33);  // 64 GiB of address space: refused
  for (uint64_t i = 0; i < 4 * kHeapElements; ++i) {
    if (!a.PushBack(i)) std::_Exit(4);
  }
  if (a.mapped()) std::_Exit(5);
  for (uint64_t i = 0; i < 4 * kHeapElements; ++i) {
    if (a[i] != i) std::_Exit(6);
  }
  std::_Exit(0);
}

TEST(GrowableArrayDeathTest, WithoutAddressSpaceItStaysOnTheHeap) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's shadow memory exceeds any such limit";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(GrowUnderAnAddressSpaceLimit(), ::testing::ExitedWithCode(0),
              "");
}

}  // namespace
}  // namespace picklevm
