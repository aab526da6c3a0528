// The steps every command shares: recognize the container by content,
// decompress it under the limit, and run its pickle(s).  This is also the
// library entry point for a C++ program that wants the graph of a file.
#ifndef PICKLEVM_VM_API_PIPELINE_H_
#define PICKLEVM_VM_API_PIPELINE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "vm/graph/graph.h"
#include "vm/io/container.h"
#include "vm/machine/machine.h"

namespace picklevm {

// The stream a file holds, after decompression.
struct Stream {
  Codec codec = Codec::kNone;
  std::string_view bytes;    // the pickle stream (a view of the file or of
  std::string decompressed;  // this buffer)
};

// The limits a file gets: the derived ones (0: max_decompressed_bytes,
// max_graph_bytes, max_output_bytes) computed from the size of the file as given, so that a
// compressed file is bounded by its own size, not its stream's.  The
// others as they are (max_copied_items derives from the stream, in
// RunPickle).  Pass the result to OpenStream and in MachineOptions: left
// at 0, RunPickle derives the graph's budget from the stream it is given,
// which for a compressed file is the decompressed one.
Limits ResolveLimits(const Limits& given, uint64_t file_bytes);

// Recognizes the file and decompresses it (limits.max_decompressed_bytes,
// 0 = DefaultMaxDecompressed).  Fails for joblib's pre-0.9.3 "ZF" files.
// When decompression fails, out->bytes still holds what came out before
// the failure.
absl::Status OpenStream(std::string_view file, const Limits& limits,
                        Stream* out);

// "pickle", "joblib" or "joblib+<codec>".
std::string ContainerName(Codec codec, bool has_joblib_arrays);

// Strict load: the first pickle.  A pickle that ends before the stream does
// gets a warning naming the trailing bytes.
absl::Status LoadFirstPickle(std::string_view stream,
                             const MachineOptions& options, Graph* graph,
                             RunResult* result);

// Record mode: every pickle back to back, as a loader calling load() until
// the input is used up would run them.  `runs` keeps what each pickle did,
// including the one that failed (its findings and calls before the error).
absl::Status RunAllPickles(std::string_view stream,
                           const MachineOptions& options, Graph* graph,
                           std::vector<RunResult>* runs);

}  // namespace picklevm

#endif  // PICKLEVM_VM_API_PIPELINE_H_
