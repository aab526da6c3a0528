// The fuzz targets' bodies, shared by the libFuzzer binaries and by the
// plain replay driver that runs fuzz/regressions/ as ctests in every build.
// Each returns normally for any input; a violated property aborts.
#ifndef PICKLEVM_FUZZ_TARGETS_H_
#define PICKLEVM_FUZZ_TARGETS_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace picklevm {

void FuzzLoad(const uint8_t* data, size_t size);       // strict + record
void FuzzTrace(const uint8_t* data, size_t size);      // record + emitters
void FuzzDis(const uint8_t* data, size_t size);        // disassembler
void FuzzJoblib(const uint8_t* data, size_t size);     // containers
void FuzzAllowlist(const uint8_t* data, size_t size);  // policy files

// By name ("load", "trace", ...), for the replay driver; nullptr if unknown.
using FuzzFn = void (*)(const uint8_t*, size_t);
FuzzFn FuzzTargetByName(std::string_view name);

}  // namespace picklevm

#endif  // PICKLEVM_FUZZ_TARGETS_H_
