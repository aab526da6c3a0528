#include "vm/io/input.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vm/base/strcat.h"
#include "vm/base/error.h"

namespace picklevm {

absl::StatusOr<InputFile> InputFile::Open(const std::string& path,
                                          uint64_t max_bytes) {
  InputFile in;
  auto too_big = [&](uint64_t size) {
    return MakeError(ErrorCode::kLimit, -1, -1,
                     StrCat(path, ": input of ", size,
                                  " bytes exceeds --max-input-bytes (",
                                  max_bytes, ")"));
  };
  if (path == "-") {
    char buf[1 << 16];
    for (;;) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        return MakeError(ErrorCode::kIo, -1, -1,
                         StrCat("standard input: ", strerror(errno)));
      }
      if (n == 0) break;
      if (in.owned_.size() + n > max_bytes) return too_big(in.owned_.size() + n);
      in.owned_.append(buf, n);
    }
    in.data_ = in.owned_;
    return in;
  }
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(ErrorCode::kIo, -1, -1,
                     StrCat(path, ": ", strerror(errno)));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return MakeError(ErrorCode::kIo, -1, -1,
                     StrCat(path, ": not a regular file"));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    close(fd);
    return too_big(size);
  }
  if (size > 0) {
    void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      close(fd);
      return MakeError(ErrorCode::kIo, -1, -1,
                       StrCat(path, ": mmap: ", strerror(errno)));
    }
    in.map_ = p;
    in.map_size_ = size;
    in.data_ = std::string_view(static_cast<const char*>(p), size);
  }
  close(fd);
  return in;
}

InputFile::InputFile(InputFile&& other) noexcept
    : map_(other.map_), map_size_(other.map_size_),
      owned_(std::move(other.owned_)) {
  data_ = map_ ? other.data_ : std::string_view(owned_);
  other.map_ = nullptr;
  other.data_ = {};
}

InputFile::~InputFile() {
  if (map_) munmap(map_, map_size_);
}

}  // namespace picklevm
