// libFuzzer entry for the 'dis' target (see fuzz/targets.h).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  picklevm::FuzzDis(data, size);
  return 0;
}
