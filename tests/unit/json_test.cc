// The picklevm-graph/1 encoding (shared/spec/graph-json.md): float text,
// $id/$ref numbering, $str, $dict vs the object form, record layouts, the
// document around the root, and a million-deep list written without
// recursion.  Expected float text is Python 3.11's repr() of the same double,
// generated with /usr/bin/python3 when the test was written.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "vm/api/pipeline.h"
#include "vm/base/json_text.h"
#include "vm/emit/document.h"
#include "vm/emit/json.h"
#include "vm/policy/allowlist.h"
#include "vm/text/strings.h"

namespace picklevm {
namespace {

using pvtest::Load;
using pvtest::LoadWith;
using pvtest::Py;
using pvtest::RecordPy;
using pvtest::StrictPy;

double FromBits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

// ---- floats -----------------------------------------------------------------------

struct FloatCase {
  uint64_t bits;
  const char* repr;
};

// (bits of the double, repr(double)) -- fixed cases, then 40 random bit
// patterns, 20 uniform(-1e6, 1e6) and 20 integral floats up to 1e17.
const FloatCase kFloatCases[] = {
    {0x4341c37937e08000ull, "1e+16"},
    {0x3ee4f8b588e368f1ull, "1e-05"},
    {0x8000000000000000ull, "-0.0"},
    {0x0000000000000001ull, "5e-324"},
    {0x0000000000000000ull, "0.0"},
    {0x3ff0000000000000ull, "1.0"},
    {0xbff8000000000000ull, "-1.5"},
    {0x3fb999999999999aull, "0.1"},
    {0x4480f0cf064dd592ull, "1e+22"},
    {0x430c6bf526340000ull, "1000000000000000.0"},
    {0x4341c37937e07fffull, "9999999999999998.0"},
    {0x3f1a36e2eb1c432dull, "0.0001"},
    {0x3f1a36e2eb1c432dull, "0.0001"},
    {0x3ee4f8b588e368f1ull, "1e-05"},
    {0x419d6f3454000000ull, "123456789.0"},
    {0x7fefffffffffffffull, "1.7976931348623157e+308"},
    {0x0010000000000000ull, "2.2250738585072014e-308"},
    {0x000fffffffffffffull, "2.225073858507201e-308"},
    {0x3fd5555555555555ull, "0.3333333333333333"},
    {0x3fe5555555555555ull, "0.6666666666666666"},
    {0x54b249ad2594c37dull, "1e+100"},
    {0x3e8421f5f40d8376ull, "1.5e-07"},
    {0x4345ee2a2eb5a5c4ull, "1.2345678901234568e+16"},
    {0x3fd3333333333334ull, "0.30000000000000004"},
    {0x4059000000000000ull, "100.0"},
    {0x444b1ae4d6e2ef50ull, "1e+21"},
    {0x3e7ad7f29abcaf48ull, "1e-07"},
    {0x4011666666666666ull, "4.35"},
    {0x81a56e1fc2f8f359ull, "-1e-300"},
    {0x44dfe185ca57c517ull, "6.02214076e+23"},
    {0xc735df5ef7697fb9ull, "-1.1356873538845983e+35"},
    {0x1de9ea6670d3da1full, "1.4063521386385737e-164"},
    {0x17346b4501eaf614ull, "6.829010422540122e-197"},
    {0xf149f542e935b870ull, "-5.282246915350664e+237"},
    {0xce97b5bdf073eed1ull, "-4.0909979815658245e+70"},
    {0x08f0ebd4950cddd9ull, "1.3119440445508822e-265"},
    {0xb16e2d5cabeb9592ull, "-1.3663749809437804e-70"},
    {0x19322fed157cf9c6ull, "2.6124550078186405e-187"},
    {0x5ac96628c4381836ull, "2.2007250832970862e+129"},
    {0x04762a223c9f90c9ull, "3.639014178314721e-287"},
    {0xfc9799a707e36d60ull, "-1.4719450102642776e+292"},
    {0x040e1e30c9ed0248ull, "3.863130003091716e-289"},
    {0xa5f80a0a58994953ull, "-8.878144306130779e-126"},
    {0x7bf78a4d9f8f5ffbull, "1.4337943644354699e+289"},
    {0x76ab14759da618fdull, "4.2635719382329216e+263"},
    {0x175e99412607ad5full, "4.0934086839589737e-196"},
    {0xb6a20bb02edf0743ull, "-1.5804594730508215e-45"},
    {0xd868c2cf1d4a2b12ull, "-7.805056034326984e+117"},
    {0x80ca17b703be0e66ull, "-7.431429504086299e-305"},
    {0xe16682717c9bbfaeull, "-1.5823202933922794e+161"},
    {0x3ff4bb8cf703c9ffull, "1.2957887314811385"},
    {0xaad1426810872756ull, "-1.92649189818196e-102"},
    {0xe98d7c358a84c15cull, "-2.8211819309374095e+200"},
    {0x118dc10e774520d7ull, "4.0192077128250256e-224"},
    {0xacd51e6699f9823cull, "-1.012440749133234e-92"},
    {0x83d9fca716c40a33ull, "-4.166573760527429e-290"},
    {0x0bc4621b94398520ull, "5.560408693813116e-252"},
    {0xd30aad4b45038e22ull, "-1.0868373137039075e+92"},
    {0x1025dbe58e725d57ull, "7.039844370119124e-231"},
    {0x4d6bfd8fa506bfc5ull, "9.211690207278791e+64"},
    {0xd9a54a0d7b25331full, "-7.036698908811296e+123"},
    {0x443658625af0f3e0ull, "4.121971224355956e+20"},
    {0xa7cda6c23fc86ee6ull, "-5.879182220253732e-117"},
    {0x33354fc7eefadf23ull, "5.180573799937381e-62"},
    {0xe065e3eb74113cb0ull, "-2.348008735187852e+156"},
    {0xaa58695187b8a518ull, "-1.0643738841322141e-104"},
    {0xf1048aa604f0d0f2ull, "-2.612527026339285e+236"},
    {0x121213ca8212f7c6ull, "1.2502503253908845e-221"},
    {0x5560eaba017ad051ull, "1.8944769724102456e+103"},
    {0xb5c36ec124ce01e1ull, "-1.0387772017992709e-49"},
    {0xc0ea8944c71bac10ull, "-54346.14930518728"},
    {0xc36704be1f9e050dull, "-5.183311268073687e+16"},
    {0xc12b360334961b04ull, "-891649.6027077143"},
    {0x4363274de71bc895ull, "4.3129920806601896e+16"},
    {0xc12481f31ae36328ull, "-671993.5525160776"},
    {0xc360e07879db99c7ull, "-3.8003261380021816e+16"},
    {0xc125b6a91d1463acull, "-711508.5567961833"},
    {0xc2e7640db2d493e0ull, "-205747951936671.0"},
    {0x41208a0fe2d61472ull, "541959.9430395497"},
    {0x436763f9f2edf235ull, "5.26707971042554e+16"},
    {0xc125e5d0f13ccd18ull, "-717544.471167001"},
    {0x435b7142fc290dd8ull, "3.089742753406755e+16"},
    {0xc12c19e980ca629eull, "-920820.7515440767"},
    {0x437430322e9514bcull, "9.091986595573242e+16"},
    {0x4122b542053d065cull, "613025.0102312076"},
    {0xc35345214c08e961ull, "-2.16961354775689e+16"},
    {0xc1251555f0efa79eull, "-690858.9705784207"},
    {0x435e183cddfbf132ull, "3.388359601080033e+16"},
    {0xc12c02e4c660aeedull, "-917874.3874563851"},
    {0x43630f8cdf7e9c31ull, "4.2920978215657864e+16"},
    {0xc11352a1a8727338ull, "-316584.4144990924"},
    {0x435f054a1cde6e48ull, "3.492616059235357e+16"},
    {0xc0e78045e12b75b0ull, "-48130.18373654352"},
    {0x436fbd87ee766e9eull, "7.147292637603147e+16"},
    {0x412749fe6505f9acull, "763135.1973112128"},
    {0x43660ce02d4d3914ull, "4.965285167902122e+16"},
    {0x412335d4a41a9804ull, "629482.3205153947"},
    {0xc3526847c47618c0ull, "-2.072482811532979e+16"},
    {0xc126f4ed4d827d8eull, "-752246.6513861881"},
    {0x4351c2e4347eba84ull, "1.99974399725348e+16"},
    {0xc0ff38869ad56688ull, "-127880.41280117084"},
    {0xc36f36883abd22a8ull, "-7.02854640556496e+16"},
    {0x41241b34a54a9d30ull, "658842.3228348847"},
    {0x433e978e1eac2491ull, "8610885957067921.0"},
    {0x4123649801be1e22ull, "635468.003403608"},
    {0xc3576a9a2d602dffull, "-2.6364539532523516e+16"},
    {0x411137983fcc7520ull, "282086.06230338104"},
    {0xc36e909220a426cdull, "-6.882565270858711e+16"},
    {0x4118bd1797a6a5ecull, "405317.8980966497"},
    {0x436de25439564882ull, "6.729300553356187e+16"},
};

TEST(JsonFloat, MatchesPythonRepr) {
  for (const FloatCase& c : kFloatCases) {
    EXPECT_EQ(FloatRepr(FromBits(c.bits)), c.repr)
        << std::hex << "bits 0x" << c.bits;
  }
}

TEST(JsonFloat, NamedCases) {
  EXPECT_EQ(FloatRepr(1e16), "1e+16");
  EXPECT_EQ(FloatRepr(1e-05), "1e-05");
  EXPECT_EQ(FloatRepr(-0.0), "-0.0");
  EXPECT_EQ(FloatRepr(5e-324), "5e-324");
  EXPECT_EQ(FloatRepr(1.0), "1.0");
  EXPECT_EQ(FloatRepr(0.0001), "0.0001");
  EXPECT_EQ(FloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(FloatRepr(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(FloatRepr(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(FloatRepr(std::numeric_limits<double>::quiet_NaN()), "nan");
}

TEST(JsonFloat, NonFiniteAreRecords) {
  std::string s;
  AppendFloat(std::numeric_limits<double>::quiet_NaN(), &s);
  s += ",";
  AppendFloat(-std::numeric_limits<double>::quiet_NaN(), &s);
  s += ",";
  AppendFloat(std::numeric_limits<double>::infinity(), &s);
  s += ",";
  AppendFloat(-std::numeric_limits<double>::infinity(), &s);
  s += ",";
  AppendFloat(2.5, &s);
  // The sign of a NaN is not kept (graph-json.md, Known losses).
  EXPECT_EQ(s, R"({"$float":"nan"},{"$float":"nan"},{"$float":"inf"},)"
               R"({"$float":"-inf"},2.5)");
}

TEST(JsonFloat, ThroughTheMachine) {
  // pickle.loads(b'G' + struct.pack('>d', 1e16) + b'.') == 1e+16
  EXPECT_EQ(StrictPy(R"(GCA\xc3y7\xe0\x80\x00.)"), "1e+16");
  // -0.0 as FLOAT text
  EXPECT_EQ(StrictPy(R"(F-0.0\n.)"), "-0.0");
  // 5e-324 from FLOAT text: the smallest subnormal
  EXPECT_EQ(StrictPy(R"(F5e-324\n.)"), "5e-324");
  // (1+2j), complex parts are floats
  EXPECT_EQ(StrictPy(R"(cbuiltins\ncomplex\n(K\x01K\x02tR.)"),
            R"({"$complex":[1.0,2.0]})");
}

// ---- ints -------------------------------------------------------------------------

TEST(JsonInt, PlainInsideTwoTo53) {
  // 2**53 - 1, 2**53, -(2**53 - 1), -(2**53) as LONG1
  EXPECT_EQ(StrictPy(R"(\x8a\x07\xff\xff\xff\xff\xff\xff\x1f.)"),
            "9007199254740991");
  EXPECT_EQ(StrictPy(R"(\x8a\x07\x00\x00\x00\x00\x00\x00\x20.)"),
            R"({"$int":"9007199254740992"})");
  EXPECT_EQ(StrictPy(R"(\x8a\x07\x01\x00\x00\x00\x00\x00\xe0.)"),
            "-9007199254740991");
  EXPECT_EQ(StrictPy(R"(\x8a\x07\x00\x00\x00\x00\x00\x00\xe0.)"),
            R"({"$int":"-9007199254740992"})");
}

// ---- strings ------------------------------------------------------------------------

TEST(JsonString, Escapes) {
  std::string s;
  AppendJsonString(std::string("a\x00\x01\x1f\"\\\n\t\r\b\f\x7f", 12), &s);
  EXPECT_EQ(s, R"("a\u0000\u0001\u001f\"\\\n\t\r\b\f)" "\x7f\"");
  s.clear();
  AppendJsonString("\xc3\xa9\xe2\x80\xa8", &s);  // é, U+2028: as is
  EXPECT_EQ(s, "\"\xc3\xa9\xe2\x80\xa8\"");
}

TEST(JsonString, SurrogatesAreStrRecords) {
  // 'a\ud800b' (BINUNICODE with surrogatepass)
  EXPECT_EQ(StrictPy(R"(X\x05\x00\x00\x00a\xed\xa0\x80b.)"),
            R"({"$str":[97,55296,98]})");
  // '\ud83d\ude00': two lone surrogates stay two code points
  EXPECT_EQ(StrictPy(R"(X\x06\x00\x00\x00\xed\xa0\xbd\xed\xb8\x80.)"),
            R"({"$str":[55357,56832]})");
  // '\udfff' through UNICODE's raw-unicode-escape
  EXPECT_EQ(StrictPy(R"(V\\udfff\n.)"), R"({"$str":[57343]})");
  // '\U0001f600' is not a surrogate: a plain JSON string
  EXPECT_EQ(StrictPy(R"(X\x04\x00\x00\x00\xf0\x9f\x98\x80.)"),
            "\"\xf0\x9f\x98\x80\"");
}

TEST(JsonString, SharedStrIsNeverWrapped) {
  // ['a', 'a'], one str object twice
  EXPECT_EQ(StrictPy(R"((U\x01aq\x00h\x00l.)"), R"(["a","a"])");
}

// ---- bytes ----------------------------------------------------------------------------

TEST(JsonBytes, Base64) {
  // b'\x00\xff\xfe' and bytearray(b'hello')
  EXPECT_EQ(StrictPy(R"(C\x03\x00\xff\xfe.)"), R"({"$bytes":"AP/+"})");
  EXPECT_EQ(StrictPy(R"(\x96\x05\x00\x00\x00\x00\x00\x00\x00hello.)"),
            R"({"$bytearray":"aGVsbG8="})");
}

// ---- dicts ---------------------------------------------------------------------------

TEST(JsonDict, ObjectFormForPlainStrKeys) {
  // {'': 1, 'b"': 2}
  EXPECT_EQ(StrictPy(R"(}(U\x00K\x01U\x02b"K\x02u.)"), R"({"":1,"b\"":2})");
}

TEST(JsonDict, DictFormOtherwise) {
  // {'$ref': 1}: a key starting with '$' could be mistaken for a record
  EXPECT_EQ(StrictPy(R"(}(U\x04$refK\x01u.)"), R"({"$dict":[["$ref",1]]})");
  // {None: 1, (1,): 2}
  EXPECT_EQ(StrictPy(R"(}(NK\x01K\x01\x85K\x02u.)"),
            R"({"$dict":[[null,1],[{"$tuple":[1]},2]]})");
  // {'a': 1, 'b': {}} nested: the inner dict is plain
  EXPECT_EQ(StrictPy(R"(}(U\x01aK\x01U\x01b}u.)"), R"({"a":1,"b":{}})");
}

// ---- sharing: $id / $ref ---------------------------------------------------------------

TEST(JsonSharing, NumberedInDocumentOrder) {
  // l = []; d = {}; [l, d, d, l]
  EXPECT_EQ(StrictPy(R"((]q\x00}q\x01h\x01h\x00l.)"),
            R"([{"$id":0,"$value":[]},{"$id":1,"$value":{}},{"$ref":1},)"
            R"({"$ref":0}])");
}

TEST(JsonSharing, FirstOccurrenceInDocumentOrderNotCreationOrder) {
  // l = []; d = {}; [d, l, l, d]: d is written first, so it is $id 0.
  EXPECT_EQ(StrictPy(R"(]q\x000}q\x010(h\x01h\x00h\x00h\x01l.)"),
            R"([{"$id":0,"$value":{}},{"$id":1,"$value":[]},{"$ref":1},)"
            R"({"$ref":0}])");
}

TEST(JsonSharing, Cycle) {
  // l = []; l.append(l)
  EXPECT_EQ(StrictPy(R"(]q\x00h\x00a.)"),
            R"({"$id":0,"$value":[{"$ref":0}]})");
  // d = {}; d['self'] = d
  EXPECT_EQ(StrictPy(R"(}q\x00U\x04selfh\x00s.)"),
            R"({"$id":0,"$value":{"self":{"$ref":0}}})");
}

TEST(JsonSharing, ScalarsAndGlobalsAreNeverWrapped) {
  // (1.5, 1.5, 10**20, 10**20, None, None): shared through the memo
  EXPECT_EQ(StrictPy(R"((G?\xf8\x00\x00\x00\x00\x00\x00q\x00h\x00)"
                     R"(\x8a\x09\x00\x00\x10c\x2d^\xc7k\x05q\x01h\x01NNt.)"),
            R"({"$tuple":[1.5,1.5,{"$int":"100000000000000000000"},)"
            R"({"$int":"100000000000000000000"},null,null]})");
  // [os.system, os.system] (record mode)
  EXPECT_EQ(RecordPy(R"(cos\nsystem\nq\x00h\x00\x86.)"),
            R"({"$tuple":[{"$global":"os:system"},{"$global":"os:system"}]})");
}

TEST(JsonSharing, LeavesAndEmptyContainersAreWrapped) {
  // (b'', b''), ((), ()), ((1+0j), (1+0j)) -- each one object twice
  EXPECT_EQ(StrictPy(R"(C\x00q\x00h\x00\x86.)"),
            R"({"$tuple":[{"$id":0,"$value":{"$bytes":""}},{"$ref":0}]})");
  EXPECT_EQ(StrictPy(R"()q\x00h\x00\x86.)"),
            R"({"$tuple":[{"$id":0,"$value":{"$tuple":[]}},{"$ref":0}]})");
  EXPECT_EQ(StrictPy(R"(cbuiltins\ncomplex\n(K\x01K\x00tRq\x00h\x00\x86.)"),
            R"({"$tuple":[{"$id":0,"$value":{"$complex":[1.0,0.0]}},)"
            R"({"$ref":0}]})");
}

TEST(JsonSharing, TwoEmptyTuplesAreTwoValues) {
  // ((), ()) written as two EMPTY_TUPLEs: distinct values, never wrapped.
  EXPECT_EQ(StrictPy(R"())\x86.)"),
            R"({"$tuple":[{"$tuple":[]},{"$tuple":[]}]})");
}

TEST(JsonSharing, SharedDictKey) {
  // t = (1,); {t: t}
  EXPECT_EQ(StrictPy(R"(}K\x01\x85q\x00h\x00s.)"),
            R"({"$dict":[[{"$id":0,"$value":{"$tuple":[1]}},{"$ref":0}]]})");
}

TEST(JsonSharing, RootsShareOneNumbering) {
  auto o = Load(Py(R"(]q\x00h\x00\x86.)"));
  ASSERT_TRUE(o->ok()) << o->message();
  Node* tuple = o->result.root;
  Node* list = tuple->at(0);
  JsonEncoder enc;
  ASSERT_TRUE(enc.Prepare({list, tuple}, 100).ok());
  OutBuffer out;
  enc.Write(list, &out);
  out.data += "|";
  enc.Write(tuple, &out);
  // The list is reached three times across both roots: wrapped at its
  // first occurrence (the first root), referenced after.
  EXPECT_EQ(out.data,
            R"({"$id":0,"$value":[]}|{"$tuple":[{"$ref":0},{"$ref":0}]})");
}

TEST(JsonSharing, EncodersCanBeRepeated) {
  // The scratch fields are cleared by the encoder's destructor.
  auto o = Load(Py(R"(]q\x00h\x00\x86.)"));
  ASSERT_TRUE(o->ok());
  std::string first = pvtest::RootJson(o->result.root);
  EXPECT_EQ(pvtest::RootJson(o->result.root), first);
}

// ---- records -----------------------------------------------------------------------------

TEST(JsonRecords, ObjectFieldOrder) {
  // Every field at once: C(1, k=2) via NEWOBJ_EX, BUILD {'s': 3},
  // APPENDS [4], SETITEMS {'d': 5}.  (No single CPython class takes both
  // APPENDS and SETITEMS; this checks the emitter's field order.)
  auto p = pvtest::MakePolicy({{"__main__:C", pvtest::kInst}});
  MachineOptions o;
  o.policy = p.get();
  EXPECT_EQ(pvtest::Summary(*LoadWith(
                Py(R"(\x80\x04c__main__\nC\nK\x01\x85}U\x01kK\x02s\x92)"
                   R"(}U\x01sK\x03sb(K\x04e(U\x01dK\x05u.)"),
                o)),
            R"({"$object":{"class":"__main__:C","via":"new","args":[1],)"
            R"("kwargs":{"k":2},"state":{"s":3},"items":[4],)"
            R"("dictitems":[["d",5]]}})");
}

TEST(JsonRecords, CallOfACallResult) {
  // m.f()() -- the callable of the second call is a value, written in full.
  EXPECT_EQ(RecordPy(R"(cm\nf\n)R)R.)"),
            R"({"$call":{"callable":{"$call":{"callable":"m:f","args":[],)"
            R"("kwargs":{},"offset":6}},"args":[],"kwargs":{},"offset":8}})");
}

TEST(JsonRecords, KwargsAreTheCallsNotLaterAdditions) {
  // C.__new__(C, **d) with d = {'a': None} memoized, then d[5] = None after
  // the call: CPython's call had copied its keywords, so the record shows
  // a=None only -- and never a non-str key as a keyword name (reading one
  // as a str was an out-of-bounds read).  Record mode says the dict
  // changed; strict mode refuses the change (see the BUILD state test).
  const char* p = R"(\x80\x04cm\nC\n)}\x94\x8c\x01aNs\x92h\x00K\x05Ns0.)";
  auto rec = Load(Py(p), Mode::kRecord);
  ASSERT_TRUE(rec->ok()) << rec->message();
  EXPECT_EQ(rec->json,
            R"({"$call":{"callable":"m:C","args":[],"kwargs":{"a":null},)"
            R"("offset":15}})");
  ASSERT_EQ(rec->result.warnings.size(), 1u);
  EXPECT_NE(rec->result.warnings[0].find("offset 21: SETITEM on a dict"),
            std::string::npos) << rec->result.warnings[0];
  auto policy = pvtest::MakePolicy({{"m:C", pvtest::kInst}});
  MachineOptions o;
  o.policy = policy.get();
  EXPECT_EQ(pvtest::ErrorAt(*LoadWith(Py(p), o)), "strict@21 SETITEM");
}

TEST(JsonRecords, BuildStateChangedAfterTheBuild) {
  // obj = C(); d = {'x': 1}; BUILD obj with d; then d['__setstate__'] =
  // ... through the memo.  CPython's BUILD had copied d into obj.__dict__,
  // so the key never reaches the object; strict mode refuses the change
  // (it would otherwise slip a dunder key past the BUILD check into the
  // object's state), record mode shows it with a warning, once.
  const char* p =
      R"(\x80\x04cm\nC\n)\x81}\x94\x8c\x01xK\x01sbh\x00)"
      R"(\x8c\x0c__setstate__Nsh\x00\x8c\x01yNs0.)";
  auto policy = pvtest::MakePolicy({{"m:C", pvtest::kInst}});
  MachineOptions o;
  o.policy = policy.get();
  auto strict = LoadWith(Py(p), o);
  EXPECT_EQ(pvtest::ErrorAt(*strict), "strict@35 SETITEM");
  auto rec = Load(Py(p), Mode::kRecord);
  ASSERT_TRUE(rec->ok()) << rec->message();
  EXPECT_EQ(rec->result.warnings.size(), 1u);
}

TEST(JsonRecords, SecondBuildSeesOnlyWhatTheFirstBuildTook) {
  // Record mode: obj = C(); BUILD obj {'x': 1}; then the memoized state
  // gets '__setstate__': print; then BUILD obj {'y': 2}.  CPython copied
  // {'x': 1} into obj.__dict__ at the first BUILD, so the second BUILD
  // finds no __setstate__ and calls nothing; the trace must not show a
  // print({'y': 2}).
  const char* p =
      R"(\x80\x02cm\nC\n)\x81}q\x00X\x01\x00\x00\x00xK\x01sbh\x00)"
      R"(X\x0c\x00\x00\x00__setstate__cbuiltins\nprint\ns0)"
      R"(}X\x01\x00\x00\x00yK\x02sb.)";
  auto rec = Load(Py(p), Mode::kRecord);
  ASSERT_TRUE(rec->ok()) << rec->message();
  for (const CallEvent& c : rec->result.calls) {
    ASSERT_NE(c.callable, nullptr);
    EXPECT_FALSE(c.callable->kind == Kind::kGlobal &&
                 c.callable->a.global->joined == "builtins:print")
        << "a call of print from a key added after the first BUILD";
  }
}

// The globals a record-mode load of `stream` shows as called (not the
// BUILDs), in order; {"error: ..."} if the load fails.
std::vector<std::string> CalledGlobalsIn(std::string bytes) {
  auto o = Load(std::move(bytes), Mode::kRecord);
  if (!o->ok()) return {"error: " + o->message()};
  std::vector<std::string> out;
  for (const CallEvent& c : o->result.calls) {
    if (c.callable != nullptr && c.callable->kind == Kind::kGlobal && !c.build) {
      out.emplace_back(c.callable->a.global->joined);
    }
  }
  return out;
}
std::vector<std::string> CalledGlobals(const char* stream) {
  return CalledGlobalsIn(Py(stream));
}

TEST(JsonRecords, BuildLooksUpSetstateAsCPythonDoes) {
  struct Case {
    const char* stream;
    std::vector<std::string> calls;
  };
  const Case cases[] = {
      // BUILD obj {'__setstate__': len} (memoized); the dict's value then
      // becomes print; BUILD obj {'y': 2}.  obj.__dict__ got len at the
      // first BUILD, so CPython calls len({'y': 2}).
      {R"(\x80\x02cm\nC\n)\x81}q\x00X\x0c\x00\x00\x00__setstate__)"
       R"(cbuiltins\nlen\nsbh\x00X\x0c\x00\x00\x00__setstate__)"
       R"(cbuiltins\nprint\ns0}X\x01\x00\x00\x00yK\x02sb.)",
       {"m:C", "builtins:len"}},
      // obj = C(); BUILD obj {'x': 1}; BUILD C (None, {'__setstate__':
      // print}); BUILD obj {'y': 2}: the class attribute is looked up at
      // every BUILD, so CPython calls print({'y': 2}).
      {R"(\x80\x02cm\nC\n)\x81q\x00}X\x01\x00\x00\x00xK\x01sb0)"
       R"(cm\nC\nN}X\x0c\x00\x00\x00__setstate__cbuiltins\nprint\ns\x86b0)"
       R"(h\x00}X\x01\x00\x00\x00yK\x02sb.)",
       {"m:C", "builtins:print"}},
  };
  for (const Case& c : cases) EXPECT_EQ(CalledGlobals(c.stream), c.calls);
}

// A state dict of 40 str keys (past the shared-key limit: its own keys,
// looked up through its index), memoized as 0, entries k0..k39 -> None.
std::string BigState() {
  std::string s = Py(R"(}q\x00()");
  for (int i = 0; i < 40; ++i) {
    std::string k = "k" + std::to_string(i);
    s += "X" + std::string(1, static_cast<char>(k.size())) +
         std::string(3, '\0') + k + "N";
  }
  return s + "u";
}

TEST(JsonRecords, BigStateIsCheckedOnceButSeesALaterDunder) {
  // Record mode: obj1 = C(); BUILD obj1 with the big state d; then
  // d['__setstate__'] = print through the memo; obj2 = C(); BUILD obj2
  // with d.  The keys checked at the first BUILD are not checked again
  // (kKeysChecked) -- unless a SETITEM changed the dict since: the second
  // BUILD's state sets __setstate__, a finding.
  const std::string p =
      Py(R"(\x80\x02cm\nC\nq\x010)") + BigState() +
      Py(R"(0h\x01)\x81h\x00b0h\x00X\x0c\x00\x00\x00__setstate__)"
         R"(cbuiltins\nprint\ns0h\x01)\x81h\x00b.)");
  auto rec = Load(p, Mode::kRecord);
  ASSERT_TRUE(rec->ok()) << rec->message();
  int dunder_findings = 0;
  for (const Finding& f : rec->result.findings) {
    if (f.global == "m:C" && f.detail.find("'__setstate__'") !=
                                 std::string::npos) {
      ++dunder_findings;
      EXPECT_FALSE(f.allowed);
    }
  }
  EXPECT_EQ(dunder_findings, 1);
  // Without the SETITEM, the same state BUILT twice gives no such finding.
  const std::string clean =
      Py(R"(\x80\x02cm\nC\nq\x010)") + BigState() +
      Py(R"(0h\x01)\x81h\x00b0h\x01)\x81h\x00b.)");
  auto ok = Load(clean, Mode::kRecord);
  ASSERT_TRUE(ok->ok()) << ok->message();
  for (const Finding& f : ok->result.findings) {
    EXPECT_EQ(f.detail.find("__setstate__"), std::string::npos) << f.detail;
  }
}

TEST(JsonRecords, StateKeysCheckedOnlyWhenTheBuildTookTheState) {
  // Record mode: C's __setstate__ is replaced by len (a BUILD on the class
  // with a slot state); then an instance of C is BUILT with the empty dict
  // E -- a call of len, which does not consume E; then E gets '__class__';
  // then a G instance is BUILT with E.  CPython (with C and G defined)
  // gives a G whose __dict__ is {'__class__': 1}; the last BUILD sets a
  // dunder name, a finding, although E was looked at before.
  const char* p =
      R"(\x80\x02c__main__\nC\nq\x00N}q\x01X\x0c\x00\x00\x00__setstate__)"
      R"(q\x02cbuiltins\nlen\nq\x03s\x86b0}q\x040h\x00)\x81h\x04b0)"
      R"(h\x04X\x09\x00\x00\x00__class__K\x01s0c__main__\nG\n)\x81h\x04b.)";
  auto rec = Load(Py(p), Mode::kRecord);
  ASSERT_TRUE(rec->ok()) << rec->message();
  bool found = false;
  for (const Finding& f : rec->result.findings) {
    found |= f.global == "__main__:G" &&
             f.detail.find("'__class__'") != std::string::npos;
  }
  EXPECT_TRUE(found);
}

TEST(JsonRecords, SetstateInABigStateIsFound) {
  // Record mode: BUILD obj with the big state plus '__setstate__': len;
  // then BUILD obj {'y': 2}: obj.__dict__ got len at the first BUILD, so
  // CPython calls len({'y': 2}) (the lookup goes through the dict's index).
  const std::string p =
      Py(R"(\x80\x02cm\nC\n)\x81)") + BigState() +
      Py(R"(X\x0c\x00\x00\x00__setstate__cbuiltins\nlen\nsb)"
         R"(}X\x01\x00\x00\x00yK\x02sb.)");
  EXPECT_EQ(CalledGlobalsIn(p),
            (std::vector<std::string>{"m:C", "builtins:len"}));
}

TEST(JsonRecords, KwargsNamesAreValidUtf8) {
  // C.__new__(C, **{'\ud800': 1}) via NEWOBJ_EX: CPython accepts any str
  // as a keyword name.  Whatever form the name takes in the document, the
  // document must stay valid UTF-8 (a lone surrogate's 3-byte form is not).
  const char* p =
      R"(\x80\x04cm\nC\n)}X\x03\x00\x00\x00\xed\xa0\x80K\x01s\x92.)";
  auto rec = Load(Py(p), Mode::kRecord);
  ASSERT_TRUE(rec->ok()) << rec->message();
  EXPECT_TRUE(CheckUtf8(rec->json, /*allow_surrogates=*/false).valid)
      << rec->json;
  auto policy = pvtest::MakePolicy({{"m:C", pvtest::kInst}});
  MachineOptions o;
  o.policy = policy.get();
  auto strict = LoadWith(Py(p), o);
  ASSERT_TRUE(strict->ok()) << strict->message();
  EXPECT_TRUE(CheckUtf8(strict->json, /*allow_surrogates=*/false).valid)
      << strict->json;
}

TEST(JsonRecords, SharedCallIsWrapped) {
  // r = m.f(); (r, r)
  EXPECT_EQ(RecordPy(R"(cm\nf\n)R2\x86.)"),
            R"({"$tuple":[{"$id":0,"$value":{"$call":{"callable":"m:f",)"
            R"("args":[],"kwargs":{},"offset":6}}},{"$ref":0}]})");
}

TEST(JsonRecords, PersidWraps) {
  EXPECT_EQ(RecordPy(R"(K\x01\x85q\x00Qh\x00\x86.)"),
            R"({"$tuple":[{"$persid":{"$id":0,"$value":{"$tuple":[1]}}},)"
            R"({"$ref":0}]})");
}

// ---- the document ---------------------------------------------------------------------------

TEST(JsonDocument, Layout) {
  auto o = Load(Py(R"(\x80\x02]K\x01a.)"));
  ASSERT_TRUE(o->ok());
  SourceInfo src;
  src.bytes = 7;
  src.sha256 = "ab";
  OutBuffer out;
  ASSERT_TRUE(WriteGraphDocument(src, o->result.protocol, o->result.root,
                                 {"w1", "w\"2"}, 100, &out)
                  .ok());
  EXPECT_EQ(out.data,
            R"({"format":"picklevm-graph/1","source":{"bytes":7,"sha256":"ab",)"
            R"("container":"pickle"},"protocol":2,"root":[1],)"
            R"("warnings":["w1","w\"2"]})"
            "\n");
}

TEST(JsonDocument, NoProtocolIsNull) {
  auto o = Load(Py("N."));
  ASSERT_TRUE(o->ok());
  OutBuffer out;
  ASSERT_TRUE(
      WriteGraphDocument(SourceInfo{}, o->result.protocol, o->result.root, {},
                         100, &out)
          .ok());
  EXPECT_NE(out.data.find(R"("protocol":null,"root":null,"warnings":[]})"),
            std::string::npos)
      << out.data;
}

// ---- depth without recursion -----------------------------------------------------------------

TEST(JsonDeep, MillionDeepListWithoutRecursion) {
  // [[[...]]] a million lists deep: built by the machine, prepared and
  // written by the iterative encoder.  A recursive writer would need far
  // more C stack than a test thread has.
  constexpr size_t kDepth = 1000000;
  std::string p(kDepth, ']');
  p.append(kDepth - 1, 'a');
  p.push_back('.');
  auto o = Load(std::move(p));
  ASSERT_TRUE(o->ok()) << o->message();
  // pvtest's Load already encoded it (with a generous max_depth).
  ASSERT_EQ(o->json.size(), 2 * kDepth);
  EXPECT_EQ(o->json, std::string(kDepth, '[') + std::string(kDepth, ']'));
  // The default --max-depth (1000000) admits exactly this depth.
  OutBuffer out;
  std::string flushed;
  out.flush = [&flushed](std::string_view chunk) { flushed.append(chunk); };
  ASSERT_TRUE(WriteGraphDocument(SourceInfo{}, -1, o->result.root, {},
                                 Limits{}.max_depth, &out)
                  .ok());
  out.Finish();
  EXPECT_EQ(out.data, "");
  EXPECT_NE(flushed.find(o->json), std::string::npos);
}

// Loads a pickle given as hex under the default policy (numpy admitted).
std::unique_ptr<pvtest::Outcome> LoadHexWithDefaultPolicy(
    const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  auto policy = BuildPolicy(false, {});
  if (!policy.ok()) abort();
  // The outcome keeps its graph, not the policy: the graph only refers to
  // the input, so the policy may go once the load is done.
  MachineOptions mo;
  mo.policy = policy->get();
  return LoadWith(std::move(bytes), mo);
}

// The start both streams below share: a list, numpy's _reconstruct of an
// empty uint8 ndarray, and the dtype u1 (pickle.dumps at protocol 2).
const std::string kThreeU1ArraysHead =
    "80025d710028636e756d70792e636f72652e6d756c746961727261790a5f7265636f"
    "6e7374727563740a7101636e756d70790a6e6461727261790a71024b00857103635f"
    "636f646563730a656e636f64650a7104580100000062710558060000006c6174696e"
    "31710686710752710887710952710a284b014b1085710b636e756d70790a64747970"
    "650a710c58020000007531710d898887710e52710f284b0358010000007c71104e4e";

// Three ndarrays whose BUILD states name one memoized bytes object
// (bytes(range(16)); shapes (16,), (16,), (4, 4)), as pickle.dumps writes
// them at protocol 2 when __reduce__ returns the same bytes object: each is
// its own $ndarray, their sha256 is the same, and it is computed once --
// hashing costs at most the input's size, however many arrays view it.
TEST(JsonArrays, ArraysOverOneBytesObjectAreHashedOnce) {
  const std::string hex = kThreeU1ArraysHead +
      "4e4affffffff4affffffff4b00747111628968045810000000000102030405060708"
      "090a0b0c0d0e0f71126806867113527114747115626801680268036808877116527"
      "117284b01680b680f89681474711862680168026803680887711952711a284b014b"
      "044b0486711b680f89681474711c62652e";
  auto o = LoadHexWithDefaultPolicy(hex);
  ASSERT_TRUE(o->ok()) << o->message();
  ASSERT_EQ(o->graph->arrays().size(), 3u);
  ArrayDigests digests;
  EmitOptions options;
  options.digests = &digests;
  JsonEncoder enc(options);
  ASSERT_TRUE(enc.Prepare({o->result.root}, 1000).ok());
  OutBuffer out;
  enc.Write(o->result.root, &out);
  EXPECT_EQ(digests.size(), 1u);
  // hashlib.sha256(bytes(range(16))).hexdigest()
  const std::string want =
      "\"sha256\":\"be45cb2605bf36bebde684841a28f0fd43c69850a3dce5fedba69928ee3a8991\"";
  size_t count = 0;
  for (size_t at = out.data.find(want); at != std::string::npos;
       at = out.data.find(want, at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 3u) << out.data;
}

// The same with the data as a str of Latin-1 characters (U+00F0..U+00FF),
// as Python 2 pickled array data and numpy still reads it: the str is
// encoded once and the three arrays share those bytes (numpy's own
// pickle.loads gives three arrays of f0 f1 .. ff).
TEST(JsonArrays, ArraysOverOneLatin1StrShareTheirBytes) {
  const std::string hex = kThreeU1ArraysHead +
      "4e4affffffff4affffffff4b0074711162895820000000c3b0c3b1c3b2c3b3c3b4c3"
      "b5c3b6c3b7c3b8c3b9c3bac3bbc3bcc3bdc3bec3bf7112747113626801680268036808"
      "877114527115284b01680b680f896812747116626801680268036808877117527118"
      "284b01680b680f89681274711962652e";
  auto o = LoadHexWithDefaultPolicy(hex);
  ASSERT_TRUE(o->ok()) << o->message();
  const auto& arrays = o->graph->arrays();
  ASSERT_EQ(arrays.size(), 3u);
  std::string want;
  for (int c = 0xf0; c <= 0xff; ++c) want.push_back(static_cast<char>(c));
  for (const Node* a : arrays) {
    EXPECT_EQ(a->a.array->data, want);
    EXPECT_EQ(a->a.array->data.data(), arrays[0]->a.array->data.data());
  }
  // hashlib.sha256(bytes(range(0xf0, 0x100))).hexdigest()
  EXPECT_NE(o->json.find("96053d1a0f5e0b02950c81282738484c5d28c6e250e8ad0315fe1d38cf0473a5"),
            std::string::npos);
}

// A dict subclass (sklearn's Bunch) as a BUILD state: CPython's
// load_build takes any dict, and the estimator's __setstate__ updates its
// __dict__ from it, so the dunder check covers its entries too.
TEST(JsonDefaultPolicy, DictSubclassStateIsCheckedForDunderKeys) {
  auto o = LoadHexWithDefaultPolicy(
      "800263736b6c6561726e2e6c696e6561725f6d6f64656c2e5f626173650a4c696e65"
      "617252656772657373696f6e0a298163736b6c6561726e2e7574696c732e5f62756e"
      "63680a42756e63680a2981580c0000005f5f73657473746174655f5f4e73622e");
  EXPECT_EQ(pvtest::ErrorAt(*o), "refused@98 BUILD");
}

// numpy keeps a structured dtype's fields dict as dtype.fields: a SETITEM
// on it after the dtype's BUILD changes the dtype in Python (checked:
// pickle.loads of this stream gives fields 'a' and 'b'), which the graph's
// copy would not show, so strict mode refuses it.
TEST(JsonDefaultPolicy, DtypeFieldsChangedAfterTheBuildAreRefused) {
  auto o = LoadHexWithDefaultPolicy(
      "8002636e756d70790a64747970650a71005802000000563471018988877102527103"
      "284b0358010000007c71044e58010000006171058571067d71076805680058020000"
      "0069347108898887710952710a284b0358010000003c710b4e4e4e4affffffff4aff"
      "ffffff4b0074710c624b0086710d734b044b014b1074710e62680758010000006268"
      "0d73302e");
  EXPECT_EQ(pvtest::ErrorAt(*o), "strict@137 SETITEM");
}

// A structured dtype of 40 fields whose names tuple lists them in the
// reverse of the fields dict's order: each name is found by a hash probe
// (the dict is past the linear-search limit), and the dtype follows the
// names.  Checked against CPython: pickle.loads of this stream gives names
// ('f39', ..., 'f0'), offsets 39 ... 0, itemsize 40.
TEST(JsonDefaultPolicy, StructuredDtypeFindsFieldsByName) {
  auto x = [](const std::string& t) {
    std::string out = "X";
    uint32_t n = static_cast<uint32_t>(t.size());
    out.append(reinterpret_cast<const char*>(&n), 4);  // little-endian
    return out + t;
  };
  constexpr int kFields = 40;
  std::string s = pvtest::Py(R"(\x80\x02cnumpy\ndtype\nq\x000h\x00)") +
                  x("u1") + pvtest::Py(R"(\x89\x88\x87Rq\x010h\x00)") +
                  x("V40") + pvtest::Py(R"(\x89\x88\x87R(K\x03)") + x("|") +
                  "N(";
  for (int i = kFields - 1; i >= 0; --i) s += x("f" + std::to_string(i));
  s += "t}(";
  for (int i = 0; i < kFields; ++i) {
    s += x("f" + std::to_string(i)) + pvtest::Py(R"(h\x01K)") +
         static_cast<char>(i) + pvtest::Py(R"(\x86)");
  }
  s += pvtest::Py(R"(uK(J\xff\xff\xff\xffK\x00tb.)");
  std::string hex;
  for (unsigned char c : s) {
    static const char* kHex = "0123456789abcdef";
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  auto o = LoadHexWithDefaultPolicy(hex);
  ASSERT_TRUE(o->ok()) << o->message();
  std::string names, formats, offsets;
  for (int i = kFields - 1; i >= 0; --i) {
    const char* sep = i == kFields - 1 ? "" : ",";
    names += sep + ("\"f" + std::to_string(i) + "\"");
    formats += sep + std::string("\"|u1\"");
    offsets += sep + std::to_string(i);
  }
  EXPECT_EQ(o->json, R"({"$dtype":{"names":[)" + names + R"(],"formats":[)" +
                         formats + R"(],"offsets":[)" + offsets +
                         R"(],"itemsize":40}})");
}

// ---- --max-output-bytes: the size a document is reckoned at ------------
//
// Prepare reckons what Write will write, so a document far larger than its
// input is refused before anything is written.  The reckoning must never
// be below the truth (or a limit could be passed) and close enough to it
// that no ordinary document is refused: checked on every model fixture and
// on streams of each kind of value.

void ExpectEstimateBoundsTheDocument(Node* root, const std::string& what) {
  for (auto arrays : {EmitOptions::Arrays::kSummary,
                      EmitOptions::Arrays::kInline}) {
    EmitOptions options;
    options.arrays = arrays;
    JsonEncoder enc(options);
    ASSERT_TRUE(enc.Prepare({root}, 100000).ok()) << what;
    OutBuffer out;
    enc.Write(root, &out);
    const uint64_t written = out.data.size();
    EXPECT_GE(enc.estimate(), written) << what;
    // Pessimism: short texts at their longest escaped form (8 bytes a
    // byte), separators at 8 bytes; never near the 256 x input default.
    EXPECT_LE(enc.estimate(), 16 * written + 256) << what;
  }
}

TEST(OutputEstimate, NeverBelowWhatIsWrittenOnEveryModelFixture) {
  auto policy = BuildPolicy(false, {});
  ASSERT_TRUE(policy.ok()) << policy.status();
  size_t checked = 0;
  for (const std::string& file : pvtest::ModelFixtures()) {
    std::string data = pvtest::ReadFileBytes(file);
    Stream stream;
    if (!OpenStream(data, Limits{}, &stream).ok()) continue;
    MachineOptions o;
    o.policy = policy->get();
    Graph g;
    RunResult run;
    if (!LoadFirstPickle(stream.bytes, o, &g, &run).ok()) continue;
    ExpectEstimateBoundsTheDocument(run.root, file);
    ++checked;
  }
  EXPECT_GT(checked, 600u);
}

TEST(OutputEstimate, NeverBelowWhatIsWrittenForEachKindOfValue) {
  // pickle.dumps at protocol 4 of: ints of every width, floats, complex,
  // texts short and long, escaped and not, with a lone surrogate, bytes,
  // bytearray, None/True/False, a shared list, a set, a frozenset, and a
  // 300-char str named from two places.
  const char* streams[] = {
      R"(\x80\x04]\x94(K\x00J\xff\xff\xff\xff\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40)"
      R"(\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01G?\xf8\x00\x00\x00\x00\x00\x00)"
      R"(N\x88\x89e.)",
      R"(\x80\x04]\x94(\x8c\x01a\x94\x8c\x04\xc3\xa9\n\x22\x94)"
      R"(C\x03\x00\x01\x02\x94\x96\x02\x00\x00\x00\x00\x00\x00\x00ab\x94e.)",
      R"(\x80\x03X\x03\x00\x00\x00\xed\xa0\x80q\x00.)",
  };
  for (const char* literal : streams) {
    auto o = Load(Py(literal), Mode::kRecord);
    ASSERT_TRUE(o->ok()) << literal << " " << o->message();
    ExpectEstimateBoundsTheDocument(o->result.root, literal);
  }
  // A 300-char str with quotes and control characters (measured, not
  // reckoned), named from 1,000 places.
  std::string text(300, '"');
  for (size_t i = 0; i < text.size(); i += 3) text[i] = '\x01';
  std::string s = "\x80\x04X";
  uint32_t n = text.size();
  s.append(reinterpret_cast<const char*>(&n), 4);
  s += text + "\x94" "0]\x94(";  // MEMOIZE, POP, a list, APPENDS
  for (int i = 0; i < 1000; ++i) s += std::string("h\0", 2);  // BINGET 0
  s += "e.";
  auto o = Load(s, Mode::kStrict);
  ASSERT_TRUE(o->ok()) << o->message();
  ExpectEstimateBoundsTheDocument(o->result.root, "shared str");
  // A recorded call's texts that are not children: its callable's name and
  // its keywords' names, each 300 chars of which half need \u escapes
  // (NEWOBJ_EX of a class outside the policy, record mode).
  std::string call = "\x80\x04" "c";
  for (int i = 0; i < 200; ++i) call += "m\x01";
  call += "\nC\n)}X";
  std::string key;
  for (int i = 0; i < 150; ++i) key += "k\x01";
  n = key.size();
  call.append(reinterpret_cast<const char*>(&n), 4);
  call += key + "K\x01s\x92.";
  o = Load(call, Mode::kRecord);
  ASSERT_TRUE(o->ok()) << o->message();
  ASSERT_EQ(o->result.root->kind, Kind::kCall);
  ExpectEstimateBoundsTheDocument(o->result.root, "call of a long name");
  // A keyword's name with a lone surrogate is written escaped (6 bytes a
  // control character), not in the shorter {"$str":[...]} form a value
  // with one takes: three calls sharing the keywords dict.
  std::string skey = std::string("\xed\xa0\x80") + std::string(100, '\x01');
  std::string sur = "\x80\x04" "cfoo\nBar\n" "\x94" "0)" "\x94" "0}X";
  n = skey.size();
  sur.append(reinterpret_cast<const char*>(&n), 4);
  sur += skey + "Ns" "\x94" "0](";
  for (int i = 0; i < 3; ++i) sur += std::string("h\0h\x01h\x02\x92", 7);
  sur += "e.";
  o = Load(sur, Mode::kRecord);
  ASSERT_TRUE(o->ok()) << o->message();
  ExpectEstimateBoundsTheDocument(o->result.root, "surrogate keyword");
}

TEST(OutputEstimate, PastTheLimitNothingIsWritten) {
  // One memoized 1,000-char str in a list 1,000 times: a 1 MB document
  // from 3 KB.
  std::string s = "\x80\x04X";
  uint32_t n = 1000;
  s.append(reinterpret_cast<const char*>(&n), 4);
  s += std::string(1000, 'x') + "\x94" "0]\x94(";
  for (int i = 0; i < 1000; ++i) s += std::string("h\0", 2);  // BINGET 0
  s += "e.";
  auto o = Load(s, Mode::kStrict);
  ASSERT_TRUE(o->ok()) << o->message();
  EmitOptions options;
  options.max_output_bytes = 500000;
  OutBuffer out;
  absl::Status st = WriteGraphDocument(SourceInfo{}, 4, o->result.root, {},
                                       100000, &out, options);
  EXPECT_EQ(GetErrorInfo(st).code, ErrorCode::kLimit);
  EXPECT_NE(st.message().find("would exceed --max-output-bytes (500000)"),
            std::string::npos)
      << st.message();
  EXPECT_TRUE(out.data.empty());
  options.max_output_bytes = 2000000;
  EXPECT_TRUE(WriteGraphDocument(SourceInfo{}, 4, o->result.root, {}, 100000,
                                 &out, options)
                  .ok());
  EXPECT_GT(out.data.size(), 1000000u);
}

}  // namespace
}  // namespace picklevm
