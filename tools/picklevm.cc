// The picklevm command (shared/spec/cli.md): load, scan, trace, dis.
//
// The argument parser is hand-written rather than absl::flags: the command
// line has subcommands, repeated --allowlist options and positional paths,
// none of which absl's global-flag model expresses directly, and every
// mistake must be exit status 64 with a one-line message.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "vm/base/strcat.h"
#include "vm/base/error.h"
#include "vm/emit/dis.h"
#include "vm/emit/document.h"
#include "vm/emit/json.h"
#include "vm/graph/graph.h"
#include "vm/io/input.h"
#include "vm/machine/machine.h"

namespace picklevm {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRefused = 1;
constexpr int kExitMalformed = 2;
constexpr int kExitUsage = 64;

constexpr char kUsage[] =
    "usage:\n"
    "  picklevm load  FILE [--allowlist PATH]... [--no-default-allowlist]\n"
    "                      [--arrays summary|inline|DIR] [limits]\n"
    "  picklevm scan  PATH... [--allowlist PATH]... [--no-default-allowlist]\n"
    "                      [--format text|jsonl|sarif] [limits]\n"
    "  picklevm trace FILE [--allowlist PATH]... [--no-default-allowlist]\n"
    "                      [--format python|json] [limits]\n"
    "  picklevm dis   FILE [limits]\n"
    "limits: --max-input-bytes N --max-depth N --max-memo N --max-stack N\n"
    "        --max-nodes N --max-int-digits N --max-decompressed-bytes N\n";

struct Args {
  std::string command;
  std::vector<std::string> paths;
  std::vector<std::string> allowlists;
  bool no_default_allowlist = false;
  std::string arrays = "summary";
  std::string format;
  Limits limits;
};

struct UsageError {
  std::string message;
};

std::optional<UsageError> Parse(int argc, char** argv, Args* a) {
  if (argc < 2) return UsageError{"missing command"};
  a->command = argv[1];
  if (a->command == "-h" || a->command == "--help" || a->command == "help") {
    return UsageError{""};
  }
  if (a->command != "load" && a->command != "scan" && a->command != "trace" &&
      a->command != "dis") {
    return UsageError{StrCat("unknown command '", a->command, "'")};
  }
  struct LimitFlag {
    const char* name;
    uint64_t* field;
  } limit_flags[] = {
      {"--max-input-bytes", &a->limits.max_input_bytes},
      {"--max-depth", &a->limits.max_depth},
      {"--max-memo", &a->limits.max_memo},
      {"--max-stack", &a->limits.max_stack},
      {"--max-nodes", &a->limits.max_nodes},
      {"--max-int-digits", &a->limits.max_int_digits},
      {"--max-decompressed-bytes", &a->limits.max_decompressed_bytes},
  };
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline_value = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
    }
    auto take_value = [&]() -> std::optional<UsageError> {
      if (has_inline_value) return std::nullopt;
      if (i + 1 >= argc) return UsageError{StrCat(arg, " needs a value")};
      value = argv[++i];
      return std::nullopt;
    };
    if (arg == "--allowlist") {
      if (auto e = take_value()) return e;
      a->allowlists.push_back(value);
    } else if (arg == "--no-default-allowlist") {
      a->no_default_allowlist = true;
    } else if (arg == "--arrays" && a->command == "load") {
      if (auto e = take_value()) return e;
      a->arrays = value;
    } else if (arg == "--format" &&
               (a->command == "scan" || a->command == "trace")) {
      if (auto e = take_value()) return e;
      a->format = value;
    } else if (arg.rfind("--max-", 0) == 0) {
      bool known = false;
      for (auto& f : limit_flags) {
        if (arg != f.name) continue;
        known = true;
        if (auto e = take_value()) return e;
        if (!absl::SimpleAtoi(value, f.field) || *f.field == 0) {
          return UsageError{
              StrCat(arg, " takes a positive integer, not '", value,
                           "'")};
        }
      }
      if (!known) return UsageError{StrCat("unknown option ", arg)};
    } else if (arg.size() > 1 && arg[0] == '-') {
      return UsageError{StrCat("unknown option ", arg)};
    } else {
      a->paths.push_back(arg);
    }
  }
  if (a->paths.empty()) return UsageError{"missing FILE"};
  if (a->command != "scan" && a->paths.size() != 1) {
    return UsageError{StrCat(a->command, " takes one FILE")};
  }
  if (a->command == "trace") {
    if (a->format.empty()) a->format = "python";
    if (a->format != "python" && a->format != "json") {
      return UsageError{StrCat("--format must be python or json, not '",
                                     a->format, "'")};
    }
  }
  if (a->command == "scan") {
    if (a->format.empty()) a->format = "text";
    if (a->format != "text" && a->format != "jsonl" && a->format != "sarif") {
      return UsageError{StrCat(
          "--format must be text, jsonl or sarif, not '", a->format, "'")};
    }
  }
  if (a->command == "load" && a->arrays != "summary") {
    return UsageError{"--arrays inline|DIR is not available yet"};
  }
  if (!a->allowlists.empty() || a->no_default_allowlist) {
    return UsageError{"allowlist files are not available yet"};
  }
  return std::nullopt;
}

void WriteStdout(std::string_view s) {
  while (!s.empty()) {
    ssize_t n = write(1, s.data(), s.size());
    if (n <= 0) return;  // a closed pipe: nothing more to say
    s.remove_prefix(static_cast<size_t>(n));
  }
}

int ReportError(const std::string& path, const absl::Status& status) {
  ErrorInfo info = GetErrorInfo(status);
  std::fprintf(stderr, "picklevm: %s: %s\n", path.c_str(),
               std::string(status.message()).c_str());
  if (info.code == ErrorCode::kRefused) return kExitRefused;
  return kExitMalformed;
}

int Load(const Args& args) {
  const std::string& path = args.paths[0];
  auto input = InputFile::Open(path, args.limits.max_input_bytes);
  if (!input.ok()) return ReportError(path, input.status());
  std::string_view data = input->data();
  MachineOptions options;
  options.mode = Mode::kStrict;
  options.limits = args.limits;
  Graph graph(args.limits.max_nodes);
  RunResult run;
  absl::Status s = RunPickle(data, 0, options, &graph, &run);
  if (!s.ok()) return ReportError(path, s);
  if (run.end < data.size()) {
    run.warnings.push_back(StrCat(data.size() - run.end,
                                        " bytes after STOP at offset ",
                                        run.end - 1));
  }
  SourceInfo source{data.size(), Sha256Hex(data), "pickle"};
  OutBuffer out;
  out.flush = WriteStdout;
  s = WriteGraphDocument(source, run.protocol, run.root, run.warnings,
                         args.limits.max_depth, &out);
  if (!s.ok()) return ReportError(path, s);
  out.Finish();
  return kExitOk;
}

int Dis(const Args& args) {
  const std::string& path = args.paths[0];
  auto input = InputFile::Open(path, args.limits.max_input_bytes);
  if (!input.ok()) return ReportError(path, input.status());
  OutBuffer out;
  out.flush = WriteStdout;
  DisOptions options;
  options.max_int_digits = args.limits.max_int_digits;
  uint64_t end = 0;
  absl::Status s = Disassemble(input->data(), 0, options, &out, &end);
  out.Finish();
  if (!s.ok()) return ReportError(path, s);
  return kExitOk;
}

void AppendFinding(const Finding& f, std::string* o) {
  o->append("{\"global\":");
  if (f.global.empty()) {
    o->append("null");
  } else {
    AppendJsonString(f.global, o);
  }
  o->append(",\"use\":");
  AppendJsonString(f.use, o);
  StrAppend(o, ",\"offset\":", f.offset,
                  ",\"allowed\":", f.allowed ? "true" : "false");
  if (!f.detail.empty()) {
    o->append(",\"detail\":");
    AppendJsonString(f.detail, o);
  }
  o->push_back('}');
}

// Record mode: every pickle in the file, back to back, as a loader that
// calls load() until the input is used up would run them.  (Joblib
// containers and the Python-like rendering come with the forensics work;
// see README.)
int Trace(const Args& args) {
  const std::string& path = args.paths[0];
  auto input = InputFile::Open(path, args.limits.max_input_bytes);
  if (!input.ok()) return ReportError(path, input.status());
  std::string_view data = input->data();
  MachineOptions options;
  options.mode = Mode::kRecord;
  options.limits = args.limits;
  Graph graph(args.limits.max_nodes);
  std::vector<RunResult> runs;
  absl::Status s;
  uint64_t pos = 0;
  do {
    runs.emplace_back();
    s = RunPickle(data, pos, options, &graph, &runs.back());
    pos = runs.back().end;
  } while (s.ok() && pos < data.size());
  bool outside = false;
  for (const RunResult& run : runs) {
    for (const Finding& f : run.findings) outside |= !f.allowed;
  }
  SourceInfo source{data.size(), Sha256Hex(data), "pickle"};
  OutBuffer out;
  out.flush = WriteStdout;
  std::string& o = out.data;
  if (args.format == "json") {
    o.append("{\"format\":\"picklevm-trace/1\",\"source\":");
    AppendSourceJson(source, &o);
    o.append(",\"calls\":[");
    bool first = true;
    for (const RunResult& run : runs) {
      for (const CallEvent& c : run.calls) {
        if (!first) o.push_back(',');
        first = false;
        o.append("{\"callable\":");
        if (c.callable->kind == Kind::kGlobal) {
          AppendJsonString(c.callable->a.global->joined, &o);
        } else {
          o.append("null");
        }
        o.append(",\"use\":");
        AppendJsonString(UseName(c.use), &o);
        o.append(",\"args\":");
        // Each call's arguments are encoded on their own (own $id space).
        Node* args_list = graph.NewSeq(Kind::kList, c.args);
        JsonEncoder enc;
        if (args_list != nullptr &&
            enc.Prepare({args_list}, args.limits.max_depth).ok()) {
          enc.Write(args_list, &out);
        } else {
          o.append("null");
        }
        StrAppend(&o, ",\"offset\":", c.offset,
                  ",\"admitted\":", c.admitted ? "true" : "false", "}");
      }
    }
    o.append("],\"findings\":[");
    first = true;
    for (const RunResult& run : runs) {
      for (const Finding& f : run.findings) {
        if (!first) o.push_back(',');
        first = false;
        AppendFinding(f, &o);
      }
    }
    // One picklevm-graph/1 document per pickle that reached its STOP.
    o.append("],\"graphs\":[");
    first = true;
    for (const RunResult& run : runs) {
      if (run.root == nullptr) continue;
      OutBuffer doc;
      absl::Status ws = WriteGraphDocument(source, run.protocol, run.root,
                                           run.warnings, args.limits.max_depth,
                                           &doc);
      if (!ws.ok()) {
        if (s.ok()) s = ws;
        break;
      }
      if (!first) o.push_back(',');
      first = false;
      if (!doc.data.empty() && doc.data.back() == '\n') doc.data.pop_back();
      o.append(doc.data);
    }
    o.append("],\"error\":");
    if (s.ok()) {
      o.append("null");
    } else {
      AppendJsonString(std::string(s.message()), &o);
    }
    o.append("}\n");
  } else {
    for (const RunResult& run : runs) {
      for (const Finding& f : run.findings) {
        StrAppend(&o, f.allowed ? "  " : "! ", f.use, " ",
                  f.global.empty() ? f.detail : f.global, " at offset ",
                  f.offset, "\n");
      }
    }
  }
  out.Finish();
  if (!s.ok()) return ReportError(path, s);
  return outside ? kExitRefused : kExitOk;
}

int Main(int argc, char** argv) {
  Args args;
  if (auto e = Parse(argc, argv, &args)) {
    if (!e->message.empty()) {
      std::fprintf(stderr, "picklevm: %s\n", e->message.c_str());
    }
    std::fputs(kUsage, stderr);
    return e->message.empty() ? kExitOk : kExitUsage;
  }
  if (args.command == "load") return Load(args);
  if (args.command == "dis") return Dis(args);
  if (args.command == "trace") return Trace(args);
  std::fprintf(stderr, "picklevm: %s is not available yet\n",
               args.command.c_str());
  return kExitUsage;
}

}  // namespace
}  // namespace picklevm

int main(int argc, char** argv) { return picklevm::Main(argc, argv); }
