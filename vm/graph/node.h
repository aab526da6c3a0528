// The inert object graph: what a pickle stream would have built, as data.
//
// Nodes are 16 bytes (24 for the kinds with a length or a size), live in
// the graph's arena and are never destroyed one by one.  Identity is the
// stream's: every creating opcode makes a new node; only memo GET and DUP
// make one node reachable twice.  None/True/False are
// per-graph singletons (they are never written with $id, so sharing them is
// invisible).
#ifndef PICKLEVM_VM_GRAPH_NODE_H_
#define PICKLEVM_VM_GRAPH_NODE_H_

#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "absl/types/span.h"
#include "vm/base/arena.h"

namespace picklevm {

enum class Kind : uint8_t {
  kNone, kBool, kInt, kBigInt, kFloat, kComplex, kStr, kBytes, kByteArray,
  kList, kTuple, kDict, kSet, kFrozenSet, kSlice,
  kGlobal,   // a name used as a value: {"$global": ...}
  kObject,   // an admitted instance: {"$object": ...}
  kCall,     // a recorded call that never happened: {"$call": ...}
  kPersId,   // {"$persid": value}
  kExt,      // an extension code in record mode: {"$ext": code}
  kDtype,    // numpy.dtype: {"$dtype": ...}
  kNDArray,  // numpy.ndarray: {"$ndarray": ...}
  kScalar,   // numpy scalar: {"$scalar": ...}
};

std::string_view KindName(Kind kind);

struct Node;
struct DictBody;
struct Record;
struct DtypeInfo;
struct ArrayInfo;
struct ScalarInfo;

// "module:qualname" with its two parts.
struct GlobalName {
  std::string_view module;
  std::string_view qualname;
  std::string_view joined;
};

enum NodeFlags : uint8_t {
  kHasSurrogates = 1,  // kStr: holds a lone surrogate ($str form)
  // Scratch marks for one traversal at a time (the JSON emitter's sharing
  // count, the machine's reference walks), cleared by whoever set them.
  // Two bits, not a counter: a traversal only needs "seen" and "seen
  // twice", and a node stays small (the emitter's $id numbers live in its
  // own map, for the shared nodes only).
  kMarkSeen = 2,
  kMarkShared = 4,
  // kTuple of one or two items: they are in the node itself (a.first,
  // b().second) and `spare` holds the count; a record's pairs and the
  // argument tuples of most calls then need no items array.  Read tuples
  // through size()/at()/Items(), never a.items.
  kInlineItems = 8,
  // kDict (or a dict-subclass instance): a BUILD applied it as an object's
  // state, a call took it as keywords, or a numpy dtype its fields.  What
  // Python built used it as it was then (obj.__dict__.update(state) and
  // f(**kwargs) copy it; numpy keeps the fields dict itself), and the graph
  // shares rather than copies it (a stream could otherwise make one copy
  // per BUILD), so the machine refuses (strict) or flags (record) a later
  // SETITEM on it.
  kConsumed = 16,
  // kGlobal: strict mode's policy does not admit it as a value (in a value
  // position it fails the load); set by the machine when it makes the node.
  kGlobalUnreferenceable = 32,
  // kDict (or a dict-subclass instance) consumed as a BUILD state whose
  // keys the machine found free of dunder names: a later BUILD of the same
  // memoized state need not look again (a look per BUILD made a 1.8 MB
  // stream of 70,000 BUILDs of one 70,000-key state take 7 s).  Set by
  // the BUILD that consumes it; cleared by a SETITEM of a dunder key (record
  // mode lets SETITEMs through; keys are never removed).
  kKeysChecked = 64,
};

// The first payload word: every node has it.
union NodeA {
  int64_t i;            // kBool (0/1), kInt, kExt
  double f;             // kFloat, kComplex (real part)
  const char* p;        // kStr, kBytes, kByteArray, kBigInt (decimal text)
  Node** items;         // kList, kTuple, kSlice (3 items)
  Node* first;          // kTuple with kInlineItems: item 0
  DictBody* dict;       // kDict
  struct SetBody* set;  // kSet, kFrozenSet
  Record* rec;          // kObject, kCall
  const GlobalName* global;
  Node* target;         // kPersId
  DtypeInfo* dtype;     // kDtype
  ArrayInfo* array;     // kNDArray
  ScalarInfo* scalar;   // kScalar
};

// The second payload word: only the wide kinds (IsWideKind) have it.
union NodeB {
  uint64_t n;           // byte length of p
  double f;             // kComplex imaginary part
  struct {
    uint32_t size;      // kList/kTuple element count
    uint32_t capacity;
  } v;
  uint64_t offset;      // kGlobal: offset of the opcode that named it
  Node* second;         // kTuple with kInlineItems: item 1
};

// Kinds whose payload takes two words: a pointer and a length, a size or
// a second double.  Their nodes are WideNodes (24 bytes); every other kind
// -- ints, floats, dicts, instances, the numpy values -- is a bare Node
// (16 bytes), which is most of the nodes of a numeric or record-heavy
// graph.
constexpr bool IsWideKind(Kind k) {
  switch (k) {
    case Kind::kBigInt: case Kind::kComplex: case Kind::kStr:
    case Kind::kBytes: case Kind::kByteArray: case Kind::kList:
    case Kind::kTuple: case Kind::kSlice: case Kind::kGlobal:
      return true;
    default:
      return false;
  }
}

// Checks that b() is only asked of a wide node.  Always on in the fuzzing
// build (PICKLEVM_HARDENED) and in debug builds; a release build trusts
// the kind checks every caller makes first (they are on the hot path).
#if defined(PICKLEVM_HARDENED) || !defined(NDEBUG)
#define PICKLEVM_CHECK_WIDE(node) \
  do {                            \
    if (!IsWideKind((node)->kind)) __builtin_trap(); \
  } while (0)
#else
#define PICKLEVM_CHECK_WIDE(node) \
  do {                            \
  } while (0)
#endif

struct Node {
  Kind kind;
  uint8_t flags = 0;
  uint16_t spare = 0;
  uint32_t canon = 0;     // canonical-key id once hashed (0: not yet)
  NodeA a;

  explicit Node(Kind k) : kind(k) { a.i = 0; }

  // The second word of a wide node (see WideNode).
  inline NodeB& b();
  inline const NodeB& b() const;

  std::string_view str() const { return std::string_view(a.p, b().n); }
  bool has_surrogates() const { return flags & kHasSurrogates; }
  bool marked() const { return flags & kMarkSeen; }
  void Mark() { flags |= kMarkSeen; }
  void Unmark() { flags &= static_cast<uint8_t>(~(kMarkSeen | kMarkShared)); }
  // Sequence view for lists, tuples and slices.
  uint32_t size() const {
    return (flags & kInlineItems) ? spare : b().v.size;
  }
  Node* at(uint32_t i) const {
    if (flags & kInlineItems) return i == 0 ? a.first : b().second;
    return a.items[i];
  }
  // The items of a list, tuple or slice as one span: the node's own array,
  // or for an inline tuple a copy in `buf` (so callers that need an array,
  // such as a call's arguments, need not care where the items live).
  absl::Span<Node* const> Items(Node* (&buf)[2]) const {
    if (!(flags & kInlineItems)) return absl::MakeConstSpan(a.items, size());
    buf[0] = a.first;
    buf[1] = spare == 2 ? b().second : nullptr;
    return absl::MakeConstSpan(buf, spare);
  }
};

// A node of a wide kind: the Node, then its second word.  Standard layout,
// so a Node* to `node` converts to the WideNode* that holds it.
struct WideNode {
  Node node;
  NodeB b;
  explicit WideNode(Kind k) : node(k) { b.n = 0; }
};

static_assert(sizeof(Node) == 16, "nodes stay compact");
static_assert(sizeof(WideNode) == 24, "nodes stay compact");
static_assert(std::is_standard_layout_v<WideNode>);

inline NodeB& Node::b() {
  PICKLEVM_CHECK_WIDE(this);
  return reinterpret_cast<WideNode*>(this)->b;
}
inline const NodeB& Node::b() const {
  PICKLEVM_CHECK_WIDE(this);
  return reinterpret_cast<const WideNode*>(this)->b;
}

// A hash index over canonical-key ids, used by dicts and sets once they pass
// kLinearLimit entries (below that a linear scan is faster).
struct KeyIndex {
  uint32_t* slots = nullptr;  // entry index + 1, 0 = empty
  uint32_t mask = 0;          // capacity - 1 (a power of two), 0 = no index
};

struct Entry {
  Node* key;
  Node* value;
};

// Keys laid end to end, shared by a chain of shapes: a shape made by adding
// a key to the shape that ends the run appends to the run instead of
// copying it, so building one dict key by key costs linear memory.  A
// key is written once and never changed.
struct KeyRun {
  Node** keys;
  uint32_t used;
  uint32_t capacity;
};

// A sequence of distinct keys in insertion order, shared by every small
// dict whose keys were inserted in that order (hidden classes, as in V8):
// a million records with the same eight keys keep one key list, not a
// million, which halves a record's dict; and the transition cache makes
// inserting the next key of a known sequence a compare instead of a scan
// for a duplicate.  Immutable once made (the cache aside); made at most
// once per insertion, so their memory is bounded by the stream's length.
struct Shape {
  KeyRun* run = nullptr;        // keys: run->keys[0..size)
  Node** keys = nullptr;        // run->keys, one load nearer
  uint16_t size = 0;            // at most Graph::kShapeLimit
  // A str key of the sequence is a dunder name (IsDunder): the machine
  // refuses such a BUILD state, and a state whose shape has none needs no
  // look at its keys (a model's every array and estimator is a BUILD).
  bool dunder_key = false;
  // Whether this shape's transitions are in Graph::shapes_.  Until a
  // second one is made, its only transition is `next`, and the table is
  // neither asked nor filled: most shapes never get a second (a record's
  // keys, an estimator's attributes are each one chain), and a model's
  // fresh keys cost a table insert each otherwise.
  bool indexed = false;
  // Bit (canonical id mod 64) of every key of the sequence: a key whose bit
  // is clear is not among them, and needs no look at each (ids are handed
  // out in order, so a model's attributes, met together, rarely share a
  // bit; adding its 30 keys to a dict looked 435 times before).
  uint64_t key_bits = 0;
  // The transition taken last from this shape: adding a key of canonical
  // id next_canon (and identity next_ident, see Graph::DictSet) led to
  // `next`.
  uint32_t next_canon = 0;
  const Node* next_ident = nullptr;
  Shape* next = nullptr;
  // The last key node that took that transition (nullptr: none yet).  A
  // memo-shared key -- every record's keys after the first -- is this very
  // node, so one compare stands for the canonical id and identity checks:
  // a node's canonical id never changes once set.
  const Node* next_key = nullptr;
};

// A dict's entries: the values in insertion order, and the keys either
// shared through a Shape (small dicts, the common case) or the dict's own
// (past Graph's shape limit; then keys and values have one capacity).
// Read it through size()/key()/value()/items(); only Graph changes it.
struct DictBody {
  Node** keys = nullptr;      // size() keys; read-only while shared
  ArenaVec<Node*> values;
  Shape* shape = nullptr;     // the shared key sequence; nullptr: own keys
                              // (or none yet: an empty dict)
  KeyIndex* index = nullptr;  // own keys past the linear-search limit

  uint32_t size() const { return values.size; }
  bool empty() const { return values.size == 0; }
  Node* key(uint32_t i) const { return keys[i]; }
  Node* value(uint32_t i) const { return values.data[i]; }
  Entry entry(uint32_t i) const { return Entry{keys[i], values.data[i]}; }

  // `for (Entry e : dict->items())`, in insertion order.
  class Items {
   public:
    class Iter {
     public:
      Iter(const DictBody* d, uint32_t i) : d_(d), i_(i) {}
      Entry operator*() const { return d_->entry(i_); }
      Iter& operator++() {
        ++i_;
        return *this;
      }
      bool operator!=(const Iter& o) const { return i_ != o.i_; }

     private:
      const DictBody* d_;
      uint32_t i_;
    };
    explicit Items(const DictBody* d) : d_(d) {}
    Iter begin() const { return Iter(d_, 0); }
    Iter end() const { return Iter(d_, d_->size()); }

   private:
    const DictBody* d_;
  };
  Items items() const { return Items(this); }
};

struct SetBody {
  ArenaVec<Node*> items;
  KeyIndex index;
};

enum class Via : uint8_t { kNew, kCall };

// An instance ($object) or a recorded call ($call).
struct Record {
  Node* callable = nullptr;  // usually a kGlobal; in record mode any value
  ArenaVec<Node*> args;
  // Keyword arguments: the first kwargs_size entries of this kDict (all
  // with str keys), or nullptr.  The size is taken at the call: the stream
  // may memoize the dict and add to it afterwards, and CPython's call had
  // copied the keywords by then (its later values, if the stream replaces
  // one, are shown: the graph does not copy the dict, so that a stream
  // cannot make it copy one big dict per call).
  Node* kwargs = nullptr;
  uint32_t kwargs_size = 0;
  Node* state = nullptr;     // BUILD argument (nullptr: no BUILD)
  // The __setstate__ an applied state put on the instance (record mode: a
  // later BUILD calls it), as the state had it at that BUILD.
  Node* setstate = nullptr;
  ArenaVec<Node*> items;     // APPEND(S)
  DictBody dictitems;        // SETITEM(S)
  uint64_t offset = 0;       // the opcode that made the call
  Via via = Via::kCall;
  uint8_t builds = 0;        // BUILDs applied so far
  uint8_t opcode = 0;        // REDUCE, NEWOBJ, ...
  bool takes_items = false;      // the admitting rule allows APPEND(S)
  bool takes_dictitems = false;  // ... and SETITEM(S)
};

// numpy.dtype, as far as the graph needs it (graph-json.md, "<dtype>").
struct DtypeField {
  std::string_view name;
  Node* title;       // a str node, or nullptr
  Node* format;      // a kDtype node
  uint64_t offset;
};

struct DtypeInfo {
  char kind = 'V';          // b i u f c S U V O M m
  char byteorder = '|';     // '<' '>' '|'
  bool built = false;       // BUILD state applied
  bool structured = false;  // has names/fields
  bool aligned = false;
  bool subarray = false;
  uint16_t depth = 1;       // nesting of field / subarray dtypes
  // The dtypes in its written form, itself included: a field's or
  // subarray's dtype is written out in full wherever it appears, so one
  // dtype may name another twice at each of 32 levels.
  uint64_t expanded = 1;
  uint64_t itemsize = 0;
  std::string_view unit;    // datetime unit ("ns"), empty for generic
  uint64_t unit_count = 1;
  ArenaVec<DtypeField> fields;
  Node* sub_base = nullptr;      // kDtype node of a subarray dtype
  ArenaVec<uint64_t> sub_shape;
};

struct ArrayInfo {
  Node* dtype = nullptr;          // kDtype node
  ArenaVec<uint64_t> shape;
  bool fortran = false;
  bool built = false;             // _reconstruct awaits its BUILD
  std::string_view data;          // raw bytes, exactly as stored
  Node** items = nullptr;         // object arrays: prod(shape) values
  uint64_t item_count = 0;
  const GlobalName* subclass = nullptr;  // not numpy.ndarray
};

struct ScalarInfo {
  Node* dtype = nullptr;          // kDtype node
  std::string_view data;          // itemsize bytes
};

}  // namespace picklevm

#endif  // PICKLEVM_VM_GRAPH_NODE_H_
