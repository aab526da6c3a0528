// Operand decoding, driven by the opcode table's ArgKind.  Used by the
// machine and the disassembler alike, so both see the same bytes the same
// way and every length prefix is validated here and only here.
#ifndef PICKLEVM_VM_DECODE_OPERAND_H_
#define PICKLEVM_VM_DECODE_OPERAND_H_

#include <cstdint>
#include <cstring>
#include <string_view>

#include "absl/status/status.h"
#include "vm/decode/reader.h"
#include "vm/opcodes/opcodes.h"

namespace picklevm {

struct Operand {
  uint64_t u = 0;          // kUInt1/2/4/8
  int64_t i = 0;           // kInt4
  double f = 0;            // kFloat8
  // Counted payloads (strings, bytes, long1/long4 bytes); for line operands
  // the line including its '\n'.
  std::string_view bytes;
  std::string_view line2;  // second line of kStringNlNoescapePair
};

// Reads the operand of `info` (the opcode byte was already consumed).
absl::Status DecodeOperandSlow(Reader& reader, const OpcodeInfo& info,
                               Operand* out);
// The most frequent kinds (no operand; one byte: BINPUT, BINGET, BININT1)
// inline, the rest out of line; both read through Reader::Read.
inline absl::Status DecodeOperand(Reader& reader, const OpcodeInfo& info,
                                  Operand* out) {
  if (info.arg == ArgKind::kNone) return absl::OkStatus();
  if (info.arg == ArgKind::kUInt1) {
    std::string_view b;
    absl::Status s = reader.Read(1, &b);
    if (s.ok()) out->u = static_cast<uint8_t>(b[0]);
    return s;
  }
  return DecodeOperandSlow(reader, info, out);
}

// BINFLOAT's big-endian 8 bytes: one load and a byte swap (a byte-wise loop
// is not merged into one by the compiler at -O2).
inline uint64_t LoadBigEndian64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

// Strips the trailing '\n' of a line operand.
inline std::string_view LineText(std::string_view line) {
  return line.empty() ? line : line.substr(0, line.size() - 1);
}

}  // namespace picklevm

#endif  // PICKLEVM_VM_DECODE_OPERAND_H_
