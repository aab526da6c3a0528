// The "Strictness" list of graph-json.md: each rule is an error (kStrict)
// in a strict load, and in record mode the stream runs as CPython 3.11's
// pickle.loads would run it (the CPython result is in each comment).
#include <string>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace picklevm {
namespace {

using pvtest::Load;
using pvtest::LoadWith;
using pvtest::Py;
using pvtest::RecordErr;
using pvtest::RecordPy;
using pvtest::StrictErr;
using pvtest::StrictPy;

bool HasWarningContaining(const RunResult& r, std::string_view needle) {
  for (const std::string& w : r.warnings) {
    if (w.find(needle) != std::string::npos) return true;
  }
  return false;
}

// ---- items left on the stack at STOP --------------------------------------------

TEST(StrictLeftovers, ItemsBelowTheResult) {
  // pickle.loads(b'K\x01K\x02.') -> 2 (the 1 is silently dropped)
  EXPECT_EQ(StrictErr(R"(K\x01K\x02.)"), "strict@4 STOP");
  EXPECT_EQ(RecordPy(R"(K\x01K\x02.)"), "2");
}

TEST(StrictLeftovers, MessageCountsTheItems) {
  auto o = Load(Py(R"(K\x01K\x02K\x03.)"));
  EXPECT_EQ(o->message(), "offset 6 (STOP): 2 items left on the stack at STOP");
}

// ---- STOP inside an open MARK -------------------------------------------------------

TEST(StrictOpenMark, StopInsideMark) {
  // pickle.loads(b'(K\x01.') -> 1 (the MARK is forgotten)
  EXPECT_EQ(StrictErr(R"((K\x01.)"), "strict@3 STOP");
  EXPECT_EQ(RecordPy(R"((K\x01.)"), "1");
  // pickle.loads(b'K\x01(K\x02.') -> 2
  EXPECT_EQ(StrictErr(R"(K\x01(K\x02.)"), "strict@5 STOP");
  EXPECT_EQ(RecordPy(R"(K\x01(K\x02.)"), "2");
}

TEST(StrictOpenMark, NothingAboveTheMark) {
  // UnpicklingError: unexpected MARK found (STOP cannot pop across it)
  EXPECT_EQ(RecordErr(R"(K\x01(.)"), "stack-underflow@3 STOP");
  EXPECT_EQ(StrictErr(R"(K\x01(.)"), "strict@3 STOP");
}

// ---- policy coverage: one call, one hit -----------------------------------------------

TEST(StrictPolicyUsage, EachCallOfAnAdmittedClassCountsOneHit) {
  // C() by REDUCE, twice (C is a class admitted for call, no builder): the
  // rule admitted two calls.  (It was asked twice per call, and counted
  // four.)
  auto p = pvtest::MakePolicy({{"__main__:C", pvtest::kCallUse}});
  MachineOptions o;
  o.policy = p.get();
  auto out = LoadWith(Py(R"(c__main__\nC\nq\x00)R0h\x00)R.)"), o);
  ASSERT_TRUE(out->ok()) << out->message();
  EXPECT_EQ(out->json,
            R"({"$object":{"class":"__main__:C","via":"call"}})");
  uint64_t hits = 0;
  for (const auto& use : p->Usage()) {
    if (use.text == "__main__:C") hits += use.hits;
  }
  EXPECT_EQ(hits, 2u);
}

// ---- globals in value positions --------------------------------------------------------
// The reference check skips its walk of the graph when every push of a
// global the policy does not admit as a value was popped again as a
// callable.  f is admitted for call only: each stream below calls it once
// and also leaves it, by another way onto the stack, in a value position,
// which must still be refused at the GLOBAL that made it.

std::string StrictWithCallOnlyF(const std::string& literal) {
  auto p = pvtest::MakePolicy({{"__main__:f", pvtest::kCallUse},
                               {"__main__:C", pvtest::kCallUse}});
  MachineOptions o;
  o.policy = p.get();
  auto out = LoadWith(Py(literal), o);
  if (out->ok()) return out->json;
  return pvtest::ErrorAt(*out) + " " + out->error.reason;
}

TEST(StrictReferences, ACallDoesNotHideAnotherUseOfTheSameGlobal) {
  const std::string refused =
      "refused@0 GLOBAL global '__main__:f' is not admitted for reference";
  // [f] after f(): BINPUT, then BINGET (the fast path's memo read).
  EXPECT_EQ(StrictWithCallOnlyF(R"(c__main__\nf\nq\x00)R0]h\x00a.)"),
            refused);
  // The same with protocol 0's PUT and GET lines.
  EXPECT_EQ(StrictWithCallOnlyF(R"(c__main__\nf\np0\n(tR0(lg0\na.)"),
            refused);
  // A sparse memo index (the general path's memo read).
  EXPECT_EQ(StrictWithCallOnlyF(
                R"(c__main__\nf\nr\x40\x42\x0f\x00)R0]j\x40\x42\x0f\x00a.)"),
            refused);
  // DUP: one copy called, the other packed into a tuple (after PROTO 2).
  EXPECT_EQ(StrictWithCallOnlyF(R"(\x80\x02c__main__\nf\n2)R0\x85.)"),
            "refused@2 GLOBAL global '__main__:f' is not admitted for "
            "reference");
  // f as the root, never called.
  EXPECT_EQ(StrictWithCallOnlyF(R"(c__main__\nf\n.)"), refused);
}

TEST(StrictReferences, AClassNamedByInstIsNotAPopFromTheStack) {
  // C() by INST (C is never on the stack), then [f]: had INST's class
  // counted as a global popped to be called, it would balance f's push.
  auto p = pvtest::MakePolicy({{"__main__:f", pvtest::kCallUse},
                               {"__main__:C", pvtest::kCallUse}});
  MachineOptions o;
  o.policy = p.get();
  auto out = LoadWith(Py(R"((i__main__\nC\n0]c__main__\nf\na.)"), o);
  EXPECT_EQ(pvtest::ErrorAt(*out), "refused@15 GLOBAL");
}

TEST(StrictReferences, GlobalsOnlyCalledLoad) {
  // f() twice through the memo: no f in a value position.
  EXPECT_EQ(StrictWithCallOnlyF(R"(c__main__\nf\nq\x00)R0h\x00)R.)"),
            R"({"$object":{"class":"__main__:f","via":"call"}})");
}

// ---- arguments: one tuple, many calls ---------------------------------------------------

TEST(RecordCalls, OneArgsTupleUnpackedByManyCallsIsHeldOnce) {
  // os.system(*T) three times, T = (None, None, None) through the memo:
  // the three records and the call log hold T's own items (a stream could
  // otherwise make one copy of a big T per call).
  MachineOptions o;
  o.mode = Mode::kRecord;
  auto out = LoadWith(
      Py(R"(cos\nsystem\nq\x00(NNNtq\x01]h\x00h\x01R0h\x00h\x01R0)"
         R"(h\x00h\x01R.)"),
      o);
  ASSERT_TRUE(out->ok()) << out->message();
  EXPECT_EQ(out->json,
            R"({"$call":{"callable":"os:system","args":[null,null,null],)"
            R"("kwargs":{},"offset":37}})");
  const auto& calls = out->result.calls;
  ASSERT_EQ(calls.size(), 3u);
  for (const CallEvent& c : calls) {
    ASSERT_EQ(c.args.size(), 3u);
    EXPECT_EQ(c.args.data(), calls[0].args.data());
    EXPECT_EQ(c.result->a.rec->args.data, calls[0].args.data());
  }
}

TEST(RecordCalls, ArgumentsOffTheStackAreCopied) {
  // OBJ's arguments come off the stack, not from a tuple: each call keeps
  // its own, and they are what the stream pushed.
  MachineOptions o;
  o.mode = Mode::kRecord;
  auto out = LoadWith(Py(R"(](cos\nsystem\nK\x01K\x02K\x03oa.)"), o);
  ASSERT_TRUE(out->ok()) << out->message();
  ASSERT_EQ(out->result.calls.size(), 1u);
  const CallEvent& c = out->result.calls[0];
  ASSERT_EQ(c.args.size(), 3u);
  EXPECT_EQ(c.args[0]->a.i, 1);
  EXPECT_EQ(c.args[2]->a.i, 3);
}

// ---- a second BUILD on one object -----------------------------------------------------

constexpr char kTwoBuilds[] =
    R"(c__main__\nC\n)\x81}U\x01xK\x01sb}U\x01yK\x02sb.)";

TEST(StrictBuild, SecondBuildOnAnObject) {
  auto p = pvtest::MakePolicy({{"__main__:C", pvtest::kInst}});
  MachineOptions o;
  o.policy = p.get();
  EXPECT_EQ(pvtest::ErrorAt(*LoadWith(Py(kTwoBuilds), o)), "strict@29 BUILD");
  // One BUILD is fine.
  EXPECT_EQ(pvtest::Summary(*LoadWith(Py(R"(c__main__\nC\n)\x81}b.)"), o)),
            R"({"$object":{"class":"__main__:C","via":"new","state":{}}})");
}

TEST(StrictBuild, SecondBuildInRecordMode) {
  // CPython applies both states: C.__dict__ == {'x': 1, 'y': 2}.  Record
  // mode keeps the last state and reports the second BUILD as a warning.
  auto p = pvtest::MakePolicy({{"__main__:C", pvtest::kInst}});
  MachineOptions o;
  o.mode = Mode::kRecord;
  o.policy = p.get();
  auto out = LoadWith(Py(kTwoBuilds), o);
  ASSERT_TRUE(out->ok()) << out->message();
  EXPECT_EQ(out->json,
            R"({"$object":{"class":"__main__:C","via":"new","state":{"y":2}}})");
  EXPECT_TRUE(HasWarningContaining(out->result, "second BUILD"));
  EXPECT_TRUE(HasWarningContaining(out->result, "offset 29"));
}

TEST(StrictBuild, BuildOnPlainData) {
  // pickle.loads(b'K\x01Nb.') -> 1 (a None state is a no-op); b']Nb.' -> []
  EXPECT_EQ(StrictErr(R"(K\x01Nb.)"), "strict@3 BUILD");
  EXPECT_EQ(RecordPy(R"(K\x01Nb.)"), "1");
  EXPECT_EQ(RecordPy(R"(]Nb.)"), "[]");
  // AttributeError: 'int' object has no attribute '__dict__'
  EXPECT_EQ(RecordErr(R"(K\x01}b.)"), "value@3 BUILD");
  // AttributeError: 'list' object has no attribute '__dict__'
  EXPECT_EQ(RecordErr(R"(]}U\x01xK\x01sb.)"), "value@8 BUILD");
}

TEST(StrictBuild, NoneSlotStateOnPlainDataInRecordMode) {
  // pickle.loads(b']NN\x86b.'): UnpicklingError: slot state is not a
  // dictionary.  The C unpickler splits a 2-tuple state into (state,
  // slotstate) and requires slotstate to be a dict whenever it is present,
  // even None (only the pure-Python pickle._loads tolerates it).  A bare
  // None state is the only no-op (b']Nb.' -> [], above).
  EXPECT_EQ(RecordErr(R"(]NN\x86b.)"), "value@4 BUILD");
}

// ---- SETITEM(S) on a non-dict ----------------------------------------------------------

// A BUILD state may not set a dunder attribute (__setstate__, __reduce__,
// __class__ ...: what later opcodes or Python itself would call).  The
// keys of a dict that shares a key sequence (Shape) are looked at once, when
// the sequence is made; a dict with keys of its own, and a slot state, are
// looked at each time.  CPython would load all but the slot state (setting
// __class__ to an int is its TypeError): [OrderedDict(), OrderedDict()].
TEST(StrictBuild, DunderStateKeysAreRefusedWhereverTheKeysLive) {
  // One shared key, the dunder.
  EXPECT_EQ(StrictErr(R"(\x80\x02ccollections\nOrderedDict\n)R}()"
                      R"(X\x0c\x00\x00\x00__setstate__K\x01ub.)"),
            "refused@51 BUILD");
  // {a, b} built once without a dunder, then {a, b, __reduce__}: the
  // second dict's sequence extends the first's.
  EXPECT_EQ(StrictErr(R"(\x80\x02]ccollections\nOrderedDict\n)R}(X\x01\x00)"
                      R"(\x00\x00aK\x01X\x01\x00\x00\x00bK\x02ubaccollections)"
                      R"(\nOrderedDict\n)R}(X\x01\x00\x00\x00aK\x01X\x01\x00)"
                      R"(\x00\x00bK\x02X\n\x00\x00\x00__reduce__K\x03uba.)"),
            "refused@114 BUILD");
  // A float key first: the dict keeps its own keys.
  EXPECT_EQ(StrictErr(R"(\x80\x02ccollections\nOrderedDict\n)R}(G?\xf8\x00)"
                      R"(\x00\x00\x00\x00\x00K\x00X\t\x00\x00\x00__class__)"
                      R"(K\x01ub.)"),
            "refused@59 BUILD");
  // (None, {'__class__': 1}): the slot state.
  EXPECT_EQ(StrictErr(R"(\x80\x02ccollections\nOrderedDict\n)RN}()"
                      R"(X\t\x00\x00\x00__class__K\x01u\x86b.)"),
            "refused@50 BUILD");
  // The same sequences without a dunder load.
  EXPECT_EQ(StrictErr(R"(\x80\x02]ccollections\nOrderedDict\n)R}(X\x01\x00)"
                      R"(\x00\x00aK\x01X\x01\x00\x00\x00bK\x02ubaccollections)"
                      R"(\nOrderedDict\n)R}(X\x01\x00\x00\x00aK\x01X\x01\x00)"
                      R"(\x00\x00bK\x02uba.)"),
            "ok");
}

TEST(StrictSetitems, OnAList) {
  EXPECT_EQ(StrictErr(R"((K\x01K\x02lK\x00K\x09s.)"), "strict@10 SETITEM");
  EXPECT_EQ(StrictErr(R"((K\x01K\x02l(K\x00K\x09u.)"), "strict@11 SETITEMS");
}

TEST(StrictSetitems, OnATupleInRecordMode) {
  // TypeError: 'tuple' object does not support item assignment
  EXPECT_EQ(RecordErr(R"(K\x01\x85K\x00K\x02s.)"), "value@7 SETITEM");
  EXPECT_EQ(StrictErr(R"(K\x01\x85K\x00K\x02s.)"), "strict@7 SETITEM");
}

TEST(StrictSetitems, OnAListInRecordModeAssignsLikeCPython) {
  // pickle.loads(b'(K\x01K\x02lK\x00K\x09s.') -> [9, 2]: SETITEM calls
  // list.__setitem__(0, 9).  Record mode must run on as CPython does.
  EXPECT_EQ(RecordPy(R"((K\x01K\x02lK\x00K\x09s.)"), "[9,2]");
  // pickle.loads(b'(K\x01K\x02l(K\x00K\x09u.') -> [9, 2]
  EXPECT_EQ(RecordPy(R"((K\x01K\x02l(K\x00K\x09u.)"), "[9,2]");
}

TEST(StrictSetitems, EmptySetitemsLooksAtNothing) {
  // pickle.loads(b'](u.') -> []: CPython returns before touching the target.
  EXPECT_EQ(RecordPy("](u."), "[]");
}

TEST(StrictSetitems, OnARecordedCall) {
  // CPython calls __setitem__ on whatever the call returned; record mode
  // keeps the items on the $call.
  EXPECT_EQ(RecordPy(R"(cos\nenviron_factory\n)RU\x01aK\x01s.)"),
            R"({"$call":{"callable":"os:environ_factory","args":[],)"
            R"("kwargs":{},"dictitems":[["a",1]],"offset":21}})");
}

// ---- APPEND(S) on a non-list ----------------------------------------------------------

TEST(StrictAppends, OnADict) {
  // AttributeError: 'dict' object has no attribute 'append'
  EXPECT_EQ(StrictErr(R"(}K\x01a.)"), "strict@3 APPEND");
  EXPECT_EQ(RecordErr(R"(}K\x01a.)"), "value@3 APPEND");
  EXPECT_EQ(StrictErr(R"(}(K\x01e.)"), "strict@4 APPENDS");
  // AttributeError: 'tuple' object has no attribute 'append'
  EXPECT_EQ(RecordErr(R"(K\x01\x85K\x02a.)"), "value@5 APPEND");
}

TEST(StrictAppends, EmptyAppendsLooksAtNothing) {
  // pickle.loads(b'}(e.') -> {}
  EXPECT_EQ(RecordPy("}(e."), "{}");
}

TEST(StrictAppends, OnAByteArray) {
  EXPECT_EQ(
      StrictErr(R"(\x96\x00\x00\x00\x00\x00\x00\x00\x00K\x41a.)"),
      "strict@11 APPEND");
}

TEST(StrictAppends, OnAByteArrayInRecordModeAppendsLikeCPython) {
  // pickle.loads(b'\x96' + 8 * b'\x00' + b'KAa.') -> bytearray(b'A'), and
  // with APPENDS (bytearray.extend) -> bytearray(b'AB').
  EXPECT_EQ(RecordPy(R"(\x96\x00\x00\x00\x00\x00\x00\x00\x00K\x41a.)"),
            R"({"$bytearray":"QQ=="})");
  EXPECT_EQ(RecordPy(R"(\x96\x00\x00\x00\x00\x00\x00\x00\x00(K\x41K\x42e.)"),
            R"({"$bytearray":"QUI="})");
}

TEST(StrictAppends, OnARecordedCall) {
  EXPECT_EQ(RecordPy(R"(cos\nlist_factory\n)R(K\x01K\x02e.)"),
            R"({"$call":{"callable":"os:list_factory","args":[],)"
            R"("kwargs":{},"items":[1,2],"offset":18}})");
}

// ---- ADDITEMS on a non-set ------------------------------------------------------------

TEST(StrictAdditems, OnAList) {
  // AttributeError: 'list' object has no attribute 'add'
  EXPECT_EQ(StrictErr(R"(](K\x01\x90.)"), "strict@4 ADDITEMS");
  EXPECT_EQ(RecordErr(R"(](K\x01\x90.)"), "value@4 ADDITEMS");
}

TEST(StrictAdditems, OnAFrozenset) {
  // AttributeError: 'frozenset' object has no attribute 'add'
  EXPECT_EQ(StrictErr(R"((\x91(K\x01\x90.)"), "strict@5 ADDITEMS");
  EXPECT_EQ(RecordErr(R"((\x91(K\x01\x90.)"), "value@5 ADDITEMS");
}

TEST(StrictAdditems, EmptyAdditemsLooksAtNothing) {
  // pickle.loads(b'](\x90.') -> []
  EXPECT_EQ(RecordPy(R"(](\x90.)"), "[]");
}

TEST(StrictAdditems, OnARecordedCall) {
  // CPython calls .add() on the call's result.
  EXPECT_EQ(RecordPy(R"(cos\nset_factory\n)R(K\x01\x90.)"),
            R"({"$call":{"callable":"os:set_factory","args":[],)"
            R"("kwargs":{},"items":[1],"offset":17}})");
}

// ---- REDUCE whose argument is not a tuple -----------------------------------------------

TEST(StrictReduce, ArgumentNotATuple) {
  // TypeError: argument list must be a tuple
  EXPECT_EQ(StrictErr(R"(cbuiltins\nset\n]R.)"), "strict@15 REDUCE");
  EXPECT_EQ(RecordErr(R"(cbuiltins\nset\n]R.)"), "type@15 REDUCE");
  EXPECT_EQ(RecordErr(R"(cbuiltins\nset\nNR.)"), "type@15 REDUCE");
}

// ---- dotted qualname below protocol 4 -----------------------------------------------------

TEST(StrictDotted, BelowProtocol4) {
  EXPECT_EQ(StrictErr(R"(\x80\x02cos\npath.join\n.)"), "strict@2 GLOBAL");
  EXPECT_EQ(StrictErr(R"(cos\npath.join\n.)"), "strict@0 GLOBAL");
  EXPECT_EQ(StrictErr(R"(\x80\x03cbuiltins\nlist.append\n.)"),
            "strict@2 GLOBAL");
  EXPECT_EQ(StrictErr(R"(\x80\x02\x8c\x02os\x8c\x09path.join\x93.)"),
            "strict@17 STACK_GLOBAL");
}

TEST(StrictDotted, FromProtocol4) {
  // pickle.loads(b'\x80\x04cos\npath.join\n.') -> os.path.join
  EXPECT_EQ(RecordPy(R"(\x80\x04cos\npath.join\n.)"),
            R"({"$global":"os:path.join"})");
}

TEST(StrictDotted, RecordModeNamesItWithAWarning) {
  // CPython 3.11: AttributeError: Can't get attribute 'path.join' on
  // <module 'os'> -- below protocol 4 the name is one getattr.  Record mode
  // deliberately goes on (a trace shows what the stream names) and warns.
  auto o = Load(Py(R"(\x80\x02cos\npath.join\n.)"), Mode::kRecord);
  ASSERT_TRUE(o->ok()) << o->message();
  EXPECT_EQ(o->json, R"({"$global":"os:path.join"})");
  EXPECT_TRUE(HasWarningContaining(o->result, "offset 2"));
  EXPECT_TRUE(HasWarningContaining(o->result, "'path.join'"));
}

}  // namespace
}  // namespace picklevm
