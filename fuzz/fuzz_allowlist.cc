// libFuzzer entry for the 'allowlist' target (see fuzz/targets.h).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  picklevm::FuzzAllowlist(data, size);
  return 0;
}
