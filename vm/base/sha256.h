// SHA-256 through OpenSSL's libcrypto (never hand-written).
#ifndef PICKLEVM_VM_BASE_SHA256_H_
#define PICKLEVM_VM_BASE_SHA256_H_

#include <atomic>
#include <string>
#include <string_view>

namespace picklevm {

// Lower-case hex SHA-256 of the bytes.
std::string Sha256Hex(std::string_view data);

// The same, a chunk at a time, giving up (and returning "") once *cancel is
// set: for hashing a whole file on another thread while the load runs.
std::string Sha256Hex(std::string_view data, const std::atomic<bool>& cancel);

}  // namespace picklevm

#endif  // PICKLEVM_VM_BASE_SHA256_H_
