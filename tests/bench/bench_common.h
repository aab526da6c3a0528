// What the benchmark drivers time, shared by decode_bench.cc (the command
// line driver run_bench.py builds and runs) and bench_decode.cc (the same
// operations as a Google Benchmark suite).
//
//   DecodeStrict  RunPickle in strict mode under the default policy into a
//                 fresh Graph: what `picklevm load` does before it writes
//                 JSON (no JSON, no sha256).
//   DecodeRecord  RunAllPickles in record mode under the default policy:
//                 what `picklevm scan` does before it classifies.
//   OpcodeWalk    the hardware baseline: picklevm's own Reader,
//                 LookupOpcode and DecodeOperand over the stream (FRAME
//                 opens its frame; STOP ends the walk), acting on nothing.
//                 joblib's inline array payloads are not opcodes, so the
//                 walk jumps over the regions a previous decode reported.
//   Memcpy        the other baseline: one memcpy of the input's size into
//                 a buffer that was written once before (no page faults).
#ifndef PICKLEVM_TESTS_BENCH_BENCH_COMMON_H_
#define PICKLEVM_TESTS_BENCH_BENCH_COMMON_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "vm/api/pipeline.h"
#include "vm/base/error.h"
#include "vm/decode/operand.h"
#include "vm/decode/reader.h"
#include "vm/graph/graph.h"
#include "vm/machine/machine.h"
#include "vm/opcodes/opcodes.h"
#include "vm/policy/allowlist.h"

namespace picklevm::bench {

// The whole file in memory (both sides of the in-process comparison decode
// bytes already in memory: CPython's pickle.loads takes a bytes object).
inline bool ReadWholeFile(const char* path, std::string* out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return false;
  }
  out->resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n = read(fd, out->data() + done, out->size() - done);
    if (n <= 0) {
      close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  return true;
}

// The default policy (the embedded allowlists), built once.
inline const Policy* DefaultPolicy() {
  static const Policy* policy = [] {
    auto p = BuildPolicy(false, {});
    if (!p.ok()) {
      std::fprintf(stderr, "bench: default policy: %s\n",
                   std::string(p.status().message()).c_str());
      std::exit(2);
    }
    return static_cast<const Policy*>(p->release());
  }();
  return policy;
}

struct DecodeInfo {
  uint64_t nodes = 0;
  uint64_t arena_used = 0;      // bytes handed out by the graph's arena
  uint64_t arena_reserved = 0;  // bytes the arena took from malloc
  int protocol = -1;
  std::vector<JoblibRegion> regions;
};

// Strict load of the first pickle into `graph` (what `load` runs).
inline absl::Status DecodeStrict(std::string_view data, Graph* graph,
                                 RunResult* run) {
  MachineOptions options;
  options.mode = Mode::kStrict;
  options.policy = DefaultPolicy();
  return RunPickle(data, 0, options, graph, run);
}

// Record mode over every pickle in the stream (what `scan` runs).
inline absl::Status DecodeRecord(std::string_view data, Graph* graph,
                                 std::vector<RunResult>* runs) {
  MachineOptions options;
  options.mode = Mode::kRecord;
  options.policy = DefaultPolicy();
  return RunAllPickles(data, options, graph, runs);
}

inline void Describe(const Graph& graph, const RunResult& run,
                     DecodeInfo* info) {
  info->nodes = graph.node_count();
  info->arena_used = const_cast<Graph&>(graph).arena().bytes_used();
  info->arena_reserved = const_cast<Graph&>(graph).arena().bytes_reserved();
  info->protocol = run.protocol;
  info->regions = run.joblib_regions;
}

// The opcode walk.  *ops counts opcodes; *sink folds every operand so the
// compiler cannot drop the decoding.  Not inlined, so that callgrind's
// --toggle-collect can name it.
__attribute__((noinline)) inline absl::Status OpcodeWalk(std::string_view data,
                               const std::vector<JoblibRegion>& skip,
                               uint64_t* ops, uint64_t* sink) {
  Reader reader(data, 0);
  size_t next_skip = 0;
  uint64_t n = 0, fold = 0;
  for (;;) {
    if (next_skip < skip.size() && reader.pos() == skip[next_skip].start) {
      // joblib commits its frame before an array, so the stream resumes
      // outside any frame.
      reader = Reader(data, skip[next_skip].end);
      ++next_skip;
      continue;
    }
    uint64_t offset = reader.pos();
    reader.SetOpcode(offset, -1);
    if (reader.AtEnd()) {
      return MakeError(ErrorCode::kTruncated, offset, -1, "no STOP");
    }
    std::string_view code;
    PVM_RETURN_IF_ERROR(reader.Read(1, &code));
    const OpcodeInfo* info = LookupOpcode(static_cast<uint8_t>(code[0]));
    if (info == nullptr) {
      return MakeError(ErrorCode::kUnknownOpcode, offset, -1, "not an opcode");
    }
    reader.SetOpcode(offset, info->code);
    Operand arg;
    PVM_RETURN_IF_ERROR(DecodeOperand(reader, *info, &arg));
    fold += arg.u + static_cast<uint64_t>(arg.i) + arg.bytes.size() +
            arg.line2.size();
    ++n;
    if (info->op == Op::kFrame) {
      PVM_RETURN_IF_ERROR(reader.BeginFrame(arg.u));
    } else if (info->op == Op::kStop) {
      break;
    }
  }
  *ops = n;
  *sink += fold;
  return absl::OkStatus();
}

// Keeps a value alive past the optimizer.
template <typename T>
inline void DoNotOptimize(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

}  // namespace picklevm::bench

#endif  // PICKLEVM_TESTS_BENCH_BENCH_COMMON_H_
