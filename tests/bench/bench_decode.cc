// Google Benchmark suite of the in-process decode (see bench_common.h).
//
//   picklevm_bench_decode [--benchmark_* flags] FILE...
//
// For every FILE it registers
//   decode_strict/<name>   RunPickle, strict, default policy, fresh Graph
//   decode_record/<name>   RunAllPickles, record mode (scan's decode)
//   opcode_walk/<name>     Reader + DecodeOperand only (the baseline)
//   memcpy/<name>          memcpy of the input's size (the other baseline)
// with bytes/s and, for the decodes, nodes/s counters.  Each benchmark also
// reports a "min" statistic when run with --benchmark_repetitions=N (the
// figure to quote on a noisy machine).  run_bench.py generates suitable
// inputs (tests/bench/run_bench.py --keep-inputs DIR).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "bench_common.h"

namespace picklevm::bench {
namespace {

struct Input {
  std::string name;
  std::string data;
  DecodeInfo info;
};

double MinOf(const std::vector<double>& v) {
  return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end());
}

void DecodeStrictBench(benchmark::State& state, const Input* in) {
  for (auto _ : state) {
    auto graph = std::make_unique<Graph>();
    RunResult run;
    absl::Status s = DecodeStrict(in->data, graph.get(), &run);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(run.root);
    state.PauseTiming();  // the Graph's teardown is not the decode
    graph.reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(in->data.size()));
  state.counters["nodes/s"] = benchmark::Counter(
      static_cast<double>(in->info.nodes), benchmark::Counter::kIsIterationInvariantRate);
}

void DecodeRecordBench(benchmark::State& state, const Input* in) {
  for (auto _ : state) {
    auto graph = std::make_unique<Graph>();
    std::vector<RunResult> runs;
    absl::Status s = DecodeRecord(in->data, graph.get(), &runs);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(runs.data());
    state.PauseTiming();
    graph.reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(in->data.size()));
}

void OpcodeWalkBench(benchmark::State& state, const Input* in) {
  uint64_t ops = 0, sink = 0;
  for (auto _ : state) {
    absl::Status s = OpcodeWalk(in->data, in->info.regions, &ops, &sink);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  benchmark::DoNotOptimize(sink);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(in->data.size()));
  state.counters["opcodes"] = static_cast<double>(ops);
}

void MemcpyBench(benchmark::State& state, const Input* in) {
  std::unique_ptr<char[]> dst(new char[in->data.size() + 1]);
  std::memset(dst.get(), 0, in->data.size() + 1);
  for (auto _ : state) {
    std::memcpy(dst.get(), in->data.data(), in->data.size());
    benchmark::DoNotOptimize(dst.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(in->data.size()));
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace
}  // namespace picklevm::bench

int main(int argc, char** argv) {
  using namespace picklevm::bench;
  benchmark::Initialize(&argc, argv);  // removes the --benchmark_* flags
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s [--benchmark_* flags] FILE...\n", argv[0]);
    return 64;
  }
  (void)DefaultPolicy();
  static std::vector<std::unique_ptr<Input>> inputs;
  for (int i = 1; i < argc; ++i) {
    auto in = std::make_unique<Input>();
    in->name = BaseName(argv[i]);
    if (!ReadWholeFile(argv[i], &in->data)) {
      std::fprintf(stderr, "cannot read %s\n", argv[i]);
      return 2;
    }
    {
      picklevm::Graph graph;
      picklevm::RunResult run;
      absl::Status s = DecodeStrict(in->data, &graph, &run);
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", argv[i],
                     std::string(s.message()).c_str());
        return 2;
      }
      Describe(graph, run, &in->info);
    }
    inputs.push_back(std::move(in));
  }
  for (const auto& in : inputs) {
    const Input* p = in.get();
    for (auto* b : {
             benchmark::RegisterBenchmark(("decode_strict/" + p->name).c_str(),
                                          DecodeStrictBench, p),
             benchmark::RegisterBenchmark(("decode_record/" + p->name).c_str(),
                                          DecodeRecordBench, p),
             benchmark::RegisterBenchmark(("opcode_walk/" + p->name).c_str(),
                                          OpcodeWalkBench, p),
             benchmark::RegisterBenchmark(("memcpy/" + p->name).c_str(),
                                          MemcpyBench, p),
         }) {
      b->Unit(benchmark::kMillisecond)->UseRealTime()->ComputeStatistics(
          "min", MinOf);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
