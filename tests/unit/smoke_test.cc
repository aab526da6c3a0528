#include "gtest/gtest.h"
#include "vm/opcodes/opcodes.h"

TEST(Opcodes, TableHas68) {
  size_t n;
  picklevm::AllOpcodes(&n);
  EXPECT_EQ(n, 68u);
}
