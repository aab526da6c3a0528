// NumPy's .npy format (version 1.0, or 2.0 for headers over 64 KiB): what
// `load --arrays DIR` writes, readable by numpy.load(path,
// allow_pickle=False) with dtype, order and shape preserved.
#ifndef PICKLEVM_VM_EMIT_NPY_H_
#define PICKLEVM_VM_EMIT_NPY_H_

#include <string>

#include "absl/status/status.h"
#include "vm/graph/node.h"

namespace picklevm {

// The header (magic, version, length, dict) for the array; fails for object
// arrays (a .npy of objects needs pickle) and for dtypes numpy's descr
// cannot spell (overlapping fields).
absl::Status NpyHeader(const ArrayInfo& array, std::string* header);

}  // namespace picklevm

#endif  // PICKLEVM_VM_EMIT_NPY_H_
