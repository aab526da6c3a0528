// The disassembler against Python's pickletools.dis: each expected text is
// exactly what /usr/bin/python3 (3.11) printed for the same bytes when the
// test was written (pickletools.dis(data, out=f), default indentlevel 4).
// The pickles are pickle.dumps of a composite object at protocols 0-5,
// strings with escapes, an object with a cycle, and hand-written streams
// for the remaining opcodes.  For malformed streams pickletools raises
// after printing the lines it decoded; Disassemble keeps the same lines and
// returns an error.
#include <string>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "vm/emit/dis.h"

namespace picklevm {
namespace {

using pvtest::Py;

struct DisOutcome {
  absl::Status status;
  std::string text;
  uint64_t end = 0;
};

DisOutcome RunDis(const std::string& input, DisOptions options = {}) {
  DisOutcome o;
  OutBuffer out;
  o.status = Disassemble(input, 0, options, &out, &o.end);
  o.text = out.data;
  return o;
}

void ExpectDis(const std::string& input, const std::string& expected,
               bool ok) {
  DisOutcome o = RunDis(input);
  EXPECT_EQ(o.text, expected);
  EXPECT_EQ(o.status.ok(), ok) << o.status.message();
  if (ok) {
    EXPECT_EQ(o.end, input.size());
  }
}

TEST(Dis, Composite0) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl((lp0\x0aI1\x0aaVa\x0ap1\x0aac_codecs\x0aencode\x0ap2\x0a(Vb\x0ap3\x0aVlatin1\x0ap4\x0atp5\x0aRp6\x0aa(F2.5\x0aNI01\x0atp7\x0aa(dp8\x0aVk\x0ap9\x0a(lp10\x0aI1\x0aasac__builtin__\x0aset\x0ap11\x0a((lp12\x0aI1\x0aaI2\x0aatp13\x0aRp14\x0aac__builtin__\x0afrozenset\x0ap15\x0a((lp16\x0atp17\x0aRp18\x0aac__builtin__\x0abytearray\x0ap19\x0a(g2\x0a(Vx\x0ap20\x0ag4\x0atp21\x0aRp22\x0atp23\x0aRp24\x0aaL1000000000000000000000000000000L\x0aaI-5\x0aaI-70000\x0aaI300\x0aa.)pkl"),
            R"dis(    0: (    MARK)dis" "\n"
            R"dis(    1: l        LIST       (MARK at 0))dis" "\n"
            R"dis(    2: p    PUT        0)dis" "\n"
            R"dis(    5: I    INT        1)dis" "\n"
            R"dis(    8: a    APPEND)dis" "\n"
            R"dis(    9: V    UNICODE    'a')dis" "\n"
            R"dis(   12: p    PUT        1)dis" "\n"
            R"dis(   15: a    APPEND)dis" "\n"
            R"dis(   16: c    GLOBAL     '_codecs encode')dis" "\n"
            R"dis(   32: p    PUT        2)dis" "\n"
            R"dis(   35: (    MARK)dis" "\n"
            R"dis(   36: V        UNICODE    'b')dis" "\n"
            R"dis(   39: p        PUT        3)dis" "\n"
            R"dis(   42: V        UNICODE    'latin1')dis" "\n"
            R"dis(   50: p        PUT        4)dis" "\n"
            R"dis(   53: t        TUPLE      (MARK at 35))dis" "\n"
            R"dis(   54: p    PUT        5)dis" "\n"
            R"dis(   57: R    REDUCE)dis" "\n"
            R"dis(   58: p    PUT        6)dis" "\n"
            R"dis(   61: a    APPEND)dis" "\n"
            R"dis(   62: (    MARK)dis" "\n"
            R"dis(   63: F        FLOAT      2.5)dis" "\n"
            R"dis(   68: N        NONE)dis" "\n"
            R"dis(   69: I        INT        True)dis" "\n"
            R"dis(   73: t        TUPLE      (MARK at 62))dis" "\n"
            R"dis(   74: p    PUT        7)dis" "\n"
            R"dis(   77: a    APPEND)dis" "\n"
            R"dis(   78: (    MARK)dis" "\n"
            R"dis(   79: d        DICT       (MARK at 78))dis" "\n"
            R"dis(   80: p    PUT        8)dis" "\n"
            R"dis(   83: V    UNICODE    'k')dis" "\n"
            R"dis(   86: p    PUT        9)dis" "\n"
            R"dis(   89: (    MARK)dis" "\n"
            R"dis(   90: l        LIST       (MARK at 89))dis" "\n"
            R"dis(   91: p    PUT        10)dis" "\n"
            R"dis(   95: I    INT        1)dis" "\n"
            R"dis(   98: a    APPEND)dis" "\n"
            R"dis(   99: s    SETITEM)dis" "\n"
            R"dis(  100: a    APPEND)dis" "\n"
            R"dis(  101: c    GLOBAL     '__builtin__ set')dis" "\n"
            R"dis(  118: p    PUT        11)dis" "\n"
            R"dis(  122: (    MARK)dis" "\n"
            R"dis(  123: (        MARK)dis" "\n"
            R"dis(  124: l            LIST       (MARK at 123))dis" "\n"
            R"dis(  125: p        PUT        12)dis" "\n"
            R"dis(  129: I        INT        1)dis" "\n"
            R"dis(  132: a        APPEND)dis" "\n"
            R"dis(  133: I        INT        2)dis" "\n"
            R"dis(  136: a        APPEND)dis" "\n"
            R"dis(  137: t        TUPLE      (MARK at 122))dis" "\n"
            R"dis(  138: p    PUT        13)dis" "\n"
            R"dis(  142: R    REDUCE)dis" "\n"
            R"dis(  143: p    PUT        14)dis" "\n"
            R"dis(  147: a    APPEND)dis" "\n"
            R"dis(  148: c    GLOBAL     '__builtin__ frozenset')dis" "\n"
            R"dis(  171: p    PUT        15)dis" "\n"
            R"dis(  175: (    MARK)dis" "\n"
            R"dis(  176: (        MARK)dis" "\n"
            R"dis(  177: l            LIST       (MARK at 176))dis" "\n"
            R"dis(  178: p        PUT        16)dis" "\n"
            R"dis(  182: t        TUPLE      (MARK at 175))dis" "\n"
            R"dis(  183: p    PUT        17)dis" "\n"
            R"dis(  187: R    REDUCE)dis" "\n"
            R"dis(  188: p    PUT        18)dis" "\n"
            R"dis(  192: a    APPEND)dis" "\n"
            R"dis(  193: c    GLOBAL     '__builtin__ bytearray')dis" "\n"
            R"dis(  216: p    PUT        19)dis" "\n"
            R"dis(  220: (    MARK)dis" "\n"
            R"dis(  221: g        GET        2)dis" "\n"
            R"dis(  224: (        MARK)dis" "\n"
            R"dis(  225: V            UNICODE    'x')dis" "\n"
            R"dis(  228: p            PUT        20)dis" "\n"
            R"dis(  232: g            GET        4)dis" "\n"
            R"dis(  235: t            TUPLE      (MARK at 224))dis" "\n"
            R"dis(  236: p        PUT        21)dis" "\n"
            R"dis(  240: R        REDUCE)dis" "\n"
            R"dis(  241: p        PUT        22)dis" "\n"
            R"dis(  245: t        TUPLE      (MARK at 220))dis" "\n"
            R"dis(  246: p    PUT        23)dis" "\n"
            R"dis(  250: R    REDUCE)dis" "\n"
            R"dis(  251: p    PUT        24)dis" "\n"
            R"dis(  255: a    APPEND)dis" "\n"
            R"dis(  256: L    LONG       1000000000000000000000000000000)dis" "\n"
            R"dis(  290: a    APPEND)dis" "\n"
            R"dis(  291: I    INT        -5)dis" "\n"
            R"dis(  295: a    APPEND)dis" "\n"
            R"dis(  296: I    INT        -70000)dis" "\n"
            R"dis(  304: a    APPEND)dis" "\n"
            R"dis(  305: I    INT        300)dis" "\n"
            R"dis(  310: a    APPEND)dis" "\n"
            R"dis(  311: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 0)dis" "\n"
            , true);
}

TEST(Dis, Composite1) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(]q\x00(K\x01X\x01\x00\x00\x00aq\x01c_codecs\x0aencode\x0aq\x02(X\x01\x00\x00\x00bq\x03X\x06\x00\x00\x00latin1q\x04tq\x05Rq\x06(G@\x04\x00\x00\x00\x00\x00\x00NI01\x0atq\x07}q\x08X\x01\x00\x00\x00kq\x09]q\x0aK\x01asc__builtin__\x0aset\x0aq\x0b(]q\x0c(K\x01K\x02etq\x0dRq\x0ec__builtin__\x0afrozenset\x0aq\x0f(]q\x10tq\x11Rq\x12c__builtin__\x0abytearray\x0aq\x13(h\x02(X\x01\x00\x00\x00xq\x14h\x04tq\x15Rq\x16tq\x17Rq\x18L1000000000000000000000000000000L\x0aJ\xfb\xff\xff\xffJ\x90\xee\xfe\xffM,\x01e.)pkl"),
            R"dis(    0: ]    EMPTY_LIST)dis" "\n"
            R"dis(    1: q    BINPUT     0)dis" "\n"
            R"dis(    3: (    MARK)dis" "\n"
            R"dis(    4: K        BININT1    1)dis" "\n"
            R"dis(    6: X        BINUNICODE 'a')dis" "\n"
            R"dis(   12: q        BINPUT     1)dis" "\n"
            R"dis(   14: c        GLOBAL     '_codecs encode')dis" "\n"
            R"dis(   30: q        BINPUT     2)dis" "\n"
            R"dis(   32: (        MARK)dis" "\n"
            R"dis(   33: X            BINUNICODE 'b')dis" "\n"
            R"dis(   39: q            BINPUT     3)dis" "\n"
            R"dis(   41: X            BINUNICODE 'latin1')dis" "\n"
            R"dis(   52: q            BINPUT     4)dis" "\n"
            R"dis(   54: t            TUPLE      (MARK at 32))dis" "\n"
            R"dis(   55: q        BINPUT     5)dis" "\n"
            R"dis(   57: R        REDUCE)dis" "\n"
            R"dis(   58: q        BINPUT     6)dis" "\n"
            R"dis(   60: (        MARK)dis" "\n"
            R"dis(   61: G            BINFLOAT   2.5)dis" "\n"
            R"dis(   70: N            NONE)dis" "\n"
            R"dis(   71: I            INT        True)dis" "\n"
            R"dis(   75: t            TUPLE      (MARK at 60))dis" "\n"
            R"dis(   76: q        BINPUT     7)dis" "\n"
            R"dis(   78: }        EMPTY_DICT)dis" "\n"
            R"dis(   79: q        BINPUT     8)dis" "\n"
            R"dis(   81: X        BINUNICODE 'k')dis" "\n"
            R"dis(   87: q        BINPUT     9)dis" "\n"
            R"dis(   89: ]        EMPTY_LIST)dis" "\n"
            R"dis(   90: q        BINPUT     10)dis" "\n"
            R"dis(   92: K        BININT1    1)dis" "\n"
            R"dis(   94: a        APPEND)dis" "\n"
            R"dis(   95: s        SETITEM)dis" "\n"
            R"dis(   96: c        GLOBAL     '__builtin__ set')dis" "\n"
            R"dis(  113: q        BINPUT     11)dis" "\n"
            R"dis(  115: (        MARK)dis" "\n"
            R"dis(  116: ]            EMPTY_LIST)dis" "\n"
            R"dis(  117: q            BINPUT     12)dis" "\n"
            R"dis(  119: (            MARK)dis" "\n"
            R"dis(  120: K                BININT1    1)dis" "\n"
            R"dis(  122: K                BININT1    2)dis" "\n"
            R"dis(  124: e                APPENDS    (MARK at 119))dis" "\n"
            R"dis(  125: t            TUPLE      (MARK at 115))dis" "\n"
            R"dis(  126: q        BINPUT     13)dis" "\n"
            R"dis(  128: R        REDUCE)dis" "\n"
            R"dis(  129: q        BINPUT     14)dis" "\n"
            R"dis(  131: c        GLOBAL     '__builtin__ frozenset')dis" "\n"
            R"dis(  154: q        BINPUT     15)dis" "\n"
            R"dis(  156: (        MARK)dis" "\n"
            R"dis(  157: ]            EMPTY_LIST)dis" "\n"
            R"dis(  158: q            BINPUT     16)dis" "\n"
            R"dis(  160: t            TUPLE      (MARK at 156))dis" "\n"
            R"dis(  161: q        BINPUT     17)dis" "\n"
            R"dis(  163: R        REDUCE)dis" "\n"
            R"dis(  164: q        BINPUT     18)dis" "\n"
            R"dis(  166: c        GLOBAL     '__builtin__ bytearray')dis" "\n"
            R"dis(  189: q        BINPUT     19)dis" "\n"
            R"dis(  191: (        MARK)dis" "\n"
            R"dis(  192: h            BINGET     2)dis" "\n"
            R"dis(  194: (            MARK)dis" "\n"
            R"dis(  195: X                BINUNICODE 'x')dis" "\n"
            R"dis(  201: q                BINPUT     20)dis" "\n"
            R"dis(  203: h                BINGET     4)dis" "\n"
            R"dis(  205: t                TUPLE      (MARK at 194))dis" "\n"
            R"dis(  206: q            BINPUT     21)dis" "\n"
            R"dis(  208: R            REDUCE)dis" "\n"
            R"dis(  209: q            BINPUT     22)dis" "\n"
            R"dis(  211: t            TUPLE      (MARK at 191))dis" "\n"
            R"dis(  212: q        BINPUT     23)dis" "\n"
            R"dis(  214: R        REDUCE)dis" "\n"
            R"dis(  215: q        BINPUT     24)dis" "\n"
            R"dis(  217: L        LONG       1000000000000000000000000000000)dis" "\n"
            R"dis(  251: J        BININT     -5)dis" "\n"
            R"dis(  256: J        BININT     -70000)dis" "\n"
            R"dis(  261: M        BININT2    300)dis" "\n"
            R"dis(  264: e        APPENDS    (MARK at 3))dis" "\n"
            R"dis(  265: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 1)dis" "\n"
            , true);
}

TEST(Dis, Composite2) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x02]q\x00(K\x01X\x01\x00\x00\x00aq\x01c_codecs\x0aencode\x0aq\x02X\x01\x00\x00\x00bq\x03X\x06\x00\x00\x00latin1q\x04\x86q\x05Rq\x06G@\x04\x00\x00\x00\x00\x00\x00N\x88\x87q\x07}q\x08X\x01\x00\x00\x00kq\x09]q\x0aK\x01asc__builtin__\x0aset\x0aq\x0b]q\x0c(K\x01K\x02e\x85q\x0dRq\x0ec__builtin__\x0afrozenset\x0aq\x0f]q\x10\x85q\x11Rq\x12c__builtin__\x0abytearray\x0aq\x13h\x02X\x01\x00\x00\x00xq\x14h\x04\x86q\x15Rq\x16\x85q\x17Rq\x18\x8a\x0d\x00\x00\x00@\xea\xedtF\xd0\x9c,\x9f\x0cJ\xfb\xff\xff\xffJ\x90\xee\xfe\xffM,\x01e.)pkl"),
            R"dis(    0: \x80 PROTO      2)dis" "\n"
            R"dis(    2: ]    EMPTY_LIST)dis" "\n"
            R"dis(    3: q    BINPUT     0)dis" "\n"
            R"dis(    5: (    MARK)dis" "\n"
            R"dis(    6: K        BININT1    1)dis" "\n"
            R"dis(    8: X        BINUNICODE 'a')dis" "\n"
            R"dis(   14: q        BINPUT     1)dis" "\n"
            R"dis(   16: c        GLOBAL     '_codecs encode')dis" "\n"
            R"dis(   32: q        BINPUT     2)dis" "\n"
            R"dis(   34: X        BINUNICODE 'b')dis" "\n"
            R"dis(   40: q        BINPUT     3)dis" "\n"
            R"dis(   42: X        BINUNICODE 'latin1')dis" "\n"
            R"dis(   53: q        BINPUT     4)dis" "\n"
            R"dis(   55: \x86     TUPLE2)dis" "\n"
            R"dis(   56: q        BINPUT     5)dis" "\n"
            R"dis(   58: R        REDUCE)dis" "\n"
            R"dis(   59: q        BINPUT     6)dis" "\n"
            R"dis(   61: G        BINFLOAT   2.5)dis" "\n"
            R"dis(   70: N        NONE)dis" "\n"
            R"dis(   71: \x88     NEWTRUE)dis" "\n"
            R"dis(   72: \x87     TUPLE3)dis" "\n"
            R"dis(   73: q        BINPUT     7)dis" "\n"
            R"dis(   75: }        EMPTY_DICT)dis" "\n"
            R"dis(   76: q        BINPUT     8)dis" "\n"
            R"dis(   78: X        BINUNICODE 'k')dis" "\n"
            R"dis(   84: q        BINPUT     9)dis" "\n"
            R"dis(   86: ]        EMPTY_LIST)dis" "\n"
            R"dis(   87: q        BINPUT     10)dis" "\n"
            R"dis(   89: K        BININT1    1)dis" "\n"
            R"dis(   91: a        APPEND)dis" "\n"
            R"dis(   92: s        SETITEM)dis" "\n"
            R"dis(   93: c        GLOBAL     '__builtin__ set')dis" "\n"
            R"dis(  110: q        BINPUT     11)dis" "\n"
            R"dis(  112: ]        EMPTY_LIST)dis" "\n"
            R"dis(  113: q        BINPUT     12)dis" "\n"
            R"dis(  115: (        MARK)dis" "\n"
            R"dis(  116: K            BININT1    1)dis" "\n"
            R"dis(  118: K            BININT1    2)dis" "\n"
            R"dis(  120: e            APPENDS    (MARK at 115))dis" "\n"
            R"dis(  121: \x85     TUPLE1)dis" "\n"
            R"dis(  122: q        BINPUT     13)dis" "\n"
            R"dis(  124: R        REDUCE)dis" "\n"
            R"dis(  125: q        BINPUT     14)dis" "\n"
            R"dis(  127: c        GLOBAL     '__builtin__ frozenset')dis" "\n"
            R"dis(  150: q        BINPUT     15)dis" "\n"
            R"dis(  152: ]        EMPTY_LIST)dis" "\n"
            R"dis(  153: q        BINPUT     16)dis" "\n"
            R"dis(  155: \x85     TUPLE1)dis" "\n"
            R"dis(  156: q        BINPUT     17)dis" "\n"
            R"dis(  158: R        REDUCE)dis" "\n"
            R"dis(  159: q        BINPUT     18)dis" "\n"
            R"dis(  161: c        GLOBAL     '__builtin__ bytearray')dis" "\n"
            R"dis(  184: q        BINPUT     19)dis" "\n"
            R"dis(  186: h        BINGET     2)dis" "\n"
            R"dis(  188: X        BINUNICODE 'x')dis" "\n"
            R"dis(  194: q        BINPUT     20)dis" "\n"
            R"dis(  196: h        BINGET     4)dis" "\n"
            R"dis(  198: \x86     TUPLE2)dis" "\n"
            R"dis(  199: q        BINPUT     21)dis" "\n"
            R"dis(  201: R        REDUCE)dis" "\n"
            R"dis(  202: q        BINPUT     22)dis" "\n"
            R"dis(  204: \x85     TUPLE1)dis" "\n"
            R"dis(  205: q        BINPUT     23)dis" "\n"
            R"dis(  207: R        REDUCE)dis" "\n"
            R"dis(  208: q        BINPUT     24)dis" "\n"
            R"dis(  210: \x8a     LONG1      1000000000000000000000000000000)dis" "\n"
            R"dis(  225: J        BININT     -5)dis" "\n"
            R"dis(  230: J        BININT     -70000)dis" "\n"
            R"dis(  235: M        BININT2    300)dis" "\n"
            R"dis(  238: e        APPENDS    (MARK at 5))dis" "\n"
            R"dis(  239: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 2)dis" "\n"
            , true);
}

TEST(Dis, Composite3) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x03]q\x00(K\x01X\x01\x00\x00\x00aq\x01C\x01bq\x02G@\x04\x00\x00\x00\x00\x00\x00N\x88\x87q\x03}q\x04X\x01\x00\x00\x00kq\x05]q\x06K\x01ascbuiltins\x0aset\x0aq\x07]q\x08(K\x01K\x02e\x85q\x09Rq\x0acbuiltins\x0afrozenset\x0aq\x0b]q\x0c\x85q\x0dRq\x0ecbuiltins\x0abytearray\x0aq\x0fC\x01xq\x10\x85q\x11Rq\x12\x8a\x0d\x00\x00\x00@\xea\xedtF\xd0\x9c,\x9f\x0cJ\xfb\xff\xff\xffJ\x90\xee\xfe\xffM,\x01e.)pkl"),
            R"dis(    0: \x80 PROTO      3)dis" "\n"
            R"dis(    2: ]    EMPTY_LIST)dis" "\n"
            R"dis(    3: q    BINPUT     0)dis" "\n"
            R"dis(    5: (    MARK)dis" "\n"
            R"dis(    6: K        BININT1    1)dis" "\n"
            R"dis(    8: X        BINUNICODE 'a')dis" "\n"
            R"dis(   14: q        BINPUT     1)dis" "\n"
            R"dis(   16: C        SHORT_BINBYTES b'b')dis" "\n"
            R"dis(   19: q        BINPUT     2)dis" "\n"
            R"dis(   21: G        BINFLOAT   2.5)dis" "\n"
            R"dis(   30: N        NONE)dis" "\n"
            R"dis(   31: \x88     NEWTRUE)dis" "\n"
            R"dis(   32: \x87     TUPLE3)dis" "\n"
            R"dis(   33: q        BINPUT     3)dis" "\n"
            R"dis(   35: }        EMPTY_DICT)dis" "\n"
            R"dis(   36: q        BINPUT     4)dis" "\n"
            R"dis(   38: X        BINUNICODE 'k')dis" "\n"
            R"dis(   44: q        BINPUT     5)dis" "\n"
            R"dis(   46: ]        EMPTY_LIST)dis" "\n"
            R"dis(   47: q        BINPUT     6)dis" "\n"
            R"dis(   49: K        BININT1    1)dis" "\n"
            R"dis(   51: a        APPEND)dis" "\n"
            R"dis(   52: s        SETITEM)dis" "\n"
            R"dis(   53: c        GLOBAL     'builtins set')dis" "\n"
            R"dis(   67: q        BINPUT     7)dis" "\n"
            R"dis(   69: ]        EMPTY_LIST)dis" "\n"
            R"dis(   70: q        BINPUT     8)dis" "\n"
            R"dis(   72: (        MARK)dis" "\n"
            R"dis(   73: K            BININT1    1)dis" "\n"
            R"dis(   75: K            BININT1    2)dis" "\n"
            R"dis(   77: e            APPENDS    (MARK at 72))dis" "\n"
            R"dis(   78: \x85     TUPLE1)dis" "\n"
            R"dis(   79: q        BINPUT     9)dis" "\n"
            R"dis(   81: R        REDUCE)dis" "\n"
            R"dis(   82: q        BINPUT     10)dis" "\n"
            R"dis(   84: c        GLOBAL     'builtins frozenset')dis" "\n"
            R"dis(  104: q        BINPUT     11)dis" "\n"
            R"dis(  106: ]        EMPTY_LIST)dis" "\n"
            R"dis(  107: q        BINPUT     12)dis" "\n"
            R"dis(  109: \x85     TUPLE1)dis" "\n"
            R"dis(  110: q        BINPUT     13)dis" "\n"
            R"dis(  112: R        REDUCE)dis" "\n"
            R"dis(  113: q        BINPUT     14)dis" "\n"
            R"dis(  115: c        GLOBAL     'builtins bytearray')dis" "\n"
            R"dis(  135: q        BINPUT     15)dis" "\n"
            R"dis(  137: C        SHORT_BINBYTES b'x')dis" "\n"
            R"dis(  140: q        BINPUT     16)dis" "\n"
            R"dis(  142: \x85     TUPLE1)dis" "\n"
            R"dis(  143: q        BINPUT     17)dis" "\n"
            R"dis(  145: R        REDUCE)dis" "\n"
            R"dis(  146: q        BINPUT     18)dis" "\n"
            R"dis(  148: \x8a     LONG1      1000000000000000000000000000000)dis" "\n"
            R"dis(  163: J        BININT     -5)dis" "\n"
            R"dis(  168: J        BININT     -70000)dis" "\n"
            R"dis(  173: M        BININT2    300)dis" "\n"
            R"dis(  176: e        APPENDS    (MARK at 5))dis" "\n"
            R"dis(  177: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 3)dis" "\n"
            , true);
}

TEST(Dis, Composite4) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x04\x95p\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01\x8c\x01a\x94C\x01b\x94G@\x04\x00\x00\x00\x00\x00\x00N\x88\x87\x94}\x94\x8c\x01k\x94]\x94K\x01as\x8f\x94(K\x01K\x02\x90(\x91\x94\x8c\x08builtins\x94\x8c\x09bytearray\x94\x93\x94C\x01x\x94\x85\x94R\x94\x8a\x0d\x00\x00\x00@\xea\xedtF\xd0\x9c,\x9f\x0cJ\xfb\xff\xff\xffJ\x90\xee\xfe\xffM,\x01e.)pkl"),
            R"dis(    0: \x80 PROTO      4)dis" "\n"
            R"dis(    2: \x95 FRAME      112)dis" "\n"
            R"dis(   11: ]    EMPTY_LIST)dis" "\n"
            R"dis(   12: \x94 MEMOIZE    (as 0))dis" "\n"
            R"dis(   13: (    MARK)dis" "\n"
            R"dis(   14: K        BININT1    1)dis" "\n"
            R"dis(   16: \x8c     SHORT_BINUNICODE 'a')dis" "\n"
            R"dis(   19: \x94     MEMOIZE    (as 1))dis" "\n"
            R"dis(   20: C        SHORT_BINBYTES b'b')dis" "\n"
            R"dis(   23: \x94     MEMOIZE    (as 2))dis" "\n"
            R"dis(   24: G        BINFLOAT   2.5)dis" "\n"
            R"dis(   33: N        NONE)dis" "\n"
            R"dis(   34: \x88     NEWTRUE)dis" "\n"
            R"dis(   35: \x87     TUPLE3)dis" "\n"
            R"dis(   36: \x94     MEMOIZE    (as 3))dis" "\n"
            R"dis(   37: }        EMPTY_DICT)dis" "\n"
            R"dis(   38: \x94     MEMOIZE    (as 4))dis" "\n"
            R"dis(   39: \x8c     SHORT_BINUNICODE 'k')dis" "\n"
            R"dis(   42: \x94     MEMOIZE    (as 5))dis" "\n"
            R"dis(   43: ]        EMPTY_LIST)dis" "\n"
            R"dis(   44: \x94     MEMOIZE    (as 6))dis" "\n"
            R"dis(   45: K        BININT1    1)dis" "\n"
            R"dis(   47: a        APPEND)dis" "\n"
            R"dis(   48: s        SETITEM)dis" "\n"
            R"dis(   49: \x8f     EMPTY_SET)dis" "\n"
            R"dis(   50: \x94     MEMOIZE    (as 7))dis" "\n"
            R"dis(   51: (        MARK)dis" "\n"
            R"dis(   52: K            BININT1    1)dis" "\n"
            R"dis(   54: K            BININT1    2)dis" "\n"
            R"dis(   56: \x90         ADDITEMS   (MARK at 51))dis" "\n"
            R"dis(   57: (        MARK)dis" "\n"
            R"dis(   58: \x91         FROZENSET  (MARK at 57))dis" "\n"
            R"dis(   59: \x94     MEMOIZE    (as 8))dis" "\n"
            R"dis(   60: \x8c     SHORT_BINUNICODE 'builtins')dis" "\n"
            R"dis(   70: \x94     MEMOIZE    (as 9))dis" "\n"
            R"dis(   71: \x8c     SHORT_BINUNICODE 'bytearray')dis" "\n"
            R"dis(   82: \x94     MEMOIZE    (as 10))dis" "\n"
            R"dis(   83: \x93     STACK_GLOBAL)dis" "\n"
            R"dis(   84: \x94     MEMOIZE    (as 11))dis" "\n"
            R"dis(   85: C        SHORT_BINBYTES b'x')dis" "\n"
            R"dis(   88: \x94     MEMOIZE    (as 12))dis" "\n"
            R"dis(   89: \x85     TUPLE1)dis" "\n"
            R"dis(   90: \x94     MEMOIZE    (as 13))dis" "\n"
            R"dis(   91: R        REDUCE)dis" "\n"
            R"dis(   92: \x94     MEMOIZE    (as 14))dis" "\n"
            R"dis(   93: \x8a     LONG1      1000000000000000000000000000000)dis" "\n"
            R"dis(  108: J        BININT     -5)dis" "\n"
            R"dis(  113: J        BININT     -70000)dis" "\n"
            R"dis(  118: M        BININT2    300)dis" "\n"
            R"dis(  121: e        APPENDS    (MARK at 13))dis" "\n"
            R"dis(  122: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 4)dis" "\n"
            , true);
}

TEST(Dis, Composite5) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x05\x95Z\x00\x00\x00\x00\x00\x00\x00]\x94(K\x01\x8c\x01a\x94C\x01b\x94G@\x04\x00\x00\x00\x00\x00\x00N\x88\x87\x94}\x94\x8c\x01k\x94]\x94K\x01as\x8f\x94(K\x01K\x02\x90(\x91\x94\x96\x01\x00\x00\x00\x00\x00\x00\x00x\x94\x8a\x0d\x00\x00\x00@\xea\xedtF\xd0\x9c,\x9f\x0cJ\xfb\xff\xff\xffJ\x90\xee\xfe\xffM,\x01e.)pkl"),
            R"dis(    0: \x80 PROTO      5)dis" "\n"
            R"dis(    2: \x95 FRAME      90)dis" "\n"
            R"dis(   11: ]    EMPTY_LIST)dis" "\n"
            R"dis(   12: \x94 MEMOIZE    (as 0))dis" "\n"
            R"dis(   13: (    MARK)dis" "\n"
            R"dis(   14: K        BININT1    1)dis" "\n"
            R"dis(   16: \x8c     SHORT_BINUNICODE 'a')dis" "\n"
            R"dis(   19: \x94     MEMOIZE    (as 1))dis" "\n"
            R"dis(   20: C        SHORT_BINBYTES b'b')dis" "\n"
            R"dis(   23: \x94     MEMOIZE    (as 2))dis" "\n"
            R"dis(   24: G        BINFLOAT   2.5)dis" "\n"
            R"dis(   33: N        NONE)dis" "\n"
            R"dis(   34: \x88     NEWTRUE)dis" "\n"
            R"dis(   35: \x87     TUPLE3)dis" "\n"
            R"dis(   36: \x94     MEMOIZE    (as 3))dis" "\n"
            R"dis(   37: }        EMPTY_DICT)dis" "\n"
            R"dis(   38: \x94     MEMOIZE    (as 4))dis" "\n"
            R"dis(   39: \x8c     SHORT_BINUNICODE 'k')dis" "\n"
            R"dis(   42: \x94     MEMOIZE    (as 5))dis" "\n"
            R"dis(   43: ]        EMPTY_LIST)dis" "\n"
            R"dis(   44: \x94     MEMOIZE    (as 6))dis" "\n"
            R"dis(   45: K        BININT1    1)dis" "\n"
            R"dis(   47: a        APPEND)dis" "\n"
            R"dis(   48: s        SETITEM)dis" "\n"
            R"dis(   49: \x8f     EMPTY_SET)dis" "\n"
            R"dis(   50: \x94     MEMOIZE    (as 7))dis" "\n"
            R"dis(   51: (        MARK)dis" "\n"
            R"dis(   52: K            BININT1    1)dis" "\n"
            R"dis(   54: K            BININT1    2)dis" "\n"
            R"dis(   56: \x90         ADDITEMS   (MARK at 51))dis" "\n"
            R"dis(   57: (        MARK)dis" "\n"
            R"dis(   58: \x91         FROZENSET  (MARK at 57))dis" "\n"
            R"dis(   59: \x94     MEMOIZE    (as 8))dis" "\n"
            R"dis(   60: \x96     BYTEARRAY8 bytearray(b'x'))dis" "\n"
            R"dis(   70: \x94     MEMOIZE    (as 9))dis" "\n"
            R"dis(   71: \x8a     LONG1      1000000000000000000000000000000)dis" "\n"
            R"dis(   86: J        BININT     -5)dis" "\n"
            R"dis(   91: J        BININT     -70000)dis" "\n"
            R"dis(   96: M        BININT2    300)dis" "\n"
            R"dis(   99: e        APPENDS    (MARK at 13))dis" "\n"
            R"dis(  100: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 5)dis" "\n"
            , true);
}

TEST(Dis, Strings0) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl((lp0\x0aV\xe9\x5cu000a\x0ap1\x0aaVa\x5cu005cb\x0ap2\x0aaVq\x27\x22\x0ap3\x0aaF1.5\x0aaL1180591620717411303424L\x0aaI-1\x0aaF1e-05\x0aaV\x5cu20ac\x5cU0001f600\x0ap4\x0aac_codecs\x0aencode\x0ap5\x0a(V\x5cu0000\xff\x0ap6\x0aVlatin1\x0ap7\x0atp8\x0aRp9\x0aaF0.1\x0aaV\x5cud800\x0ap10\x0aa.)pkl"),
            R"dis(    0: (    MARK)dis" "\n"
            R"dis(    1: l        LIST       (MARK at 0))dis" "\n"
            R"dis(    2: p    PUT        0)dis" "\n"
            R"dis(    5: V    UNICODE    'é\n')dis" "\n"
            R"dis(   14: p    PUT        1)dis" "\n"
            R"dis(   17: a    APPEND)dis" "\n"
            R"dis(   18: V    UNICODE    'a\\b')dis" "\n"
            R"dis(   28: p    PUT        2)dis" "\n"
            R"dis(   31: a    APPEND)dis" "\n"
            R"dis(   32: V    UNICODE    'q\'"')dis" "\n"
            R"dis(   37: p    PUT        3)dis" "\n"
            R"dis(   40: a    APPEND)dis" "\n"
            R"dis(   41: F    FLOAT      1.5)dis" "\n"
            R"dis(   46: a    APPEND)dis" "\n"
            R"dis(   47: L    LONG       1180591620717411303424)dis" "\n"
            R"dis(   72: a    APPEND)dis" "\n"
            R"dis(   73: I    INT        -1)dis" "\n"
            R"dis(   77: a    APPEND)dis" "\n"
            R"dis(   78: F    FLOAT      1e-05)dis" "\n"
            R"dis(   85: a    APPEND)dis" "\n"
            R"dis(   86: V    UNICODE    '€😀')dis" "\n"
            R"dis(  104: p    PUT        4)dis" "\n"
            R"dis(  107: a    APPEND)dis" "\n"
            R"dis(  108: c    GLOBAL     '_codecs encode')dis" "\n"
            R"dis(  124: p    PUT        5)dis" "\n"
            R"dis(  127: (    MARK)dis" "\n"
            R"dis(  128: V        UNICODE    '\x00ÿ')dis" "\n"
            R"dis(  137: p        PUT        6)dis" "\n"
            R"dis(  140: V        UNICODE    'latin1')dis" "\n"
            R"dis(  148: p        PUT        7)dis" "\n"
            R"dis(  151: t        TUPLE      (MARK at 127))dis" "\n"
            R"dis(  152: p    PUT        8)dis" "\n"
            R"dis(  155: R    REDUCE)dis" "\n"
            R"dis(  156: p    PUT        9)dis" "\n"
            R"dis(  159: a    APPEND)dis" "\n"
            R"dis(  160: F    FLOAT      0.1)dis" "\n"
            R"dis(  165: a    APPEND)dis" "\n"
            R"dis(  166: V    UNICODE    '\ud800')dis" "\n"
            R"dis(  174: p    PUT        10)dis" "\n"
            R"dis(  178: a    APPEND)dis" "\n"
            R"dis(  179: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 0)dis" "\n"
            , true);
}

TEST(Dis, Strings1) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(]q\x00(X\x03\x00\x00\x00\xc3\xa9\x0aq\x01X\x03\x00\x00\x00a\x5cbq\x02X\x03\x00\x00\x00q\x27\x22q\x03G?\xf8\x00\x00\x00\x00\x00\x00L1180591620717411303424L\x0aJ\xff\xff\xff\xffG>\xe4\xf8\xb5\x88\xe3h\xf1X\x07\x00\x00\x00\xe2\x82\xac\xf0\x9f\x98\x80q\x04c_codecs\x0aencode\x0aq\x05(X\x03\x00\x00\x00\x00\xc3\xbfq\x06X\x06\x00\x00\x00latin1q\x07tq\x08Rq\x09G?\xb9\x99\x99\x99\x99\x99\x9aX\x03\x00\x00\x00\xed\xa0\x80q\x0ae.)pkl"),
            R"dis(    0: ]    EMPTY_LIST)dis" "\n"
            R"dis(    1: q    BINPUT     0)dis" "\n"
            R"dis(    3: (    MARK)dis" "\n"
            R"dis(    4: X        BINUNICODE 'é\n')dis" "\n"
            R"dis(   12: q        BINPUT     1)dis" "\n"
            R"dis(   14: X        BINUNICODE 'a\\b')dis" "\n"
            R"dis(   22: q        BINPUT     2)dis" "\n"
            R"dis(   24: X        BINUNICODE 'q\'"')dis" "\n"
            R"dis(   32: q        BINPUT     3)dis" "\n"
            R"dis(   34: G        BINFLOAT   1.5)dis" "\n"
            R"dis(   43: L        LONG       1180591620717411303424)dis" "\n"
            R"dis(   68: J        BININT     -1)dis" "\n"
            R"dis(   73: G        BINFLOAT   1e-05)dis" "\n"
            R"dis(   82: X        BINUNICODE '€😀')dis" "\n"
            R"dis(   94: q        BINPUT     4)dis" "\n"
            R"dis(   96: c        GLOBAL     '_codecs encode')dis" "\n"
            R"dis(  112: q        BINPUT     5)dis" "\n"
            R"dis(  114: (        MARK)dis" "\n"
            R"dis(  115: X            BINUNICODE '\x00ÿ')dis" "\n"
            R"dis(  123: q            BINPUT     6)dis" "\n"
            R"dis(  125: X            BINUNICODE 'latin1')dis" "\n"
            R"dis(  136: q            BINPUT     7)dis" "\n"
            R"dis(  138: t            TUPLE      (MARK at 114))dis" "\n"
            R"dis(  139: q        BINPUT     8)dis" "\n"
            R"dis(  141: R        REDUCE)dis" "\n"
            R"dis(  142: q        BINPUT     9)dis" "\n"
            R"dis(  144: G        BINFLOAT   0.1)dis" "\n"
            R"dis(  153: X        BINUNICODE '\ud800')dis" "\n"
            R"dis(  161: q        BINPUT     10)dis" "\n"
            R"dis(  163: e        APPENDS    (MARK at 3))dis" "\n"
            R"dis(  164: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 1)dis" "\n"
            , true);
}

TEST(Dis, Strings2) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x02]q\x00(X\x03\x00\x00\x00\xc3\xa9\x0aq\x01X\x03\x00\x00\x00a\x5cbq\x02X\x03\x00\x00\x00q\x27\x22q\x03G?\xf8\x00\x00\x00\x00\x00\x00\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@J\xff\xff\xff\xffG>\xe4\xf8\xb5\x88\xe3h\xf1X\x07\x00\x00\x00\xe2\x82\xac\xf0\x9f\x98\x80q\x04c_codecs\x0aencode\x0aq\x05X\x03\x00\x00\x00\x00\xc3\xbfq\x06X\x06\x00\x00\x00latin1q\x07\x86q\x08Rq\x09G?\xb9\x99\x99\x99\x99\x99\x9aX\x03\x00\x00\x00\xed\xa0\x80q\x0ae.)pkl"),
            R"dis(    0: \x80 PROTO      2)dis" "\n"
            R"dis(    2: ]    EMPTY_LIST)dis" "\n"
            R"dis(    3: q    BINPUT     0)dis" "\n"
            R"dis(    5: (    MARK)dis" "\n"
            R"dis(    6: X        BINUNICODE 'é\n')dis" "\n"
            R"dis(   14: q        BINPUT     1)dis" "\n"
            R"dis(   16: X        BINUNICODE 'a\\b')dis" "\n"
            R"dis(   24: q        BINPUT     2)dis" "\n"
            R"dis(   26: X        BINUNICODE 'q\'"')dis" "\n"
            R"dis(   34: q        BINPUT     3)dis" "\n"
            R"dis(   36: G        BINFLOAT   1.5)dis" "\n"
            R"dis(   45: \x8a     LONG1      1180591620717411303424)dis" "\n"
            R"dis(   56: J        BININT     -1)dis" "\n"
            R"dis(   61: G        BINFLOAT   1e-05)dis" "\n"
            R"dis(   70: X        BINUNICODE '€😀')dis" "\n"
            R"dis(   82: q        BINPUT     4)dis" "\n"
            R"dis(   84: c        GLOBAL     '_codecs encode')dis" "\n"
            R"dis(  100: q        BINPUT     5)dis" "\n"
            R"dis(  102: X        BINUNICODE '\x00ÿ')dis" "\n"
            R"dis(  110: q        BINPUT     6)dis" "\n"
            R"dis(  112: X        BINUNICODE 'latin1')dis" "\n"
            R"dis(  123: q        BINPUT     7)dis" "\n"
            R"dis(  125: \x86     TUPLE2)dis" "\n"
            R"dis(  126: q        BINPUT     8)dis" "\n"
            R"dis(  128: R        REDUCE)dis" "\n"
            R"dis(  129: q        BINPUT     9)dis" "\n"
            R"dis(  131: G        BINFLOAT   0.1)dis" "\n"
            R"dis(  140: X        BINUNICODE '\ud800')dis" "\n"
            R"dis(  148: q        BINPUT     10)dis" "\n"
            R"dis(  150: e        APPENDS    (MARK at 5))dis" "\n"
            R"dis(  151: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 2)dis" "\n"
            , true);
}

TEST(Dis, Strings3) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x03]q\x00(X\x03\x00\x00\x00\xc3\xa9\x0aq\x01X\x03\x00\x00\x00a\x5cbq\x02X\x03\x00\x00\x00q\x27\x22q\x03G?\xf8\x00\x00\x00\x00\x00\x00\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@J\xff\xff\xff\xffG>\xe4\xf8\xb5\x88\xe3h\xf1X\x07\x00\x00\x00\xe2\x82\xac\xf0\x9f\x98\x80q\x04C\x02\x00\xffq\x05G?\xb9\x99\x99\x99\x99\x99\x9aX\x03\x00\x00\x00\xed\xa0\x80q\x06e.)pkl"),
            R"dis(    0: \x80 PROTO      3)dis" "\n"
            R"dis(    2: ]    EMPTY_LIST)dis" "\n"
            R"dis(    3: q    BINPUT     0)dis" "\n"
            R"dis(    5: (    MARK)dis" "\n"
            R"dis(    6: X        BINUNICODE 'é\n')dis" "\n"
            R"dis(   14: q        BINPUT     1)dis" "\n"
            R"dis(   16: X        BINUNICODE 'a\\b')dis" "\n"
            R"dis(   24: q        BINPUT     2)dis" "\n"
            R"dis(   26: X        BINUNICODE 'q\'"')dis" "\n"
            R"dis(   34: q        BINPUT     3)dis" "\n"
            R"dis(   36: G        BINFLOAT   1.5)dis" "\n"
            R"dis(   45: \x8a     LONG1      1180591620717411303424)dis" "\n"
            R"dis(   56: J        BININT     -1)dis" "\n"
            R"dis(   61: G        BINFLOAT   1e-05)dis" "\n"
            R"dis(   70: X        BINUNICODE '€😀')dis" "\n"
            R"dis(   82: q        BINPUT     4)dis" "\n"
            R"dis(   84: C        SHORT_BINBYTES b'\x00\xff')dis" "\n"
            R"dis(   88: q        BINPUT     5)dis" "\n"
            R"dis(   90: G        BINFLOAT   0.1)dis" "\n"
            R"dis(   99: X        BINUNICODE '\ud800')dis" "\n"
            R"dis(  107: q        BINPUT     6)dis" "\n"
            R"dis(  109: e        APPENDS    (MARK at 5))dis" "\n"
            R"dis(  110: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 3)dis" "\n"
            , true);
}

TEST(Dis, Strings4) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x04\x95W\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x03\xc3\xa9\x0a\x94\x8c\x03a\x5cb\x94\x8c\x03q\x27\x22\x94G?\xf8\x00\x00\x00\x00\x00\x00\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@J\xff\xff\xff\xffG>\xe4\xf8\xb5\x88\xe3h\xf1\x8c\x07\xe2\x82\xac\xf0\x9f\x98\x80\x94C\x02\x00\xff\x94G?\xb9\x99\x99\x99\x99\x99\x9a\x8c\x03\xed\xa0\x80\x94e.)pkl"),
            R"dis(    0: \x80 PROTO      4)dis" "\n"
            R"dis(    2: \x95 FRAME      87)dis" "\n"
            R"dis(   11: ]    EMPTY_LIST)dis" "\n"
            R"dis(   12: \x94 MEMOIZE    (as 0))dis" "\n"
            R"dis(   13: (    MARK)dis" "\n"
            R"dis(   14: \x8c     SHORT_BINUNICODE 'é\n')dis" "\n"
            R"dis(   19: \x94     MEMOIZE    (as 1))dis" "\n"
            R"dis(   20: \x8c     SHORT_BINUNICODE 'a\\b')dis" "\n"
            R"dis(   25: \x94     MEMOIZE    (as 2))dis" "\n"
            R"dis(   26: \x8c     SHORT_BINUNICODE 'q\'"')dis" "\n"
            R"dis(   31: \x94     MEMOIZE    (as 3))dis" "\n"
            R"dis(   32: G        BINFLOAT   1.5)dis" "\n"
            R"dis(   41: \x8a     LONG1      1180591620717411303424)dis" "\n"
            R"dis(   52: J        BININT     -1)dis" "\n"
            R"dis(   57: G        BINFLOAT   1e-05)dis" "\n"
            R"dis(   66: \x8c     SHORT_BINUNICODE '€😀')dis" "\n"
            R"dis(   75: \x94     MEMOIZE    (as 4))dis" "\n"
            R"dis(   76: C        SHORT_BINBYTES b'\x00\xff')dis" "\n"
            R"dis(   80: \x94     MEMOIZE    (as 5))dis" "\n"
            R"dis(   81: G        BINFLOAT   0.1)dis" "\n"
            R"dis(   90: \x8c     SHORT_BINUNICODE '\ud800')dis" "\n"
            R"dis(   95: \x94     MEMOIZE    (as 6))dis" "\n"
            R"dis(   96: e        APPENDS    (MARK at 13))dis" "\n"
            R"dis(   97: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 4)dis" "\n"
            , true);
}

TEST(Dis, Object0) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(ccopy_reg\x0a_reconstructor\x0ap0\x0a(c__main__\x0aC\x0ap1\x0ac__builtin__\x0aobject\x0ap2\x0aNtp3\x0aRp4\x0a(dp5\x0aVx\x0ap6\x0a(lp7\x0ag4\x0aasb.)pkl"),
            R"dis(    0: c    GLOBAL     'copy_reg _reconstructor')dis" "\n"
            R"dis(   25: p    PUT        0)dis" "\n"
            R"dis(   28: (    MARK)dis" "\n"
            R"dis(   29: c        GLOBAL     '__main__ C')dis" "\n"
            R"dis(   41: p        PUT        1)dis" "\n"
            R"dis(   44: c        GLOBAL     '__builtin__ object')dis" "\n"
            R"dis(   64: p        PUT        2)dis" "\n"
            R"dis(   67: N        NONE)dis" "\n"
            R"dis(   68: t        TUPLE      (MARK at 28))dis" "\n"
            R"dis(   69: p    PUT        3)dis" "\n"
            R"dis(   72: R    REDUCE)dis" "\n"
            R"dis(   73: p    PUT        4)dis" "\n"
            R"dis(   76: (    MARK)dis" "\n"
            R"dis(   77: d        DICT       (MARK at 76))dis" "\n"
            R"dis(   78: p    PUT        5)dis" "\n"
            R"dis(   81: V    UNICODE    'x')dis" "\n"
            R"dis(   84: p    PUT        6)dis" "\n"
            R"dis(   87: (    MARK)dis" "\n"
            R"dis(   88: l        LIST       (MARK at 87))dis" "\n"
            R"dis(   89: p    PUT        7)dis" "\n"
            R"dis(   92: g    GET        4)dis" "\n"
            R"dis(   95: a    APPEND)dis" "\n"
            R"dis(   96: s    SETITEM)dis" "\n"
            R"dis(   97: b    BUILD)dis" "\n"
            R"dis(   98: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 0)dis" "\n"
            , true);
}

TEST(Dis, Object2) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x02c__main__\x0aC\x0aq\x00)\x81q\x01}q\x02X\x01\x00\x00\x00xq\x03]q\x04h\x01asb.)pkl"),
            R"dis(    0: \x80 PROTO      2)dis" "\n"
            R"dis(    2: c    GLOBAL     '__main__ C')dis" "\n"
            R"dis(   14: q    BINPUT     0)dis" "\n"
            R"dis(   16: )    EMPTY_TUPLE)dis" "\n"
            R"dis(   17: \x81 NEWOBJ)dis" "\n"
            R"dis(   18: q    BINPUT     1)dis" "\n"
            R"dis(   20: }    EMPTY_DICT)dis" "\n"
            R"dis(   21: q    BINPUT     2)dis" "\n"
            R"dis(   23: X    BINUNICODE 'x')dis" "\n"
            R"dis(   29: q    BINPUT     3)dis" "\n"
            R"dis(   31: ]    EMPTY_LIST)dis" "\n"
            R"dis(   32: q    BINPUT     4)dis" "\n"
            R"dis(   34: h    BINGET     1)dis" "\n"
            R"dis(   36: a    APPEND)dis" "\n"
            R"dis(   37: s    SETITEM)dis" "\n"
            R"dis(   38: b    BUILD)dis" "\n"
            R"dis(   39: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 2)dis" "\n"
            , true);
}

TEST(Dis, Object4) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x04\x95\x22\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x94\x8c\x01C\x94\x93\x94)\x81\x94}\x94\x8c\x01x\x94]\x94h\x03asb.)pkl"),
            R"dis(    0: \x80 PROTO      4)dis" "\n"
            R"dis(    2: \x95 FRAME      34)dis" "\n"
            R"dis(   11: \x8c SHORT_BINUNICODE '__main__')dis" "\n"
            R"dis(   21: \x94 MEMOIZE    (as 0))dis" "\n"
            R"dis(   22: \x8c SHORT_BINUNICODE 'C')dis" "\n"
            R"dis(   25: \x94 MEMOIZE    (as 1))dis" "\n"
            R"dis(   26: \x93 STACK_GLOBAL)dis" "\n"
            R"dis(   27: \x94 MEMOIZE    (as 2))dis" "\n"
            R"dis(   28: )    EMPTY_TUPLE)dis" "\n"
            R"dis(   29: \x81 NEWOBJ)dis" "\n"
            R"dis(   30: \x94 MEMOIZE    (as 3))dis" "\n"
            R"dis(   31: }    EMPTY_DICT)dis" "\n"
            R"dis(   32: \x94 MEMOIZE    (as 4))dis" "\n"
            R"dis(   33: \x8c SHORT_BINUNICODE 'x')dis" "\n"
            R"dis(   36: \x94 MEMOIZE    (as 5))dis" "\n"
            R"dis(   37: ]    EMPTY_LIST)dis" "\n"
            R"dis(   38: \x94 MEMOIZE    (as 6))dis" "\n"
            R"dis(   39: h    BINGET     3)dis" "\n"
            R"dis(   41: a    APPEND)dis" "\n"
            R"dis(   42: s    SETITEM)dis" "\n"
            R"dis(   43: b    BUILD)dis" "\n"
            R"dis(   44: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 4)dis" "\n"
            , true);
}

TEST(Dis, Shared5) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x05\x95\x09\x00\x00\x00\x00\x00\x00\x00]\x94(]\x94h\x01e.)pkl"),
            R"dis(    0: \x80 PROTO      5)dis" "\n"
            R"dis(    2: \x95 FRAME      9)dis" "\n"
            R"dis(   11: ]    EMPTY_LIST)dis" "\n"
            R"dis(   12: \x94 MEMOIZE    (as 0))dis" "\n"
            R"dis(   13: (    MARK)dis" "\n"
            R"dis(   14: ]        EMPTY_LIST)dis" "\n"
            R"dis(   15: \x94     MEMOIZE    (as 1))dis" "\n"
            R"dis(   16: h        BINGET     1)dis" "\n"
            R"dis(   18: e        APPENDS    (MARK at 13))dis" "\n"
            R"dis(   19: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 4)dis" "\n"
            , true);
}

TEST(Dis, TwoFrames) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x04\x95\x04\x00\x00\x00\x00\x00\x00\x00]K\x01a\x95\x01\x00\x00\x00\x00\x00\x00\x00.)pkl"),
            R"dis(    0: \x80 PROTO      4)dis" "\n"
            R"dis(    2: \x95 FRAME      4)dis" "\n"
            R"dis(   11: ]    EMPTY_LIST)dis" "\n"
            R"dis(   12: K    BININT1    1)dis" "\n"
            R"dis(   14: a    APPEND)dis" "\n"
            R"dis(   15: \x95 FRAME      1)dis" "\n"
            R"dis(   24: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 4)dis" "\n"
            , true);
}

TEST(Dis, NestedMarks) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl((K\x01(K\x02(K\x031tl.)pkl"),
            R"dis(    0: (    MARK)dis" "\n"
            R"dis(    1: K        BININT1    1)dis" "\n"
            R"dis(    3: (        MARK)dis" "\n"
            R"dis(    4: K            BININT1    2)dis" "\n"
            R"dis(    6: (            MARK)dis" "\n"
            R"dis(    7: K                BININT1    3)dis" "\n"
            R"dis(    9: 1                POP_MARK   (MARK at 6))dis" "\n"
            R"dis(   10: t            TUPLE      (MARK at 3))dis" "\n"
            R"dis(   11: l        LIST       (MARK at 0))dis" "\n"
            R"dis(   12: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 1)dis" "\n"
            , true);
}

TEST(Dis, DeepMarksStopIndentingAndShowTheirDepth) {
  // pickletools indents by 4 blanks per open MARK without end; past
  // max_indent_marks (here 2) the indentation stays and the depth shows.
  DisOptions options;
  options.max_indent_marks = 2;
  DisOutcome o = RunDis(Py(R"pkl((((K\x01ttt0N.)pkl"), options);
  EXPECT_EQ(o.text,
            R"dis(    0: (    MARK)dis" "\n"
            R"dis(    1: (        MARK)dis" "\n"
            R"dis(    2: (            MARK)dis" "\n"
            R"dis(    3: K            [depth 3] BININT1    1)dis" "\n"
            R"dis(    5: t            [depth 3] TUPLE      (MARK at 2))dis" "\n"
            R"dis(    6: t            TUPLE      (MARK at 1))dis" "\n"
            R"dis(    7: t        TUPLE      (MARK at 0))dis" "\n"
            R"dis(    8: 0    POP)dis" "\n"
            R"dis(    9: N    NONE)dis" "\n"
            R"dis(   10: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 1)dis" "\n");
  // 40,000 nested MARKs at the default: at most 32 levels of indentation
  // a line (pickletools would print 3.2 GB).
  std::string deep(40000, '(');
  deep += ".";
  o = RunDis(deep);
  EXPECT_LT(o.text.size(), 40001u * (12 + 4 * 32 + 16 + 8));
  EXPECT_NE(o.text.find("39999: (    " + std::string(4 * 32, ' ') +
                        "[depth 39999] MARK"),
            std::string::npos);
}

TEST(Dis, PopOfMark) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(K\x01(0.)pkl"),
            R"dis(    0: K    BININT1    1)dis" "\n"
            R"dis(    2: (    MARK)dis" "\n"
            R"dis(    3: 0        POP        (MARK at 2))dis" "\n"
            R"dis(    4: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 1)dis" "\n"
            , true);
}

TEST(Dis, Memoize) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x04]\x94(K\x01\x94e\x94.)pkl"),
            R"dis(    0: \x80 PROTO      4)dis" "\n"
            R"dis(    2: ]    EMPTY_LIST)dis" "\n"
            R"dis(    3: \x94 MEMOIZE    (as 0))dis" "\n"
            R"dis(    4: (    MARK)dis" "\n"
            R"dis(    5: K        BININT1    1)dis" "\n"
            R"dis(    7: \x94     MEMOIZE    (as 1))dis" "\n"
            R"dis(    8: e        APPENDS    (MARK at 4))dis" "\n"
            R"dis(    9: \x94 MEMOIZE    (as 2))dis" "\n"
            R"dis(   10: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 4)dis" "\n"
            , true);
}

TEST(Dis, Ext) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x02\x82\x01\x83\x01\x01\x84\x01\x00\x00\x00\x87.)pkl"),
            R"dis(    0: \x80 PROTO      2)dis" "\n"
            R"dis(    2: \x82 EXT1       1)dis" "\n"
            R"dis(    4: \x83 EXT2       257)dis" "\n"
            R"dis(    7: \x84 EXT4       1)dis" "\n"
            R"dis(   12: \x87 TUPLE3)dis" "\n"
            R"dis(   13: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 2)dis" "\n"
            , true);
}

TEST(Dis, Persid) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(Pabc\x0aU\x01xQ\x86.)pkl"),
            R"dis(    0: P    PERSID     'abc')dis" "\n"
            R"dis(    5: U    SHORT_BINSTRING 'x')dis" "\n"
            R"dis(    8: Q    BINPERSID)dis" "\n"
            R"dis(    9: \x86 TUPLE2)dis" "\n"
            R"dis(   10: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 2)dis" "\n"
            , true);
}

TEST(Dis, Buffers) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x05\x97\x98.)pkl"),
            R"dis(    0: \x80 PROTO      5)dis" "\n"
            R"dis(    2: \x97 NEXT_BUFFER)dis" "\n"
            R"dis(    3: \x98 READONLY_BUFFER)dis" "\n"
            R"dis(    4: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 5)dis" "\n"
            , true);
}

TEST(Dis, IntForms) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl((I01\x0aI00\x0aI010\x0aI-7\x0aL12L\x0a\x8a\x00\x8b\x01\x00\x00\x00\xfft.)pkl"),
            R"dis(    0: (    MARK)dis" "\n"
            R"dis(    1: I        INT        True)dis" "\n"
            R"dis(    5: I        INT        False)dis" "\n"
            R"dis(    9: I        INT        10)dis" "\n"
            R"dis(   14: I        INT        -7)dis" "\n"
            R"dis(   18: L        LONG       12)dis" "\n"
            R"dis(   23: \x8a     LONG1      0)dis" "\n"
            R"dis(   25: \x8b     LONG4      -1)dis" "\n"
            R"dis(   31: t        TUPLE      (MARK at 0))dis" "\n"
            R"dis(   32: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 2)dis" "\n"
            , true);
}

TEST(Dis, FloatText) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl((F1e-05\x0aF1e+16\x0aF-0.0\x0aFinf\x0aFnan\x0at.)pkl"),
            R"dis(    0: (    MARK)dis" "\n"
            R"dis(    1: F        FLOAT      1e-05)dis" "\n"
            R"dis(    8: F        FLOAT      1e+16)dis" "\n"
            R"dis(   15: F        FLOAT      -0.0)dis" "\n"
            R"dis(   21: F        FLOAT      inf)dis" "\n"
            R"dis(   26: F        FLOAT      nan)dis" "\n"
            R"dis(   31: t        TUPLE      (MARK at 0))dis" "\n"
            R"dis(   32: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 0)dis" "\n"
            , true);
}

TEST(Dis, Inst) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl((K\x01i__main__\x0aC\x0a.)pkl"),
            R"dis(    0: (    MARK)dis" "\n"
            R"dis(    1: K        BININT1    1)dis" "\n"
            R"dis(    3: i        INST       '__main__ C' (MARK at 0))dis" "\n"
            R"dis(   15: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 1)dis" "\n"
            , true);
}

TEST(Dis, StackGlobal) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x04\x8c\x02os\x8c\x09path.join\x93.)pkl"),
            R"dis(    0: \x80 PROTO      4)dis" "\n"
            R"dis(    2: \x8c SHORT_BINUNICODE 'os')dis" "\n"
            R"dis(    6: \x8c SHORT_BINUNICODE 'path.join')dis" "\n"
            R"dis(   17: \x93 STACK_GLOBAL)dis" "\n"
            R"dis(   18: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 4)dis" "\n"
            , true);
}

TEST(Dis, NewobjEx) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x04c__main__\x0aC\x0a)}\x92.)pkl"),
            R"dis(    0: \x80 PROTO      4)dis" "\n"
            R"dis(    2: c    GLOBAL     '__main__ C')dis" "\n"
            R"dis(   14: )    EMPTY_TUPLE)dis" "\n"
            R"dis(   15: }    EMPTY_DICT)dis" "\n"
            R"dis(   16: \x92 NEWOBJ_EX)dis" "\n"
            R"dis(   17: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 4)dis" "\n"
            , true);
}

TEST(Dis, Bytes8) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl(\x80\x04\x8e\x02\x00\x00\x00\x00\x00\x00\x00ab\x8d\x01\x00\x00\x00\x00\x00\x00\x00c\x86.)pkl"),
            R"dis(    0: \x80 PROTO      4)dis" "\n"
            R"dis(    2: \x8e BINBYTES8  b'ab')dis" "\n"
            R"dis(   13: \x8d BINUNICODE8 'c')dis" "\n"
            R"dis(   23: \x86 TUPLE2)dis" "\n"
            R"dis(   24: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 4)dis" "\n"
            , true);
}

TEST(Dis, StringQuotes) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl((S\x27a\x22b\x27\x0aS\x22x\x27y\x22\x0aS\x27\x5cx41\x5cn\x27\x0at.)pkl"),
            R"dis(    0: (    MARK)dis" "\n"
            R"dis(    1: S        STRING     'a"b')dis" "\n"
            R"dis(    8: S        STRING     "x'y")dis" "\n"
            R"dis(   15: S        STRING     'A\n')dis" "\n"
            R"dis(   25: t        TUPLE      (MARK at 0))dis" "\n"
            R"dis(   26: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 0)dis" "\n"
            , true);
}

TEST(Dis, UnicodeEscapes) {
  // pickletools.dis(ok)
  ExpectDis(Py(R"pkl((V\x5cu20ac\x5c\x5cx\x0aVa\x5cU0001f600\x0at.)pkl"),
            R"dis(    0: (    MARK)dis" "\n"
            R"dis(    1: V        UNICODE    '€\\\\x')dis" "\n"
            R"dis(   12: V        UNICODE    'a😀')dis" "\n"
            R"dis(   25: t        TUPLE      (MARK at 0))dis" "\n"
            R"dis(   26: .    STOP)dis" "\n"
            R"dis(highest protocol among opcodes = 0)dis" "\n"
            , true);
}

TEST(Dis, UnknownOpcode) {
  // pickletools.dis(error: ValueError: at position 2, opcode b'\xff' unknown)
  ExpectDis(Py(R"pkl(K\x01\xff.)pkl"),
            R"dis(    0: K    BININT1    1)dis" "\n"
            , false);
}

TEST(Dis, NoMark) {
  // pickletools.dis(error: ValueError: no MARK exists on stack)
  ExpectDis(Py(R"pkl(K\x01t.)pkl"),
            R"dis(    0: K    BININT1    1)dis" "\n"
            R"dis(    2: t    TUPLE      no MARK exists on stack)dis" "\n"
            , false);
}

TEST(Dis, Underflow) {
  // pickletools.dis(error: ValueError: tries to pop 2 items from stack with only 1 items)
  ExpectDis(Py(R"pkl(K\x01a.)pkl"),
            R"dis(    0: K    BININT1    1)dis" "\n"
            R"dis(    2: a    APPEND)dis" "\n"
            , false);
}

TEST(Dis, Truncated) {
  // pickletools.dis(error: ValueError: not enough data in stream to read int4)
  ExpectDis(Py(R"pkl(K\x01J\x01\x00)pkl"),
            R"dis(    0: K    BININT1    1)dis" "\n"
            , false);
}

TEST(Dis, NoStop) {
  // pickletools.dis(error: ValueError: pickle exhausted before seeing STOP)
  ExpectDis(Py(R"pkl(K\x01)pkl"),
            R"dis(    0: K    BININT1    1)dis" "\n"
            , false);
}

// ---- options and error codes --------------------------------------------------------------

TEST(DisOptions, IndentLevel) {
  // pickletools.dis(b'(K\x01(K\x02(K\x031tl.', indentlevel=2)
  DisOptions options;
  options.indent = 2;
  DisOutcome o = RunDis(Py(R"pkl((K\x01(K\x02(K\x031tl.)pkl"), options);
  ASSERT_TRUE(o.status.ok()) << o.status.message();
  EXPECT_EQ(o.text,
            "    0: (    MARK\n"
            "    1: K      BININT1    1\n"
            "    3: (      MARK\n"
            "    4: K        BININT1    2\n"
            "    6: (        MARK\n"
            "    7: K          BININT1    3\n"
            "    9: 1          POP_MARK   (MARK at 6)\n"
            "   10: t        TUPLE      (MARK at 3)\n"
            "   11: l      LIST       (MARK at 0)\n"
            "   12: .    STOP\n"
            "highest protocol among opcodes = 1\n");
}

TEST(DisOptions, LongBeyondMaxIntDigits) {
  // pickletools prints 18446744073709551616 (20 digits); with a 10-digit
  // limit picklevm prints the size instead (pickletools' repr() would raise
  // past sys.get_int_max_str_digits()).
  std::string input = Py(R"pkl(\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01.)pkl");
  EXPECT_EQ(RunDis(input).text,
            "    0: \\x8a LONG1      18446744073709551616\n"
            "   11: .    STOP\n"
            "highest protocol among opcodes = 2\n");
  DisOptions options;
  options.max_int_digits = 10;
  EXPECT_EQ(RunDis(input, options).text,
            "    0: \\x8a LONG1      <int of 9 bytes>\n"
            "   11: .    STOP\n"
            "highest protocol among opcodes = 2\n");
}

TEST(DisErrors, TypedCodes) {
  EXPECT_EQ(GetErrorInfo(RunDis(Py(R"(K\x01\xff.)")).status).code,
            ErrorCode::kUnknownOpcode);
  EXPECT_EQ(GetErrorInfo(RunDis(Py(R"(K\x01t.)")).status).code,
            ErrorCode::kNoMark);
  EXPECT_EQ(GetErrorInfo(RunDis(Py(R"(K\x01a.)")).status).code,
            ErrorCode::kStackUnderflow);
  ErrorInfo t = GetErrorInfo(RunDis(Py(R"(K\x01J\x01\x00)")).status);
  EXPECT_EQ(t.code, ErrorCode::kTruncated);
  EXPECT_EQ(t.offset, 2);
  EXPECT_EQ(GetErrorInfo(RunDis(Py(R"(K\x01)")).status).code,
            ErrorCode::kTruncated);
  // A length prefix of 2^63 fails as truncation, without allocating.
  EXPECT_EQ(GetErrorInfo(RunDis(Py(R"(\x8e\x00\x00\x00\x00\x00\x00\x00\x80.)"))
                             .status)
                .code,
            ErrorCode::kTruncated);
}

TEST(DisErrors, StopsAtStop) {
  // Only the first pickle is disassembled; *end is just past its STOP.
  DisOutcome o = RunDis(Py(R"(N.K\x01.)"));
  ASSERT_TRUE(o.status.ok());
  EXPECT_EQ(o.end, 2u);
  EXPECT_EQ(o.text,
            "    0: N    NONE\n"
            "    1: .    STOP\n"
            "highest protocol among opcodes = 0\n");
}

}  // namespace
}  // namespace picklevm
