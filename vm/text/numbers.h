// The text number grammars of the protocol-0 opcodes, exactly as CPython's C
// unpickler (Modules/_pickle.c) applies them -- including its quirks, since
// picklevm's reference is what pickle.loads really does:
//   INT   strtol(base 0) first ("010" is 8, "-0"/"+1" on a 3-byte line are
//         bools), falling back to int(text, 0);
//   LONG  int(text, 0) after dropping one trailing 'L';
//   GET/PUT  int(text, 10);
//   FLOAT PyOS_string_to_double: no surrounding spaces, no '_', overflow is
//         an error, underflow is not.
// Every parser treats an embedded NUL as the end of the text, as the C
// string handling there does.
#ifndef PICKLEVM_VM_TEXT_NUMBERS_H_
#define PICKLEVM_VM_TEXT_NUMBERS_H_

#include <cstdint>
#include <string_view>

#include "vm/text/bigint.h"

namespace picklevm {

enum class NumParse { kOk, kInvalid, kTooManyDigits, kOverflow };

// int(text, base) with base 0 or 10: whitespace around, sign, base prefixes
// (base 0), single underscores between digits.  `text` may end with the
// line's '\n' (trailing whitespace).  Decimal literals longer than
// max_digits fail with kTooManyDigits (CPython's int_max_str_digits).
NumParse ParsePythonInt(std::string_view text, int base, uint64_t max_digits,
                        PyInt* out);

// The INT opcode: `line` is the operand including its '\n'.
// Sets *is_bool when CPython would push True/False.
NumParse ParseIntOpcode(std::string_view line, uint64_t max_digits,
                        PyInt* out, bool* is_bool);

// The LONG opcode: `line` includes its '\n'.
NumParse ParseLongOpcode(std::string_view line, uint64_t max_digits,
                         PyInt* out);

// The FLOAT opcode: `line` includes its '\n'.
NumParse ParseFloatOpcode(std::string_view line, double* out);

// The common FLOAT line, a repr() such as "0.25158329759496567": a number
// that starts with a digit or '.' (after an optional '-') and that
// std::from_chars reads exactly up to a '\n' inside `s` (where that
// decimal grammar is Python's).  Returns the number's length (s[len] is the
// '\n') and sets *out; 0 for any other shape -- '+', inf/nan, overflow and
// underflow, stray characters, no '\n' in `s` -- which ParseFloatOpcode's
// checked path decides.  `s` may run past the line: the parse stops at its
// '\n'.
size_t ParseReprFloat(std::string_view s, double* out);

}  // namespace picklevm

#endif  // PICKLEVM_VM_TEXT_NUMBERS_H_
