#include "vm/base/error.h"

#include <string>

#include "absl/strings/numbers.h"
#include "vm/base/strcat.h"
#include "vm/opcodes/opcodes.h"

namespace picklevm {
namespace {
constexpr char kPayloadUrl[] = "picklevm/error";
}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNone: return "none";
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kUnknownOpcode: return "unknown-opcode";
    case ErrorCode::kBadOperand: return "bad-operand";
    case ErrorCode::kDecode: return "decode";
    case ErrorCode::kStackUnderflow: return "stack-underflow";
    case ErrorCode::kNoMark: return "no-mark";
    case ErrorCode::kMemo: return "memo";
    case ErrorCode::kProtocol: return "protocol";
    case ErrorCode::kFrame: return "frame";
    case ErrorCode::kType: return "type";
    case ErrorCode::kUnhashable: return "unhashable";
    case ErrorCode::kStrict: return "strict";
    case ErrorCode::kBuffers: return "buffers";
    case ErrorCode::kValue: return "value";
    case ErrorCode::kRefused: return "refused";
    case ErrorCode::kLimit: return "limit";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kUsage: return "usage";
  }
  return "unknown";
}

absl::Status MakeError(ErrorCode code, int64_t offset, int opcode,
                       std::string_view reason) {
  std::string message;
  if (offset >= 0) {
    StrAppend(&message, "offset ", offset);
    if (opcode >= 0) StrAppend(&message, " (", OpcodeName(opcode), ")");
    StrAppend(&message, ": ");
  }
  StrAppend(&message, reason);
  absl::StatusCode status_code;
  switch (code) {
    case ErrorCode::kRefused:
      status_code = absl::StatusCode::kPermissionDenied;
      break;
    case ErrorCode::kLimit:
      status_code = absl::StatusCode::kResourceExhausted;
      break;
    case ErrorCode::kIo:
      status_code = absl::StatusCode::kUnavailable;
      break;
    default:
      status_code = absl::StatusCode::kInvalidArgument;
  }
  absl::Status status(status_code, message);
  // Payload: "code offset opcode\nreason" -- parsed back by GetErrorInfo.
  status.SetPayload(kPayloadUrl,
                    absl::Cord(StrCat(static_cast<int>(code), " ",
                                            offset, " ", opcode, "\n",
                                            reason)));
  return status;
}

ErrorInfo GetErrorInfo(const absl::Status& status) {
  ErrorInfo info;
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) {
    if (!status.ok()) info.reason = std::string(status.message());
    return info;
  }
  std::string text(*payload);
  size_t nl = text.find('\n');
  std::string head = text.substr(0, nl);
  info.reason = nl == std::string::npos ? "" : text.substr(nl + 1);
  size_t a = head.find(' ');
  size_t b = head.find(' ', a + 1);
  int code = 0;
  int64_t offset = -1;
  int opcode = -1;
  if (a != std::string::npos && b != std::string::npos &&
      absl::SimpleAtoi(head.substr(0, a), &code) &&
      absl::SimpleAtoi(head.substr(a + 1, b - a - 1), &offset) &&
      absl::SimpleAtoi(head.substr(b + 1), &opcode)) {
    info.code = static_cast<ErrorCode>(code);
    info.offset = offset;
    info.opcode = opcode;
  }
  return info;
}

}  // namespace picklevm
