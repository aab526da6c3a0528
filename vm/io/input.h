// The input file: memory-mapped when it is a regular file (so bytes that are
// never read are never paged in), read into memory for standard input.
#ifndef PICKLEVM_VM_IO_INPUT_H_
#define PICKLEVM_VM_IO_INPUT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "vm/base/sha256.h"

namespace picklevm {

class InputFile {
 public:
  // "-" is standard input.  Files larger than max_bytes are refused
  // (kLimit) before they are mapped or read.
  static absl::StatusOr<InputFile> Open(const std::string& path,
                                        uint64_t max_bytes);
  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&&) = delete;
  InputFile(const InputFile&) = delete;
  ~InputFile();

  std::string_view data() const { return data_; }

 private:
  InputFile() = default;
  std::string_view data_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  std::string owned_;
};

}  // namespace picklevm

#endif  // PICKLEVM_VM_IO_INPUT_H_
