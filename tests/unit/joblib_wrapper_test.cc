// joblib's NumpyArrayWrapper states, read field by field.  The machine
// remembers where each field sits in the last key sequence it saw (every
// wrapper of a file has the same one), so these tests mix key sequences in
// one stream: each array must come out as it does when its wrapper is the
// only one in the stream.
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "vm/policy/allowlist.h"

namespace picklevm {
namespace {

using std::string_literals::operator""s;  // literals holding \x00

// A strict load under the default policy (joblib's wrapper and numpy
// admitted).
std::unique_ptr<pvtest::Outcome> Load(std::string stream) {
  static const auto* policy = [] {
    auto p = BuildPolicy(false, {});
    if (!p.ok()) abort();
    return p->release();
  }();
  MachineOptions mo;
  mo.policy = policy;
  return pvtest::LoadWith(std::move(stream), mo);
}
std::string Strict(std::string stream) {
  return pvtest::Summary(*Load(std::move(stream)));
}

std::string Str(std::string_view s) {  // SHORT_BINUNICODE
  return std::string("\x8c") + static_cast<char>(s.size()) + std::string(s);
}

struct ArraySpec {
  std::vector<std::string> keys;  // the state's keys, in order
  std::string dtype;              // "i1" or "u2"
  int length;                     // a 1-d array of this many items
  char fill;                      // every data byte
  int dims = 1;                   // more: (1, ..., 1, length)
};

// The wrapper (NEWOBJ, state dict, BUILD), then the padding joblib writes
// when the state names an alignment, then the data; appended to *s, whose
// size is the array's offset in the stream.
void AppendArray(const ArraySpec& a, std::string* s) {
  const bool wide = a.dtype == "u2";
  *s += Str("joblib.numpy_pickle") + Str("NumpyArrayWrapper") + "\x93)\x81}(";
  bool aligned = false;
  for (const std::string& k : a.keys) {
    *s += Str(k);
    if (k == "subclass") {
      *s += Str("numpy") + Str("ndarray") + "\x93";
    } else if (k == "shape") {
      *s += "(";
      for (int d = 1; d < a.dims; ++d) *s += "K\x01";
      *s += std::string("K") + static_cast<char>(a.length) + "t";
    } else if (k == "order") {
      *s += Str("C");
    } else if (k == "dtype") {
      *s += Str("numpy") + Str("dtype") + "\x93" + Str(a.dtype) +
            "\x89\x88\x87R(K\x03" + Str(wide ? "<" : "|") +
            "NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"s;
    } else if (k == "allow_mmap") {
      *s += "\x88";
    } else if (k == "numpy_array_alignment_bytes") {
      *s += "K\x10";
      aligned = true;
    } else {
      *s += "N";
    }
  }
  *s += "ub";
  if (aligned) {
    const size_t pad = 16 - (s->size() + 1) % 16;
    *s += static_cast<char>(pad);
    s->append(pad, '\xff');
  }
  s->append(static_cast<size_t>(a.length) * (wide ? 2 : 1), a.fill);
}

std::string OneArray(const ArraySpec& a) {
  std::string s = "\x80\x04";
  AppendArray(a, &s);
  return s + ".";
}

std::string ListOf(const std::vector<ArraySpec>& arrays) {
  std::string s = "\x80\x04](";
  for (const ArraySpec& a : arrays) AppendArray(a, &s);
  return s + "e.";
}

const std::vector<std::string> kJoblibKeys = {
    "subclass", "shape", "order", "dtype", "allow_mmap",
    "numpy_array_alignment_bytes"};
// joblib <= 1.1: no alignment field, no padding.
const std::vector<std::string> kOldKeys = {"subclass", "shape", "order",
                                           "dtype", "allow_mmap"};
// The same fields in another order (not what joblib writes, but a dict).
const std::vector<std::string> kShuffledKeys = {
    "dtype", "numpy_array_alignment_bytes", "allow_mmap", "order", "shape",
    "subclass"};

TEST(JoblibWrapper, MixedKeySequencesReadAsEachAlone) {
  const std::vector<ArraySpec> arrays = {
      {kJoblibKeys, "i1", 3, '\x01'},   {kOldKeys, "u2", 5, '\x02'},
      {kJoblibKeys, "u2", 7, '\x03'},   {kShuffledKeys, "i1", 2, '\x04'},
      {kShuffledKeys, "u2", 4, '\x05'}, {kJoblibKeys, "i1", 6, '\x06'},
      {kOldKeys, "i1", 1, '\x07'}};
  std::string expected = "[";
  for (size_t i = 0; i < arrays.size(); ++i) {
    std::string alone = Strict(OneArray(arrays[i]));
    ASSERT_EQ(alone.rfind("{\"$ndarray\"", 0), 0u) << alone;
    expected += (i ? "," : "") + alone;
  }
  expected += "]";
  EXPECT_EQ(Strict(ListOf(arrays)), expected);
}

TEST(JoblibWrapper, AnUnknownFieldAfterKnownSequencesIsRefused) {
  std::vector<std::string> extra = kJoblibKeys;
  extra.insert(extra.begin() + 2, "comment");
  const std::vector<ArraySpec> arrays = {{kJoblibKeys, "i1", 3, '\x01'},
                                         {kJoblibKeys, "i1", 3, '\x02'},
                                         {extra, "i1", 3, '\x03'}};
  std::string stream = ListOf(arrays);
  auto o = Load(stream);
  ASSERT_FALSE(o->ok());
  EXPECT_EQ(o->error.code, ErrorCode::kValue);
  EXPECT_EQ(o->error.reason, "NumpyArrayWrapper state has an unknown field");
}

TEST(JoblibWrapper, ShapesHaveAtMost64Dimensions) {
  // numpy 2's limit (numpy 1.x: 32); see ParseShape.
  std::string ok = Strict(OneArray({kJoblibKeys, "i1", 3, '\x01', 64}));
  EXPECT_NE(ok.find("\"shape\":[1,1,"), std::string::npos) << ok;
  auto o = Load(OneArray({kJoblibKeys, "i1", 3, '\x01', 65}));
  ASSERT_FALSE(o->ok());
  EXPECT_EQ(o->error.reason,
            "shape has 65 dimensions; numpy allows at most 64");
}

}  // namespace
}  // namespace picklevm
