// One error type for the whole machine: an absl::Status whose payload names
// the byte offset, the opcode and a typed code (serde-pickle's model), so a
// caller can always say *where* and *what* without parsing messages.
#ifndef PICKLEVM_VM_BASE_ERROR_H_
#define PICKLEVM_VM_BASE_ERROR_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace picklevm {

enum class ErrorCode : uint8_t {
  kNone = 0,
  // Malformed input (CLI exit status 2).
  kTruncated,        // the input ended inside an opcode or operand
  kUnknownOpcode,    // a byte that is no opcode of protocols 0-5
  kBadOperand,       // an operand that does not parse (text int, quotes...)
  kDecode,           // a string that does not decode (UTF-8, ASCII, escapes)
  kStackUnderflow,   // a pop below the stack bottom or the top MARK
  kNoMark,           // an opcode needs a MARK and none is open
  kMemo,             // GET of an unset memo key, negative PUT
  kProtocol,         // PROTO above 5
  kFrame,            // a frame longer than the input, or a read across its end
  kType,             // an operand of the wrong type (STACK_GLOBAL non-str...)
  kUnhashable,       // a dict key or set member Python could not hash
  kStrict,           // a rule of the spec's Strictness list
  kBuffers,          // NEXT_BUFFER without (enough) out-of-band buffers
  kValue,            // any other value CPython would reject
  // Refused by the policy (exit status 1).
  kRefused,
  // A documented limit was exceeded (exit status 2).
  kLimit,
  // I/O and usage problems outside the stream itself.
  kIo,
  kUsage,
};

std::string_view ErrorCodeName(ErrorCode code);

// Where and what: the decoded form of a machine error.
struct ErrorInfo {
  ErrorCode code = ErrorCode::kNone;
  int64_t offset = -1;  // byte offset in the (decompressed) stream, -1: none
  int opcode = -1;      // the opcode byte being executed, -1: none
  std::string reason;   // without the offset/opcode prefix
};

// Builds the status.  The message is "offset N (OPNAME): reason".
absl::Status MakeError(ErrorCode code, int64_t offset, int opcode,
                       std::string_view reason);

// Recovers the payload of a status made by MakeError (kNone otherwise).
ErrorInfo GetErrorInfo(const absl::Status& status);

// True for errors that are a policy refusal rather than malformed input.
inline bool IsRefusal(const absl::Status& s) {
  return GetErrorInfo(s).code == ErrorCode::kRefused;
}

}  // namespace picklevm

#endif  // PICKLEVM_VM_BASE_ERROR_H_

// Early return on a non-OK status (no exceptions cross module boundaries).
#define PVM_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status pvm_status_ = (expr);       \
    if (!pvm_status_.ok()) return pvm_status_; \
  } while (0)
