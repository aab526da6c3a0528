#include "vm/emit/report.h"

#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "vm/base/error.h"
#include "vm/base/json_text.h"
#include "vm/base/strcat.h"
#include "vm/emit/pyrepr.h"
#include "vm/graph/numpy_values.h"
#include "vm/graph/walk.h"

namespace picklevm {
namespace {

void AppendFindingJson(const Finding& f, std::string* o) {
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

std::string FindingLabel(const Finding& f) {
  return f.global.empty() ? StrCat(f.use, " ", f.detail) : f.global;
}

// ---- Python-like rendering of values (trace --format python) -------------
//
// Iterative, with a budget: a statement longer than kMaxStatement is cut,
// and a container met again inside one rendering prints as "..." (as
// Python's repr does for a list that holds itself), so neither cycles nor
// exponentially shared graphs can blow up the output.
constexpr size_t kMaxStatement = 4096;

// What of a long text is worth rendering: the statement is cut at
// kMaxStatement anyway, and rendering all of a memoized 100 KB str for each
// of the calls that name it made trace's time quadratic.  A prefix of more
// than kMaxStatement bytes renders to more than kMaxStatement characters,
// so the cut still shows; a str is cut at a character boundary.
std::string_view Prefix(std::string_view text, bool utf8) {
  if (text.size() <= kMaxStatement + 1) return text;
  size_t cut = kMaxStatement + 1;
  while (utf8 && cut > 0 &&
         (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return text.substr(0, cut);
}

class PyRenderer {
 public:
  // Names for call results (variables) and globals (imported names).
  absl::flat_hash_map<const Node*, std::string> names;
  absl::flat_hash_map<std::string, std::string> global_names;
  absl::flat_hash_map<const picklevm::GlobalName*, std::string> by_global_;

  std::string Render(Node* root) {
    std::string out;
    struct Frame {
      Node* node;
      uint32_t step;
    };
    std::vector<Frame> stack;
    absl::flat_hash_set<const Node*> open;
    auto begin = [&](Node* n) {
      if (auto it = names.find(n); it != names.end()) {
        out += it->second;
        return;
      }
      if (!Leaf(n, &out)) {
        if (!open.insert(n).second) {
          out += "...";
          return;
        }
        stack.push_back({n, 0});
      }
    };
    begin(root);
    while (!stack.empty() && out.size() <= kMaxStatement) {
      Frame& f = stack.back();
      Node* child = Step(f.node, f.step++, &out);
      if (child == nullptr) {
        open.erase(f.node);
        stack.pop_back();
        continue;
      }
      begin(child);
    }
    if (out.size() > kMaxStatement) {
      out.resize(kMaxStatement);
      out += " ...<cut>";
    }
    return out;
  }

  // The name a global is imported as.  Remembered by GlobalName, so that
  // the calls of one global node do not each copy and hash its name (a
  // name is as long as the stream makes it: 60,000 BUILDs under one
  // 300 KB class name took 17 s).
  const std::string& GlobalName(const picklevm::GlobalName* g) {
    auto [at, fresh] = by_global_.try_emplace(g);
    if (fresh) {
      auto it = global_names.find(ToAbsl(g->joined));
      at->second = it != global_names.end() ? it->second
                                            : std::string(g->qualname);
    }
    return at->second;
  }

 private:
  bool Leaf(Node* n, std::string* out) {
    switch (n->kind) {
      case Kind::kNone: *out += "None"; return true;
      case Kind::kBool: *out += n->a.i ? "True" : "False"; return true;
      case Kind::kInt: StrAppend(out, n->a.i); return true;
      case Kind::kBigInt: out->append(n->str()); return true;
      case Kind::kFloat: {
        double d = n->a.f;
        if (std::isnan(d)) {
          *out += "float('nan')";
        } else if (std::isinf(d)) {
          *out += d > 0 ? "float('inf')" : "float('-inf')";
        } else {
          *out += FloatRepr(d);
        }
        return true;
      }
      case Kind::kComplex:
        StrAppend(out, "complex(", FloatRepr(n->a.f), ", ", FloatRepr(n->b().f),
                  ")");
        return true;
      case Kind::kStr: *out += PyReprStr(Prefix(n->str(), true)); return true;
      case Kind::kBytes: *out += PyReprBytes(Prefix(n->str(), false)); return true;
      case Kind::kByteArray:
        StrAppend(out, "bytearray(", PyReprBytes(Prefix(n->str(), false)),
                  ")");
        return true;
      case Kind::kGlobal: *out += GlobalName(n->a.global); return true;
      case Kind::kExt: StrAppend(out, "copyreg._extension(", n->a.i, ")"); return true;
      case Kind::kDtype:
        *out += "numpy.dtype(";
        {
          std::string d;
          AppendDtypeJson(*n->a.dtype, &d);
          *out += PyReprStr(d);
        }
        *out += ")";
        return true;
      case Kind::kScalar: {
        // numpy.float64(0.5): the type from the dtype, the value if any.
        const DtypeInfo& d = *n->a.scalar->dtype->a.dtype;
        static const char* const kTypes[] = {"bool_", "int", "uint", "float",
                                             "complex"};
        std::string_view kinds = "biufc";
        size_t k = kinds.find(d.kind);
        WideNode wide_number(Kind::kNone);  // ScalarNumber may make a complex
        Node& number = wide_number.node;
        std::string storage;
        if (k != std::string_view::npos &&
            ScalarNumber(*n->a.scalar, &number, &storage)) {
          StrAppend(out, "numpy.", kTypes[k]);
          if (d.kind != 'b') StrAppend(out, d.itemsize * 8);
          *out += "(";
          Leaf(&number, out);
          *out += ")";
        } else {
          StrAppend(out, "numpy.scalar(", PyReprStr(DtypeStr(d)), ", ",
                    PyReprBytes(n->a.scalar->data), ")");
        }
        return true;
      }
      case Kind::kNDArray:
        if (n->a.array->dtype->a.dtype->kind == 'O') return false;
        StrAppend(out, "numpy.ndarray(dtype=",
                  PyReprStr(DtypeStr(*n->a.array->dtype->a.dtype)),
                  ", nbytes=", n->a.array->data.size(), ")");
        return true;
      case Kind::kObject:
      case Kind::kCall:
        // Only reached for results without a variable: instances the
        // stream made without a recorded call.
        StrAppend(out, "<", KindName(n->kind), ">");
        return true;
      default:
        return false;
    }
  }

  // The container's literal, one child at a time (see EmitStep in json.cc).
  Node* Step(Node* n, uint32_t s, std::string* out) {
    switch (n->kind) {
      case Kind::kList:
      case Kind::kTuple:
      case Kind::kSet:
      case Kind::kFrozenSet:
      case Kind::kSlice:
      case Kind::kNDArray: {
        uint32_t size = 0;
        Node* const* items = nullptr;
        Node* buf[2];
        if (n->kind == Kind::kSet || n->kind == Kind::kFrozenSet) {
          size = n->a.set->items.size;
          items = n->a.set->items.data;
        } else if (n->kind == Kind::kNDArray) {
          size = static_cast<uint32_t>(n->a.array->item_count);
          items = n->a.array->items;
        } else {
          absl::Span<Node* const> own = n->Items(buf);
          size = static_cast<uint32_t>(own.size());
          items = own.data();
        }
        const char* open = n->kind == Kind::kList    ? "["
                           : n->kind == Kind::kTuple ? "("
                           : n->kind == Kind::kSet   ? "{"
                           : n->kind == Kind::kFrozenSet ? "frozenset({"
                           : n->kind == Kind::kSlice     ? "slice("
                                                         : "numpy.array([";
        const char* close = n->kind == Kind::kList    ? "]"
                            : n->kind == Kind::kTuple ? (size == 1 ? ",)" : ")")
                            : n->kind == Kind::kSet   ? "}"
                            : n->kind == Kind::kFrozenSet ? "})"
                            : n->kind == Kind::kSlice     ? ")"
                                                          : "], dtype=object)";
        if (s == 0) {
          if (size == 0 && n->kind == Kind::kSet) {
            *out += "set()";
            return nullptr;
          }
          *out += open;
        }
        if (s < size) {
          if (s) *out += ", ";
          return items[s];
        }
        *out += close;
        return nullptr;
      }
      case Kind::kDict: {
        uint32_t size = n->a.dict->size();
        if (s == 0) *out += "{";
        if (s < size * 2) {
          if (s % 2 == 0) {
            if (s) *out += ", ";
          } else {
            *out += ": ";
          }
          Entry e = n->a.dict->entry(s / 2);
          return s % 2 ? e.value : e.key;
        }
        *out += "}";
        return nullptr;
      }
      case Kind::kPersId:
        if (s == 0) {
          *out += "persistent_load(";
          return n->a.target;
        }
        *out += ")";
        return nullptr;
      default:
        return nullptr;
    }
  }
};

bool IsPythonIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool AnyDisallowed(const std::vector<RunResult>& runs) {
  for (const RunResult& r : runs) {
    for (const Finding& f : r.findings) {
      if (!f.allowed) return true;
    }
  }
  return false;
}

absl::Status WriteTraceJson(const TraceReport& report, OutBuffer* out) {
  std::string& o = out->data;
  o.append("{\"format\":\"picklevm-trace/1\",\"source\":");
  AppendSourceJson(report.source, &o);
  o.append(",\"calls\":[");
  bool first = true;
  // What the calls and graphs may still come to (--max-output-bytes): each
  // call writes its arguments in full, and a stream can pass one memoized
  // value to any number of calls.  The document's own text and its error
  // first, then the findings, written whatever else is cut (they are what
  // a trace is for), exactly; they are cut themselves only where they alone
  // would pass the limit.
  const uint64_t frame = 256 + o.size() + 6 * report.status.message().size();
  uint64_t left =
      report.max_output_bytes > frame ? report.max_output_bytes - frame : 0;
  absl::Status cut;
  size_t findings = 0;
  size_t findings_kept = 0;
  {
    std::string text;
    for (const RunResult& run : *report.runs) {
      for (const Finding& f : run.findings) {
        ++findings;
        if (findings_kept + 1 < findings) continue;  // cut before this one
        text.clear();
        AppendFindingJson(f, &text);
        if (text.size() + 1 > left) continue;
        left -= text.size() + 1;
        ++findings_kept;
      }
    }
  }
  if (findings_kept < findings) {
    cut = MakeError(ErrorCode::kLimit, -1, -1,
                    StrCat("the trace stops after ", findings_kept, " of ",
                           findings, " findings: it would exceed "
                           "--max-output-bytes (", report.max_output_bytes,
                           ")"));
  }
  size_t written = 0;
  // A callable's name as written (escaped): a long one is measured once per
  // name, not reckoned at 6 bytes a byte, so that a stream calling one long
  // name many times is cut where its JSON would pass the limit, not at a
  // sixth of it.
  absl::flat_hash_map<const GlobalName*, uint64_t> name_sizes;
  auto name_size = [&](const Node* callable) -> uint64_t {
    if (callable->kind != Kind::kGlobal) return 4;  // null
    const std::string_view joined = callable->a.global->joined;
    if (joined.size() < 64) return 2 + 6 * joined.size();
    auto [it, fresh] = name_sizes.try_emplace(callable->a.global, 0);
    if (fresh) {
      std::string text;
      AppendJsonString(joined, &text);
      it->second = text.size();
    }
    return it->second;
  };
  for (const RunResult& run : *report.runs) {
    if (!cut.ok()) break;
    for (const CallEvent& c : run.calls) {
      if (c.build) continue;
      // Each call's arguments are one value of their own ($id space): a
      // list node over them, not a copy (a stream may unpack one big tuple
      // in any number of calls).
      WideNode storage(Kind::kList);
      Node* args = Graph::ListView(&storage, c.args);
      // The call's own keys (20 digits of offset) and its callable's name.
      const uint64_t fixed = 128 + name_size(c.callable);
      EmitOptions limited;
      limited.max_output_bytes = left > fixed ? left - fixed : 0;
      JsonEncoder enc(limited);
      absl::Status prepared = args != nullptr
                                  ? enc.Prepare({args}, report.max_depth)
                                  : absl::OkStatus();
      if (fixed > left || enc.estimate() > limited.max_output_bytes) {
        cut = MakeError(ErrorCode::kLimit, -1, -1,
                        StrCat("the trace stops after ", written,
                               " calls: it would exceed --max-output-bytes (",
                               report.max_output_bytes, ")"));
        break;
      }
      left -= fixed + enc.estimate();
      ++written;
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
      if (args != nullptr && prepared.ok()) {
        enc.Write(args, out);
      } else {
        o.append("null");
      }
      StrAppend(&o, ",\"offset\":", c.offset,
                ",\"admitted\":", c.admitted ? "true" : "false", "}");
      out->MaybeFlush();
    }
  }
  o.append("],\"findings\":[");
  first = true;
  size_t kept = 0;
  for (const RunResult& run : *report.runs) {
    for (const Finding& f : run.findings) {
      if (kept == findings_kept) break;
      ++kept;
      if (!first) o.push_back(',');
      first = false;
      AppendFindingJson(f, &o);
      out->MaybeFlush();
    }
  }
  o.append("],\"graphs\":[");
  first = true;
  absl::Status status = report.status;
  for (const RunResult& run : *report.runs) {
    if (!cut.ok()) break;
    if (run.root == nullptr) continue;
    // Written in place, as it goes (a graph's document can be GBs when a
    // stream shares one value between many calls: held whole, 35 KB took
    // 600 MB).  A failed document writes nothing (WriteGraphDocument checks
    // first), so only the comma before it is taken back.
    if (!first) o.push_back(',');
    EmitOptions limited;
    limited.max_output_bytes = left;
    uint64_t estimate = 0;
    absl::Status ws =
        WriteGraphDocument(report.source, run.protocol, run.root, run.warnings,
                           report.max_depth, out, limited, &estimate);
    if (!ws.ok()) {
      if (!first) o.pop_back();
      if (estimate > left) {
        cut = MakeError(ErrorCode::kLimit, -1, -1,
                        StrCat("the trace stops before a graph: it would "
                               "exceed --max-output-bytes (",
                               report.max_output_bytes, ")"));
      } else if (status.ok()) {
        status = ws;
      }
      break;
    }
    left -= estimate;
    first = false;
    // The document's own line end (it ends in what is still buffered).
    if (!o.empty() && o.back() == '\n') o.pop_back();
    out->MaybeFlush();
  }
  // The error: the stream's, and where the trace was cut.
  std::string error;
  if (!status.ok()) error = std::string(status.message());
  if (!cut.ok()) {
    error = error.empty() ? std::string(cut.message())
                          : StrCat(error, "; ", cut.message());
  }
  o.append("],\"error\":");
  if (error.empty()) {
    o.append("null");
  } else {
    AppendJsonString(error, &o);
  }
  o.append("}\n");
  return cut;
}

void WriteTracePython(const TraceReport& report, OutBuffer* out) {
  std::string& o = out->data;
  StrAppend(&o, "# picklevm trace: ", report.source.bytes, " bytes, sha256 ",
            report.source.sha256, ", ", report.source.container, "\n",
            "# Nothing below was executed; it is what pickle.loads would "
            "have done.\n");
  PyRenderer r;
  // Imports first: every global the stream names, once, in order.
  absl::flat_hash_set<std::string> used_names;
  std::vector<std::string> imports;
  auto add = [&](std::string_view module, std::string_view qual) {
    std::string joined = StrCat(module, ":", qual);
    if (r.global_names.contains(joined)) return;
    std::string head(qual.substr(0, qual.find('.')));
    std::string alias = IsPythonIdentifier(head) ? head : "_global";
    std::string unique = alias;
    for (int k = 1; used_names.contains(unique); ++k) {
      unique = StrCat(alias, "_", k);
    }
    used_names.insert(unique);
    std::string rest(qual.size() > head.size() ? qual.substr(head.size()) : "");
    r.global_names[joined] = unique + rest;
    imports.push_back(StrCat("from ", module, " import ", head,
                             unique != head ? StrCat(" as ", unique) : "",
                             "\n"));
  };
  // Each global node's name once, not once per call of it (see GlobalName).
  absl::flat_hash_set<const GlobalName*> added;
  for (const RunResult& run : *report.runs) {
    for (const CallEvent& c : run.calls) {
      if (c.callable->kind == Kind::kGlobal &&
          added.insert(c.callable->a.global).second) {
        add(c.callable->a.global->module, c.callable->a.global->qualname);
      }
    }
    for (const Finding& f : run.findings) {
      size_t colon = f.global.find(':');
      if (colon != std::string::npos) {
        add(std::string_view(f.global).substr(0, colon),
            std::string_view(f.global).substr(colon + 1));
      }
    }
  }
  for (const auto& line : imports) o += line;
  size_t var = 0;
  size_t pickle_no = 0;
  for (const RunResult& run : *report.runs) {
    StrAppend(&o, "\n# pickle ", ++pickle_no,
              run.protocol >= 0 ? StrCat(", protocol ", run.protocol) : "",
              "\n");
    for (const CallEvent& c : run.calls) {
      if (c.build) {
        auto it = r.names.find(c.result);
        std::string target = it != r.names.end() ? it->second : "<object>";
        StrAppend(&o, target, ".__setstate__(", r.Render(c.args[0]),
                  ")  # BUILD at offset ", c.offset, "\n");
        out->MaybeFlush();
        continue;
      }
      std::string callee = c.callable->kind == Kind::kGlobal
                               ? r.GlobalName(c.callable->a.global)
                               : r.Render(c.callable);
      // A statement is cut at kMaxStatement like a value: each argument
      // is, and so is the list of them (100,000 arguments of one memoized
      // str held 1.2 GB for one call).
      std::string args;
      for (size_t i = 0; i < c.args.size() && args.size() <= kMaxStatement;
           ++i) {
        if (i) args += ", ";
        args += r.Render(c.args[i]);
      }
      if (c.kwargs != nullptr) {
        for (uint32_t i = 0;
             i < c.kwargs_size && args.size() <= kMaxStatement; ++i) {
          Entry e = c.kwargs->a.dict->entry(i);
          if (!args.empty()) args += ", ";
          StrAppend(&args, Prefix(e.key->str(), true), "=",
                    r.Render(e.value));
        }
      }
      if (args.size() > kMaxStatement) {
        size_t cut = kMaxStatement;  // at a character boundary
        while (cut > 0 &&
               (static_cast<unsigned char>(args[cut]) & 0xC0) == 0x80) {
          --cut;
        }
        args.resize(cut);
        args += " ...<cut>";
      }
      std::string name = StrCat("_var", var++);
      std::string call = c.use == Use::kInstantiate
                             ? StrCat(callee, ".__new__(", callee,
                                      args.empty() ? "" : ", ", args, ")")
                             : StrCat(callee, "(", args, ")");
      StrAppend(&o, name, " = ", call, "  # offset ", c.offset,
                c.admitted ? "" : "  !! NOT ADMITTED BY THE POLICY", "\n");
      if (c.result != nullptr) r.names.emplace(c.result, name);
      out->MaybeFlush();
    }
    for (const Finding& f : run.findings) {
      out->MaybeFlush();
      if (f.use == "reference" && !f.allowed) {
        StrAppend(&o, "# offset ", f.offset, ": references ", f.global,
                  "  !! NOT ADMITTED BY THE POLICY\n");
      } else if (f.use == "persistent-id" || f.use == "extension-code") {
        StrAppend(&o, "# offset ", f.offset, ": ", f.use, " ",
                  PyReprStr(f.detail),
                  f.allowed ? "" : "  !! NOT ADMITTED BY THE POLICY", "\n");
      } else if (!f.detail.empty() && f.detail == "BUILD sets attributes") {
        StrAppend(&o, "# offset ", f.offset, ": BUILD sets attributes on ",
                  f.global, "  !! NOT ADMITTED BY THE POLICY\n");
      }
    }
    if (run.root != nullptr) StrAppend(&o, "result = ", r.Render(run.root), "\n");
  }
  if (!report.status.ok()) {
    StrAppend(&o, "\n# the stream stops being a valid pickle here: ",
              report.status.message(), "\n");
  }
}

void ClassifyScan(const std::vector<RunResult>& runs,
                  const absl::Status& status, ScanResult* result) {
  for (const RunResult& r : runs) {
    for (const Finding& f : r.findings) result->findings.push_back(f);
  }
  if (!status.ok()) result->error = std::string(status.message());
  bool unsafe = false;
  for (const Finding& f : result->findings) unsafe |= !f.allowed;
  result->verdict = unsafe ? "unsafe" : !status.ok() ? "error" : "clean";
}

void ScanWriter::Add(const ScanResult& r) {
  std::string& o = out_->data;
  if (format_ == "text") {
    StrAppend(&o, r.verdict, " ", r.path);
    if (r.verdict == "unsafe") {
      bool first = true;
      for (const Finding& f : r.findings) {
        if (f.allowed) continue;
        StrAppend(&o, first ? " " : ", ", FindingLabel(f), " (", f.use, " at ",
                  f.offset, ")");
        first = false;
        out_->MaybeFlush();
      }
    }
    if (!r.error.empty()) StrAppend(&o, r.verdict == "unsafe" ? "; " : " ", r.error);
    o.push_back('\n');
    return;
  }
  if (format_ == "jsonl") {
    o.append("{\"path\":");
    AppendJsonString(r.path, &o);
    o.append(",\"verdict\":");
    AppendJsonString(r.verdict, &o);
    o.append(",\"container\":");
    if (r.container.empty()) {
      o.append("null");
    } else {
      AppendJsonString(r.container, &o);
    }
    o.append(",\"findings\":[");
    for (size_t i = 0; i < r.findings.size(); ++i) {
      if (i) o.push_back(',');
      AppendFindingJson(r.findings[i], &o);
      out_->MaybeFlush();
    }
    o.append("],\"error\":");
    if (r.error.empty()) {
      o.append("null");
    } else {
      AppendJsonString(r.error, &o);
    }
    o.append("}\n");
    return;
  }
  // SARIF: one result per finding outside the policy, one per error.
  auto location = [&](uint64_t offset) {
    std::string l = "[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":";
    AppendJsonString(r.path, &l);
    StrAppend(&l, "},\"region\":{\"byteOffset\":", offset,
              ",\"byteLength\":1}}}]");
    return l;
  };
  for (const Finding& f : r.findings) {
    if (f.allowed) continue;
    std::string rule = f.use == "persistent-id"    ? "persistent-id"
                       : f.use == "extension-code" ? "extension-code"
                                                   : "unsafe-global";
    std::string text = StrCat(FindingLabel(f), " (", f.use,
                              ") is not admitted by the policy");
    std::string res = StrCat("{\"ruleId\":\"", rule,
                             "\",\"level\":\"error\",\"message\":{\"text\":");
    AppendJsonString(text, &res);
    StrAppend(&res, "},\"locations\":", location(f.offset), "}");
    SarifResult(res);
  }
  if (!r.error.empty()) {
    std::string res =
        "{\"ruleId\":\"malformed\",\"level\":\"warning\",\"message\":{\"text\":";
    AppendJsonString(r.error, &res);
    StrAppend(&res, "},\"locations\":", location(0), "}");
    SarifResult(res);
  }
}

void ScanWriter::SarifResult(std::string_view result) {
  std::string& o = out_->data;
  if (!sarif_started_) {
    sarif_started_ = true;
    o.append(
        "{\"version\":\"2.1.0\",\"$schema\":"
        "\"https://json.schemastore.org/sarif-2.1.0.json\",\"runs\":[{"
        "\"tool\":{\"driver\":{\"name\":\"picklevm\",\"rules\":["
        "{\"id\":\"unsafe-global\",\"shortDescription\":{\"text\":\"The pickle "
        "imports or calls a global outside the policy\"}},"
        "{\"id\":\"persistent-id\",\"shortDescription\":{\"text\":\"The pickle "
        "asks for a persistent object the policy cannot see\"}},"
        "{\"id\":\"extension-code\",\"shortDescription\":{\"text\":\"The pickle "
        "names a global through copyreg's extension registry\"}},"
        "{\"id\":\"malformed\",\"shortDescription\":{\"text\":\"The file is not "
        "a valid pickle or joblib file, or a limit was exceeded\"}}]}},"
        "\"results\":[");
  }
  if (result.empty()) return;  // (Finish: the head alone)
  if (sarif_any_) o.push_back(',');
  sarif_any_ = true;
  o.append(result);
  out_->MaybeFlush();
}

void ScanWriter::Finish() {
  if (format_ != "sarif") return;
  SarifResult("");  // the head, if no result wrote it
  out_->data.append("]}]}\n");
}

}  // namespace picklevm
