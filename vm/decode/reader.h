// Byte reader over the input with protocol 4's framing rules, as CPython's
// pure-Python _Unframer enforces them: a read that starts inside a frame
// must end inside it, a line must end inside it, and a new FRAME may only
// begin where the current one ends.  Nothing is copied: reads return views.
#ifndef PICKLEVM_VM_DECODE_READER_H_
#define PICKLEVM_VM_DECODE_READER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace picklevm {

class Reader {
 public:
  // `data` is the whole input; reading starts at `start`.
  explicit Reader(std::string_view data, uint64_t start = 0)
      : data_(data), pos_(start), limit_(data.size()) {}

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return data_.size(); }
  bool AtEnd() const { return pos_ >= data_.size(); }
  std::string_view data() const { return data_; }

  // The machine's fast path reads straight from the bytes: everything in
  // [pos(), limit()) is readable without crossing a frame end (limit() is
  // the current frame's end, or the input's), and SetPos moves within it.
  uint64_t limit() const { return limit_; }
  void SetPos(uint64_t pos) { pos_ = pos; }  // requires pos <= limit()

  // The opcode being decoded, named in errors.
  void SetOpcode(uint64_t offset, int opcode) {
    op_offset_ = offset;
    opcode_ = opcode;
  }

  // Bytes readable by the next read without crossing a frame end.
  uint64_t Available() const;
  // Inside a frame that still has unread bytes.
  bool InUnfinishedFrame() const { return in_frame_ && pos_ < frame_end_; }

  // Reads exactly n bytes.  The one place every length prefix is checked
  // against what is left, before anything depends on it.  (The common case,
  // outside any frame, is inline; frames and errors take the slow path.)
  absl::Status Read(uint64_t n, std::string_view* out) {
    // limit_ is the end of the current frame, or of the input.
    if (pos_ < limit_ && n <= limit_ - pos_) {
      *out = std::string_view(data_.data() + pos_, n);
      pos_ += n;
      return absl::OkStatus();
    }
    return ReadSlow(n, out);
  }
  // Reads through the next '\n'; *line includes the '\n'.
  absl::Status ReadLine(std::string_view* line);
  // FRAME's operand was read: start a frame of `length` bytes here.  With
  // `allow_short`, a frame longer than the input is cut to what is left
  // (as pickle's pure-Python _Unframer does: it runs the frame's prefix and
  // fails only when it reads past it); *was_short tells.
  absl::Status BeginFrame(uint64_t length, bool allow_short = false,
                          bool* was_short = nullptr);

  absl::Status Error(int code, std::string_view reason) const;

 private:
  absl::Status ReadSlow(uint64_t n, std::string_view* out);
  void LeaveFinishedFrame() {
    if (in_frame_ && pos_ == frame_end_) {
      in_frame_ = false;
      limit_ = data_.size();
    }
  }

  std::string_view data_;
  uint64_t pos_;
  uint64_t limit_;
  bool in_frame_ = false;
  uint64_t frame_end_ = 0;
  uint64_t op_offset_ = 0;
  int opcode_ = -1;
};

}  // namespace picklevm

#endif  // PICKLEVM_VM_DECODE_READER_H_
