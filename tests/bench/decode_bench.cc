// In-process timing driver for run_bench.py.
//
//   decode_bench FILE [--modes strict,record,walk,memcpy,sha256]
//                     [--repeat N] [--min-seconds S] [--warmup N]
//                     [--no-probe]
//
// Reads FILE into memory, then times each mode (see bench_common.h) at
// least N times and for at least S seconds (at most 10,000 runs), after
// `warmup` untimed runs, and prints one JSON object: the input size, what
// the strict decode built (nodes, arena bytes), the opcode count, and every
// run's nanoseconds per mode.  Each strict/record run decodes into a fresh
// Graph; the Graph's construction is timed, its destruction is not (it is
// reported separately as strict_teardown), as CPython's side times
// pickle.loads and drops the result outside the timed region.
//
// Before the timed modes, one untimed strict decode (the probe) checks that
// the input loads and finds joblib's array regions for the walk;
// --no-probe skips it (the figures it gives are then zero).  For callgrind:
// --no-probe --repeat 1 --warmup 0 --min-seconds 0 --modes strict with
// --toggle-collect='picklevm::RunPickle*' (or --modes walk with
// --toggle-collect='picklevm::bench::OpcodeWalk*').
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tests/bench/bench_common.h"
#include "vm/base/sha256.h"

namespace picklevm::bench {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t Nanos(Clock::time_point a, Clock::time_point b) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

struct Options {
  std::string file;
  std::vector<std::string> modes = {"strict", "record", "walk", "memcpy"};
  int repeat = 5;
  double min_seconds = 0.5;
  int warmup = 1;
  bool probe = true;
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "decode_bench: %s\nusage: decode_bench FILE [--modes "
               "strict,record,walk,memcpy,sha256] [--repeat N] "
               "[--min-seconds S] [--warmup N] [--no-probe]\n",
               why);
  std::exit(64);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage("option needs a value");
      return argv[++i];
    };
    if (a == "--modes") {
      o.modes = Split(value());
    } else if (a == "--repeat") {
      o.repeat = std::atoi(value().c_str());
    } else if (a == "--min-seconds") {
      o.min_seconds = std::atof(value().c_str());
    } else if (a == "--no-probe") {
      o.probe = false;
    } else if (a == "--warmup") {
      o.warmup = std::atoi(value().c_str());
    } else if (!a.empty() && a[0] == '-') {
      Usage("unknown option");
    } else if (o.file.empty()) {
      o.file = a;
    } else {
      Usage("one FILE only");
    }
  }
  if (o.file.empty()) Usage("missing FILE");
  if (o.repeat < 1) o.repeat = 1;
  return o;
}

[[noreturn]] void Fail(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "decode_bench: %s: %s\n", what,
               std::string(s.message()).c_str());
  std::exit(2);
}

// Runs `body` (which returns its own measured nanoseconds) warmup times
// untimed, then until both `repeat` runs and `min_seconds` have passed.
template <typename Body>
std::vector<uint64_t> Measure(const Options& o, Body body) {
  for (int i = 0; i < o.warmup; ++i) body();
  std::vector<uint64_t> runs;
  auto start = Clock::now();
  while (runs.size() < static_cast<size_t>(o.repeat) ||
         (std::chrono::duration<double>(Clock::now() - start).count() <
              o.min_seconds &&
          runs.size() < 10000)) {
    runs.push_back(body());
  }
  return runs;
}

void PrintRuns(const char* name, const std::vector<uint64_t>& runs,
               bool* first) {
  std::printf("%s\"%s\":[", *first ? "" : ",", name);
  for (size_t i = 0; i < runs.size(); ++i) {
    std::printf("%s%llu", i ? "," : "",
                static_cast<unsigned long long>(runs[i]));
  }
  std::printf("]");
  *first = false;
}

int Main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  std::string data;
  if (!ReadWholeFile(o.file.c_str(), &data)) {
    std::fprintf(stderr, "decode_bench: cannot read %s\n", o.file.c_str());
    return 2;
  }
  std::string_view input(data);
  (void)DefaultPolicy();  // parse the allowlists before anything is timed

  // One strict decode up front: what it builds, and joblib's regions for
  // the walk.  Also checks that the input loads at all.
  DecodeInfo info;
  if (o.probe) {
    Graph graph;
    RunResult run;
    if (auto s = DecodeStrict(input, &graph, &run); !s.ok()) {
      Fail("strict decode", s);
    }
    Describe(graph, run, &info);
  }

  bool first = true;
  std::printf("{\"file\":\"%s\",\"bytes\":%zu,\"nodes\":%llu,"
              "\"arena_used\":%llu,\"arena_reserved\":%llu,\"protocol\":%d,"
              "\"joblib_regions\":%zu,\"runs\":{",
              o.file.c_str(), data.size(),
              static_cast<unsigned long long>(info.nodes),
              static_cast<unsigned long long>(info.arena_used),
              static_cast<unsigned long long>(info.arena_reserved),
              info.protocol, info.regions.size());
  uint64_t opcodes = 0, sink = 0;
  for (const std::string& mode : o.modes) {
    if (mode == "strict") {
      std::vector<uint64_t> teardown;
      auto runs = Measure(o, [&] {
        auto t0 = Clock::now();
        auto graph = std::make_unique<Graph>();
        RunResult run;
        absl::Status s = DecodeStrict(input, graph.get(), &run);
        auto t1 = Clock::now();
        if (!s.ok()) Fail("strict decode", s);
        DoNotOptimize(run.root);
        graph.reset();
        teardown.push_back(Nanos(t1, Clock::now()));
        return Nanos(t0, t1);
      });
      PrintRuns("strict", runs, &first);
      PrintRuns("strict_teardown", teardown, &first);
    } else if (mode == "record") {
      auto runs = Measure(o, [&] {
        auto t0 = Clock::now();
        auto graph = std::make_unique<Graph>();
        std::vector<RunResult> runs;
        absl::Status s = DecodeRecord(input, graph.get(), &runs);
        auto t1 = Clock::now();
        if (!s.ok()) Fail("record decode", s);
        DoNotOptimize(runs.data());
        return Nanos(t0, t1);
      });
      PrintRuns("record", runs, &first);
    } else if (mode == "walk") {
      auto runs = Measure(o, [&] {
        auto t0 = Clock::now();
        absl::Status s = OpcodeWalk(input, info.regions, &opcodes, &sink);
        auto t1 = Clock::now();
        if (!s.ok()) Fail("opcode walk", s);
        return Nanos(t0, t1);
      });
      PrintRuns("walk", runs, &first);
    } else if (mode == "memcpy") {
      std::unique_ptr<char[]> dst(new char[data.size() + 1]);
      std::memset(dst.get(), 0, data.size() + 1);  // fault the pages in once
      auto runs = Measure(o, [&] {
        auto t0 = Clock::now();
        std::memcpy(dst.get(), data.data(), data.size());
        DoNotOptimize(dst.get());
        auto t1 = Clock::now();
        return Nanos(t0, t1);
      });
      sink += static_cast<unsigned char>(dst[data.size() / 2]);
      PrintRuns("memcpy", runs, &first);
    } else if (mode == "sha256") {
      auto runs = Measure(o, [&] {
        auto t0 = Clock::now();
        std::string hex = Sha256Hex(input);
        auto t1 = Clock::now();
        sink += static_cast<unsigned char>(hex[0]);
        return Nanos(t0, t1);
      });
      PrintRuns("sha256", runs, &first);
    } else {
      Usage("unknown mode");
    }
  }
  std::printf("},\"opcodes\":%llu,\"sink\":%llu}\n",
              static_cast<unsigned long long>(opcodes),
              static_cast<unsigned long long>(sink));
  return 0;
}

}  // namespace
}  // namespace picklevm::bench

int main(int argc, char** argv) { return picklevm::bench::Main(argc, argv); }
