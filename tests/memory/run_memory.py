#!/usr/bin/python3
"""Adversarial resource test for ``picklevm load``.

    /usr/bin/python3 tests/memory/run_memory.py [--picklevm build/picklevm]
        [-k SUBSTRING]

Documented bound (the README's):

    peak RSS <= 384 x input_bytes + 16 MiB

measured on Debian 12, x86-64 (AMD EPYC, 2 vCPUs, Linux 6.18), glibc
malloc, picklevm RelWithDebInfo, inputs up to 10 MB.  Measured worst slopes
(RSS above the ~6-8 MiB baseline, per input byte; linear from 250 KB to
8 MB, see the "A-eff" column):

    1M-deep TUPLE1 chain used as a dict key    ~183-190  (canonical-key table)
    1M-deep nested frozensets                  ~114-121
    1M-deep TUPLE1 chain                        ~75-96
    5M empty lists under one MARK, LIST         ~70
    1M-deep nested list (] x N, a x N-1)        ~54
    5M MEMOIZE of one value                     ~54
    1M-deep dict-of-dict / 1M int keys          ~38-44
    3M nested one-key dicts sized by a guess    ~62  (protocol-0 sizing)
    2M dicts keyed by a fresh tuple             ~30
    100k dicts diverging at the shape limit     ~8
    5M EMPTY_LIST+POP pairs                     ~17  (expected ~1: see below)

A = 384 is about twice the worst slope and B = 16 MiB twice the largest
baseline (8.2 MiB); both have about 2x headroom.

Every case below is generated into a temporary folder, run as
``/usr/bin/time -v picklevm load FILE [flags]`` (peak RSS is time's
"Maximum resident set size") one at a time, and must

1. exit with the expected status, with the expected message on standard
   error (one line naming the limit or the problem; nothing for exit 0),
   and, where it loads, print the expected document;
2. stay within the bound above (some cases have a tighter bound of their
   own, stated with the case);
3. finish in under MAX_WALL seconds (some cases less).

The input file is memory-mapped, so the pages of it that picklevm reads count
in its RSS: A therefore includes the input itself (1 byte per byte) plus the
graph built from it (24-byte nodes in an arena that is never freed before
exit), the object stack, the encoder's bookkeeping, and the 1 MiB output
buffer.  A and B were chosen at about twice the worst slope and baseline
measured (the table is printed at every run: "rss" against "bound").

Memory is linear in the input, not in the live data: every value goes into
the graph's arena and stays there after POP (the arena is freed with the
graph, block by block), so "5M EMPTY_LIST+POP" is held to the linear bound.

Children run with RLIMIT_AS = CHILD_AS_LIMIT so that a runaway allocation
(a memo vector sized by an attacker's index, say) fails the case instead of
taking the machine down, and are killed after max(10 s, 3 x the case's
wall limit), at most HARD_TIMEOUT.  A copy of the binary is run, so that a
rebuild during the run does not disturb it.

The "A-eff" column is (RSS - BASELINE_MIB) / input bytes for inputs of
64 KiB or more: the measured slope that A must stay above.

Prints one line per case, then ``memory: N passed, M failed``; exits 1 if
anything failed.
"""

import os
import sys

PY = "/usr/bin/python3"
if os.path.realpath(sys.executable) != os.path.realpath(PY):
    os.execv(PY, [PY, "-s", os.path.abspath(__file__)] + sys.argv[1:])

import argparse      # noqa: E402
import bz2           # noqa: E402
import lzma          # noqa: E402
import zlib          # noqa: E402
import json          # noqa: E402
import re            # noqa: E402
import resource      # noqa: E402
import shutil        # noqa: E402
import signal        # noqa: E402
import struct        # noqa: E402
import subprocess    # noqa: E402
import tempfile      # noqa: E402
import time          # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# ---- the documented bound ---------------------------------------------------
A = 384                # bytes of peak RSS per byte of input
B_MIB = 16             # fixed overhead, MiB
BASELINE_MIB = 6.4     # RSS of a tiny load, for the A-eff column only
MIB = 1 << 20

MAX_WALL = 5.0         # seconds, every case
HARD_TIMEOUT = 20.0    # seconds at most, then the child is killed
CHILD_AS_LIMIT = 8 << 30

TIME = "/usr/bin/time"

MILLION = 1_000_000
SCAN = ["scan", "--format", "jsonl"]  # a Case command: scan, one JSON line


def bound_bytes(input_bytes):
    return A * input_bytes + B_MIB * MIB


# A compressed file's bound (README): its stream, twice the graph's budget
# (--max-graph-bytes: the arena, and the stack and memo it caps), 16 MiB.
def graph_budget(file_bytes):
    return 256 * file_bytes + 64 * MIB


def compressed_bound(stream_bytes):
    return lambda n: stream_bytes + 2 * graph_budget(n) + B_MIB * MIB


# ---- pickle opcodes -----------------------------------------------------------
PROTO = b"\x80"
STOP = b"."
NONE = b"N"
MARK = b"("
POP = b"0"
DUP = b"2"
EMPTY_LIST = b"]"
APPEND = b"a"
LIST = b"l"
EMPTY_TUPLE = b")"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
EMPTY_DICT = b"}"
SETITEM = b"s"
SETITEMS = b"u"
FROZENSET = b"\x91"
MEMOIZE = b"\x94"
BININT1 = b"K"
INT = b"I"
LONG = b"L"
LONG1 = b"\x8a"
LONG4 = b"\x8b"
BINUNICODE = b"X"
BINUNICODE8 = b"\x8d"
BINBYTES8 = b"\x8e"
BYTEARRAY8 = b"\x96"
FRAME = b"\x95"
BINPUT = b"q"
LONG_BINPUT = b"r"
BINGET = b"h"
LONG_BINGET = b"j"
PUT = b"p"


def proto(n):
    return PROTO + bytes([n])


def binput(i):
    return BINPUT + bytes([i]) if i < 256 else LONG_BINPUT + struct.pack("<I", i)


def binget(i):
    return BINGET + bytes([i]) if i < 256 else LONG_BINGET + struct.pack("<I", i)


def binunicode(s):
    b = s.encode()
    return BINUNICODE + struct.pack("<I", len(b)) + b


# ---- generators ---------------------------------------------------------------
def gen_len8(op, length, proto_n=5):
    return proto(proto_n) + op + struct.pack("<Q", length) + b"abc" + STOP


def gen_long_binput_max():
    # One value, memoized at 2**32-1, fetched back, then STOP: a memo kept
    # as a vector indexed by the operand would need 32 GiB.
    return (proto(2) + EMPTY_LIST + LONG_BINPUT + b"\xff\xff\xff\xff" + POP +
            LONG_BINGET + b"\xff\xff\xff\xff" + STOP)


def gen_put_huge_text():
    # Protocol 0 PUT/GET with a 17-digit index.
    return (b"(lp99999999999999999\n0g99999999999999999\n" + STOP)


def gen_nested_list_p2(n):
    # ] x n pushes n lists; each APPEND puts the top one into the one below:
    # a valid pickle of a list nested n deep ([[[...]]]).
    return proto(2) + EMPTY_LIST * n + APPEND * (n - 1) + STOP


def gen_nested_list_p0(n):
    # Protocol 0: ( x n then l x n -- each LIST closes the innermost MARK.
    return MARK * n + LIST * n + STOP


def gen_nested_tuple(n):
    # () then TUPLE1 x (n-1): a 1-tuple of a 1-tuple of ... of ().
    return proto(2) + EMPTY_TUPLE + TUPLE1 * (n - 1) + STOP


def gen_nested_dict(n):
    # {"k": {"k": ... {}}}: dicts and keys pushed, then SETITEM x (n-1).
    # The key is memoized once and fetched by BINGET (3 bytes a level).
    body = [proto(2), EMPTY_DICT, binunicode("k"), binput(0), EMPTY_DICT]
    body.append((binget(0) + EMPTY_DICT) * (n - 2))
    body.append(SETITEM * (n - 1))
    body.append(STOP)
    return b"".join(body)


def gen_laughs_memo(levels=30, fan=10):
    # L0 = []; L(k) = [L(k-1)] * fan, built from `fan` BINGETs of the
    # previous level's memo slot.  The tree it unfolds to has fan**levels
    # leaves; the graph has levels+1 nodes.
    out = [proto(2), EMPTY_LIST, binput(0), POP]
    for k in range(1, levels + 1):
        out.append(MARK + binget(k - 1) * fan + LIST + binput(k))
        if k < levels:
            out.append(POP)
    out.append(STOP)
    return b"".join(out)


def gen_laughs_dup(levels=30, fan=10):
    # The same shape with DUP and no memo: `levels` MARKs first, then L0,
    # then (DUP x (fan-1), LIST) per level.
    return (proto(2) + MARK * levels + EMPTY_LIST +
            (DUP * (fan - 1) + LIST) * levels + STOP)


def tuple_dag(first_slot, levels):
    # t0 = (1,), t(k+1) = (t(k), t(k)) via memo + DUP; left in memo slots
    # first_slot .. first_slot+levels, nothing left on the stack.
    out = [BININT1 + b"\x01" + TUPLE1 + binput(first_slot) + POP]
    for k in range(levels):
        out.append(binget(first_slot + k) + DUP + TUPLE2 +
                   binput(first_slot + k + 1) + POP)
    return b"".join(out)


def gen_dag_key(levels=60):
    # {t60: None}: hashing t60 naively visits 2**60 leaves.
    return (proto(2) + tuple_dag(0, levels) + EMPTY_DICT +
            binget(levels) + NONE + SETITEM + STOP)


def gen_dag_two_keys(levels=60):
    # Two distinct but equal DAGs as keys: {tA: None, tB: 1} == {tA: 1}.
    # Comparing them naively is as exponential as hashing.
    second = levels + 1
    return (proto(2) + tuple_dag(0, levels) + tuple_dag(second, levels) +
            EMPTY_DICT + binget(levels) + NONE + SETITEM +
            binget(second + levels) + BININT1 + b"\x01" + SETITEM + STOP)


def gen_tuple_chain_key(n):
    # {((((),),),): None}: hashing walks a million-deep key once.
    return (proto(2) + EMPTY_DICT + EMPTY_TUPLE + TUPLE1 * (n - 1) + NONE +
            SETITEM + STOP)


def gen_nested_frozenset(n):
    # frozenset({frozenset({... frozenset()})}), protocol 4: ( x n, then
    # FROZENSET x n (each one hashes the one inside it).
    return proto(4) + MARK * n + FROZENSET * n + STOP


def gen_memoize(n):
    # One value memoized n times (MEMOIZE is one byte: a memo entry a byte).
    return proto(4) + NONE + MEMOIZE * n + STOP


def gen_int_keys(n):
    # {0: None, 1: None, ...} by one SETITEMS.
    return (proto(2) + EMPTY_DICT + MARK +
            b"".join(b"J" + struct.pack("<i", i) + NONE for i in range(n)) +
            SETITEMS + STOP)


def gen_shape_divergence(n):
    # n dicts that share 31 str keys and then each add a key of their own:
    # the worst case for dict shapes (Graph's shared key sequences), since
    # every dict leaves the shared run one short of the shape limit and so
    # makes a new shape whose 32 keys are copied.
    body = [proto(2)]
    for i in range(31):
        body.append(binunicode("k%d" % i) + binput(i) + POP)
    prefix = b"".join(binget(i) + NONE for i in range(31))
    for j in range(n):
        body.append(EMPTY_DICT + MARK + prefix + b"J" + struct.pack("<i", j) +
                    NONE + SETITEMS + POP)
    body.append(NONE + STOP)
    return b"".join(body)


def gen_sized_by_guess(groups):
    # One dict filled key by key with 32 keys (None, then ints 0-30: a
    # shape chain as long as the shape limit), then `groups` times 30
    # nested dicts, each taking only that first key (None) with the next
    # dict as its value: `}N` x 30, N, `s` x 30, POP -- 3 input bytes a
    # dict.  Every one is sized by Graph's guess for dicts filled one
    # SETITEM at a time, which the chain makes as large as it goes
    # (kSizeGuessLimit = 16 value slots): the most the guess can overshoot
    # for the fewest input bytes.
    first = EMPTY_DICT + NONE + NONE + SETITEM + b"".join(
        b"K" + bytes([i]) + NONE + SETITEM for i in range(31)) + POP
    group = (EMPTY_DICT + NONE) * 30 + NONE + SETITEM * 30 + POP
    return proto(2) + first + group * groups + NONE + STOP


def gen_tuple_key_dicts(n):
    # n dicts, each with a fresh () as its key: a key compared by identity,
    # which no other dict can share a key sequence with.
    return proto(2) + (EMPTY_DICT + EMPTY_TUPLE + NONE + SETITEM + POP) * n + \
        NONE + STOP


def gen_many_big_ints(count, digits):
    # count text INTs of `digits` digits each in one list (protocol 0):
    # decimal parsing and printing are quadratic in the digits of one int.
    return MARK + (INT + b"7" * digits + b"\n") * count + LIST + STOP


def gen_radix_text(op, prefix, digit, n):
    # INT/LONG with a power-of-two radix prefix: CPython's int(s, 0) reads
    # these in linear time and applies no digit limit to them; picklevm must
    # refuse one that will not print in --max-int-digits decimal digits, and
    # must do so in linear time.
    tail = b"L\n" if op == LONG else b"\n"
    return op + prefix + digit * n + tail + STOP


# 64 MiB of stream, compressed: what a tiny file can decompress to
# (--max-decompressed-bytes is at least 64 MiB).
COMPRESSED_STREAM = 64 * MIB - 64
CODECS = {"bz2": lambda d: bz2.compress(d, 9), "zlib": lambda d: zlib.compress(d, 9),
          "xz": lzma.compress}


def compressed_stream(kind):
    n = COMPRESSED_STREAM
    if kind == "dicts":     # a node and a dict body per byte
        return MARK + EMPTY_DICT * (n - 3) + LIST + STOP
    if kind == "nones":     # stack items only (None is a singleton)
        return MARK + NONE * (n - 3) + LIST + STOP
    if kind == "lists":
        return MARK + EMPTY_LIST * (n - 3) + LIST + STOP
    if kind == "memoize":   # memo entries only
        return proto(4) + NONE + MEMOIZE * (n - 4) + STOP
    if kind == "appends":   # one list, an item per 3 bytes (memo GETs)
        return (proto(2) + EMPTY_LIST + binput(0) + NONE +
                (APPEND + binget(0)) * ((n - 10) // 3) + POP + STOP)
    raise ValueError(kind)


def gen_builds_of_one_object(builds, plant=False):
    """Record mode: one object BUILT `builds` times with one memoized dict
    (3 bytes a BUILD); with `plant`, its class's __setstate__ is a
    250-char global first, so every BUILD is a call and a finding.  The
    log of calls, findings and warnings lived outside the graph's budget:
    12 KB of zlib took 2 GB in scan and trace."""
    head = proto(2) + b"c__main__\nFoo\n" + binput(1) + EMPTY_TUPLE + b"\x81"
    if plant:
        head += (binput(2) + EMPTY_DICT + binunicode("__setstate__") +
                 b"cposix\n" + b"s" * 250 + b"\n" + SETITEM + b"b")
    return head + EMPTY_DICT + binput(3) + POP + (binget(3) + b"b") * builds + STOP


_COMPRESSED_BUILDS = {}


def compressed_builds(plant):
    # bz2 of 60 MB takes seconds: made once for the eight cases.
    if plant not in _COMPRESSED_BUILDS:
        _COMPRESSED_BUILDS[plant] = bz2.compress(
            gen_builds_of_one_object(20000000, plant), 9)
    return _COMPRESSED_BUILDS[plant]


def gen_compressed(kind, codec):
    return CODECS[codec](compressed_stream(kind))


def gen_compressed_ints(n):
    # A list of n small ints in APPENDS batches of 1,000 (as pickle writes
    # it): an ordinary compressed file far below its graph budget.
    batch = MARK + BININT1 + b"\x07" + (BININT1 + b"\x07") * 999 + b"e"
    return zlib.compress(proto(2) + EMPTY_LIST + batch * (n // 1000) + STOP, 9)


def gen_push_pop(n):
    return proto(2) + (EMPTY_LIST + POP) * n + NONE + STOP


def gen_mark_many(n):
    return proto(2) + MARK + EMPTY_LIST * n + LIST + STOP


def gen_long4(nbytes):
    return proto(2) + LONG4 + struct.pack("<i", nbytes) + b"\x01" * nbytes + STOP


def gen_long1(nbytes):
    return proto(2) + LONG1 + bytes([nbytes]) + b"\x7f" * nbytes + STOP


def gen_int_text(digits):
    return INT + b"1" * digits + b"\n" + STOP


def gen_long_text(digits):
    return LONG + b"1" * digits + b"L\n" + STOP


def gen_stack(n):
    return proto(2) + MARK + NONE * n + b"t" + STOP


def gen_memo(n):
    return proto(2) + NONE + b"".join(binput(i) for i in range(n)) + STOP


def gen_nodes(n):
    # n-1 empty lists inside one list: n list nodes.
    return proto(2) + MARK + EMPTY_LIST * (n - 1) + LIST + STOP


def gen_frame(length):
    return proto(4) + FRAME + struct.pack("<Q", length) + NONE + STOP


def gen_args_for_many_calls(items, calls, keep=False):
    """os.system(*T) `calls` times, T one memoized tuple of `items` Nones:
    what record mode keeps of each call (the record, the call log) must
    hold T's items once, not once per call.  `keep`: the calls go into the
    root list, so the reference walks reach every one of them (and must
    visit T's items once, not once per call: 8 s for 1.3 MB before)."""
    return (proto(2) + b"cos\nsystem\n" + binput(0) + MARK + NONE * items +
            b"t" + binput(1) + b"]" +
            (binget(0) + binget(1) + (b"Ra" if keep else b"R0")) * calls +
            STOP)


def gen_builds_of_one_state(keys, calls):
    """LinearRegression() `calls` times, each BUILT with one memoized state
    dict of `keys` keys (past the shared-key limit): its keys are checked
    for dunder names once, not once per BUILD (7 s for 1.8 MB before)."""
    return (proto(2) + b"csklearn.linear_model._base\nLinearRegression\n" +
            binput(0) + POP + EMPTY_DICT + binput(1) + MARK +
            b"".join(binunicode("k%d" % i) + NONE for i in range(keys)) +
            SETITEMS + POP + EMPTY_LIST +
            (binget(0) + EMPTY_TUPLE + b"\x81" + binget(1) + b"b" +
             APPEND) * calls + STOP)


def gen_newobj_ex_for_many_calls(items, calls):
    """copyreg.__newobj_ex__(mymod.Thing, T, {}) `calls` times, T one
    memoized tuple of `items` Nones (record mode: the instance keeps T's
    items as its arguments, once)."""
    return (proto(2) + MARK + NONE * items + b"t" + binput(0) + b"0" +
            b"ccopyreg\n__newobj_ex__\n" + binput(1) + b"0" +
            b"cmymod\nThing\n" + binput(2) + b"0" + b"]" +
            (binget(1) + binget(2) + binget(0) + b"}\x87R0") * calls + STOP)


def gen_shape_for_many_arrays(dims, calls, dim=b"K\x01"):
    """numpy's _frombuffer(b'\\0' * 8, dtype('f8'), SHAPE, 'C') `calls`
    times, SHAPE one memoized tuple of `dims` items (dim: each item's
    opcode; BININT1 1 is a valid dimension, NONE is not).  Every array
    copies its shape, so without a bound on dimensions memory would be
    dims x calls for 14 input bytes a call."""
    out = (proto(2) + b"cnumpy.core.numeric\n_frombuffer\n" + binput(0) +
           b"cnumpy\ndtype\n" + binunicode("f8") + b"\x89\x88\x87R" +
           binput(1) + MARK + dim * dims + b"t" + binput(2) +
           b"C\x08" + b"\0" * 8 + binput(3) + binunicode("C") + binput(4) +
           b"0" * 5)
    call = (binget(0) + MARK + binget(3) + binget(1) + binget(2) +
            binget(4) + b"tR0")
    return out + b"]" + call * calls + STOP  # the root: the empty list


def gen_set_of_one_list(items, calls, name=b"set"):
    """builtins.set(L) `calls` times, L one memoized list of `items`
    distinct ints: each set copies L (CPython's too), so memory grew as
    items x calls (6 GB for 289 KB) until --max-copied-items bounded it."""
    return (proto(2) + b"cbuiltins\n" + name + b"\n" + binput(0) + POP +
            MARK + b"".join(b"J" + struct.pack("<i", i)
                            for i in range(items)) +
            b"l" + binput(1) + POP + EMPTY_LIST +
            (binget(0) + binget(1) + TUPLE1 + b"R" + APPEND) * calls + STOP)


def gen_reconstructor_of_one_dict(items, calls):
    """copyreg._reconstructor(Bunch, dict, S) `calls` times, S one memoized
    dict of `items` keys: each instance copies S (3 GB for 275 KB before)."""
    keys = b"".join(binunicode("k%d" % i) + NONE for i in range(items))
    return (proto(2) + b"ccopyreg\n_reconstructor\n" + binput(0) +
            b"csklearn.utils._bunch\nBunch\n" + binput(1) +
            b"cbuiltins\ndict\n" + binput(2) + EMPTY_DICT + binput(3) +
            MARK + keys + SETITEMS + POP * 4 + EMPTY_LIST +
            (binget(0) + binget(1) + binget(2) + binget(3) + b"\x87R" +
             APPEND) * calls + STOP)


def gen_dtype_fields_of_one_state(fields, calls):
    """numpy.dtype('V8') `calls` times, each BUILT with one memoized names
    tuple and fields dict of `fields` entries: each dtype keeps its fields
    (memory fields x calls), and each name was looked up by a scan of the
    fields (a 622 KB file ran for minutes)."""
    names = [("f%d" % i) for i in range(fields)]
    out = (proto(2) + b"cnumpy\ndtype\n" + binput(10) + POP +
           binget(10) + binunicode("u1") + b"\x89\x88\x87R" + binput(0) +
           POP + MARK + b"".join(binunicode(n) for n in names) + b"t" +
           binput(1) + POP + EMPTY_DICT + MARK +
           b"".join(binunicode(n) + binget(0) + BININT1 + b"\0" + TUPLE2
                    for n in names) + SETITEMS + binput(2) + POP)
    one = (binget(10) + binunicode("V8") + b"\x89\x88\x87R" + MARK +
           BININT1 + b"\x03" + binunicode("|") + NONE + binget(1) +
           binget(2) + BININT1 + b"\x08" + BININT1 + b"\x01" + BININT1 +
           b"\0" + b"tb" + APPEND)
    return out + EMPTY_LIST + one * calls + STOP


def gen_dtype_dag(levels):
    """`levels` structured dtypes, each with two fields of the previous
    level's dtype: written out in full (the graph's form of a dtype), the
    last is 2^levels dtypes (1.1 GB from a 1.6 KB stream at 24 levels)."""
    dtype = (b"cnumpy\ndtype\n" + binput(1000) + POP)
    out = proto(2) + dtype + binget(1000) + binunicode("f8") + b"\x89\x88\x87R"
    out += binput(0) + POP
    for lvl in range(1, levels + 1):
        state = (MARK + BININT1 + b"\x03" + binunicode("|") + NONE + MARK +
                 binunicode("a") + binunicode("b") + b"t" + EMPTY_DICT +
                 MARK + binunicode("a") + binget(lvl - 1) + BININT1 +
                 b"\0" + TUPLE2 + binunicode("b") + binget(lvl - 1) +
                 BININT1 + b"\0" + TUPLE2 + SETITEMS + BININT1 + b"\x08" +
                 BININT1 + b"\x01" + BININT1 + b"\0" + b"t")
        out += (binget(1000) + binunicode("V8") + b"\x89\x88\x87R" + state +
                b"b" + binput(lvl) + (POP if lvl < levels else b""))
    return out + STOP


def gen_builds_of_one_big_state(keys, calls, dunder=False, setitem=False):
    """Record mode: __main__.C() BUILT `calls` times with one memoized
    state of `keys` keys; `dunder`: the state also sets __x__ (its check
    found a dunder: remembered, not redone); `setitem`: D['k0'] = None
    before each BUILD (only the new key is looked at).  Each took seconds
    (quadratic) for 1.4-1.7 MB before."""
    out = (proto(2) + b"c__main__\nC\n" + binput(0) + POP + EMPTY_DICT +
           binput(1) + MARK +
           b"".join(binunicode("k%d" % i) + NONE for i in range(keys)) +
           (binunicode("__x__") + NONE if dunder else b"") + SETITEMS +
           POP + binunicode("k0") + binput(2) + POP)
    one = binget(0) + EMPTY_TUPLE + b"\x81"
    if setitem:
        one += binget(1) + binget(2) + NONE + SETITEM
    else:
        one += binget(1)
    return out + (one + b"b" + POP) * calls + NONE + STOP


def gen_sets_of_one_unhashable_tuple(items, calls):
    """Record mode: builtins.set([T]) `calls` times, T one memoized tuple of
    `items` zeros and a list: T was walked again at every call to find it
    unhashable (0.8 MB: 12 s before); the finding is remembered."""
    return (proto(2) + b"cbuiltins\nset\n" + binput(0) + POP + EMPTY_LIST +
            MARK + BININT1 + b"\0" + (BININT1 + b"\0") * (items - 1) +
            EMPTY_LIST + b"t" + APPEND + TUPLE1 + binput(1) + POP +
            (binget(0) + binget(1) + b"R" + POP) * calls + NONE + STOP)


def gen_stack_globals_of_one_name(length, uses):
    """STACK_GLOBAL `uses` times of one memoized `length`-char module name:
    each global keeps its name and each finding its text (465 MB for
    130 KB in scan before)."""
    return (proto(4) + binunicode("m" * length) + binput(0) +
            binunicode("n") + binput(1) +
            (binget(0) + binget(1) + b"\x93" + POP) * uses + NONE + STOP)


def gen_bytes_keys_of_one_text(length, keys, readonly_buffer=False):
    """A dict with `keys` bytes keys (each with value None) that all share
    one `length`-byte text: _codecs.encode of one memoized str and
    'latin1', or (protocol 5) READONLY_BUFFER of one memoized bytes.  Each
    is a new node, equal to the others: the text was hashed once per key
    (2.1 s for 1.4 MB before, quadratic)."""
    if readonly_buffer:
        head = (proto(5) + b"B" + struct.pack("<I", length) + b"x" * length +
                binput(1) + POP)
        key = binget(1) + b"\x98"
    else:
        head = (proto(4) + b"\x8c\x07_codecs\x8c\x06encode\x93" + binput(0) +
                POP + binunicode("x" * length) + binunicode("latin1") +
                TUPLE2 + binput(1) + POP)
        key = binget(0) + binget(1) + b"R"
    return head + EMPTY_DICT + MARK + (key + NONE) * keys + SETITEMS + STOP


def gen_builds_under_one_long_class(length, builds):
    """Record mode: BUILD plants a __setstate__ on os.Y, then `builds`
    BUILDs of one instance of a class with a `length`-char module name:
    each looked its class up by name, hashing it (trace: 2.5 s for 420 KB
    before, quadratic)."""
    return (proto(4) + binunicode("os") + binunicode("Y") + b"\x93" +
            EMPTY_DICT + binunicode("__setstate__") + NONE + SETITEM + b"b" +
            POP + binunicode("m" * length) + binunicode("C") + b"\x93" +
            EMPTY_TUPLE + b"\x81" + (NONE + b"b") * builds + STOP)


def gen_wrappers_of_one_args_tuple(items, calls):
    """joblib's NumpyArrayWrapper() `calls` times with one memoized tuple of
    `items` Nones as its arguments: the graph shares the tuple, but trace's
    calls and the graph document write it once per object (the format's
    own amplification, 170 bytes out per byte in).  The output was held
    in memory whole (trace --format json's graph, load --arrays DIR's
    document): 600 MB of RSS for 35 KB."""
    return (proto(4) + b"\x8c\x13joblib.numpy_pickle\x8c\x11NumpyArrayWrapper"
            b"\x93" + binput(0) + POP + MARK + NONE * items + b"t" +
            binput(1) + POP + EMPTY_LIST + MARK +
            (binget(0) + binget(1) + b"\x81") * calls + b"e" + STOP)


def gen_calls_of_many_args(items, calls):
    """posix.system(S, S, ...) `calls` times: one tuple of `items` memo GETs
    of one 5,000-char str S.  trace --format python cut each argument at
    4 KB but built the whole statement: 1.2 GB for 205 KB."""
    return (proto(2) + binunicode("x" * 5000) + binput(0) + POP +
            b"cposix\nsystem\n" + binput(1) + POP + MARK +
            binget(0) * items + b"t" + binput(2) + POP +
            (binget(1) + binget(2) + b"R" + POP) * calls + NONE + STOP)


def gen_calls_of_one_long_name(length, calls):
    """A list of `calls` calls (3 bytes each) of one memoized global whose
    name is `length` chars: trace json's graph writes the name in every
    $call, and the reckoning behind --max-output-bytes left it out (a
    call's name is text, not a child), so the graph was written past it."""
    return (proto(2) + b"cm" + b"x" * length + b"\nC\n" + binput(0) + POP +
            EMPTY_LIST + MARK + (binget(0) + EMPTY_TUPLE + b"R") * calls +
            b"e" + STOP)


def gen_wrappers_of_one_surrogate_keyword(length, calls):
    """NEWOBJ_EX of joblib's NumpyArrayWrapper (admitted) `calls` times with
    one memoized kwargs dict whose key is a lone surrogate and `length`
    control characters: a keyword's name is written escaped (6 bytes a
    character) while a str value with a surrogate takes the {"$str": [...]}
    form (2): the key was reckoned in the latter, and `load` wrote 3x past
    --max-output-bytes."""
    key = ("\ud800" + "\x01" * length).encode("utf-8", "surrogatepass")
    return (proto(4) + binunicode("joblib.numpy_pickle") +
            binunicode("NumpyArrayWrapper") + b"\x93" + MEMOIZE + POP +
            EMPTY_TUPLE + MEMOIZE + POP + EMPTY_DICT + BINUNICODE +
            struct.pack("<I", len(key)) + key + NONE + SETITEM + MEMOIZE +
            POP + EMPTY_LIST + MARK +
            (binget(0) + binget(1) + binget(2) + b"\x92") * calls +
            b"e" + STOP)


def gen_list_of_one_str(length, uses):
    """One memoized `length`-char str in a list `uses` times (2 bytes a
    use): graph-json.md writes a str in full at every place, so the
    document is length x uses -- 4 GB from 1 MB, or a terabyte from 3.9 KB
    of zlib -- and is refused before anything is written."""
    return (proto(4) + binunicode("s" * length) + MEMOIZE + POP + EMPTY_LIST +
            MARK + binget(0) * uses + b"e" + STOP)


def gen_persids_of_one_str(length, uses):
    """BINPERSID `uses` times of one memoized `length`-char str: each
    finding kept the id's text (1.4 GB for 100 KB in scan before)."""
    return (proto(4) + binunicode("p" * length) + binput(0) + POP +
            (binget(0) + b"Q" + POP) * uses + NONE + STOP)


def gen_newobj_ex_of_one_list(items, calls):
    """copyreg.__newobj_ex__(os.X, L, {}) `calls` times through one
    memoized args tuple whose L is a list of `items` Nones: a list's items
    were copied (twice) per call (1.6 GB for 70 KB in scan before)."""
    return (proto(4) + b"ccopyreg\n__newobj_ex__\n" + binput(0) + POP +
            MARK + b"cos\nX\n" + EMPTY_LIST + MARK + NONE * items +
            b"e" + EMPTY_DICT + b"t" + binput(1) + POP +
            (binget(0) + binget(1) + b"R" + POP) * calls + NONE + STOP)


def gen_appends_to_one_bytearray(length, calls):
    """APPEND of 1 to one memoized bytearray of `length` bytes, `calls`
    times (record mode extends it, as bytearray.extend would; each APPEND
    copied the bytes: 2 GB for 280 KB)."""
    return (proto(5) + BYTEARRAY8 + struct.pack("<Q", length) +
            b"a" * length + binput(0) + POP + EMPTY_LIST +
            (binget(0) + BININT1 + b"\x01" + APPEND + POP) * calls + STOP)


def gen_encode_of_one_str(length, calls):
    """_codecs.encode(T, 'latin1') `calls` times, T one memoized str of
    `length` chars: the bytes are encoded once per str and shared (1 GB
    for 280 KB before)."""
    return (proto(2) + b"c_codecs\nencode\n" + binput(0) +
            BINUNICODE + struct.pack("<I", length) + b"a" * length +
            binput(1) + binunicode("latin1") + binput(2) + POP * 3 +
            EMPTY_LIST + (binget(0) + binget(1) + binget(2) + TUPLE2 + b"R" +
                          APPEND) * calls + STOP)


# ---- output checks ------------------------------------------------------------
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NON_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def bracket_depth(data):
    """Max nesting of [] / {} outside JSON strings, iteratively; raises
    ValueError on an unbalanced or mismatched bracket."""
    only = _STRING.sub(b'""', data).translate(None, _NON_BRACKET)
    stack = bytearray()
    deepest = 0
    closer = {ord("]"): ord("["), ord("}"): ord("{")}
    for c in only:
        if c == 0x5B or c == 0x7B:
            stack.append(c)
            if len(stack) > deepest:
                deepest = len(stack)
        else:
            if not stack or stack.pop() != closer[c]:
                raise ValueError("unbalanced JSON brackets")
    if stack:
        raise ValueError("unclosed JSON brackets")
    return deepest


def split_doc(out):
    """The document's root text, and the document with the root replaced by
    null (small enough for json.loads)."""
    i = out.find(b',"root":')
    j = out.rfind(b',"warnings":')
    if i < 0 or j < i:
        raise ValueError("not a picklevm-graph/1 document")
    root = out[i + len(b',"root":'):j]
    head = json.loads(out[:i] + b',"root":null' + out[j:])
    if head.get("format") != "picklevm-graph/1":
        raise ValueError("format is %r" % head.get("format"))
    return root, head


def expect_root(expected_root, depth=None, proto_n=None):
    def check(out, input_bytes):
        root, head = split_doc(out)
        if head["protocol"] != proto_n:
            return "protocol %r, expected %r" % (head["protocol"], proto_n)
        if head["warnings"]:
            return "warnings %r" % head["warnings"]
        if depth is not None:
            d = bracket_depth(root)
            if d != depth:
                return "root nests %d deep, expected %d" % (d, depth)
        if root != expected_root:
            k = next((i for i, (x, y) in enumerate(zip(root, expected_root))
                      if x != y), min(len(root), len(expected_root)))
            return ("root differs at byte %d: %r (expected %r)" %
                    (k, root[k:k + 40], expected_root[k:k + 40]))
        return None
    return check


def expect_json_root(predicate, proto_n):
    def check(out, input_bytes):
        doc = json.loads(out)
        if doc.get("format") != "picklevm-graph/1":
            return "not a picklevm-graph/1 document"
        if doc["protocol"] != proto_n:
            return "protocol %r, expected %r" % (doc["protocol"], proto_n)
        return predicate(doc["root"], out, input_bytes)
    return check


def dtype_fields_check(fields):
    # One structured dtype whose names are f0 .. f{fields-1}, all at 0.
    def pred(root, out, input_bytes):
        want = ["f%d" % i for i in range(fields)]
        if (not isinstance(root, list) or len(root) != 1 or
                root[0].get("$dtype", {}).get("names") != want or
                set(root[0]["$dtype"]["offsets"]) != {0}):
            return "not the %d-field dtype" % fields
        return None
    return pred


def laughs_check(levels, fan, out_per_input=16):
    # Each level but the root is shared: written once as {"$id": N, ...},
    # then fan-1 times as {"$ref": N}.  Output linear in the input.
    def pred(root, out, input_bytes):
        ids = out.count(b'"$id"')
        refs = out.count(b'"$ref"')
        if ids != levels or refs != levels * (fan - 1):
            return "%d $id / %d $ref, expected %d / %d" % (
                ids, refs, levels, levels * (fan - 1))
        if len(out) > out_per_input * input_bytes + 1024:
            return "output %d bytes > %d x input + 1 KiB" % (
                len(out), out_per_input)
        # Walk the spine: root is a list of fan; its first item wraps level
        # levels-1, and so on down to [].
        node = root
        for k in range(levels, 0, -1):
            if not isinstance(node, list) or len(node) != fan:
                return "level %d is not a %d-list" % (k, fan)
            first = node[0]
            if not (isinstance(first, dict) and "$id" in first):
                return "level %d's first item is not an $id wrapper" % k
            if any(x != {"$ref": first["$id"]} for x in node[1:]):
                return "level %d's other items are not $refs to it" % k
            node = first["$value"]
        if node != []:
            return "bottom level is %r, expected []" % (node,)
        return None
    return pred


def dag_check(levels, value, out_per_input=16):
    def pred(root, out, input_bytes):
        if not (isinstance(root, dict) and "$dict" in root):
            return "root is not a $dict"
        items = root["$dict"]
        if len(items) != 1:
            return "%d dict entries, expected 1" % len(items)
        key, val = items[0]
        if val != value:
            return "value %r, expected %r" % (val, value)
        node, k = key, levels
        while k > 0:
            t = node.get("$tuple") if isinstance(node, dict) else None
            if t is None:
                t = node["$value"]["$tuple"] if "$value" in node else None
            if t is None or len(t) != 2 or t[1] != {"$ref": t[0]["$id"]}:
                return "level %d of the key is not (x, x) with a $ref" % k
            node, k = t[0]["$value"], k - 1
        if node != {"$tuple": [1]}:
            return "t0 is %r, expected (1,)" % (node,)
        if len(out) > out_per_input * input_bytes + 1024:
            return "output %d bytes not linear in input" % len(out)
        return None
    return pred


def expect_int(digits):
    def pred(root, out, input_bytes):
        if root != {"$int": digits}:
            return "root %.60r..., expected {'$int': %.20r...}" % (root, digits)
        return None
    return pred


# ---- cases --------------------------------------------------------------------
class Case:
    def __init__(self, name, data, args=(), status=0, stderr=None, check=None,
                 wall=MAX_WALL, rss_limit=None, rss_note=None,
                 as_limit=CHILD_AS_LIMIT, command=("load",), bound=None):
        self.name = name
        self.bound = bound or bound_bytes  # f(input bytes) -> RSS bound
        self.command = list(command)  # the picklevm command and its flags
        self.as_limit = as_limit    # RLIMIT_AS of the run
        self.data = data            # bytes, or a callable returning bytes
        self.args = list(args)
        self.status = status
        self.stderr = stderr        # regex that the one stderr line matches
        self.check = check          # f(stdout bytes, input bytes) -> error
        self.wall = wall
        self.rss_limit = rss_limit  # f(input bytes) -> extra tighter bound
        self.rss_note = rss_note


def default_max_depth():
    try:
        with open(os.path.join(REPO, "vm/machine/machine.h")) as f:
            m = re.search(r"max_depth\s*=\s*(\d+)", f.read())
        if m:
            return int(m.group(1))
    except OSError:
        pass
    return MILLION


def cut_within(marker, most):
    """A case's output check: a document cut at a limit, which says so
    (`marker`) and is at most `most` bytes."""
    def check(out, n):
        if marker in out and len(out) <= most:
            return None
        return "not cut within %d bytes (%r): %d bytes" % (most, marker,
                                                          len(out))
    return check


def cases():
    N = MILLION
    dmax = default_max_depth()
    # "pickle data was truncated", or "length prefix N exceeds the M bytes
    # left": either says the operand runs past the end of the input.
    trunc = r"truncat|exceeds the \d+ bytes? left"
    c = []

    # -- declared lengths far beyond the input
    for opname, op in (("BINBYTES8", BINBYTES8), ("BINUNICODE8", BINUNICODE8),
                       ("BYTEARRAY8", BYTEARRAY8)):
        for label, length in (("2^63", 1 << 63), ("2^64-1", (1 << 64) - 1)):
            c.append(Case("%s len %s" % (opname, label),
                          gen_len8(op, length), status=2,
                          stderr=trunc, wall=1.0))
    c.append(Case("FRAME len 2^63", gen_frame(1 << 63), status=2,
                  stderr=r"frame", wall=1.0))

    # -- memo indices
    c.append(Case("LONG_BINPUT 2^32-1", gen_long_binput_max(),
                  check=expect_root(b"[]", proto_n=2), wall=1.0))
    c.append(Case("PUT 10^17-1 (proto 0)", gen_put_huge_text(),
                  check=expect_root(b"[]", proto_n=None), wall=1.0))

    # -- a million deep
    nested = b"[" * N + b"]" * N
    lst = lambda: gen_nested_list_p2(N)                       # noqa: E731
    c.append(Case("1M nested list, --max-depth 2000000", lst,
                  ["--max-depth", "2000000"],
                  check=expect_root(nested, N, 2)))
    if dmax < N:
        c.append(Case("1M nested list, default --max-depth (%d)" % dmax,
                      lst, status=2, stderr=r"--max-depth"))
    else:
        c.append(Case("1M nested list, default --max-depth (%d)" % dmax,
                      lst, check=expect_root(nested, N, 2)))
    c.append(Case("1M nested list, --max-depth 1000", lst,
                  ["--max-depth", "1000"], status=2, stderr=r"--max-depth"))
    c.append(Case("1M nested list, --max-depth 999999", lst,
                  ["--max-depth", str(N - 1)], status=2,
                  stderr=r"--max-depth"))
    c.append(Case("1000 nested list, --max-depth 1000",
                  gen_nested_list_p2(1000), ["--max-depth", "1000"],
                  check=expect_root(b"[" * 1000 + b"]" * 1000, 1000, 2)))
    c.append(Case("1001 nested list, --max-depth 1000",
                  gen_nested_list_p2(1001), ["--max-depth", "1000"],
                  status=2, stderr=r"--max-depth"))
    c.append(Case("1M MARK/LIST (proto 0), --max-depth 2000000",
                  lambda: gen_nested_list_p0(N), ["--max-depth", "2000000"],
                  check=expect_root(nested, N, None)))
    c.append(Case("1M MARK/LIST (proto 0), --max-depth 1000",
                  lambda: gen_nested_list_p0(N), ["--max-depth", "1000"],
                  status=2, stderr=r"--max-depth"))
    c.append(Case("1M TUPLE1 chain, --max-depth 2000000",
                  lambda: gen_nested_tuple(N), ["--max-depth", "2000000"],
                  check=expect_root(b'{"$tuple":[' * (N - 1) +
                                    b'{"$tuple":[]}' + b"]}" * (N - 1),
                                    2 * N, 2)))
    c.append(Case("1M TUPLE1 chain, --max-depth 1000",
                  lambda: gen_nested_tuple(N), ["--max-depth", "1000"],
                  status=2, stderr=r"--max-depth"))
    c.append(Case("1M dict-of-dict, --max-depth 2000000",
                  lambda: gen_nested_dict(N), ["--max-depth", "2000000"],
                  check=expect_root(b'{"k":' * (N - 1) + b"{}" +
                                    b"}" * (N - 1), N, 2)))
    c.append(Case("1M dict-of-dict, --max-depth 1000",
                  lambda: gen_nested_dict(N), ["--max-depth", "1000"],
                  status=2, stderr=r"--max-depth"))

    # -- shared references
    c.append(Case("billion laughs, 30 levels x 10 BINGET", gen_laughs_memo(),
                  check=expect_json_root(laughs_check(30, 10), 2), wall=1.0))
    c.append(Case("billion laughs, 30 levels x 10 DUP", gen_laughs_dup(),
                  check=expect_json_root(laughs_check(30, 10), 2), wall=1.0))
    c.append(Case("tuple DAG 60 levels as dict key", gen_dag_key(),
                  check=expect_json_root(dag_check(60, None), 2), wall=1.0))
    c.append(Case("two equal tuple DAGs as dict keys", gen_dag_two_keys(),
                  check=expect_json_root(dag_check(60, 1), 2), wall=1.0))

    c.append(Case("1M TUPLE1 chain as dict key, --max-depth 2000001",
                  lambda: gen_tuple_chain_key(N),
                  ["--max-depth", "2000001"],
                  check=expect_root(b'{"$dict":[[' + b'{"$tuple":[' * (N - 1) +
                                    b'{"$tuple":[]}' + b"]}" * (N - 1) +
                                    b",null]]}", 2 * N + 3, 2)))
    c.append(Case("1M nested frozensets, --max-depth 2000000",
                  lambda: gen_nested_frozenset(N), ["--max-depth", "2000000"],
                  check=expect_root(b'{"$frozenset":[' * (N - 1) +
                                    b'{"$frozenset":[]}' + b"]}" * (N - 1),
                                    2 * N, 4)))

    # -- one memoized shape tuple named by many arrays (numpy allows 64
    # dimensions; a tuple of 100,000 once took 4 GiB in 2,000 arrays).
    c.append(Case("100k-dim shape named by 2,000 _frombuffer calls",
                  lambda: gen_shape_for_many_arrays(100000, 2000),
                  status=1, stderr=r"numpy allows at most 64", wall=2.0))
    c.append(Case("100k-dim shape named by 2,000 _frombuffer calls, scan",
                  lambda: gen_shape_for_many_arrays(100000, 2000),
                  command=SCAN, status=1,
                  wall=2.0))
    c.append(Case("100k-item bad shape in 20,000 _frombuffer calls, scan",
                  lambda: gen_shape_for_many_arrays(100000, 20000, dim=NONE),
                  command=SCAN, status=1,
                  wall=2.0))

    # -- one memoized args tuple unpacked by many calls (record mode kept a
    # copy per call: 3.4 GB for this 220 KB file).  `trace` writes every
    # call's arguments, so its output is calls x items here: not run.
    c.append(Case("100k-item args tuple in 20,000 calls, scan",
                  lambda: gen_args_for_many_calls(100000, 20000),
                  command=SCAN, status=1,
                  wall=2.0))
    c.append(Case("100k-item args tuple in 100,000 kept calls, scan",
                  lambda: gen_args_for_many_calls(100000, 100000, keep=True),
                  command=SCAN, status=1,
                  wall=2.0))
    c.append(Case("70k-key state in 70,000 BUILDs",
                  lambda: gen_builds_of_one_state(70000, 70000), wall=2.0))
    c.append(Case("70k-key state in 70,000 BUILDs, scan",
                  lambda: gen_builds_of_one_state(70000, 70000),
                  command=SCAN, wall=2.0))
    c.append(Case("100k-item tuple in 2,000 copyreg.__newobj_ex__, scan",
                  lambda: gen_newobj_ex_for_many_calls(100000, 2000),
                  command=SCAN, status=1,
                  wall=2.0))


    # -- one memoized container copied by many calls (set(L),
    # _reconstructor's dict state, a dtype's fields): bounded by
    # --max-copied-items, whose default derives from the input's size;
    # Latin-1 bytes of one str are shared, not copied.
    c.append(Case("50k-item list in 3,000 set() calls",
                  lambda: gen_set_of_one_list(50000, 3000),
                  status=2, stderr=r"--max-copied-items", wall=2.0))
    c.append(Case("50k-item list in 3,000 frozenset() calls, scan",
                  lambda: gen_set_of_one_list(50000, 3000, b"frozenset"),
                  command=SCAN, status=2,
                  wall=2.0))
    c.append(Case("20k-key dict in 2,000 copyreg._reconstructor calls",
                  lambda: gen_reconstructor_of_one_dict(20000, 2000),
                  status=2, stderr=r"--max-copied-items", wall=2.0))
    c.append(Case("20k-field dtype state in 1,000 BUILDs",
                  lambda: gen_dtype_fields_of_one_state(20000, 1000),
                  status=2, stderr=r"--max-copied-items", wall=2.0))
    c.append(Case("20k-field dtype state in 1,000 BUILDs, scan",
                  lambda: gen_dtype_fields_of_one_state(20000, 1000),
                  command=SCAN, status=2,
                  wall=2.0))
    c.append(Case("200k-field dtype, one BUILD",
                  lambda: gen_dtype_fields_of_one_state(200000, 1),
                  check=expect_json_root(dtype_fields_check(200000), 2),
                  wall=2.0))
    c.append(Case("dtype DAG of 24 levels (2^24 dtypes written)",
                  lambda: gen_dtype_dag(24), status=2,
                  stderr=r"--max-copied-items", wall=2.0))
    c.append(Case("dtype DAG of 24 levels, scan",
                  lambda: gen_dtype_dag(24),
                  command=SCAN, status=2,
                  wall=2.0))
    c.append(Case("70k-key state with a dunder in 70,000 BUILDs, scan",
                  lambda: gen_builds_of_one_big_state(70000, 70000,
                                                      dunder=True),
                  command=SCAN, status=1,
                  wall=2.0))
    c.append(Case("70k-key state, SETITEM + BUILD 70,000 times, scan",
                  lambda: gen_builds_of_one_big_state(70000, 70000,
                                                      setitem=True),
                  command=SCAN, status=1,
                  wall=2.0))
    c.append(Case("set([T]) of one unhashable 100k-item T, 70,000 calls, scan",
                  lambda: gen_sets_of_one_unhashable_tuple(100000, 70000),
                  command=SCAN, status=1,
                  wall=2.0))
    # (_codecs.encode is admitted: numpy's pickles of bytes arrays use it.)
    def one_key_dict(root, out, n):
        if list(root) == ["$dict"] and len(root["$dict"]) == 1:
            return None
        return "not a one-key dict"
    c.append(Case("200k bytes keys sharing one 200 KB Latin-1 text",
                  lambda: gen_bytes_keys_of_one_text(200000, 200000),
                  check=expect_json_root(one_key_dict, 4), wall=1.0))
    c.append(Case("200k bytes keys sharing one text, scan",
                  lambda: gen_bytes_keys_of_one_text(200000, 200000),
                  command=SCAN, wall=1.0))
    c.append(Case("200k READONLY_BUFFER keys of one 200 KB bytes",
                  lambda: gen_bytes_keys_of_one_text(200000, 200000, True),
                  check=expect_json_root(one_key_dict, 5), wall=1.0))
    c.append(Case("60,000 BUILDs under one 300k-char class, trace",
                  lambda: gen_builds_under_one_long_class(300000, 60000),
                  command=("trace",), status=1, wall=1.0))
    c.append(Case("60,000 BUILDs under one 300k-char class, scan",
                  lambda: gen_builds_under_one_long_class(300000, 60000),
                  command=SCAN, status=1, wall=0.4))
    c.append(Case("40,000 nested MARKs, dis",
                  MARK * 40000 + STOP, command=("dis",),
                  check=lambda out, n: None if len(out) < 8 * MIB
                  else "dis wrote %d bytes (indentation past 32 MARKs)"
                  % len(out), wall=1.0))
    # (Past the default --max-output-bytes: refused before writing; with
    # the limit raised, written as it goes, in bounded memory.)
    big_output = ["--max-output-bytes", "2000000000"]
    c.append(Case("1,500 wrappers sharing a 20k-item args tuple, trace json",
                  lambda: gen_wrappers_of_one_args_tuple(20000, 1500),
                  big_output, command=("trace", "--format", "json")))
    c.append(Case("1,500 wrappers sharing a 20k-item args tuple, --arrays",
                  lambda: gen_wrappers_of_one_args_tuple(20000, 1500),
                  ["--arrays", "{dir}"] + big_output))
    c.append(Case("1,500 wrappers sharing a 20k-item args tuple, load",
                  lambda: gen_wrappers_of_one_args_tuple(20000, 1500),
                  status=2, stderr=r"would exceed --max-output-bytes",
                  wall=0.5))
    c.append(Case("2 calls of 100k arguments (one 5 KB str), trace",
                  lambda: gen_calls_of_many_args(100000, 2),
                  command=("trace",), status=1, wall=1.0))
    c.append(Case("1 MB str in a list 4,000 times, load",
                  lambda: gen_list_of_one_str(1 << 20, 4000),
                  status=2, stderr=r"would exceed --max-output-bytes",
                  wall=0.5))
    c.append(Case("1 MB str in a list 4,000 times, trace json",
                  lambda: gen_list_of_one_str(1 << 20, 4000),
                  command=("trace", "--format", "json"), status=2,
                  check=cut_within(b"would exceed --max-output-bytes",
                                   MIB - 1),
                  wall=0.5))
    # The calls (49 MB) are within the default limit (about 77 MB for this
    # 37 KB file), the graph that names them all again is not.
    c.append(Case("32k-char global called 1,500 times, trace json",
                  lambda: gen_calls_of_one_long_name(32768, 1500),
                  command=("trace", "--format", "json"), status=1,
                  check=cut_within(b"stops before a graph", 60 * MIB - 1),
                  wall=2.0))
    c.append(Case("100 wrappers of one 10k-char surrogate keyword, load",
                  lambda: gen_wrappers_of_one_surrogate_keyword(10000, 100),
                  ["--max-output-bytes", "2100000"], status=2,
                  stderr=r"would exceed --max-output-bytes", wall=1.0))
    # A trace document's frame, each graph document's keys and warnings,
    # and the findings count against the limit too.
    c.append(Case("5,000 pickles of None, trace json, 100 KB of output",
                  lambda: (NONE + STOP) * 5000,
                  ["--max-output-bytes", "100000"],
                  command=("trace", "--format", "json"), status=2,
                  check=cut_within(b"stops before a graph", 100000),
                  wall=1.0))
    c.append(Case("20,000 findings of one 64k-char persid, trace json, 1 MB",
                  lambda: gen_persids_of_one_str(65536, 20000),
                  ["--max-output-bytes", "1000000"],
                  command=("trace", "--format", "json"), status=1,
                  check=cut_within(b"findings: it would", 1000000),
                  wall=2.0))
    c.append(Case("compressed: 1 MB str in a list 1M times, load",
                  lambda: zlib.compress(gen_list_of_one_str(1 << 20, MILLION),
                                        9),
                  status=2, stderr=r"would exceed --max-output-bytes",
                  wall=1.0, bound=compressed_bound(3 * MIB)))
    c.append(Case("64k-char module name in 26,000 STACK_GLOBALs, scan",
                  lambda: gen_stack_globals_of_one_name(65536, 26000),
                  command=SCAN, status=1,
                  wall=2.0))
    c.append(Case("64k-char str in 20,000 BINPERSIDs, scan",
                  lambda: gen_persids_of_one_str(65536, 20000),
                  command=SCAN, status=1,
                  wall=2.0))
    c.append(Case("64k-char str in 20,000 BINPERSIDs, trace",
                  lambda: gen_persids_of_one_str(65536, 20000),
                  command=["trace", "--format", "python"], status=1,
                  wall=2.0))
    c.append(Case("20k-item list in 20,000 copyreg.__newobj_ex__, scan",
                  lambda: gen_newobj_ex_of_one_list(20000, 20000),
                  command=SCAN, status=1,
                  wall=2.0))
    c.append(Case("100k-byte bytearray in 20,000 APPENDs, scan",
                  lambda: gen_appends_to_one_bytearray(100000, 20000),
                  command=SCAN, status=2,
                  wall=2.0))
    c.append(Case("100k-char str in 2,000 _codecs.encode calls",
                  lambda: gen_encode_of_one_str(100000, 2000),
                  ["--max-output-bytes", "1000000000"], wall=2.0))
    c.append(Case("100k-char str in 2,000 _codecs.encode calls, default",
                  lambda: gen_encode_of_one_str(100000, 2000),
                  status=2, stderr=r"would exceed --max-output-bytes",
                  wall=0.5))
    c.append(Case("100k-char str in 2,000 _codecs.encode calls, scan",
                  lambda: gen_encode_of_one_str(100000, 2000),
                  command=SCAN, wall=2.0))

    # -- many values
    c.append(Case("5M MEMOIZE of one value", lambda: gen_memoize(5 * N),
                  check=expect_root(b"null", proto_n=4)))
    c.append(Case("1M int keys by SETITEMS", lambda: gen_int_keys(N),
                  check=expect_root(b"{\"$dict\":[" + b",".join(
                      b"[%d,null]" % i for i in range(N)) + b"]}",
                      3, 2)))
    c.append(Case("100k dicts diverging at the shape limit",
                  lambda: gen_shape_divergence(N // 10),
                  check=expect_root(b"null", proto_n=2)))
    c.append(Case("3M nested one-key dicts sized by a guess",
                  lambda: gen_sized_by_guess(N // 10),
                  check=expect_root(b"null", proto_n=2)))
    c.append(Case("2M dicts keyed by a fresh tuple",
                  lambda: gen_tuple_key_dicts(2 * N),
                  check=expect_root(b"null", proto_n=2)))
    c.append(Case("5M EMPTY_LIST+POP", lambda: gen_push_pop(5 * N),
                  check=expect_root(b"null", proto_n=2)))
    c.append(Case("5M EMPTY_LIST under MARK, LIST",
                  lambda: gen_mark_many(5 * N),
                  check=expect_root(b"[" + b",".join([b"[]"] * (5 * N)) + b"]",
                                    2, 2)))

    # -- the system refusing memory (ulimit -v): a clean error, exit 2,
    # nothing on stdout -- never an abort on std::bad_alloc
    c.append(Case("12M EMPTY_LIST+APPEND, 512 MiB of address space",
                  lambda: proto(4) + EMPTY_LIST + (EMPTY_LIST + APPEND) *
                  (12 * N) + STOP, status=2,
                  stderr=r"out of memory: the system refused the graph",
                  as_limit=512 * MIB))
    c.append(Case("30M MEMOIZE, 192 MiB of address space",
                  lambda: proto(4) + NONE + MEMOIZE * (30 * N) + STOP,
                  status=2, stderr=r"out of memory for the memo",
                  as_limit=192 * MIB))

    # -- big ints
    c.append(Case("LONG4 of 10 MiB", lambda: gen_long4(10 * MIB), status=2,
                  stderr=r"--max-int-digits", wall=1.0,
                  rss_limit=lambda n: B_MIB * MIB,
                  rss_note="B: the operand is not converted"))
    c.append(Case("LONG1 of 255 bytes", gen_long1(255),
                  check=expect_json_root(
                      expect_int(str(int.from_bytes(b"\x7f" * 255, "little"))),
                      2), wall=1.0))
    c.append(Case("INT of 5000 digits (proto 0)", gen_int_text(5000),
                  status=2, stderr=r"--max-int-digits", wall=1.0))
    c.append(Case("LONG of 5000 digits (proto 0)", gen_long_text(5000),
                  status=2, stderr=r"--max-int-digits", wall=1.0))
    for opname, op in (("LONG", LONG), ("INT", INT)):
        c.append(Case("%s 0x + 250k hex digits (proto 0)" % opname,
                      gen_radix_text(op, b"0x", b"f", 250_000), status=2,
                      stderr=r"--max-int-digits", wall=1.0))
    c.append(Case("LONG 0b + 500k binary digits (proto 0)",
                  gen_radix_text(LONG, b"0b", b"1", 500_000), status=2,
                  stderr=r"--max-int-digits", wall=1.0))
    c.append(Case("INT of 4300 digits (proto 0)", gen_int_text(4300),
                  check=expect_json_root(expect_int("1" * 4300), None),
                  wall=1.0))
    # (An int that fits in int64 is exempt from --max-int-digits, as from
    # CPython's limit, whose floor is 640 digits: so 21 digits, not 11.)
    c.append(Case("INT of 21 digits, --max-int-digits 20", gen_int_text(21),
                  ["--max-int-digits", "20"], status=2,
                  stderr=r"--max-int-digits", wall=1.0))
    c.append(Case("INT of 20 digits, --max-int-digits 20", gen_int_text(20),
                  ["--max-int-digits", "20"],
                  check=expect_json_root(expect_int("1" * 20), None),
                  wall=1.0))
    c.append(Case("1000 INTs of 4300 digits (proto 0)",
                  lambda: gen_many_big_ints(1000, 4300),
                  check=expect_json_root(
                      lambda r, o, n: None if r == [{"$int": "7" * 4300}] * 1000
                      else "not 1000 x 77...7", None)))
    # 10 MB of them: a decimal text is kept as its digits (one multiply per
    # digit into binary and a division back took 2.2 s; CPython 0.2 s).
    c.append(Case("2300 INTs of 4300 digits (proto 0), 10 MB",
                  lambda: gen_many_big_ints(2300, 4300),
                  check=expect_json_root(
                      lambda r, o, n: None if r == [{"$int": "7" * 4300}] * 2300
                      else "not 2300 x 77...7", None), wall=0.5))

    # -- each limit flag, just over and just at
    c.append(Case("--max-stack 10, 11 items", gen_stack(10),
                  ["--max-stack", "10"], status=2, stderr=r"--max-stack",
                  wall=1.0))
    c.append(Case("--max-stack 10, MARK + 9 items", gen_stack(9),
                  ["--max-stack", "10"],
                  check=expect_root(b'{"$tuple":[' + b",".join([b"null"] * 9)
                                    + b"]}", proto_n=2), wall=1.0))
    c.append(Case("--max-memo 5, 6 entries", gen_memo(6),
                  ["--max-memo", "5"], status=2, stderr=r"--max-memo",
                  wall=1.0))
    c.append(Case("--max-memo 5, 5 entries", gen_memo(5),
                  ["--max-memo", "5"], check=expect_root(b"null", proto_n=2),
                  wall=1.0))
    c.append(Case("--max-nodes 10, 11 nodes", gen_nodes(11),
                  ["--max-nodes", "10"], status=2, stderr=r"--max-nodes",
                  wall=1.0))
    c.append(Case("--max-nodes 10, 10 nodes", gen_nodes(10),
                  ["--max-nodes", "10"],
                  check=expect_root(b"[" + b",".join([b"[]"] * 9) + b"]",
                                    proto_n=2), wall=1.0))
    c.append(Case("--max-input-bytes 100, 1000-byte input",
                  gen_nested_list_p2(499), ["--max-input-bytes", "100"],
                  status=2, stderr=r"--max-input-bytes", wall=1.0))

    # -- compressed files: 90 bytes to 134 KB that decompress to 64 MiB of
    # stream each.  The graph's budget (--max-graph-bytes) derives from the
    # file's size, not the stream's (103 bytes of bz2 took 4.3 GB before).
    budget_msg = (r"graph memory exceeds --max-graph-bytes|"
                  r"exceeds \d+ items, what --max-graph-bytes \(\d+\) allows")
    runs = [("dicts", codec) for codec in CODECS]
    runs += [(kind, "zlib") for kind in ("nones", "lists", "memoize",
                                         "appends")]
    for kind, codec in runs:
        c.append(Case("compressed: 64 MiB of %s (%s)" % (kind, codec),
                      lambda kind=kind, codec=codec: gen_compressed(kind,
                                                                    codec),
                      status=2, stderr=budget_msg, wall=2.0,
                      bound=compressed_bound(COMPRESSED_STREAM)))
    c.append(Case("compressed: 64 MiB of dicts, scan",
                  lambda: gen_compressed("dicts", "zlib"), command=SCAN,
                  status=2, wall=2.0,
                  bound=compressed_bound(COMPRESSED_STREAM)))
    # Record mode's log counts against the graph's budget.
    for command, label in ((SCAN, "scan"), (("trace",), "trace"),
                           (("trace", "--format", "json"), "trace json"),
                           (("scan", "--format", "sarif"), "scan sarif")):
        for plant in (False, True):
            stream = 3 * 20000000 + 400
            c.append(Case("compressed: 20M BUILDs of one object%s, %s" % (
                              " (planted __setstate__)" if plant else "",
                              label),
                          lambda plant=plant: compressed_builds(plant),
                          command=command, status=1, wall=3.0,
                          bound=compressed_bound(stream)))
    # What came before the budget ran out is still reported: scan's
    # verdict (the global named) and trace's calls with their arguments.
    def system_then(body):
        return zlib.compress(proto(2) + b"cos\nsystem\n" + body, 9)
    lists = (MARK + NONE * 3000000 + LIST + POP) * 3 + NONE + STOP
    c.append(Case("compressed: os.system named, then 27 MiB of lists, scan",
                  lambda: system_then(POP + lists), command=SCAN, status=1,
                  check=lambda out, n: None if b'"os:system"' in out
                  else "no os:system finding: %r" % out[:200],
                  bound=compressed_bound(len(lists) + 32)))
    dicts = (EMPTY_DICT + POP) * 3000000 + NONE + STOP
    c.append(Case("compressed: os.system call, then 6M dicts, trace json",
                  lambda: system_then(binunicode("echo pwned") + TUPLE1 +
                                      b"R" + POP + dicts),
                  command=("trace", "--format", "json"), status=1,
                  check=lambda out, n: None
                  if b'"args":["echo pwned"]' in out
                  else "the call's arguments are lost: %r" % out[:300],
                  bound=compressed_bound(len(dicts) + 64)))
    # A compressed list of 1M small ints (2 MB of stream, 3 KB of zlib)
    # loads.  One of 4M (8 MB, 13 KB) needs about 70 MB of graph (its
    # array, and the ones it outgrew), past the default for a file that
    # small: it loads once --max-graph-bytes is raised (README).
    def sevens(count):
        return expect_json_root(
            lambda root, out, n: None if root == [7] * count
            else "not the %d sevens" % count, 2)
    c.append(Case("compressed: list of 1M small ints loads",
                  lambda: gen_compressed_ints(MILLION), check=sevens(MILLION),
                  bound=compressed_bound(2 * MILLION + 16)))
    c.append(Case("compressed: list of 4M small ints, default budget",
                  lambda: gen_compressed_ints(4 * MILLION), status=2,
                  stderr=budget_msg,
                  bound=compressed_bound(8 * MILLION + 16)))
    c.append(Case("compressed: list of 4M small ints, --max-graph-bytes 2e8",
                  lambda: gen_compressed_ints(4 * MILLION),
                  ["--max-graph-bytes", "200000000"],
                  check=sevens(4 * MILLION),
                  bound=lambda n: 8 * MILLION + 2 * 200000000 + B_MIB * MIB))
    return c


# ---- running ------------------------------------------------------------------
def limit_child(as_limit=CHILD_AS_LIMIT):
    resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_case(picklevm, case, tmp):
    data = case.data() if callable(case.data) else case.data
    path = os.path.join(tmp, "in.pkl")
    with open(path, "wb") as f:
        f.write(data)
    del data
    n = os.path.getsize(path)
    out_path = os.path.join(tmp, "out.json")
    time_path = os.path.join(tmp, "time.txt")
    res = {"input": n, "rss": None, "wall": None, "out": None, "errors": []}
    err = res["errors"]
    # "{dir}" in a flag: a fresh directory (load --arrays DIR).
    arrays_dir = os.path.join(tmp, "arrays")
    if any("{dir}" in a for a in case.args):
        os.mkdir(arrays_dir)
    args = [a.replace("{dir}", arrays_dir) for a in case.args]
    cmd = ([TIME, "-v", "-o", time_path, picklevm] + case.command + [path] +
           args)
    kill_after = min(HARD_TIMEOUT, max(10.0, 3 * case.wall))
    with open(out_path, "wb") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE,
                                preexec_fn=lambda: limit_child(case.as_limit),
                                start_new_session=True)
        try:
            _, stderr = proc.communicate(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, stderr = proc.communicate()
            err.append("killed after %.0f s (hang)" % kill_after)
        res["wall"] = time.monotonic() - t0
    if err:  # hung and killed: nothing else to check
        res["status"] = "kill"
        for p in (path, out_path, time_path):
            if os.path.exists(p):
                os.unlink(p)
        return res
    with open(time_path, errors="replace") as f:
        tv = f.read()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv)
    if m:
        res["rss"] = int(m.group(1)) * 1024
    else:
        err.append("no RSS from time -v")
    sig = re.search(r"Command terminated by signal (\d+)", tv)
    m = re.search(r"Exit status: (\d+)", tv)
    status = int(m.group(1)) if m else proc.returncode
    stderr = stderr.decode("utf-8", "replace")
    res["status"] = status
    res["stderr"] = stderr.strip()
    if sig:
        res["status"] = "sig%s" % sig.group(1)
        err.append("killed by signal %s" % sig.group(1))
    elif status != case.status:
        err.append("exit %d, expected %d" % (status, case.status))
    lines = stderr.splitlines()
    if case.status == 0:
        if status == 0 and lines:
            err.append("unexpected stderr %r" % stderr[:200])
    elif case.stderr is not None and not sig:
        if len(lines) != 1:
            err.append("stderr has %d lines, expected 1: %r" %
                       (len(lines), stderr[:200]))
        if not re.search(case.stderr, stderr):
            err.append("stderr %r does not match /%s/" %
                       (stderr[:200], case.stderr))
    res["out"] = os.path.getsize(out_path)
    # (scan and trace report on stdout whatever their exit status.)
    if (case.command[0] == "load" and status != 0 and not sig and
            res["out"] != 0):
        # A refused or failed load writes nothing half-done.
        err.append("%d bytes on stdout from a failed load" % res["out"])
    # The check runs whatever the expected status (a cut trace exits 1 or
    # 2 and its output is what is checked), once the status is right.
    if case.check is not None and not sig and not err:
        with open(out_path, "rb") as f:
            out = f.read()
        try:
            problem = case.check(out, n)
        except (ValueError, KeyError, TypeError, IndexError,
                AttributeError) as e:
            problem = "output check raised %s: %s" % (type(e).__name__, e)
        del out
        if problem:
            err.append(problem)
    if res["wall"] > case.wall:
        err.append("wall %.2f s > %.1f s" % (res["wall"], case.wall))
    if res["rss"] is not None:
        b = case.bound(n)
        if res["rss"] > b:
            err.append("RSS %.1f MiB > bound %.1f MiB" % (res["rss"] / MIB,
                                                           b / MIB))
        if case.rss_limit is not None and res["rss"] > case.rss_limit(n):
            err.append("RSS %.1f MiB > %.1f MiB (%s)" % (
                res["rss"] / MIB, case.rss_limit(n) / MIB, case.rss_note))
    for p in (path, out_path, time_path):
        if os.path.exists(p):
            os.unlink(p)
    shutil.rmtree(arrays_dir, ignore_errors=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--picklevm", default=os.path.join(REPO, "build",
                                                       "picklevm"))
    ap.add_argument("-k", dest="filter", default=None,
                    help="only the cases whose name contains this")
    args = ap.parse_args()
    picklevm = os.path.abspath(args.picklevm)
    if not os.access(picklevm, os.X_OK):
        print("run_memory: %s is not executable (ninja -C build)" % picklevm,
              file=sys.stderr)
        return 2
    if not os.access(TIME, os.X_OK):
        print("run_memory: %s is missing (apt-get install time)" % TIME,
              file=sys.stderr)
        return 2
    print("bound: peak RSS <= %d x input + %d MiB; wall <= %.0f s "
          "(less where shown)" % (A, B_MIB, MAX_WALL))
    print("%-52s %5s %10s %8s %9s %9s %6s  %s" % (
        "case", "exit", "input", "wall s", "rss MiB", "bound", "A-eff",
        "result"))
    passed = failed = 0
    failures = []
    tmp = tempfile.mkdtemp(prefix="picklevm-memory-")
    try:
        # Run a copy, so that a rebuild during the run cannot change (or
        # briefly remove) the binary under test.
        snap = os.path.join(tmp, "picklevm")
        shutil.copy2(picklevm, snap)
        picklevm = snap
        for case in cases():
            if args.filter and args.filter not in case.name:
                continue
            res = run_case(picklevm, case, tmp)
            n = res["input"]
            rss = res["rss"] or 0
            b = case.bound(n)
            if case.rss_limit is not None:
                b = min(b, case.rss_limit(n))
            # Effective slope above the fixed overhead, for choosing A.
            slope = ("%6.1f" % (max(0, rss - BASELINE_MIB * MIB) / n)
                     if n >= 64 * 1024 else "     -")
            ok = not res["errors"]
            print("%-52s %5s %10d %8.2f %9.1f %9.1f %6s  %s" % (
                case.name[:52], res.get("status"), n, res["wall"],
                rss / MIB, b / MIB, slope,
                "ok" if ok else "FAIL: " + "; ".join(res["errors"])),
                flush=True)
            if ok:
                passed += 1
            else:
                failed += 1
                failures.append(case.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("memory: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
