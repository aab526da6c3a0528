#include "vm/emit/json.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/base/attributes.h"
#include "absl/strings/escaping.h"
#include "vm/base/strcat.h"
#include "vm/base/error.h"
#include "vm/base/sha256.h"
#include "vm/graph/numpy_values.h"
#include "vm/graph/walk.h"
#include "vm/text/strings.h"

namespace picklevm {
namespace {

// The children of a node in value positions, indexable so the traversals
// can keep (node, index) frames instead of recursing.
struct RecordLayout {
  uint32_t callable, args, kwargs, state, items, dictitems;  // counts
  explicit RecordLayout(const Node* n) {
    const Record* r = n->a.rec;
    callable = (n->kind == Kind::kCall &&
                r->callable->kind != Kind::kGlobal) ? 1 : 0;
    args = r->args.size;
    kwargs = r->kwargs ? r->kwargs_size : 0;
    state = r->state ? 1 : 0;
    items = r->items.size;
    dictitems = r->dictitems.size() * 2;
  }
  uint32_t total() const {
    return callable + args + kwargs + state + items + dictitems;
  }
};

uint32_t ChildCount(const Node* n) {
  switch (n->kind) {
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kSlice:
      return n->size();
    case Kind::kDict:
      return n->a.dict->size() * 2;
    case Kind::kSet:
    case Kind::kFrozenSet:
      return n->a.set->items.size;
    case Kind::kObject:
    case Kind::kCall:
      return RecordLayout(n).total();
    case Kind::kPersId:
      return 1;
    case Kind::kNDArray:
      return static_cast<uint32_t>(n->a.array->item_count);
    default:
      return 0;
  }
}

Node* ChildAt(const Node* n, uint32_t i) {
  switch (n->kind) {
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kSlice:
      return n->at(i);
    case Kind::kDict: {
      Entry e = n->a.dict->entry(i / 2);
      return i % 2 ? e.value : e.key;
    }
    case Kind::kSet:
    case Kind::kFrozenSet:
      return n->a.set->items[i];
    case Kind::kObject:
    case Kind::kCall: {
      RecordLayout l(n);
      const Record* r = n->a.rec;
      if (i < l.callable) return r->callable;
      i -= l.callable;
      if (i < l.args) return r->args[i];
      i -= l.args;
      if (i < l.kwargs) return r->kwargs->a.dict->value(i);
      i -= l.kwargs;
      if (i < l.state) return r->state;
      i -= l.state;
      if (i < l.items) return r->items[i];
      i -= l.items;
      Entry e = r->dictitems.entry(i / 2);
      return i % 2 ? e.value : e.key;
    }
    case Kind::kPersId:
      return n->a.target;
    case Kind::kNDArray:
      return n->a.array->items[i];
    default:
      return nullptr;
  }
}

bool IsObjectArray(const Node* n) {
  return n->kind == Kind::kNDArray && n->a.array->dtype->a.dtype->kind == 'O';
}

// {"$ndarray":{"dtype":...,"shape":[...],"order":"C" -- the common head.
void AppendArrayHead(const ArrayInfo& a, std::string* out) {
  out->append("{\"$ndarray\":{\"dtype\":");
  AppendDtypeJson(*a.dtype->a.dtype, out);
  out->append(",\"shape\":[");
  for (uint32_t i = 0; i < a.shape.size; ++i) {
    if (i) out->push_back(',');
    StrAppend(out, a.shape[i]);
  }
  out->append(a.fortran ? "],\"order\":\"F\"" : "],\"order\":\"C\"");
}

void AppendArrayTail(const ArrayInfo& a, std::string* out) {
  if (a.subclass != nullptr) {
    out->append(",\"subclass\":");
    AppendJsonString(a.subclass->joined, out);
  }
  out->append("}}");
}

// A dict is a JSON object when every key is a str written as a JSON string
// that does not start with '$'.
bool PlainDict(const DictBody* d) {
  for (Entry e : d->items()) {
    if (e.key->kind != Kind::kStr || e.key->has_surrogates()) return false;
    std::string_view k = e.key->str();
    if (!k.empty() && k[0] == '$') return false;
  }
  return true;
}

void AppendBase64(std::string_view data, std::string* out) {
  out->push_back('"');
  std::string b64;
  absl::Base64Escape(ToAbsl(data), &b64);
  out->append(b64);
  out->push_back('"');
}

void AppendStrValue(const Node* n, std::string* out) {
  if (!n->has_surrogates()) {
    AppendJsonString(n->str(), out);
    return;
  }
  out->append("{\"$str\":[");
  std::string_view s = n->str();
  for (size_t i = 0; i < s.size();) {
    if (i) out->push_back(',');
    StrAppend(out, NextCodePoint(s, &i));
  }
  out->append("]}");
}

// Scalars and leaves: written whole.
void AppendLeaf(const Node* n, const EmitOptions& options, std::string* out) {
  switch (n->kind) {
    case Kind::kNone:
      out->append("null");
      break;
    case Kind::kBool:
      out->append(n->a.i ? "true" : "false");
      break;
    case Kind::kInt: {
      int64_t v = n->a.i;
      constexpr int64_t kLimit = int64_t{1} << 53;
      if (v > -kLimit && v < kLimit) {
        StrAppend(out, v);
      } else {
        StrAppend(out, "{\"$int\":\"", v, "\"}");
      }
      break;
    }
    case Kind::kBigInt:
      StrAppend(out, "{\"$int\":\"", n->str(), "\"}");
      break;
    case Kind::kFloat:
      AppendFloat(n->a.f, out);
      break;
    case Kind::kComplex:
      out->append("{\"$complex\":[");
      AppendFloat(n->a.f, out);
      out->push_back(',');
      AppendFloat(n->b().f, out);
      out->append("]}");
      break;
    case Kind::kStr:
      AppendStrValue(n, out);
      break;
    case Kind::kBytes:
      out->append("{\"$bytes\":");
      AppendBase64(n->str(), out);
      out->push_back('}');
      break;
    case Kind::kByteArray:
      out->append("{\"$bytearray\":");
      AppendBase64(n->str(), out);
      out->push_back('}');
      break;
    case Kind::kGlobal:
      out->append("{\"$global\":");
      AppendJsonString(n->a.global->joined, out);
      out->push_back('}');
      break;
    case Kind::kExt:
      StrAppend(out, "{\"$ext\":", n->a.i, "}");
      break;
    case Kind::kDtype:
      out->append("{\"$dtype\":");
      AppendDtypeJson(*n->a.dtype, out);
      out->push_back('}');
      break;
    case Kind::kScalar: {
      const ScalarInfo& sc = *n->a.scalar;
      out->append("{\"$scalar\":{\"dtype\":");
      AppendDtypeJson(*sc.dtype->a.dtype, out);
      out->append(",\"data\":");
      AppendBase64(sc.data, out);
      WideNode wide_number(Kind::kNone);  // ScalarNumber may make a complex
      Node& number = wide_number.node;
      std::string storage;
      if (ScalarNumber(sc, &number, &storage)) {
        out->append(",\"value\":");
        AppendLeaf(&number, options, out);
      }
      out->append("}}");
      break;
    }
    case Kind::kNDArray: {
      const ArrayInfo& a = *n->a.array;
      AppendArrayHead(a, out);
      StrAppend(out, ",\"data\":{\"nbytes\":", a.data.size(),
                ",\"sha256\":\"", options.digests->Get(a.data), "\"");
      if (options.arrays == EmitOptions::Arrays::kInline) {
        out->append(",\"base64\":");
        AppendBase64(a.data, out);
      } else if (options.arrays == EmitOptions::Arrays::kFiles &&
                 options.write_array) {
        out->append(",\"file\":");
        AppendJsonString(options.write_array(a), out);
      }
      out->push_back('}');
      AppendArrayTail(a, out);
      break;
    }
    default:
      break;
  }
}

}  // namespace

const std::string& ArrayDigests::Get(std::string_view data) {
  auto [it, fresh] = map_.try_emplace({data.data(), data.size()});
  if (fresh) it->second = Sha256Hex(data);
  return it->second;
}

namespace {

// Containers get a frame; everything else is written whole.
bool IsLeaf(const Node* n) {
  switch (n->kind) {
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kDict:
    case Kind::kSet:
    case Kind::kFrozenSet:
    case Kind::kSlice:
    case Kind::kObject:
    case Kind::kCall:
    case Kind::kPersId:
      return false;
    case Kind::kNDArray:
      return !IsObjectArray(n);
    default:
      return true;
  }
}

void AppendVia(const Record* r, std::string* out) {
  out->append(r->via == Via::kNew ? "\"new\"" : "\"call\"");
}

// Writes the literal text due before step `s` of a container's encoding and
// returns the child to write at that step, or nullptr after writing the
// closing text.  Steps run 0..ChildCount(n).
Node* EmitStep(const Node* n, uint32_t s, bool plain_dict, std::string* out) {
  switch (n->kind) {
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kSet:
    case Kind::kFrozenSet:
    case Kind::kSlice: {
      const char* open = n->kind == Kind::kList        ? "["
                         : n->kind == Kind::kTuple     ? "{\"$tuple\":["
                         : n->kind == Kind::kSet       ? "{\"$set\":["
                         : n->kind == Kind::kFrozenSet ? "{\"$frozenset\":["
                                                       : "{\"$slice\":[";
      uint32_t size = ChildCount(n);
      if (s == 0) out->append(open);
      if (s < size) {
        if (s) out->push_back(',');
        return ChildAt(n, s);
      }
      out->append(n->kind == Kind::kList ? "]" : "]}");
      return nullptr;
    }
    case Kind::kDict: {
      uint32_t entries = n->a.dict->size();
      if (plain_dict) {
        // Object form: keys are written as text, values as children.
        if (s < entries) {
          out->push_back(s == 0 ? '{' : ',');
          AppendJsonString(n->a.dict->key(s)->str(), out);
          out->push_back(':');
          return n->a.dict->value(s);
        }
        out->append(entries == 0 ? "{}" : "}");
        return nullptr;
      }
      if (s < entries * 2) {
        if (s % 2 == 0) {
          out->append(s == 0 ? "{\"$dict\":[[" : "],[");
        } else {
          out->push_back(',');
        }
        return ChildAt(n, s);
      }
      out->append(entries == 0 ? "{\"$dict\":[]}" : "]]}");
      return nullptr;
    }
    case Kind::kNDArray: {
      const ArrayInfo& a = *n->a.array;
      if (s == 0) {
        AppendArrayHead(a, out);
        out->append(",\"items\":[");
      }
      if (s < a.item_count) {
        if (s) out->push_back(',');
        return a.items[s];
      }
      out->push_back(']');
      AppendArrayTail(a, out);
      return nullptr;
    }
    case Kind::kPersId:
      if (s == 0) {
        out->append("{\"$persid\":");
        return n->a.target;
      }
      out->push_back('}');
      return nullptr;
    case Kind::kObject:
    case Kind::kCall: {
      const Record* r = n->a.rec;
      RecordLayout l(n);
      bool is_call = n->kind == Kind::kCall;
      uint32_t i = s;
      if (s == 0) {
        out->append(is_call ? "{\"$call\":{\"callable\":"
                            : "{\"$object\":{\"class\":");
        if (l.callable) return r->callable;
      }
      if (s == 0 || (l.callable && s == 1)) {
        if (r->callable->kind == Kind::kGlobal) {
          AppendJsonString(r->callable->a.global->joined, out);
        }
        if (!is_call) {
          out->append(",\"via\":");
          AppendVia(r, out);
        }
      }
      i -= l.callable;
      // args: always present for $call, omitted when empty for $object.
      if (i < l.args) {
        out->append(i == 0 ? ",\"args\":[" : ",");
        return r->args[i];
      }
      if (i == l.args && (l.args || is_call)) {
        out->append(l.args ? "]" : ",\"args\":[]");
      }
      i -= l.args;
      if (i < l.kwargs) {
        out->append(i == 0 ? ",\"kwargs\":{" : ",");
        AppendJsonString(r->kwargs->a.dict->key(i)->str(), out);
        out->push_back(':');
        return r->kwargs->a.dict->value(i);
      }
      if (i == l.kwargs && (l.kwargs || is_call)) {
        out->append(l.kwargs ? "}" : ",\"kwargs\":{}");
      }
      i -= l.kwargs;
      if (i < l.state) {
        out->append(",\"state\":");
        return r->state;
      }
      i -= l.state;
      if (i < l.items) {
        out->append(i == 0 ? ",\"items\":[" : ",");
        return r->items[i];
      }
      if (i == l.items && l.items) out->push_back(']');
      i -= l.items;
      if (i < l.dictitems) {
        if (i % 2 == 0) {
          out->append(i == 0 ? ",\"dictitems\":[[" : "],[");
        } else {
          out->push_back(',');
        }
        Entry e = r->dictitems.entry(i / 2);
        return i % 2 ? e.value : e.key;
      }
      if (l.dictitems) out->append("]]");
      if (is_call) StrAppend(out, ",\"offset\":", r->offset);
      out->append("}}");
      return nullptr;
    }
    default:
      return nullptr;
  }
}

}  // namespace

uint64_t JsonEncoder::DtypeEstimate(const DtypeInfo* d) {
  // Written out in full wherever it appears: its JSON's length, found once.
  auto [it, fresh] = dtype_sizes_.try_emplace(d, 0);
  if (fresh) {
    std::string text;
    AppendDtypeJson(*d, &text);
    it->second = text.size();
  }
  return it->second;
}

uint64_t JsonEncoder::KeyEstimate(const Node* key) {
  // A keyword's name is written as a JSON string (EmitStep), never in the
  // {"$str":[...]} form a value with a lone surrogate takes, which is
  // shorter for control characters: measured as such, once per key node
  // when long (a stream can name one keywords dict from any number of
  // calls).
  const uint64_t n = key->b().n;
  if (n < 22) return 2 + 6 * n;
  auto [it, fresh] = key_sizes_.try_emplace(key, 0);
  if (fresh) {
    std::string text;
    AppendJsonString(key->str(), &text);
    it->second = text.size();
  }
  return it->second;
}

uint64_t JsonEncoder::OtherEstimate(const Node* n) {
  // Close to what AppendLeaf writes, never below it: a limit that refused
  // ordinary documents would be worse than none.  A text whose longest
  // form passes kMeasured bytes is measured (once per node: a stream may
  // name it from millions of places); a shorter one is reckoned at its
  // longest form, at most 64 times the 2-byte BINGET that names it again.
  constexpr uint64_t kMeasured = 128;
  auto base64 = [](uint64_t bytes) { return (bytes + 2) / 3 * 4 + 2; };
  auto measured = [&](const Node* t, uint64_t bound) -> uint64_t {
    if (bound < kMeasured) return bound;
    auto [it, fresh] = text_sizes_.try_emplace(t, 0);
    if (fresh) {
      std::string text;
      AppendLeaf(t, options_, &text);
      it->second = text.size();
    }
    return it->second;
  };
  switch (n->kind) {
    case Kind::kExt:
      return 32;
    case Kind::kComplex:
      return 64;
    case Kind::kBigInt:
      return 12 + uint64_t{n->b().n};
    case Kind::kStr:  // escaped, or {"$str":[code points]}
      return measured(n, 12 + 8 * uint64_t{n->b().n});
    case Kind::kBytes:
    case Kind::kByteArray:
      return 16 + base64(n->b().n);
    case Kind::kGlobal:
      return measured(n, 16 + 6 * n->a.global->joined.size());
    case Kind::kDtype:
      return 16 + DtypeEstimate(n->a.dtype);
    case Kind::kScalar: {
      const ScalarInfo& sc = *n->a.scalar;
      return 128 + DtypeEstimate(sc.dtype->a.dtype) + base64(sc.data.size());
    }
    case Kind::kNDArray: {
      const ArrayInfo& a = *n->a.array;
      uint64_t e = 256 + DtypeEstimate(a.dtype->a.dtype) +
                   24 * uint64_t{a.shape.size};
      if (a.subclass != nullptr) e += 6 * a.subclass->joined.size();
      if (options_.arrays == EmitOptions::Arrays::kInline && a.items == nullptr) {
        e += base64(a.data.size());
      }
      return e;
    }
    case Kind::kObject:
    case Kind::kCall: {
      // Its keys and braces ($call's five, 20 digits of offset, a $id),
      // and two texts that are not children: a callable that is a name,
      // and the keywords' names.
      const Record* r = n->a.rec;
      uint64_t e = 192;
      if (r->callable->kind == Kind::kGlobal) e += LeafEstimate(r->callable);
      for (uint32_t i = 0; r->kwargs != nullptr && i < r->kwargs_size; ++i) {
        e += KeyEstimate(r->kwargs->a.dict->key(i));
      }
      return e;
    }
    default:
      return 64;  // a set's, a slice's or a persistent id's keys, a $id
  }
}

// The commonest kinds, inline: the first pass reckons every node (a call
// per node made it 60% dearer on a million records).
inline uint64_t JsonEncoder::LeafEstimate(const Node* n) {
  switch (n->kind) {
    case Kind::kNone:
    case Kind::kBool:
      return 5;
    case Kind::kInt: {  // its digits, or {"$int":"..."} past 2^53
      const int64_t v = n->a.i;
      if (v > -1000 && v < 1000) return 4;
      return v > -(int64_t{1} << 53) && v < (int64_t{1} << 53) ? 17 : 32;
    }
    case Kind::kFloat:  // "-2.2250738585072014e-308"
      return 24;
    case Kind::kStr:  // escaped (6 bytes a byte), or {"$str":[...]}
      if (n->b().n < 14) return 12 + 8 * uint64_t{n->b().n};
      break;
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kDict:
      return 64;  // its own keys and braces, and a $id
    default:
      break;
  }
  return OtherEstimate(n);
}

absl::Status JsonEncoder::Prepare(const std::vector<Node*>& roots,
                                  uint64_t max_depth) {
  struct Frame {
    Node* node;
    uint32_t next;
    uint32_t count;
  };
  std::vector<Frame> stack;
  for (Node* root : roots) {
    // Every value is visited once per place it is written at (a shared
    // container's later places are a $ref), so the estimate is the
    // document's size, texts reckoned at their longest.  Inlined: it runs
    // for every child.
    auto visit = [&](Node* n) ABSL_ATTRIBUTE_ALWAYS_INLINE {
      // Scalars, strs and globals are never wrapped and have no children
      // (most nodes of an object-heavy graph).
      if (!IsWrappable(n)) {
        estimate_ += LeafEstimate(n);
        return;
      }
      if (n->marked()) {
        n->flags |= kMarkShared;
        estimate_ += 32;  // {"$ref":N}
        return;
      }
      n->Mark();
      seen_.push_back(n);
      // Its own text (a record's class, via, ...) and, per item, [k,v]
      // and commas.
      const uint32_t count = ChildCount(n);
      estimate_ += LeafEstimate(n) + 8 * uint64_t{count};
      stack.push_back({n, 0, count});
    };
    visit(root);
    while (!stack.empty()) {
      if (stack.size() > max_depth) {
        return MakeError(ErrorCode::kLimit, -1, -1,
                         StrCat("graph nesting exceeds --max-depth (",
                                      max_depth, ")"));
      }
      Frame& f = stack.back();
      if (f.next == f.count) {
        stack.pop_back();
        continue;
      }
      visit(ChildAt(f.node, f.next++));
      if (ABSL_PREDICT_FALSE(estimate_ > options_.max_output_bytes)) break;
    }
    if (estimate_ > options_.max_output_bytes) break;
  }
  if (estimate_ > options_.max_output_bytes) {
    return MakeError(ErrorCode::kLimit, -1, -1,
                     StrCat("the document would exceed --max-output-bytes (",
                            options_.max_output_bytes, "): ", estimate_,
                            " bytes or more"));
  }
  return absl::OkStatus();
}

void JsonEncoder::Write(Node* root, OutBuffer* out) {
  struct Frame {
    Node* node;
    uint32_t step;
    bool wrapped;
    bool plain_dict;
  };
  std::vector<Frame> stack;
  std::string* s = &out->data;
  // Writes the start of a value; returns true when it needs a frame.
  auto begin = [&](Node* n) {
    if ((n->flags & kMarkShared) && IsWrappable(n)) {
      auto [it, fresh] =
          ids_.try_emplace(n, static_cast<uint32_t>(ids_.size()));
      if (!fresh) {
        StrAppend(s, "{\"$ref\":", it->second, "}");
        return;
      }
      StrAppend(s, "{\"$id\":", it->second, ",\"$value\":");
      if (IsLeaf(n)) {
        AppendLeaf(n, options_, s);
        s->push_back('}');
        return;
      }
      stack.push_back({n, 0, true, n->kind == Kind::kDict &&
                                       PlainDict(n->a.dict)});
      return;
    }
    if (IsLeaf(n)) {
      AppendLeaf(n, options_, s);
      return;
    }
    stack.push_back({n, 0, false,
                     n->kind == Kind::kDict && PlainDict(n->a.dict)});
  };
  begin(root);
  while (!stack.empty()) {
    Frame& f = stack.back();
    Node* child = EmitStep(f.node, f.step++, f.plain_dict, s);
    if (child == nullptr) {
      if (f.wrapped) s->push_back('}');
      stack.pop_back();
      out->MaybeFlush();
      continue;
    }
    begin(child);
    out->MaybeFlush();
  }
}

JsonEncoder::~JsonEncoder() {
  for (Node* n : seen_) n->Unmark();
}

}  // namespace picklevm
