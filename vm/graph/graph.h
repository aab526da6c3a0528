// The graph: node factory, Python's dict/set semantics, and the canonical
// keys that make hashing and equality iterative and linear.
//
// Equality of hashable values (dict keys, set members) follows Python:
// 1 == 1.0 == True == complex(1, 0); str and bytes by content; tuples
// element-wise; frozensets as sets; a global by its name; nan, $object and
// $call by identity.  Each hashable node gets a canonical id, computed
// bottom-up without recursion and cached in the node, such that two nodes
// are equal exactly when their ids are equal.  A tuple's id is derived from
// its elements' ids, a frozenset's from the sorted ids of its members, so a
// deeply nested or exponentially shared key costs time linear in its
// distinct nodes.
#ifndef PICKLEVM_VM_GRAPH_GRAPH_H_
#define PICKLEVM_VM_GRAPH_GRAPH_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "vm/base/arena.h"
#include "vm/base/strcat.h"
#include "vm/graph/node.h"

namespace picklevm {

enum class GraphErr : uint8_t {
  kOk, kUnhashable, kNodeLimit, kTooLarge, kCopyLimit
};

class Graph {
 public:
  explicit Graph(uint64_t max_nodes = UINT64_MAX);
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  Arena& arena() { return arena_; }
  uint64_t node_count() const { return node_count_; }
  uint64_t max_nodes() const { return max_nodes_; }
  void LimitNodes(uint64_t n) {
    if (n < max_nodes_) max_nodes_ = n;
  }
  // The most bytes the graph's arena may take (--max-graph-bytes).  Near
  // it the arena sets the node cap to 0, so the next node fails as at the
  // node limit (over_budget() tells the two apart); past it an allocation
  // throws ArenaBudgetExceeded, which RunPickle turns into the same error.
  // Only lowers the bound.
  uint64_t max_bytes() const { return arena_.budget(); }
  void LimitBytes(uint64_t n) {
    arena_.LimitReserved(n > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(n),
                         &max_nodes_);
  }
  bool over_budget() const { return arena_.soft_exceeded(); }
  // See Arena::ChargeOutside (it throws past the budget).
  void ChargeOutside(size_t bytes) { arena_.ChargeOutside(bytes); }
  // Items the builders copy out of a container the stream built earlier:
  // set(list), frozenset(list), copyreg._reconstructor's list or dict
  // state, a numpy dtype's fields (and the bytes of a bytearray that record
  // mode's APPEND extends).  Naming one memoized container in call
  // after call is the one way a stream makes the graph's memory (and the
  // time to build it) grow faster than its own length: a 289 KB stream of
  // 3,000 set(L) calls on one 50,000-item L took 6 GB.  Every other item
  // a container holds was pushed by an opcode of its own.  Bounded by
  // --max-copied-items (its default derives from the input's size).
  uint64_t max_copied_items() const { return max_copied_; }
  void LimitCopiedItems(uint64_t n) {
    if (n < max_copied_) max_copied_ = n;
  }
  // Counts `n` more copied items; false (and nothing counted) past the
  // bound.  Call before copying.
  [[nodiscard]] bool ChargeCopies(uint64_t n) {
    if (n > max_copied_ - copied_) return false;
    copied_ += n;
    return true;
  }

  // Singletons (never counted against the node limit).
  Node* None() { return &none_; }
  Node* Bool(bool v) { return v ? &true_ : &false_; }

  // Every factory returns nullptr when the node limit is reached.
  // Ints in [kSmallIntMin, kSmallIntMax] are shared nodes, made on first
  // use, as CPython shares its small ints: an int is never written with
  // $id (graph-json.md), so sharing one is invisible, and a record's small
  // counters and flags then cost no node.
  static constexpr int64_t kSmallIntMin = -5;
  static constexpr int64_t kSmallIntMax = 1023;
  // NewInt, NewFloat, NewStr, NewSeq and Alloc are always inlined: they
  // are the fast path's per-opcode work, and GCC's inliner gives up on
  // them inside the machine's (large) loop.
  ABSL_ATTRIBUTE_ALWAYS_INLINE Node* NewInt(int64_t v) {
    if (v >= kSmallIntMin && v <= kSmallIntMax) {
      Node*& cached = small_ints_[v - kSmallIntMin];
      if (cached == nullptr) cached = FreshInt(v);
      return cached;
    }
    return FreshInt(v);
  }
  Node* NewBigInt(std::string_view decimal);  // copied into the arena
  ABSL_ATTRIBUTE_ALWAYS_INLINE Node* NewFloat(double v) {
    Node* n = Alloc(Kind::kFloat);
    if (n) n->a.f = v;
    return n;
  }
  Node* NewComplex(double re, double im);
  // `text` is generalized UTF-8; `copy` when it does not outlive the input.
  ABSL_ATTRIBUTE_ALWAYS_INLINE Node* NewStr(std::string_view text,
                                            bool has_surrogates, bool copy) {
    Node* n = Alloc(Kind::kStr);
    if (!n) return n;
    if (copy) text = arena_.CopyString(text);
    n->a.p = text.data();
    n->b().n = text.size();
    if (has_surrogates) n->flags |= kHasSurrogates;
    return n;
  }
  Node* NewBytes(Kind kind, std::string_view data, bool copy);
  Node* NewList() { return Alloc(Kind::kList); }
  // A list or tuple of `items`; nullptr at the node limit, or where the
  // budget refuses its items (over_budget() tells which).
  ABSL_ATTRIBUTE_ALWAYS_INLINE Node* NewSeq(Kind kind,
                                            absl::Span<Node* const> items) {
    if (items.size() > UINT32_MAX) return nullptr;
    Node* n = Alloc(kind);
    if (!n || items.empty()) return n;
    if (kind == Kind::kTuple && items.size() <= 2) {
      n->flags |= kInlineItems;
      n->spare = static_cast<uint16_t>(items.size());
      n->a.first = items[0];
      n->b().second = items.size() == 2 ? items[1] : nullptr;
      return n;
    }
    // TUPLE3 (the commonest tuple that needs an array) inline: out of
    // line, a million of them cost 9% more instructions on the memo
    // benchmark.  Only that size: a copy of any length inlined here is a
    // memcpy call in the machine's loop, and records decoded 3% slower.
    if (items.size() == 3) {
      Node** data = arena_.TryNewArray<Node*>(3);
      if (data != nullptr) {
        data[0] = items[0];
        data[1] = items[1];
        data[2] = items[2];
        n->a.items = data;
        n->b().v.size = n->b().v.capacity = 3;
        return n;
      }
    }
    return SetItems(n, items);
  }
  // A list node over `items` (not copied, never written) made in
  // `storage`: neither in the arena nor counted, so a printer can show a
  // call's arguments as one value after the graph's budget or node limit
  // ended the run (trace printed them as null then).
  static Node* ListView(WideNode* storage, absl::Span<Node* const> items) {
    if (items.size() > UINT32_MAX) return nullptr;
    Node* n = &(new (storage) WideNode(Kind::kList))->node;
    if (items.empty()) return n;
    n->a.items = const_cast<Node**>(items.data());  // never written
    n->b().v.size = n->b().v.capacity = static_cast<uint32_t>(items.size());
    return n;
  }
  Node* NewDict() {
    Node* n = Alloc(Kind::kDict);
    if (n) n->a.dict = arena_.New<DictBody>();
    return n;
  }
  Node* NewSet(Kind kind);  // kSet or kFrozenSet
  Node* NewSlice(Node* start, Node* stop, Node* step);
  Node* NewGlobal(std::string_view module, std::string_view qualname,
                  uint64_t offset);
  Node* NewRecord(Kind kind, Node* callable, uint64_t offset);
  Node* NewPersId(Node* pid);
  Node* NewExt(int64_t code);
  // A node whose payload the caller fills in (the numpy builders).
  Node* NewNodeOfKind(Kind kind) {
    Node* n = Alloc(kind);
    if (n != nullptr && kind == Kind::kNDArray) {
      // Room for a model's arrays at once, not four reallocations for
      // its first eight (a third of a small joblib file's mallocs).
      if (arrays_.empty()) arrays_.reserve(16);
      arrays_.push_back(n);
    }
    return n;
  }
  // The Latin-1 bytes of a str node (numpy array data pickled by Python
  // 2), encoded once per node and kept in the arena: any number of arrays
  // naming one memoized str share one copy, so memory and hashing stay
  // bounded by the input.  False if the str is not Latin-1.
  bool Latin1Bytes(const Node* str, std::string_view* out);

  // Every ndarray node made, in order (reachable from a root or not): what
  // `load` hashes while another thread hashes the file.
  const std::vector<Node*>& arrays() const { return arrays_; }

  // list.append / list.extend.
  GraphErr ListAppend(Node* list, Node* item);
  GraphErr ListExtend(Node* list, absl::Span<Node* const> items);
  // Room for `more` further entries: exactly, into an empty dict (SETITEMS
  // or DICT filling a fresh one: no doubling waste), else growing
  // geometrically, so a dict filled by one SETITEM at a time (protocol 0)
  // costs linear time, not a copy per item.  (Such a dict's first array is
  // sized by a guess, see DictSetSlow: at most twice its size, or
  // kSizeGuessLimit slots.)
  bool DictReserve(DictBody* dict, uint64_t more) {
    uint64_t need = uint64_t{dict->values.size} + more;
    if (need <= dict->values.capacity) return true;
    if (need > UINT32_MAX) return false;
    return DictGrow(dict, need, dict->values.size == 0);
  }
  // d[key] = value: an equal key keeps its position and first key.
  GraphErr DictSet(DictBody* dict, Node* key, Node* value) {
    // The common case inline: the very key node (shared through the memo)
    // that last took the next step of a known key sequence -- every record
    // after the first -- with room for its value.  An equal key that is
    // another node takes DictSetSlow, which follows the same transition.
    uint32_t size = dict->values.size;
    Shape* from = size == 0 ? &empty_shape_ : dict->shape;
    if (ABSL_PREDICT_TRUE(from != nullptr && from->next_key == key &&
                          size < dict->values.capacity)) {
      Shape* to = from->next;  // `key` is not in `from`: it was checked
      dict->values.data[size] = value;
      dict->values.size = size + 1;
      dict->shape = to;
      dict->keys = to->keys;
      return GraphErr::kOk;
    }
    return DictSetSlow(dict, key, value);
  }
  // DictSet of each (key, value) pair of kv[0..2*pairs), in order; on an
  // error *failed is the key that caused it and the pairs before it stay.
  GraphErr DictSetPairs(DictBody* dict, Node* const* kv, size_t pairs,
                        Node** failed);
  // s.add(item): an equal member already present wins.
  GraphErr SetAdd(SetBody* set, Node* item);
  // A record's args (the REDUCE tuple unfolded): `args` must live as long
  // as the graph (the arena; see Machine::LastingArgs) and is kept, not
  // copied.  Nothing writes to a record's args after, and any append would
  // reallocate them (their capacity is their size).
  GraphErr RecordArgs(Record* rec, absl::Span<Node* const> args);

  // The position of the entry whose key equals `key` (canonical ids, as
  // DictSet compares), or -1: a hash probe past the linear-search limit,
  // so a lookup per field of a big numpy dtype stays linear in all.
  // kUnhashable if `key` is.
  GraphErr DictFind(const DictBody* dict, Node* key, int64_t* pos);
  // The same for a str key given as text (a BUILD state's "__setstate__"),
  // without interning the text: no key has a text that was never interned.
  int64_t FindStrKey(const DictBody* dict, std::string_view text);

  // Canonical id of a hashable node; kUnhashable (with *culprit set to the
  // unhashable node) for list, dict, set, bytearray, slice.
  GraphErr Canon(Node* node, uint32_t* id, Node** culprit);


 private:
  // Always inlined (see NewInt): `kind` is a constant at every call, so
  // the wide/narrow choice folds away.
  ABSL_ATTRIBUTE_ALWAYS_INLINE Node* Alloc(Kind kind) {
    if (ABSL_PREDICT_FALSE(node_count_ >= max_nodes_)) return nullptr;
    ++node_count_;
    if (IsWideKind(kind)) return &arena_.New<WideNode>(kind)->node;
    return arena_.New<Node>(kind);
  }
  Node* FreshInt(int64_t v) {
    Node* n = Alloc(Kind::kInt);
    if (n) n->a.i = v;
    return n;
  }
  // Dicts of at most this many keys share them through Shapes; a larger
  // one keeps its own (and past kLinearLimit a hash index over them).
  static constexpr uint32_t kShapeLimit = 32;
  // The most value slots DictSetSlow's guess gives a dict's first array.
  static constexpr uint32_t kSizeGuessLimit = 16;
  // The room the canonical-id and shape tables start with.
  static constexpr size_t kTablesStart = 64;
  // A canonical id's bit in Shape::key_bits.
  static uint64_t KeyBit(uint32_t canon) {
    return uint64_t{1} << (canon & 63);
  }
  // The identity a shape transition must match besides the canonical id.
  // A shape keeps the key node of the dict that made it, and every dict of
  // the shape shows that node as its key; that is invisible only where
  // equal keys are written identically and never with $id: strs (equal
  // canonical ids: the same text) and ints (the same value).  Any other
  // key (a tuple that might be $id-shared, a float whose 0.0 and -0.0 are
  // equal, 1 == True) must be the very node.
  static const Node* KeyIdentity(const Node* key) {
    return key->kind == Kind::kStr || key->kind == Kind::kInt ? nullptr : key;
  }
  GraphErr DictSetSlow(DictBody* dict, Node* key, Node* value);
  bool DictGrow(DictBody* dict, uint64_t need, bool exact);
  GraphErr DictAppendOwn(DictBody* dict, Node* key, Node* value);
  Shape* ShapeChild(Shape* from, Node* key, uint32_t canon,
                    const Node* ident);
  struct ShapeKey {
    const Shape* from;
    uint32_t canon;
    const Node* ident;
    bool operator==(const ShapeKey& o) const {
      return from == o.from && canon == o.canon && ident == o.ident;
    }
    template <typename H>
    friend H AbslHashValue(H h, const ShapeKey& k) {
      return H::combine(std::move(h), k.from, k.canon, k.ident);
    }
  };
  // The canonical id of the key (tag, bytes): a fresh one the first time.
  // `bytes` that live as long as the graph (a str's text, a global's name)
  // are kept as they are; others (scratch_) are copied into the arena, so
  // the table holds no heap string per key.
  uint32_t Intern(char tag, std::string_view bytes, bool lasting);
  struct CanonKey {
    std::string_view bytes;
    char tag;
    bool operator==(const CanonKey& o) const {
      return tag == o.tag && bytes == o.bytes;
    }
    template <typename H>
    friend H AbslHashValue(H h, const CanonKey& k) {
      // absl's own string hash (Debian's absl::string_view is not
      // std::string_view, which it would hash through std::hash).
      return H::combine(std::move(h), k.tag, ToAbsl(k.bytes));
    }
  };
  uint32_t FreshId() { return next_id_++; }
  GraphErr LeafCanon(Node* node, uint32_t* id, Node** culprit,
                     bool text_lasts = true);
  template <typename KeyOf>
  int64_t Find(const KeyIndex* index, uint32_t canon, uint32_t size,
               KeyOf key_of);
  // The position of the key of canonical id `canon` in `dict`, or -1.
  int64_t FindCanon(const DictBody* dict, uint32_t canon);
  // NewSeq's items array, out of line (the machine's fast path inlines
  // NewSeq).  Refused by the graph's budget (Arena::TryAllocate): nullptr,
  // as at the node limit, whose message names the budget then
  // (over_budget()); the node made is left unused.
  Node* SetItems(Node* n, absl::Span<Node* const> items);
  template <typename KeyOf>
  void UpdateIndex(KeyIndex* index, uint32_t size, KeyOf key_of);
  template <typename KeyOf>
  void Reindex(KeyIndex* index, uint32_t size, KeyOf key_of);
  // Whether UpdateIndex for `size` entries stays within the graph's budget
  // (asked before an entry is added, so that a refusal changes nothing).
  bool IndexFits(const KeyIndex* index, uint64_t size);

  Arena arena_;
  uint64_t node_count_ = 0;
  uint64_t max_nodes_;
  Node none_{Kind::kNone};
  Node true_{Kind::kBool};
  Node false_{Kind::kBool};
  absl::flat_hash_map<CanonKey, uint32_t> canon_table_;
  Shape empty_shape_;  // the keys of an empty dict: none
  // The transitions of every shape that has made more than one (see
  // Shape::indexed).
  absl::flat_hash_map<ShapeKey, Shape*> shapes_;
  // The transitions shapes_ gave most recently, by (shape, key node), in
  // front of it: a Shape keeps only its last transition, and the dicts of
  // a model alternate between a few (the empty shape's first keys: an
  // estimator's, a tree state's, a joblib array wrapper's).  A key node's
  // canonical id and identity never change, so (from, key) -> to holds for
  // the graph's life.
  struct Transition {
    const Shape* from = nullptr;
    const Node* key = nullptr;
    Shape* to = nullptr;
  };
  static constexpr size_t kRecentTransitions = 32;
  static size_t RecentSlot(const Shape* from, const Node* key) {
    uint64_t h = (reinterpret_cast<uintptr_t>(from) ^
                  (reinterpret_cast<uintptr_t>(key) >> 4)) *
                 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(h >> 59);  // 5 bits: kRecentTransitions
  }
  Transition recent_[kRecentTransitions];
  uint32_t next_id_ = 1;
  Node* small_ints_[kSmallIntMax - kSmallIntMin + 1] = {};
  std::string scratch_;
  std::vector<Node*> canon_stack_;
  std::vector<Node*> arrays_;
  absl::flat_hash_map<const Node*, std::string_view> latin1_;
  // Tuples and frozensets Canon found unhashable, with the culprit.
  absl::flat_hash_map<const Node*, Node*> unhashable_;
  // The canonical ids of long texts by where they live: nodes that share
  // one text (the Latin-1 bytes of one str, the buffer READONLY_BUFFER
  // passes on) are hashed once, not once each (70,000 bytes keys that
  // shared one 700 KB text took 27 s for a 4.9 MB stream).  A text is never
  // changed once a node holds it (a bytearray's is, but it is unhashable).
  struct TextAt {
    const char* data;
    size_t size;
    char tag;
    bool operator==(const TextAt& o) const {
      return data == o.data && size == o.size && tag == o.tag;
    }
    template <typename H>
    friend H AbslHashValue(H h, const TextAt& t) {
      return H::combine(std::move(h), t.data, t.size, t.tag);
    }
  };
  static constexpr size_t kLongText = 256;
  absl::flat_hash_map<TextAt, uint32_t> long_text_ids_;
  std::vector<uint32_t> id_scratch_;
  // Items copied so far, and the bound (ChargeCopies).
  uint64_t copied_ = 0;
  uint64_t max_copied_ = UINT64_MAX;
};

}  // namespace picklevm

#endif  // PICKLEVM_VM_GRAPH_GRAPH_H_
