#include "vm/api/pipeline.h"

#include "vm/base/error.h"
#include "vm/base/strcat.h"

namespace picklevm {

Limits ResolveLimits(const Limits& given, uint64_t file_bytes) {
  Limits l = given;
  if (l.max_decompressed_bytes == 0) {
    l.max_decompressed_bytes = DefaultMaxDecompressed(file_bytes);
  }
  if (l.max_graph_bytes == 0) l.max_graph_bytes = DefaultMaxGraphBytes(file_bytes);
  if (l.max_output_bytes == 0) {
    l.max_output_bytes = DefaultMaxOutputBytes(file_bytes);
  }
  return l;
}

absl::Status OpenStream(std::string_view file, const Limits& limits,
                        Stream* out) {
  if (IsOldJoblibZFile(file)) {
    return MakeError(ErrorCode::kValue, 0, -1,
                     "joblib's pre-0.9.3 'ZF' file format is not supported");
  }
  out->codec = DetectCodec(file);
  if (out->codec == Codec::kNone) {
    out->bytes = file;
    return absl::OkStatus();
  }
  uint64_t max_out = limits.max_decompressed_bytes
                         ? limits.max_decompressed_bytes
                         : DefaultMaxDecompressed(file.size());
  absl::Status s = Decompress(file, out->codec, max_out, &out->decompressed);
  out->bytes = out->decompressed;  // on error, what came out before it
  return s;
}

std::string ContainerName(Codec codec, bool has_joblib_arrays) {
  if (codec != Codec::kNone) return StrCat("joblib+", CodecName(codec));
  return has_joblib_arrays ? "joblib" : "pickle";
}

absl::Status LoadFirstPickle(std::string_view stream,
                             const MachineOptions& options, Graph* graph,
                             RunResult* result) {
  PVM_RETURN_IF_ERROR(RunPickle(stream, 0, options, graph, result));
  if (result->end < stream.size()) {
    result->warnings.push_back(StrCat(stream.size() - result->end,
                                      " bytes after STOP at offset ",
                                      result->end - 1));
  }
  return absl::OkStatus();
}

absl::Status RunAllPickles(std::string_view stream,
                           const MachineOptions& options, Graph* graph,
                           std::vector<RunResult>* runs) {
  uint64_t pos = 0;
  do {
    runs->emplace_back();
    PVM_RETURN_IF_ERROR(RunPickle(stream, pos, options, graph, &runs->back()));
    pos = runs->back().end;
  } while (pos < stream.size());
  return absl::OkStatus();
}

}  // namespace picklevm
