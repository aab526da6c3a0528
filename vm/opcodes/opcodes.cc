#include "vm/opcodes/opcodes.h"

#include <array>

namespace picklevm {
namespace {

// Derived from pickletools.opcodes (CPython 3.11): name, code, operand kind,
// stack before/after, protocol, and the first line of the doc.
constexpr OpcodeInfo kOpcodes[] = {
    {Op::kInt, 0x49, "INT", ArgKind::kDecimalNlShort, "", "int_or_bool", 0,
     "Push an integer or bool."},
    {Op::kBinint, 0x4a, "BININT", ArgKind::kInt4, "", "int", 1,
     "Push a four-byte signed integer."},
    {Op::kBinint1, 0x4b, "BININT1", ArgKind::kUInt1, "", "int", 1,
     "Push a one-byte unsigned integer."},
    {Op::kBinint2, 0x4d, "BININT2", ArgKind::kUInt2, "", "int", 1,
     "Push a two-byte unsigned integer."},
    {Op::kLong, 0x4c, "LONG", ArgKind::kDecimalNlLong, "", "int", 0,
     "Push a long integer."},
    {Op::kLong1, 0x8a, "LONG1", ArgKind::kLong1, "", "int", 2,
     "Long integer using one-byte length."},
    {Op::kLong4, 0x8b, "LONG4", ArgKind::kLong4, "", "int", 2,
     "Long integer using found-byte length."},
    {Op::kString, 0x53, "STRING", ArgKind::kStringNl, "", "bytes_or_str", 0,
     "Push a Python string object."},
    {Op::kBinstring, 0x54, "BINSTRING", ArgKind::kString4, "", "bytes_or_str", 1,
     "Push a Python string object."},
    {Op::kShortBinstring, 0x55, "SHORT_BINSTRING", ArgKind::kString1, "", "bytes_or_str", 1,
     "Push a Python string object."},
    {Op::kBinbytes, 0x42, "BINBYTES", ArgKind::kBytes4, "", "bytes", 3,
     "Push a Python bytes object."},
    {Op::kShortBinbytes, 0x43, "SHORT_BINBYTES", ArgKind::kBytes1, "", "bytes", 3,
     "Push a Python bytes object."},
    {Op::kBinbytes8, 0x8e, "BINBYTES8", ArgKind::kBytes8, "", "bytes", 4,
     "Push a Python bytes object."},
    {Op::kBytearray8, 0x96, "BYTEARRAY8", ArgKind::kBytearray8, "", "bytearray", 5,
     "Push a Python bytearray object."},
    {Op::kNextBuffer, 0x97, "NEXT_BUFFER", ArgKind::kNone, "", "buffer", 5,
     "Push an out-of-band buffer object."},
    {Op::kReadonlyBuffer, 0x98, "READONLY_BUFFER", ArgKind::kNone, "buffer", "buffer", 5,
     "Make an out-of-band buffer object read-only."},
    {Op::kNone, 0x4e, "NONE", ArgKind::kNone, "", "None", 0,
     "Push None on the stack."},
    {Op::kNewtrue, 0x88, "NEWTRUE", ArgKind::kNone, "", "bool", 2,
     "Push True onto the stack."},
    {Op::kNewfalse, 0x89, "NEWFALSE", ArgKind::kNone, "", "bool", 2,
     "Push False onto the stack."},
    {Op::kUnicode, 0x56, "UNICODE", ArgKind::kUnicodeStringNl, "", "str", 0,
     "Push a Python Unicode string object."},
    {Op::kShortBinunicode, 0x8c, "SHORT_BINUNICODE", ArgKind::kUnicodeString1, "", "str", 4,
     "Push a Python Unicode string object."},
    {Op::kBinunicode, 0x58, "BINUNICODE", ArgKind::kUnicodeString4, "", "str", 1,
     "Push a Python Unicode string object."},
    {Op::kBinunicode8, 0x8d, "BINUNICODE8", ArgKind::kUnicodeString8, "", "str", 4,
     "Push a Python Unicode string object."},
    {Op::kFloat, 0x46, "FLOAT", ArgKind::kFloatNl, "", "float", 0,
     "Newline-terminated decimal float literal."},
    {Op::kBinfloat, 0x47, "BINFLOAT", ArgKind::kFloat8, "", "float", 1,
     "Float stored in binary form, with 8 bytes of data."},
    {Op::kEmptyList, 0x5d, "EMPTY_LIST", ArgKind::kNone, "", "list", 1,
     "Push an empty list."},
    {Op::kAppend, 0x61, "APPEND", ArgKind::kNone, "list any", "list", 0,
     "Append an object to a list."},
    {Op::kAppends, 0x65, "APPENDS", ArgKind::kNone, "list mark stackslice", "list", 1,
     "Extend a list by a slice of stack objects."},
    {Op::kList, 0x6c, "LIST", ArgKind::kNone, "mark stackslice", "list", 0,
     "Build a list out of the topmost stack slice, after markobject."},
    {Op::kEmptyTuple, 0x29, "EMPTY_TUPLE", ArgKind::kNone, "", "tuple", 1,
     "Push an empty tuple."},
    {Op::kTuple, 0x74, "TUPLE", ArgKind::kNone, "mark stackslice", "tuple", 0,
     "Build a tuple out of the topmost stack slice, after markobject."},
    {Op::kTuple1, 0x85, "TUPLE1", ArgKind::kNone, "any", "tuple", 2,
     "Build a one-tuple out of the topmost item on the stack."},
    {Op::kTuple2, 0x86, "TUPLE2", ArgKind::kNone, "any any", "tuple", 2,
     "Build a two-tuple out of the top two items on the stack."},
    {Op::kTuple3, 0x87, "TUPLE3", ArgKind::kNone, "any any any", "tuple", 2,
     "Build a three-tuple out of the top three items on the stack."},
    {Op::kEmptyDict, 0x7d, "EMPTY_DICT", ArgKind::kNone, "", "dict", 1,
     "Push an empty dict."},
    {Op::kDict, 0x64, "DICT", ArgKind::kNone, "mark stackslice", "dict", 0,
     "Build a dict out of the topmost stack slice, after markobject."},
    {Op::kSetitem, 0x73, "SETITEM", ArgKind::kNone, "dict any any", "dict", 0,
     "Add a key+value pair to an existing dict."},
    {Op::kSetitems, 0x75, "SETITEMS", ArgKind::kNone, "dict mark stackslice", "dict", 1,
     "Add an arbitrary number of key+value pairs to an existing dict."},
    {Op::kEmptySet, 0x8f, "EMPTY_SET", ArgKind::kNone, "", "set", 4,
     "Push an empty set."},
    {Op::kAdditems, 0x90, "ADDITEMS", ArgKind::kNone, "set mark stackslice", "set", 4,
     "Add an arbitrary number of items to an existing set."},
    {Op::kFrozenset, 0x91, "FROZENSET", ArgKind::kNone, "mark stackslice", "frozenset", 4,
     "Build a frozenset out of the topmost slice, after markobject."},
    {Op::kPop, 0x30, "POP", ArgKind::kNone, "any", "", 0,
     "Discard the top stack item, shrinking the stack by one item."},
    {Op::kDup, 0x32, "DUP", ArgKind::kNone, "any", "any any", 0,
     "Push the top stack item onto the stack again, duplicating it."},
    {Op::kMark, 0x28, "MARK", ArgKind::kNone, "", "mark", 0,
     "Push markobject onto the stack."},
    {Op::kPopMark, 0x31, "POP_MARK", ArgKind::kNone, "mark stackslice", "", 1,
     "Pop all the stack objects at and above the topmost markobject."},
    {Op::kGet, 0x67, "GET", ArgKind::kDecimalNlShort, "", "any", 0,
     "Read an object from the memo and push it on the stack."},
    {Op::kBinget, 0x68, "BINGET", ArgKind::kUInt1, "", "any", 1,
     "Read an object from the memo and push it on the stack."},
    {Op::kLongBinget, 0x6a, "LONG_BINGET", ArgKind::kUInt4, "", "any", 1,
     "Read an object from the memo and push it on the stack."},
    {Op::kPut, 0x70, "PUT", ArgKind::kDecimalNlShort, "", "", 0,
     "Store the stack top into the memo.  The stack is not popped."},
    {Op::kBinput, 0x71, "BINPUT", ArgKind::kUInt1, "", "", 1,
     "Store the stack top into the memo.  The stack is not popped."},
    {Op::kLongBinput, 0x72, "LONG_BINPUT", ArgKind::kUInt4, "", "", 1,
     "Store the stack top into the memo.  The stack is not popped."},
    {Op::kMemoize, 0x94, "MEMOIZE", ArgKind::kNone, "any", "any", 4,
     "Store the stack top into the memo.  The stack is not popped."},
    {Op::kExt1, 0x82, "EXT1", ArgKind::kUInt1, "", "any", 2,
     "Extension code."},
    {Op::kExt2, 0x83, "EXT2", ArgKind::kUInt2, "", "any", 2,
     "Extension code."},
    {Op::kExt4, 0x84, "EXT4", ArgKind::kInt4, "", "any", 2,
     "Extension code."},
    {Op::kGlobal, 0x63, "GLOBAL", ArgKind::kStringNlNoescapePair, "", "any", 0,
     "Push a global object (module.attr) on the stack."},
    {Op::kStackGlobal, 0x93, "STACK_GLOBAL", ArgKind::kNone, "str str", "any", 4,
     "Push a global object (module.attr) on the stack."},
    {Op::kReduce, 0x52, "REDUCE", ArgKind::kNone, "any any", "any", 0,
     "Push an object built from a callable and an argument tuple."},
    {Op::kBuild, 0x62, "BUILD", ArgKind::kNone, "any any", "any", 0,
     "Finish building an object, via __setstate__ or dict update."},
    {Op::kInst, 0x69, "INST", ArgKind::kStringNlNoescapePair, "mark stackslice", "any", 0,
     "Build a class instance."},
    {Op::kObj, 0x6f, "OBJ", ArgKind::kNone, "mark any stackslice", "any", 1,
     "Build a class instance."},
    {Op::kNewobj, 0x81, "NEWOBJ", ArgKind::kNone, "any any", "any", 2,
     "Build an object instance."},
    {Op::kNewobjEx, 0x92, "NEWOBJ_EX", ArgKind::kNone, "any any any", "any", 4,
     "Build an object instance."},
    {Op::kProto, 0x80, "PROTO", ArgKind::kUInt1, "", "", 2,
     "Protocol version indicator."},
    {Op::kStop, 0x2e, "STOP", ArgKind::kNone, "any", "", 0,
     "Stop the unpickling machine."},
    {Op::kFrame, 0x95, "FRAME", ArgKind::kUInt8, "", "", 4,
     "Indicate the beginning of a new frame."},
    {Op::kPersid, 0x50, "PERSID", ArgKind::kStringNlNoescape, "", "any", 0,
     "Push an object identified by a persistent ID."},
    {Op::kBinpersid, 0x51, "BINPERSID", ArgKind::kNone, "any", "any", 1,
     "Push an object identified by a persistent ID."},};

constexpr size_t kOpcodeCount = sizeof(kOpcodes) / sizeof(kOpcodes[0]);
static_assert(kOpcodeCount == 68, "protocols 0-5 define 68 opcodes");

constexpr std::array<int8_t, 256> BuildIndex() {
  std::array<int8_t, 256> index{};
  for (auto& slot : index) slot = -1;
  for (size_t i = 0; i < kOpcodeCount; ++i) {
    index[kOpcodes[i].code] = static_cast<int8_t>(i);
  }
  return index;
}

constexpr std::array<int8_t, 256> kIndex = BuildIndex();

}  // namespace

const OpcodeInfo* AllOpcodes(size_t* count) {
  *count = kOpcodeCount;
  return kOpcodes;
}

namespace {
constexpr std::array<const OpcodeInfo*, 256> BuildPointers() {
  std::array<const OpcodeInfo*, 256> table{};
  for (size_t b = 0; b < 256; ++b) {
    table[b] = kIndex[b] < 0 ? nullptr : &kOpcodes[kIndex[b]];
  }
  return table;
}
}  // namespace

constinit const std::array<const OpcodeInfo*, 256> kOpcodeByByte =
    BuildPointers();

std::string_view OpcodeName(int byte) {
  if (byte < 0 || byte > 255) return "<none>";
  const OpcodeInfo* info = LookupOpcode(static_cast<uint8_t>(byte));
  return info ? info->name : "<unknown>";
}

int FixedOperandSize(ArgKind kind) {
  switch (kind) {
    case ArgKind::kUInt1: return 1;
    case ArgKind::kUInt2: return 2;
    case ArgKind::kInt4:
    case ArgKind::kUInt4: return 4;
    case ArgKind::kUInt8:
    case ArgKind::kFloat8: return 8;
    default: return 0;
  }
}

bool IsLineOperand(ArgKind kind) {
  switch (kind) {
    case ArgKind::kDecimalNlShort:
    case ArgKind::kDecimalNlLong:
    case ArgKind::kFloatNl:
    case ArgKind::kStringNl:
    case ArgKind::kStringNlNoescape:
    case ArgKind::kStringNlNoescapePair:
    case ArgKind::kUnicodeStringNl:
      return true;
    default:
      return false;
  }
}

}  // namespace picklevm
