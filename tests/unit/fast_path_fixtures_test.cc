// The fast path (Machine::FastRun) against the general path (Loop and Step
// for every opcode) on every model the repository ships: the same graph,
// the same calls and findings, in strict and in record mode.  The model
// files are where REDUCE, BUILD, NEWOBJ and the bytes opcodes run on the
// fast path (every numpy array is a _reconstruct REDUCE and a BUILD), and
// where a nested pickle's globals (joblib's object arrays) reach the outer
// machine.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "vm/api/pipeline.h"
#include "vm/policy/allowlist.h"

namespace picklevm {
namespace {

// What one load leaves: the status, the root's JSON, and (record mode)
// every call and finding in order.
std::string Describe(const std::string& data, const Policy* policy, Mode mode,
                     bool fast) {
  Stream stream;
  absl::Status open = OpenStream(data, Limits{}, &stream);
  if (!open.ok()) return "open: " + std::string(open.message());
  MachineOptions o;
  o.policy = policy;
  o.mode = mode;
  o.fast_path = fast;
  Graph g;
  std::string out;
  if (mode == Mode::kStrict) {
    RunResult run;
    absl::Status s = LoadFirstPickle(stream.bytes, o, &g, &run);
    if (!s.ok()) return "error " + std::string(s.message());
    return "ok " + pvtest::RootJson(run.root);
  }
  std::vector<RunResult> runs;
  absl::Status s = RunAllPickles(stream.bytes, o, &g, &runs);
  out = std::string(s.message());
  for (const RunResult& r : runs) {
    if (r.root != nullptr) out += pvtest::RootJson(r.root);
    out += pvtest::LogText(r);
  }
  return out;
}

TEST(FastPath, EveryModelFixtureLoadsTheSameOnBothPaths) {
  auto policy = BuildPolicy(false, {});
  ASSERT_TRUE(policy.ok()) << policy.status();
  std::vector<std::string> files = pvtest::ModelFixtures();
  ASSERT_GT(files.size(), 600u);
  size_t loaded = 0;
  for (const std::string& file : files) {
    std::string data = pvtest::ReadFileBytes(file);
    for (Mode mode : {Mode::kStrict, Mode::kRecord}) {
      std::string general = Describe(data, policy->get(), mode, false);
      std::string fast = Describe(data, policy->get(), mode, true);
      EXPECT_EQ(general, fast)
          << file << (mode == Mode::kStrict ? " (strict)" : " (record)");
      // Every fixture loads in strict mode (AllowlistPolicy's test says
      // so too): an error on both paths must not pass for agreement.
      if (mode == Mode::kStrict) loaded += fast.rfind("ok ", 0) == 0;
    }
  }
  EXPECT_EQ(loaded, files.size());
}

}  // namespace
}  // namespace picklevm
