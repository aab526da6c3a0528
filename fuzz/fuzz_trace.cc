// libFuzzer entry for the 'trace' target (see fuzz/targets.h).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  picklevm::FuzzTrace(data, size);
  return 0;
}
