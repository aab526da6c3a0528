#include "vm/decode/reader.h"

#include <cstring>

#include "vm/base/strcat.h"
#include "vm/base/error.h"

namespace picklevm {

absl::Status Reader::Error(int code, std::string_view reason) const {
  return MakeError(static_cast<ErrorCode>(code), op_offset_, opcode_, reason);
}

uint64_t Reader::Available() const {
  if (in_frame_ && pos_ < frame_end_) return frame_end_ - pos_;
  return data_.size() - pos_;
}

absl::Status Reader::ReadSlow(uint64_t n, std::string_view* out) {
  LeaveFinishedFrame();
  if (in_frame_ && n > frame_end_ - pos_) {
    return Error(static_cast<int>(ErrorCode::kFrame),
                 StrCat("a ", n, "-byte read at offset ", pos_,
                              " runs past the end of the frame at ",
                              frame_end_));
  }
  if (n > data_.size() - pos_) {
    return Error(static_cast<int>(ErrorCode::kTruncated),
                 StrCat("pickle data was truncated: needs ", n,
                              " bytes at offset ", pos_, ", ",
                              data_.size() - pos_, " left"));
  }
  *out = data_.substr(pos_, n);
  pos_ += n;
  return absl::OkStatus();
}

absl::Status Reader::ReadLine(std::string_view* line) {
  LeaveFinishedFrame();
  uint64_t limit = in_frame_ ? frame_end_ : data_.size();
  const void* nl = std::memchr(data_.data() + pos_, '\n', limit - pos_);
  if (nl == nullptr) {
    if (in_frame_) {
      return Error(static_cast<int>(ErrorCode::kFrame),
                   StrCat("line at offset ", pos_,
                                " runs past the end of the frame at ",
                                frame_end_));
    }
    return Error(static_cast<int>(ErrorCode::kTruncated),
                 StrCat("pickle data was truncated: no newline after "
                              "offset ", pos_));
  }
  uint64_t end = static_cast<const char*>(nl) - data_.data() + 1;
  *line = data_.substr(pos_, end - pos_);
  pos_ = end;
  return absl::OkStatus();
}

absl::Status Reader::BeginFrame(uint64_t length, bool allow_short,
                                bool* was_short) {
  if (in_frame_ && pos_ != frame_end_) {
    return Error(static_cast<int>(ErrorCode::kFrame),
                 "beginning of a new frame before end of current frame");
  }
  if (length > data_.size() - pos_ && allow_short &&
      length <= uint64_t{INT64_MAX}) {  // Python refuses > sys.maxsize
    if (was_short) *was_short = true;
    length = data_.size() - pos_;
  } else if (length > data_.size() - pos_) {
    return Error(static_cast<int>(ErrorCode::kFrame),
                 StrCat("frame of ", length, " bytes is longer than the ",
                              data_.size() - pos_, " bytes left"));
  }
  in_frame_ = true;
  frame_end_ = pos_ + length;
  limit_ = frame_end_;
  return absl::OkStatus();
}

}  // namespace picklevm
