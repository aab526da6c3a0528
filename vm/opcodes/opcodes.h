// The single opcode table of the pickle machine.
//
// Every consumer -- the operand decoder, the machine's dispatch, the
// disassembler and the fuzzers' structure-aware mutator -- reads this table,
// so an opcode is described in exactly one place (the design of CPython's
// Lib/pickletools.py).
#ifndef PICKLEVM_VM_OPCODES_OPCODES_H_
#define PICKLEVM_VM_OPCODES_OPCODES_H_

#include <array>
#include <cstdint>
#include <string_view>

namespace picklevm {

// The opcode byte values, named as pickletools names them (CamelCased).
enum class Op : uint8_t {
  kInt = 0x49, kBinint = 0x4a, kBinint1 = 0x4b, kBinint2 = 0x4d,
  kLong = 0x4c, kLong1 = 0x8a, kLong4 = 0x8b,
  kString = 0x53, kBinstring = 0x54, kShortBinstring = 0x55,
  kBinbytes = 0x42, kShortBinbytes = 0x43, kBinbytes8 = 0x8e,
  kBytearray8 = 0x96, kNextBuffer = 0x97, kReadonlyBuffer = 0x98,
  kNone = 0x4e, kNewtrue = 0x88, kNewfalse = 0x89,
  kUnicode = 0x56, kShortBinunicode = 0x8c, kBinunicode = 0x58,
  kBinunicode8 = 0x8d, kFloat = 0x46, kBinfloat = 0x47,
  kEmptyList = 0x5d, kAppend = 0x61, kAppends = 0x65, kList = 0x6c,
  kEmptyTuple = 0x29, kTuple = 0x74, kTuple1 = 0x85, kTuple2 = 0x86,
  kTuple3 = 0x87, kEmptyDict = 0x7d, kDict = 0x64, kSetitem = 0x73,
  kSetitems = 0x75, kEmptySet = 0x8f, kAdditems = 0x90, kFrozenset = 0x91,
  kPop = 0x30, kDup = 0x32, kMark = 0x28, kPopMark = 0x31,
  kGet = 0x67, kBinget = 0x68, kLongBinget = 0x6a,
  kPut = 0x70, kBinput = 0x71, kLongBinput = 0x72, kMemoize = 0x94,
  kExt1 = 0x82, kExt2 = 0x83, kExt4 = 0x84,
  kGlobal = 0x63, kStackGlobal = 0x93, kReduce = 0x52, kBuild = 0x62,
  kInst = 0x69, kObj = 0x6f, kNewobj = 0x81, kNewobjEx = 0x92,
  kProto = 0x80, kStop = 0x2e, kFrame = 0x95,
  kPersid = 0x50, kBinpersid = 0x51,
};

// How an opcode's operand is laid out in the stream (pickletools'
// ArgumentDescriptor names).  The decoder has one case per kind, and that is
// the only place a length prefix is checked against the remaining input.
enum class ArgKind : uint8_t {
  kNone,
  kUInt1, kUInt2, kInt4, kUInt4, kUInt8,
  kLong1, kLong4,                    // little-endian two's complement, n bytes
  kString1, kString4,                // BINSTRING payloads (signed 4-byte len)
  kBytes1, kBytes4, kBytes8, kBytearray8,
  kUnicodeString1, kUnicodeString4, kUnicodeString8,  // UTF-8
  kFloat8,                           // big-endian IEEE double
  kDecimalNlShort, kDecimalNlLong,   // text lines
  kFloatNl, kStringNl, kStringNlNoescape, kStringNlNoescapePair,
  kUnicodeStringNl,
};

struct OpcodeInfo {
  Op op;
  uint8_t code;
  std::string_view name;
  ArgKind arg;
  // The stack effect, in pickletools' notation (space separated).
  std::string_view stack_before;
  std::string_view stack_after;
  uint8_t proto;  // the protocol that introduced the opcode
  std::string_view doc;
};

// All 68 opcodes of protocols 0-5, in pickletools' order.
const OpcodeInfo* AllOpcodes(size_t* count);

// The entry for an opcode byte, or nullptr if the byte is not an opcode.
// Constant time: one load from a 256-entry table built at compile time.
extern const std::array<const OpcodeInfo*, 256> kOpcodeByByte;
inline const OpcodeInfo* LookupOpcode(uint8_t byte) {
  return kOpcodeByByte[byte];
}

// The opcode's name, or "<unknown>" for a byte that is not an opcode.
std::string_view OpcodeName(int byte);

// Fixed operand width for the fixed-size kinds, 0 for the others.
int FixedOperandSize(ArgKind kind);

// Whether the operand is a newline-terminated text line (or two).
bool IsLineOperand(ArgKind kind);

}  // namespace picklevm

#endif  // PICKLEVM_VM_OPCODES_OPCODES_H_
