// What the numpy nodes (kDtype, kNDArray, kScalar) mean as values: their
// graph-json text and their numbers.  The builders make these nodes; the
// graph (equality of dict keys) and the emitters read them through here.
#ifndef PICKLEVM_VM_GRAPH_NUMPY_VALUES_H_
#define PICKLEVM_VM_GRAPH_NUMPY_VALUES_H_

#include <string>

#include "vm/graph/node.h"

namespace picklevm {

// Deepest nesting of structured/subarray dtypes the builders accept, so the
// dtype writers below may recurse (a bounded, not attacker-chosen, depth).
constexpr int kMaxDtypeDepth = 32;

// Kinds whose dtype.str never carries a byte order.
bool DtypeOrderFree(const DtypeInfo& d);
// numpy's dtype.str of a simple dtype ("<f8", "|S5", "<M8[ns]", "|O").
std::string DtypeStr(const DtypeInfo& d);
// graph-json "<dtype>": a string, or the structured / subarray dict form.
void AppendDtypeJson(const DtypeInfo& d, std::string* out);

// The scalar as a Python number in a temporary node (kBool, kInt, kBigInt,
// kFloat or kComplex; `storage` backs kBigInt text).  False when it has no
// numeric value (strings, datetimes, long double).
bool ScalarNumber(const ScalarInfo& s, Node* out, std::string* storage);

}  // namespace picklevm

#endif  // PICKLEVM_VM_GRAPH_NUMPY_VALUES_H_
