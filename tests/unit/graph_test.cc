// Python's dict/set key semantics in the graph: which keys are equal, which
// are unhashable, insertion order, and that replacement keeps the first key.
// Stream-level cases give CPython 3.11's pickle.loads result in a comment.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "vm/graph/graph.h"

namespace picklevm {
namespace {

using pvtest::Py;
using pvtest::RecordErr;
using pvtest::RecordPy;
using pvtest::StrictErr;
using pvtest::StrictPy;

// ---- numeric equality: 1 == 1.0 == True == complex(1, 0) ----------------------------

TEST(GraphKeys, IntFloatBoolAreOneKey) {
  // {1: 'a', 1.0: 'b', True: 'c'} -> {1: 'c'}
  EXPECT_EQ(StrictPy(R"(}(K\x01U\x01aG?\xf0\x00\x00\x00\x00\x00\x00U\x01b\x88)"
                     R"(U\x01cu.)"),
            R"({"$dict":[[1,"c"]]})");
  // {True: 'a', 1: 'b'} -> {True: 'b'}
  EXPECT_EQ(StrictPy(R"(}(\x88U\x01aK\x01U\x01bu.)"),
            R"({"$dict":[[true,"b"]]})");
}

TEST(GraphKeys, ComplexWithZeroImaginaryEqualsTheReal) {
  // d[1] = 'a'; d[complex(1, 0)] = 'b' -> {1: 'b'}
  EXPECT_EQ(StrictPy(R"(}K\x01U\x01asc__builtin__\ncomplex\n(K\x01K\x00tRU\x01bs.)"),
            R"({"$dict":[[1,"b"]]})");
  // d[complex(1, 0)] = 'b'; d[1] = 'a' -> {(1+0j): 'a'}
  EXPECT_EQ(StrictPy(R"(}c__builtin__\ncomplex\n(K\x01K\x00tRU\x01bsK\x01U\x01as.)"),
            R"({"$dict":[[{"$complex":[1.0,0.0]},"a"]]})");
}

TEST(GraphKeys, FalseZeroAndNegativeZero) {
  // {False: 'a', -0.0: 'b', 0: 'c'} -> {False: 'c'}
  EXPECT_EQ(StrictPy(R"(}(\x89U\x01aG\x80\x00\x00\x00\x00\x00\x00\x00U\x01b)"
                     R"(K\x00U\x01cu.)"),
            R"({"$dict":[[false,"c"]]})");
}

TEST(GraphKeys, BigIntEqualsItsIntegralFloat) {
  // {2**63: 'a', 9.223372036854776e18: 'b'} -> {9223372036854775808: 'b'}
  EXPECT_EQ(StrictPy(R"(}(\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00U\x01a)"
                     R"(GC\xe0\x00\x00\x00\x00\x00\x00U\x01bu.)"),
            R"({"$dict":[[{"$int":"9223372036854775808"},"b"]]})");
}

TEST(GraphKeys, IntAbove2To53IsNotTheRoundedFloat) {
  // {2**53 + 1: 'a', 2.0**53: 'b'} keeps both keys.
  EXPECT_EQ(StrictPy(R"(}(\x8a\x07\x01\x00\x00\x00\x00\x00\x20U\x01a)"
                     R"(GC@\x00\x00\x00\x00\x00\x00U\x01bu.)"),
            R"({"$dict":[[{"$int":"9007199254740993"},"a"],[9007199254740992.0,"b"]]})");
}

// ---- nan: equal only to itself ---------------------------------------------------------

TEST(GraphKeys, TwoNansAreTwoKeys) {
  // {nan: 'a', nan: 'b'}: two float objects, each equal only to itself.
  EXPECT_EQ(StrictPy(R"(}(G\x7f\xf8\x00\x00\x00\x00\x00\x00U\x01a)"
                     R"(G\x7f\xf8\x00\x00\x00\x00\x00\x00U\x01bu.)"),
            R"({"$dict":[[{"$float":"nan"},"a"],[{"$float":"nan"},"b"]]})");
}

TEST(GraphKeys, TheSameNanThroughTheMemoIsOneKey) {
  // {nan: 'b'}: the second key is the same object (BINGET).
  EXPECT_EQ(StrictPy(R"(}(G\x7f\xf8\x00\x00\x00\x00\x00\x00q\x00U\x01ah\x00)"
                     R"(U\x01bu.)"),
            R"({"$dict":[[{"$float":"nan"},"b"]]})");
}

// ---- str, bytes, tuples, frozensets, globals ---------------------------------------------

TEST(GraphKeys, StrAndBytesDiffer) {
  // {'a': 1, b'a': 2}
  EXPECT_EQ(StrictPy(R"(}(U\x01aK\x01C\x01aK\x02u.)"),
            R"({"$dict":[["a",1],[{"$bytes":"YQ=="},2]]})");
}

TEST(GraphKeys, StrByContentWhateverTheOpcode) {
  // SHORT_BINSTRING, SHORT_BINUNICODE and BINUNICODE 'a' -> {'a': 3}
  EXPECT_EQ(StrictPy(R"(}(U\x01aK\x01\x8c\x01aK\x02X\x01\x00\x00\x00aK\x03u.)"),
            R"({"a":3})");
}

TEST(GraphKeys, TuplesElementWise) {
  // {(1, 2): 'a', (1.0, 2): 'b'} -> {(1, 2): 'b'}
  EXPECT_EQ(StrictPy(R"(}(K\x01K\x02\x86U\x01aG?\xf0\x00\x00\x00\x00\x00\x00)"
                     R"(K\x02\x86U\x01bu.)"),
            R"({"$dict":[[{"$tuple":[1,2]},"b"]]})");
  // {(True,): 'a', (1,): 'b'} -> {(True,): 'b'}
  EXPECT_EQ(StrictPy(R"(}(\x88\x85U\x01aK\x01\x85U\x01bu.)"),
            R"({"$dict":[[{"$tuple":[true]},"b"]]})");
}

TEST(GraphKeys, FrozensetsAsSets) {
  // {frozenset({1, 2}): 'a', frozenset({2, 1}): 'b'} -> one key, 'b'
  EXPECT_EQ(StrictPy(R"(}((K\x01K\x02\x91U\x01a(K\x02K\x01\x91U\x01bu.)"),
            R"({"$dict":[[{"$frozenset":[1,2]},"b"]]})");
}

TEST(GraphKeys, GlobalsByName) {
  // {list} (both GLOBALs resolve to the same class)
  EXPECT_EQ(RecordPy(R"(\x8f(cbuiltins\nlist\ncbuiltins\nlist\n\x90.)"),
            R"({"$set":[{"$global":"builtins:list"}]})");
}

TEST(GraphKeys, RecordedCallsByIdentity) {
  // Two calls give two objects; with default object.__hash__ they are two
  // members.  The same call reached twice (DUP) is one.
  EXPECT_EQ(RecordPy(R"(\x8f(cm\nf\n)Rcm\nf\n)R\x90.)"),
            R"({"$set":[{"$call":{"callable":"m:f","args":[],"kwargs":{},)"
            R"("offset":8}},{"$call":{"callable":"m:f","args":[],"kwargs":{},)"
            R"("offset":15}}]})");
  EXPECT_EQ(RecordPy(R"(\x8f(cm\nf\n)R2\x90.)"),
            R"({"$set":[{"$call":{"callable":"m:f","args":[],"kwargs":{},)"
            R"("offset":8}}]})");
}

TEST(GraphKeys, SurrogateStrKeyIsNotAPlainObjectKey) {
  // {'\ud800': 1}
  EXPECT_EQ(StrictPy(R"(}(X\x03\x00\x00\x00\xed\xa0\x80K\x01u.)"),
            R"({"$dict":[[{"$str":[55296]},1]]})");
}

// ---- unhashable keys -------------------------------------------------------------------

TEST(GraphUnhashable, ListKey) {
  // TypeError: unhashable type: 'list'
  EXPECT_EQ(StrictErr(R"(}]K\x01s.)"), "unhashable@4 SETITEM");
  EXPECT_EQ(RecordErr(R"(}]K\x01s.)"), "unhashable@4 SETITEM");
  EXPECT_EQ(StrictErr(R"((]K\x01d.)"), "unhashable@4 DICT");
}

TEST(GraphUnhashable, ListInsideATupleKey) {
  // TypeError: unhashable type: 'list'
  EXPECT_EQ(StrictErr(R"(}]\x85K\x01s.)"), "unhashable@5 SETITEM");
  auto o = pvtest::Load(Py(R"(}]\x85K\x01s.)"));
  EXPECT_NE(o->message().find("unhashable type: 'list'"), std::string::npos)
      << o->message();
}

TEST(GraphUnhashable, ATupleFoundUnhashableStaysSoWithItsCulprit) {
  // Record mode: T = ([],) memoized; frozenset([T]) breaks the builder's
  // rule (CPython raises TypeError: unhashable type: 'list' there; record
  // mode records the call and goes on); then T as a dict key fails naming
  // the list, as CPython would.  The second look at T comes from the
  // remembered result (Graph::Canon).
  const char* p = R"(\x80\x02]\x85q\x00cbuiltins\nfrozenset\n]h\x00a\x85R0)"
                  R"(}h\x00K\x01s.)";
  auto o = pvtest::Load(Py(p), Mode::kRecord);
  EXPECT_EQ(pvtest::ErrorAt(*o), "unhashable@38 SETITEM");
  EXPECT_NE(o->message().find("unhashable type: 'list'"), std::string::npos)
      << o->message();
}

// Long texts are found by where they live before they are hashed
// (Graph::long_text_ids_): nodes sharing one text get its id without
// hashing it again, and that shortcut must not confuse texts that merely
// start at the same place, or equal texts that live apart.
TEST(GraphCanon, LongTextsSharedOrApart) {
  Graph g;
  const std::string text(1000, 'x');
  const std::string copy = text;
  Node* a = g.NewBytes(Kind::kBytes, text, /*copy=*/false);
  Node* b = g.NewBytes(Kind::kBytes, text, /*copy=*/false);  // shares it
  Node* prefix = g.NewBytes(Kind::kBytes,
                            std::string_view(text).substr(0, 999), false);
  Node* apart = g.NewBytes(Kind::kBytes, copy, /*copy=*/false);
  Node* as_str = g.NewStr(text, /*has_surrogates=*/false, /*copy=*/false);
  uint32_t ia = 0, ib = 0, ip = 0, iapart = 0, istr = 0;
  Node* culprit = nullptr;
  ASSERT_EQ(g.Canon(a, &ia, &culprit), GraphErr::kOk);
  ASSERT_EQ(g.Canon(b, &ib, &culprit), GraphErr::kOk);
  ASSERT_EQ(g.Canon(prefix, &ip, &culprit), GraphErr::kOk);
  ASSERT_EQ(g.Canon(apart, &iapart, &culprit), GraphErr::kOk);
  ASSERT_EQ(g.Canon(as_str, &istr, &culprit), GraphErr::kOk);
  EXPECT_EQ(ia, ib);      // b'x' * 1000 == b'x' * 1000
  EXPECT_EQ(ia, iapart);  // equal bytes elsewhere: still equal
  EXPECT_NE(ia, ip);      // b'x' * 999 differs
  EXPECT_NE(ia, istr);    // 'x' * 1000 != b'x' * 1000 in Python 3
}

TEST(GraphUnhashable, SetMembers) {
  // TypeError: unhashable type: 'list'
  EXPECT_EQ(StrictErr(R"(\x8f(]\x90.)"), "unhashable@3 ADDITEMS");
  EXPECT_EQ(StrictErr(R"((]\x91.)"), "unhashable@2 FROZENSET");
}

TEST(GraphUnhashable, ByteArrayAndSetKeys) {
  // TypeError: unhashable type: 'bytearray' / 'set'
  EXPECT_EQ(StrictErr(R"(}\x96\x00\x00\x00\x00\x00\x00\x00\x00K\x01s.)"),
            "unhashable@12 SETITEM");
  EXPECT_EQ(StrictErr(R"(}(\x8f\x85K\x01u.)"), "unhashable@6 SETITEMS");
  EXPECT_EQ(StrictErr(R"(}(}K\x01u.)"), "unhashable@5 SETITEMS");
}

// ---- order and replacement -----------------------------------------------------------------

TEST(GraphOrder, ReplacementKeepsPositionAndFirstKey) {
  // {1: 'a', 2: 'b', 1.0: 'c'} -> {1: 'c', 2: 'b'}
  EXPECT_EQ(StrictPy(R"(}(K\x01U\x01aK\x02U\x01bG?\xf0\x00\x00\x00\x00\x00\x00)"
                     R"(U\x01cu.)"),
            R"({"$dict":[[1,"c"],[2,"b"]]})");
}

TEST(GraphOrder, SetKeepsTheFirstMember) {
  // {1, True, 1.0} -> {1}; {True, 1} -> {True}
  EXPECT_EQ(StrictPy(R"(\x8f(K\x01\x88G?\xf0\x00\x00\x00\x00\x00\x00\x90.)"),
            R"({"$set":[1]})");
  EXPECT_EQ(StrictPy(R"(\x8f(\x88K\x01\x90.)"), R"({"$set":[true]})");
}

TEST(GraphOrder, PlainObjectFormOnlyForPlainStrKeys) {
  // {'$x': 1}: a key starting with '$' forces the $dict form.
  EXPECT_EQ(StrictPy(R"(}(\x8c\x02$xK\x01u.)"), R"({"$dict":[["$x",1]]})");
  // {'a': 1, 1: 2}
  EXPECT_EQ(StrictPy(R"(}(\x8c\x01aK\x01K\x01K\x02u.)"),
            R"({"$dict":[["a",1],[1,2]]})");
}

// A dict with keys 0..n-1 (values equal to the keys), then d[float(r)] = -1
// for each r in `replace`: exercises the hash index past the linear-scan
// threshold.
std::string BigDictPickle(int n, const std::vector<int>& replace) {
  std::string p = "}(";
  for (int i = 0; i < n; ++i) {
    p += "M";
    p.push_back(static_cast<char>(i & 0xff));
    p.push_back(static_cast<char>(i >> 8));
    p += "M";
    p.push_back(static_cast<char>(i & 0xff));
    p.push_back(static_cast<char>(i >> 8));
  }
  p += "u";
  for (int r : replace) {
    // BINFLOAT of r (exact), value -1.
    double d = r;
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    p += "G";
    for (int k = 7; k >= 0; --k) p.push_back(static_cast<char>(bits >> (8 * k)));
    p += "J\xff\xff\xff\xffs";
  }
  return p + ".";
}

TEST(GraphOrder, ManyKeysThroughTheHashIndex) {
  // d = {i: i for i in range(300)}; d[7.0] = d[150.0] = d[299.0] = -1
  // -> 300 keys in order, those three values replaced.
  std::string expected = "{\"$dict\":[";
  for (int i = 0; i < 300; ++i) {
    if (i) expected += ",";
    int v = (i == 7 || i == 150 || i == 299) ? -1 : i;
    expected += "[" + std::to_string(i) + "," + std::to_string(v) + "]";
  }
  expected += "]}";
  EXPECT_EQ(pvtest::Strict(BigDictPickle(300, {7, 150, 299})), expected);
}

TEST(GraphOrder, ManySetMembers) {
  // set(range(100)) | {50.0, True} -> 100 members in insertion order
  std::string p = R"(\x8f()";
  for (int i = 0; i < 100; ++i) {
    char buf[8];
    snprintf(buf, sizeof buf, "K\\x%02x", i);
    p += buf;
  }
  p += R"(G@I\x00\x00\x00\x00\x00\x00\x88\x90.)";
  std::string expected = "{\"$set\":[";
  for (int i = 0; i < 100; ++i) expected += (i ? "," : "") + std::to_string(i);
  expected += "]}";
  EXPECT_EQ(StrictPy(p), expected);
}

// ---- the Graph API directly --------------------------------------------------------------

TEST(GraphApi, CanonEqualityAndUnhashableCulprit) {
  Graph g;
  uint32_t a, b, c;
  Node* culprit = nullptr;
  ASSERT_EQ(g.Canon(g.NewInt(1), &a, &culprit), GraphErr::kOk);
  ASSERT_EQ(g.Canon(g.NewFloat(1.0), &b, &culprit), GraphErr::kOk);
  ASSERT_EQ(g.Canon(g.Bool(true), &c, &culprit), GraphErr::kOk);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  uint32_t d;
  ASSERT_EQ(g.Canon(g.NewComplex(1.0, 0.0), &d, &culprit), GraphErr::kOk);
  EXPECT_EQ(a, d);
  uint32_t e;
  ASSERT_EQ(g.Canon(g.NewComplex(1.0, 1.0), &e, &culprit), GraphErr::kOk);
  EXPECT_NE(a, e);

  Node* list = g.NewList();
  Node* items[] = {g.NewInt(1), list};
  Node* tuple = g.NewSeq(Kind::kTuple, items);
  uint32_t t;
  EXPECT_EQ(g.Canon(tuple, &t, &culprit), GraphErr::kUnhashable);
  EXPECT_EQ(culprit, list);
  EXPECT_EQ(g.Canon(g.NewSlice(g.None(), g.None(), g.None()), &t, &culprit),
            GraphErr::kUnhashable);
}

TEST(GraphApi, NanIsEqualOnlyToItself) {
  Graph g;
  Node* nan1 = g.NewFloat(std::numeric_limits<double>::quiet_NaN());
  Node* nan2 = g.NewFloat(std::numeric_limits<double>::quiet_NaN());
  uint32_t a, a2, b;
  Node* culprit;
  ASSERT_EQ(g.Canon(nan1, &a, &culprit), GraphErr::kOk);
  ASSERT_EQ(g.Canon(nan1, &a2, &culprit), GraphErr::kOk);
  ASSERT_EQ(g.Canon(nan2, &b, &culprit), GraphErr::kOk);
  EXPECT_EQ(a, a2);
  EXPECT_NE(a, b);
  // (nan1,) == (nan1,) but (nan1,) != (nan2,)  [tuple equality uses identity
  // first, as CPython's PyObject_RichCompare does for containers]
  Node* t1 = g.NewSeq(Kind::kTuple, {nan1});
  Node* t2 = g.NewSeq(Kind::kTuple, {nan1});
  Node* t3 = g.NewSeq(Kind::kTuple, {nan2});
  uint32_t i1, i2, i3;
  g.Canon(t1, &i1, &culprit);
  g.Canon(t2, &i2, &culprit);
  g.Canon(t3, &i3, &culprit);
  EXPECT_EQ(i1, i2);
  EXPECT_NE(i1, i3);
}

TEST(GraphApi, DictSetKeepsFirstKeyObject) {
  Graph g;
  Node* d = g.NewDict();
  Node* k1 = g.NewInt(1);
  Node* k2 = g.NewFloat(1.0);
  ASSERT_EQ(g.DictSet(d->a.dict, k1, g.NewStr("a", false, true)), GraphErr::kOk);
  ASSERT_EQ(g.DictSet(d->a.dict, k2, g.NewStr("b", false, true)), GraphErr::kOk);
  ASSERT_EQ(d->a.dict->size(), 1u);
  EXPECT_EQ(d->a.dict->key(0), k1);
  EXPECT_EQ(d->a.dict->value(0)->str(), "b");
  Node* culprit_key = g.NewList();
  EXPECT_EQ(g.DictSet(d->a.dict, culprit_key, g.None()), GraphErr::kUnhashable);
  EXPECT_EQ(d->a.dict->size(), 1u);
}

// A dict filled one key at a time is first sized by the key sequence the
// shapes' cached transitions lead on to from its first key: the path the
// most recent dicts took at each step, at most kSizeGuessLimit (16) slots.
TEST(GraphApi, DictFilledKeyByKeyIsSizedFromTheLastKeySequences) {
  Graph g;
  std::vector<Node*> keys;
  for (int i = 0; i < 40; ++i) {
    keys.push_back(g.NewStr(std::string(1, static_cast<char>('A' + i)),
                            false, true));
  }
  auto fill = [&](int n) {
    Node* d = g.NewDict();
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(g.DictSet(d->a.dict, keys[i], g.None()), GraphErr::kOk);
    }
    return d->a.dict;
  };
  DictBody* first = fill(1);  // no sequence known yet: exact
  EXPECT_EQ(first->values.capacity, 1u);
  fill(6);                            // A..F
  EXPECT_EQ(fill(1)->values.capacity, 6u);
  fill(2);                            // A, B: B's own transition stays C
  EXPECT_EQ(fill(1)->values.capacity, 6u);
  DictBody* grown = fill(8);          // outgrows the guess of 6
  EXPECT_EQ(grown->size(), 8u);
  EXPECT_GE(grown->values.capacity, 8u);
  fill(40);
  EXPECT_EQ(fill(1)->values.capacity, 16u);  // the limit
}

TEST(GraphApi, NodesTakeSixteenBytesUnlessTheyNeedASecondWord) {
  // Ints, floats and containers' heads are 16 bytes; strs, tuples and the
  // other kinds with a length or a size are 24 (WideNode).
  Graph g;
  size_t before = g.arena().bytes_used();
  for (int i = 0; i < 1000; ++i) ASSERT_NE(g.NewFloat(i + 0.5), nullptr);
  for (int i = 0; i < 1000; ++i) ASSERT_NE(g.NewInt(100000 + i), nullptr);
  EXPECT_EQ(g.arena().bytes_used() - before, 2000u * 16);
  before = g.arena().bytes_used();
  for (int i = 0; i < 1000; ++i) {
    Node* s = g.NewStr("abc", false, false);
    ASSERT_EQ(s->str(), "abc");
  }
  EXPECT_EQ(g.arena().bytes_used() - before, 1000u * 24);
  Node* c = g.NewComplex(1.0, -2.0);
  EXPECT_EQ(c->a.f, 1.0);
  EXPECT_EQ(c->b().f, -2.0);
}

TEST(GraphApi, TuplesOfOneOrTwoHoldTheirItemsInline) {
  Graph g;
  Node* x = g.NewStr("x", false, true);
  Node* y = g.NewFloat(2.5);
  size_t before = g.arena().bytes_used();
  Node* t1 = g.NewSeq(Kind::kTuple, {x});
  Node* t2 = g.NewSeq(Kind::kTuple, {x, y});
  EXPECT_EQ(g.arena().bytes_used() - before, 2u * 24);  // no items arrays
  Node* t3 = g.NewSeq(Kind::kTuple, {x, y, x});
  ASSERT_EQ(t1->size(), 1u);
  EXPECT_EQ(t1->at(0), x);
  ASSERT_EQ(t2->size(), 2u);
  EXPECT_EQ(t2->at(0), x);
  EXPECT_EQ(t2->at(1), y);
  Node* buf[2];
  absl::Span<Node* const> items = t2->Items(buf);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0], x);
  EXPECT_EQ(items[1], y);
  EXPECT_EQ(t1->Items(buf).size(), 1u);
  EXPECT_EQ(t3->Items(buf).data(), t3->a.items);  // not inline: no copy
  EXPECT_EQ(t3->Items(buf).size(), 3u);
  // An inline tuple is the same key as an equal array-backed one.
  Node* list = g.NewList();
  ASSERT_EQ(g.ListExtend(list, {x, y}), GraphErr::kOk);
  Node* from_list = g.NewSeq(Kind::kTuple, {list->at(0), list->at(1)});
  uint32_t id2, id_list;
  Node* culprit;
  ASSERT_EQ(g.Canon(t2, &id2, &culprit), GraphErr::kOk);
  ASSERT_EQ(g.Canon(from_list, &id_list, &culprit), GraphErr::kOk);
  EXPECT_EQ(id2, id_list);
  EXPECT_EQ(pvtest::RootJson(t2), R"({"$tuple":["x",2.5]})");
}

// ---- Dict shapes: small dicts share their key sequence ----------------------

// Keys of `d` in order, as strs (the tests' keys are strs or ints).
std::vector<Node*> KeysOf(const Node* d) {
  std::vector<Node*> out;
  for (Entry e : d->a.dict->items()) out.push_back(e.key);
  return out;
}

TEST(GraphShapes, DictsWithOneKeySequenceShareTheirKeys) {
  Graph g;
  Node* a = g.NewStr("a", false, true);
  Node* b = g.NewStr("b", false, true);
  Node* d1 = g.NewDict();
  Node* d2 = g.NewDict();
  for (Node* d : {d1, d2}) {
    ASSERT_EQ(g.DictSet(d->a.dict, a, g.NewInt(1)), GraphErr::kOk);
    ASSERT_EQ(g.DictSet(d->a.dict, b, g.NewInt(2)), GraphErr::kOk);
  }
  EXPECT_EQ(d1->a.dict->keys, d2->a.dict->keys);  // one key list
  EXPECT_EQ(d1->a.dict->shape, d2->a.dict->shape);
  EXPECT_EQ(KeysOf(d2), (std::vector<Node*>{a, b}));
  // Equal strs that are distinct nodes take the same transition (a str's
  // identity never shows), so a stream that does not memoize its keys
  // still shares them.
  Node* d3 = g.NewDict();
  ASSERT_EQ(g.DictSet(d3->a.dict, g.NewStr("a", false, true), g.None()),
            GraphErr::kOk);
  EXPECT_EQ(d3->a.dict->shape->size, 1u);
  EXPECT_EQ(d3->a.dict->keys, d1->a.dict->keys);
}

TEST(GraphShapes, DivergingSequencesKeepTheirOwnKeys) {
  Graph g;
  auto key = [&g](const char* s) { return g.NewStr(s, false, true); };
  Node* a = key("a");
  Node* b = key("b");
  Node* c = key("c");
  Node* d = key("d");
  Node* abc = g.NewDict();
  Node* abd = g.NewDict();
  Node* abc2 = g.NewDict();
  Node* ba = g.NewDict();
  for (auto [dict, keys] : std::vector<std::pair<Node*, std::vector<Node*>>>{
           {abc, {a, b, c}}, {abd, {a, b, d}}, {abc2, {a, b, c}}, {ba, {b, a}}}) {
    for (Node* k : keys) {
      ASSERT_EQ(g.DictSet(dict->a.dict, k, g.None()), GraphErr::kOk);
    }
  }
  EXPECT_EQ(KeysOf(abc), (std::vector<Node*>{a, b, c}));
  EXPECT_EQ(KeysOf(abd), (std::vector<Node*>{a, b, d}));
  EXPECT_EQ(KeysOf(abc2), (std::vector<Node*>{a, b, c}));
  EXPECT_EQ(KeysOf(ba), (std::vector<Node*>{b, a}));
  EXPECT_EQ(abc->a.dict->shape, abc2->a.dict->shape);
  EXPECT_NE(abc->a.dict->shape, abd->a.dict->shape);
}

// Dicts whose key sequences interleave -- many first keys, sequences
// that share a prefix and then part -- so the shapes' one-entry caches keep
// missing and the recent-transitions table in front of the shape map is
// hit, replaced and collided in.  Every dict must hold its keys in its own
// order, and dicts with one key sequence one shape.
TEST(GraphShapes, InterleavedSequencesKeepTheirOrderAndShareShapes) {
  Graph g;
  std::vector<Node*> keys;
  for (int i = 0; i < 40; ++i) {
    keys.push_back(g.NewStr("k" + std::to_string(i), false, true));
  }
  uint64_t state = 12345;
  auto next = [&state](uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % n;
  };
  // 60 sequences of 1 to 6 distinct keys, each used by several dicts.
  std::vector<std::vector<Node*>> sequences;
  for (int i = 0; i < 60; ++i) {
    std::vector<Node*> seq;
    size_t len = 1 + next(6);
    while (seq.size() < len) {
      Node* k = keys[next(i < 30 ? 8 : keys.size())];  // many share a prefix
      if (std::find(seq.begin(), seq.end(), k) == seq.end()) seq.push_back(k);
    }
    sequences.push_back(seq);
  }
  std::vector<std::pair<Node*, size_t>> dicts;  // dict, its sequence
  for (int i = 0; i < 3000; ++i) {
    size_t which = next(sequences.size());
    const std::vector<Node*>& seq = sequences[which];
    Node* d = g.NewDict();
    if (i % 2 == 0) {
      for (Node* k : seq) {
        ASSERT_EQ(g.DictSet(d->a.dict, k, g.None()), GraphErr::kOk);
      }
    } else {  // SETITEMS: pairs, with the room reserved
      std::vector<Node*> kv;
      for (Node* k : seq) {
        kv.push_back(k);
        kv.push_back(g.None());
      }
      ASSERT_TRUE(g.DictReserve(d->a.dict, seq.size()));
      Node* failed = nullptr;
      ASSERT_EQ(g.DictSetPairs(d->a.dict, kv.data(), seq.size(), &failed),
                GraphErr::kOk);
    }
    dicts.push_back({d, which});
  }
  std::vector<const Shape*> shape_of(sequences.size(), nullptr);
  for (auto [d, which] : dicts) {
    ASSERT_EQ(KeysOf(d), sequences[which]);
    ASSERT_NE(d->a.dict->shape, nullptr);
    if (shape_of[which] == nullptr) shape_of[which] = d->a.dict->shape;
    EXPECT_EQ(d->a.dict->shape, shape_of[which]);
  }
}

// A shape's first transition lives in the shape alone (Shape::indexed) and
// goes into the graph's table when a second is made from it.  Keys that are
// equal but other nodes -- a stream that does not memoize them -- miss the
// shape's last transition and the recent ones (both compare nodes), so
// they find the first one only in the table: there must be one shape for
// {a, b}, not a second made when the first was not found.
TEST(GraphShapes, EqualKeyNodesFindATransitionMadeBeforeTheTable) {
  Graph g;
  auto key = [&g](const char* s) { return g.NewStr(s, false, true); };
  auto dict = [&g](std::vector<Node*> keys) {
    Node* d = g.NewDict();
    for (Node* k : keys) {
      EXPECT_EQ(g.DictSet(d->a.dict, k, g.None()), GraphErr::kOk);
    }
    return d;
  };
  Node* ab = dict({key("a"), key("b")});  // {a} -> {a,b}: not in the table
  Node* ac = dict({key("a"), key("c")});  // {a}'s second: both go in
  Node* ab2 = dict({key("a"), key("b")});  // {a}'s last is c, b is a new node
  Node* ac2 = dict({key("a"), key("c")});
  EXPECT_EQ(ab->a.dict->shape, ab2->a.dict->shape);
  EXPECT_EQ(ac->a.dict->shape, ac2->a.dict->shape);
  EXPECT_NE(ab->a.dict->shape, ac->a.dict->shape);
  EXPECT_EQ(ab2->a.dict->keys, ab->a.dict->keys);
  // A longer chain, each step made once without the table, then taken by
  // other nodes after a branch at every step.
  std::vector<const char*> names = {"p", "q", "r", "s", "t"};
  std::vector<Node*> chain_nodes;
  for (const char* n : names) chain_nodes.push_back(key(n));
  Node* chain = dict(chain_nodes);
  for (size_t i = 1; i < names.size(); ++i) {  // a branch after names[0..i)
    std::vector<Node*> branch;
    for (size_t j = 0; j < i; ++j) branch.push_back(key(names[j]));
    branch.push_back(key("x"));
    dict(branch);
  }
  std::vector<Node*> again;
  for (const char* n : names) again.push_back(key(n));
  EXPECT_EQ(dict(again)->a.dict->shape, chain->a.dict->shape);
}

// The same property at random (from a review): key sequences drawn from
// strs (fresh nodes or reused ones), 0, 1, True and None, filled by DictSet
// or DictSetPairs, in 300 graphs of 400 dicts.  Each distinct sequence of
// keys, as the dict keeps them (a later equal key is no new key; True and 1
// are one key but not one transition, their identity shows), must have one
// shape, and no shape two sequences.
TEST(GraphShapes, RandomKeySequencesHaveOneShapeEach) {
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    Graph g;
    uint64_t state = seed * 0x9E3779B97F4A7C15ull;
    auto next = [&state](uint32_t n) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return static_cast<uint32_t>(state % n);
    };
    // Labels 0-5: the strs "k0".."k5"; 6: 1; 7: True; 8: None; 9: 0.
    constexpr int kLabels = 10;
    auto make = [&g](int label) -> Node* {
      if (label < 6) return g.NewStr("k" + std::to_string(label), false, true);
      if (label == 6) return g.NewInt(1);
      if (label == 7) return g.Bool(true);
      if (label == 8) return g.None();
      return g.NewInt(0);
    };
    auto equal_labels = [](int a, int b) {
      return (a == 7 ? 6 : a) == (b == 7 ? 6 : b);  // True == 1
    };
    std::vector<Node*> reused(kLabels, nullptr);
    std::map<std::vector<int>, const Shape*> shape_of;
    std::map<const Shape*, std::vector<int>> sequence_of;
    for (int d = 0; d < 400; ++d) {
      Node* dict = g.NewDict();
      const int len = static_cast<int>(next(7));
      std::vector<Node*> kv;
      std::vector<int> kept;  // the labels of the keys the dict keeps
      for (int k = 0; k < len; ++k) {
        const int label = static_cast<int>(next(kLabels));
        Node* key;
        if (next(2) || reused[label] == nullptr) {
          key = make(label);
          if (next(2)) reused[label] = key;
        } else {
          key = reused[label];
        }
        kv.push_back(key);
        kv.push_back(g.None());
        if (std::none_of(kept.begin(), kept.end(), [&](int l) {
              return equal_labels(l, label);
            })) {
          kept.push_back(label);
        }
      }
      if (next(2)) {
        for (size_t k = 0; k < kv.size(); k += 2) {
          ASSERT_EQ(g.DictSet(dict->a.dict, kv[k], kv[k + 1]), GraphErr::kOk);
        }
      } else {
        ASSERT_TRUE(g.DictReserve(dict->a.dict, len));
        Node* failed = nullptr;
        ASSERT_EQ(g.DictSetPairs(dict->a.dict, kv.data(), len, &failed),
                  GraphErr::kOk);
      }
      if (len == 0) continue;
      const Shape* shape = dict->a.dict->shape;
      ASSERT_NE(shape, nullptr);
      ASSERT_EQ(shape->size, kept.size());
      auto it = shape_of.find(kept);
      if (it == shape_of.end()) {
        ASSERT_EQ(sequence_of.count(shape), 0u)
            << "seed " << seed << " dict " << d << ": one shape, two sequences";
        shape_of[kept] = shape;
        sequence_of[shape] = kept;
      } else {
        ASSERT_EQ(it->second, shape)
            << "seed " << seed << " dict " << d << ": two shapes, one sequence";
      }
    }
  }
}

TEST(GraphShapes, KeysWhoseIdentityShowsAreNeverSwapped) {
  // 1, True and 1.0 are one key but are written differently; two equal
  // tuples are one key but may be $id-shared separately; 0.0 and -0.0 are
  // one key.  A dict must show the key node it was given.
  Graph g;
  std::vector<Node*> keys = {
      g.NewInt(1), g.Bool(true), g.NewFloat(1.0), g.NewFloat(0.0),
      g.NewFloat(-0.0),
      g.NewSeq(Kind::kTuple, {g.NewInt(1), g.NewInt(2)}),
      g.NewSeq(Kind::kTuple, {g.NewInt(1), g.NewInt(2)})};
  for (Node* k : keys) {
    Node* d = g.NewDict();
    ASSERT_EQ(g.DictSet(d->a.dict, k, g.None()), GraphErr::kOk);
    ASSERT_EQ(g.DictSet(d->a.dict, g.NewStr("x", false, true), g.None()),
              GraphErr::kOk);
    EXPECT_EQ(d->a.dict->key(0), k) << KindName(k->kind);
    // Only keys that can be shared get a shape: an int (by value), a bool
    // (one node per graph); a float or tuple key makes the dict keep its
    // own keys, so a stream of fresh tuple keys costs no shape per dict.
    bool shared = k->kind == Kind::kInt || k->kind == Kind::kBool;
    EXPECT_EQ(d->a.dict->shape != nullptr, shared) << KindName(k->kind);
  }
}

TEST(GraphShapes, AnEqualKeyReplacesTheValueInPlace) {
  Graph g;
  Node* a = g.NewStr("a", false, true);
  Node* b = g.NewStr("b", false, true);
  Node* d1 = g.NewDict();
  ASSERT_EQ(g.DictSet(d1->a.dict, a, g.NewInt(1)), GraphErr::kOk);
  ASSERT_EQ(g.DictSet(d1->a.dict, b, g.NewInt(2)), GraphErr::kOk);
  Node* d2 = g.NewDict();
  ASSERT_EQ(g.DictSet(d2->a.dict, a, g.NewInt(3)), GraphErr::kOk);
  // d2 = {"a": 3}; the cached transition from {"a"} is by "b", so a second
  // "a" must be found by the scan, not taken as a new key.
  ASSERT_EQ(g.DictSet(d2->a.dict, g.NewStr("a", false, true), g.NewInt(4)),
            GraphErr::kOk);
  ASSERT_EQ(d2->a.dict->size(), 1u);
  EXPECT_EQ(d2->a.dict->key(0), a);
  EXPECT_EQ(d2->a.dict->value(0)->a.i, 4);
  EXPECT_EQ(d1->a.dict->value(0)->a.i, 1);  // the other dict is untouched
}

TEST(GraphShapes, BigDictsTakeTheirOwnKeys) {
  // Past the shape limit a dict copies its keys and indexes them; two such
  // dicts built alike stay independent, duplicates are found before and
  // after the switch, and order is insertion order throughout.
  Graph g;
  std::vector<Node*> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(g.NewInt(100000 + i));
  Node* d1 = g.NewDict();
  Node* d2 = g.NewDict();
  for (Node* d : {d1, d2}) {
    for (Node* k : keys) {
      ASSERT_EQ(g.DictSet(d->a.dict, k, k), GraphErr::kOk);
      // Every key again, at once: a duplicate in shape and in own mode.
      ASSERT_EQ(g.DictSet(d->a.dict, g.NewInt(k->a.i), g.None()),
                GraphErr::kOk);
    }
  }
  ASSERT_EQ(g.DictSet(d1->a.dict, keys[5], g.NewInt(-1)), GraphErr::kOk);
  for (Node* d : {d1, d2}) {
    EXPECT_EQ(d->a.dict->shape, nullptr);
    EXPECT_EQ(KeysOf(d), keys);
  }
  EXPECT_NE(d1->a.dict->keys, d2->a.dict->keys);
  EXPECT_EQ(d1->a.dict->value(5)->a.i, -1);
  EXPECT_EQ(d2->a.dict->value(5)->kind, Kind::kNone);
}

TEST(GraphShapes, OwnKeysSurviveGrowthAfterAnExactReserve) {
  Graph g;
  Node* d = g.NewDict();
  ASSERT_TRUE(g.DictReserve(d->a.dict, 40));  // SETITEMS into a fresh dict
  std::vector<Node*> keys;
  for (int i = 0; i < 200; ++i) {
    keys.push_back(g.NewStr("k" + std::to_string(i), false, true));
    ASSERT_EQ(g.DictSet(d->a.dict, keys.back(), g.NewInt(i)), GraphErr::kOk);
  }
  EXPECT_EQ(KeysOf(d), keys);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(d->a.dict->value(i)->a.i, i);
}

TEST(GraphApi, DeepTupleKeysWithoutRecursion) {
  // Two 200000-deep ((((1,),),),...) built separately are one key.  (CPython
  // itself would hit its recursion limit hashing them; the graph's
  // canonical ids are computed iteratively.)
  Graph g;
  auto deep = [&g] {
    Node* n = g.NewInt(1);
    for (int i = 0; i < 200000; ++i) n = g.NewSeq(Kind::kTuple, {n});
    return n;
  };
  Node* a = deep();
  Node* b = deep();
  Node* s = g.NewSet(Kind::kSet);
  ASSERT_EQ(g.SetAdd(s->a.set, a), GraphErr::kOk);
  ASSERT_EQ(g.SetAdd(s->a.set, b), GraphErr::kOk);
  EXPECT_EQ(s->a.set->items.size, 1u);
  EXPECT_EQ(s->a.set->items[0], a);
}

TEST(GraphApi, NodeLimitReturnsNull) {
  Graph g(2);
  EXPECT_NE(g.NewInt(1), nullptr);
  EXPECT_NE(g.NewList(), nullptr);
  EXPECT_EQ(g.NewInt(2), nullptr);
  EXPECT_EQ(g.node_count(), 2u);
  EXPECT_NE(g.None(), nullptr);  // singletons are free
}

}  // namespace
}  // namespace picklevm
