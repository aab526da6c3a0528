// Inert builders for the builtins that protocols 0-2 use to spell plain
// data: each validates its arguments and returns the data node, or says why
// the arguments break its rule.  Nothing is called.
#ifndef PICKLEVM_VM_BUILDERS_BUILTINS_H_
#define PICKLEVM_VM_BUILDERS_BUILTINS_H_

#include <string>

#include "absl/types/span.h"
#include "vm/graph/graph.h"
#include "vm/policy/policy.h"

namespace picklevm {

struct BuildResult {
  enum Outcome { kBuilt, kConstraint, kNodeLimit, kCopyLimit } outcome = kBuilt;
  Node* node = nullptr;
  std::string reason;  // for kConstraint: which argument rule was broken
};

// The ways a builder ends, for the builders' own use.
inline BuildResult Constraint(std::string reason) {
  BuildResult r;
  r.outcome = BuildResult::kConstraint;
  r.reason = std::move(reason);
  return r;
}
inline BuildResult Built(Node* node) {  // nullptr: the node limit was hit
  BuildResult r;
  if (node == nullptr) r.outcome = BuildResult::kNodeLimit;
  r.node = node;
  return r;
}
// Graph::ChargeCopies refused: the copy would pass --max-copied-items.
inline BuildResult CopyLimit() {
  BuildResult r;
  r.outcome = BuildResult::kCopyLimit;
  return r;
}

// Runs a data builder (kCodecsEncode .. kSlice).  The copyreg helpers are
// the machine's own business (they instantiate classes) and are not here.
BuildResult BuildBuiltin(BuilderId id, Graph& graph,
                         absl::Span<Node* const> args);

}  // namespace picklevm

#endif  // PICKLEVM_VM_BUILDERS_BUILTINS_H_
