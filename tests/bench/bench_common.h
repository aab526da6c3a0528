// What the benchmark drivers time, shared by decode_bench.cc (the command
// line driver run_bench.py builds and runs) and bench_decode.cc (the same
// operations as a Google Benchmark suite).
//
//   DecodeStrict  RunPickle in strict mode under the default policy into a
//                 fresh Graph: what `picklevm load` does before it writes
//                 JSON (no JSON, no sha256).
//   DecodeRecord  RunAllPickles in record mode under the default policy:
//                 what `picklevm scan` does before it classifies.
//   OpcodeWalk    the hardware baseline: a tight loop that finds every
//                 opcode and steps over its operand (length prefixes read
//                 and bounds-checked, lines found with memchr) and acts on
//                 nothing; STOP ends it.  joblib's inline array payloads are
//                 not opcodes, so the walk jumps over the regions a previous
//                 decode reported.
//   Memcpy        the other baseline: one memcpy of the input's size into
//                 a buffer that was written once before (no page faults).
#ifndef PICKLEVM_TESTS_BENCH_BENCH_COMMON_H_
#define PICKLEVM_TESTS_BENCH_BENCH_COMMON_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
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

// How the walk steps over an opcode's operand, per opcode byte.
struct WalkStep {
  uint8_t valid = 0;   // an opcode at all
  uint8_t fixed = 0;   // fixed operand bytes
  uint8_t count = 0;   // width of a length prefix (1, 4, 8), 0: none
  uint8_t lines = 0;   // newline-terminated lines (1 or 2)
};

inline const std::array<WalkStep, 256>& WalkTable() {
  static const std::array<WalkStep, 256> table = [] {
    std::array<WalkStep, 256> t{};
    for (int b = 0; b < 256; ++b) {
      const OpcodeInfo* info = LookupOpcode(static_cast<uint8_t>(b));
      if (info == nullptr) continue;
      WalkStep& w = t[b];
      w.valid = 1;
      switch (info->arg) {
        case ArgKind::kLong1: case ArgKind::kString1: case ArgKind::kBytes1:
        case ArgKind::kUnicodeString1:
          w.count = 1;
          break;
        case ArgKind::kLong4: case ArgKind::kString4: case ArgKind::kBytes4:
        case ArgKind::kUnicodeString4:
          w.count = 4;
          break;
        case ArgKind::kBytes8: case ArgKind::kBytearray8:
        case ArgKind::kUnicodeString8:
          w.count = 8;
          break;
        case ArgKind::kStringNlNoescapePair:
          w.lines = 2;
          break;
        default:
          if (IsLineOperand(info->arg)) {
            w.lines = 1;
          } else {
            w.fixed = static_cast<uint8_t>(FixedOperandSize(info->arg));
          }
      }
    }
    return t;
  }();
  return table;
}

// The opcode walk, the hardware baseline for decoding: as little as a loop
// can do and still find every opcode -- one table lookup per opcode, the
// operand's length read and checked against the input, lines found with
// memchr.  No Reader, no Status, no frame rules, nothing built.  *ops counts
// opcodes; *sink folds one byte of every operand so the compiler cannot drop
// the reads.  Not inlined, so that callgrind's --toggle-collect can name it.
__attribute__((noinline)) inline absl::Status OpcodeWalk(std::string_view data,
                               const std::vector<JoblibRegion>& skip,
                               uint64_t* ops, uint64_t* sink) {
  const auto& table = WalkTable();
  const auto* base = reinterpret_cast<const uint8_t*>(data.data());
  const uint64_t size = data.size();
  uint64_t pos = 0;
  size_t next_skip = 0;
  uint64_t n = 0, fold = 0;
  for (;;) {
    if (next_skip < skip.size() && pos == skip[next_skip].start) {
      pos = skip[next_skip].end;  // joblib's array bytes are not opcodes
      ++next_skip;
      continue;
    }
    if (pos >= size) return MakeError(ErrorCode::kTruncated, pos, -1, "no STOP");
    const uint8_t op = base[pos];
    const WalkStep w = table[op];
    if (!w.valid) {
      return MakeError(ErrorCode::kUnknownOpcode, pos, -1, "not an opcode");
    }
    ++pos;
    ++n;
    uint64_t left = size - pos;
    if (w.count != 0) {
      if (left < w.count) break;
      uint64_t len = 0;
      std::memcpy(&len, base + pos, w.count);  // little-endian host
      pos += w.count;
      left -= w.count;
      if (len > left) break;
      fold += len;
      pos += len;
    } else if (w.lines != 0) {
      for (int l = 0; l < w.lines; ++l) {
        const void* nl = std::memchr(base + pos, '\n', size - pos);
        if (nl == nullptr) return MakeError(ErrorCode::kTruncated, pos, -1, "no newline");
        pos = static_cast<const uint8_t*>(nl) - base + 1;
      }
    } else {
      if (left < w.fixed) break;
      if (w.fixed) fold += base[pos];
      pos += w.fixed;
    }
    if (op == static_cast<uint8_t>(Op::kStop)) {
      *ops = n;
      *sink += fold;
      return absl::OkStatus();
    }
  }
  return MakeError(ErrorCode::kTruncated, pos, -1, "operand past the end");
}

// Keeps a value alive past the optimizer.
template <typename T>
inline void DoNotOptimize(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

}  // namespace picklevm::bench

#endif  // PICKLEVM_TESTS_BENCH_BENCH_COMMON_H_
