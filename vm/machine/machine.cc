#include "vm/machine/machine.h"

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "vm/base/strcat.h"
#include "absl/strings/match.h"
#include "vm/base/error.h"
#include "vm/base/growable_array.h"
#include "vm/builders/builtins.h"
#include "vm/builders/numpy.h"
#include "vm/decode/operand.h"
#include "vm/decode/reader.h"
#include "vm/graph/walk.h"
#include "vm/opcodes/opcodes.h"
#include "vm/policy/allowlist.h"
#include "vm/text/numbers.h"
#include "vm/text/strings.h"

namespace picklevm {
namespace {

struct CompatName {
  const char* module;
  const char* name;
  const char* new_module;
  const char* new_name;
};
struct CompatModule {
  const char* module;
  const char* new_module;
};
#include "vm/machine/compat_names.inc"

constexpr char kJoblibWrapper[] = "joblib.numpy_pickle:NumpyArrayWrapper";

// Node::spare bits the machine uses on kGlobal nodes.
constexpr uint16_t kGlobalConsumed = 1;  // used as a callable or class
// The rest: 1 + the global's index in Machine::resolved_, or 0 past the
// first kMaxResolvedSlots globals (whose lookups are then made afresh).
constexpr int kResolvedSlotShift = 1;
constexpr size_t kMaxResolvedSlots = (0xFFFF >> kResolvedSlotShift) - 1;

bool IsDataKind(Kind k) {
  switch (k) {
    case Kind::kGlobal:
    case Kind::kObject:
    case Kind::kCall:
    case Kind::kPersId:
    case Kind::kExt:
      return false;
    default:
      return true;
  }
}

std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) {
      StrAppend(&out, "\\x", absl::Hex(static_cast<unsigned char>(c),
                                              absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('\'');
  return out;
}

// A global the policy does not admit as a value.  MakeGlobal sets the flag,
// on global nodes only, so the flag alone answers.
inline bool Unreferenceable(const Node* n) {
  return (n->flags & kGlobalUnreferenceable) != 0;
}

// The object stack (CPython's Pdata): a vector of nodes that counts the
// pushes of globals the policy does not admit as values (flagged
// kGlobalUnreferenceable when MakeGlobal makes them).  push_back and
// ReplaceTop count; PushKnown is for a caller that knows its node is not
// such a global (FastRun: a node it has just made, a singleton, or a memo
// node while the memo has never held such a global), which keeps the count
// off the fast path's per-value work.  CheckReferences compares the count
// with the globals popped as callables, and when every one was, no such
// global can be in a value position and the graph needs no walk.  Items
// are read by value; nothing writes through an index.
std::string GraphBytesMessage(const Graph& g) {
  return StrCat("graph memory exceeds --max-graph-bytes (", g.max_bytes(),
                ")");
}

class ObjectStack {
 public:
  void reserve(size_t n) { v_.reserve(n); }
  ABSL_ATTRIBUTE_ALWAYS_INLINE void push_back(Node* n) {
    Count(n);
    v_.push_back(n);
  }
  // (A caller wrong about that would undercount on the fast path only: the
  // fuzz targets and the FastPath tests, which compare the fast path with
  // the general one in strict mode, would see it accept what the general
  // path refuses.)
  ABSL_ATTRIBUTE_ALWAYS_INLINE void PushKnown(Node* n) { v_.push_back(n); }
  void ReplaceTop(Node* n) {
    Count(n);
    v_.back() = n;
  }
  void pop_back() { v_.pop_back(); }
  // Drops the items from `at` (<= size) up.  erase, not resize: resize's
  // growing half is an out-of-line call on every TUPLE2 and SETITEMS.
  void Truncate(size_t at) {
    v_.erase(v_.begin() + static_cast<std::ptrdiff_t>(at), v_.end());
  }
  Node* back() const { return v_.back(); }
  Node* operator[](size_t i) const { return v_[i]; }
  Node* const* data() const { return v_.data(); }
  size_t size() const { return v_.size(); }
  bool empty() const { return v_.empty(); }
  std::vector<Node*>::const_iterator begin() const { return v_.begin(); }
  std::vector<Node*>::const_iterator end() const { return v_.end(); }
  uint64_t unreferenceable_pushed() const { return unreferenceable_pushed_; }

 private:
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Count(const Node* n) {
    unreferenceable_pushed_ += Unreferenceable(n);
  }
  std::vector<Node*> v_;
  uint64_t unreferenceable_pushed_ = 0;
};

class Machine {
 public:
  Machine(std::string_view input, uint64_t start, const MachineOptions& o,
          Graph* graph, RunResult* result)
      : reader_(input, start),
        opts_(o),
        policy_(o.policy ? *o.policy : BuiltinPolicy()),
        strict_(o.mode == Mode::kStrict),
        g_(*graph),
        out_(*result),
        max_stack_(ByBytes(o.limits.max_stack, graph->max_bytes())),
        max_memo_(ByBytes(o.limits.max_memo, graph->max_bytes())),
        memo_vec_(MemoBound(input.size() - start, max_memo_)) {
    // Room for a small pickle's stack, marks and globals from the start:
    // growing each from one by doubling was a dozen of the few dozen
    // mallocs of a small model's decode.
    stack_.reserve(64);
    marks_.reserve(16);
    if (!strict_) globals_.reserve(16);  // only record mode keeps them
    resolved_.reserve(16);
  }

  absl::Status Run();
  // Where the opcode being run starts, and its code (-1: none yet).
  // Unknown (-1) while FastRun runs: it keeps its position in a register
  // (saving it at every opcode, or a handler there to save it, cost 1-5%
  // of a record-heavy decode).
  int64_t op_offset() const {
    return in_fast_run_ ? -1 : static_cast<int64_t>(op_offset_);
  }
  int opcode() const { return in_fast_run_ ? -1 : opcode_; }

 private:
  // The stack's and the memo's item caps: the flag's, or fewer when
  // --max-graph-bytes allows fewer (16 bytes an item: its pointer, and as
  // much again while the array doubles).
  static uint64_t ByBytes(uint64_t items, uint64_t graph_bytes) {
    return items < graph_bytes / 16 ? items : graph_bytes / 16;
  }
  // "--max-stack (N)", or the graph's budget when that is what set N.
  std::string CapName(const char* flag, uint64_t given, uint64_t cap) const {
    if (cap == given) return StrCat(flag, " (", cap, ")");
    return StrCat(cap, " items, what --max-graph-bytes (", g_.max_bytes(),
                  ") allows");
  }
  // ---- errors -------------------------------------------------------------
  absl::Status Err(ErrorCode code, std::string_view reason) const {
    return MakeError(code, op_offset_, opcode_, reason);
  }
  ABSL_ATTRIBUTE_NOINLINE absl::Status NodeLimit() const {
    // Near --max-graph-bytes the graph refuses nodes too (Graph::LimitBytes).
    if (g_.over_budget()) return Err(ErrorCode::kLimit, GraphBytesMessage(g_));
    return Err(ErrorCode::kLimit,
               StrCat("graph exceeds --max-nodes (", g_.max_nodes(),
                            ")"));
  }
  ABSL_ATTRIBUTE_NOINLINE absl::Status CopyLimit() const {
    return Err(ErrorCode::kLimit,
               StrCat("items copied between containers exceed "
                      "--max-copied-items (", g_.max_copied_items(), ")"));
  }
  // Inline for the common kOk (every call's RecordArgs, every SETITEMS).
  ABSL_ATTRIBUTE_ALWAYS_INLINE absl::Status FromGraphErr(GraphErr e,
                                                         Node* key) const {
    if (ABSL_PREDICT_TRUE(e == GraphErr::kOk)) return absl::OkStatus();
    return GraphError(e, key);
  }
  ABSL_ATTRIBUTE_NOINLINE absl::Status GraphError(GraphErr e,
                                                  Node* key) const {
    // The element that cannot be hashed (a list inside a tuple key, say).
    Node* culprit = key;
    if (e == GraphErr::kUnhashable && key != nullptr) {
      uint32_t ignored;
      g_.Canon(key, &ignored, &culprit);
    }
    switch (e) {
      case GraphErr::kOk: return absl::OkStatus();
      case GraphErr::kUnhashable:
        return Err(ErrorCode::kUnhashable,
                   StrCat("unhashable type: '",
                                culprit ? KindName(culprit->kind) : "?",
                                "'"));
      case GraphErr::kNodeLimit: return NodeLimit();
      case GraphErr::kCopyLimit: return CopyLimit();
      case GraphErr::kTooLarge:
        // Growth the graph's budget refused fails the same way.
        if (g_.over_budget()) {
          return Err(ErrorCode::kLimit, GraphBytesMessage(g_));
        }
        return Err(ErrorCode::kLimit, "container exceeds 2^32-1 items");
    }
    return absl::OkStatus();
  }
  absl::Status Underflow() const {
    return Err(ErrorCode::kStackUnderflow,
               marks_.empty() ? "unpickling stack underflow"
                              : "unexpected MARK found");
  }

  // ---- the two stacks, with the top MARK as a fence -----------------------
  absl::Status Push(Node* n) {
    if (ABSL_PREDICT_FALSE(n == nullptr)) return NodeLimit();
    if (ABSL_PREDICT_FALSE(stack_.size() + marks_.size() >= max_stack_)) {
      return StackLimit();
    }
    stack_.push_back(n);
    return absl::OkStatus();
  }
  ABSL_ATTRIBUTE_NOINLINE absl::Status StackLimit() const {
    return Err(ErrorCode::kLimit,
               StrCat("stack exceeds ",
                      CapName("--max-stack", opts_.limits.max_stack,
                              max_stack_)));
  }
  // The top MARK's stack position (0: none), kept beside marks_ so the
  // hot checks read one word; marks_ changes only through PushMark and
  // DropMark, which keep the two in step.
  size_t Fence() const { return fence_; }
  ABSL_ATTRIBUTE_ALWAYS_INLINE void PushMark() {
    marks_.push_back(stack_.size());
    fence_ = stack_.size();
  }
  // Removes the top MARK (there is one) and returns its position.
  ABSL_ATTRIBUTE_ALWAYS_INLINE size_t DropMark() {
    size_t mark = marks_.back();
    marks_.pop_back();
    fence_ = marks_.empty() ? 0 : marks_.back();
    return mark;
  }
  // Items above the fence.
  size_t Above() const { return stack_.size() - Fence(); }
  absl::Status Pop(Node** out) {
    if (Above() == 0) return Underflow();
    *out = stack_.back();
    stack_.pop_back();
    return absl::OkStatus();
  }
  absl::Status Top(Node** out) {
    if (Above() == 0) return Underflow();
    *out = stack_.back();
    return absl::OkStatus();
  }
  // CPython's marker(): pops the top MARK and returns its stack position.
  absl::Status PopMark(size_t* mark) {
    if (marks_.empty()) return Err(ErrorCode::kNoMark, "could not find MARK");
    *mark = DropMark();
    return absl::OkStatus();
  }
  absl::Span<Node* const> From(size_t at) const {
    return absl::MakeConstSpan(stack_.data() + at, stack_.size() - at);
  }
  // Drops the items from `at` (<= size) up.
  void Truncate(size_t at) { stack_.Truncate(at); }
  // Every node the memo stores passes here: FastRun's GET counts its
  // pushes only once the memo has held a global flagged unreferenceable.
  void NoteMemoized(const Node* n) {
    memo_had_unreferenceable_ |= Unreferenceable(n);
  }
  // `c` was just popped from the stack to be called or instantiated (and
  // only then: a class INST names is never on the stack).
  void CountCalled(const Node* c) {
    unreferenceable_called_ += Unreferenceable(c);
  }
  // Replaces the items from `at` up with one list or tuple of them.
  absl::Status PackFrom(size_t at, Kind kind) {
    Node* seq = g_.NewSeq(kind, From(at));
    if (seq == nullptr) return NodeLimit();
    Truncate(at);
    return Push(seq);
  }

  // ---- memo ---------------------------------------------------------------
  // Picklers number memo slots 0, 1, 2, ...: those live in a vector, which
  // may only grow to twice the entries plus a little, so a sparse index
  // (LONG_BINPUT 4294967295) goes to a hash map instead of sizing anything.
  absl::Status MemoPut(uint64_t index) {
    Node* top = nullptr;
    PVM_RETURN_IF_ERROR(Top(&top));
    NoteMemoized(top);
    bool fresh;
    if (index < memo_vec_.size()) {
      fresh = memo_vec_[index] == nullptr;
      memo_vec_[index] = top;
    } else if (index < 2 * memo_count_ + 1024) {
      PVM_RETURN_IF_ERROR(GrowMemo(index + 1));
      fresh = memo_vec_[index] == nullptr;  // it may have come from the map
      memo_vec_[index] = top;
    } else {
      auto [it, inserted] = memo_map_.try_emplace(index, top);
      if (!inserted) it->second = top;
      fresh = inserted;
    }
    if (fresh && ++memo_count_ > max_memo_) {
      return Err(ErrorCode::kLimit,
                 StrCat("memo exceeds ", CapName("--max-memo",
                                                 opts_.limits.max_memo,
                                                 max_memo_)));
    }
    return absl::OkStatus();
  }
  // Grows the dense memo to `size` slots.  Sparse entries below the new
  // size move over from the map, so an index lives in exactly one place --
  // the vector below its size, the map at or above it -- and a GET finds
  // what an earlier sparse PUT stored.  The work is the smaller of the new
  // range and the map, so growth stays linear in the memo's size.
  absl::Status GrowMemo(size_t size) {
    size_t old = memo_vec_.size();
    if (!memo_vec_.Resize(size)) return MemoMemory();
    if (memo_map_.empty()) return absl::OkStatus();
    if (size - old <= memo_map_.size()) {
      for (size_t i = old; i < size; ++i) {
        if (auto it = memo_map_.find(i); it != memo_map_.end()) {
          memo_vec_[i] = it->second;
          memo_map_.erase(it);
        }
      }
      return absl::OkStatus();
    }
    for (auto it = memo_map_.begin(); it != memo_map_.end();) {
      if (it->first < size) {
        memo_vec_[it->first] = it->second;
        memo_map_.erase(it++);
      } else {
        ++it;
      }
    }
    return absl::OkStatus();
  }
  // The dense memo's most slots: MemoPut grows it to index + 1 only while
  // index < 2 * entries + 1024, and there are at most as many entries as
  // PUT opcodes (one byte or more each) and one past --max-memo.
  static size_t MemoBound(size_t input_bytes, uint64_t max_memo) {
    uint64_t entries = input_bytes < max_memo ? input_bytes : max_memo;
    return 2 * (entries + 1) + 1024;
  }
  ABSL_ATTRIBUTE_NOINLINE absl::Status MemoMemory() const {
    return Err(ErrorCode::kLimit, "out of memory for the memo");
  }
  absl::Status MemoGet(uint64_t index) {
    Node* n = nullptr;
    if (index < memo_vec_.size()) {
      n = memo_vec_[index];
    } else if (auto it = memo_map_.find(index); it != memo_map_.end()) {
      n = it->second;
    }
    if (n == nullptr) {
      return Err(ErrorCode::kMemo,
                 StrCat("Memo value not found at index ", index));
    }
    return Push(n);
  }
  absl::Status TextMemoIndex(std::string_view line, uint64_t* index,
                             bool is_put) {
    if (line.size() < 2) {
      return Err(ErrorCode::kTruncated, "pickle data was truncated");
    }
    PyInt v;
    if (ParsePythonInt(line, 10, opts_.limits.max_int_digits, &v) !=
        NumParse::kOk) {
      return Err(ErrorCode::kBadOperand,
                 StrCat("invalid memo index ", Quote(LineText(line))));
    }
    if (!v.is_small) {
      return Err(ErrorCode::kMemo, "memo index out of range");
    }
    if (v.small < 0) {
      return Err(is_put ? ErrorCode::kValue : ErrorCode::kMemo,
                 is_put ? "negative PUT argument"
                        : StrCat("Memo value not found at index ",
                                       v.small));
    }
    *index = static_cast<uint64_t>(v.small);
    return absl::OkStatus();
  }

  // ---- values -------------------------------------------------------------
  absl::Status PushInt(const PyInt& v) {
    if (v.is_small) return Push(g_.NewInt(v.small));
    return Push(g_.NewBigInt(v.decimal));
  }
  absl::Status IntDigitsError() const {
    return Err(ErrorCode::kLimit,
               StrCat("int exceeds --max-int-digits (",
                            opts_.limits.max_int_digits, " digits)"));
  }
  absl::Status PushAsciiStr(std::string_view bytes, bool copy) {
    size_t bad;
    if (!IsAscii(bytes, &bad)) {
      return Err(ErrorCode::kDecode,
                 StrCat("'ascii' codec can't decode byte 0x",
                              absl::Hex(static_cast<uint8_t>(bytes[bad]),
                                        absl::kZeroPad2),
                              " in position ", bad));
    }
    return Push(g_.NewStr(bytes, false, copy));
  }
  absl::Status PushUtf8Str(std::string_view bytes) {
    Utf8Check c = CheckUtf8(bytes, /*allow_surrogates=*/true);
    if (!c.valid) {
      return Err(ErrorCode::kDecode,
                 StrCat("'utf-8' codec can't decode byte 0x",
                              absl::Hex(static_cast<uint8_t>(
                                            bytes[c.error_at]),
                                        absl::kZeroPad2),
                              " in position ", c.error_at));
    }
    return Push(g_.NewStr(bytes, c.has_surrogates, /*copy=*/false));
  }

  // ---- globals ------------------------------------------------------------
  absl::Status DecodeName(std::string_view bytes, std::string* out) {
    Utf8Check c = CheckUtf8(bytes, /*allow_surrogates=*/false);
    if (!c.valid) {
      return Err(ErrorCode::kDecode,
                 StrCat("global name is not valid UTF-8 at byte ",
                              c.error_at));
    }
    out->assign(bytes);
    return absl::OkStatus();
  }
  absl::Status MakeGlobal(std::string_view module, std::string_view name,
                          Node** out);
  // The policy's lookup of a global's name, made once per node when
  // MakeGlobal creates it (see Policy::Resolved).  A node a nested
  // machine made (an object array's pickle) carries that machine's slot:
  // the slot's entry counts only if it was resolved from this very name.
  Policy::Resolved Named(const Node* global) const {
    size_t slot = global->spare >> kResolvedSlotShift;
    std::string_view name = global->a.global->joined;
    if (ABSL_PREDICT_TRUE(slot != 0 && slot <= resolved_.size() &&
                          resolved_[slot - 1].name.data() == name.data())) {
      return resolved_[slot - 1];
    }
    return policy_.Resolve(name);
  }

  // ---- calls --------------------------------------------------------------
  // `args` in memory that lasts as long as the graph, for a record or the
  // call log to keep: the items of the tuple being unpacked (call_tuple_:
  // REDUCE's, NEWOBJ's, copyreg.__newobj_ex__'s) when `args` lies within
  // them -- so a tuple that a stream
  // unpacks in any number of calls through the memo is held once, not once
  // per call (a 220 KB scan of 20,000 calls of one 100,000-item tuple took
  // 3.4 GB) -- else a copy in the arena (a few items, or arguments that
  // came off the stack one by one: OBJ, INST, a BUILD's state).
  absl::Span<Node* const> LastingArgs(absl::Span<Node* const> args) {
    if (args.empty()) return {};
    if (call_tuple_ != nullptr && !(call_tuple_->flags & kInlineItems)) {
      const auto items = reinterpret_cast<uintptr_t>(call_tuple_->a.items);
      const auto from = reinterpret_cast<uintptr_t>(args.data());
      if (from >= items && args.size() <= call_tuple_->size() &&
          (from - items) / sizeof(Node*) <= call_tuple_->size() - args.size()) {
        return args;
      }
    }
    Node** copy = g_.arena().NewArray<Node*>(args.size());
    std::memcpy(copy, args.data(), args.size() * sizeof(Node*));
    return absl::MakeConstSpan(copy, args.size());
  }
  // Sets call_tuple_ for one call (see LastingArgs).
  class CallTuple {
   public:
    CallTuple(Machine* m, const Node* tuple) : m_(m), saved_(m->call_tuple_) {
      m_->call_tuple_ = tuple;
    }
    ~CallTuple() { m_->call_tuple_ = saved_; }
    CallTuple(const CallTuple&) = delete;
    CallTuple& operator=(const CallTuple&) = delete;

   private:
    Machine* m_;
    const Node* saved_;
  };
  // The keywords of NEWOBJ_EX or copyreg.__newobj_ex__ (a kDict): CPython's
  // cls.__new__(cls, **kwargs) needs str keys, and copies them at every
  // call.  The graph views them but looks at each key, so a memoized kwargs
  // dict named by many calls counts against --max-copied-items.
  absl::Status CheckKeywords(const Node* kwargs) {
    if (!g_.ChargeCopies(kwargs->a.dict->size())) return CopyLimit();
    for (Entry e : kwargs->a.dict->items()) {
      if (e.key->kind != Kind::kStr) {
        return Err(ErrorCode::kType, "keywords must be strings");
      }
    }
    return absl::OkStatus();
  }
  absl::Status Call(Node* callable, absl::Span<Node* const> args,
                    Node* kwargs, Use use, Via via, Node** out);
  // `rule`: the rule Call already found for this very call (then the
  // policy is not asked again, and its hit is counted once).
  absl::Status Instantiate(Node* cls, absl::Span<Node* const> args,
                           Node* kwargs, Use use, Via via, uint64_t offset,
                           Node** out, const Rule* rule = nullptr);
  absl::Status CopyregHelper(BuilderId id, Node* helper,
                             absl::Span<Node* const> args, Node** out);
  Node* RecordCall(Node* callable, absl::Span<Node* const> args,
                   Node* kwargs);
  // Record mode's log of calls and findings; strict mode keeps neither,
  // and its test is inline (a model calls these for every array).
  void LogCall(Node* callable, absl::Span<Node* const> args, Node* kwargs,
               bool admitted, Node* result, Use use) {
    if (!strict_) LogCallSlow(callable, args, kwargs, admitted, result, use);
  }
  void AddFinding(const Node* global, Use use, bool allowed,
                  std::string_view detail = {}) {
    if (!strict_) AddFindingSlow(global, use, allowed, detail);
  }
  // Record mode's log -- calls, findings, warnings -- lives outside the
  // graph's arena and is counted against its budget (Graph::ChargeOutside
  // throws past it, as an allocation would): a stream makes an entry per
  // BUILD of one object, 3 bytes each, and 12 KB of zlib took 2 GB.
  void Warn(std::string w) {
    g_.ChargeOutside(sizeof(std::string) + w.size());
    out_.warnings.push_back(std::move(w));
  }
  void Log(picklevm::Finding f) {
    g_.ChargeOutside(sizeof(picklevm::Finding) + f.global.size() +
                     f.use.size() + f.detail.size());
    out_.findings.push_back(std::move(f));
  }
  void Log(CallEvent ev) {
    g_.ChargeOutside(sizeof(CallEvent));
    out_.calls.push_back(std::move(ev));
  }
  void LogCallSlow(Node* callable, absl::Span<Node* const> args, Node* kwargs,
                   bool admitted, Node* result, Use use);
  void AddFindingSlow(const Node* global, Use use, bool allowed,
                      std::string_view detail);

  // ---- opcodes with more than a line of logic ----------------------------
  absl::Status DoAppends(size_t x);
  absl::Status RefuseItems(const Node* target, std::string_view op,
                           std::string_view method) const {
    const Node* cls = target->a.rec->callable;
    return Err(ErrorCode::kRefused,
               StrCat(op, " on an instance of ",
                      cls->kind == Kind::kGlobal
                          ? Quote(cls->a.global->joined)
                          : std::string("a value"),
                      ", which the policy does not admit items for (CPython "
                      "would call its ", method, ")"));
  }
  absl::Status CheckStateKeys(const Node* state);
  // Record mode: items added to an instance whose rule does not admit them
  // are calls of its methods; flag them against its class.
  void FlagItems(const Node* target, std::string_view detail) {
    const Node* cls = target->a.rec->callable;
    if (target->kind == Kind::kObject && cls->kind == Kind::kGlobal) {
      AddFinding(cls, Use::kCall, false, detail);
    }
  }
  // Record mode: a BUILD that calls a __setstate__ the stream planted.
  absl::Status SetstateCall(Node* fn, Node* state) {
    Node* args[1] = {state};
    if (fn->kind == Kind::kGlobal) {
      AddFinding(fn, Use::kCall,
                 policy_.Find(Named(fn), Use::kCall, args) != nullptr,
                 "called as __setstate__ by BUILD");
      fn->spare |= kGlobalConsumed;
    }
    Node* result = RecordCall(fn, args, nullptr);
    if (result == nullptr) return NodeLimit();
    LogCall(fn, args, nullptr, false, result, Use::kCall);
    return absl::OkStatus();
  }
  // The dict bodies of a BUILD state, with the node holding each: the
  // state itself or both halves of a (state, slot state) pair, each a dict
  // or an instance of a dict subclass (its SETITEM entries: CPython's
  // load_build takes any dict).  fn(holder, body).
  template <typename Fn>
  static void ForEachStateBody(Node* state, Fn&& fn) {
    if (state == nullptr) return;
    Node* halves[2] = {state, nullptr};
    if (state->kind == Kind::kTuple && state->size() == 2) {
      halves[0] = state->at(0);
      halves[1] = state->at(1);
    }
    for (Node* d : halves) {
      if (d == nullptr) continue;
      if (d->kind == Kind::kDict) {
        fn(d, static_cast<const DictBody*>(d->a.dict));
      } else if ((d->kind == Kind::kObject || d->kind == Kind::kCall) &&
                 (d->a.rec->takes_dictitems || !d->a.rec->dictitems.empty())) {
        fn(d, static_cast<const DictBody*>(&d->a.rec->dictitems));
      }
    }
  }
  // The value a BUILD state gives the attribute `key`, or nullptr.  A
  // probe, not a scan: a stream may apply one big memoized state in any
  // number of BUILDs.
  Node* StateAttr(Node* state, std::string_view key) {
    Node* found = nullptr;
    ForEachStateBody(state, [&](Node*, const DictBody* body) {
      if (found != nullptr) return;
      int64_t at = g_.FindStrKey(body, key);
      if (at >= 0) found = body->value(static_cast<uint32_t>(at));
    });
    return found;
  }
  // A SETITEM on a dict (or dict-subclass instance) that a BUILD applied
  // or a call took: see kConsumed.  The test is inline (every SETITEMS
  // makes it); what follows a consumed dict is not.
  // `kv`: the keys and values being set.  A dict whose keys a BUILD found
  // free of dunder names (kKeysChecked) takes the slow path too, which
  // looks at the new keys only.
  absl::Status CheckNotConsumed(Node* target, absl::Span<Node* const> kv) {
    if (ABSL_PREDICT_TRUE(!(target->flags & (kConsumed | kKeysChecked)))) {
      return absl::OkStatus();
    }
    return SetItemOnConsumed(target, kv);
  }
  ABSL_ATTRIBUTE_NOINLINE absl::Status SetItemOnConsumed(
      Node* target, absl::Span<Node* const> kv);
  // A call's keywords: the dict's entries now (Record::kwargs_size), the
  // dict consumed.
  static void TakeKwargs(Record* r, Node* kwargs) {
    r->kwargs = kwargs;
    if (kwargs == nullptr) return;
    r->kwargs_size = kwargs->a.dict->size();
    kwargs->flags |= kConsumed;
  }
  absl::Status DoSetItems(size_t x);
  absl::Status DoReduce();
  absl::Status DoNewobj(bool ex);
  absl::Status DoBuild();
  absl::Status DoStop();
  absl::Status DoPersId(Node* pid);
  absl::Status JoblibArray(Node* state);
  absl::Status DoExt(int64_t code);
  absl::Status Step(const OpcodeInfo& info, const Operand& arg, bool* stop);
  absl::Status CheckReferences();
  // Not inlined into Loop, where GCC puts it once Loop's other callees
  // shrink: rf.joblib's decode then took 124 us against 114 (A/B, two
  // copies of each binary).
  ABSL_ATTRIBUTE_NOINLINE absl::Status FastRun();
  // The opcode at `offset` is the one errors name (FastRun's own
  // bookkeeping for the opcodes it hands to Step's code).
  // FastRun hands an opcode to Step's code: its offset is known while that
  // runs (FastRun sets in_fast_run_ again after).
  void AtOpcode(uint64_t offset, uint8_t op) {
    op_offset_ = offset;
    opcode_ = op;
    in_fast_run_ = false;
    reader_.SetOpcode(offset, op);
  }
  bool FastMemoPut(uint64_t index);
  absl::Status Loop();
  void RecordGlobals(bool finished);

  Reader reader_;
  const MachineOptions& opts_;
  const Policy& policy_;
  bool strict_;
  Graph& g_;
  RunResult& out_;

  const uint64_t max_stack_;  // stack items + MARKs (see ByBytes)
  const uint64_t max_memo_;   // memo entries
  ObjectStack stack_;
  // Globals that the policy does not admit as values, popped from the
  // stack as a callable or class (REDUCE, NEWOBJ, OBJ): see ObjectStack.
  uint64_t unreferenceable_called_ = 0;
  const Node* call_tuple_ = nullptr;  // see LastingArgs
  bool memo_had_unreferenceable_ = false;  // see NoteMemoized
  std::vector<size_t> marks_;
  size_t fence_ = 0;  // marks_.back(), or 0 (see Fence)
  GrowableArray<Node*> memo_vec_;
  absl::flat_hash_map<uint64_t, Node*> memo_map_;
  uint64_t memo_count_ = 0;
  // JoblibArray's field positions (kJoblibAbsent: no such key) in the
  // state dicts of joblib_shape_, the last wrapper state's key sequence.
  static constexpr int kJoblibFields = 6;
  static constexpr uint8_t kJoblibAbsent = 0xff;
  const Shape* joblib_shape_ = nullptr;
  uint8_t joblib_fields_[kJoblibFields] = {};
  std::vector<Node*> globals_;  // record mode: every global made
  std::vector<Policy::Resolved> resolved_;  // see Named()
  // Record mode: classes whose __setstate__ a BUILD replaced, by name
  // (ClassKey).
  absl::flat_hash_map<uint32_t, Node*> class_setstate_;
  // A global's key in class_setstate_: its name's canonical id, which the
  // node keeps once found, so a BUILD looks up its class without hashing
  // the name again (a name is as long as the stream makes it, and every
  // BUILD on an instance looks: 1.2 MB of BUILDs under one long name took
  // 10 s).
  uint32_t ClassKey(Node* global) {
    uint32_t id = 0;
    Node* culprit = nullptr;
    (void)g_.Canon(global, &id, &culprit);  // a global is always hashable
    return id;
  }
  // Record mode: BUILD states (their own keys, not a shape's) found to set
  // a dunder name, and the first such key (see CheckStateKeys).
  absl::flat_hash_map<const Node*, const Node*> dunder_keys_;
  size_t next_buffer_ = 0;
  int proto_ = 0;
  uint64_t op_offset_ = 0;
  int opcode_ = -1;
  bool in_fast_run_ = false;
};

absl::Status Machine::MakeGlobal(std::string_view module,
                                 std::string_view name, Node** out) {
  if (proto_ < 3) {
    // CPython's fix_imports: Python 2 names map to their Python 3 homes.
    bool mapped = false;
    for (const auto& m : kNameMapping) {
      if (module == m.module && name == m.name) {
        module = m.new_module;
        name = m.new_name;
        mapped = true;
        break;
      }
    }
    if (!mapped) {
      for (const auto& m : kImportMapping) {
        if (module == m.module) {
          module = m.new_module;
          break;
        }
      }
    }
  }
  if (module.empty()) return Err(ErrorCode::kValue, "Empty module name");
  // numpy 2 writes numpy._core; the graph names numpy.core either way.
  std::string renamed;
  if (module == "numpy._core" || module.starts_with("numpy._core.")) {
    renamed = StrCat("numpy.core", module.substr(strlen("numpy._core")));
    module = renamed;
  }
  if (proto_ < 4 && name.find('.') != std::string::npos) {
    // CPython resolves dotted names only from protocol 4 on.
    if (strict_) {
      return Err(ErrorCode::kStrict,
                 StrCat("dotted name ", Quote(name),
                              " in a protocol ", proto_, " stream"));
    }
    Warn(StrCat("offset ", op_offset_, ": dotted name ", Quote(name),
                " below protocol 4"));
  }
  if ((module == "joblib.numpy_pickle" ||
       module == "joblib.numpy_pickle_compat") &&
      (name == "NDArrayWrapper" || name == "ZNDArrayWrapper")) {
    return Err(ErrorCode::kValue,
               StrCat("joblib's pre-0.10 ", name, " format (arrays in side "
                      "files) is not supported"));
  }
  Node* g = g_.NewGlobal(module, name, op_offset_);
  if (g == nullptr) return NodeLimit();
  if (resolved_.size() < kMaxResolvedSlots) {
    resolved_.push_back(policy_.Resolve(g->a.global->joined));
    g->spare = static_cast<uint16_t>(resolved_.size() << kResolvedSlotShift);
  }
  if (strict_) {
    if (!policy_.AdmitsAny(Named(g))) {
      return Err(ErrorCode::kRefused,
                 StrCat("global ", Quote(g->a.global->joined),
                              " is not admitted by the policy for any use"));
    }
    // What CheckReferences needs to know of it, asked once.
    if (policy_.Find(Named(g), Use::kReference, {}) == nullptr) {
      g->flags |= kGlobalUnreferenceable;
    }
  } else {
    globals_.push_back(g);  // RecordGlobals reports each
  }
  *out = g;
  return absl::OkStatus();
}

// A finding's text: a global's name or a detail (a persistent id, a
// reason quoting an argument) at most kMaxFindingText bytes, cut at a
// character boundary with an ellipsis.  A stream can name one long memoized
// str in every one of its uses, and each finding keeps (and scan's report
// copies) its own text: 100 KB of input made 1.4 GB of findings.
constexpr size_t kMaxFindingText = 256;
std::string FindingText(std::string_view text) {
  if (text.size() <= kMaxFindingText) return std::string(text);
  size_t cut = kMaxFindingText;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;  // not inside a UTF-8 sequence
  }
  return StrCat(text.substr(0, cut), "\u2026");
}

void Machine::AddFindingSlow(const Node* global, Use use, bool allowed,
                             std::string_view detail) {
  picklevm::Finding f;
  f.global = FindingText(global->a.global->joined);
  f.use = std::string(UseName(use));
  f.offset = op_offset_;
  f.allowed = allowed;
  f.detail = FindingText(detail);
  Log(std::move(f));
}

void Machine::LogCallSlow(Node* callable, absl::Span<Node* const> args,
                          Node* kwargs, bool admitted, Node* result,
                          Use use) {
  CallEvent ev;
  ev.callable = callable;
  ev.args = LastingArgs(args);
  ev.kwargs = kwargs;
  ev.kwargs_size = kwargs ? kwargs->a.dict->size() : 0;
  ev.offset = op_offset_;
  ev.opcode = static_cast<uint8_t>(opcode_);
  ev.admitted = admitted;
  ev.result = result;
  ev.use = use;
  Log(std::move(ev));
}

Node* Machine::RecordCall(Node* callable, absl::Span<Node* const> args,
                          Node* kwargs) {
  Node* n = g_.NewRecord(Kind::kCall, callable, op_offset_);
  if (n == nullptr) return nullptr;
  if (g_.RecordArgs(n->a.rec, LastingArgs(args)) != GraphErr::kOk) {
    return nullptr;
  }
  TakeKwargs(n->a.rec, kwargs);
  n->a.rec->opcode = static_cast<uint8_t>(opcode_);
  return n;
}

absl::Status Machine::Instantiate(Node* cls, absl::Span<Node* const> args,
                                  Node* kwargs, Use use, Via via,
                                  uint64_t offset, Node** out,
                                  const Rule* rule) {
  (void)offset;
  cls->spare |= kGlobalConsumed;
  std::string_view name = cls->a.global->joined;
  std::string why;
  if (rule == nullptr) rule = policy_.Find(Named(cls), use, args, &why);
  if (rule == nullptr) {
    if (strict_) {
      return Err(ErrorCode::kRefused,
                 why.empty()
                     ? StrCat("global ", Quote(name), " is not admitted for ",
                              UseName(use))
                     : StrCat("arguments of ", Quote(name), " break its ",
                              UseName(use), " rule: ", why));
    }
    AddFinding(cls, use, false, why);
    *out = RecordCall(cls, args, kwargs);
    if (*out == nullptr) return NodeLimit();
    LogCall(cls, args, kwargs, false, *out, use);
    return absl::OkStatus();
  }
  Node* obj = g_.NewRecord(Kind::kObject, cls, op_offset_);
  if (obj == nullptr) return NodeLimit();
  obj->a.rec->takes_items = rule->items;
  obj->a.rec->takes_dictitems = rule->dictitems;
  obj->a.rec->via = via;
  TakeKwargs(obj->a.rec, kwargs);
  obj->a.rec->opcode = static_cast<uint8_t>(opcode_);
  PVM_RETURN_IF_ERROR(
      FromGraphErr(g_.RecordArgs(obj->a.rec, LastingArgs(args)), nullptr));
  AddFinding(cls, use, true);
  LogCall(cls, args, kwargs, true, obj, use);
  *out = obj;
  return absl::OkStatus();
}

absl::Status Machine::CopyregHelper(BuilderId id, Node* helper,
                                    absl::Span<Node* const> args,
                                    Node** out) {
  std::string_view helper_name = helper->a.global->joined;
  auto broken = [&](std::string_view why) -> absl::Status {
    if (strict_) {
      return Err(ErrorCode::kRefused,
                 StrCat("arguments of ", Quote(helper_name),
                              " break its rule: ", why));
    }
    AddFinding(helper, Use::kCall, false, why);
    *out = RecordCall(helper, args, nullptr);
    if (*out == nullptr) return NodeLimit();
    LogCall(helper, args, nullptr, false, *out, Use::kCall);
    return absl::OkStatus();
  };
  if (args.empty() || args[0]->kind != Kind::kGlobal) {
    return broken("the first argument must be a class");
  }
  Node* cls = args[0];
  switch (id) {
    case BuilderId::kReconstructor: {
      // _reconstructor(cls, base, state), normalized by its base.
      if (args.size() != 3 || args[1]->kind != Kind::kGlobal) {
        return broken("expects (cls, base class, state)");
      }
      std::string_view base = args[1]->a.global->joined;
      Node* state = args[2];
      // The base class is used as a value: it needs a reference rule.
      if (policy_.Find(Named(args[1]), Use::kReference, {}) == nullptr) {
        if (strict_) {
          return broken(StrCat("base ", Quote(base), " is not admitted"));
        }
        AddFinding(args[1], Use::kReference, false,
                   "base class of copyreg._reconstructor");
      }
      if (base == "builtins:object") {
        return Instantiate(cls, {}, nullptr, Use::kInstantiate, Via::kNew,
                           op_offset_, out);
      }
      if (base == "builtins:list" &&
          (state->kind == Kind::kList || state->kind == Kind::kTuple)) {
        // CPython copies the state into each instance; so does the graph,
        // within the bound on copies (see Graph::ChargeCopies).
        if (!g_.ChargeCopies(state->size())) return CopyLimit();
        PVM_RETURN_IF_ERROR(Instantiate(cls, {}, nullptr, Use::kInstantiate,
                                        Via::kNew, op_offset_, out));
        Record* r = (*out)->a.rec;
        r->items.Reserve(g_.arena(), state->size());  // < 2^32: cannot fail
        for (uint32_t i = 0; i < state->size(); ++i) {
          if (!r->items.push_back(g_.arena(), state->at(i))) {
            return FromGraphErr(GraphErr::kTooLarge, nullptr);
          }
        }
        return absl::OkStatus();
      }
      if (base == "builtins:dict" && state->kind == Kind::kDict) {
        if (!g_.ChargeCopies(state->a.dict->size())) return CopyLimit();
        PVM_RETURN_IF_ERROR(Instantiate(cls, {}, nullptr, Use::kInstantiate,
                                        Via::kNew, op_offset_, out));
        Record* r = (*out)->a.rec;
        g_.DictReserve(&r->dictitems, state->a.dict->size());  // likewise
        for (Entry e : state->a.dict->items()) {
          PVM_RETURN_IF_ERROR(
              FromGraphErr(g_.DictSet(&r->dictitems, e.key, e.value), e.key));
        }
        return absl::OkStatus();
      }
      return broken(StrCat("unsupported base ", Quote(base)));
    }
    case BuilderId::kNewobj:
      return Instantiate(cls, args.subspan(1), nullptr, Use::kInstantiate,
                         Via::kNew, op_offset_, out);
    case BuilderId::kNewobjEx: {
      // CPython unpacks any sequence as *args; picklers write a tuple.
      if (args.size() != 3 ||
          (args[1]->kind != Kind::kTuple && args[1]->kind != Kind::kList) ||
          args[2]->kind != Kind::kDict ||
          (strict_ && args[1]->kind != Kind::kTuple)) {
        return broken("expects (cls, tuple, dict)");
      }
      PVM_RETURN_IF_ERROR(CheckKeywords(args[2]));
      Node* kwargs = args[2]->a.dict->size() ? args[2] : nullptr;
      Node* buf[2];
      // The arguments are this tuple's items.  A list's can change later
      // (record mode's SETITEM on a list): they are copied, once, into a
      // tuple that the record and the call log both view; a stream can
      // name one memoized list in any number of calls, so the copy counts
      // against --max-copied-items.
      Node* seq = args[1];
      if (seq->kind == Kind::kList) {
        if (!g_.ChargeCopies(seq->size())) return CopyLimit();
        seq = g_.NewSeq(Kind::kTuple, seq->Items(buf));
        if (seq == nullptr) return NodeLimit();
      }
      CallTuple inner(this, seq);
      return Instantiate(cls, seq->Items(buf), kwargs, Use::kInstantiate,
                         Via::kNew, op_offset_, out);
    }
    default:
      return broken("not a copyreg helper");
  }
}

absl::Status Machine::Call(Node* callable, absl::Span<Node* const> args,
                           Node* kwargs, Use use, Via via, Node** out) {
  if (callable->kind != Kind::kGlobal) {
    if (IsDataKind(callable->kind)) {
      return Err(ErrorCode::kType,
                 StrCat("'", KindName(callable->kind), "' object is not ",
                              use == Use::kCall ? "callable" : "a class"));
    }
    if (strict_) {
      return Err(ErrorCode::kRefused,
                 StrCat("calls a ", KindName(callable->kind),
                              ", which the policy cannot see"));
    }
    // Calling an instance runs its class's __call__: flagged against the
    // class.  (A call result or a persistent object was flagged already.)
    if (callable->kind == Kind::kObject &&
        callable->a.rec->callable->kind == Kind::kGlobal) {
      AddFinding(callable->a.rec->callable, Use::kCall, false,
                 "an instance of it is called");
    }
    *out = RecordCall(callable, args, kwargs);
    if (*out == nullptr) return NodeLimit();
    LogCall(callable, args, kwargs, false, *out, use);
    return absl::OkStatus();
  }
  if (use == Use::kInstantiate) {
    return Instantiate(callable, args, kwargs, use, via, op_offset_, out);
  }
  callable->spare |= kGlobalConsumed;
  std::string_view name = callable->a.global->joined;
  std::string why;
  const Rule* rule = policy_.Find(Named(callable), Use::kCall, args, &why);
  bool admitted = rule != nullptr;
  BuilderId builder = admitted ? rule->builder : BuilderId::kNone;
  auto record_call = [&](std::string_view detail) -> absl::Status {
    AddFinding(callable, Use::kCall, false, detail);
    *out = RecordCall(callable, args, kwargs);
    if (*out == nullptr) return NodeLimit();
    LogCall(callable, args, kwargs, false, *out, Use::kCall);
    return absl::OkStatus();
  };
  if (!admitted) {
    if (strict_) {
      return Err(ErrorCode::kRefused,
                 why.empty() ? StrCat("global ", Quote(name),
                                      " is not admitted for call")
                             : StrCat("arguments of ", Quote(name),
                                      " break its call rule: ", why));
    }
    // Record mode keeps CPython's semantics for the calls whose meaning is
    // data (numpy arrays, copyreg's helpers...), so what they build is still
    // seen, and only flags them.
    builder = KnownBuilder(name);
    if (builder == BuilderId::kNone) return record_call(why);
  }
  switch (builder) {
    case BuilderId::kNone:
      return Instantiate(callable, args, kwargs, Use::kCall, Via::kCall,
                         op_offset_, out, rule);
    case BuilderId::kReconstructor:
    case BuilderId::kNewobj:
    case BuilderId::kNewobjEx:
      if (!admitted) AddFinding(callable, Use::kCall, false, why);
      return CopyregHelper(builder, callable, args, out);
    default:
      break;
  }
  BuildResult r;
  switch (builder) {
    case BuilderId::kNdarrayReconstruct:
      r = BuildNdarrayReconstruct(g_, args);
      break;
    case BuilderId::kNdarrayFrombuffer:
      r = BuildNdarrayFrombuffer(g_, args);
      break;
    case BuilderId::kDtype:
      r = BuildDtype(g_, args);
      break;
    case BuilderId::kScalar:
      r = BuildScalar(g_, args);
      break;
    default:
      r = BuildBuiltin(builder, g_, args);
  }
  if (r.outcome == BuildResult::kNodeLimit) return NodeLimit();
  if (r.outcome == BuildResult::kCopyLimit) return CopyLimit();
  if (r.outcome == BuildResult::kConstraint) {
    if (strict_) {
      return Err(ErrorCode::kRefused,
                 StrCat("arguments of ", Quote(name),
                        " break its rule: ", r.reason));
    }
    return record_call(r.reason);
  }
  AddFinding(callable, Use::kCall, admitted, admitted ? "" : why);
  LogCall(callable, args, kwargs, admitted, r.node, Use::kCall);
  *out = r.node;
  return absl::OkStatus();
}

// APPEND / APPENDS: x is the stack index just above the target.
absl::Status Machine::DoAppends(size_t x) {
  size_t len = stack_.size();
  if (x > len || x <= Fence()) return Underflow();
  Node* target = stack_[x - 1];
  absl::Span<Node* const> items = From(x);
  switch (target->kind) {
    case Kind::kList:
      PVM_RETURN_IF_ERROR(FromGraphErr(g_.ListExtend(target, items), nullptr));
      break;
    case Kind::kObject:
    case Kind::kCall:
      if (!target->a.rec->takes_items && !items.empty()) {
        if (strict_) return RefuseItems(target, "APPEND", "append/extend");
        FlagItems(target, "APPEND calls its append/extend");
      }
      if (!target->a.rec->items.append(g_.arena(), items.data(),
                                       items.size())) {
        return FromGraphErr(GraphErr::kTooLarge, nullptr);
      }
      break;
    case Kind::kByteArray:
      if (!strict_ && !items.empty()) {
        // CPython calls bytearray.extend(items): ints 0..255 append bytes.
        // The graph's bytes are not growable in place: the bytearray is
        // copied, which a stream can make it do at every APPEND of one
        // memoized bytearray (20,000 on 100 KB: 2 GB), so the copy counts
        // against --max-copied-items.
        if (!g_.ChargeCopies(target->b().n)) return CopyLimit();
        std::string bytes(target->str());
        for (Node* item : items) {
          if ((item->kind != Kind::kInt && item->kind != Kind::kBool) ||
              item->a.i < 0 || item->a.i > 255) {
            return Err(ErrorCode::kValue, "byte must be in range(0, 256)");
          }
          bytes.push_back(static_cast<char>(item->a.i));
        }
        std::string_view copy = g_.arena().CopyString(bytes);
        target->a.p = copy.data();
        target->b().n = copy.size();
        break;
      }
      [[fallthrough]];
    default:
      if (items.empty()) break;  // CPython returns before looking
      return Err(strict_ ? ErrorCode::kStrict : ErrorCode::kValue,
                 StrCat("cannot append to a ", KindName(target->kind)));
  }
  Truncate(x);
  return absl::OkStatus();
}

absl::Status Machine::SetItemOnConsumed(Node* target,
                                        absl::Span<Node* const> kv) {
  if (target->flags & kConsumed) {
    if (strict_) {
      return Err(ErrorCode::kStrict,
                 "SETITEM on a dict that a BUILD or a call already took "
                 "(what was built from it saw the dict as it was then)");
    }
    // Once per dict: a warning per SETITEM would let a stream grow the
    // warnings without bound.
    target->flags &= static_cast<uint8_t>(~kConsumed);
    Warn(StrCat(
        "offset ", op_offset_, ": SETITEM on a dict that a BUILD or a call "
        "already took; the graph shows the dict as changed, what was built "
        "from it saw it as it was then"));
  }
  // Keys are only ever added: the check a BUILD made holds unless one of
  // these is a dunder name (looking at them, not at the whole dict again,
  // keeps a stream that alternates SETITEM and BUILD on one big state
  // linear).
  for (size_t i = 0; i < kv.size(); i += 2) {
    if (kv[i]->kind == Kind::kStr && IsDunder(kv[i]->str())) {
      target->flags &= static_cast<uint8_t>(~kKeysChecked);
      break;
    }
  }
  return absl::OkStatus();
}

// SETITEM / SETITEMS: x is the stack index just above the target.
absl::Status Machine::DoSetItems(size_t x) {
  size_t len = stack_.size();
  if (x > len || x <= Fence()) return Underflow();
  if (len == x) return absl::OkStatus();
  if ((len - x) % 2 != 0) {
    return Err(ErrorCode::kValue, "odd number of items for SETITEMS");
  }
  Node* target = stack_[x - 1];
  DictBody* body = nullptr;
  switch (target->kind) {
    case Kind::kDict:
      PVM_RETURN_IF_ERROR(CheckNotConsumed(target, From(x)));
      body = target->a.dict;
      break;
    case Kind::kList:
      if (strict_) break;
      // CPython calls list.__setitem__: an int index in range replaces.
      for (size_t i = x; i < len; i += 2) {
        Node* key = stack_[i];
        int64_t n = target->size();
        if (key->kind != Kind::kInt && key->kind != Kind::kBool) {
          return Err(ErrorCode::kType, "list indices must be integers");
        }
        int64_t at = key->a.i < 0 ? key->a.i + n : key->a.i;
        if (at < 0 || at >= n) {
          return Err(ErrorCode::kValue, "list assignment index out of range");
        }
        target->a.items[at] = stack_[i + 1];
      }
      Truncate(x);
      return absl::OkStatus();
    case Kind::kObject:
    case Kind::kCall:
      PVM_RETURN_IF_ERROR(CheckNotConsumed(target, From(x)));
      if (!target->a.rec->takes_dictitems) {
        if (strict_) return RefuseItems(target, "SETITEM", "__setitem__");
        FlagItems(target, "SETITEM calls its __setitem__");
      }
      body = &target->a.rec->dictitems;
      break;
    default:
      break;
  }
  if (target->kind != Kind::kDict && target->kind != Kind::kObject &&
      target->kind != Kind::kCall) {
    return Err(strict_ ? ErrorCode::kStrict : ErrorCode::kValue,
               StrCat("cannot set items on a ", KindName(target->kind)));
  }
  if (!g_.DictReserve(body, (len - x) / 2)) {
    return FromGraphErr(GraphErr::kTooLarge, nullptr);
  }
  Node* failed = nullptr;
  GraphErr e = g_.DictSetPairs(body, stack_.data() + x, (len - x) / 2, &failed);
  if (e != GraphErr::kOk) return FromGraphErr(e, failed);
  Truncate(x);
  return absl::OkStatus();
}

absl::Status Machine::DoReduce() {
  Node *args = nullptr, *callable = nullptr;
  PVM_RETURN_IF_ERROR(Pop(&args));
  PVM_RETURN_IF_ERROR(Pop(&callable));
  CountCalled(callable);
  if (args->kind != Kind::kTuple) {
    return Err(strict_ ? ErrorCode::kStrict : ErrorCode::kType,
               StrCat("REDUCE argument is a ", KindName(args->kind),
                      ", not a tuple"));
  }
  Node* result = nullptr;
  Node* buf[2];
  CallTuple tuple(this, args);
  PVM_RETURN_IF_ERROR(Call(callable, args->Items(buf), nullptr, Use::kCall,
                           Via::kCall, &result));
  return Push(result);
}

// NEWOBJ and NEWOBJ_EX (`ex`): cls.__new__(cls, *args[, **kwargs]).
absl::Status Machine::DoNewobj(bool ex) {
  const std::string_view op = ex ? "NEWOBJ_EX" : "NEWOBJ";
  Node* kwargs = nullptr;
  if (ex) PVM_RETURN_IF_ERROR(Pop(&kwargs));
  Node *args = nullptr, *cls = nullptr;
  PVM_RETURN_IF_ERROR(Pop(&args));
  PVM_RETURN_IF_ERROR(Pop(&cls));
  CountCalled(cls);
  if (IsDataKind(cls->kind)) {
    return Err(ErrorCode::kType,
               StrCat(op, " class argument must be a type, not ",
                      KindName(cls->kind)));
  }
  if (args->kind != Kind::kTuple) {
    return Err(ErrorCode::kType,
               StrCat(op, " args argument must be a tuple, not ",
                      KindName(args->kind)));
  }
  if (kwargs != nullptr) {
    if (kwargs->kind != Kind::kDict) {
      return Err(ErrorCode::kType,
                 StrCat("NEWOBJ_EX kwargs argument must be a dict, not ",
                        KindName(kwargs->kind)));
    }
    PVM_RETURN_IF_ERROR(CheckKeywords(kwargs));
    if (kwargs->a.dict->size() == 0) kwargs = nullptr;
  }
  Node* result = nullptr;
  Node* buf[2];
  CallTuple tuple(this, args);
  PVM_RETURN_IF_ERROR(Call(cls, args->Items(buf), kwargs, Use::kInstantiate,
                           Via::kNew, &result));
  return Push(result);
}

absl::Status Machine::DoBuild() {
  if (Above() < 2) return Underflow();
  Node* state = stack_.back();
  stack_.pop_back();
  Node* inst = stack_.back();
  switch (inst->kind) {
    case Kind::kObject:
    case Kind::kCall: {
      Record* r = inst->a.rec;
      if (r->builds > 0) {
        if (strict_) {
          return Err(ErrorCode::kStrict, "a second BUILD on one object");
        }
        // CPython looks __setstate__ up on the instance first: an earlier
        // state that set it makes this BUILD a call of what it was set to
        // then (later changes to that state dict never reached the
        // instance), with this state as the argument.
        if (r->setstate != nullptr) return SetstateCall(r->setstate, state);
      }
      absl::Status keys = CheckStateKeys(state);
      const bool keys_clean = keys.ok();
      if (!keys_clean) {
        if (strict_) return keys;
        if (r->callable->kind == Kind::kGlobal) {
          AddFinding(r->callable, Use::kCall, false,
                     GetErrorInfo(keys).reason);
        }
      }
      // Then on the class: a class whose __setstate__ an earlier BUILD
      // replaced makes every BUILD of its instances a call of the
      // replacement.  (Only record mode plants one: strict refuses a BUILD
      // on a class.)
      if (!class_setstate_.empty() && r->callable->kind == Kind::kGlobal) {
        auto it = class_setstate_.find(ClassKey(r->callable));
        if (it != class_setstate_.end()) {
          if (r->builds < 255) ++r->builds;
          return SetstateCall(it->second, state);
        }
      }
      if (r->builds == 1) {  // once per object, as for SETITEM above
        Warn(StrCat("offset ", op_offset_, ": a second BUILD on one object"));
      }
      if (r->builds < 255) ++r->builds;
      r->state = state;
      // obj.__dict__.update(state): a __setstate__ in it stays the
      // instance's until another state replaces it.  (Strict mode refused
      // such a key above.)
      if (!strict_) {
        if (Node* fn = StateAttr(state, "__setstate__")) r->setstate = fn;
      }
      // Consumed, and (keys_clean) its keys found free of dunder names:
      // only a later SETITEM of a dunder key undoes that (SetItemOnConsumed).
      const uint8_t took = keys_clean ? (kConsumed | kKeysChecked) : kConsumed;
      ForEachStateBody(state, [took](Node* holder, const DictBody*) {
        holder->flags |= took;
      });
      if (!strict_) {
        CallEvent ev;
        ev.callable = r->callable;
        ev.args = LastingArgs(absl::MakeConstSpan(&state, 1));
        ev.offset = op_offset_;
        ev.opcode = static_cast<uint8_t>(opcode_);
        ev.admitted = true;
        ev.result = inst;
        ev.build = true;
        Log(std::move(ev));
      }
      if (opts_.joblib_arrays && r->callable->kind == Kind::kGlobal &&
          IsText(r->callable->a.global->joined, kJoblibWrapper)) {
        return JoblibArray(state);
      }
      return absl::OkStatus();
    }
    case Kind::kDtype:
    case Kind::kNDArray: {
      bool built = inst->kind == Kind::kDtype ? inst->a.dtype->built
                                              : inst->a.array->built;
      if (built) {
        return Err(strict_ ? ErrorCode::kStrict : ErrorCode::kValue,
                   StrCat("a second BUILD on a ", KindName(inst->kind)));
      }
      std::string why;
      if (inst->kind == Kind::kDtype) {
        BuildResult::Outcome r = ApplyDtypeState(g_, inst, state, &why);
        if (r == BuildResult::kCopyLimit) return CopyLimit();
        if (r != BuildResult::kBuilt) return Err(ErrorCode::kValue, why);
        return absl::OkStatus();
      }
      if (!ApplyNdarrayState(g_, inst, state, &why)) {
        return Err(ErrorCode::kValue, why);
      }
      return absl::OkStatus();
    }
    case Kind::kGlobal:
      if (!strict_) {
        // BUILD on a class or function sets its attributes in CPython (the
        // slot-state form): a call in all but name.
        // A __setstate__ an earlier BUILD planted on this class is what
        // CPython calls now.
        if (auto it = class_setstate_.find(ClassKey(inst));
            it != class_setstate_.end()) {
          return SetstateCall(it->second, state);
        }
        AddFinding(inst, Use::kCall, false, "BUILD sets attributes");
        if (Node* fn = StateAttr(state, "__setstate__")) {
          class_setstate_[ClassKey(inst)] = fn;
        }
        return absl::OkStatus();
      }
      break;
    default:
      break;
  }
  if (strict_) {
    return Err(ErrorCode::kStrict,
               StrCat("BUILD on a ", KindName(inst->kind)));
  }
  // CPython: a None state is a no-op on anything; any other state needs an
  // instance __dict__ (or, for a (state, slotstate) pair, a dict slot
  // state), which plain data lacks.
  if (state->kind == Kind::kNone) return absl::OkStatus();
  // (None, {}): no instance dict to update and no slot to set.
  if (state->kind == Kind::kTuple && state->size() == 2 &&
      state->at(0)->kind == Kind::kNone && state->at(1)->kind == Kind::kDict &&
      state->at(1)->a.dict->size() == 0) {
    return absl::OkStatus();
  }
  return Err(ErrorCode::kValue,
             StrCat("'", KindName(inst->kind),
                          "' object has no attribute '__dict__'"));
}

// A BUILD state sets instance attributes; one named like a dunder
// (__setstate__, __reduce__, __class__ ...) changes what later opcodes or
// Python itself would call.  No pickler writes such a state.
absl::Status Machine::CheckStateKeys(const Node* state) {
  const Node* dunder = nullptr;
  ForEachStateBody(const_cast<Node*>(state), [&](Node* holder,
                                                 const DictBody* body) {
    // Keys shared through a shape were looked at when it was made; a state
    // an earlier BUILD took was looked at then (kKeysChecked), and one
    // found to hold a dunder name keeps it (keys are never removed).
    if (dunder != nullptr ||
        (body->shape != nullptr && !body->shape->dunder_key) ||
        (holder->flags & kKeysChecked)) {
      return;
    }
    if (auto it = dunder_keys_.find(holder); it != dunder_keys_.end()) {
      dunder = it->second;
      return;
    }
    for (Entry e : body->items()) {
      if (e.key->kind == Kind::kStr && IsDunder(e.key->str())) {
        dunder = e.key;
        if (body->shape == nullptr) dunder_keys_.emplace(holder, e.key);
        return;
      }
    }
  });
  if (dunder == nullptr) return absl::OkStatus();
  return Err(ErrorCode::kRefused,
             StrCat("BUILD state sets ", Quote(dunder->str()),
                    ", which would change what Python calls"));
}

// After the BUILD of a joblib NumpyArrayWrapper, joblib's unpickler reads
// the array straight from the stream: a padding-length byte and that many
// 0xff bytes (for alignment), then the raw data; or, for object arrays, a
// pickle of its own.  The array replaces the wrapper on the stack.
absl::Status Machine::JoblibArray(Node* state) {
  if (state->kind != Kind::kDict) {
    return Err(ErrorCode::kValue, "NumpyArrayWrapper state is not a dict");
  }
  // The fields, by their position in the state: joblib writes every
  // wrapper's state with the same keys in the same order, so they share a
  // Shape, and the positions found for the last shape seen serve the next
  // array without looking at its keys.
  const DictBody* body = state->a.dict;
  if (body->shape == nullptr || body->shape != joblib_shape_) {
    joblib_shape_ = nullptr;  // until the scan below succeeds
    std::fill(std::begin(joblib_fields_), std::end(joblib_fields_),
              kJoblibAbsent);
    for (uint32_t i = 0; i < body->size(); ++i) {
      const Node* k = body->key(i);
      std::string_view key = k->kind == Kind::kStr ? k->str() : "";
      int field = key == "subclass"                      ? 0
                  : key == "shape"                       ? 1
                  : key == "order"                       ? 2
                  : key == "dtype"                       ? 3
                  : key == "allow_mmap"                  ? 4
                  : key == "numpy_array_alignment_bytes" ? 5
                                                         : -1;
      if (field < 0) {
        return Err(ErrorCode::kValue,
                   "NumpyArrayWrapper state has an unknown field");
      }
      // i < 6: a dict's keys are distinct, so a seventh entry would have
      // been an unknown field.
      joblib_fields_[field] = static_cast<uint8_t>(i);
    }
    joblib_shape_ = body->shape;  // nullptr (own keys) is never reused
  }
  auto field = [&](int f) -> Node* {
    return joblib_fields_[f] == kJoblibAbsent ? nullptr
                                              : body->value(joblib_fields_[f]);
  };
  Node* subclass = field(0);
  Node* shape = field(1);
  Node* order = field(2);
  Node* dtype = field(3);
  Node* allow_mmap = field(4);
  Node* alignment = field(5);
  // joblib writes None when it could not tell the file position (a file
  // object without tell()): then there is no padding, as with no field.
  if (alignment != nullptr && alignment->kind == Kind::kNone) alignment = nullptr;
  if (subclass == nullptr || subclass->kind != Kind::kGlobal ||
      shape == nullptr || order == nullptr || order->kind != Kind::kStr ||
      (!IsText(order->str(), "C") && !IsText(order->str(), "F")) ||
      dtype == nullptr ||
      dtype->kind != Kind::kDtype ||
      (allow_mmap != nullptr && allow_mmap->kind != Kind::kBool) ||
      (alignment != nullptr &&
       (alignment->kind != Kind::kInt || alignment->a.i < 1 ||
        alignment->a.i > 255))) {
    return Err(ErrorCode::kValue,
               "NumpyArrayWrapper state is not joblib's (subclass, shape, "
               "order, dtype, allow_mmap, numpy_array_alignment_bytes)");
  }
  const bool plain_ndarray =
      IsText(subclass->a.global->joined, "numpy:ndarray");
  if (!plain_ndarray && !policy_.IsNdarrayClass(subclass->a.global->joined)) {
    std::string why = StrCat("joblib array subclass ",
                             Quote(subclass->a.global->joined),
                             " is not an admitted ndarray class");
    if (strict_) return Err(ErrorCode::kRefused, why);
    AddFinding(subclass, Use::kInstantiate, false, why);
  }
  if (reader_.InUnfinishedFrame()) {
    return Err(ErrorCode::kValue,
               "joblib array data starts inside a pickle frame");
  }
  JoblibRegion region;
  region.start = reader_.pos();
  Node* array = nullptr;
  if (dtype->a.dtype->kind == 'O') {
    // joblib reads object arrays with a plain pickle.load: its own memo,
    // the same policy and limits, no joblib arrays inside.
    MachineOptions nested_opts = opts_;
    nested_opts.joblib_arrays = false;
    RunResult nested;
    absl::Status s =
        RunPickle(reader_.data(), reader_.pos(), nested_opts, &g_, &nested);
    for (auto& f : nested.findings) out_.findings.push_back(std::move(f));
    for (auto& c : nested.calls) out_.calls.push_back(std::move(c));
    for (auto& w : nested.warnings) out_.warnings.push_back(std::move(w));
    PVM_RETURN_IF_ERROR(s);
    if (nested.root->kind != Kind::kNDArray ||
        nested.root->a.array->dtype->a.dtype->kind != 'O') {
      return Err(ErrorCode::kValue,
                 "joblib object array's pickle is not an object array");
    }
    std::string_view skipped;
    PVM_RETURN_IF_ERROR(reader_.Read(nested.end - reader_.pos(), &skipped));
    region.nested_pickle = true;
    region.data = region.start;
    array = nested.root;
  } else {
    Graph& g = g_;
    Node* a = g.NewNodeOfKind(Kind::kNDArray);
    if (a == nullptr) return NodeLimit();
    ArrayInfo* info = g.arena().New<ArrayInfo>();
    a->a.array = info;
    uint64_t nbytes;
    std::string why;
    if (!ArrayByteSize(g, shape, dtype, &info->shape, &nbytes, &why)) {
      return Err(ErrorCode::kValue, why);
    }
    if (alignment != nullptr) {
      std::string_view pad_byte;
      PVM_RETURN_IF_ERROR(reader_.Read(1, &pad_byte));
      uint64_t pad = static_cast<uint8_t>(pad_byte[0]);
      uint64_t align = static_cast<uint64_t>(alignment->a.i);
      // joblib aligns to 16: a mask, not a division, for a power of two.
      uint64_t rem = (align & (align - 1)) == 0 ? reader_.pos() & (align - 1)
                                                : reader_.pos() % align;
      uint64_t expected = align - rem;
      if (pad != expected) {
        return Err(ErrorCode::kValue,
                   StrCat("joblib padding length ", pad, " at offset ",
                          reader_.pos() - 1, " should be ", expected));
      }
      std::string_view padding;
      PVM_RETURN_IF_ERROR(reader_.Read(pad, &padding));
      if (padding.find_first_not_of('\xff') != std::string_view::npos) {
        return Err(ErrorCode::kValue,
                   StrCat("joblib padding at offset ", reader_.pos() - pad,
                          " is not 0xff bytes"));
      }
    }
    region.data = reader_.pos();
    if (nbytes > reader_.Available()) {
      return Err(ErrorCode::kTruncated,
                 StrCat("joblib array of ", nbytes, " bytes at offset ",
                        reader_.pos(), " runs past the end of the input (",
                        reader_.Available(), " bytes left)"));
    }
    PVM_RETURN_IF_ERROR(reader_.Read(nbytes, &info->data));
    info->dtype = dtype;
    info->fortran = IsText(order->str(), "F");
    info->built = true;
    if (!plain_ndarray) info->subclass = subclass->a.global;
    array = a;
  }
  region.end = reader_.pos();
  // A model holds hundreds of arrays; growing from one by doubling was
  // 1.4% of a RandomForest's joblib decode.
  if (out_.joblib_regions.empty()) out_.joblib_regions.reserve(64);
  out_.joblib_regions.push_back(region);
  stack_.ReplaceTop(array);
  return absl::OkStatus();
}

absl::Status Machine::DoPersId(Node* pid) {
  bool admitted = policy_.AdmitsPersistentIds();
  if (strict_ && !admitted) {
    return Err(ErrorCode::kRefused,
               "persistent id refused: the policy admits no persistent_load");
  }
  if (!strict_) {
    picklevm::Finding f;
    f.use = "persistent-id";
    f.offset = op_offset_;
    f.allowed = admitted;
    f.detail = pid->kind == Kind::kStr ? FindingText(pid->str())
                                       : std::string(KindName(pid->kind));
    Log(std::move(f));
  }
  return Push(g_.NewPersId(pid));
}

absl::Status Machine::DoExt(int64_t code) {
  if (code <= 0) return Err(ErrorCode::kValue, "EXT specifies code <= 0");
  auto it = opts_.extension_registry.find(code);
  if (it != opts_.extension_registry.end()) {
    Node* g = nullptr;
    PVM_RETURN_IF_ERROR(MakeGlobal(it->second.first, it->second.second, &g));
    return Push(g);
  }
  if (strict_) {
    return Err(ErrorCode::kRefused,
               StrCat("extension code ", code,
                            " names a global through copyreg's registry, "
                            "which the policy cannot see"));
  }
  picklevm::Finding f;
  f.use = "extension-code";
  f.offset = op_offset_;
  f.detail = StrCat(code);
  Log(std::move(f));
  return Push(g_.NewExt(code));
}

absl::Status Machine::DoStop() {
  if (strict_) {
    if (!marks_.empty()) {
      return Err(ErrorCode::kStrict, "STOP inside an open MARK");
    }
    if (stack_.size() != 1) {
      return stack_.empty()
                 ? Underflow()
                 : Err(ErrorCode::kStrict,
                       StrCat(stack_.size() - 1,
                                    " items left on the stack at STOP"));
    }
  }
  Node* root = nullptr;
  PVM_RETURN_IF_ERROR(Pop(&root));
  out_.root = root;
  out_.end = reader_.pos();
  return absl::OkStatus();
}

absl::Status Machine::Step(const OpcodeInfo& info, const Operand& arg,
                           bool* stop) {
  switch (info.op) {
    // ---- numbers ----------------------------------------------------------
    case Op::kInt: {
      if (arg.bytes.size() < 2) {
        return Err(ErrorCode::kTruncated, "pickle data was truncated");
      }
      PyInt v;
      bool is_bool;
      NumParse r = ParseIntOpcode(arg.bytes, opts_.limits.max_int_digits, &v,
                                  &is_bool);
      if (r == NumParse::kTooManyDigits) return IntDigitsError();
      if (r != NumParse::kOk) {
        return Err(ErrorCode::kBadOperand,
                   StrCat("could not convert string to int: ",
                                Quote(LineText(arg.bytes))));
      }
      if (is_bool) return Push(g_.Bool(v.small != 0));
      return PushInt(v);
    }
    case Op::kBinint:
      return Push(g_.NewInt(arg.i));
    case Op::kBinint1:
    case Op::kBinint2:
      return Push(g_.NewInt(static_cast<int64_t>(arg.u)));
    case Op::kLong: {
      if (arg.bytes.size() < 2) {
        return Err(ErrorCode::kTruncated, "pickle data was truncated");
      }
      PyInt v;
      NumParse r = ParseLongOpcode(arg.bytes, opts_.limits.max_int_digits, &v);
      if (r == NumParse::kTooManyDigits) return IntDigitsError();
      if (r != NumParse::kOk) {
        return Err(ErrorCode::kBadOperand,
                   StrCat("invalid literal for int(): ",
                                Quote(LineText(arg.bytes))));
      }
      return PushInt(v);
    }
    case Op::kLong1:
    case Op::kLong4: {
      PyInt v;
      if (!PyIntFromTwosComplement(arg.bytes, opts_.limits.max_int_digits,
                                   &v)) {
        return IntDigitsError();
      }
      return PushInt(v);
    }
    case Op::kFloat: {
      if (arg.bytes.size() < 2) {
        return Err(ErrorCode::kTruncated, "pickle data was truncated");
      }
      double d;
      NumParse r = ParseFloatOpcode(arg.bytes, &d);
      if (r == NumParse::kOverflow) {
        return Err(ErrorCode::kValue, "value too large to convert to float");
      }
      if (r != NumParse::kOk) {
        return Err(ErrorCode::kBadOperand,
                   StrCat("could not convert string to float: ",
                                Quote(LineText(arg.bytes))));
      }
      return Push(g_.NewFloat(d));
    }
    case Op::kBinfloat:
      return Push(g_.NewFloat(arg.f));

    // ---- strings and bytes ------------------------------------------------
    case Op::kString: {
      std::string_view s = LineText(arg.bytes);
      if (s.size() < 2 || s.front() != s.back() ||
          (s.front() != '\'' && s.front() != '"')) {
        return Err(ErrorCode::kBadOperand,
                   "the STRING opcode argument must be quoted");
      }
      s = s.substr(1, s.size() - 2);
      if (s.find('\\') == std::string_view::npos) {
        return PushAsciiStr(s, /*copy=*/false);
      }
      std::string decoded, error;
      if (!EscapeDecode(s, &decoded, &error)) {
        return Err(ErrorCode::kDecode, error);
      }
      return PushAsciiStr(decoded, /*copy=*/true);
    }
    case Op::kBinstring:
    case Op::kShortBinstring:
      return PushAsciiStr(arg.bytes, /*copy=*/false);
    case Op::kBinbytes:
    case Op::kShortBinbytes:
    case Op::kBinbytes8:
      return Push(g_.NewBytes(Kind::kBytes, arg.bytes, false));
    case Op::kBytearray8:
      return Push(g_.NewBytes(Kind::kByteArray, arg.bytes, false));
    case Op::kUnicode: {
      std::string decoded, error;
      bool surrogates;
      if (!RawUnicodeEscapeDecode(LineText(arg.bytes), &decoded, &surrogates,
                                  &error)) {
        return Err(ErrorCode::kDecode, error);
      }
      return Push(g_.NewStr(decoded, surrogates, /*copy=*/true));
    }
    case Op::kShortBinunicode:
    case Op::kBinunicode:
    case Op::kBinunicode8:
      return PushUtf8Str(arg.bytes);
    case Op::kNextBuffer: {
      if (!opts_.have_buffers) {
        return Err(ErrorCode::kBuffers,
                   "pickle stream refers to out-of-band data but no "
                   "*buffers* argument was given");
      }
      if (next_buffer_ >= opts_.buffers.size()) {
        return Err(ErrorCode::kBuffers, "not enough out-of-band buffers");
      }
      const OutOfBandBuffer& b = opts_.buffers[next_buffer_++];
      return Push(g_.NewBytes(b.readonly ? Kind::kBytes : Kind::kByteArray,
                              b.data, false));
    }
    case Op::kReadonlyBuffer: {
      Node* buf = nullptr;
      PVM_RETURN_IF_ERROR(Top(&buf));
      if (buf->kind != Kind::kBytes && buf->kind != Kind::kByteArray) {
        return Err(ErrorCode::kType,
                   StrCat("a bytes-like object is required, not '",
                                KindName(buf->kind), "'"));
      }
      Node* view = g_.NewBytes(Kind::kBytes, buf->str(), false);
      if (view == nullptr) return NodeLimit();
      stack_.ReplaceTop(view);
      return absl::OkStatus();
    }

    // ---- constants --------------------------------------------------------
    case Op::kNone:
      return Push(g_.None());
    case Op::kNewtrue:
      return Push(g_.Bool(true));
    case Op::kNewfalse:
      return Push(g_.Bool(false));

    // ---- containers -------------------------------------------------------
    case Op::kEmptyList:
      return Push(g_.NewList());
    case Op::kAppend:
      return DoAppends(stack_.size() - 1);
    case Op::kAppends: {
      size_t mark = 0;
      PVM_RETURN_IF_ERROR(PopMark(&mark));
      return DoAppends(mark);
    }
    case Op::kList:
    case Op::kTuple: {
      size_t mark = 0;
      PVM_RETURN_IF_ERROR(PopMark(&mark));
      return PackFrom(mark, info.op == Op::kList ? Kind::kList : Kind::kTuple);
    }
    case Op::kEmptyTuple:
      return Push(g_.NewSeq(Kind::kTuple, {}));
    case Op::kTuple1:
    case Op::kTuple2:
    case Op::kTuple3: {
      size_t n = info.op == Op::kTuple1 ? 1 : info.op == Op::kTuple2 ? 2 : 3;
      if (Above() < n) return Underflow();
      return PackFrom(stack_.size() - n, Kind::kTuple);
    }
    case Op::kEmptyDict:
      return Push(g_.NewDict());
    case Op::kDict: {
      size_t mark = 0;
      PVM_RETURN_IF_ERROR(PopMark(&mark));
      if ((stack_.size() - mark) % 2 != 0) {
        return Err(ErrorCode::kValue, "odd number of items for DICT");
      }
      Node* d = g_.NewDict();
      if (d == nullptr) return NodeLimit();
      if (!g_.DictReserve(d->a.dict, (stack_.size() - mark) / 2)) {
        return FromGraphErr(GraphErr::kTooLarge, nullptr);
      }
      for (size_t i = mark; i < stack_.size(); i += 2) {
        PVM_RETURN_IF_ERROR(FromGraphErr(
            g_.DictSet(d->a.dict, stack_[i], stack_[i + 1]), stack_[i]));
      }
      Truncate(mark);
      return Push(d);
    }
    case Op::kSetitem:
      if (stack_.size() < 2) return Underflow();
      return DoSetItems(stack_.size() - 2);
    case Op::kSetitems: {
      size_t mark = 0;
      PVM_RETURN_IF_ERROR(PopMark(&mark));
      return DoSetItems(mark);
    }
    case Op::kEmptySet:
      return Push(g_.NewSet(Kind::kSet));
    case Op::kAdditems: {
      size_t mark = 0;
      PVM_RETURN_IF_ERROR(PopMark(&mark));
      if (mark > stack_.size() || mark <= Fence()) return Underflow();
      if (mark == stack_.size()) return absl::OkStatus();
      Node* target = stack_[mark - 1];
      if (target->kind == Kind::kSet) {
        for (size_t i = mark; i < stack_.size(); ++i) {
          PVM_RETURN_IF_ERROR(
              FromGraphErr(g_.SetAdd(target->a.set, stack_[i]), stack_[i]));
        }
      } else if (!strict_ && (target->kind == Kind::kCall ||
                              target->kind == Kind::kObject)) {
        // CPython calls .add() on it: recorded as items.
        absl::Span<Node* const> items = From(mark);
        if (!target->a.rec->items.append(g_.arena(), items.data(),
                                         items.size())) {
          return FromGraphErr(GraphErr::kTooLarge, nullptr);
        }
      } else {
        return Err(strict_ ? ErrorCode::kStrict : ErrorCode::kValue,
                   StrCat("ADDITEMS on a ", KindName(target->kind)));
      }
      Truncate(mark);
      return absl::OkStatus();
    }
    case Op::kFrozenset: {
      size_t mark = 0;
      PVM_RETURN_IF_ERROR(PopMark(&mark));
      Node* s = g_.NewSet(Kind::kFrozenSet);
      if (s == nullptr) return NodeLimit();
      for (size_t i = mark; i < stack_.size(); ++i) {
        PVM_RETURN_IF_ERROR(
            FromGraphErr(g_.SetAdd(s->a.set, stack_[i]), stack_[i]));
      }
      Truncate(mark);
      return Push(s);
    }

    // ---- stack manipulation -----------------------------------------------
    case Op::kPop:
      // CPython's split stacks: POP right after MARK pops the MARK.
      if (!marks_.empty() && marks_.back() == stack_.size()) {
        DropMark();
        return absl::OkStatus();
      }
      if (Above() == 0) return Underflow();
      stack_.pop_back();
      return absl::OkStatus();
    case Op::kDup: {
      Node* top = nullptr;
      PVM_RETURN_IF_ERROR(Top(&top));
      return Push(top);
    }
    case Op::kMark:
      if (stack_.size() + marks_.size() >= max_stack_) return StackLimit();
      PushMark();
      return absl::OkStatus();
    case Op::kPopMark: {
      size_t mark = 0;
      PVM_RETURN_IF_ERROR(PopMark(&mark));
      Truncate(mark);
      return absl::OkStatus();
    }

    // ---- memo -------------------------------------------------------------
    case Op::kGet: {
      uint64_t index = 0;
      PVM_RETURN_IF_ERROR(TextMemoIndex(arg.bytes, &index, false));
      return MemoGet(index);
    }
    case Op::kBinget:
    case Op::kLongBinget:
      return MemoGet(arg.u);
    case Op::kPut: {
      // CPython's order (load_put): the line, then the stack, then the
      // number -- "p-1\n" with nothing to store is a stack underflow.
      if (arg.bytes.size() >= 2 && Above() == 0) return Underflow();
      uint64_t index = 0;
      PVM_RETURN_IF_ERROR(TextMemoIndex(arg.bytes, &index, true));
      return MemoPut(index);
    }
    case Op::kBinput:
    case Op::kLongBinput:
      return MemoPut(arg.u);
    case Op::kMemoize:
      return MemoPut(memo_count_);

    // ---- globals and calls ------------------------------------------------
    case Op::kExt1:
    case Op::kExt2:
      return DoExt(static_cast<int64_t>(arg.u));
    case Op::kExt4:
      return DoExt(arg.i);
    case Op::kGlobal: {
      if (arg.bytes.size() < 2 || arg.line2.size() < 2) {
        return Err(ErrorCode::kTruncated, "pickle data was truncated");
      }
      std::string module, name;
      PVM_RETURN_IF_ERROR(DecodeName(LineText(arg.bytes), &module));
      PVM_RETURN_IF_ERROR(DecodeName(LineText(arg.line2), &name));
      Node* g = nullptr;
      PVM_RETURN_IF_ERROR(MakeGlobal(module, name, &g));
      return Push(g);
    }
    case Op::kStackGlobal: {
      Node *name = nullptr, *module = nullptr;
      PVM_RETURN_IF_ERROR(Pop(&name));
      PVM_RETURN_IF_ERROR(Pop(&module));
      if (name->kind != Kind::kStr || module->kind != Kind::kStr) {
        return Err(ErrorCode::kType, "STACK_GLOBAL requires str");
      }
      if (name->has_surrogates() || module->has_surrogates()) {
        return Err(ErrorCode::kDecode,
                   "global name holds a surrogate code point");
      }
      // Every global node keeps its own "module:qualname", and the names
      // here may be memoized strs that a stream names again and again: the
      // text is counted against --max-copied-items, 8 bytes an item.
      if (!g_.ChargeCopies((module->b().n + name->b().n) / 8)) {
        return CopyLimit();
      }
      Node* g = nullptr;
      PVM_RETURN_IF_ERROR(MakeGlobal(module->str(), name->str(), &g));
      return Push(g);
    }
    case Op::kReduce:
      return DoReduce();
    case Op::kBuild:
      return DoBuild();
    case Op::kInst: {
      if (arg.bytes.size() < 2 || arg.line2.size() < 2) {
        return Err(ErrorCode::kTruncated, "pickle data was truncated");
      }
      size_t mark = 0;
      PVM_RETURN_IF_ERROR(PopMark(&mark));
      std::string module, name;
      PVM_RETURN_IF_ERROR(DecodeName(LineText(arg.bytes), &module));
      PVM_RETURN_IF_ERROR(DecodeName(LineText(arg.line2), &name));
      Node* cls = nullptr;
      PVM_RETURN_IF_ERROR(MakeGlobal(module, name, &cls));
      std::vector<Node*> args(stack_.begin() + mark, stack_.end());
      Truncate(mark);
      Node* result = nullptr;
      PVM_RETURN_IF_ERROR(
          Call(cls, args, nullptr, Use::kCall, Via::kCall, &result));
      return Push(result);
    }
    case Op::kObj: {
      size_t mark = 0;
      PVM_RETURN_IF_ERROR(PopMark(&mark));
      if (stack_.size() - mark < 1) return Underflow();
      Node* cls = stack_[mark];
      std::vector<Node*> args(stack_.begin() + mark + 1, stack_.end());
      Truncate(mark);
      CountCalled(cls);
      Node* result = nullptr;
      PVM_RETURN_IF_ERROR(
          Call(cls, args, nullptr, Use::kCall, Via::kCall, &result));
      return Push(result);
    }
    case Op::kNewobj:
    case Op::kNewobjEx:
      return DoNewobj(info.op == Op::kNewobjEx);
    case Op::kPersid: {
      size_t bad;
      std::string_view text = LineText(arg.bytes);
      if (!IsAscii(text, &bad)) {
        return Err(ErrorCode::kDecode,
                   "persistent IDs in protocol 0 must be ASCII strings");
      }
      Node* pid = g_.NewStr(text, false, false);
      if (pid == nullptr) return NodeLimit();
      return DoPersId(pid);
    }
    case Op::kBinpersid: {
      Node* pid = nullptr;
      PVM_RETURN_IF_ERROR(Pop(&pid));
      return DoPersId(pid);
    }

    // ---- framing and control ----------------------------------------------
    case Op::kProto:
      if (arg.u > 5) {
        return Err(ErrorCode::kProtocol,
                   StrCat("unsupported pickle protocol: ", arg.u));
      }
      proto_ = static_cast<int>(arg.u);
      if (out_.protocol < 0) out_.protocol = proto_;
      return absl::OkStatus();
    case Op::kFrame: {
      // Record mode runs a truncated frame's prefix, as the pure-Python
      // unpickler (joblib's) would, so calls in it are not missed.
      bool short_frame = false;
      PVM_RETURN_IF_ERROR(reader_.BeginFrame(arg.u, !strict_, &short_frame));
      if (short_frame) {
        Warn(StrCat("offset ", op_offset_, ": a frame of ", arg.u,
                    " bytes runs past the input"));
      }
      return absl::OkStatus();
    }
    case Op::kStop:
      *stop = true;
      return DoStop();
  }
  return Err(ErrorCode::kUnknownOpcode, "opcode without semantics");
}

absl::Status Machine::Run() {
  absl::Status s;
  // The graph's budget (and memory the system refuses) ends the run like
  // any other error: record mode still reports the globals named so far
  // (scan's verdict rests on them).  What was built is consistent: the
  // graph allocates before it changes anything.
  try {
    s = Loop();
  } catch (const ArenaBudgetExceeded&) {
    s = MakeError(ErrorCode::kLimit, op_offset(), opcode(),
                  GraphBytesMessage(g_));
  } catch (const std::bad_alloc&) {
    s = MakeError(ErrorCode::kLimit, op_offset(), opcode(),
                  "out of memory: the system refused the graph more memory");
  }
  if (strict_) return s.ok() ? CheckReferences() : s;
  RecordGlobals(s.ok());
  return s;
}

// ---- the fast path ----------------------------------------------------------
// A data pickle is mostly a handful of opcodes: small ints, floats, short
// strs and bytes, MARK, memo PUT/GET, empty containers, TUPLE1-3, SETITEMS,
// APPENDS; a model adds FRAME, REDUCE, BUILD and NEWOBJ (two of them for
// every numpy array).  FastRun executes runs of them straight from the
// input bytes, without the per-opcode Reader/Operand/Status plumbing of
// Loop and Step.  It has no errors of its own: at an opcode it does not
// handle, an operand that a frame's end or the input's end cuts, a UTF-8
// error, a sparse memo index, or anything that would pass a limit, it
// stops *before* that opcode and Loop runs it through Step, with every
// check and the exact error.  The container, call and FRAME opcodes call
// Step's own helpers (and return their errors), so the two paths cannot
// disagree on what an opcode means.  Each iteration consumes at least one
// byte, as Loop's do.

namespace {

// Byte-wise loads, which the compiler turns into one load.
inline uint32_t Load16(const uint8_t* p) { return p[0] | (p[1] << 8); }
inline uint32_t Load32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24);
}
inline uint64_t Load64(const uint8_t* p) {
  return Load32(p) | (uint64_t{Load32(p + 4)} << 32);
}
// The payload of the opcode at p, after its 1-byte (or, `wide`, 4-byte)
// length: *out and the opcode's whole length, or 0 when the `avail` bytes
// before the frame's or the input's end do not hold it all.
inline uint64_t Counted(const uint8_t* p, uint64_t avail, bool wide,
                        std::string_view* out) {
  const uint64_t head = wide ? 5 : 2;
  if (avail < head) return 0;
  const uint64_t len = wide ? Load32(p + 1) : p[1];
  if (len > avail - head) return 0;
  *out = std::string_view(reinterpret_cast<const char*>(p + head), len);
  return head + len;
}
inline double LoadBigEndianDouble(const uint8_t* p) {
  uint64_t bits = LoadBigEndian64(p);
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

}  // namespace

// The common cases of MemoPut (dense index, below --max-memo); false leaves
// the memo untouched for the general path.
bool Machine::FastMemoPut(uint64_t index) {
  if (memo_count_ >= max_memo_) return false;
  Node* top = stack_.back();
  NoteMemoized(top);
  if (index < memo_vec_.size()) {
    if (memo_vec_[index] == nullptr) ++memo_count_;
    memo_vec_[index] = top;
    return true;
  }
  if (index == memo_vec_.size() && memo_map_.empty()) {
    if (!memo_vec_.PushBack(top)) return false;  // the pickler's numbering
    ++memo_count_;
    return true;
  }
  if (index < 2 * memo_count_ + 1024) {
    if (!GrowMemo(index + 1).ok()) return false;
    if (memo_vec_[index] == nullptr) ++memo_count_;
    memo_vec_[index] = top;
    return true;
  }
  return false;
}

absl::Status Machine::FastRun() {
  const auto* const base =
      reinterpret_cast<const uint8_t*>(reader_.data().data());
  uint64_t limit = reader_.limit();
  const uint64_t max_stack = max_stack_;
  uint64_t pos = reader_.pos();
  // Every opcode here adds at most one stack item or MARK, so `budget`
  // opcodes can run before --max-stack needs looking at again.
  uint64_t budget = 0;
  in_fast_run_ = true;  // see RunPickle
  while (pos < limit) {
    const uint8_t* p = base + pos;
    const uint64_t avail = limit - pos;
    if (ABSL_PREDICT_FALSE(budget == 0)) {
      uint64_t used = stack_.size() + marks_.size();
      if (used >= max_stack) break;
      budget = max_stack - used;
    }
    --budget;
    Node* v = nullptr;  // the value to push
    uint64_t n = 1;     // the opcode's length in bytes
    uint64_t index;
    switch (static_cast<Op>(p[0])) {
      case Op::kNone: v = g_.None(); break;
      case Op::kNewtrue: v = g_.Bool(true); break;
      case Op::kNewfalse: v = g_.Bool(false); break;
      case Op::kBinint1:
        if (avail < 2) goto done;
        v = g_.NewInt(p[1]);
        n = 2;
        break;
      case Op::kBinint2:
        if (avail < 3) goto done;
        v = g_.NewInt(Load16(p + 1));
        n = 3;
        break;
      case Op::kBinint:
        if (avail < 5) goto done;
        v = g_.NewInt(static_cast<int32_t>(Load32(p + 1)));
        n = 5;
        break;
      case Op::kBinfloat:
        if (avail < 9) goto done;
        v = g_.NewFloat(LoadBigEndianDouble(p + 1));
        n = 9;
        break;
      case Op::kShortBinunicode:
      case Op::kBinunicode: {
        std::string_view text;
        n = Counted(p, avail, p[0] == static_cast<uint8_t>(Op::kBinunicode),
                    &text);
        if (n == 0) goto done;
        Utf8Check c = CheckUtf8(text, /*allow_surrogates=*/true);
        if (!c.valid) goto done;
        v = g_.NewStr(text, c.has_surrogates, /*copy=*/false);
        break;
      }
      // A view of the input, as Step makes it.
      case Op::kShortBinbytes:
      case Op::kBinbytes: {
        std::string_view bytes;
        n = Counted(p, avail, p[0] == static_cast<uint8_t>(Op::kBinbytes),
                    &bytes);
        if (n == 0) goto done;
        v = g_.NewBytes(Kind::kBytes, bytes, /*copy=*/false);
        break;
      }
      case Op::kEmptyDict: v = g_.NewDict(); break;
      case Op::kEmptyList: v = g_.NewList(); break;
      case Op::kEmptyTuple: v = g_.NewSeq(Kind::kTuple, {}); break;
      case Op::kTuple1:
      case Op::kTuple2:
      case Op::kTuple3: {
        size_t k = p[0] - static_cast<uint8_t>(Op::kTuple1) + 1;
        if (Above() < k) goto done;
        v = g_.NewSeq(Kind::kTuple, From(stack_.size() - k));
        if (v == nullptr) goto done;
        Truncate(stack_.size() - k);
        break;
      }
      case Op::kMark:
        PushMark();
        ++pos;
        continue;
      case Op::kMemoize:
        index = memo_count_;
        goto put;
      case Op::kBinput:
        if (avail < 2) goto done;
        index = p[1];
        n = 2;
        goto put;
      case Op::kLongBinput:
        if (avail < 5) goto done;
        index = Load32(p + 1);
        n = 5;
      put:
        if (Above() == 0 || !FastMemoPut(index)) goto done;
        pos += n;
        continue;
      case Op::kBinget:
        if (avail < 2) goto done;
        index = p[1];
        n = 2;
        goto get;
      case Op::kLongBinget:
        if (avail < 5) goto done;
        index = Load32(p + 1);
        n = 5;
      get:
        if (index >= memo_vec_.size() || memo_vec_[index] == nullptr) {
          goto done;
        }
        v = memo_vec_[index];
        if (ABSL_PREDICT_FALSE(memo_had_unreferenceable_)) {
          stack_.push_back(v);  // it may be one: a counted push
          pos += n;
          continue;
        }
        break;
      // Protocol 0's decimal lines -- PUT and GET indexes, INT values --
      // read in one pass, digits then the newline, with no separate search
      // for the line's end.  The shapes taken here are the ones protocol 0
      // writes: for PUT/GET 1 to 18 digits (and at most --max-int-digits);
      // for INT an optional '-', then 1 to 18 digits without a leading
      // zero, or "00"/"01" (its False and True).  Anything else -- '+',
      // spaces, octal or hex, more digits, no newline within reach -- is
      // Step's (an INT's through the line path below first): what Step
      // would give for these shapes is what they give here (the int fits
      // int64, where ParseIntOpcode's strtol path applies no digit limit).
      case Op::kInt:
      case Op::kPut:
      case Op::kGet: {
        const bool is_int = p[0] == static_cast<uint8_t>(Op::kInt);
        // opcode, '-', 18 digits, '\n'
        const uint8_t* const end = p + std::min<uint64_t>(avail, 21);
        const uint8_t* q = p + 1;
        const bool neg = is_int && q < end && *q == '-';
        q += neg;
        const uint8_t* const digits = q;
        uint64_t x = 0;
        while (q < end && *q >= '0' && *q <= '9') {
          x = x * 10 + static_cast<uint64_t>(*q - '0');
          ++q;
        }
        const uint64_t nd = static_cast<uint64_t>(q - digits);
        if (q == end || *q != '\n' || nd == 0 || nd > 18) {
          if (is_int) goto line;
          goto done;  // TextMemoIndex decides
        }
        n = static_cast<uint64_t>(q - p) + 1;
        if (!is_int) {
          if (nd > opts_.limits.max_int_digits) goto done;
          index = x;
          if (p[0] == static_cast<uint8_t>(Op::kPut)) goto put;
          goto get;
        }
        if (digits[0] == '0' && nd != 1 && !(nd == 2 && !neg && x <= 1)) {
          goto line;  // octal to strtol
        }
        const int64_t value =
            neg ? -static_cast<int64_t>(x) : static_cast<int64_t>(x);
        // A line of two characters whose value is 0 or 1 ("00", "01",
        // "-0") is a bool to CPython.
        v = n == 4 && (value == 0 || value == 1) ? g_.Bool(value != 0)
                                                 : g_.NewInt(value);
        break;
      }
      // FLOAT as repr() writes it, read in one pass too: from_chars stops
      // at the newline (a float's repr is at most 24 characters, so 40 is
      // ample; a longer line takes the line path).
      case Op::kFloat: {
        double d;
        const size_t len = ParseReprFloat(
            std::string_view(reinterpret_cast<const char*>(p + 1),
                             std::min<uint64_t>(avail - 1, 40)),
            &d);
        if (len == 0) goto line;
        v = g_.NewFloat(d);
        n = len + 2;
        break;
      }
      // UNICODE of ASCII without '\\' (raw-unicode-escape is the identity
      // on it), found in the same pass as the newline; anything else (an
      // escape, a non-ASCII byte, no newline) is Step's.
      case Op::kUnicode: {
        const uint8_t* const end = p + avail;
        const uint8_t* q = p + 1;
        while (q < end && *q != '\n' && !(*q & 0x80) && *q != '\\') ++q;
        if (q == end || *q != '\n') goto done;
        v = g_.NewStr(std::string_view(reinterpret_cast<const char*>(p + 1),
                                       static_cast<size_t>(q - p - 1)),
                      false, /*copy=*/false);
        n = static_cast<uint64_t>(q - p) + 1;
        break;
      }
      // STRING, and the INT and FLOAT lines the one-pass reads above did
      // not take (the line ends inside the frame or input, as
      // Reader::ReadLine requires).
      case Op::kString:
      line: {
        const void* nl = std::memchr(p + 1, '\n', avail - 1);
        if (nl == nullptr) goto done;
        std::string_view line(reinterpret_cast<const char*>(p + 1),
                              static_cast<const uint8_t*>(nl) - p);
        n = 1 + line.size();
        std::string_view text = LineText(line);
        switch (static_cast<Op>(p[0])) {
          case Op::kInt: {
            if (line.size() < 2) goto done;
            PyInt i;
            bool is_bool;
            if (ParseIntOpcode(line, opts_.limits.max_int_digits, &i,
                               &is_bool) != NumParse::kOk) {
              goto done;
            }
            v = is_bool ? g_.Bool(i.small != 0)
                : i.is_small ? g_.NewInt(i.small)
                             : g_.NewBigInt(i.decimal);
            break;
          }
          case Op::kFloat: {
            double d;
            if (line.size() < 2 ||
                ParseFloatOpcode(line, &d) != NumParse::kOk) {
              goto done;
            }
            v = g_.NewFloat(d);
            break;
          }
          default: {  // STRING: quoted, no escapes, ASCII
            if (text.size() < 2 || text.front() != text.back() ||
                (text.front() != '\'' && text.front() != '"')) {
              goto done;
            }
            text = text.substr(1, text.size() - 2);
            for (char c : text) {
              if ((c & 0x80) || c == '\\') goto done;
            }
            v = g_.NewStr(text, false, /*copy=*/false);
            break;
          }
        }
        break;
      }
      // One item into a plain dict or list (protocol 0 writes one SETITEM
      // or APPEND per item): the graph's own insert, no Step.  Anything
      // else -- an instance target, the fence in the way, an unhashable
      // key, a size limit -- is left to Step, which reports it; DictSet
      // and ListAppend change nothing when they fail.
      case Op::kSetitem: {
        const size_t len = stack_.size();
        if (Above() < 3 || stack_[len - 3]->kind != Kind::kDict ||
            (stack_[len - 3]->flags & (kConsumed | kKeysChecked))) {
          goto slow;
        }
        if (g_.DictSet(stack_[len - 3]->a.dict, stack_[len - 2],
                       stack_[len - 1]) != GraphErr::kOk) {
          goto done;
        }
        Truncate(len - 2);
        ++pos;
        continue;
      }
      case Op::kAppend: {
        const size_t len = stack_.size();
        if (Above() < 2 || stack_[len - 2]->kind != Kind::kList) goto slow;
        if (g_.ListAppend(stack_[len - 2], stack_[len - 1]) != GraphErr::kOk) {
          goto done;
        }
        stack_.pop_back();
        ++pos;
        continue;
      }
      // SETITEMS (every protocol-2+ dict of two or more items): what Step
      // does for it -- pop the MARK, DoSetItems -- without Step's dispatch.
      // No MARK is Step's to report.
      case Op::kSetitems: {
        if (marks_.empty()) goto slow;
        AtOpcode(pos, p[0]);
        const size_t mark = DropMark();
        absl::Status s = DoSetItems(mark);
        in_fast_run_ = true;
        ++pos;
        if (ABSL_PREDICT_FALSE(!s.ok())) {
          reader_.SetPos(pos);
          return s;
        }
        continue;
      }
      // Protocol 0's containers: MARK, the items, then LIST or TUPLE; and
      // MARK DICT with no items, then one SETITEM per entry.  What Step
      // does -- pop the MARK, pack the items above it -- without its
      // dispatch.  A failed NewSeq (the node limit) changed nothing, and
      // Step then reports it; a DICT with items is Step's.
      case Op::kList:
      case Op::kTuple:
        if (marks_.empty()) goto slow;
        v = g_.NewSeq(p[0] == static_cast<uint8_t>(Op::kList) ? Kind::kList
                                                              : Kind::kTuple,
                      From(Fence()));
        if (v == nullptr) goto done;
        Truncate(DropMark());
        break;
      case Op::kDict:
        if (marks_.empty() || Fence() != stack_.size()) goto slow;
        v = g_.NewDict();
        if (v == nullptr) goto done;
        DropMark();
        break;
      // FRAME (a protocol-4 stream starts one every 64 KiB) and the calls
      // and BUILDs of a model (two for every numpy array): Step's own code,
      // without Loop's operand decoding.  The reader stands after the
      // opcode while it runs -- FRAME starts its frame there, and a joblib
      // array's BUILD reads the array's bytes from there -- and where it
      // ends up, frame limit included, is where this loop goes on.
      case Op::kFrame:
      case Op::kReduce:
      case Op::kBuild:
      case Op::kNewobj: {
        const auto op = static_cast<Op>(p[0]);
        const uint64_t length = op == Op::kFrame ? 9 : 1;
        if (avail < length) goto done;
        AtOpcode(pos, p[0]);
        reader_.SetPos(pos + length);
        absl::Status s;
        switch (op) {
          case Op::kFrame: {
            Operand arg;
            arg.u = Load64(p + 1);
            bool stop = false;
            s = Step(*LookupOpcode(p[0]), arg, &stop);
            break;
          }
          case Op::kReduce: s = DoReduce(); break;
          case Op::kBuild: s = DoBuild(); break;
          default: s = DoNewobj(/*ex=*/false); break;
        }
        in_fast_run_ = true;
        if (ABSL_PREDICT_FALSE(!s.ok())) return s;
        pos = reader_.pos();
        limit = reader_.limit();
        continue;
      }
      // Container opcodes: Step's own code, which checks the fence and
      // reports errors with this opcode's offset.
      case Op::kAppends:
      slow: {
        AtOpcode(pos, p[0]);
        bool stop = false;
        absl::Status s = Step(*LookupOpcode(p[0]), Operand{}, &stop);
        in_fast_run_ = true;
        ++pos;
        if (ABSL_PREDICT_FALSE(!s.ok())) {
          reader_.SetPos(pos);
          return s;
        }
        continue;
      }
      default:
        goto done;
    }
    if (ABSL_PREDICT_FALSE(v == nullptr)) goto done;  // the node limit
    // Every case above made v, took a singleton (None, a bool, a shared
    // small int), or took a memo node while the memo has never held a
    // global flagged unreferenceable (see `get`).
    stack_.PushKnown(v);
    pos += n;
  }
done:
  in_fast_run_ = false;
  reader_.SetPos(pos);
  return absl::OkStatus();
}

absl::Status Machine::Loop() {
  if (reader_.size() > opts_.limits.max_input_bytes) {
    return MakeError(ErrorCode::kLimit, -1, -1,
                     StrCat("input of ", reader_.size(),
                            " bytes exceeds --max-input-bytes (",
                            opts_.limits.max_input_bytes, ")"));
  }
  for (;;) {
    if (opts_.fast_path) PVM_RETURN_IF_ERROR(FastRun());
    op_offset_ = reader_.pos();
    opcode_ = -1;
    reader_.SetOpcode(op_offset_, -1);
    std::string_view code;
    if (reader_.AtEnd()) {
      return Err(ErrorCode::kTruncated,
                 op_offset_ == 0 ? "empty input (no pickle)"
                                 : "pickle data was truncated: no STOP");
    }
    PVM_RETURN_IF_ERROR(reader_.Read(1, &code));
    uint8_t byte = static_cast<uint8_t>(code[0]);
    const OpcodeInfo* info = LookupOpcode(byte);
    if (info == nullptr) {
      return Err(ErrorCode::kUnknownOpcode,
                 StrCat("invalid load key, 0x",
                        absl::Hex(byte, absl::kZeroPad2)));
    }
    opcode_ = byte;
    reader_.SetOpcode(op_offset_, byte);
    Operand arg;
    PVM_RETURN_IF_ERROR(DecodeOperand(reader_, *info, &arg));
    bool stop = false;
    PVM_RETURN_IF_ERROR(Step(*info, arg, &stop));
    if (stop) return absl::OkStatus();
  }
}

// Record mode: a finding for every global the stream named and did not call
// or instantiate.  One in a value position of the finished graph is a
// reference and needs a reference rule; one that was only imported (popped,
// or the stream broke first) is fine if the policy admits it for anything,
// since importing it is all CPython would have done with it.
void Machine::RecordGlobals(bool finished) {
  if (globals_.empty()) return;
  std::vector<Node*> todo, seen;
  SharedRuns runs;
  if (finished && out_.root != nullptr) todo.push_back(out_.root);
  while (!todo.empty()) {
    Node* n = todo.back();
    todo.pop_back();
    if (n->marked()) continue;
    n->Mark();
    seen.push_back(n);
    // Only globals and what has children matter here (MayHaveChildren).
    ForEachChild(n, [&](Node* c) {
      if ((c->kind == Kind::kGlobal || MayHaveChildren(c)) && !c->marked()) {
        todo.push_back(c);
      }
    }, &runs);
  }
  for (Node* g : globals_) {
    // A callable or class is reported by its call; it is a reference too
    // only if it is also a value in the graph.
    if ((g->spare & kGlobalConsumed) && !g->marked()) continue;
    picklevm::Finding f;
    f.global = FindingText(g->a.global->joined);
    f.use = "reference";
    f.offset = g->b().offset;
    f.allowed = g->marked()
                    ? policy_.Find(Named(g), Use::kReference, {}) != nullptr
                    : policy_.AdmitsAny(Named(g));
    out_.findings.push_back(std::move(f));
  }
  for (Node* n : seen) n->Unmark();
}

// Strict mode: every global in a value position must be admitted for
// reference.  Iterative walk; the node's kMarkSeen flag is the visited
// mark, cleared again after, so the emitters start from zero.
absl::Status Machine::CheckReferences() {
  // Only a global the policy does not admit as a value (MakeGlobal flags
  // it) can fail this check, and a value gets into the graph only from the
  // stack.  If every push of such a global was popped again as a callable
  // or class (a model's dtype, _reconstruct and joblib wrapper calls; both
  // counts are 0 in a stream without one, as most object-heavy pickles
  // are), none of them is in a value position, and the walk below could
  // not fail.  The counts are exact (ObjectStack), so a single such global
  // anywhere else -- a container, an argument, a state, the root, or left
  // on the stack -- makes them differ, and the walk runs.
  if (stack_.unreferenceable_pushed() == unreferenceable_called_) {
    return absl::OkStatus();
  }
  std::vector<Node*> todo{out_.root};
  std::vector<Node*> seen;
  SharedRuns runs;
  absl::Status status;
  while (!todo.empty() && status.ok()) {
    Node* n = todo.back();
    todo.pop_back();
    if (n->marked()) continue;
    n->Mark();
    seen.push_back(n);
    if (n->kind == Kind::kGlobal &&
        policy_.Find(Named(n), Use::kReference, {}) == nullptr) {
      status = MakeError(
          ErrorCode::kRefused, static_cast<int64_t>(n->b().offset),
          static_cast<uint8_t>(reader_.data()[n->b().offset]),
          StrCat("global ", Quote(n->a.global->joined),
                       " is not admitted for reference"));
    }
    // Leaves can neither fail nor lead anywhere (MayHaveChildren); they are
    // most of a model's nodes.
    ForEachChild(n, [&](Node* c) {
      if ((c->kind == Kind::kGlobal || MayHaveChildren(c)) && !c->marked()) {
        todo.push_back(c);
      }
    }, &runs);
  }
  for (Node* n : seen) n->Unmark();
  return status;
}

}  // namespace

absl::Status RunPickle(std::string_view input, uint64_t start,
                       const MachineOptions& options, Graph* graph,
                       RunResult* result) {
  // The smaller of the graph's own bound and the options' governs.  (A
  // nested pickle runs on the same input, so it derives the same bound.)
  graph->LimitNodes(options.limits.max_nodes);
  graph->LimitCopiedItems(options.limits.max_copied_items != 0
                              ? options.limits.max_copied_items
                              : DefaultMaxCopiedItems(input.size()));
  graph->LimitBytes(options.limits.max_graph_bytes != 0
                        ? options.limits.max_graph_bytes
                        : DefaultMaxGraphBytes(input.size()));
  // The graph's memory is bounded by a small multiple of the input (the
  // README's bound), but the system may still refuse it (ulimit -v, a
  // container's limit).  That fails this load like a limit does, not the
  // process: std::bad_alloc is the one exception the machine can meet, and
  // it does not leave this function.  What was built stays consistent (the
  // graph and the containers allocate before they change anything) and is
  // freed with the graph.
  // The graph's own budget (--max-graph-bytes) is met the same way: the
  // arena throws where it would take the block past it.
  std::optional<Machine> m;
  try {
    m.emplace(input, start, options, graph, result);
    return m->Run();
  } catch (const ArenaBudgetExceeded&) {
    return MakeError(ErrorCode::kLimit, m ? m->op_offset() : -1,
                     m ? m->opcode() : -1, GraphBytesMessage(*graph));
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kLimit, m ? m->op_offset() : -1,
                     m ? m->opcode() : -1,
                     "out of memory: the system refused the graph more memory");
  }
}

}  // namespace picklevm
