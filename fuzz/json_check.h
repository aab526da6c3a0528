// A small, iterative JSON checker for the fuzzers' property tests: the text
// must parse as JSON, and in graph-json every {"$ref": N} must name an id
// that a {"$id": N, ...} defined earlier in document order, with ids
// numbered 0, 1, 2, ... as they appear.
#ifndef PICKLEVM_FUZZ_JSON_CHECK_H_
#define PICKLEVM_FUZZ_JSON_CHECK_H_

#include <string>
#include <string_view>

namespace picklevm {

// Empty on success, else what is wrong and where.
std::string CheckGraphJson(std::string_view text, bool check_ids = true);

}  // namespace picklevm

#endif  // PICKLEVM_FUZZ_JSON_CHECK_H_
