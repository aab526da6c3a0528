// The value positions of the graph, in document order: the one definition
// of "child" that the emitters, the depth check and the policy's reference
// check share (graph-json.md, "Only value positions count").
#ifndef PICKLEVM_VM_GRAPH_WALK_H_
#define PICKLEVM_VM_GRAPH_WALK_H_

#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "vm/graph/node.h"

namespace picklevm {

// Runs of children that nodes share without copying them: the arguments of
// calls that view one memoized args tuple (Machine::LastingArgs), the
// keywords of calls that take one kwargs dict, the elements of object
// arrays built from one list.  A walk that only asks what is reachable
// (the machine's reference walks) passes one to ForEachChild and visits
// each such run once, not once per node that shares it: 20,000 calls of
// one 100,000-item tuple would be 2e9 visits.  A short run is cheaper to
// visit again than to look up.
class SharedRuns {
 public:
  bool First(const void* data, uint64_t size) {
    if (size < kShort) return true;
    return seen_.insert({data, size}).second;
  }

 private:
  static constexpr uint64_t kShort = 16;
  absl::flat_hash_set<std::pair<const void*, uint64_t>> seen_;
};

// Calls fn(Node*) for each child of `n` in a value position, in the order a
// document writes them; with `runs`, a shared run of children only the
// first time (see SharedRuns).
template <typename Fn>
void ForEachChild(const Node* n, Fn&& fn, SharedRuns* runs = nullptr) {
  auto first = [runs](const void* data, uint64_t size) {
    return runs == nullptr || runs->First(data, size);
  };
  switch (n->kind) {
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kSlice:
      for (uint32_t i = 0; i < n->size(); ++i) fn(n->at(i));
      break;
    case Kind::kDict:
      for (Entry e : n->a.dict->items()) {
        fn(e.key);
        fn(e.value);
      }
      break;
    case Kind::kSet:
    case Kind::kFrozenSet:
      for (Node* item : n->a.set->items) fn(item);
      break;
    case Kind::kObject:
    case Kind::kCall: {
      const Record* r = n->a.rec;
      if (n->kind == Kind::kCall && r->callable->kind != Kind::kGlobal) {
        fn(r->callable);  // record mode: calling a value
      }
      if (first(r->args.data, r->args.size)) {
        for (Node* arg : r->args) fn(arg);
      }
      if (r->kwargs != nullptr && first(r->kwargs, r->kwargs_size)) {
        for (uint32_t i = 0; i < r->kwargs_size; ++i) {
          fn(r->kwargs->a.dict->value(i));
        }
      }
      if (r->state != nullptr) fn(r->state);
      for (Node* item : r->items) fn(item);
      for (Entry e : r->dictitems.items()) {
        fn(e.key);
        fn(e.value);
      }
      break;
    }
    case Kind::kPersId:
      fn(n->a.target);
      break;
    case Kind::kNDArray:  // object arrays: their elements are values
      if (first(n->a.array->items, n->a.array->item_count)) {
        for (uint64_t i = 0; i < n->a.array->item_count; ++i) {
          fn(n->a.array->items[i]);
        }
      }
      break;
    default:
      break;
  }
}

// Whether ForEachChild may call fn for `n` (it is false for most of a
// model's nodes: numbers, strings, bytes, dtypes, numeric arrays, globals),
// so a walk need not keep or revisit such a node.
inline bool MayHaveChildren(const Node* n) {
  switch (n->kind) {
    case Kind::kList:
    case Kind::kTuple:
    case Kind::kSlice:
    case Kind::kDict:
    case Kind::kSet:
    case Kind::kFrozenSet:
    case Kind::kObject:
    case Kind::kCall:
    case Kind::kPersId:
      return true;
    case Kind::kNDArray:
      return n->a.array->item_count > 0;
    default:
      return false;
  }
}

// Whether a value of this kind is written with $id/$ref when shared.
inline bool IsWrappable(const Node* n) {
  switch (n->kind) {
    case Kind::kNone:
    case Kind::kBool:
    case Kind::kInt:
    case Kind::kBigInt:
    case Kind::kFloat:
    case Kind::kStr:
    case Kind::kGlobal:
      return false;
    default:
      return true;
  }
}

}  // namespace picklevm

#endif  // PICKLEVM_VM_GRAPH_WALK_H_
