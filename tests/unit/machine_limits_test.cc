// Each documented limit (machine.h's Limits) is enforced with ErrorCode::kLimit
// at the opcode that crosses it, and not one step earlier.
#include <cstdint>
#include <string>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "vm/emit/document.h"
#include "vm/policy/allowlist.h"

namespace picklevm {
namespace {

using pvtest::ErrorAt;
using pvtest::LoadWith;
using pvtest::Py;
using pvtest::Summary;

MachineOptions WithLimits(void (*set)(Limits*), Mode mode = Mode::kStrict) {
  MachineOptions o;
  o.mode = mode;
  set(&o.limits);
  return o;
}

// ---- max_stack (stack items plus MARKs) ----------------------------------------------

TEST(LimitStack, ItemsUpToTheLimit) {
  auto o = WithLimits([](Limits* l) { l->max_stack = 3; });
  EXPECT_EQ(Summary(*LoadWith(Py(R"(K\x01K\x02K\x03\x87.)"), o)),
            R"({"$tuple":[1,2,3]})");
  EXPECT_EQ(ErrorAt(*LoadWith(Py(R"(K\x01K\x02K\x03K\x04.)"), o)),
            "limit@6 BININT1");
}

TEST(LimitStack, MarksCount) {
  auto o = WithLimits([](Limits* l) { l->max_stack = 3; });
  EXPECT_EQ(ErrorAt(*LoadWith(Py(R"((K\x01K\x02K\x03l.)"), o)),
            "limit@5 BININT1");
  EXPECT_EQ(ErrorAt(*LoadWith(Py(R"(K\x01K\x02K\x03(l.)"), o)),
            "limit@6 MARK");
  // Two items and a MARK fit.
  EXPECT_EQ(Summary(*LoadWith(Py(R"((K\x01K\x02l.)"), o)), "[1,2]");
}

TEST(LimitStack, RecordModeToo) {
  auto o = WithLimits([](Limits* l) { l->max_stack = 1; }, Mode::kRecord);
  EXPECT_EQ(ErrorAt(*LoadWith(Py(R"(K\x01K\x02.)"), o)), "limit@2 BININT1");
}

TEST(LimitStack, MessageNamesTheFlag) {
  auto o = WithLimits([](Limits* l) { l->max_stack = 1; });
  auto out = LoadWith(Py(R"(K\x01K\x02.)"), o);
  EXPECT_NE(out->message().find("--max-stack"), std::string::npos)
      << out->message();
}

// ---- max_memo (distinct memo entries) -----------------------------------------------------

TEST(LimitMemo, DistinctEntries) {
  auto o = WithLimits([](Limits* l) { l->max_memo = 2; });
  EXPECT_EQ(ErrorAt(*LoadWith(Py(R"(]q\x00q\x01q\x02.)"), o)), "limit@5 BINPUT");
  EXPECT_EQ(Summary(*LoadWith(Py(R"(]q\x00q\x01.)"), o)), "[]");
  EXPECT_EQ(ErrorAt(*LoadWith(Py(R"(\x80\x04]\x94\x94\x94.)"), o)),
            "limit@5 MEMOIZE");
  EXPECT_EQ(ErrorAt(*LoadWith(Py(R"(]p0\np1\np2\n.)"), o)), "limit@7 PUT");
}

TEST(LimitMemo, OverwritingAnEntryDoesNotCount) {
  auto o = WithLimits([](Limits* l) { l->max_memo = 1; });
  EXPECT_EQ(Summary(*LoadWith(Py(R"(]q\x00q\x00q\x00.)"), o)), "[]");
}

// ---- max_nodes ------------------------------------------------------------------------

TEST(LimitNodes, NodesUpToTheLimit) {
  auto o = WithLimits([](Limits* l) { l->max_nodes = 3; });
  EXPECT_EQ(Summary(*LoadWith(Py(R"(K\x01K\x02K\x03\x87q\x00.)"), o)),
            "error:limit@6");
  EXPECT_EQ(Summary(*LoadWith(Py(R"(K\x01K\x02\x86.)"), o)),
            R"({"$tuple":[1,2]})");
  EXPECT_EQ(ErrorAt(*LoadWith(Py(R"((K\x01K\x02K\x03l.)"), o)), "limit@7 LIST");
}

TEST(LimitNodes, SingletonsAreFree) {
  // None, True and False are per-graph singletons, never counted.
  auto o = WithLimits([](Limits* l) { l->max_nodes = 1; });
  EXPECT_EQ(Summary(*LoadWith(Py(R"((NN\x88\x89l.)"), o)),
            "[null,null,true,false]");
}

TEST(LimitNodes, MessageNamesTheFlag) {
  auto o = WithLimits([](Limits* l) { l->max_nodes = 1; });
  auto out = LoadWith(Py(R"(K\x01K\x02\x86.)"), o);
  EXPECT_EQ(out->error.code, ErrorCode::kLimit);
  EXPECT_NE(out->message().find("--max-nodes"), std::string::npos)
      << out->message();
}

// ---- max_graph_bytes (the graph's arena; the stack's and memo's caps) ------------------
//
// The budget is checked where the arena takes a block, so which opcode
// crosses it depends on block sizes: the tests pin the opcode and the
// message, and that a bigger budget loads the same stream.

std::string Repeat(std::string_view head, std::string_view unit, size_t n,
                   std::string_view tail) {
  std::string s(head);
  for (size_t i = 0; i < n; ++i) s += unit;
  s += tail;
  return s;
}

TEST(LimitGraphBytes, ArenaPastTheBudgetFailsAtTheOpcode) {
  // A list of 40,000 empty dicts: each is a node and a dict body.
  const std::string s = Repeat("(", "}", 40000, "l.");
  for (Mode mode : {Mode::kStrict, Mode::kRecord}) {
    for (bool fast : {false, true}) {
      MachineOptions o;
      o.mode = mode;
      o.fast_path = fast;
      o.limits.max_graph_bytes = 1 << 20;
      auto out = LoadWith(s, o);
      EXPECT_EQ(out->error.code, ErrorCode::kLimit) << Summary(*out);
      EXPECT_EQ(out->error.opcode, '}') << ErrorAt(*out);
      EXPECT_GT(out->error.offset, 1000) << ErrorAt(*out);
      EXPECT_LT(out->error.offset, 40000) << ErrorAt(*out);
      EXPECT_NE(out->message().find(
                    "graph memory exceeds --max-graph-bytes (1048576)"),
                std::string::npos)
          << out->message();
      o.limits.max_graph_bytes = 16 << 20;
      EXPECT_TRUE(LoadWith(s, o)->ok());
    }
  }
}

// The fast path keeps its position in a register and must not throw: a
// growth the budget refuses fails there, and the general path runs the
// opcode again and reports it.  Both paths give the same error at the same
// offset (the fuzz targets compare them).
TEST(LimitGraphBytes, FastAndGeneralPathsFailAtTheSameOpcode) {
  std::string lists = "\x80\x02";  // three lists of 15,000 Nones
  for (int i = 0; i < 3; ++i) lists += Repeat("(", "N", 15000, "l0");
  lists += "N.";
  std::string appends = "]";  // one list, 100,000 single APPENDs
  appends += Repeat("", "Na", 100000, ".");
  std::string setitems = "}";  // one dict, 40,000 distinct int keys
  for (int i = 0; i < 40000; ++i) {
    setitems += 'J';
    setitems.append(reinterpret_cast<const char*>(&i), 4);
    setitems += "Ns";
  }
  setitems += ".";
  const struct {
    const std::string* stream;
    const char* error;
  } cases[] = {{&lists, "limit@45009 LIST"},
               {&appends, nullptr},
               {&setitems, nullptr}};
  for (const auto& c : cases) {
    std::string at[2], message[2];
    for (bool fast : {false, true}) {
      MachineOptions o;
      o.fast_path = fast;
      o.limits.max_graph_bytes = 300000;
      auto out = LoadWith(*c.stream, o);
      at[fast] = ErrorAt(*out);
      message[fast] = out->message();
      EXPECT_NE(message[fast].find("graph memory exceeds --max-graph-bytes "
                                   "(300000)"),
                std::string::npos)
          << message[fast];
    }
    EXPECT_EQ(at[0], at[1]);
    EXPECT_EQ(message[0], message[1]);
    EXPECT_EQ(at[1].find(" -"), std::string::npos) << at[1];  // an opcode
    if (c.error != nullptr) {
      EXPECT_EQ(at[1], c.error);
    }
  }
}

// An allocation past the budget in the general path throws out of
// whatever made it (here a GLOBAL's 600 KB name); the run still ends as
// every error does: record mode reports the globals named before it
// (scan's verdict rests on them; they were lost when the throw left the
// machine), and the error names the opcode.
TEST(LimitGraphBytes, AThrowEndsTheRunLikeAnyError) {
  const std::string s =
      "cos\nsystem\n0c" + std::string(600000, 'm') + "\nX\n.";
  MachineOptions o;
  o.mode = Mode::kRecord;  // (strict refuses os.system where it is named)
  o.limits.max_graph_bytes = 1 << 19;
  auto out = LoadWith(s, o);
  EXPECT_EQ(ErrorAt(*out), "limit@12 GLOBAL");
  EXPECT_NE(out->message().find("graph memory exceeds --max-graph-bytes"),
            std::string::npos)
      << out->message();
  EXPECT_NE(pvtest::LogText(out->result).find("\nos:system reference 0"),
            std::string::npos)
      << pvtest::LogText(out->result);
}

// Record mode's log (calls, findings, warnings) lives outside the arena
// and counts against the budget: one object BUILT over and over (3 bytes
// a BUILD, a logged call each) ends at the budget, at a BUILD; and the
// repeated BUILD is warned once, not once per BUILD.
TEST(LimitGraphBytes, RecordModesLogCounts) {
  std::string s = "\x80\x02" "c__main__\nFoo\n)\x81}q\x03" "0";
  for (int i = 0; i < 100000; ++i) s += "h\x03" "b";
  s += ".";
  MachineOptions o;
  o.mode = Mode::kRecord;
  o.limits.max_graph_bytes = 1 << 20;
  auto out = LoadWith(s, o);
  EXPECT_EQ(out->error.code, ErrorCode::kLimit) << out->message();
  EXPECT_EQ(out->error.opcode, 'b') << ErrorAt(*out);
  EXPECT_NE(out->message().find("graph memory exceeds --max-graph-bytes"),
            std::string::npos)
      << out->message();
  EXPECT_LT(out->result.calls.size(), 100000u);
  EXPECT_GT(out->result.calls.size(), 1000u);
  EXPECT_EQ(out->result.warnings.size(), 1u);
  // With room for it, every BUILD is logged, and still one warning.
  o.limits.max_graph_bytes = 64 << 20;
  out = LoadWith(s, o);
  EXPECT_TRUE(out->ok()) << out->message();
  EXPECT_EQ(out->result.calls.size(), 100001u);  // NEWOBJ, then the BUILDs
  EXPECT_EQ(out->result.warnings.size(), 1u);
}

TEST(LimitGraphBytes, BoundsTheStack) {
  // None is a singleton (no arena memory), so only the stack grows: a
  // 1 MiB budget allows 65,536 stack items and MARKs.  The MARK at 0 is
  // one, so the None at offset 65,536 is the one too many.
  const std::string s = Repeat("(", "N", 70000, "l.");
  auto o = WithLimits([](Limits* l) { l->max_graph_bytes = 1 << 20; });
  auto out = LoadWith(s, o);
  EXPECT_EQ(ErrorAt(*out), "limit@65536 NONE");
  EXPECT_NE(out->message().find("stack exceeds 65536 items, what "
                                "--max-graph-bytes (1048576) allows"),
            std::string::npos)
      << out->message();
  // A smaller --max-stack governs, and is the one named.
  o.limits.max_stack = 100;
  out = LoadWith(s, o);
  EXPECT_EQ(ErrorAt(*out), "limit@100 NONE");
  EXPECT_NE(out->message().find("--max-stack (100)"), std::string::npos)
      << out->message();
}

TEST(LimitGraphBytes, BoundsTheMemo) {
  // 70,000 MEMOIZEs of one None: a new memo entry each.  The 65,537th
  // (at offset 3 + 65,536) is past what a 1 MiB budget allows.
  const std::string s = Repeat("\x80\x04N", "\x94", 70000, ".");
  auto o = WithLimits([](Limits* l) { l->max_graph_bytes = 1 << 20; });
  auto out = LoadWith(s, o);
  EXPECT_EQ(ErrorAt(*out), "limit@65539 MEMOIZE");
  EXPECT_NE(out->message().find("memo exceeds 65536 items, what "
                                "--max-graph-bytes (1048576) allows"),
            std::string::npos)
      << out->message();
}

TEST(LimitGraphBytes, DefaultGrowsWithTheFile) {
  EXPECT_EQ(DefaultMaxGraphBytes(0), uint64_t{64} << 20);
  EXPECT_EQ(DefaultMaxGraphBytes(1000), 256000 + (uint64_t{64} << 20));
  EXPECT_EQ(DefaultMaxGraphBytes(UINT64_MAX), UINT64_MAX);
  // Unset, RunPickle derives it from the stream it is given.
  Graph graph;
  RunResult run;
  ASSERT_TRUE(RunPickle(Py("N."), 0, MachineOptions(), &graph, &run).ok());
  EXPECT_EQ(graph.max_bytes(), DefaultMaxGraphBytes(2));
}

// ---- max_copied_items ------------------------------------------------------------------
//
// Expected values checked against CPython: pickle.loads of each stream gives
// [{1, 2, 3}, {1, 2, 3}] (two distinct sets), [b'\xe9', b'\xe9'] and two
// distinct Bunch instances {'a': 1, 'b': 2}.

// builtins.set(L) twice on one memoized L = [1, 2, 3]: 6 items copied.
constexpr char kTwoSets[] =
    R"(\x80\x02cbuiltins\nset\nq\x000(K\x01K\x02K\x03lq\x010()"
    R"(h\x00h\x01\x85Rh\x00h\x01\x85Rl.)";

TEST(LimitCopiedItems, SetsOfOneMemoizedListUpToTheLimit) {
  auto o = WithLimits([](Limits* l) { l->max_copied_items = 6; });
  EXPECT_EQ(Summary(*LoadWith(Py(kTwoSets), o)),
            R"([{"$set":[1,2,3]},{"$set":[1,2,3]}])");
  o = WithLimits([](Limits* l) { l->max_copied_items = 5; });
  EXPECT_EQ(ErrorAt(*LoadWith(Py(kTwoSets), o)), "limit@42 REDUCE");
}

TEST(LimitCopiedItems, RecordModeToo) {
  // Record mode builds what the builders know (policy.h), so it copies too.
  auto o = WithLimits([](Limits* l) { l->max_copied_items = 5; },
                      Mode::kRecord);
  EXPECT_EQ(ErrorAt(*LoadWith(Py(kTwoSets), o)), "limit@42 REDUCE");
}

TEST(LimitCopiedItems, MessageNamesTheFlag) {
  auto o = WithLimits([](Limits* l) { l->max_copied_items = 1; });
  auto out = LoadWith(Py(kTwoSets), o);
  EXPECT_EQ(out->error.code, ErrorCode::kLimit);
  EXPECT_NE(out->message().find("--max-copied-items (1)"), std::string::npos)
      << out->message();
}

TEST(LimitCopiedItems, ReconstructorDictStateIsCopied) {
  // copyreg._reconstructor(Bunch, dict, S) twice, S = {'a': 1, 'b': 2}.
  constexpr char kTwoBunches[] =
      R"(\x80\x02ccopyreg\n_reconstructor\nq\x00csklearn.utils._bunch\n)"
      R"(Bunch\nq\x01cbuiltins\ndict\nq\x02}q\x03(X\x01\x00\x00\x00aK\x01)"
      R"(X\x01\x00\x00\x00bK\x02u0000(h\x00h\x01h\x02h\x03\x87R)"
      R"(h\x00h\x01h\x02h\x03\x87Rl.)";
  const std::string bunch =
      R"({"$object":{"class":"sklearn.utils._bunch:Bunch","via":"new",)"
      R"("dictitems":[["a",1],["b",2]]}})";
  // The default allowlists (sklearn's Bunch is admitted there).
  auto policy = BuildPolicy(false, {});
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto o = WithLimits([](Limits* l) { l->max_copied_items = 4; });
  o.policy = policy->get();
  EXPECT_EQ(Summary(*LoadWith(Py(kTwoBunches), o)),
            "[" + bunch + "," + bunch + "]");
  o.limits.max_copied_items = 3;
  EXPECT_EQ(ErrorAt(*LoadWith(Py(kTwoBunches), o)), "limit@120 REDUCE");
}

TEST(LimitCopiedItems, DefaultGrowsWithTheInput) {
  EXPECT_EQ(DefaultMaxCopiedItems(0), 65536u);
  EXPECT_EQ(DefaultMaxCopiedItems(1000), 67536u);
  EXPECT_EQ(DefaultMaxCopiedItems(UINT64_MAX), UINT64_MAX);
  // 40 sets of one memoized 2,000-item list: 80,000 copies, past the
  // default for this 2,267-byte stream (70,070); one such set is within it.
  std::string s = Py(R"(\x80\x02cbuiltins\nset\nq\x000()");
  for (int i = 0; i < 2000; ++i) s += Py(R"(N)");
  s += Py(R"(lq\x010()");
  for (int i = 0; i < 40; ++i) s += Py(R"(h\x00h\x01\x85R)");
  s += Py(R"(l.)");
  uint64_t bound = DefaultMaxCopiedItems(s.size());
  ASSERT_LT(bound, 80000u);
  auto out = LoadWith(s, MachineOptions());
  EXPECT_EQ(out->error.code, ErrorCode::kLimit) << Summary(*out);
  // Each set holds one None: the 2,000 items are copied, and deduplicated.
  std::string few = s;
  few.replace(few.size() - 2 - 40 * 6, 40 * 6, Py(R"(h\x00h\x01\x85R)"));
  EXPECT_EQ(Summary(*LoadWith(few, MachineOptions())), R"([{"$set":[null]}])");
}

TEST(LimitCopiedItems, RecordModeBytearrayAppendCopiesItsBytes) {
  // bytearray(b'ab'), APPEND 1, APPEND 2: CPython's bytearray.append gives
  // bytearray(b'ab\x01\x02'); record mode copies 2, then 3 bytes.
  constexpr char kAppends[] =
      R"(\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00abK\x01aK\x02a.)";
  auto o = WithLimits([](Limits* l) { l->max_copied_items = 5; },
                      Mode::kRecord);
  EXPECT_EQ(Summary(*LoadWith(Py(kAppends), o)),
            R"({"$bytearray":"YWIBAg=="})");
  o.limits.max_copied_items = 4;
  EXPECT_EQ(ErrorAt(*LoadWith(Py(kAppends), o)), "limit@18 APPEND");
}

TEST(FindingText, LongNamesAreCutAtACharacterBoundary) {
  // Record mode: STACK_GLOBAL of a module named 'é' * 200 (400 bytes) and
  // 'n', twice.  Each finding keeps at most 256 bytes of the name (a
  // stream could name one long memoized str in every use), cut between
  // characters, with an ellipsis.
  std::string module;
  for (int i = 0; i < 200; ++i) module += "\xc3\xa9";
  std::string s = Py(R"(\x80\x04X)");
  uint32_t n = static_cast<uint32_t>(module.size());
  s.append(reinterpret_cast<const char*>(&n), 4);
  s += module + Py(R"(\x94\x8c\x01n\x94\x93h\x00h\x01\x93\x86.)");
  auto o = pvtest::Load(s, Mode::kRecord);
  ASSERT_TRUE(o->ok()) << o->message();
  const std::string want = module.substr(0, 256) + "\xe2\x80\xa6";
  int seen = 0;
  for (const Finding& f : o->result.findings) {
    EXPECT_EQ(f.global, want);
    ++seen;
  }
  EXPECT_GE(seen, 2);
}

// _codecs.encode(T, 'latin1') and bytearray(T, 'latin-1') of one memoized T
// share T's Latin-1 bytes instead of copying them per call; each call still
// makes its own node (no $id).
TEST(LimitCopiedItems, Latin1BytesAreSharedNotCopied) {
  constexpr char kTwoEncodes[] =
      R"(\x80\x02c_codecs\nencode\nq\x00X\x02\x00\x00\x00\xc3\xa9q\x01)"
      R"(X\x06\x00\x00\x00latin1q\x02000(h\x00h\x01h\x02\x86R)"
      R"(h\x00h\x01h\x02\x86Rl.)";
  auto o = WithLimits([](Limits* l) { l->max_copied_items = 1; });
  EXPECT_EQ(Summary(*LoadWith(Py(kTwoEncodes), o)),
            R"([{"$bytes":"6Q=="},{"$bytes":"6Q=="}])");
}

// ---- max_int_digits ------------------------------------------------------------------

std::string IntLine(char op, size_t digits, std::string_view suffix = "") {
  return std::string(1, op) + std::string(digits, '7') + std::string(suffix) +
         "\n.";
}

TEST(LimitIntDigits, TextIntAtTheDefault) {
  // CPython's default int_max_str_digits is 4300 too:
  // pickle.loads(b'I' + b'7' * 4300 + b'\n.') works, 4301 digits raise
  // ValueError: Exceeds the limit (4300 digits) for integer string
  // conversion.
  MachineOptions o;
  auto ok = LoadWith(IntLine('I', 4300), o);
  ASSERT_TRUE(ok->ok()) << ok->message();
  EXPECT_EQ(ok->json, "{\"$int\":\"" + std::string(4300, '7') + "\"}");
  EXPECT_EQ(ErrorAt(*LoadWith(IntLine('I', 4301), o)), "limit@0 INT");
  EXPECT_EQ(ErrorAt(*LoadWith(IntLine('L', 4301, "L"), o)), "limit@0 LONG");
  EXPECT_TRUE(LoadWith(IntLine('L', 4300, "L"), o)->ok());
}

TEST(LimitIntDigits, Configurable) {
  auto o = WithLimits([](Limits* l) { l->max_int_digits = 20; });
  EXPECT_EQ(Summary(*LoadWith(IntLine('I', 20), o)),
            "{\"$int\":\"" + std::string(20, '7') + "\"}");
  EXPECT_EQ(ErrorAt(*LoadWith(IntLine('I', 21), o)), "limit@0 INT");
  auto msg = LoadWith(IntLine('I', 21), o)->message();
  EXPECT_NE(msg.find("--max-int-digits"), std::string::npos) << msg;
}

// 2**k as a LONG4 payload (little-endian two's complement), or -(2**k).
std::string PowerOfTwoLong4(int k, bool negative) {
  std::string payload(static_cast<size_t>(k / 8), '\0');
  uint8_t top = static_cast<uint8_t>(1u << (k % 8));
  if (negative) top = static_cast<uint8_t>(0x100 - top);  // ...1111 0000
  payload.push_back(static_cast<char>(top));
  if (!negative && (top & 0x80)) payload.push_back('\0');
  if (negative && !(top & 0x80)) payload.push_back('\xff');
  uint32_t n = static_cast<uint32_t>(payload.size());
  std::string out = "\x8b";
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(n >> (8 * i)));
  return out + payload + ".";
}

TEST(LimitIntDigits, BinaryLongCountsDecimalDigits) {
  // CPython has no digit limit for LONG1/LONG4 (no decimal conversion);
  // picklevm writes every int in decimal, so the same limit applies.
  // len(str(2**14284)) == 4300, len(str(2**14285)) == 4301; the sign does
  // not count (len(str(-2**14284)) == 4301 with the '-').
  MachineOptions o;
  auto ok = LoadWith(PowerOfTwoLong4(14284, false), o);
  ASSERT_TRUE(ok->ok()) << ok->message();
  EXPECT_EQ(ok->json.size(), 4300u + 11u);  // {"$int":"..."}
  auto neg = LoadWith(PowerOfTwoLong4(14284, true), o);
  ASSERT_TRUE(neg->ok()) << neg->message();
  EXPECT_EQ(neg->json.substr(0, 10), "{\"$int\":\"-");
  EXPECT_EQ(neg->json.size(), 4301u + 11u);
  EXPECT_EQ(ErrorAt(*LoadWith(PowerOfTwoLong4(14285, false), o)),
            "limit@0 LONG4");
  EXPECT_EQ(ErrorAt(*LoadWith(PowerOfTwoLong4(14285, true), o)),
            "limit@0 LONG4");
}

TEST(LimitIntDigits, HugeLong4FailsFast) {
  // 64 MiB of 0x7f bytes: rejected from the byte count, before any
  // quadratic decimal conversion (this test would take minutes otherwise).
  std::string payload(64u << 20, '\x7f');
  std::string p = "\x8b";
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) p.push_back(static_cast<char>(n >> (8 * i)));
  p += payload + ".";
  EXPECT_EQ(ErrorAt(*LoadWith(std::move(p), MachineOptions{})), "limit@0 LONG4");
}

// ---- max_input_bytes -------------------------------------------------------------------

TEST(LimitInputBytes, WholeInputIsChecked) {
  auto o = WithLimits([](Limits* l) { l->max_input_bytes = 3; });
  auto out = LoadWith(Py("N.N."), o);
  EXPECT_EQ(out->error.code, ErrorCode::kLimit);
  EXPECT_EQ(out->error.offset, -1);
  EXPECT_EQ(Summary(*LoadWith(Py("N."), o)), "null");
}

// ---- max_depth (the emitter's Prepare pass) ------------------------------------------------

// n EMPTY_LISTs, each appended to the one before: a list nested n deep.
std::string NestedLists(size_t n) {
  std::string p(n, ']');
  p.append(n - 1, 'a');
  p.push_back('.');
  return p;
}

TEST(LimitDepth, PrepareChecksNesting) {
  auto out = LoadWith(NestedLists(3), MachineOptions{});
  ASSERT_TRUE(out->ok()) << out->message();
  EXPECT_EQ(out->json, "[[[]]]");
  {
    JsonEncoder enc;
    EXPECT_TRUE(enc.Prepare({out->result.root}, 3).ok());
  }
  {
    JsonEncoder enc;
    absl::Status s = enc.Prepare({out->result.root}, 2);
    ErrorInfo info = GetErrorInfo(s);
    EXPECT_EQ(info.code, ErrorCode::kLimit);
    EXPECT_NE(std::string(s.message()).find("--max-depth"), std::string::npos)
        << s.message();
  }
}

TEST(LimitDepth, DocumentWritesNothingWhenTooDeep) {
  auto out = LoadWith(NestedLists(5), MachineOptions{});
  ASSERT_TRUE(out->ok()) << out->message();
  OutBuffer buf;
  absl::Status s = WriteGraphDocument(SourceInfo{}, -1, out->result.root, {},
                                      4, &buf);
  EXPECT_EQ(GetErrorInfo(s).code, ErrorCode::kLimit);
  EXPECT_EQ(buf.data, "");
  // With the limit met exactly, the document is written.
  EXPECT_TRUE(WriteGraphDocument(SourceInfo{}, -1, out->result.root, {}, 5,
                                 &buf)
                  .ok());
  EXPECT_NE(buf.data.find("\"root\":[[[[[]]]]]"), std::string::npos)
      << buf.data;
}

TEST(LimitDepth, PreparedNodesAreClearedForTheNextEncoder) {
  // A failed Prepare leaves no marks behind: a second encoder over the same
  // graph sees the same sharing.
  auto out = LoadWith(Py(R"(]2\x86.)"), MachineOptions{});
  ASSERT_TRUE(out->ok());
  {
    JsonEncoder enc;
    EXPECT_FALSE(enc.Prepare({out->result.root}, 1).ok());
  }
  EXPECT_EQ(pvtest::RootJson(out->result.root),
            R"({"$tuple":[{"$id":0,"$value":[]},{"$ref":0}]})");
}

// LONG_BINPUT 1100 goes to the sparse memo (the dense one is still empty),
// 1,000 dense PUTs follow, then PUT 1150 grows the dense memo past 1100
// without writing it; LONG_BINGET 1100 must still find 'x'.  CPython 3.11's
// pickle.loads of these bytes gives ['x', None x 1000, 'y', 'x', 'y'].  Run
// through the fast path and through the general path only.
TEST(Memo, SparseEntryFoundAfterTheDenseMemoGrowsOverIt) {
  auto u32 = [](uint32_t v) {
    std::string b(4, '\0');
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
    return b;
  };
  std::string s = "\x80\x04]";
  s += "\x8c\x01x" "r" + u32(1100) + "a";
  for (uint32_t i = 0; i < 1000; ++i) s += "Nr" + u32(i) + "a";
  s += "\x8c\x01y" "r" + u32(1150) + "a";
  s += "j" + u32(1100) + "aj" + u32(1150) + "a.";
  for (bool fast : {true, false}) {
    MachineOptions o;
    o.fast_path = fast;
    auto out = LoadWith(s, o);
    ASSERT_TRUE(out->ok()) << out->message();
    std::string want = "[\"x\"";
    for (int i = 0; i < 1000; ++i) want += ",null";
    want += ",\"y\",\"x\",\"y\"]";
    EXPECT_EQ(out->json, want) << (fast ? "fast path" : "general path");
  }
}

// A memo of more entries than fit the heap part of the dense memo
// (GrowableArray moves it once into a reservation): entries put before the
// move, a sparse entry the growth takes over after it, and the last entry
// are all found.  CPython 3.11's pickle.loads of these bytes gives
// ['s', 0, 1, ..., 99999, 't', 's', 70000, 't', 99999].
TEST(Memo, EntriesSurviveTheMoveOfALargeDenseMemo) {
  auto u32 = [](uint32_t v) {
    std::string b(4, '\0');
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
    return b;
  };
  constexpr uint32_t kN = 100000;
  std::string s = "\x80\x04]";
  s += "\x8c\x01s" "r" + u32(0) + "a";
  s += "\x8c\x01t" "r" + u32(2 * kN) + "a";  // sparse until the memo grows
  for (uint32_t i = 1; i <= kN; ++i) {
    s += "J" + u32(i - 1) + "r" + u32(i) + "a";
  }
  s += "\x8c\x01u" "r" + u32(2 * kN + 1) + "a";  // grows over 2 * kN
  s += "j" + u32(0) + "aj" + u32(70001) + "aj" + u32(2 * kN) + "aj" +
       u32(kN) + "a.";
  for (bool fast : {true, false}) {
    MachineOptions o;
    o.fast_path = fast;
    auto out = LoadWith(s, o);
    ASSERT_TRUE(out->ok()) << out->message();
    std::string want = "[\"s\",\"t\"";
    for (uint32_t i = 0; i < kN; ++i) want += "," + std::to_string(i);
    want += ",\"u\",\"s\",70000,\"t\",99999]";
    EXPECT_EQ(out->json, want) << (fast ? "fast path" : "general path");
  }
}

// A text PUT/GET index with more digits than --max-int-digits is refused
// the same way by the fast path and the general path (TextMemoIndex).
TEST(LimitIntDigits, TextMemoIndexOnBothPaths) {
  std::string s = "(lp123\n.";
  std::string errors[2];
  for (bool fast : {true, false}) {
    MachineOptions o;
    o.fast_path = fast;
    o.limits.max_int_digits = 2;
    auto out = LoadWith(s, o);
    ASSERT_FALSE(out->ok());
    errors[fast] = out->message();
  }
  EXPECT_EQ(errors[0], errors[1]);
  EXPECT_NE(errors[1].find("invalid memo index"), std::string::npos)
      << errors[1];
  MachineOptions o;
  EXPECT_TRUE(LoadWith(s, o)->ok());
}

// SETITEM and APPEND on a plain dict or list run on the fast path; every
// other case (fence in the way, unhashable key, another target) is left to
// Step.  Both paths must give the same graph or the same error, in both
// modes.  The graphs are CPython's (pickle.loads of the same bytes).
// A stream and its strict-mode Summary (nullptr: an error).
struct FastCase {
  const char* stream;
  const char* strict;
};

// The stream gives the same graph or error with the fast path on and off,
// in both modes (record mode: with the same findings and calls), and
// strict mode gives `strict`.
void ExpectBothPathsAgree(const FastCase& c) {
  std::string input = Py(c.stream);
  for (Mode mode : {Mode::kStrict, Mode::kRecord}) {
    std::string out[2];
    for (bool fast : {false, true}) {
      MachineOptions o;
      o.mode = mode;
      o.fast_path = fast;
      auto r = LoadWith(input, o);
      out[fast] = Summary(*r) + " " + ErrorAt(*r) + " " + r->message() +
                  pvtest::LogText(r->result);
    }
    EXPECT_EQ(out[0], out[1]) << c.stream;
    if (mode == Mode::kStrict && c.strict != nullptr) {
      EXPECT_EQ(out[1].substr(0, out[1].find(' ')), c.strict) << c.stream;
    } else if (mode == Mode::kStrict) {
      EXPECT_EQ(out[1].rfind("error:", 0), 0u) << out[1];
    }
  }
}

TEST(FastPath, SingleItemOpcodesMatchTheGeneralPath) {
  const FastCase cases[] = {
      {"(dp0\nS'a'\np1\nI1\ns.", R"({"a":1})"},
      {R"(}K\x01K\x02sK\x01K\x03s.)", R"({"$dict":[[1,3]]})"},
      {R"(]K\x01aK\x02a.)", "[1,2]"},
      {R"(}K\x01]s.)", R"({"$dict":[[1,[]]]})"},
      {R"(]K\x07aK\x00K\x05s.)", nullptr},  // list.__setitem__
      {R"(}]Ns.)", nullptr},                 // unhashable key
      {R"(}(K\x01K\x02s.)", nullptr},        // the MARK fences the dict
      {R"()K\x01a.)", nullptr},              // tuple has no append
      {R"(](K\x01a.)", nullptr},             // the MARK fences the list
  };
  for (const FastCase& c : cases) ExpectBothPathsAgree(c);
}

// SETITEMS on a plain dict runs on the fast path too (DoSetItems's dict
// case); every other case goes to Step, and an error after some pairs were
// set is Step's to report (it sets them again, which changes nothing).  The
// graphs and errors are CPython's (pickle.loads of the same bytes).
TEST(FastPath, SetitemsMatchesTheGeneralPath) {
  const FastCase cases[] = {
      {R"(}(K\x01K\x02K\x03K\x04u.)", R"({"$dict":[[1,2],[3,4]]})"},
      {R"(}(K\x01K\x02K\x01K\x03u.)", R"({"$dict":[[1,3]]})"},
      {R"(}(K\x01K\x02\x88K\x03u.)", R"({"$dict":[[1,3]]})"},  // True == 1
      {R"(}(u.)", "{}"},
      // Two dicts with the same keys (the second follows the first's shape),
      // then a third that diverges and meets an unhashable key.
      {R"(]}(\x8c\x01a\x94K\x01\x8c\x01b\x94K\x02ua}(h\x00K\x03h\x01K\x04ua.)",
       R"([{"a":1,"b":2},{"a":3,"b":4}])"},
      {R"(]}(\x8c\x01a\x94K\x01\x8c\x01b\x94K\x02ua}(h\x00K\x03h\x00K\x04ua}(h\x01K\x05]K\x06ua.)",
       nullptr},
      {R"(}(K\x01K\x02]K\x03u.)", nullptr},   // unhashable after a pair
      {R"(}(K\x01K\x02K\x03u.)", nullptr},    // odd number of items
      {R"(}((K\x01K\x02u.)", nullptr},         // a MARK fences the dict
      {R"(}K\x01K\x02u.)", nullptr},           // no MARK
      {R"(](K\x00K\x01u.)", nullptr},          // list.__setitem__
  };
  for (const FastCase& c : cases) ExpectBothPathsAgree(c);
}

// REDUCE, BUILD and NEWOBJ run Step's code from the fast path, and the
// bytes opcodes are read there as views; errors (an argument that is no
// tuple, an empty stack, a BUILD on a list, bytes the input or a frame
// cuts) are Step's, at the same offset.  The graphs and errors are
// CPython's (pickle.loads of the same bytes: b'abc', (b'abc', b''), {1},
// OrderedDict(); TypeError, stack underflow, no __dict__, truncated),
// except that NEWOBJ of OrderedDict is refused by the built-in policy (it
// admits the call only), and the bytes that cross a frame's end are
// refused as the pure-Python unpickler refuses them
// (fuzz/differential_known.md, D2).
TEST(FastPath, CallsBuildsAndBytesMatchTheGeneralPath) {
  const FastCase cases[] = {
      {R"(\x80\x04C\x03abc\x94.)", R"({"$bytes":"YWJj"})"},
      {R"(\x80\x04B\x03\x00\x00\x00abcC\x00\x86.)",
       R"({"$tuple":[{"$bytes":"YWJj"},{"$bytes":""}]})"},
      {R"(\x80\x04B\x05\x00\x00\x00abc.)", nullptr},
      {R"(\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00C\x03abc.)", nullptr},
      {"\\x80\\x02c__builtin__\nset\n]K\\x01a\\x85R.", R"({"$set":[1]})"},
      {"\\x80\\x02c__builtin__\nset\n]R.", nullptr},
      {R"(\x80\x02NR.)", nullptr},
      {R"(R.)", nullptr},
      {"\\x80\\x02ccollections\nOrderedDict\n)R}b.",
       R"({"$object":{"class":"collections:OrderedDict","via":"call",)"
       R"("state":{}}})"},
      {"\\x80\\x02ccollections\nOrderedDict\n)\\x81.", nullptr},
      {R"(\x80\x02]}b.)", nullptr},
      {"\\x80\\x02ccollections\nOrderedDict\n)R(K\\x01K\\x02ub.", nullptr},
  };
  for (const FastCase& c : cases) ExpectBothPathsAgree(c);
}

// Protocol 0's one-pass lines (INT, PUT, GET, FLOAT, UNICODE read with
// their newline in one scan) and MARK containers (LIST, TUPLE, an empty
// DICT) on the fast path; every other shape takes the line path or Step.
// The graphs and errors are CPython's (pickle.loads of the same bytes:
// [False, True, False, -1, 0, 10], octal 010 == 8, and so on).
TEST(FastPath, TextLinesAndMarkContainersMatchTheGeneralPath) {
  const FastCase cases[] = {
      // "00", "01" and "-0" are bools; "0", "-1", "10" are not.
      {"(lp0\nI00\naI01\naI-0\naI-1\naI0\naI10\na.",
       "[false,true,false,-1,0,10]"},
      // strtol's octal, '+', a leading space: the line path.
      {"(lI010\naI+5\naI 5\naI007\na.", "[8,5,5,7]"},
      // 18 digits (one pass), 19 (the line path, int64), 20 (a big int).
      {"(lI123456789012345678\naI-123456789012345678\naI1234567890123456789"
       "\naI12345678901234567890\na.",
       R"([{"$int":"123456789012345678"},{"$int":"-123456789012345678"},)"
       R"({"$int":"1234567890123456789"},{"$int":"12345678901234567890"}])"},
      {"(lI-\na.", nullptr},
      {"(lI1x\na.", nullptr},
      // "-00" (octal 0) and "-01" are not bools; "\r\n" is int(s, 0)'s.
      {"(lI-00\naI-01\naI1\r\na.", "[0,-1,1]"},
      {"(lI1", nullptr},  // no newline
      {"(I5\np007\ng7\nl.", "[5,5]"},
      {"(I5\np+7\ng7\nl.", "[5,5]"},
      {"(I5\np-7\nl.", nullptr},
      {"(I5\ng7\nl.", nullptr},  // not in the memo
      {"(lF0.5\naF-1.25e-3\naF.5\naF+1.5\naF-inf\na"
       "F0.1000000000000000000000000000000000000000000001\na.",
       R"([0.5,-0.00125,0.5,1.5,{"$float":"-inf"},0.1])"},
      {"(lF1e400\na.", nullptr},  // OverflowError
      {"(lF1.5\r\na.", nullptr},  // ValueError
      // Lines of 38, 39 and 40 characters: the one-pass window is 40 bytes
      // with the newline, so the last takes the line path.
      {"(lF0.111111111111111111111111111111111111\na"
       "F0.1111111111111111111111111111111111111\na"
       "F0.11111111111111111111111111111111111111\na"
       "F1.0000000000000000000000000000000000e5\na"
       "F1.00000000000000000000000000000000000e5\na"
       "F1.000000000000000000000000000000000000e5\na.",
       "[0.1111111111111111,0.1111111111111111,0.1111111111111111,"
       "100000.0,100000.0,100000.0]"},
      {"(lF1.5x\na.", nullptr},
      {"(lF1.5", nullptr},  // no newline
      {"(lVab\\\\u00e9\naVx\\xc3\\xa9\naV\naVplain\na.",
       "[\"ab\xc3\xa9\",\"x\xc3\x83\xc2\xa9\",\"\",\"plain\"]"},
      {"(lVab", nullptr},  // no newline
      {"(dp0\n.", "{}"},
      {"(S'a'\nI1\nd.", R"({"a":1})"},  // DICT with items: Step
      {"(S'a'\nd.", nullptr},           // odd number of items
      {"d.", nullptr},                  // no MARK
      {"(I1\nI2\nt.", R"({"$tuple":[1,2]})"},
      {"(t.", R"({"$tuple":[]})"},
      {"t.", nullptr},
      {"(l.", "[]"},
      {"l.", nullptr},
      // A line that runs past its FRAME: CPython's C unpickler reads on
      // ([123]); picklevm rejects it, as the pure-Python unpickler does
      // (fuzz/differential_known.md, D2).
      {R"(\x80\x04\x95\x04\x00\x00\x00\x00\x00\x00\x00(I123\nl.)", nullptr},
      {R"(\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00(I123\nl.)", "[123]"},
      // pickle.dumps([{'a': 1, 'b': 2}, {'b': 3, 'a': 4}]) in protocols 0
      // and 2: the memo-shared key nodes come back in another order.
      {"(lp0\n(dp1\nVa\np2\nI1\nsVb\np3\nI2\nsa(dp4\ng3\nI3\nsg2\nI4\nsa.",
       R"([{"a":1,"b":2},{"b":3,"a":4}])"},
      {R"(\x80\x02]q\x00(}q\x01(X\x01\x00\x00\x00aq\x02K\x01X\x01\x00\x00)"
       R"(\x00bq\x03K\x02u}q\x04(h\x03K\x03h\x02K\x04ue.)",
       R"([{"a":1,"b":2},{"b":3,"a":4}])"},
      // Dicts filled one SETITEM at a time, sized from the key sequence
      // the previous dict took (the third outgrows that guess).
      {"(lp0\n(dp1\nVa\np2\nI1\nsVb\np3\nI2\nsa(dp4\ng2\nI3\nsa(dp5\ng2\n"
       "I4\nsg3\nI5\nsVc\nI6\nsa.",
       R"([{"a":1,"b":2},{"a":3},{"a":4,"b":5,"c":6}])"},
  };
  for (const FastCase& c : cases) ExpectBothPathsAgree(c);
}

// A MARK container that would pass --max-nodes (two ints made, the
// container would be the third) is left to Step by the fast
// path, which then reports it as the general path does.
TEST(FastPath, MarkContainerAtTheNodeLimit) {
  for (const char* stream : {"(I1\nI2\nt.", "(I1\nI2\nl.", "I1\nI2\n(d."}) {
    std::string out[2];
    for (bool fast : {false, true}) {
      MachineOptions o;
      o.fast_path = fast;
      o.limits.max_nodes = 2;
      out[fast] = ErrorAt(*LoadWith(stream, o));
    }
    EXPECT_EQ(out[0], out[1]) << stream;
    EXPECT_EQ(out[1].rfind("limit@", 0), 0u) << out[1];
  }
}

}  // namespace
}  // namespace picklevm
