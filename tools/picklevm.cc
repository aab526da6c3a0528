// The picklevm command (shared/spec/cli.md): load, scan, trace, dis.
//
// The argument parser is hand-written rather than absl::flags: the command
// line has subcommands, repeated --allowlist options and positional paths,
// none of which absl's global-flag model expresses directly, and every
// mistake must be exit status 64 with a one-line message.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "vm/api/pipeline.h"
#include "vm/base/error.h"
#include "vm/base/sha256.h"
#include "vm/base/strcat.h"
#include "vm/emit/dis.h"
#include "vm/emit/document.h"
#include "vm/emit/json.h"
#include "vm/emit/npy.h"
#include "vm/emit/report.h"
#include "vm/graph/graph.h"
#include "vm/io/input.h"
#include "vm/machine/machine.h"
#include "vm/policy/allowlist.h"

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
    "FILE may be - for standard input.\n"
    "limits: --max-input-bytes N --max-depth N --max-memo N --max-stack N\n"
    "        --max-nodes N --max-int-digits N --max-decompressed-bytes N\n"
    "        --max-copied-items N --max-graph-bytes N --max-output-bytes N\n";

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
      {"--max-copied-items", &a->limits.max_copied_items},
      {"--max-graph-bytes", &a->limits.max_graph_bytes},
      {"--max-output-bytes", &a->limits.max_output_bytes},
  };
  bool policy_command = a->command != "dis";
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
    if (arg == "--allowlist" && policy_command) {
      if (auto e = take_value()) return e;
      a->allowlists.push_back(value);
    } else if (arg == "--no-default-allowlist" && policy_command) {
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
              StrCat(arg, " takes a positive integer, not '", value, "'")};
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
      return UsageError{
          StrCat("--format must be python or json, not '", a->format, "'")};
    }
  }
  if (a->command == "scan") {
    if (a->format.empty()) a->format = "text";
    if (a->format != "text" && a->format != "jsonl" && a->format != "sarif") {
      return UsageError{StrCat("--format must be text, jsonl or sarif, not '",
                               a->format, "'")};
    }
  }
  return std::nullopt;
}

void WriteStdout(std::string_view s) {
  while (!s.empty()) {
    ssize_t n = write(1, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a closed pipe: nothing more to say
    s.remove_prefix(static_cast<size_t>(n));
  }
}

int ExitFor(const absl::Status& status) {
  switch (GetErrorInfo(status).code) {
    case ErrorCode::kRefused: return kExitRefused;
    case ErrorCode::kUsage: return kExitUsage;
    default: return kExitMalformed;
  }
}

int ReportError(const std::string& path, const absl::Status& status) {
  std::fprintf(stderr, "picklevm: %s: %s\n", path.c_str(),
               std::string(status.message()).c_str());
  return ExitFor(status);
}

// The policy of the command line, or a usage error naming file and line.
std::unique_ptr<RulePolicy> MakePolicy(const Args& args, int* exit_code) {
  auto policy = BuildPolicy(args.no_default_allowlist, args.allowlists);
  if (!policy.ok()) {
    std::fprintf(stderr, "picklevm: %s\n",
                 std::string(policy.status().message()).c_str());
    *exit_code = kExitUsage;
    return nullptr;
  }
  return std::move(*policy);
}

// An opened FILE: the bytes as given, the pickle stream inside, and the
// limits with their defaults derived from the file's size.
struct Opened {
  std::optional<InputFile> file;
  Stream stream;
  Limits limits;
};

absl::Status Open(const std::string& path, const Limits& limits, Opened* o) {
  auto file = InputFile::Open(path, limits.max_input_bytes);
  if (!file.ok()) return file.status();
  o->file.emplace(std::move(*file));
  o->limits = ResolveLimits(limits, o->file->data().size());
  return OpenStream(o->file->data(), o->limits, &o->stream);
}

// --arrays DIR: every array with raw data becomes DIR/array-N.npy, named in
// document order.  Files are created only after the load succeeded; if one
// cannot be written, those written are removed and the load fails.
class ArrayFiles {
 public:
  explicit ArrayFiles(std::string dir) : dir_(std::move(dir)) {}
  ~ArrayFiles() {
    if (!ok_) {
      for (const auto& f : written_) unlink(f.c_str());
    }
  }
  bool Prepare(std::string* error) {
    struct stat st;
    if (stat(dir_.c_str(), &st) != 0) {
      if (mkdir(dir_.c_str(), 0777) != 0) {
        *error = StrCat(dir_, ": ", strerror(errno));
        return false;
      }
    } else if (!S_ISDIR(st.st_mode)) {
      *error = StrCat(dir_, ": not a folder");
      return false;
    }
    return true;
  }
  std::string Write(const ArrayInfo& a) {
    std::string header;
    if (!NpyHeader(a, &header).ok()) {
      ok_ = false;
      return "";
    }
    // Arrays that view the same bytes with the same header are the same
    // file: written once, so many arrays over one memoized bytes object
    // cannot multiply the disk written beyond the input's size.
    std::string key = StrCat(reinterpret_cast<uintptr_t>(a.data.data()), ":",
                             a.data.size(), ":", header);
    if (auto it = by_content_.find(key); it != by_content_.end()) {
      return it->second;
    }
    std::string name = StrCat("array-", written_.size(), ".npy");
    std::string path = StrCat(dir_, "/", name);
    by_content_.emplace(std::move(key), name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    written_.push_back(path);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(a.data.data(), static_cast<std::streamsize>(a.data.size()));
    if (!out) ok_ = false;
    return name;
  }
  bool ok() const { return ok_; }
  void Keep() { ok_ = true; }

 private:
  std::string dir_;
  std::vector<std::string> written_;
  absl::flat_hash_map<std::string, std::string> by_content_;
  bool ok_ = true;
};

// Hashes the whole file on a second thread while the load runs (the
// document's source.sha256 and every array's sha256 are two passes of
// SHA-256 over mostly the same bytes; on two cores they overlap).  The
// destructor cancels and joins, so a refused load returns at once and
// nothing outlives the mapping.
class FileHasher {
 public:
  explicit FileHasher(std::string_view file) : file_(file) {
    // Where no thread can be made (a sandbox's process limit), the hash is
    // computed in Digest() instead: slower, never a failed load.
    try {
      thread_ = std::thread([this] { digest_ = Sha256Hex(file_, cancel_); });
    } catch (const std::system_error&) {
    }
  }
  ~FileHasher() {
    cancel_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  const std::string& Digest() {
    if (thread_.joinable()) {
      thread_.join();
    } else if (digest_.empty()) {
      digest_ = Sha256Hex(file_);
    }
    return digest_;
  }

 private:
  std::string_view file_;
  std::atomic<bool> cancel_{false};
  std::string digest_;
  std::thread thread_;
};

// An unnamed temporary file that holds a document until it may be printed.
class Spool {
 public:
  Spool() = default;
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;
  ~Spool() {
    if (file_ != nullptr) std::fclose(file_);
  }
  bool Open() {
    file_ = std::tmpfile();
    return file_ != nullptr;
  }
  void Write(std::string_view s) {
    if (file_ != nullptr && std::fwrite(s.data(), 1, s.size(), file_) != s.size()) {
      failed_ = true;
    }
  }
  bool ok() const {
    return file_ == nullptr || (!failed_ && std::fflush(file_) == 0);
  }
  void CopyToStdout() {
    if (file_ == nullptr) return;
    std::rewind(file_);
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) {
      WriteStdout(std::string_view(buf, n));
    }
  }

 private:
  std::FILE* file_ = nullptr;
  bool failed_ = false;
};

int Load(const Args& args) {
  const std::string& path = args.paths[0];
  int exit_code = kExitOk;
  auto policy = MakePolicy(args, &exit_code);
  if (!policy) return exit_code;
  Opened in;
  if (auto s = Open(path, args.limits, &in); !s.ok()) {
    return ReportError(path, s);
  }
  std::string_view file = in.file->data();
  FileHasher file_hash(file);
  MachineOptions options;
  options.mode = Mode::kStrict;
  options.limits = in.limits;
  options.policy = policy.get();
  Graph graph(args.limits.max_nodes);
  RunResult run;
  if (auto s = LoadFirstPickle(in.stream.bytes, options, &graph, &run);
      !s.ok()) {
    return ReportError(path, s);
  }
  // The arrays' digests on this thread while the file's is computed on the
  // other; the document needs the file's first.
  ArrayDigests digests;
  for (const Node* a : graph.arrays()) {
    const ArrayInfo* info = a->a.array;
    if (info != nullptr && info->items == nullptr) digests.Get(info->data);
  }
  SourceInfo source{file.size(), file_hash.Digest(),
                    ContainerName(in.stream.codec, !run.joblib_regions.empty())};
  EmitOptions emit;
  emit.digests = &digests;
  emit.max_output_bytes = in.limits.max_output_bytes;
  std::unique_ptr<ArrayFiles> files;
  OutBuffer out;
  if (args.arrays == "inline") {
    emit.arrays = EmitOptions::Arrays::kInline;
  } else if (args.arrays != "summary") {
    files = std::make_unique<ArrayFiles>(args.arrays);
    std::string error;
    if (!files->Prepare(&error)) {
      std::fprintf(stderr, "picklevm: %s\n", error.c_str());
      return kExitUsage;
    }
    emit.arrays = EmitOptions::Arrays::kFiles;
    emit.write_array = [&files](const ArrayInfo& a) { return files->Write(a); };
  }
  // In files mode the document waits until every array is on disk, so a
  // failed write prints nothing: in an unnamed temporary file (the system
  // removes it however the process ends), not in memory, since a document
  // can be GBs (a stream sharing one value between many objects); in
  // memory only if no temporary file can be made.
  Spool spool;
  if (!files) {
    out.flush = WriteStdout;
  } else if (spool.Open()) {
    out.flush = [&spool](std::string_view s) { spool.Write(s); };
  }
  if (auto s = WriteGraphDocument(source, run.protocol, run.root, run.warnings,
                                  args.limits.max_depth, &out, emit);
      !s.ok()) {
    return ReportError(path, s);
  }
  if (files && !files->ok()) {
    std::fprintf(stderr, "picklevm: %s: cannot write the arrays to %s\n",
                 path.c_str(), args.arrays.c_str());
    return kExitMalformed;
  }
  if (files) {
    out.Finish();  // the rest into the spool, if there is one
    if (!spool.ok()) {
      std::fprintf(stderr, "picklevm: %s: cannot write the document to a "
                   "temporary file\n", path.c_str());
      return kExitMalformed;
    }
    files->Keep();
    spool.CopyToStdout();
    WriteStdout(out.data);  // without a spool, all of it
  }
  out.Finish();
  return kExitOk;
}

int Dis(const Args& args) {
  const std::string& path = args.paths[0];
  Opened in;
  if (auto s = Open(path, args.limits, &in); !s.ok()) {
    return ReportError(path, s);
  }
  // joblib's inline arrays are found by running the stream in record mode
  // under the default policy (so numpy's builders size the arrays); dis
  // then shows each as one line.
  auto policy = BuildPolicy(false, {});
  if (!policy.ok()) return ReportError(path, policy.status());
  MachineOptions options;
  options.mode = Mode::kRecord;
  options.limits = in.limits;
  options.policy = policy->get();
  Graph graph(args.limits.max_nodes);
  std::vector<RunResult> runs;
  (void)RunAllPickles(in.stream.bytes, options, &graph, &runs);
  DisOptions dis;
  dis.max_int_digits = args.limits.max_int_digits;
  for (const RunResult& r : runs) {
    for (const JoblibRegion& j : r.joblib_regions) dis.regions.push_back(j);
  }
  OutBuffer out;
  out.flush = WriteStdout;
  uint64_t end = 0;
  absl::Status s = Disassemble(in.stream.bytes, 0, dis, &out, &end);
  out.Finish();
  if (!s.ok()) return ReportError(path, s);
  return kExitOk;
}

int Trace(const Args& args) {
  const std::string& path = args.paths[0];
  int exit_code = kExitOk;
  auto policy = MakePolicy(args, &exit_code);
  if (!policy) return exit_code;
  Opened in;
  absl::Status opened = Open(path, args.limits, &in);
  // A compressed file that breaks part way is still traced as far as it
  // decompresses: joblib would have unpickled that much.  A file that
  // cannot be read at all has no document.
  if (!in.file.has_value()) return ReportError(path, opened);
  MachineOptions options;
  options.mode = Mode::kRecord;
  options.limits = in.limits;
  options.policy = policy.get();
  Graph graph(args.limits.max_nodes);
  std::vector<RunResult> runs;
  absl::Status s = opened;
  if (!in.stream.bytes.empty() || opened.ok()) {
    s = RunAllPickles(in.stream.bytes, options, &graph, &runs);
    if (!opened.ok()) s = opened;
  }
  bool joblib = false;
  for (const RunResult& r : runs) joblib |= !r.joblib_regions.empty();
  std::string_view file = in.file->data();
  SourceInfo source{file.size(), Sha256Hex(file),
                    ContainerName(in.stream.codec, joblib)};
  OutBuffer out;
  out.flush = WriteStdout;
  TraceReport report{source, &runs, s, args.limits.max_depth,
                     in.limits.max_output_bytes};
  if (args.format == "json") {
    // Cut at --max-output-bytes: what was written is a whole document, and
    // its "error" says where it stops; the exit status is the limit's.
    absl::Status cut = WriteTraceJson(report, &out);
    if (!cut.ok() && s.ok()) s = cut;
  } else {
    WriteTracePython(report, &out);
  }
  out.Finish();
  // Something outside the policy is the answer even when the stream later
  // breaks (a payload before broken bytes): exit 1 wins over 2.
  bool outside = AnyDisallowed(runs);
  if (!s.ok()) {
    int code = ReportError(path, s);
    return outside ? kExitRefused : code;
  }
  return outside ? kExitRefused : kExitOk;
}

// Regular files below each path, depth first, in name order.
void Walk(const std::string& path, std::vector<std::string>* files,
          std::vector<std::string>* errors, int depth = 0) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    errors->push_back(StrCat(path, ": ", strerror(errno)));
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    files->push_back(path);
    return;
  }
  if (depth > 64) {
    errors->push_back(StrCat(path, ": folders nest too deep"));
    return;
  }
  std::vector<std::string> names;
  if (auto* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    std::string child = path.back() == '/' ? path + n : path + "/" + n;
    struct stat cs;
    if (lstat(child.c_str(), &cs) == 0 && S_ISLNK(cs.st_mode)) continue;
    Walk(child, files, errors, depth + 1);
  }
}

int Scan(const Args& args) {
  int exit_code = kExitOk;
  auto policy = MakePolicy(args, &exit_code);
  if (!policy) return exit_code;
  std::vector<std::string> files, walk_errors;
  for (const auto& p : args.paths) {
    if (p == "-") {
      files.push_back(p);
    } else {
      Walk(p, &files, &walk_errors);
    }
  }
  for (const auto& e : walk_errors) {
    std::fprintf(stderr, "picklevm: %s\n", e.c_str());
  }
  OutBuffer out;
  out.flush = WriteStdout;
  ScanWriter writer(args.format, &out);
  bool any_unsafe = false, any_error = !walk_errors.empty();
  for (const std::string& path : files) {
    ScanResult result;
    result.path = path;
    Opened in;
    absl::Status opened = Open(path, args.limits, &in);
    absl::Status s = opened;
    Graph graph(args.limits.max_nodes);
    std::vector<RunResult> runs;
    if (in.file.has_value() && (opened.ok() || !in.stream.bytes.empty())) {
      // As in trace: a compressed stream that breaks is scanned as far as
      // it goes, and its error kept.
      MachineOptions options;
      options.mode = Mode::kRecord;
      options.limits = in.limits;
      options.policy = policy.get();
      s = RunAllPickles(in.stream.bytes, options, &graph, &runs);
      if (!opened.ok()) s = opened;
      bool joblib = false;
      for (const RunResult& r : runs) joblib |= !r.joblib_regions.empty();
      result.container = ContainerName(in.stream.codec, joblib);
    }
    ClassifyScan(runs, s, &result);
    any_unsafe |= result.verdict == "unsafe";
    any_error |= result.verdict == "error";
    writer.Add(result);
    out.MaybeFlush();
  }
  writer.Finish();
  out.Finish();
  if (any_unsafe) return kExitRefused;
  if (any_error) return kExitMalformed;
  return kExitOk;
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
  return Scan(args);
}

}  // namespace
}  // namespace picklevm

int main(int argc, char** argv) {
  // RunPickle reports a refused allocation as an error; this catches one
  // anywhere else (decompression, writing the output), so that running out
  // of memory is exit status 2 with a message, never an abort.
  try {
    return picklevm::Main(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fputs("picklevm: out of memory\n", stderr);
    return picklevm::kExitMalformed;
  }
}
