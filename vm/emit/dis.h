// The disassembler: one line per opcode exactly as `python -m pickletools`
// prints it (offset, opcode byte, MARK indentation, name, operand repr,
// "(MARK at N)", "(as N)"), then the highest protocol line.  It reads the
// stream with the same operand decoder as the machine, so what it shows is
// what the machine runs; it stops at STOP or the first malformed byte.
#ifndef PICKLEVM_VM_EMIT_DIS_H_
#define PICKLEVM_VM_EMIT_DIS_H_

#include <cstdint>
#include <string_view>

#include <vector>

#include "absl/status/status.h"
#include "vm/emit/json.h"
#include "vm/machine/machine.h"

namespace picklevm {

struct DisOptions {
  int indent = 4;                  // blanks per open MARK
  // Indentation stops growing past this many open MARKs; a deeper line
  // shows its depth instead ("[depth N] ").  pickletools indents without
  // end, so 40 KB of nested MARKs printed 3.2 GB: this keeps a line's
  // indentation at most indent * max_indent_marks blanks.
  size_t max_indent_marks = 32;
  uint64_t max_int_digits = 4300;  // longer ints print as <int of N bytes>
  // joblib's inline arrays (from a record-mode run): raw data is one line;
  // an object array's own pickle is disassembled in place and its STOP does
  // not end the listing.
  std::vector<JoblibRegion> regions;
};

// Disassembles the pickle at `start`.  Lines already decoded stay in *out
// when an error is returned.  *end is set past STOP on success.
absl::Status Disassemble(std::string_view input, uint64_t start,
                         const DisOptions& options, OutBuffer* out,
                         uint64_t* end);

}  // namespace picklevm

#endif  // PICKLEVM_VM_EMIT_DIS_H_
