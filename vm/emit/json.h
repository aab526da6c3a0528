// The picklevm-graph/1 value encoding (shared/spec/graph-json.md).
//
// Two iterative passes over the graph, no recursion: the first walks the
// value positions in document order, counts how often each value is reached
// (to know which get {"$id"} wrappers) and measures the nesting depth; the
// second writes.  Output goes through a buffer that the caller may flush as
// it fills, so a large graph is never held twice in memory.
#ifndef PICKLEVM_VM_EMIT_JSON_H_
#define PICKLEVM_VM_EMIT_JSON_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "vm/base/json_text.h"
#include "vm/graph/node.h"

namespace picklevm {

// Accumulates output; calls `flush` (if set) whenever 1 MiB has gathered.
struct OutBuffer {
  std::string data;
  std::function<void(std::string_view)> flush;
  void MaybeFlush() {
    if (flush && data.size() >= (1u << 20)) {
      flush(data);
      data.clear();
    }
  }
  void Finish() {
    if (flush && !data.empty()) {
      flush(data);
      data.clear();
    }
  }
};

// The SHA-256 of array data, by the bytes an array views.  Arrays that view
// the same bytes (any number of arrays whose states name one memoized bytes
// object) are hashed once, so the hashing a document costs is bounded by the
// input's size, not by arrays x size (a 1 MB input could otherwise ask for
// terabytes of hashing).
class ArrayDigests {
 public:
  const std::string& Get(std::string_view data);
  // How many distinct views were hashed.
  size_t size() const { return map_.size(); }

 private:
  absl::flat_hash_map<std::pair<const char*, size_t>, std::string> map_;
};

// How $ndarray data is written (load --arrays).
struct EmitOptions {
  enum class Arrays { kSummary, kInline, kFiles } arrays = Arrays::kSummary;
  // kFiles: writes the array somewhere and returns the relative path that
  // goes into data.file.
  std::function<std::string(const ArrayInfo&)> write_array;
  // Digests computed beforehand (or on the way, shared by several
  // documents); nullptr: the encoder keeps its own.
  ArrayDigests* digests = nullptr;
  // The most bytes Prepare lets the values come to (--max-output-bytes):
  // a stream can name one memoized str from any number of places, and a
  // str is written in full at each (graph-json.md gives it no $id), so 3.9
  // KB of zlib could ask for a terabyte of JSON.
  uint64_t max_output_bytes = UINT64_MAX;
};

class JsonEncoder {
 public:
  JsonEncoder() { options_.digests = &own_digests_; }
  explicit JsonEncoder(EmitOptions options) : options_(std::move(options)) {
    if (options_.digests == nullptr) options_.digests = &own_digests_;
  }
  JsonEncoder(const JsonEncoder&) = delete;
  JsonEncoder& operator=(const JsonEncoder&) = delete;
  // Pass 1 over the values reachable from `roots` (encoded later in that
  // order, sharing one $id numbering).  Fails with kLimit when the nesting
  // exceeds max_depth, or when what Write would write (reckoned on the
  // way: estimate()) exceeds options.max_output_bytes.
  absl::Status Prepare(const std::vector<Node*>& roots, uint64_t max_depth);
  // After Prepare: at least the bytes Write will write for its roots (texts
  // are reckoned at their longest escaped form, 8 bytes a byte).
  uint64_t estimate() const { return estimate_; }
  // Pass 2: appends the encoding of one prepared root.
  void Write(Node* root, OutBuffer* out);
  // Clears the scratch marks of every prepared node.
  ~JsonEncoder();

 private:
  EmitOptions options_;
  ArrayDigests own_digests_;
  std::vector<Node*> seen_;
  // $id numbers of the shared nodes written so far: a side table rather
  // than a field, since only shared nodes need one and every node would
  // pay for the field.
  absl::flat_hash_map<const Node*, uint32_t> ids_;
  // What a node's own text comes to, at most (its children's apart).
  uint64_t LeafEstimate(const Node* n);
  uint64_t OtherEstimate(const Node* n);  // LeafEstimate's rarer kinds
  uint64_t DtypeEstimate(const DtypeInfo* d);
  uint64_t KeyEstimate(const Node* key);
  uint64_t estimate_ = 0;
  absl::flat_hash_map<const DtypeInfo*, uint64_t> dtype_sizes_;
  absl::flat_hash_map<const Node*, uint64_t> text_sizes_;  // long texts
  absl::flat_hash_map<const Node*, uint64_t> key_sizes_;   // long keywords
};


}  // namespace picklevm

#endif  // PICKLEVM_VM_EMIT_JSON_H_
