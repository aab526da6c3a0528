// In-process timing driver for run_bench.py.
//
//   decode_bench FILE [--modes strict,record,walk,memcpy,sha256,timer]
//                     [--repeat N] [--min-seconds S] [--warmup N]
//                     [--no-probe]
//
// Reads FILE into memory, then times each mode (see bench_common.h) at
// least N times and for at least S seconds (at most 10,000 runs), after
// `warmup` untimed runs, and prints one JSON object: the input size, what
// the strict decode built (nodes, arena bytes), the opcode count, and every
// run's nanoseconds per mode: wall time ("runs") and the thread's CPU time
// (user + system, CLOCK_THREAD_CPUTIME_ID: "cpu"), which is what to compare
// on a machine where other processes take turns on the CPU.  Each
// strict/record run decodes into a fresh Graph; the Graph's construction is
// timed, its destruction is not (it is reported separately as
// strict_teardown), as CPython's side times pickle.loads and drops the
// result outside the timed region.  Mode "timer" times an empty region:
// the clocks' own cost, included once in every other sample.
//
// Before the timed modes, one untimed strict decode (the probe) checks that
// the input loads and finds joblib's array regions for the walk;
// --no-probe skips it (the figures it gives are then zero).  For callgrind:
// --repeat 1 --warmup 0 --min-seconds 0 --modes strict with
// --toggle-collect='picklevm::bench::TimedDecodeStrict*' (or --modes walk
// with --toggle-collect='picklevm::bench::OpcodeWalk*'): one decode after
// the probe, as every timed run comes after a warm-up, so the process's
// first-call costs (lazy binding of library calls, thread-local setup: 10k
// instructions, a fifth of a small model's decode) are not counted.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.h"
#include "vm/base/sha256.h"

namespace picklevm::bench {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t Nanos(Clock::time_point a, Clock::time_point b) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

uint64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

// One timed region: wall and CPU nanoseconds.
struct Sample {
  uint64_t wall = 0;
  uint64_t cpu = 0;
};

}  // namespace

// The timed strict decode, out of line and outside the anonymous namespace
// so that callgrind can collect it alone (the probe calls DecodeStrict
// itself).
__attribute__((noinline)) absl::Status TimedDecodeStrict(std::string_view data,
                                                         Graph* graph,
                                                         RunResult* run) {
  return DecodeStrict(data, graph, run);
}

namespace {

class Timer {
 public:
  Timer() : wall_(Clock::now()), cpu_(ThreadCpuNanos()) {}
  Sample Stop() const {
    uint64_t cpu = ThreadCpuNanos();
    return {Nanos(wall_, Clock::now()), cpu - cpu_};
  }

 private:
  Clock::time_point wall_;
  uint64_t cpu_;
};

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
               "strict,record,walk,memcpy,sha256,timer] [--repeat N] "
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

// Runs `body` (which returns its own measured Sample) warmup times
// untimed, then until both `repeat` runs and `min_seconds` have passed.
template <typename Body>
std::vector<Sample> Measure(const Options& o, Body body) {
  for (int i = 0; i < o.warmup; ++i) body();
  std::vector<Sample> runs;
  auto start = Clock::now();
  while (runs.size() < static_cast<size_t>(o.repeat) ||
         (std::chrono::duration<double>(Clock::now() - start).count() <
              o.min_seconds &&
          runs.size() < 10000)) {
    runs.push_back(body());
  }
  return runs;
}

void PrintList(const std::string& name, const std::vector<uint64_t>& v,
               bool* first) {
  std::printf("%s\"%s\":[", *first ? "" : ",", name.c_str());
  for (size_t i = 0; i < v.size(); ++i) {
    std::printf("%s%llu", i ? "," : "",
                static_cast<unsigned long long>(v[i]));
  }
  std::printf("]");
  *first = false;
}

// Wall times go into "runs", CPU times into "cpu" (printed at the end).
void PrintRuns(const char* name, const std::vector<Sample>& runs,
               bool* first, std::vector<std::pair<std::string,
                                                  std::vector<uint64_t>>>* cpu) {
  std::vector<uint64_t> wall, c;
  for (const Sample& s : runs) {
    wall.push_back(s.wall);
    c.push_back(s.cpu);
  }
  PrintList(name, wall, first);
  cpu->emplace_back(name, std::move(c));
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
  (void)WalkTable();      // and build the walk's table (callgrind counts
                          // the first walk: it was a quarter of a small
                          // file's)

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
  std::vector<std::pair<std::string, std::vector<uint64_t>>> cpu;
  for (const std::string& mode : o.modes) {
    if (mode == "strict") {
      std::vector<Sample> teardown;
      auto runs = Measure(o, [&] {
        Timer timer;
        auto graph = std::make_unique<Graph>();
        RunResult run;
        absl::Status s = TimedDecodeStrict(input, graph.get(), &run);
        Sample sample = timer.Stop();
        if (!s.ok()) Fail("strict decode", s);
        DoNotOptimize(run.root);
        Timer teardown_timer;
        graph.reset();
        teardown.push_back(teardown_timer.Stop());
        return sample;
      });
      PrintRuns("strict", runs, &first, &cpu);
      PrintRuns("strict_teardown", teardown, &first, &cpu);
    } else if (mode == "record") {
      auto runs = Measure(o, [&] {
        Timer timer;
        auto graph = std::make_unique<Graph>();
        std::vector<RunResult> runs;
        absl::Status s = DecodeRecord(input, graph.get(), &runs);
        Sample sample = timer.Stop();
        if (!s.ok()) Fail("record decode", s);
        DoNotOptimize(runs.data());
        return sample;
      });
      PrintRuns("record", runs, &first, &cpu);
    } else if (mode == "walk") {
      auto runs = Measure(o, [&] {
        Timer timer;
        absl::Status s = OpcodeWalk(input, info.regions, &opcodes, &sink);
        Sample sample = timer.Stop();
        if (!s.ok()) Fail("opcode walk", s);
        return sample;
      });
      PrintRuns("walk", runs, &first, &cpu);
    } else if (mode == "memcpy") {
      std::unique_ptr<char[]> dst(new char[data.size() + 1]);
      std::memset(dst.get(), 0, data.size() + 1);  // fault the pages in once
      auto runs = Measure(o, [&] {
        Timer timer;
        std::memcpy(dst.get(), data.data(), data.size());
        DoNotOptimize(dst.get());
        return timer.Stop();
      });
      sink += static_cast<unsigned char>(dst[data.size() / 2]);
      PrintRuns("memcpy", runs, &first, &cpu);
    } else if (mode == "timer") {
      // The clocks' own cost: an empty timed region.  Reading the thread's
      // CPU clock is a system call (about 0.25 us of CPU time, 0.5 us of
      // wall time on a KVM guest), which every sample above includes once;
      // run_bench.py subtracts this mode's minimum from theirs, so that a
      // decode of a few microseconds is not compared with the walk through
      // a constant added to both.
      auto runs = Measure(o, [&] {
        Timer timer;
        return timer.Stop();
      });
      PrintRuns("timer", runs, &first, &cpu);
    } else if (mode == "sha256") {
      auto runs = Measure(o, [&] {
        Timer timer;
        std::string hex = Sha256Hex(input);
        Sample sample = timer.Stop();
        sink += static_cast<unsigned char>(hex[0]);
        return sample;
      });
      PrintRuns("sha256", runs, &first, &cpu);
    } else {
      Usage("unknown mode");
    }
  }
  std::printf("},\"cpu\":{");
  first = true;
  for (const auto& [name, v] : cpu) PrintList(name, v, &first);
  std::printf("},\"opcodes\":%llu,\"sink\":%llu}\n",
              static_cast<unsigned long long>(opcodes),
              static_cast<unsigned long long>(sink));
  return 0;
}

}  // namespace
}  // namespace picklevm::bench

int main(int argc, char** argv) { return picklevm::bench::Main(argc, argv); }
