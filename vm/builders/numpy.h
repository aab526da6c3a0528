// Inert builders for numpy: dtypes, arrays and scalars become graph nodes
// from their pickled spelling, with every length, shape and field checked
// and nothing of numpy executed.
//
//   numpy.dtype(typestr, False, True) + BUILD state   -> kDtype
//   numpy.core.multiarray._reconstruct(cls, (0,), b'b')
//       + BUILD (1, shape, dtype, is_fortran, data)   -> kNDArray
//   numpy.core.numeric._frombuffer(buf, dtype, shape, order) -> kNDArray
//   numpy.core.multiarray.scalar(dtype, data)         -> kScalar
#ifndef PICKLEVM_VM_BUILDERS_NUMPY_H_
#define PICKLEVM_VM_BUILDERS_NUMPY_H_

#include <string>

#include "absl/types/span.h"
#include "vm/builders/builtins.h"
#include "vm/graph/graph.h"

namespace picklevm {

// The builders' outcome reuses BuildResult: kConstraint for arguments that
// break the rule (a refusal in strict mode), with `reason`.
BuildResult BuildDtype(Graph& graph, absl::Span<Node* const> args);
BuildResult BuildNdarrayReconstruct(Graph& graph,
                                    absl::Span<Node* const> args);
BuildResult BuildNdarrayFrombuffer(Graph& graph,
                                   absl::Span<Node* const> args);
BuildResult BuildScalar(Graph& graph, absl::Span<Node* const> args);

// The shape tuple of an array of `dtype` into *shape, and its data size;
// false with *why when the shape is not non-negative ints or overflows.
bool ArrayByteSize(Graph& graph, const Node* shape_tuple, const Node* dtype,
                   ArenaVec<uint64_t>* shape, uint64_t* nbytes,
                   std::string* why);

// BUILD on a dtype or an array made by the builders above.  ApplyDtypeState
// returns kBuilt, kConstraint with *why when the state is not what numpy
// writes (malformed input), or kCopyLimit (its fields would pass
// --max-copied-items); ApplyNdarrayState false with *why when malformed.
BuildResult::Outcome ApplyDtypeState(Graph& graph, Node* dtype, Node* state,
                                     std::string* why);
bool ApplyNdarrayState(Graph& graph, Node* array, Node* state,
                       std::string* why);

}  // namespace picklevm

#endif  // PICKLEVM_VM_BUILDERS_NUMPY_H_
