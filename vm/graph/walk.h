// The value positions of the graph, in document order: the one definition
// of "child" that the emitters, the depth check and the policy's reference
// check share (graph-json.md, "Only value positions count").
#ifndef PICKLEVM_VM_GRAPH_WALK_H_
#define PICKLEVM_VM_GRAPH_WALK_H_

#include "vm/graph/node.h"

namespace picklevm {

// Calls fn(Node*) for each child of `n` in a value position, in the order a
// document writes them.
template <typename Fn>
void ForEachChild(const Node* n, Fn&& fn) {
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
      for (Node* arg : r->args) fn(arg);
      if (r->kwargs != nullptr) {
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
      for (uint64_t i = 0; i < n->a.array->item_count; ++i) {
        fn(n->a.array->items[i]);
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
