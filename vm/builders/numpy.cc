#include "vm/builders/numpy.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "vm/base/strcat.h"
#include "vm/graph/numpy_values.h"
#include "vm/text/strings.h"

namespace picklevm {
namespace {

// The most dimensions an array's shape may have (see ParseShape).
constexpr uint32_t kMaxDims = 64;

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

bool IsInt(const Node* n) { return n->kind == Kind::kInt || n->kind == Kind::kBool; }

// A tuple of non-negative ints into a shape; the element product times
// `itemsize` must not overflow 2^63 (numpy's own bound on array size).
bool ParseShape(const Node* t, Graph& g, ArenaVec<uint64_t>* shape,
                uint64_t itemsize, uint64_t* nbytes, uint64_t* count,
                std::string* why) {
  if (t->kind != Kind::kTuple) {
    *why = "shape is not a tuple";
    return false;
  }
  // numpy's own bound (NPY_MAXDIMS: 64 since numpy 2, 32 before).  Each
  // array copies its shape, and a stream may name one memoized tuple from
  // any number of arrays: unbounded, a tuple of a million dimensions would
  // cost memory quadratic in the input.
  const uint32_t dims = t->size();
  if (dims > kMaxDims) {
    *why = StrCat("shape has ", dims, " dimensions; numpy allows at most ",
                  kMaxDims);
    return false;
  }
  // Every dimension is checked before anything is allocated: record mode
  // goes on after a bad shape, and a failed check must cost no memory.
  uint64_t n = 1;
  for (uint32_t i = 0; i < dims; ++i) {
    const Node* d = t->at(i);
    if (!IsInt(d) || d->a.i < 0) {
      *why = "shape holds something other than a non-negative int";
      return false;
    }
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d->a.i), &n) ||
        n > (uint64_t{1} << 62)) {
      *why = "shape's element count overflows";
      return false;
    }
  }
  uint64_t bytes;
  if (__builtin_mul_overflow(n, itemsize, &bytes) || bytes > (uint64_t{1} << 62)) {
    *why = "array size overflows";
    return false;
  }
  if (!shape->Reserve(g.arena(), uint64_t{shape->size} + dims)) {
    *why = "shape has too many dimensions";
    return false;
  }
  for (uint32_t i = 0; i < dims; ++i) {
    shape->data[shape->size++] = static_cast<uint64_t>(t->at(i)->a.i);
  }
  *count = n;
  *nbytes = bytes;
  return true;
}

// "f8", "U3", "M8", "O8", "V16", "S0" ... as dtype.str[1:] writes them.
bool ParseTypeStr(std::string_view s, DtypeInfo* d) {
  if (s.empty()) return false;
  char kind = s[0];
  std::string_view digits = s.substr(1);
  if (kind == 'a') kind = 'S';  // legacy alias
  uint64_t n = 0;
  if (digits.empty()) {
    if (kind != 'O' && kind != 'M' && kind != 'm' && kind != 'S' &&
        kind != 'U' && kind != 'V') {
      return false;
    }
  } else {
    if (digits.size() > 12) return false;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
  }
  d->kind = kind;
  switch (kind) {
    case 'b':
      if (n != 1) return false;
      break;
    case 'i':
    case 'u':
      if (n != 1 && n != 2 && n != 4 && n != 8) return false;
      break;
    case 'f':
      if (n != 2 && n != 4 && n != 8 && n != 16) return false;
      break;
    case 'c':
      if (n != 8 && n != 16 && n != 32) return false;
      break;
    case 'O':
      if (!digits.empty() && n != 8) return false;
      n = 8;
      break;
    case 'M':
    case 'm':
      if (!digits.empty() && n != 8) return false;
      n = 8;
      break;
    case 'S':
    case 'V':
      break;
    case 'U':
      if (__builtin_mul_overflow(n, uint64_t{4}, &n)) return false;
      break;
    default:
      return false;
  }
  d->itemsize = n;
  // Native order until a BUILD says otherwise (picklevm models a
  // little-endian host; numpy's pickles always spell the order out).
  d->byteorder = DtypeOrderFree(*d) ? '|' : '<';
  return true;
}

bool AsTupleItems(const Node* n, uint32_t want, std::string* why,
                  const char* what) {
  if (n->kind != Kind::kTuple || n->size() != want) {
    *why = StrCat(what, " is not a ", want, "-tuple");
    return false;
  }
  return true;
}

// numpy.dtype(...) + BUILD also accepts a dtype whose __setstate__ never
// ran; these fill in what the BUILD would have.
DtypeInfo* NewDtypeInfo(Graph& g) { return g.arena().New<DtypeInfo>(); }

Node* NewDtypeNode(Graph& g, DtypeInfo* info) {
  Node* n = g.NewNodeOfKind(Kind::kDtype);
  if (n) n->a.dtype = info;
  return n;
}

}  // namespace

bool ArrayByteSize(Graph& g, const Node* shape_tuple, const Node* dtype,
                   ArenaVec<uint64_t>* shape, uint64_t* nbytes,
                   std::string* why) {
  uint64_t count;
  return ParseShape(shape_tuple, g, shape, dtype->a.dtype->itemsize, nbytes,
                    &count, why);
}

BuildResult BuildDtype(Graph& g, absl::Span<Node* const> args) {
  if (args.size() != 3 || args[0]->kind != Kind::kStr ||
      args[1]->kind != Kind::kBool || args[2]->kind != Kind::kBool) {
    return Constraint("expects (str, bool, bool)");
  }
  DtypeInfo* d = NewDtypeInfo(g);
  if (!ParseTypeStr(args[0]->str(), d)) {
    return Constraint(StrCat("unknown dtype '", args[0]->str(), "'"));
  }
  return Built(NewDtypeNode(g, d));
}

BuildResult::Outcome ApplyDtypeState(Graph& g, Node* node, Node* state,
                                     std::string* why) {
  constexpr BuildResult::Outcome kMalformed = BuildResult::kConstraint;
  DtypeInfo* d = node->a.dtype;
  if (state->kind != Kind::kTuple || state->size() < 8 || state->size() > 9 ||
      !IsInt(state->at(0))) {
    *why = "dtype state is not numpy's (version, byteorder, ...) tuple";
    return kMalformed;
  }
  int64_t version = state->at(0)->a.i;
  if ((version == 3 && state->size() != 8) ||
      (version == 4 && state->size() != 9) || version < 3 || version > 4) {
    *why = StrCat("unsupported dtype state version ", version);
    return kMalformed;
  }
  Node* order = state->at(1);
  if (order->kind != Kind::kStr || order->str().size() != 1 ||
      std::string_view("<>|=").find(order->str()[0]) == std::string_view::npos) {
    *why = "dtype byte order is not one of < > | =";
    return kMalformed;
  }
  char bo = order->str()[0];
  uint64_t charged = 0;  // copies counted so far (the fields)
  if (bo == '=') bo = '<';
  Node* sub = state->at(2);
  Node* names = state->at(3);
  Node* fields = state->at(4);
  Node* elsize = state->at(5);
  Node* flags = state->at(7);
  if (!IsInt(elsize) || !IsInt(state->at(6)) || !IsInt(flags)) {
    *why = "dtype state's sizes and flags must be ints";
    return kMalformed;
  }
  if (elsize->a.i > 0) {
    if (d->kind != 'V' && d->kind != 'S' && d->kind != 'U') {
      *why = "dtype state sets an element size on a fixed-size type";
      return kMalformed;
    }
    d->itemsize = static_cast<uint64_t>(elsize->a.i);
  }
  if (sub->kind != Kind::kNone) {
    if (!AsTupleItems(sub, 2, why, "subarray")) return kMalformed;
    Node* base = sub->at(0);
    if (base->kind != Kind::kDtype) {
      *why = "subarray base is not a dtype";
      return kMalformed;
    }
    uint64_t nbytes, count;
    if (!ParseShape(sub->at(1), g, &d->sub_shape, base->a.dtype->itemsize,
                    &nbytes, &count, why)) {
      return kMalformed;
    }
    d->subarray = true;
    d->sub_base = base;
    d->depth = static_cast<uint16_t>(base->a.dtype->depth + 1);
    d->expanded = SaturatingAdd(d->expanded, base->a.dtype->expanded);
    if (nbytes != d->itemsize) {
      *why = "subarray size disagrees with the element size";
      return kMalformed;
    }
  }
  if (names->kind != Kind::kNone || fields->kind != Kind::kNone) {
    if (names->kind != Kind::kTuple || fields->kind != Kind::kDict) {
      *why = "structured dtype needs a names tuple and a fields dict";
      return kMalformed;
    }
    const DictBody* fd = fields->a.dict;
    // Each dtype keeps its own copy of the fields, and one memoized names
    // tuple may be every dtype's: bounded as copies (Graph::ChargeCopies).
    if (!g.ChargeCopies(names->size())) return BuildResult::kCopyLimit;
    charged = names->size();
    d->fields.Reserve(g.arena(), names->size());  // < 2^32: cannot fail
    // numpy keeps this dict as dtype.fields: a later SETITEM on it would
    // change the dtype in Python, and the copy made below would not see it
    // (the machine refuses or flags such a SETITEM: kConsumed).
    fields->flags |= kConsumed;
    for (uint32_t i = 0; i < names->size(); ++i) {
      Node* name = names->at(i);
      if (name->kind != Kind::kStr || name->has_surrogates()) {
        *why = "field name is not a str";
        return kMalformed;
      }
      // A hash probe, not a scan of the fields: a scan per name made a
      // 60,000-field dtype take seconds.  A str name finds only a str key
      // of the same text (their canonical ids).
      int64_t at = -1;
      if (g.DictFind(fd, name, &at) != GraphErr::kOk) at = -1;
      Node* spec = at >= 0 ? fd->value(static_cast<uint32_t>(at)) : nullptr;
      if (spec == nullptr || spec->kind != Kind::kTuple || spec->size() < 2 ||
          spec->size() > 3 || spec->at(0)->kind != Kind::kDtype ||
          !IsInt(spec->at(1)) || spec->at(1)->a.i < 0) {
        *why = StrCat("field '", name->str(), "' has no (dtype, offset) entry");
        return kMalformed;
      }
      uint64_t offset = static_cast<uint64_t>(spec->at(1)->a.i);
      uint64_t size = spec->at(0)->a.dtype->itemsize;
      if (offset > d->itemsize || size > d->itemsize - offset) {
        *why = StrCat("field '", name->str(), "' lies outside the item");
        return kMalformed;
      }
      Node* title = spec->size() == 3 && spec->at(2)->kind != Kind::kNone
                        ? spec->at(2)
                        : nullptr;
      if (title != nullptr &&
          (title->kind != Kind::kStr || title->has_surrogates())) {
        // Written as a JSON string: only a str title is accepted.
        *why = StrCat("field '", name->str(), "' has a title that is not a str");
        return kMalformed;
      }
      d->fields.push_back(g.arena(),
                          DtypeField{name->str(), title, spec->at(0), offset});
      d->depth = std::max<uint16_t>(
          d->depth, static_cast<uint16_t>(spec->at(0)->a.dtype->depth + 1));
      d->expanded = SaturatingAdd(d->expanded, spec->at(0)->a.dtype->expanded);
    }
    d->structured = true;
    d->aligned = (static_cast<uint64_t>(flags->a.i) & 0x80) != 0;
  }
  if (version == 4) {
    // (metadata, (unit, count, den, events)) for datetimes, else metadata.
    Node* extra = state->at(8);
    if (extra->kind == Kind::kTuple && extra->size() == 2 &&
        extra->at(1)->kind == Kind::kTuple) {
      Node* dt = extra->at(1);
      if ((d->kind != 'M' && d->kind != 'm') || dt->size() != 4 ||
          dt->at(0)->kind != Kind::kBytes || !IsInt(dt->at(1)) ||
          dt->at(1)->a.i <= 0) {
        *why = "bad datetime unit in dtype state";
        return kMalformed;
      }
      static const char* kUnits[] = {"Y", "M", "W", "D", "h", "m", "s", "ms",
                                     "us", "ns", "ps", "fs", "as", "generic"};
      std::string_view unit = dt->at(0)->str();
      bool known = false;
      for (const char* u : kUnits) known |= unit == u;
      if (!known) {
        *why = StrCat("unknown datetime unit '", unit, "'");
        return kMalformed;
      }
      d->unit = unit == "generic" ? std::string_view() : unit;
      d->unit_count = static_cast<uint64_t>(dt->at(1)->a.i);
    }
  }
  if (d->depth > kMaxDtypeDepth) {
    *why = StrCat("dtype nests deeper than ", kMaxDtypeDepth, " levels");
    return kMalformed;
  }
  // The nested dtypes the graph writes out in full (and hashes, as a dict
  // key) are copies too: a dtype whose two fields both name the previous
  // level's, 24 levels deep, is a 1.6 KB stream and 16 million dtypes
  // written (1.1 GB).  One per field was counted with the names.
  if (!g.ChargeCopies(d->expanded - 1 - charged)) {
    return BuildResult::kCopyLimit;
  }
  d->byteorder = DtypeOrderFree(*d) ? '|' : bo;
  d->built = true;
  return BuildResult::kBuilt;
}

BuildResult BuildNdarrayReconstruct(Graph& g, absl::Span<Node* const> args) {
  // numpy writes _reconstruct(cls, (0,), b'b'); the real content comes with
  // the BUILD that follows.
  if (args.size() != 3 || args[0]->kind != Kind::kGlobal ||
      args[1]->kind != Kind::kTuple ||
      (args[2]->kind != Kind::kBytes && args[2]->kind != Kind::kStr)) {
    return Constraint("expects (ndarray class, shape tuple, typecode)");
  }
  Node* n = g.NewNodeOfKind(Kind::kNDArray);
  if (n == nullptr) return Built(nullptr);
  ArrayInfo* a = g.arena().New<ArrayInfo>();
  if (args[0]->a.global->joined != "numpy:ndarray") {
    a->subclass = args[0]->a.global;
  }
  // Until BUILD: an empty int8 array, as numpy's placeholder is.
  DtypeInfo* d = NewDtypeInfo(g);
  d->kind = 'i';
  d->itemsize = 1;
  d->byteorder = '|';
  a->dtype = NewDtypeNode(g, d);
  if (a->dtype == nullptr) return Built(nullptr);
  a->shape.push_back(g.arena(), 0);
  n->a.array = a;
  return Built(n);
}

namespace {

// The data bytes of an array state: bytes, bytearray, or (protocol 2 from
// Python 2) a str holding Latin-1 bytes.
bool DataBytes(Graph& g, Node* data, std::string_view* out) {
  if (data->kind == Kind::kBytes || data->kind == Kind::kByteArray) {
    *out = data->str();
    return true;
  }
  if (data->kind == Kind::kStr) return g.Latin1Bytes(data, out);
  return false;
}

}  // namespace

bool ApplyNdarrayState(Graph& g, Node* node, Node* state, std::string* why) {
  ArrayInfo* a = node->a.array;
  if (state->kind != Kind::kTuple || state->size() != 5 ||
      !IsInt(state->at(0)) || state->at(0)->a.i != 1) {
    *why = "ndarray state is not numpy's (1, shape, dtype, fortran, data)";
    return false;
  }
  Node* dtype = state->at(2);
  Node* fortran = state->at(3);
  Node* data = state->at(4);
  if (dtype->kind != Kind::kDtype || fortran->kind != Kind::kBool) {
    *why = "ndarray state needs a dtype and a bool";
    return false;
  }
  ArenaVec<uint64_t> shape;
  uint64_t nbytes, count;
  if (!ParseShape(state->at(1), g, &shape, dtype->a.dtype->itemsize, &nbytes,
                  &count, why)) {
    return false;
  }
  a->dtype = dtype;
  a->shape = shape;
  a->fortran = fortran->a.i != 0;
  a->built = true;
  if (dtype->a.dtype->kind == 'O') {
    if (data->kind != Kind::kList || data->size() != count) {
      *why = StrCat("object array of ", count, " elements needs a list of ",
                    count, " items");
      return false;
    }
    a->items = data->a.items;
    a->item_count = count;
    return true;
  }
  std::string_view bytes;
  if (!DataBytes(g, data, &bytes)) {
    *why = "ndarray data is not bytes";
    return false;
  }
  if (bytes.size() != nbytes) {
    *why = StrCat("ndarray data has ", bytes.size(), " bytes, shape and dtype "
                  "need ", nbytes);
    return false;
  }
  a->data = bytes;
  return true;
}

BuildResult BuildNdarrayFrombuffer(Graph& g, absl::Span<Node* const> args) {
  // _frombuffer(buffer, dtype, shape, order)
  if (args.size() != 4 || args[1]->kind != Kind::kDtype ||
      args[3]->kind != Kind::kStr ||
      (args[3]->str() != "C" && args[3]->str() != "F")) {
    return Constraint("expects (buffer, dtype, shape, 'C' | 'F')");
  }
  std::string_view bytes;
  if (args[0]->kind != Kind::kBytes && args[0]->kind != Kind::kByteArray) {
    return Constraint("buffer is not bytes-like");
  }
  bytes = args[0]->str();
  Node* dtype = args[1];
  if (dtype->a.dtype->kind == 'O') {
    return Constraint("_frombuffer cannot make an object array");
  }
  Node* n = g.NewNodeOfKind(Kind::kNDArray);
  if (n == nullptr) return Built(nullptr);
  ArrayInfo* a = g.arena().New<ArrayInfo>();
  std::string why;
  uint64_t nbytes, count;
  if (!ParseShape(args[2], g, &a->shape, dtype->a.dtype->itemsize, &nbytes,
                  &count, &why)) {
    return Constraint(why);
  }
  if (bytes.size() != nbytes) {
    return Constraint(StrCat("buffer has ", bytes.size(),
                             " bytes, shape and dtype need ", nbytes));
  }
  a->dtype = dtype;
  a->fortran = args[3]->str() == "F";
  a->data = bytes;
  a->built = true;
  n->a.array = a;
  return Built(n);
}

BuildResult BuildScalar(Graph& g, absl::Span<Node* const> args) {
  if (args.size() != 2 || args[0]->kind != Kind::kDtype) {
    return Constraint("expects (dtype, data)");
  }
  const DtypeInfo& d = *args[0]->a.dtype;
  if (d.kind == 'O') {
    // numpy returns the object itself for an object scalar.
    return Built(args[1]);
  }
  std::string_view bytes;
  if (!DataBytes(g, args[1], &bytes)) return Constraint("data is not bytes");
  if (bytes.size() != d.itemsize) {
    return Constraint(StrCat("scalar data has ", bytes.size(),
                             " bytes, its dtype needs ", d.itemsize));
  }
  Node* n = g.NewNodeOfKind(Kind::kScalar);
  if (n == nullptr) return Built(nullptr);
  ScalarInfo* s = g.arena().New<ScalarInfo>();
  s->dtype = args[0];
  s->data = bytes;
  n->a.scalar = s;
  return Built(n);
}

}  // namespace picklevm
