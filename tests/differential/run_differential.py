#!/usr/bin/python3
"""Differential test: ``picklevm load`` against the reference encoder.

    /usr/bin/python3 tests/differential/run_differential.py --picklevm PATH \
        [--count N] [--seed S] [--max-nesting D] [--case K]... [--keep-failures DIR]
    /usr/bin/python3 tests/differential/run_differential.py --self-test

Every case is a Python value: a few fixed ones, then ``--count`` random ones
drawn deterministically from ``--seed`` (case K uses its own generator seeded
with "<seed>:<K>", so ``--case K`` reruns just that case).  Each value is
pickled with protocols 0 to 5, every stream is loaded with ``PATH load
FILE``, and the document must match ``refenc.document()``: exit status 0,
format, protocol (null for protocols 0 and 1, which write no PROTO), source
(size, sha256, container "pickle"), no warnings, and a ``root`` that equals
the reference encoding exactly.  "Exactly" means both JSON texts are parsed
with hooks that keep number text, int-vs-float and object key order, so
``1`` != ``1.0``, ``1e16`` != ``1e+16`` and ``{"a":1,"b":2}`` != ``{"b":2,"a":1}``.

The last line is ``differential: N passed, M failed``, counting (case,
protocol) pairs; the exit status is 1 if anything failed.

``--self-test`` runs no binary: it checks the reference encoder against
hand-written expectations, checks structural invariants of its output on
generated values, and checks that encoding a value and encoding what
``pickle.loads`` rebuilds from each protocol's stream agree.

Set iteration order depends on str hashing, so unless PYTHONHASHSEED is set
the script re-executes itself with PYTHONHASHSEED=0: the seed alone then
fixes every pickle byte.  Only the standard library is used.
"""

import argparse
import hashlib
import json
import os
import pickle
import random
import reprlib
import struct
import subprocess
import sys
import tempfile
import threading
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import refenc  # noqa: E402

DEFAULT_SEED = 20240611
PROTOCOLS = range(6)
PROCESS_TIMEOUT = 60  # seconds per picklevm run

# pickle, json and repr recurse in C on the value's depth; run the work in a
# thread with a big stack and a high recursion limit so that deep cases fit.
STACK_BYTES = 512 * 1024 * 1024
RECURSION_LIMIT = 200000


# =================================================================== JSON
# Exact parsing: numbers keep their text and kind, objects keep key order
# (and duplicate keys), so == on the result compares the texts' meaning
# without normalizing anything the contract fixes.

def parse_exact(text):
    return json.loads(
        text,
        parse_float=lambda s: ("F", s),
        parse_int=lambda s: ("I", s),
        # NaN / Infinity / -Infinity are not JSON; they can never equal a
        # reference value (which writes {"$float": ...}).
        parse_constant=lambda s: ("CONST", s),
        object_pairs_hook=lambda pairs: ("O", pairs),
    )


def _kind(node):
    if isinstance(node, tuple):
        return node[0]  # "O", "I", "F" or "CONST"
    if isinstance(node, list):
        return "array"
    if node is None:
        return "null"
    return type(node).__name__  # "str" or "bool"


def first_difference(expected, actual):
    """None if equal, else (path, reason) for the first difference in document order."""
    stack = [(expected, actual, None)]  # path: linked (parent, segment) pairs
    while stack:
        e, a, path = stack.pop()
        ke, ka = _kind(e), _kind(a)
        if ke != ka:
            return path, "expected a JSON %s, got a JSON %s" % (ke, ka)
        if ke == "array":
            if len(e) != len(a):
                return path, "array length: expected %d, got %d" % (len(e), len(a))
            for i in range(len(e) - 1, -1, -1):
                stack.append((e[i], a[i], (path, i)))
        elif ke == "O":
            ek = [k for k, _ in e[1]]
            ak = [k for k, _ in a[1]]
            if ek != ak:
                return path, "object keys: expected %s, got %s" % (
                    clip(json.dumps(ek), 150), clip(json.dumps(ak), 150))
            for i in range(len(ek) - 1, -1, -1):
                stack.append((e[1][i][1], a[1][i][1], (path, ek[i])))
        elif e != a:
            return path, "value differs"
    return None


def format_path(path, base="root"):
    segments = []
    while path is not None:
        path, seg = path
        segments.append("[%d]" % seg if isinstance(seg, int) else "[%s]" % json.dumps(seg))
    return base + "".join(reversed(segments))


def lookup(node, path):
    segments = []
    while path is not None:
        path, seg = path
        segments.append(seg)
    for seg in reversed(segments):
        node = node[seg] if isinstance(seg, int) else dict(node[1])[seg]
    return node


def show(node, budget=160):
    """Compact JSON-like text of a parsed node, cut after about `budget` chars."""
    out = []
    left = [budget]

    def put(s):
        out.append(s)
        left[0] -= len(s)

    def walk(n):  # recursion depth is bounded by the budget
        if left[0] <= 0:
            return
        k = _kind(n)
        if k in ("I", "F", "CONST"):
            put(n[1])
        elif k == "array":
            put("[")
            for i, c in enumerate(n):
                if left[0] <= 0:
                    return
                if i:
                    put(",")
                walk(c)
            put("]")
        elif k == "O":
            put("{")
            for i, (key, c) in enumerate(n[1]):
                if left[0] <= 0:
                    return
                put(("," if i else "") + json.dumps(key) + ":")
                walk(c)
            put("}")
        else:
            put(json.dumps(n))

    walk(node)
    text = "".join(out)
    return text if left[0] > 0 else text[:budget] + "..."


def clip(text, limit):
    return text if len(text) <= limit else text[:limit] + "..."


_repr = reprlib.Repr()
_repr.maxlevel = 5
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = _repr.maxfrozenset = 6
_repr.maxstring = _repr.maxlong = _repr.maxother = 60


def short_repr(value, limit=400):
    text = _repr.repr(value).encode("ascii", "backslashreplace").decode("ascii")
    return clip(text, limit)


# ============================================================== generator

NAN = float("nan")
INF = float("inf")

INT_BOUNDARIES = sorted({
    s * (b + d)
    for b in (2 ** 31, 2 ** 32, 2 ** 53, 2 ** 63, 2 ** 64, 2 ** 8, 2 ** 16)
    for d in (-1, 0, 1)
    for s in (1, -1)
})

SPECIAL_FLOATS = [
    0.0, -0.0, INF, -INF, NAN, -NAN,  # -NAN: sign bit set, still written "nan"
    5e-324, -5e-324, 2.225073858507201e-308, 2.2250738585072014e-308,  # denormals
    1.7976931348623157e308, -1.7976931348623157e308,
    1e16, -1e16, 1e15, 9999999999999998.0, 1.2345678901234567e16,
    1e-5, 1e-4, 0.0001, 1.5e-5, 0.00012345,
    1e22, 1e23, 1e100, 1e-300, 1e300, 0.1, 0.1 + 0.2, 1 / 3, 2 / 3,
    2.0 ** 53, 2.0 ** 53 + 2, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64,
    1.0, -1.0, 1.5, -2.5, 100.0, 123456789.0, 3.141592653589793,
]

ASCII = "abcxyzABCXYZ019 _-.,:;!?"
SPECIAL_CHARS = "\"\\/'\n\r\t\b\f\x00\x01\x1a\x1f\x7f"
NON_ASCII = ("\x80\xa0\xe9\xff\u0100\u00df\u4e2d\u03a9\u0436\u2028\u2029\ufeff\uffff"
             "\U0001F600\U00010000\U0010FFFF")
SURROGATES = "\ud800\udbff\udc00\udfff\ud83d\ude00"  # the last two: a split pair

TRICKY_STRINGS = ["", "$", "$id", "$ref", "$value", "$tuple", "$dict", "$$", "null",
                  "true", "1", "1.0", "\\u0000", "\ud83d\ude00", "\U0001F600", " $x"]


class ValueGen:
    """Random values of every supported type; one instance per case."""

    def __init__(self, rng, max_nesting):
        self.r = rng
        self.max_nesting = max_nesting
        self.share_p = 0.0
        self.pool = []    # wrappable objects made so far, to be reached again
        self.hpool = []   # the hashable ones among them, for keys and set members

    def remember(self, x):
        if type(x) is tuple and not x:
            return
        self.pool.append(x)
        try:
            hash(x)
        except TypeError:
            return
        self.hpool.append(x)

    # ----------------------------------------------------------- scalars

    def gen_int(self):
        r = self.r
        c = r.randrange(6)
        if c == 0:
            return r.randint(-300, 300)
        if c == 1:
            return r.choice(INT_BOUNDARIES)
        if c == 2:
            return r.getrandbits(r.randint(1, 64)) * r.choice((1, -1))
        if c == 3:  # huge: up to 1000 decimal digits
            n = r.choice((17, 20, 40, 100, r.randint(17, 1000)))
            digits = str(r.randint(1, 9)) + "".join(r.choice("0123456789") for _ in range(n - 1))
            return int(digits) * r.choice((1, -1))
        if c == 4:
            return r.choice((1, -1)) * 2 ** r.randint(0, 300) + r.randint(-2, 2)
        return r.choice((0, 1, -1, 255, 256, 65535, 65536, 2 ** 31 - 1, -2 ** 31))

    def gen_float(self):
        r = self.r
        c = r.randrange(5)
        if c == 0:
            return r.choice(SPECIAL_FLOATS)
        if c == 1:  # any bit pattern: denormals, nans with payloads, ...
            return struct.unpack("<d", r.getrandbits(64).to_bytes(8, "little"))[0]
        if c == 2:
            return r.uniform(-1000.0, 1000.0)
        if c == 3:
            return float("%s%de%d" % (r.choice("-+"), r.randint(1, 99999), r.randint(-330, 310)))
        return float(r.randint(-10 ** 6, 10 ** 6))

    def gen_str(self):
        r = self.r
        c = r.randrange(7)
        if c == 0:
            return r.choice(TRICKY_STRINGS)
        if c == 1:
            return "$" + self._chars(r.randint(0, 8))
        if c == 2:  # long: BINUNICODE rather than SHORT_BINUNICODE, and rarely very long
            n = r.choice((255, 256, r.randint(200, 2000), r.randint(200, 2000), 70000))
            return self._chars(n)
        if c == 3:
            return "".join(r.choice(SURROGATES + ASCII) for _ in range(r.randint(1, 6)))
        return self._chars(r.randint(0, 24))

    def _chars(self, n):
        r = self.r
        pools = [ASCII] * 4 + [SPECIAL_CHARS, NON_ASCII]
        if r.random() < 0.15:
            pools.append(SURROGATES)
        alphabet = "".join(r.sample(pools, r.randint(1, len(pools))))
        return "".join(r.choice(alphabet) for _ in range(n))

    def gen_bytes(self):
        r = self.r
        n = r.choice((0, 1, 1, 2, r.randint(0, 40), r.randint(0, 40), r.choice((255, 256, 300))))
        return bytes(r.getrandbits(8) for _ in range(n))

    def gen_scalar(self):
        c = self.r.randrange(12)
        if c < 3:
            return self.gen_int()
        if c < 6:
            return self.gen_float()
        if c < 10:
            return self.gen_str()
        return self.r.choice((None, True, False))

    def gen_leaf(self):
        """A scalar, or a leaf that has identity: bytes, bytearray, complex, slice, empties."""
        r = self.r
        c = r.randrange(20)
        if c < 11:
            return self.gen_scalar()
        if c < 14:
            x = self.gen_bytes()
        elif c < 15:
            x = bytearray(self.gen_bytes())
        elif c < 17:
            x = complex(self.gen_float(), self.gen_float())
        elif c < 18:
            x = self.gen_slice()
        else:
            x = r.choice((list, tuple, dict, set, frozenset, bytearray, bytes))()
        self.remember(x)
        return x

    def gen_slice(self):
        # Components are scalars only: the spec does not list slice
        # components among value positions, so whether a shared container
        # inside a slice is wrapped is left open (refenc treats them as
        # value positions).
        def part():
            c = self.r.randrange(6)
            return None if c < 2 else self.gen_int() if c < 5 else self.gen_scalar()
        return slice(part(), part(), part())

    # ------------------------------------------------------------ containers

    def gen_key(self, depth):
        """A hashable value for a dict key or a set member."""
        r = self.r
        if self.hpool and r.random() < self.share_p:
            return r.choice(self.hpool)
        c = r.randrange(20)
        if c < 7:
            return self.gen_str()
        if c < 10:
            return self.gen_int()
        if c < 12:
            return self.gen_float()
        if c < 13:
            return r.choice((None, True, False, 0, 1, 1.0, 0.0, -0.0, 1 + 0j, NAN))
        if c < 15:
            x = self.gen_bytes()
        elif c < 16:
            x = complex(self.gen_float(), self.gen_float())
        elif c < 19:
            n = 0 if depth <= 0 else r.choice((0, 1, 2, 3, r.randint(0, 6)))
            x = tuple(self.gen_key(depth - 1) for _ in range(n))
        else:
            n = 0 if depth <= 0 else r.randint(0, 5)
            x = frozenset(self.gen_key(depth - 1) for _ in range(n))
        self.remember(x)
        return x

    def gen_value(self, depth):
        r = self.r
        if self.pool and r.random() < self.share_p:
            return r.choice(self.pool)
        if depth <= 0 or r.random() < 0.3:
            return self.gen_leaf()
        kind = r.choice(("list", "list", "tuple", "tuple", "dict", "dict", "set", "frozenset"))
        n = r.choice((0, 1, 2, 3, r.randint(0, 8)))
        if kind == "list":
            x = [self.gen_value(depth - 1) for _ in range(n)]
        elif kind == "tuple":
            x = tuple(self.gen_value(depth - 1) for _ in range(n))
        elif kind == "dict":
            x = {}
            str_keys = r.random() < 0.5  # plain JSON objects need str keys throughout
            for _ in range(n):
                k = self.gen_str() if str_keys else self.gen_key(depth - 1)
                x[k] = self.gen_value(depth - 1)
        elif kind == "set":
            x = {self.gen_key(depth - 1) for _ in range(n)}
        else:
            x = frozenset(self.gen_key(depth - 1) for _ in range(n))
        self.remember(x)
        return x

    def add_cycles(self, root, k):
        """Put k back-references (to anything reachable, root included) into
        lists and dicts reachable from root, making cycles and shared values."""
        r = self.r
        objs = reachable(root)
        mutables = [o for o in objs if type(o) in (list, dict)]
        for _ in range(k):
            if not mutables:
                return
            m = r.choice(mutables)
            target = r.choice(objs)
            if type(m) is list:
                m.insert(r.randint(0, len(m)), target)
            else:
                m[self.gen_key(0) if r.random() < 0.3 else self.gen_str()] = target

    # ----------------------------------------------------------------- cases

    def case(self, kind):
        r = self.r
        if kind == "leaf":
            return self.gen_leaf()
        if kind == "deep":
            return self.gen_deep()
        if kind == "keys":
            return self.gen_keys_case()
        self.share_p = r.choice((0.0, 0.05, 0.15, 0.3)) if kind == "tree" else 0.3
        root = self.gen_value(r.randint(1, 5))
        if kind == "cycle":
            # A list or dict root guarantees something to hang cycles on.
            root = r.choice(([root], {"r": root}, (root, [root])))
            self.add_cycles(root, r.randint(1, 5))
        elif r.random() < 0.2:
            self.add_cycles(root, r.randint(1, 3))
        return root

    def gen_deep(self):
        r = self.r
        depth = r.randint(min(50, self.max_nesting), self.max_nesting)
        v = self.gen_leaf()
        innermost = None
        for i in range(depth):
            hashable = is_hashable(v)
            c = r.randrange(9 if hashable else 6)
            if c == 0:
                v = [v]
            elif c == 1:
                v = [self.gen_leaf(), v]
            elif c == 2:
                v = (v,)
            elif c == 3:
                v = ((), v) if r.random() < 0.5 else (v, self.gen_leaf())
            elif c == 4:
                v = {"k": v}
            elif c == 5:
                v = {r.choice(("$k", i, 1.5, "\ud800")): v}
            elif c == 6:
                v = frozenset((v,))
            elif c == 7:
                v = {v}
            else:
                v = {v: i}
            if innermost is None and type(v) is list:
                innermost = v
        if innermost is not None and r.random() < 0.3:
            innermost.append(v)  # a cycle that runs through the whole chain
        return v

    def gen_keys_case(self):
        """Dicts and sets whose keys stress the dict rules."""
        r = self.r
        self.share_p = 0.2
        d = {}
        specials = [1, 1.0, True, 0, 0.0, -0.0, False, NAN, float("nan"), (), (1,), (1.0,),
                    frozenset(), frozenset((1,)), 2 ** 53, 2 ** 64, -1, b"", b"k", 1 + 0j,
                    "$id", "$", "", "\udfff", "plain", None]
        r.shuffle(specials)
        for k in specials[: r.randint(3, len(specials))]:
            d[k] = self.gen_value(1)
        for _ in range(r.randint(0, 10)):
            d[self.gen_key(2)] = self.gen_value(1)
        members = {self.gen_key(2) for _ in range(r.randint(0, 10))}
        return r.choice((d, [d, members], (members, frozenset(members), d)))


def is_hashable(x):
    try:
        hash(x)
    except TypeError:
        return False
    return True


def reachable(root):
    """Every wrappable object reachable from root, once each, in a fixed order."""
    seen = set()
    out = []
    stack = [root]
    while stack:
        x = stack.pop()
        t = type(x)
        if t in (list, tuple, dict, set, frozenset, bytes, bytearray, complex, slice):
            if id(x) in seen or (t is tuple and not x):
                continue
            seen.add(id(x))
            out.append(x)
            if t is dict:
                for k, v in x.items():
                    stack.extend((k, v))
            elif t is slice:
                stack.extend((x.start, x.stop, x.step))
            elif t not in (bytes, bytearray, complex):
                stack.extend(x)
    return out


CASE_KINDS = ("tree", "leaf", "tree", "cycle", "keys", "tree", "deep", "cycle")


def fixed_cases():
    """Hand-picked values run first by the differential test."""
    cases = [make() for name, make, _ in SELF_TESTS if name not in NOT_PICKLABLE]
    cases += [
        2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 63, -2 ** 63, 10 ** 999,
        [5e-324, 2.2250738585072014e-308, 1e16, 1e-5, 0.0001, 1e22, -NAN],
        "\x00\x1a\r\n\\\"'\u2028\U0001F600", "\ud83d\ude00", "$", b"", bytearray(), (),
        [b"", b"", bytearray(b""), bytearray(b"")],
        # Protocols 3 and 4 pickle bytearray(b"a") as REDUCE(bytearray, (b"a",)):
        # that b"a" lives in an argument tuple, which is no part of the graph.
        [bytearray(b"a"), b"a"], [b"a", bytearray(b"a")],
        # Keys compare exactly, as Python does: 2**53+1 != 2.0**53, 2**53 == 2.0**53.
        {2 ** 53 + 1: "a", 2.0 ** 53: "b"}, {2 ** 53: "a", 2.0 ** 53: "b"},
        {2 ** 64, 2.0 ** 64, 10 ** 400, INF, True, 1.0, 0j},
        {"a": [], "b": {}, "c": (), "d": set(), "e": frozenset()},
        {frozenset({1, (2, 3)}): (b"x", 1j), (): ()},
        {NAN: 1, float("nan"): 2},  # two distinct nan keys
    ]
    # Small dicts share their key sequence in picklevm's graph (Graph's
    # shapes): records with one sequence, sequences that diverge, keys whose
    # identity or spelling shows (1 / True / 1.0, 0.0 / -0.0, equal but
    # distinct tuples, one of them shared), equal strs that are distinct
    # objects (not memoized), and dicts on both sides of the shape limit.
    t1, t2 = tuple([1, 2]), tuple([1, 2])
    cases += [
        [{"id": i, "name": "n%d" % i, "pos": (i, -i)} for i in range(6)],
        [{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "d": 4},
         {"a": 1, "b": 2, "c": 5}, {"a": 1}, {"b": 1, "a": 2}, {}],
        [{1: "x", "k": 0}, {True: "y", "k": 0}, {1.0: "z", "k": 0},
         {0.0: 1}, {-0.0: 2}, {False: 3}, {0: 4}],
        [{t1: 1, "k": 0}, {t2: 2, "k": 0}, t1, t1, t2],
        [{"".join(["a", "b"]): i, "".join(["c", "d"]): -i} for i in range(3)],
        [{"k%d" % i: i for i in range(n)} for n in (31, 32, 33, 40, 33)],
        [{"k%d" % i: i for i in range(n)[::-1]} for n in (33, 40)],
    ]
    return cases


def make_case(seed, index, fixed, max_nesting):
    """(kind, value) for case `index` (the fixed cases come first)."""
    if index < len(fixed):
        return "fixed", fixed[index]
    k = index - len(fixed)
    gen = ValueGen(random.Random("%s:%d" % (seed, k)), max_nesting)
    kind = CASE_KINDS[k % len(CASE_KINDS)]
    return kind, gen.case(kind)


# ============================================================ differential

def check_document(out, data, protocol, expected_root):
    """None if the loader's stdout is right, else a description of the first problem."""
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as e:
        return "stdout is not UTF-8: %s" % e, None
    try:
        doc = parse_exact(text)
    except ValueError as e:
        return "stdout is not JSON: %s; stdout: %s" % (e, clip(repr(text), 200)), None
    if _kind(doc) != "O":
        return "the document is not a JSON object", None
    keys = [k for k, _ in doc[1]]
    if sorted(keys) != sorted(["format", "source", "protocol", "root", "warnings"]):
        return "document keys: %s" % json.dumps(keys), None
    fields = dict(doc[1])
    root = fields["root"]
    if fields["format"] != refenc.FORMAT:
        return "format is %s" % show(fields["format"]), root
    want = None if refenc.stream_protocol(protocol) is None else ("I", str(protocol))
    if fields["protocol"] != want:
        return "protocol is %s, expected %s" % (show(fields["protocol"]), show(want)), root
    source = fields["source"]
    want_source = ("O", [("bytes", ("I", str(len(data)))),
                         ("sha256", hashlib.sha256(data).hexdigest()),
                         ("container", "pickle")])
    if _kind(source) != "O" or len(source[1]) != 3 or dict(source[1]) != dict(want_source[1]):
        return "source is %s, expected %s" % (show(source, 300), show(want_source, 300)), root
    if fields["warnings"] != []:
        return "warnings: %s" % show(fields["warnings"], 300), root
    diff = first_difference(expected_root, root)
    if diff is not None:
        path, reason = diff
        return "root differs at %s: %s\n      expected: %s\n      got:      %s" % (
            format_path(path), reason,
            show(lookup(expected_root, path)), show(lookup(root, path))), root
    return None, root


def run_case(binary, value, workdir):
    """[(protocol, problem or None)] for one value, plus cross-protocol notes."""
    expected_root = parse_exact(json.dumps(refenc.encode(value), allow_nan=False))
    results = []
    roots = {}
    for p in PROTOCOLS:
        data = pickle.dumps(value, protocol=p)
        path = os.path.join(workdir, "case.p%d.pkl" % p)
        with open(path, "wb") as f:
            f.write(data)
        try:
            proc = subprocess.run([binary, "load", path], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            results.append((p, "timed out after %ds" % PROCESS_TIMEOUT, data))
            continue
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip()
            results.append((p, "exit status %d; stderr: %s" % (proc.returncode, clip(err, 300)), data))
            continue
        problem, root = check_document(proc.stdout, data, p, expected_root)
        if root is not None:
            roots[p] = root
        results.append((p, problem, data))
    # Protocol invariance.  Implied when every protocol matches the
    # reference; when they do not, it tells a picklevm bug (protocols
    # disagree) from a likely reference bug (all agree, reference differs).
    notes = []
    if roots:
        first = min(roots)
        for p in sorted(roots):
            diff = first_difference(roots[first], roots[p])
            if diff is not None:
                notes.append("protocol %d's root differs from protocol %d's at %s"
                             % (p, first, format_path(diff[0])))
        if (not notes and len(roots) == len(PROTOCOLS)
                and all(problem for _, problem, _ in results)):
            notes.append("all six protocols give the same root: the fault is in the"
                         " reference or common to every protocol")
    return results, notes


def differential(args):
    binary = os.path.abspath(args.picklevm)
    if not os.access(binary, os.X_OK):
        print("run_differential: %s is not an executable file" % binary, file=sys.stderr)
        return 64
    fixed = fixed_cases()
    total = len(fixed) + args.count
    indices = args.case if args.case else range(total)
    print("differential: %d fixed + %d random cases (seed %s), protocols 0-5, binary %s"
          % (len(fixed), args.count, args.seed, binary))
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="picklevm-diff-") as workdir:
        for index in indices:
            if not 0 <= index < total:
                print("run_differential: no case %d (there are %d)" % (index, total), file=sys.stderr)
                return 64
            kind, value = make_case(args.seed, index, fixed, args.max_nesting)
            results, notes = run_case(binary, value, workdir)
            bad = [(p, problem, data) for p, problem, data in results if problem]
            passed += len(results) - len(bad)
            failed += len(bad)
            if not bad:
                continue
            print("FAIL case %d (%s): %s" % (index, kind, short_repr(value)))
            # Protocols with the same problem are reported together.
            by_problem = {}
            for p, problem, _ in bad:
                by_problem.setdefault(problem, []).append(str(p))
            for problem, ps in by_problem.items():
                print("    protocol%s %s: %s" % ("s" if len(ps) > 1 else "", ",".join(ps), problem))
            for p, _, data in bad:
                if args.keep_failures:
                    os.makedirs(args.keep_failures, exist_ok=True)
                    name = os.path.join(args.keep_failures, "case%d.p%d.pkl" % (index, p))
                    with open(name, "wb") as f:
                        f.write(data)
            for note in notes:
                print("    note: %s" % note)
            sys.stdout.flush()
    print("differential: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


# ============================================================== self-test

def _self_list():
    x = []
    x.append(x)
    return x


def _mutual():
    d = {}
    d["l"] = [d]
    return d


def _tuple_cycle():
    l = []
    t = (l,)
    l.append(t)
    return t


def _shared():
    x = [1]
    y = b"q"
    return [x, (x, y), y, {"k": x}]


def _shared_key():
    k = (1, 2)
    return {k: [k]}


def _empty_tuples():
    e = ()
    return [e, e, (e, e), (1,)]


class _Obj:
    """Stub for an admitted instance, using the hook."""

    def __init__(self, state):
        self.state = state

    def __graph_json__(self, enc):
        return {"$object": {"class": "m:C", "via": "new", "state": enc.value(self.state)}}


class _Global:
    """Stub for a global: never wrapped, like str."""

    __graph_json_wrap__ = False

    def __graph_json__(self, enc):
        return {"$global": "m:f"}


def _hooked():
    st = {"a": [1]}
    o = _Obj(st)
    g = _Global()
    return [o, o, g, g, st]


# (name, value factory, expected root JSON written from the spec).
SELF_TESTS = [
    ("none", lambda: None, 'null'),
    ("ints", lambda: [True, False, 0, -1, 2 ** 53 - 1, 2 ** 53, -2 ** 53, -(2 ** 53 - 1), -2 ** 63, 10 ** 20],
     '[true,false,0,-1,9007199254740991,{"$int":"9007199254740992"},'
     '{"$int":"-9007199254740992"},-9007199254740991,{"$int":"-9223372036854775808"},'
     '{"$int":"100000000000000000000"}]'),
    ("floats", lambda: [1.0, -0.0, 1e-300, 1e16, 1e-5, 0.0001, 0.1, 5e-324, NAN, -NAN, INF, -INF],
     '[1.0,-0.0,1e-300,1e+16,1e-05,0.0001,0.1,5e-324,{"$float":"nan"},{"$float":"nan"},'
     '{"$float":"inf"},{"$float":"-inf"}]'),
    ("complex", lambda: [complex(1.5, -0.0), complex(NAN, INF)],
     '[{"$complex":[1.5,-0.0]},{"$complex":[{"$float":"nan"},{"$float":"inf"}]}]'),
    ("strings", lambda: ["a\"\\\n\x00\xe9\U0001F600", "\ud800x", "\ud83d\ude00", ""],
     '["a\\"\\\\\\n\\u0000\\u00e9\\ud83d\\ude00",{"$str":[55296,120]},{"$str":[55357,56832]},""]'),
    ("bytes", lambda: [b"\x00\xffab", bytearray(b""), bytearray(b"\x01")],
     '[{"$bytes":"AP9hYg=="},{"$bytearray":""},{"$bytearray":"AQ=="}]'),
    ("self list", _self_list, '{"$id":0,"$value":[{"$ref":0}]}'),
    ("mutual cycle", _mutual, '{"$id":0,"$value":{"l":[{"$ref":0}]}}'),
    ("tuple cycle", _tuple_cycle, '{"$id":0,"$value":{"$tuple":[[{"$ref":0}]]}}'),
    ("empty tuples", _empty_tuples,
     '[{"$tuple":[]},{"$tuple":[]},{"$tuple":[{"$tuple":[]},{"$tuple":[]}]},{"$tuple":[1]}]'),
    ("shared", _shared,
     '[{"$id":0,"$value":[1]},{"$tuple":[{"$ref":0},{"$id":1,"$value":{"$bytes":"cQ=="}}]},'
     '{"$ref":1},{"k":{"$ref":0}}]'),
    ("b'' singleton", lambda: [b"", b"", bytes(), (b"",)],
     '[{"$id":0,"$value":{"$bytes":""}},{"$ref":0},{"$ref":0},{"$tuple":[{"$ref":0}]}]'),
    ("dicts", lambda: [{"a": {}, "b": []}, {"a": 1, "$b": 2}, dict([(1, "x"), (1.0, "y"), (True, "z")]),
                       {"\udc80": 0}, {None: None, (): 1.0}],
     '[{"a":{},"b":[]},{"$dict":[["a",1],["$b",2]]},{"$dict":[[1,"z"]]},'
     '{"$dict":[[{"$str":[56448]},0]]},{"$dict":[[null,null],[{"$tuple":[]},1.0]]}]'),
    ("shared key", _shared_key, '{"$dict":[[{"$id":0,"$value":{"$tuple":[1,2]}},[{"$ref":0}]]]}'),
    ("sets and slices", lambda: [set(), frozenset([5]), {"a"}, slice(None, 3, None), slice(1, -2, 2 ** 70)],
     '[{"$set":[]},{"$frozenset":[5]},{"$set":["a"]},{"$slice":[null,3,null]},'
     '{"$slice":[1,-2,{"$int":"1180591620717411303424"}]}]'),
    ("hook", _hooked,
     '[{"$id":0,"$value":{"$object":{"class":"m:C","via":"new","state":'
     '{"$id":1,"$value":{"a":[1]}}}}},{"$ref":0},{"$global":"m:f"},{"$global":"m:f"},{"$ref":1}]'),
]
# Self-test cases that are no real Python value (stubs): not pickled.
NOT_PICKLABLE = {"hook"}


def check_invariants(root):
    """Structural checks on a reference root: ids 0,1,2,... in document
    order, every $ref points at an earlier $id, every $id is referenced."""
    next_id = 0
    refs = set()
    stack = [root]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(reversed(n))
        elif isinstance(n, dict):
            if "$id" in n:
                assert list(n) == ["$id", "$value"] and n["$id"] == next_id, n
                next_id += 1
            if "$ref" in n:
                assert list(n) == ["$ref"] and n["$ref"] < next_id, n
                refs.add(n["$ref"])
            stack.extend(reversed(list(n.values())))
    assert refs == set(range(next_id)), "an $id is never referenced"


def self_test(args):
    failures = 0

    def fail(msg):
        nonlocal failures
        failures += 1
        print("FAIL %s" % msg)

    # 1. Hand-written expectations.
    for name, make, expected in SELF_TESTS:
        got = json.dumps(refenc.encode(make()), allow_nan=False)
        diff = first_difference(parse_exact(expected), parse_exact(got))
        if diff is not None:
            fail("%s: %s at %s\n    expected %s\n    got      %s"
                 % (name, diff[1], format_path(diff[0]), expected, got))

    # 2. The exact comparison tells number kinds and key order apart.
    for a, b in (("1", "1.0"), ("1e16", "1e+16"), ('{"a":1,"b":2}', '{"b":2,"a":1}'),
                 ("[1]", "[1,1]"), ('{"$float":"nan"}', "NaN")):
        if first_difference(parse_exact(a), parse_exact(b)) is None:
            fail("comparison: %s should differ from %s" % (a, b))

    # 3. document() fields.
    data = pickle.dumps([1], protocol=1)
    doc = refenc.document([1], data, refenc.stream_protocol(1))
    if (doc["protocol"] is not None or doc["source"]["bytes"] != len(data)
            or doc["source"]["sha256"] != hashlib.sha256(data).hexdigest()
            or doc["format"] != "picklevm-graph/1" or doc["warnings"] != []):
        fail("document(): %r" % doc)

    # 4. Depth: the encoder must not recurse (checked without json, which does).
    deep = None
    for _ in range(10000):
        deep = [deep]
    node, depth = refenc.encode(deep), 0
    while node is not None:
        node, depth = node[0], depth + 1
    if depth != 10000:
        fail("deep list: depth %d" % depth)
    deep = ()
    for _ in range(10000):
        deep = (deep, [deep])
    refenc.encode(deep)

    # 5. Generated values: invariants hold, and the encoding of a value
    # equals the encoding of what pickle.loads rebuilds from each
    # protocol's stream (which has the stream's identity).  Sets are the
    # exception that may legitimately differ (a rebuilt set can iterate in
    # another order), so values holding sets are compared as text only
    # when the orders happen to agree.
    fixed = fixed_cases()
    checked = 0
    for index in range(len(fixed) + args.count):
        kind, value = make_case(args.seed, index, fixed, args.max_nesting)
        try:
            root = refenc.encode(value)
            check_invariants(root)
            text = json.dumps(root, allow_nan=False)
            for p in PROTOCOLS:
                back = json.dumps(refenc.encode(pickle.loads(pickle.dumps(value, protocol=p))),
                                  allow_nan=False)
                if back != text and not has_set(value):
                    fail("case %d (%s) protocol %d: round trip changes the encoding: %s"
                         % (index, kind, p, short_repr(value)))
                    break
            checked += 1
        except Exception:
            fail("case %d (%s): %s\n%s" % (index, kind, short_repr(value), traceback.format_exc()))
    print("self-test: %d hand-written cases, %d generated values checked"
          % (len(SELF_TESTS), checked))
    print("self-test: %s" % ("ok" if not failures else "%d failed" % failures))
    return 1 if failures else 0


def has_set(value):
    return any(type(x) in (set, frozenset) for x in reachable(value))


# ================================================================== main

def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--picklevm", metavar="PATH", help="the picklevm binary")
    ap.add_argument("--count", type=int, default=300, help="random cases (default 300)")
    ap.add_argument("--seed", default=str(DEFAULT_SEED), help="seed (default %d)" % DEFAULT_SEED)
    ap.add_argument("--max-nesting", type=int, default=500,
                    help="deepest nesting of the deep cases (default 500)")
    ap.add_argument("--case", type=int, action="append", metavar="K",
                    help="run only case K (repeatable; fixed cases come first)")
    ap.add_argument("--keep-failures", metavar="DIR", help="save failing pickles in DIR")
    ap.add_argument("--self-test", action="store_true",
                    help="check the reference encoder only; no binary is run")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test(args)
    if not args.picklevm:
        ap.error("--picklevm PATH is required (or --self-test)")
    return differential(args)


def run_with_big_stack(fn, *a):
    result = [2]

    def target():
        try:
            result[0] = fn(*a)
        except SystemExit as e:
            result[0] = e.code
        except BaseException:
            traceback.print_exc()
            result[0] = 2

    sys.setrecursionlimit(RECURSION_LIMIT)
    threading.stack_size(STACK_BYTES)
    t = threading.Thread(target=target)
    t.start()
    t.join()
    return result[0]


if __name__ == "__main__":
    if os.environ.get("PYTHONHASHSEED") in (None, "", "random"):
        # Fix str hashing (and so set order) before anything is generated.
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    sys.exit(run_with_big_stack(main, sys.argv[1:]))
