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
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "vm/base/arena.h"
#include "vm/graph/node.h"

namespace picklevm {

enum class GraphErr : uint8_t { kOk, kUnhashable, kNodeLimit, kTooLarge };

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

  // Singletons (never counted against the node limit).
  Node* None() { return &none_; }
  Node* Bool(bool v) { return v ? &true_ : &false_; }

  // Every factory returns nullptr when the node limit is reached.
  Node* NewInt(int64_t v);
  Node* NewBigInt(std::string_view decimal);  // copied into the arena
  Node* NewFloat(double v);
  Node* NewComplex(double re, double im);
  // `text` is generalized UTF-8; `copy` when it does not outlive the input.
  Node* NewStr(std::string_view text, bool has_surrogates, bool copy);
  Node* NewBytes(Kind kind, std::string_view data, bool copy);
  Node* NewList();
  Node* NewSeq(Kind kind, absl::Span<Node* const> items);  // list or tuple
  Node* NewDict();
  Node* NewSet(Kind kind);  // kSet or kFrozenSet
  Node* NewSlice(Node* start, Node* stop, Node* step);
  Node* NewGlobal(std::string_view module, std::string_view qualname,
                  uint64_t offset);
  Node* NewRecord(Kind kind, Node* callable, uint64_t offset);
  Node* NewPersId(Node* pid);
  Node* NewExt(int64_t code);
  // A node whose payload the caller fills in (the numpy builders).
  Node* NewNodeOfKind(Kind kind) { return Alloc(kind); }

  // list.append / list.extend.
  GraphErr ListAppend(Node* list, Node* item);
  GraphErr ListExtend(Node* list, absl::Span<Node* const> items);
  // Room for `more` further entries, allocated exactly.
  bool DictReserve(DictBody* dict, uint64_t more) {
    return dict->entries.Reserve(arena_, uint64_t{dict->entries.size} + more);
  }
  // d[key] = value: an equal key keeps its position and first key.
  GraphErr DictSet(DictBody* dict, Node* key, Node* value);
  // s.add(item): an equal member already present wins.
  GraphErr SetAdd(SetBody* set, Node* item);
  // Sequence of a record's args (the REDUCE tuple unfolded).
  GraphErr RecordArgs(Record* rec, absl::Span<Node* const> args);

  // Canonical id of a hashable node; kUnhashable (with *culprit set to the
  // unhashable node) for list, dict, set, bytearray, slice.
  GraphErr Canon(Node* node, uint32_t* id, Node** culprit);


 private:
  Node* Alloc(Kind kind);
  uint32_t Intern(const std::string& key);
  uint32_t FreshId() { return next_id_++; }
  GraphErr LeafCanon(Node* node, uint32_t* id, Node** culprit);
  template <typename Body, typename KeyOf>
  int64_t Find(Body* body, uint32_t canon, uint32_t size, KeyOf key_of);
  template <typename KeyOf>
  void UpdateIndex(KeyIndex* index, uint32_t size, KeyOf key_of);
  template <typename KeyOf>
  void Reindex(KeyIndex* index, uint32_t size, KeyOf key_of);

  Arena arena_;
  uint64_t node_count_ = 0;
  uint64_t max_nodes_;
  Node none_{Kind::kNone};
  Node true_{Kind::kBool};
  Node false_{Kind::kBool};
  absl::flat_hash_map<std::string, uint32_t> canon_table_;
  uint32_t next_id_ = 1;
  std::string scratch_;
  std::vector<Node*> canon_stack_;
  std::vector<uint32_t> id_scratch_;
};

}  // namespace picklevm

#endif  // PICKLEVM_VM_GRAPH_GRAPH_H_
