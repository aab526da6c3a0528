// The arena's thread cache of freed blocks: the next graph gets the last
// graph's small blocks back, and the cache stays within its bound however
// big the freed graph was.
#include "vm/base/arena.h"

#include <cstring>
#include <thread>

#include "gtest/gtest.h"

namespace picklevm {
namespace {

TEST(ArenaCache, TheNextArenaReusesAFreedBlock) {
  void* first;
  {
    Arena a;
    first = a.Allocate(100);
    std::memset(first, 1, 100);
  }
  EXPECT_GT(Arena::ThreadCachedBytes(), 0u);
  Arena b;
  EXPECT_EQ(b.Allocate(100), first);  // the same 4 KiB block, taken back
}

TEST(ArenaCache, StaysWithinItsBound) {
  {
    Arena a;
    // 64 MiB in blocks from 4 KiB up: many more than the cache keeps.
    for (int i = 0; i < 64 * 1024; ++i) {
      std::memset(a.Allocate(1024), 2, 1024);
    }
    for (int i = 0; i < 40; ++i) std::memset(a.Allocate(300000), 3, 300000);
  }
  EXPECT_LE(Arena::ThreadCachedBytes(), size_t{4} << 20);
  // Allocation after reuse still works and is writable end to end.
  Arena b;
  for (int i = 0; i < 10000; ++i) std::memset(b.Allocate(512), 4, 512);
}

TEST(ArenaCache, EachThreadHasItsOwn) {
  { Arena a; a.Allocate(10); }
  size_t here = Arena::ThreadCachedBytes();
  size_t there = 1;
  std::thread t([&there] { there = Arena::ThreadCachedBytes(); });
  t.join();
  EXPECT_GT(here, 0u);
  EXPECT_EQ(there, 0u);
}

}  // namespace
}  // namespace picklevm
