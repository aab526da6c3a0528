// Shared helpers of the unit suites: run a byte string through RunPickle in
// strict or record mode and look at the JSON root text or the typed error.
//
// Pickle bytes are written as Python bytes-literal bodies inside C++ raw
// strings, Py(R"(\x80\x04K\x01.)"), so that they can be pasted from (and
// into) `python3 -c "print(repr(pickle.dumps(...)))"` unchanged.  (A C++
// "\x01a" would be the single byte 0x1a; Py() reads exactly two hex digits.)
#ifndef PICKLEVM_TESTS_UNIT_TEST_UTIL_H_
#define PICKLEVM_TESTS_UNIT_TEST_UTIL_H_

#include <dirent.h>

#include <cstdint>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "vm/base/error.h"
#include "vm/emit/json.h"
#include "vm/graph/graph.h"
#include "vm/machine/machine.h"
#include "vm/opcodes/opcodes.h"
#include "vm/policy/policy.h"

namespace picklevm::pvtest {

// Decodes the body of a Python bytes literal: \xHH (exactly two hex digits),
// \n \r \t \0 \\ \' \"; every other character stands for itself.
inline std::string Py(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument("bad hex digit in Py() literal");
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i >= s.size()) throw std::invalid_argument("trailing backslash");
    switch (s[i]) {
      case 'x':
        if (i + 2 >= s.size()) {
          throw std::invalid_argument("short \\x escape");
        }
        out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
        i += 2;
        break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case '0': out.push_back('\0'); break;
      case '\\': out.push_back('\\'); break;
      case '\'': out.push_back('\''); break;
      case '"': out.push_back('"'); break;
      default: throw std::invalid_argument("unknown escape in Py() literal");
    }
  }
  return out;
}

// Encodes the value graph rooted at `root` as graph-json text.
inline std::string RootJson(Node* root, uint64_t max_depth = 100000000) {
  JsonEncoder enc;
  absl::Status s = enc.Prepare({root}, max_depth);
  if (!s.ok()) return "<prepare failed: " + std::string(s.message()) + ">";
  OutBuffer out;
  enc.Write(root, &out);
  return out.data;
}

// Everything one run leaves behind.  The graph is kept alive for as long as
// the outcome lives (nodes point into `input`, which is kept too).
struct Outcome {
  std::string input;
  std::unique_ptr<Graph> graph;
  RunResult result;
  absl::Status status;
  ErrorInfo error;
  std::string json;  // the root's JSON when status is ok

  bool ok() const { return status.ok(); }
  std::string message() const { return std::string(status.message()); }
};

inline std::unique_ptr<Outcome> LoadWith(std::string input,
                                        const MachineOptions& options) {
  auto o = std::make_unique<Outcome>();
  o->input = std::move(input);
  o->graph = std::make_unique<Graph>(options.limits.max_nodes);
  o->status = RunPickle(o->input, 0, options, o->graph.get(), &o->result);
  o->error = GetErrorInfo(o->status);
  if (o->status.ok()) o->json = RootJson(o->result.root);
  return o;
}

inline std::unique_ptr<Outcome> Load(std::string input,
                                    Mode mode = Mode::kStrict) {
  MachineOptions options;
  options.mode = mode;
  return LoadWith(std::move(input), options);
}

// A policy admitting exactly the given names for the given uses (a bitmask
// of Use), with no builder: what an allowlist entry for a class gives.
struct NameUses {
  const char* name;
  uint8_t uses;
  // Admit APPEND(S)/SETITEM(S) on instances (allowlist "items dictitems").
  bool items = true;
};
constexpr uint8_t kRef = static_cast<uint8_t>(Use::kReference);
constexpr uint8_t kInst = static_cast<uint8_t>(Use::kInstantiate);
constexpr uint8_t kCallUse = static_cast<uint8_t>(Use::kCall);

inline std::unique_ptr<RulePolicy> MakePolicy(
    std::initializer_list<NameUses> names, bool persistent_ids = false) {
  auto p = std::make_unique<RulePolicy>();
  for (const NameUses& n : names) {
    Rule r;
    r.name = n.name;
    r.uses = n.uses;
    r.items = r.dictitems = n.items;
    p->Add(std::move(r));
  }
  p->set_admit_persistent_ids(persistent_ids);
  return p;
}

// A one-line summary for exact comparisons: the root's JSON on success,
// else "error:<code>@<offset>".
inline std::string Summary(const Outcome& o) {
  if (o.ok()) return o.json;
  return "error:" + std::string(ErrorCodeName(o.error.code)) + "@" +
         std::to_string(o.error.offset);
}

// The error as "<code>@<offset> <OPNAME>" ("-" for no opcode), or "ok".
inline std::string ErrorAt(const Outcome& o) {
  if (o.ok()) return "ok";
  return std::string(ErrorCodeName(o.error.code)) + "@" +
         std::to_string(o.error.offset) + " " +
         (o.error.opcode < 0 ? std::string("-")
                             : std::string(OpcodeName(o.error.opcode)));
}
inline std::string StrictErr(std::string_view literal) {
  return ErrorAt(*Load(Py(literal), Mode::kStrict));
}
inline std::string RecordErr(std::string_view literal) {
  return ErrorAt(*Load(Py(literal), Mode::kRecord));
}

inline std::string Strict(std::string input) {
  return Summary(*Load(std::move(input), Mode::kStrict));
}
inline std::string Record(std::string input) {
  return Summary(*Load(std::move(input), Mode::kRecord));
}

// Shorthand for a pickle given as a Py() literal body.
inline std::string StrictPy(std::string_view literal) {
  return Strict(Py(literal));
}
inline std::string RecordPy(std::string_view literal) {
  return Record(Py(literal));
}

// What record mode logged, one line per finding and per call, in order:
// for comparing two runs of the same stream.
inline std::string LogText(const RunResult& r) {
  std::string out;
  for (const Finding& f : r.findings) {
    out += "\n" + f.global + " " + f.use + " " + std::to_string(f.offset) +
           (f.allowed ? " allowed " : " flagged ") + f.detail;
  }
  for (const CallEvent& c : r.calls) {
    out += "\ncall@" + std::to_string(c.offset) + " op " +
           std::to_string(c.opcode) + " args " + std::to_string(c.args.size()) +
           (c.admitted ? " admitted" : "") + (c.build ? " build" : "");
  }
  return out;
}

// Every model fixture the repository ships: the pickles under
// tests/fixtures/models/*/ (not their expected.json) and the joblib files,
// plain and compressed, under tests/joblib/files.
inline std::vector<std::string> ModelFixtures() {
  std::vector<std::string> files;
  std::string root =
      std::string(PICKLEVM_SOURCE_DIR) + "/tests/fixtures/models";
  if (DIR* d = opendir(root.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string dir = root + "/" + e->d_name;
      if (DIR* f = opendir(dir.c_str())) {
        while (dirent* g = readdir(f)) {
          std::string n = g->d_name;
          if (n != "." && n != ".." && n != "expected.json") {
            files.push_back(dir + "/" + n);
          }
        }
        closedir(f);
      }
    }
    closedir(d);
  }
  std::string joblib =
      std::string(PICKLEVM_SOURCE_DIR) + "/tests/joblib/files";
  if (DIR* d = opendir(joblib.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 7 && n.substr(n.size() - 7) == ".joblib") {
        files.push_back(joblib + "/" + n);
      }
    }
    closedir(d);
  }
  return files;
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace picklevm::pvtest

#endif  // PICKLEVM_TESTS_UNIT_TEST_UTIL_H_
