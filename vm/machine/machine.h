// The pickle stack machine.  It runs one pickle (up to its STOP) from a byte
// offset of the input and builds the inert graph; nothing is imported,
// called or executed.
//
// Like CPython's Modules/_pickle.c, objects and MARKs live on separate
// stacks and the top MARK is a fence: every pop goes through one checked
// helper that refuses to cross it.  There is no recursion anywhere: the
// machine is a loop over opcodes, and the graph, hashing and the emitters
// are iterative, so nesting depth costs heap, never C stack.
//
// Bounds (each a documented Limits field): the input size; the object stack
// plus MARK stack; the memo's entry count; the graph's node count; the
// decimal digits of one int.  Each opcode consumes at least one input byte
// and creates at most one node, so with the defaults peak memory is a small
// constant multiple of the input plus a fixed overhead (see README).
#ifndef PICKLEVM_VM_MACHINE_MACHINE_H_
#define PICKLEVM_VM_MACHINE_MACHINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "vm/graph/graph.h"
#include "vm/policy/policy.h"

namespace picklevm {

struct Limits {
  uint64_t max_input_bytes = uint64_t{64} << 30;   // 64 GiB
  uint64_t max_depth = 1000000;                    // graph nesting
  uint64_t max_memo = 100000000;                   // memo entries
  uint64_t max_stack = 100000000;                  // stack items + MARKs
  uint64_t max_nodes = 1000000000;                 // graph nodes
  uint64_t max_int_digits = 4300;                  // CPython's default
  uint64_t max_decompressed_bytes = 0;             // 0: derived (joblib)
  // Items builders copy out of containers the stream built before (see
  // Graph::ChargeCopies); 0: derived, DefaultMaxCopiedItems.
  uint64_t max_copied_items = 0;
  // Bytes of the graph's arena: its nodes, containers and strings.  The
  // stack and the memo are held to as many bytes again each: each takes at
  // most max_graph_bytes / 16 items (an item's pointer, and as much again
  // while its array grows).  0: derived, DefaultMaxGraphBytes of the
  // file's size (RunPickle, told nothing else, takes the stream's).
  uint64_t max_graph_bytes = 0;
  // Bytes of JSON a document (load, trace --format json) may come to,
  // reckoned before it is written (JsonEncoder::Prepare).  0: derived,
  // DefaultMaxOutputBytes of the file's size (the emitters, told nothing,
  // have no bound).
  uint64_t max_output_bytes = 0;
};


// The default --max-graph-bytes for a file of this size: 256 bytes per
// byte of the file, and 64 MiB more.  An ordinary pickle's graph takes 3
// to 5 bytes per byte of its stream; every opcode makes at most one node,
// so no plain file comes near the bound (measured: about 190 bytes of
// whole-process memory per byte at worst).  It matters for a compressed
// file, whose stream may be a hundred times the file or 64 MiB of a tiny
// one: without it, 103 bytes of bz2 decompressing to 60 million EMPTY_DICTs
// took 4.3 GB.
constexpr uint64_t DefaultMaxGraphBytes(uint64_t file_bytes) {
  constexpr uint64_t kFloor = uint64_t{64} << 20;
  return file_bytes > (UINT64_MAX - kFloor) / 256 ? UINT64_MAX
                                                  : 256 * file_bytes + kFloor;
}

// The default --max-output-bytes: 256 bytes per byte of the file, and 64
// MiB more.  An ordinary document is a few times its pickle (a str the
// stream shares is written at each place, 50 times its 2-byte BINGET for
// a 100-char str); a quadratic one -- one memoized 1 MB str in 4,000 list
// items, 4 GB of JSON from 1 MB -- is refused before anything is written.
constexpr uint64_t DefaultMaxOutputBytes(uint64_t file_bytes) {
  return DefaultMaxGraphBytes(file_bytes);
}

// The default --max-copied-items for an input of this size: 2 items per
// input byte, and 65,536 more.  A pickler never names one container in two
// copying calls (each set or _reconstructor state it writes is a fresh
// list, tuple or dict of its own, whose every item an opcode of at least
// one byte pushed), so an ordinary stream copies at most one item per
// byte; the bound keeps a hostile one within a few dozen bytes of graph
// per input byte.
constexpr uint64_t DefaultMaxCopiedItems(uint64_t input_bytes) {
  return input_bytes > (UINT64_MAX - 65536) / 2 ? UINT64_MAX
                                                : 2 * input_bytes + 65536;
}

enum class Mode : uint8_t {
  kStrict,  // refuse what the policy does not admit; enforce Strictness
  kRecord,  // refuse nothing; record every global and call
};

// An out-of-band buffer for NEXT_BUFFER (protocol 5).
struct OutOfBandBuffer {
  std::string_view data;
  bool readonly = true;
};

struct MachineOptions {
  Mode mode = Mode::kStrict;
  Limits limits;
  const Policy* policy = nullptr;  // nullptr: BuiltinPolicy()
  // NEXT_BUFFER fails unless buffers were supplied (even an empty list).
  bool have_buffers = false;
  std::vector<OutOfBandBuffer> buffers;
  // Read joblib's inline arrays after the BUILD of a NumpyArrayWrapper (as
  // joblib's NumpyUnpickler does).  Off for the nested pickles of object
  // arrays, which joblib reads with a plain pickle.load.
  bool joblib_arrays = true;
  // Run the common data opcodes through the machine's fast path (see
  // FastRun in machine.cc).  Off, every opcode takes the general path; the
  // result must be identical, which the fuzz targets check on every input.
  bool fast_path = true;
  // copyreg's extension registry, if the caller has one: code -> global.
  absl::flat_hash_map<int64_t, std::pair<std::string, std::string>>
      extension_registry;
};

// What record mode saw: one entry per use of a global, persistent id or
// extension code, in stream order.
struct Finding {
  std::string global;   // "module:qualname"; empty for persid/ext
  std::string use;      // reference | instantiate | call | persistent-id |
                        // extension-code
  uint64_t offset = 0;
  bool allowed = false;
  std::string detail;   // the persistent id or extension code, as text
};

// A call the stream makes (record mode), admitted or not, in stream order.
struct CallEvent {
  Node* callable = nullptr;      // usually a kGlobal
  // In the graph's arena (valid as long as the graph): the arguments of a
  // call that unpacks a tuple (REDUCE, NEWOBJ, copyreg.__newobj_ex__) are
  // that tuple's own items, so a tuple that a stream unpacks in any number
  // of calls is held once.
  absl::Span<Node* const> args;
  Node* kwargs = nullptr;        // kDict or nullptr
  uint32_t kwargs_size = 0;      // its entries at the call (see Record)
  uint64_t offset = 0;           // the opcode that made the call
  uint8_t opcode = 0;
  bool admitted = false;
  Node* result = nullptr;        // what the graph holds for the result
  Use use = Use::kCall;
  // A BUILD applying args[0] as the state of `result` (an instance made by
  // an earlier event): trace --format python shows it in stream order.  Not
  // a call of anything, so JSON's "calls" leaves it out.
  bool build = false;
};

// A stretch of the stream that is joblib's array payload, not opcodes.
struct JoblibRegion {
  uint64_t start = 0;      // the padding-length byte, or the nested pickle
  uint64_t data = 0;       // first byte of the array data
  uint64_t end = 0;        // just past the array data / nested pickle
  bool nested_pickle = false;  // an object array: a pickle of its own
};

struct RunResult {
  Node* root = nullptr;
  int protocol = -1;         // first PROTO operand, -1 when none
  uint64_t end = 0;          // offset just past STOP
  std::vector<std::string> warnings;
  std::vector<Finding> findings;
  // Record mode: every call the stream makes, in order.
  std::vector<CallEvent> calls;
  // joblib arrays read inline (the stream is a joblib file when non-empty).
  std::vector<JoblibRegion> joblib_regions;
};

// Runs the pickle that starts at `start` in `input` into `graph`.  The graph
// must outlive the views into `input` only as long as `input` lives.
// On error the partial result (findings, calls) is left in *result, which
// record mode uses to report what happened before the malformed byte.
absl::Status RunPickle(std::string_view input, uint64_t start,
                       const MachineOptions& options, Graph* graph,
                       RunResult* result);

}  // namespace picklevm

#endif  // PICKLEVM_VM_MACHINE_MACHINE_H_
