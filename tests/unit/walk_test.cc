// vm/graph/walk.h: MayHaveChildren must be true for every node that
// ForEachChild finds a child under.  The policy's reference walks
// (CheckReferences, RecordGlobals) skip the nodes it calls childless, so a
// kind it missed would hide a global that needs a reference rule -- and the
// fuzzers' fast-versus-general comparison cannot see that, both paths
// sharing the walk.

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "vm/graph/walk.h"
#include "vm/policy/allowlist.h"

namespace picklevm {
namespace {

using pvtest::LoadWith;
using pvtest::Py;

// Every node reachable from the roots, each once.
std::vector<const Node*> Reachable(const std::vector<const Node*>& roots) {
  std::set<const Node*> seen;
  std::vector<const Node*> todo = roots, out;
  while (!todo.empty()) {
    const Node* n = todo.back();
    todo.pop_back();
    if (n == nullptr || !seen.insert(n).second) continue;
    out.push_back(n);
    ForEachChild(n, [&](Node* c) { todo.push_back(c); });
  }
  return out;
}

// One stream for each kind that can have children (and a few that cannot),
// loaded in record mode under the shipped policy, so calls and persistent
// ids are kept as nodes.  The object array is numpy's pickle of
// np.array([set, 0, 1, 2], dtype=object) inside a list.
const char* const kStreams[] = {
    R"(\x80\x04]K\x01a.)",                              // list
    R"(\x80\x04K\x01K\x02\x86.)",                       // tuple
    R"(\x80\x04}K\x01K\x02s.)",                         // dict
    R"(\x80\x04\x8f(K\x01\x90.)",                       // set
    R"(\x80\x04(K\x01\x91.)",                           // frozenset
    "\\x80\\x02c__builtin__\nslice\nK\\x01K\\x02N\\x87R.",  // slice
    "\\x80\\x02ccollections\nOrderedDict\n)R(K\\x01K\\x02u.",  // object
    "\\x80\\x02cos\nsystem\nX\\x02\\x00\\x00\\x00ls\\x85R.",   // call
    R"(\x80\x04K\x01Q.)",                               // persistent id
    "\\x80\\x02]cnumpy.core.multiarray\n_reconstruct\nq\\x00cnumpy\nndarray\n"
    "q\\x01K\\x00\\x85q\\x02c_codecs\nencode\nq\\x03X\\x01\\x00\\x00\\x00bq\\x04"
    "X\\x06\\x00\\x00\\x00latin1q\\x05\\x86q\\x06Rq\\x07\\x87q\\x08Rq\\t(K\\x01"
    "K\\x04\\x85q\\ncnumpy\ndtype\nq\\x0bX\\x02\\x00\\x00\\x00O8q\\x0c\\x89\\x88"
    "\\x87q\\rRq\\x0e(K\\x03X\\x01\\x00\\x00\\x00|q\\x0fNNNJ\\xff\\xff\\xff\\xff"
    "J\\xff\\xff\\xff\\xffK?tq\\x10b\\x89]q\\x11(cbuiltins\nset\nK\\x00K\\x01"
    "K\\x02etq\\x12ba.",                                // object ndarray
    R"(\x80\x04G?\xf0\x00\x00\x00\x00\x00\x00C\x01x\x86.)",  // leaves
};

TEST(Walk, MayHaveChildrenHoldsForEveryNodeWithChildren) {
  auto policy = BuildPolicy(false, {});
  ASSERT_TRUE(policy.ok()) << policy.status();
  std::set<Kind> with_children;
  for (const char* literal : kStreams) {
    MachineOptions o;
    o.mode = Mode::kRecord;
    o.policy = policy->get();
    auto out = LoadWith(Py(literal), o);
    ASSERT_TRUE(out->ok()) << literal << ": " << out->message();
    std::vector<const Node*> roots = {out->result.root};
    for (const CallEvent& c : out->result.calls) {
      roots.push_back(c.result);
      for (const Node* a : c.args) roots.push_back(a);
    }
    for (const Node* n : Reachable(roots)) {
      bool any = false;
      ForEachChild(n, [&](Node*) { any = true; });
      if (any) with_children.insert(n->kind);
      EXPECT_TRUE(!any || MayHaveChildren(n))
          << KindName(n->kind) << " has children in " << literal;
    }
  }
  // The streams reach every kind that has children, so a kind added to
  // ForEachChild and not to MayHaveChildren fails above once a stream here
  // makes one.
  for (Kind k : {Kind::kList, Kind::kTuple, Kind::kDict, Kind::kSet,
                 Kind::kFrozenSet, Kind::kSlice, Kind::kObject, Kind::kCall,
                 Kind::kPersId, Kind::kNDArray}) {
    EXPECT_TRUE(with_children.count(k)) << KindName(k) << " not exercised";
  }
}

// A global inside an object array inside a list is a value: strict mode
// needs a reference rule for it, and builtins:set has none (CPython would
// have built [array([set, 0, 1, 2], dtype=object)]).
TEST(Walk, StrictFindsAGlobalInsideAnObjectArray) {
  auto policy = BuildPolicy(false, {});
  ASSERT_TRUE(policy.ok()) << policy.status();
  MachineOptions o;
  o.policy = policy->get();
  auto out = LoadWith(Py(kStreams[9]), o);
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(pvtest::ErrorAt(*out), "refused@189 GLOBAL");
  EXPECT_EQ(out->message(),
            "offset 189 (GLOBAL): global 'builtins:set' is not admitted for "
            "reference");
}

}  // namespace
}  // namespace picklevm
