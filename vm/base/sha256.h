// SHA-256 through OpenSSL's libcrypto (never hand-written).
#ifndef PICKLEVM_VM_BASE_SHA256_H_
#define PICKLEVM_VM_BASE_SHA256_H_

#include <string>
#include <string_view>

namespace picklevm {

// Lower-case hex SHA-256 of the bytes.
std::string Sha256Hex(std::string_view data);

}  // namespace picklevm

#endif  // PICKLEVM_VM_BASE_SHA256_H_
