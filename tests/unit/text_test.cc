// The text grammars of the protocol-0 opcodes (vm/text): INT's strtol
// quirks, LONG, the memo indexes of GET/PUT, FLOAT, and the escape decoders
// of STRING and UNICODE.  Each case went through CPython 3.11's
// pickle.loads (the C unpickler) when the test was written; its result is in
// the comment or the expectation.
#include <cstring>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "vm/text/bigint.h"
#include "vm/text/numbers.h"
#include "vm/text/strings.h"

namespace picklevm {
namespace {

using pvtest::StrictErr;
using pvtest::StrictPy;

// ---- INT: strtol(s, &end, 0) first, then int(s, 0) -------------------------------

TEST(TextInt, StrtolBaseZero) {
  EXPECT_EQ(StrictPy(R"(I0\n.)"), "0");          // 0 (two-byte line: no bool)
  EXPECT_EQ(StrictPy(R"(I000\n.)"), "0");        // 0
  EXPECT_EQ(StrictPy(R"(I-01\n.)"), "-1");       // -1 (octal)
  EXPECT_EQ(StrictPy(R"(I-0x10\n.)"), "-16");    // -16
  EXPECT_EQ(StrictPy(R"(I0X1F\n.)"), "31");      // 31
  EXPECT_EQ(StrictPy(R"(I 0x1f\n.)"), "31");     // 31
  EXPECT_EQ(StrictPy(R"(I\t5\n.)"), "5");        // 5
}

TEST(TextInt, BoolOnlyForThreeByteLinesFromStrtol) {
  EXPECT_EQ(StrictPy(R"(I02\n.)"), "2");         // 2
  EXPECT_EQ(StrictPy(R"(I 1\n.)"), "true");      // True: strtol skips ' '
  EXPECT_EQ(StrictPy(R"(I 00\n.)"), "0");        // 0: four bytes
  // '1 ' stops strtol at the blank; int('1 \n', 0) == 1 is an int.
  EXPECT_EQ(StrictPy(R"(I1 \n.)"), "1");
}

TEST(TextInt, FallbackToIntBaseZero) {
  EXPECT_EQ(StrictPy(R"(I0b101\n.)"), "5");      // 5
  EXPECT_EQ(StrictPy(R"(I1_000\n.)"), "1000");   // 1000
  EXPECT_EQ(StrictPy(R"(I0x_1f\n.)"), "31");     // 31
  EXPECT_EQ(StrictPy(R"(I-9223372036854775809\n.)"),
            R"({"$int":"-9223372036854775809"})");
}

TEST(TextInt, EmbeddedNulEndsTheText) {
  // pickle.loads(b'I1\x002\n.') -> 1: the C string stops at the NUL.
  EXPECT_EQ(StrictPy(R"(I1\x002\n.)"), "1");
}

TEST(TextInt, Invalid) {
  // ValueError: could not convert string to int
  for (const char* p :
       {R"(I0x\n.)", R"(I1e3\n.)", R"(I+-1\n.)", R"(I0_1\n.)", R"(I-\n.)",
        R"(I0o\n.)", R"(I1__0\n.)", R"(I_1\n.)", R"(I1_\n.)"}) {
    EXPECT_EQ(StrictErr(p), "bad-operand@0 INT") << p;
  }
}

TEST(TextInt, ParseIntOpcodeApi) {
  PyInt v;
  bool is_bool = true;
  ASSERT_EQ(ParseIntOpcode("010\n", 4300, &v, &is_bool), NumParse::kOk);
  EXPECT_TRUE(v.is_small);
  EXPECT_EQ(v.small, 8);
  EXPECT_FALSE(is_bool);
  ASSERT_EQ(ParseIntOpcode("01\n", 4300, &v, &is_bool), NumParse::kOk);
  EXPECT_TRUE(is_bool);
  EXPECT_EQ(v.small, 1);
  ASSERT_EQ(ParseIntOpcode("99999999999999999999\n", 4300, &v, &is_bool),
            NumParse::kOk);
  EXPECT_FALSE(v.is_small);
  EXPECT_EQ(v.decimal, "99999999999999999999");
  EXPECT_EQ(ParseIntOpcode("08\n", 4300, &v, &is_bool), NumParse::kInvalid);
  EXPECT_EQ(ParseIntOpcode("12345\n", 4, &v, &is_bool), NumParse::kOk)
      << "fits strtol: no digit limit";
  EXPECT_EQ(ParseIntOpcode("123456789012345678901\n", 20, &v, &is_bool),
            NumParse::kTooManyDigits);
}

// ---- LONG: int(text, 0) after one trailing 'L' -------------------------------------

TEST(TextLong, Accepted) {
  EXPECT_EQ(StrictPy(R"(L5\n.)"), "5");
  EXPECT_EQ(StrictPy(R"(L0L\n.)"), "0");
  EXPECT_EQ(StrictPy(R"(L00L\n.)"), "0");        // all zeros may lead
  EXPECT_EQ(StrictPy(R"(L-0L\n.)"), "0");        // never "-0"
  EXPECT_EQ(StrictPy(R"(L-0x1fL\n.)"), "-31");
  EXPECT_EQ(StrictPy(R"(L 5L\n.)"), "5");
  EXPECT_EQ(StrictPy(R"(L1_0L\n.)"), "10");
  EXPECT_EQ(StrictPy(R"(L0b11L\n.)"), "3");
}

TEST(TextLong, Rejected) {
  // ValueError: invalid literal for int() with base 0: '12L' / '' / '007'
  for (const char* p : {R"(L12LL\n.)", R"(LL\n.)", R"(L007L\n.)", R"(Lx\n.)"}) {
    EXPECT_EQ(StrictErr(p), "bad-operand@0 LONG") << p;
  }
}

TEST(TextLong, ParsePythonIntApi) {
  PyInt v;
  ASSERT_EQ(ParsePythonInt(" -0o17 \n", 0, 4300, &v), NumParse::kOk);
  EXPECT_EQ(v.small, -15);
  EXPECT_EQ(ParsePythonInt("0o17", 10, 4300, &v), NumParse::kInvalid);
  ASSERT_EQ(ParsePythonInt("0010", 10, 4300, &v), NumParse::kOk);
  EXPECT_EQ(v.small, 10);
  EXPECT_EQ(ParsePythonInt("0010", 0, 4300, &v), NumParse::kInvalid);
  ASSERT_EQ(ParsePythonInt("-18446744073709551616", 10, 4300, &v),
            NumParse::kOk);
  EXPECT_FALSE(v.is_small);
  EXPECT_EQ(v.decimal, "-18446744073709551616");
  EXPECT_EQ(PyIntToDecimal(v), "-18446744073709551616");
  ASSERT_EQ(ParsePythonInt("-9223372036854775808", 10, 4300, &v),
            NumParse::kOk);
  EXPECT_TRUE(v.is_small);
  EXPECT_EQ(v.small, INT64_MIN);
  EXPECT_EQ(ParsePythonInt("", 0, 4300, &v), NumParse::kInvalid);
  EXPECT_EQ(ParsePythonInt("1 2", 10, 4300, &v), NumParse::kInvalid);
}

// ---- GET / PUT indexes: int(text, 10) ------------------------------------------------

TEST(TextMemoIndex, Base10WithSpacesSignAndUnderscores) {
  constexpr char kShared[] = R"({"$tuple":[{"$id":0,"$value":[]},{"$ref":0}]})";
  EXPECT_EQ(StrictPy(R"(]p0010\ng10\n\x86.)"), kShared);  // ([], [])
  EXPECT_EQ(StrictPy(R"(]p 3\ng3 \n\x86.)"), kShared);
  EXPECT_EQ(StrictPy(R"(]p+3\ng3\n\x86.)"), kShared);
  EXPECT_EQ(StrictPy(R"(]p1_0\ng10\n\x86.)"), kShared);
  // ValueError: invalid literal for int() with base 10: '0x3\n'
  EXPECT_EQ(StrictErr(R"(]p0x3\n.)"), "bad-operand@1 PUT");
}

// ---- FLOAT: PyOS_string_to_double ---------------------------------------------------

TEST(TextFloat, Accepted) {
  EXPECT_EQ(StrictPy(R"(F1.\n.)"), "1.0");
  EXPECT_EQ(StrictPy(R"(F.5\n.)"), "0.5");
  EXPECT_EQ(StrictPy(R"(F+1.5\n.)"), "1.5");
  EXPECT_EQ(StrictPy(R"(F1E5\n.)"), "100000.0");
  EXPECT_EQ(StrictPy(R"(F1e+5\n.)"), "100000.0");
  EXPECT_EQ(StrictPy(R"(F1e-5\n.)"), "1e-05");
  EXPECT_EQ(StrictPy(R"(F2.5e-324\n.)"), "5e-324");  // rounds to the subnormal
  EXPECT_EQ(StrictPy(R"(F1.5\x00junk\n.)"), "1.5");  // NUL ends the text
}

TEST(TextFloat, InfinityAndNan) {
  EXPECT_EQ(StrictPy(R"(F+inf\n.)"), R"({"$float":"inf"})");
  EXPECT_EQ(StrictPy(R"(F-inf\n.)"), R"({"$float":"-inf"})");
  EXPECT_EQ(StrictPy(R"(Finfinity\n.)"), R"({"$float":"inf"})");
  EXPECT_EQ(StrictPy(R"(FINFINITY\n.)"), R"({"$float":"inf"})");
  EXPECT_EQ(StrictPy(R"(FNaN\n.)"), R"({"$float":"nan"})");
  EXPECT_EQ(StrictPy(R"(F-nan\n.)"), R"({"$float":"nan"})");
}

TEST(TextFloat, Rejected) {
  // ValueError: could not convert string to float
  for (const char* p :
       {R"(F 1.5\n.)", R"(F1.5 \n.)", R"(F1_0.0\n.)", R"(Fnanx\n.)",
        R"(Finfx\n.)", R"(F1e\n.)", R"(F.\n.)", R"(F0x1p3\n.)", R"(F--1\n.)"}) {
    EXPECT_EQ(StrictErr(p), "bad-operand@0 FLOAT") << p;
  }
}

TEST(TextFloat, EmptyLineIsTruncatedLikeIntAndLong) {
  // pickle.loads(b'F\n.'): UnpicklingError: pickle data was truncated (the
  // C unpickler's bad_readline() for a line shorter than 2 bytes, exactly
  // as for b'I\n.', b'L\n.' and b'g\n.', which picklevm reports as
  // truncation too).
  EXPECT_EQ(StrictErr(R"(I\n.)"), "truncated@0 INT");
  EXPECT_EQ(StrictErr(R"(L\n.)"), "truncated@0 LONG");
  EXPECT_EQ(StrictErr(R"(g\n.)"), "truncated@0 GET");
  EXPECT_EQ(StrictErr(R"(F\n.)"), "truncated@0 FLOAT");
}

TEST(TextFloat, OverflowIsAValueError) {
  // OverflowError: value too large to convert to float
  EXPECT_EQ(StrictErr(R"(F-1e400\n.)"), "value@0 FLOAT");
  EXPECT_EQ(StrictErr(R"(F1.7976931348623159e308\n.)"), "value@0 FLOAT");
  double d;
  EXPECT_EQ(ParseFloatOpcode("1e400\n", &d), NumParse::kOverflow);
  ASSERT_EQ(ParseFloatOpcode("1e-400\n", &d), NumParse::kOk);
  EXPECT_EQ(d, 0.0);
}

// ---- STRING: codecs.escape_decode, then ASCII ---------------------------------------

TEST(TextString, Escapes) {
  // '\x07\x08\x0c\x0b\x00A'
  EXPECT_EQ(StrictPy(R"(S'\\a\\b\\f\\v\\0\\101'\n.)"),
            R"("\u0007\b\f\u000b\u0000A")");
  EXPECT_EQ(StrictPy(R"(S'\\x41\\x4a'\n.)"), R"("AJ")");
  EXPECT_EQ(StrictPy(R"(S'\\\\'\n.)"), R"("\\")");     // '\\'
  EXPECT_EQ(StrictPy(R"(S'\\''\n.)"), R"("'")");       // "'"
  EXPECT_EQ(StrictPy(R"(S"'"\n.)"), R"("'")");         // "'"
  EXPECT_EQ(StrictPy(R"(S'\\1234'\n.)"), R"("S4")");   // octal takes 3 digits
}

TEST(TextString, UnknownEscapesAreKept) {
  // '\\q' and '\\N{DASH}': escape_decode keeps unknown escapes as is.
  EXPECT_EQ(StrictPy(R"(S'\\q'\n.)"), R"("\\q")");
  EXPECT_EQ(StrictPy(R"(S'\\N{DASH}'\n.)"), R"("\\N{DASH}")");
}

TEST(TextString, EscapeDecodeApi) {
  std::string out, error;
  ASSERT_TRUE(EscapeDecode("a\\x41\\\nb", &out, &error));
  EXPECT_EQ(out, "aAb");  // backslash-newline is a line continuation
  EXPECT_FALSE(EscapeDecode("\\x41\\x4", &out, &error));
  // ValueError: invalid \x escape at position 4
  EXPECT_EQ(error, "invalid \\x escape at position 4");
  EXPECT_FALSE(EscapeDecode("ab\\", &out, &error));
  ASSERT_TRUE(EscapeDecode("\\777", &out, &error));
  EXPECT_EQ(out, "\xff");  // b'\xff' (0o777 & 0xff)
  ASSERT_TRUE(EscapeDecode("\\8", &out, &error));
  EXPECT_EQ(out, "\\8");
}

// ---- UNICODE: raw-unicode-escape ------------------------------------------------------

TEST(TextUnicode, OnlyUEscapes) {
  EXPECT_EQ(StrictPy(R"(V\\u00e9\n.)"), "\"\xc3\xa9\"");           // 'é'
  EXPECT_EQ(StrictPy(R"(V\\U0010ffff\n.)"), "\"\xf4\x8f\xbf\xbf\"");
  EXPECT_EQ(StrictPy(R"(V\\x41\n.)"), R"("\\x41")");   // '\\x41'
  EXPECT_EQ(StrictPy(R"(Va\\\n.)"), R"("a\\")");       // 'a\\'
  EXPECT_EQ(StrictPy(R"(V\\\n.)"), R"("\\")");         // '\\'
}

TEST(TextUnicode, BackslashPairs) {
  // b'\\\\u0041' -> '\\\\u0041' (an even run of backslashes escapes nothing)
  EXPECT_EQ(StrictPy(R"(V\\\\u0041\n.)"), R"("\\\\u0041")");
  // b'\\\\\\u0041' -> '\\\\A'
  EXPECT_EQ(StrictPy(R"(V\\\\\\u0041\n.)"), R"("\\\\A")");
}

TEST(TextUnicode, SurrogatesAreNotJoined) {
  // '\ud800\udc00': two code points
  EXPECT_EQ(StrictPy(R"(V\\uD800\\uDC00\n.)"), R"({"$str":[55296,56320]})");
}

TEST(TextUnicode, Rejected) {
  // UnicodeDecodeError: truncated \uXXXX escape / \Uxxxxxxxx out of range
  for (const char* p : {R"(V\\u\n.)", R"(Vab\\u00\n.)", R"(V\\uzzzz\n.)",
                        R"(V\\U00110000\n.)", R"(V\\Uffffffff\n.)"}) {
    EXPECT_EQ(StrictErr(p), "decode@0 UNICODE") << p;
  }
}

TEST(TextUnicode, RawUnicodeEscapeDecodeApi) {
  std::string out, error;
  bool surrogates = true;
  ASSERT_TRUE(RawUnicodeEscapeDecode("\xe9\\u20ac", &out, &surrogates, &error));
  EXPECT_EQ(out, "\xc3\xa9\xe2\x82\xac");  // 'é€'
  EXPECT_FALSE(surrogates);
  ASSERT_TRUE(RawUnicodeEscapeDecode("\\udfff", &out, &surrogates, &error));
  EXPECT_TRUE(surrogates);
  EXPECT_EQ(out, "\xed\xbf\xbf");
}

// ---- UTF-8 and Latin-1 ------------------------------------------------------------------

TEST(TextUtf8, CheckUtf8) {
  EXPECT_TRUE(CheckUtf8("abc\xc3\xa9\xf0\x9f\x98\x80", false).valid);
  Utf8Check c = CheckUtf8("ab\xed\xa0\x80", false);
  EXPECT_FALSE(c.valid);
  EXPECT_EQ(c.error_at, 2u);
  c = CheckUtf8("ab\xed\xa0\x80", true);
  EXPECT_TRUE(c.valid);
  EXPECT_TRUE(c.has_surrogates);
  // overlong '/' (0xc0 0xaf), past U+10FFFF (f4 90 80 80), truncated
  EXPECT_FALSE(CheckUtf8("\xc0\xaf", true).valid);
  EXPECT_FALSE(CheckUtf8("\xf4\x90\x80\x80", true).valid);
  EXPECT_FALSE(CheckUtf8("\xe2\x82", true).valid);
  // A long ASCII run with a bad byte after the fast path.
  c = CheckUtf8(std::string(37, 'a') + "\x80", true);
  EXPECT_FALSE(c.valid);
  EXPECT_EQ(c.error_at, 37u);
}

// Short texts are settled by two overlapping loads when they are ASCII: a
// non-ASCII byte at any position of any length must still reach the full
// check (a stray continuation byte is an error there, a 2-byte sequence
// is not), and the loads must not read past the text (ASan, in the fuzz
// build, sees the exact-size copies below).
TEST(TextUtf8, ShortTextsEveryPosition) {
  for (size_t n = 0; n <= 20; ++n) {
    std::string ascii(n, 'k');
    Utf8Check c = CheckUtf8(std::string_view(ascii), true);
    EXPECT_TRUE(c.valid) << n;
    EXPECT_FALSE(c.has_surrogates) << n;
    for (size_t at = 0; at < n; ++at) {
      std::string bad = ascii;
      bad[at] = '\x80';
      auto heap = std::make_unique<char[]>(n);  // exactly n bytes
      std::memcpy(heap.get(), bad.data(), n);
      c = CheckUtf8(std::string_view(heap.get(), n), true);
      EXPECT_FALSE(c.valid) << n << " " << at;
      EXPECT_EQ(c.error_at, at) << n << " " << at;
      if (at + 1 < n) {  // a valid 2-byte sequence: é
        std::string two = ascii;
        two[at] = '\xc3';
        two[at + 1] = '\xa9';
        EXPECT_TRUE(CheckUtf8(two, false).valid) << n << " " << at;
      }
    }
  }
}

TEST(TextUtf8, BinunicodeSurrogatePass) {
  // pickle.loads(b'X\x03\x00\x00\x00\xed\xb0\x80.') == '\udc00'
  EXPECT_EQ(StrictPy(R"(X\x03\x00\x00\x00\xed\xb0\x80.)"), R"({"$str":[56320]})");
  // b'\xf4\x90\x80\x80' (above U+10FFFF): UnicodeDecodeError
  EXPECT_EQ(StrictErr(R"(X\x04\x00\x00\x00\xf4\x90\x80\x80.)"),
            "decode@0 BINUNICODE");
}

TEST(TextLatin1, EncodeAndDecode) {
  std::string out;
  ASSERT_TRUE(EncodeLatin1("a\xc3\xa9\xc3\xbf", &out));
  EXPECT_EQ(out, "a\xe9\xff");
  EXPECT_FALSE(EncodeLatin1("\xe2\x82\xac", &out));  // '€'
  EXPECT_EQ(DecodeLatin1("a\xe9\xff"), "a\xc3\xa9\xc3\xbf");
  size_t bad = 0;
  EXPECT_TRUE(IsAscii("abc", &bad));
  EXPECT_FALSE(IsAscii("ab\x80", &bad));
  EXPECT_EQ(bad, 2u);
}

// ---- bigint helpers ---------------------------------------------------------------------

TEST(TextBigInt, TwosComplement) {
  PyInt v;
  ASSERT_TRUE(PyIntFromTwosComplement(std::string("\xff\x7f", 2), 4300, &v));
  EXPECT_EQ(v.small, 32767);
  ASSERT_TRUE(PyIntFromTwosComplement(std::string("\x00\x80", 2), 4300, &v));
  EXPECT_EQ(v.small, -32768);
  // 2**64 and -(2**64)
  ASSERT_TRUE(PyIntFromTwosComplement(std::string("\0\0\0\0\0\0\0\0\x01", 9),
                                      4300, &v));
  EXPECT_EQ(PyIntToDecimal(v), "18446744073709551616");
  ASSERT_TRUE(PyIntFromTwosComplement(
      std::string("\0\0\0\0\0\0\0\0\xff", 9), 4300, &v));
  EXPECT_EQ(PyIntToDecimal(v), "-18446744073709551616");
  // Redundant sign bytes: int.from_bytes(b'\x01' + b'\x00' * 20, 'little',
  // signed=True) == 1
  ASSERT_TRUE(PyIntFromTwosComplement(std::string("\x01") + std::string(20, '\0'),
                                      4300, &v));
  EXPECT_TRUE(v.is_small);
  EXPECT_EQ(v.small, 1);
  ASSERT_TRUE(PyIntFromTwosComplement(std::string(20, '\xff'), 4300, &v));
  EXPECT_EQ(v.small, -1);
}

TEST(TextBigInt, IntegralDoubleToDecimal) {
  EXPECT_EQ(IntegralDoubleToDecimal(-0.0), "0");
  EXPECT_EQ(IntegralDoubleToDecimal(9007199254740993.0), "9007199254740992");
  // int(1e300)
  EXPECT_EQ(IntegralDoubleToDecimal(1e300),
            "1000000000000000052504760255204420248704468581108159154915854115"
            "5118024579889081957863713750804478640437044438328838781769425232"
            "3536043057564479218478670698284838720092657580373783023379478809"
            "0059368953234970799945081119038967640880074652742780142494579258"
            "788820056842838115669472196386865459400540160");
}

}  // namespace
}  // namespace picklevm
