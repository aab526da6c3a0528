// The forensic emitters: `trace` (what pickle.loads would have done, as
// Python-like code or JSON) and `scan` (one verdict per file, as text, JSON
// lines or SARIF 2.1.0).  Both read record-mode results; neither executes
// or imports anything.
#ifndef PICKLEVM_VM_EMIT_REPORT_H_
#define PICKLEVM_VM_EMIT_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "vm/emit/document.h"
#include "vm/emit/json.h"
#include "vm/graph/graph.h"
#include "vm/machine/machine.h"

namespace picklevm {

struct TraceReport {
  SourceInfo source;
  const std::vector<RunResult>* runs;  // one per pickle, the last may have failed
  absl::Status status;                 // the error that stopped the run
  uint64_t max_depth;
  uint64_t max_output_bytes = UINT64_MAX;  // trace --format json
};

// True when something in the runs is outside the policy.
bool AnyDisallowed(const std::vector<RunResult>& runs);

// {"format":"picklevm-trace/1","source":{...},"calls":[...],"findings":[...],
//  "graphs":[<picklevm-graph/1>, ...],"error":null|"..."}
// Stops (a whole document, its "error" saying so) where the calls and
// graphs would pass report.max_output_bytes, and returns that error.
absl::Status WriteTraceJson(const TraceReport& report, OutBuffer* out);

// Python-like code: imports, one assignment per call, `result = ...`.
void WriteTracePython(const TraceReport& report, OutBuffer* out);

struct ScanResult {
  std::string path;
  std::string verdict;    // clean | unsafe | error
  std::string container;  // pickle | joblib | joblib+<codec>, "" if unread
  std::vector<Finding> findings;
  std::string error;      // empty when none
};

// unsafe (a finding outside the policy) wins over error (the stream broke
// or never was a pickle), which wins over clean.
void ClassifyScan(const std::vector<RunResult>& runs,
                  const absl::Status& status, ScanResult* result);

class ScanWriter {
 public:
  ScanWriter(std::string format, OutBuffer* out)
      : format_(std::move(format)), out_(out) {}
  void Add(const ScanResult& r);
  void Finish();  // SARIF is one document for the whole run

 private:
  // SARIF's results are written as they come, after the document's head
  // (written by the first Add or by Finish): a scan of many files, or of
  // one with many findings, holds none of them.
  void SarifResult(std::string_view result);
  std::string format_;
  OutBuffer* out_;
  bool sarif_started_ = false;
  bool sarif_any_ = false;
};

}  // namespace picklevm

#endif  // PICKLEVM_VM_EMIT_REPORT_H_
