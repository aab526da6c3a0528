#include "fuzz/targets.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "fuzz/json_check.h"
#include "vm/api/pipeline.h"
#include "vm/base/error.h"
#include "vm/base/strcat.h"
#include "vm/emit/dis.h"
#include "vm/emit/document.h"
#include "vm/emit/json.h"
#include "vm/emit/report.h"
#include "vm/policy/allowlist.h"

namespace picklevm {
namespace {

// Limits scaled for fuzzing: small enough that anything super-linear shows
// up as a timeout, large enough to reach deep states.
Limits FuzzLimits() {
  Limits l;
  l.max_depth = 10000;
  l.max_memo = 100000;
  l.max_stack = 100000;
  l.max_nodes = 1000000;
  l.max_decompressed_bytes = 8 << 20;
  // Small enough that inputs which build big graphs meet it: an allocation
  // past it throws out of whatever builder made it, and what the graph
  // holds then (trace and scan print it) must still be whole.
  l.max_graph_bytes = 2 << 20;
  // Likewise for the documents' size, reckoned before writing: a cut trace
  // must still be one whole document (FuzzTrace parses it).
  l.max_output_bytes = 4 << 20;
  return l;
}

const RulePolicy& DefaultPolicy() {
  static const RulePolicy* p = [] {
    auto policy = BuildPolicy(false, {});
    if (!policy.ok()) abort();
    return policy->release();
  }();
  return *p;
}

[[noreturn]] void Violated(const char* what, const std::string& detail) {
  fprintf(stderr, "PROPERTY VIOLATED: %s: %s\n", what, detail.c_str());
  abort();
}

struct LoadOutcome {
  absl::Status status;
  std::string json;
};

LoadOutcome StrictLoad(std::string_view stream, bool fast_path = true) {
  MachineOptions o;
  o.fast_path = fast_path;
  o.mode = Mode::kStrict;
  o.limits = FuzzLimits();
  o.policy = &DefaultPolicy();
  Graph g(o.limits.max_nodes);
  RunResult run;
  LoadOutcome out;
  out.status = LoadFirstPickle(stream, o, &g, &run);
  if (!out.status.ok()) return out;
  OutBuffer buf;
  EmitOptions emit;
  emit.max_output_bytes = o.limits.max_output_bytes;
  out.status = WriteGraphDocument(SourceInfo{}, run.protocol, run.root,
                                  run.warnings, o.limits.max_depth, &buf, emit);
  out.json = std::move(buf.data);
  return out;
}

// The reckoning behind --max-output-bytes is never below what is written
// (a limit that could be passed by writing more than was reckoned bounds
// nothing), with arrays summarized and inline.
void CheckEstimate(Node* root) {
  for (auto arrays : {EmitOptions::Arrays::kSummary,
                      EmitOptions::Arrays::kInline}) {
    EmitOptions options;
    options.arrays = arrays;
    JsonEncoder enc(options);
    if (!enc.Prepare({root}, FuzzLimits().max_depth).ok()) return;
    OutBuffer out;
    enc.Write(root, &out);
    if (enc.estimate() < out.data.size()) {
      Violated("output estimate below what is written",
               StrCat(enc.estimate(), " < ", out.data.size()));
    }
  }
}

void CheckStatus(const absl::Status& s) {
  // Every error is the one error type, with an offset inside the input.
  if (s.ok()) return;
  ErrorInfo info = GetErrorInfo(s);
  if (info.code == ErrorCode::kNone) {
    Violated("error without a picklevm code", std::string(s.message()));
  }
}

}  // namespace

void FuzzLoad(const uint8_t* data, size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  LoadOutcome a = StrictLoad(stream);
  CheckStatus(a.status);
  if (a.status.ok()) {
    std::string err = CheckGraphJson(a.json);
    if (!err.empty()) Violated("load JSON", err);
    if (a.json.size() > FuzzLimits().max_output_bytes) {
      Violated("load JSON past --max-output-bytes",
               StrCat(a.json.size(), " bytes"));
    }
  }
  // Deterministic, and the machine's fast path changes nothing: the same
  // input through the general path only gives the same output or error.
  LoadOutcome b = StrictLoad(stream, /*fast_path=*/false);
  if (a.status.ok() != b.status.ok() || a.json != b.json ||
      a.status.message() != b.status.message() ||
      GetErrorInfo(a.status).offset != GetErrorInfo(b.status).offset) {
    Violated("load differs without the fast path (or is not deterministic)",
             StrCat(a.status.message(), " | ", b.status.message()));
  }
  // Strict and record mode agree on the globals: what strict admits,
  // record mode admits; what strict refuses, record mode flags (or the
  // stream breaks before the use is known).
  MachineOptions o;
  o.mode = Mode::kRecord;
  o.limits = FuzzLimits();
  o.policy = &DefaultPolicy();
  Graph g(o.limits.max_nodes);
  RunResult run;
  absl::Status r = RunPickle(stream, 0, o, &g, &run);
  CheckStatus(r);
  // Record mode's graph holds every kind of value strict mode's can, and
  // the calls and records besides.
  if (r.ok()) CheckEstimate(run.root);
  bool disallowed = false;
  for (const Finding& f : run.findings) disallowed |= !f.allowed;
  if (a.status.ok() && (!r.ok() || disallowed)) {
    Violated("strict load succeeded but record mode did not admit it",
             std::string(r.message()));
  }
  if (IsRefusal(a.status) && r.ok() && !disallowed) {
    Violated("strict load refused but record mode found nothing",
             std::string(a.status.message()));
  }
}

// Record mode over every pickle of the stream, as `trace` runs it.
struct TraceRun {
  Graph graph{FuzzLimits().max_nodes};
  std::vector<RunResult> runs;
  absl::Status status;
  std::string json;  // the trace JSON
};

std::unique_ptr<TraceRun> RunTrace(std::string_view stream, bool fast_path) {
  MachineOptions o;
  o.fast_path = fast_path;
  o.mode = Mode::kRecord;
  o.limits = FuzzLimits();
  o.policy = &DefaultPolicy();
  auto t = std::make_unique<TraceRun>();
  t->status = RunAllPickles(stream, o, &t->graph, &t->runs);
  TraceReport report{SourceInfo{}, &t->runs, t->status, o.limits.max_depth,
                     o.limits.max_output_bytes};
  OutBuffer json;
  (void)WriteTraceJson(report, &json);  // a cut trace is still a document
  t->json = std::move(json.data);
  return t;
}

void FuzzTrace(const uint8_t* data, size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  std::unique_ptr<TraceRun> t = RunTrace(stream, /*fast_path=*/true);
  CheckStatus(t->status);
  std::string err = CheckGraphJson(t->json, /*check_ids=*/false);
  if (!err.empty()) Violated("trace JSON", err);
  // The whole document, frame, findings and graphs, within the limit.
  if (t->json.size() > FuzzLimits().max_output_bytes) {
    Violated("trace JSON past --max-output-bytes",
             StrCat(t->json.size(), " bytes"));
  }
  // Record mode through the general path only: the same trace.
  if (RunTrace(stream, /*fast_path=*/false)->json != t->json) {
    Violated("trace differs without the fast path", "");
  }
  TraceReport report{SourceInfo{}, &t->runs, t->status, FuzzLimits().max_depth};
  OutBuffer py;
  WriteTracePython(report, &py);
  ScanResult sr;
  ClassifyScan(t->runs, t->status, &sr);
  OutBuffer scan;
  ScanWriter w("sarif", &scan);
  w.Add(sr);
  w.Finish();
  err = CheckGraphJson(scan.data, false);
  if (!err.empty()) Violated("SARIF JSON", err);
}

void FuzzDis(const uint8_t* data, size_t size) {
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  OutBuffer out;
  uint64_t end = 0;
  absl::Status s = Disassemble(stream, 0, DisOptions{}, &out, &end);
  CheckStatus(s);
  if (s.ok() && (end == 0 || end > size)) Violated("dis end", "");
}

void FuzzJoblib(const uint8_t* data, size_t size) {
  std::string_view file(reinterpret_cast<const char*>(data), size);
  Limits limits = FuzzLimits();
  Stream stream;
  absl::Status s = OpenStream(file, limits, &stream);
  CheckStatus(s);
  if (!s.ok()) return;
  if (stream.bytes.size() > limits.max_decompressed_bytes) {
    Violated("decompressed past the limit", "");
  }
  FuzzLoad(reinterpret_cast<const uint8_t*>(stream.bytes.data()),
           stream.bytes.size());
}

void FuzzAllowlist(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  RulePolicy policy;
  std::string error;
  if (!ParseAllowlist(text, "fuzz", &policy, &error)) {
    if (error.rfind("fuzz:", 0) != 0) Violated("error without file:line", error);
    return;
  }
  // Whatever was admitted must be queryable without surprises.
  (void)policy.AdmitsAny("os:system");
  (void)policy.Find("os:system", Use::kCall, {});
}

FuzzFn FuzzTargetByName(std::string_view name) {
  if (name == "load") return FuzzLoad;
  if (name == "trace") return FuzzTrace;
  if (name == "dis") return FuzzDis;
  if (name == "joblib") return FuzzJoblib;
  if (name == "allowlist") return FuzzAllowlist;
  return nullptr;
}

}  // namespace picklevm
