// Python's repr() of the operand values the disassembler prints, so `dis`
// matches `python -m pickletools` byte for byte.
#ifndef PICKLEVM_VM_EMIT_PYREPR_H_
#define PICKLEVM_VM_EMIT_PYREPR_H_

#include <string>
#include <string_view>

namespace picklevm {

// repr(str) for a generalized-UTF-8 string.
std::string PyReprStr(std::string_view utf8);
// repr(bytes).
std::string PyReprBytes(std::string_view bytes);
// str.isprintable() for one code point.
bool PyIsPrintable(uint32_t cp);

}  // namespace picklevm

#endif  // PICKLEVM_VM_EMIT_PYREPR_H_
