#!/usr/bin/python3
"""Check picklevm on the joblib fixtures and on malformed joblib files.

    /usr/bin/python3 tests/joblib/run_joblib.py --picklevm build/picklevm
        [-k SUBSTRING] [-j JOBS] [--timeout S] [--no-malformed] [--no-bombs]

For every ``tests/joblib/files/*.joblib`` (made by gen_joblib.py):

* ``picklevm load FILE`` exits 0 and prints a ``picklevm-graph/1`` document
  whose ``root`` equals ``<name>.expected.json`` (compared exactly as
  tests/fixtures/run_fixtures.py does: key order kept, ints by their text,
  floats by their exact decimal value), whose ``source`` gives the file's
  size and sha256 and the right ``container`` (``joblib``, ``joblib+<codec>``,
  or ``pickle`` for an object without arrays), ``protocol`` 4 and no
  warnings;
* ``picklevm scan FILE`` says ``clean`` (exit 0);
* ``picklevm dis FILE`` exits 0 and shows each inline array as one line
  ``<offset>: <joblib array data: N bytes ...>`` at the offset of its
  padding byte (or data), with N its size, and each object array as a
  nested pickle, in stream order (regions from refjoblib.py);
* for the files in ARRAY_DIR_FILES, ``picklevm load FILE --arrays DIR``
  writes one .npy file per non-object array (``data.file``), which
  ``numpy.load(path, allow_pickle=False)`` reads back with the expected
  dtype (the stored byte order; numpy's .npy cannot keep a struct's
  ``aligned`` flag, which is ignored), shape, order and bytes (sha256 of
  ``tobytes(order)``; gen_joblib.py checked those against the real
  arrays).

Then malformed variants, made at run time in a temp dir (never committed):
truncations at every region boundary (inside the opcodes, at the padding
byte, inside the padding, at / inside / at the end of the array data,
inside a nested object-array pickle, right before the final STOP) and at
seeded random points; a wrong padding-length byte and non-0xff padding
bytes; wrappers whose shape disagrees with the bytes left (one more, one
less, zero, 2**31-1, an overflowing product, negative); compressed files
cut short and with junk after the compressed stream; decompression bombs
of 1 GiB of zeros (plain zeros, and a joblib array header followed by
zeros) for zlib, gzip, bz2, lzma, xz and lz4, compressed chunk by chunk
(never 1 GiB in memory).  Each must make ``picklevm load`` exit 2 with one
line on stderr naming an offset or the limit, within 2 s, and ``picklevm
scan`` give the verdict ``error`` (exit 2); the bombs in under 100 MB of
RSS (the default --max-decompressed-bytes is 100x the
input, at least 64 MiB).

Prints ``joblib: N passed, M failed`` and every failure; exits 1 if
anything failed.
"""

import os
import sys

PY = "/usr/bin/python3"
if os.path.realpath(sys.executable) != os.path.realpath(PY):
    os.execv(PY, [PY, "-s", os.path.abspath(__file__)] + sys.argv[1:])

sys.dont_write_bytecode = True

import argparse                      # noqa: E402
import bz2                           # noqa: E402
import concurrent.futures            # noqa: E402
import glob                          # noqa: E402
import hashlib                       # noqa: E402
import json                          # noqa: E402
import lzma                          # noqa: E402
import pickletools                   # noqa: E402
import random                        # noqa: E402
import re                            # noqa: E402
import shutil                        # noqa: E402
import struct                        # noqa: E402
import subprocess                    # noqa: E402
import tempfile                      # noqa: E402
import threading                     # noqa: E402
import time                          # noqa: E402
import zlib                          # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, "files")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import refjoblib                     # noqa: E402
import run_fixtures                  # noqa: E402  (parse, first_diff, Num)

CODECS = refjoblib.CODECS
VARIANT_SUFFIXES = ("unaligned", "joblib11", "p0", "p1", "p2", "p3", "p5")

# load --arrays DIR on these
ARRAY_DIR_FILES = [
    "numpy_big_endian.joblib", "numpy_fortran_2d.joblib",
    "numpy_fortran_3d.joblib", "numpy_zero_d.joblib", "numpy_empty.joblib",
    "numpy_structured_aligned.joblib", "numpy_structured_nested.joblib",
    "numpy_structured_titled.joblib", "numpy_subarray_fields.joblib",
    "numpy_datetime.joblib", "numpy_strings.joblib", "numpy_matrix.joblib",
    "numpy_object.joblib", "numpy_longdouble.joblib",
    "numpy_shared_array.joblib", "kneighbors_kd_tree.joblib",
    "pipeline.lz4.joblib", "numpy_fortran_2d.unaligned.joblib",
]

# malformed variants are cut from these (uncompressed) files
MALFORMED_BASES = [
    "numpy_fortran_2d.joblib",          # one F-order array
    "numpy_object.joblib",              # an object array: a nested pickle
    "numpy_structured_nested.joblib",   # one structured array
    "pipeline.joblib",                  # an estimator with many arrays
    "numpy_strings.unaligned.joblib",   # arrays without padding (None)
    "kneighbors_kd_tree.joblib11.joblib",  # no alignment attribute at all
]
COMPRESSED_BASE = "pipeline"            # pipeline.<codec>.joblib

GIB = 1 << 30
MAX_ERROR_SECONDS = 2.0
MAX_BOMB_RSS_KB = 100 * 1000


# ---------------------------------------------------------------------------
# running picklevm

class Run:
    __slots__ = ("rc", "out", "err", "wall", "rss_kb", "timed_out")


def run(cmd, timeout):
    """Run cmd; its exit status, stdout, stderr, wall time and peak RSS.
    The RSS comes from /usr/bin/time, not from wait4: Linux carries a
    process's high-water mark across fork+exec, so wait4 would report this
    (large) Python process's own peak for every child."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.NamedTemporaryFile("r") as ft:
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", ft.name] +
                             list(cmd), stdout=fo, stderr=fe,
                             stdin=subprocess.DEVNULL)
        killed = []

        def kill():
            killed.append(True)
            p.kill()
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        r = Run()
        r.wall = time.monotonic() - t0
        r.rc = p.returncode
        try:
            r.rss_kb = int(open(ft.name).read().split()[-1])
        except (ValueError, IndexError):
            r.rss_kb = ru.ru_maxrss
        r.timed_out = bool(killed)
        fo.seek(0)
        fe.seek(0)
        r.out = fo.read()
        r.err = fe.read().decode("utf-8", "replace")
        return r


def _err_lines(r):
    return [ln for ln in r.err.splitlines() if ln.strip()]


# ---------------------------------------------------------------------------
# the fixtures

def split_name(fn):
    """<name>[.<suffix>].joblib -> (name, suffix or None)."""
    base = fn[:-len(".joblib")]
    if "." in base:
        name, suffix = base.split(".", 1)
        if suffix not in CODECS + VARIANT_SUFFIXES:
            raise SystemExit("unexpected file name %s" % fn)
        return name, suffix
    return base, None


def reference(data):
    """(codec, decompressed bytes, JResult) for a joblib file's bytes."""
    codec, raw = refjoblib.decompress(data)
    return codec, raw, refjoblib.load_joblib(raw)


def _doc(r):
    return dict(run_fixtures.parse(r.out.decode("utf-8"))[1])


def _fields(x):
    return dict(x[1]) if isinstance(x, tuple) and x[:1] == ("{}",) else {}


def _num(n):
    return run_fixtures.Num(("int", str(n)), str(n))


def check_load(picklevm, path, data, codec, raw, res, want_text, timeout):
    r = run([picklevm, "load", path], timeout)
    if r.timed_out:
        return "load timed out after %ss" % timeout
    if r.rc != 0:
        return "load exit status %d: %s" % (r.rc, r.err.strip() or "(no stderr)")
    try:
        doc = _doc(r)
    except Exception as e:
        return "load output is not JSON: %s" % e
    d = run_fixtures.first_diff(doc.get("root"), run_fixtures.parse(want_text))
    if d:
        return "root differs: %s" % d
    src = _fields(doc.get("source"))
    proto = raw[1] if len(raw) >= 2 and raw[0] == 0x80 else None
    container = ("joblib+" + codec if codec
                 else "joblib" if res.regions else "pickle")
    checks = [
        (doc.get("format") == "picklevm-graph/1",
         "format %r" % (doc.get("format"),)),
        (src.get("bytes") == _num(len(data)),
         "source.bytes %r, file has %d" % (src.get("bytes"), len(data))),
        (src.get("sha256") == hashlib.sha256(data).hexdigest(),
         "source.sha256"),
        (src.get("container") == container,
         "source.container %r, expected %r" % (src.get("container"),
                                               container)),
        (doc.get("protocol") == (None if proto is None else _num(proto)),
         "protocol %r, stream has %r" % (doc.get("protocol"), proto)),
        (doc.get("warnings") == [], "warnings %r" % (doc.get("warnings"),)),
    ]
    for ok, msg in checks:
        if not ok:
            return msg
    return None


def check_scan(picklevm, path, timeout):
    r = run([picklevm, "scan", path], timeout)
    out = r.out.decode("utf-8", "replace").strip()
    if r.rc != 0 or not out.startswith("clean "):
        return "scan exit status %d: %s %s" % (r.rc, out, r.err.strip())
    return None


_DIS_ARRAY = re.compile(r"^\s*(\d+):\s*<joblib array data: (\d+) bytes")
_DIS_NESTED = re.compile(r"^\s*(\d+):\s*-+ joblib object array")


def check_dis(picklevm, path, res, timeout):
    r = run([picklevm, "dis", path], timeout)
    if r.rc != 0:
        return "dis exit status %d: %s" % (r.rc, r.err.strip())
    got = []
    for line in r.out.decode("utf-8", "replace").splitlines():
        m = _DIS_ARRAY.match(line)
        if m:
            got.append(("raw", int(m.group(1)), int(m.group(2))))
        elif "joblib array data" in line:
            return "dis: unexpected array line %r" % line
        m = _DIS_NESTED.match(line)
        if m:
            got.append(("object", int(m.group(1)), None))
    want = []
    for reg in res.regions:
        if reg.kind == "raw":
            start = reg.pad_byte if reg.pad_byte is not None else reg.data_start
            want.append(("raw", start, reg.nbytes))
        else:
            want.append(("object", reg.data_start, None))
    if got != want:
        return "dis shows arrays %s, expected %s" % (got[:6], want[:6])
    return None


def _strip_aligned(desc):
    if isinstance(desc, dict):
        return {k: _strip_aligned(v) for k, v in desc.items() if k != "aligned"}
    if isinstance(desc, list):
        return [_strip_aligned(v) for v in desc]
    return desc


def _arrays_in(x, out):
    """Every $ndarray body with a data.file in a parsed (json.loads) doc."""
    if isinstance(x, dict):
        if "$ndarray" in x and len(x) == 1:
            body = x["$ndarray"]
            if "data" in body:
                out.append(body)
            for v in body.get("items", []):
                _arrays_in(v, out)
            return
        for v in x.values():
            _arrays_in(v, out)
    elif isinstance(x, list):
        for v in x:
            _arrays_in(v, out)


def real_desc(dt):
    """The <dtype> of graph-json.md for a real numpy dtype (as
    gen_fixtures.real_desc, which cannot be imported here: importing
    gen_fixtures re-executes it)."""
    if dt.subdtype is not None and dt.names is None:
        base, shape = dt.subdtype
        return {"base": real_desc(base), "shape": list(shape)}
    if dt.names is not None:
        out = {"names": list(dt.names), "formats": [], "offsets": [],
               "itemsize": dt.itemsize}
        titles = []
        for n in dt.names:
            f = dt.fields[n]
            out["formats"].append(real_desc(f[0]))
            out["offsets"].append(f[1])
            titles.append(f[2] if len(f) > 2 else None)
        if dt.isalignedstruct:
            out["aligned"] = True
        if any(t is not None for t in titles):
            out["titles"] = titles
        return out
    return dt.str


def check_array_dir(picklevm, path, tmp, timeout):
    import numpy as np
    out_dir = tempfile.mkdtemp(prefix="arrays.", dir=tmp)
    r = run([picklevm, "load", path, "--arrays", out_dir], timeout)
    if r.rc != 0:
        return "load --arrays exit status %d: %s" % (r.rc, r.err.strip())
    doc = json.loads(r.out.decode("utf-8"))
    bodies = []
    _arrays_in(doc["root"], bodies)
    names = set()
    for body in bodies:
        fn = body["data"].get("file")
        if not fn:
            return "load --arrays: an array without data.file"
        names.add(fn)
        p = os.path.join(out_dir, fn)
        try:
            a = np.load(p, allow_pickle=False)
        except Exception as e:
            return "numpy.load(%s): %s" % (fn, e)
        if _strip_aligned(real_desc(a.dtype)) != _strip_aligned(body["dtype"]):
            return "%s: dtype %r, expected %r" % (fn, real_desc(a.dtype),
                                                  body["dtype"])
        if list(a.shape) != body["shape"]:
            return "%s: shape %r, expected %r" % (fn, a.shape, body["shape"])
        fortran = a.flags.f_contiguous and not a.flags.c_contiguous
        if ("F" if fortran else "C") != body["order"] and a.ndim > 1 \
                and a.size > 1:
            return "%s: order %s, expected %s" % (
                fn, "F" if fortran else "C", body["order"])
        raw = a.tobytes(order=body["order"])
        if len(raw) != body["data"]["nbytes"] or \
                hashlib.sha256(raw).hexdigest() != body["data"]["sha256"]:
            return "%s: bytes differ from the expected array's" % fn
    on_disk = set(os.listdir(out_dir))
    if on_disk != names:
        return "load --arrays wrote %s, the document names %s" % (
            sorted(on_disk), sorted(names))
    shutil.rmtree(out_dir)
    return None


def check_file(picklevm, path, tmp, timeout):
    """[failure messages] for one fixture file."""
    fn = os.path.basename(path)
    name, _ = split_name(fn)
    with open(path, "rb") as f:
        data = f.read()
    with open(os.path.join(FILES, name + ".expected.json"),
              encoding="utf-8") as f:
        want_text = f.read()
    codec, raw, res = reference(data)
    if run_fixtures.first_diff(run_fixtures.parse(json.dumps(res.root)),
                               run_fixtures.parse(want_text)):
        return ["%s: refjoblib's root differs from %s.expected.json "
                "(regenerate with gen_joblib.py)" % (fn, name)]
    fails = []
    for what, msg in (
            ("load", check_load(picklevm, path, data, codec, raw, res,
                                want_text, timeout)),
            ("scan", check_scan(picklevm, path, timeout)),
            ("dis", check_dis(picklevm, path, res, timeout))):
        if msg:
            fails.append("%s: %s: %s" % (fn, what, msg))
    if fn in ARRAY_DIR_FILES:
        msg = check_array_dir(picklevm, path, tmp, timeout)
        if msg:
            fails.append("%s: load --arrays DIR: %s" % (fn, msg))
    return fails


# ---------------------------------------------------------------------------
# malformed variants

def _shape_span(raw, reg):
    """(start, end, dims, frame_op_offset) of the shape value of the wrapper
    whose BUILD is at reg.build: the opcodes after the 'shape' key up to
    and including its TUPLE opcode (and its MEMOIZE)."""
    ops = list(pickletools.genops(raw[:reg.build + 1] + b"."))
    frame = None
    start = last_frame = end = dims = None
    for i, (op, arg, pos) in enumerate(ops):
        if op.name == "FRAME":
            frame = pos
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE") and arg == "shape":
            j = i + 1
            if ops[j][0].name == "MEMOIZE":
                j += 1
            start = ops[j][2]
            dims = []
            while ops[j][0].name in ("BININT1", "BININT2", "BININT"):
                dims.append(ops[j][1])
                j += 1
            if not ops[j][0].name.startswith("TUPLE"):
                raise SystemExit("shape is not a tuple of small ints")
            end = ops[j][2] + 1
            last_frame = frame
    if start is None:
        raise SystemExit("no 'shape' key before offset %d" % reg.build)
    return start, end, dims, last_frame


def _int_op(n):
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    if -2 ** 31 <= n < 2 ** 31:
        return b"J" + struct.pack("<i", n)
    return b"\x8a" + bytes([9]) + n.to_bytes(9, "little", signed=True)


def _tuple_op(k):
    return {0: b")", 1: b"\x85", 2: b"\x86", 3: b"\x87"}[k] if k <= 3 else None


def with_shape(raw, reg, dims):
    """raw with the wrapper's shape replaced by dims (frame length fixed,
    padding recomputed so that only the shape is wrong)."""
    start, end, _, frame = _shape_span(raw, reg)
    new = b"".join(_int_op(d) for d in dims)
    t = _tuple_op(len(dims))
    new = b"(" + new + b"t" if t is None else new + t
    delta = len(new) - (end - start)
    # the TUPLE's MEMOIZE (if any) follows at `end`: keep it
    out = bytearray(raw[:start] + new + raw[end:reg.build + 1])
    if frame is not None:
        n = struct.unpack_from("<Q", out, frame + 1)[0]
        struct.pack_into("<Q", out, frame + 1, n + delta)
    pos = len(out) + 1
    pad = 16 - pos % 16
    if reg.pad_byte is not None:
        out += bytes([pad]) + b"\xff" * pad
    out += raw[reg.data_start:]
    return bytes(out)


def truncation_points(raw, res, seed):
    pts = {0: "empty file", 1: "inside PROTO", 2: "after PROTO"}
    regs = res.regions[:3] + res.regions[-1:]
    if regs:
        pts[regs[0].build // 2] = "inside the pickle opcodes"
    for k, reg in enumerate(regs):
        tag = "array %d" % res.regions.index(reg)
        pts[reg.build] = tag + ": right before the wrapper's BUILD"
        if reg.kind == "object":
            s, e = reg.data_start, reg.data_end
            pts[s] = tag + ": before its nested pickle"
            pts[s + 1] = tag + ": inside the nested pickle's PROTO"
            pts[(s + e) // 2] = tag + ": inside the nested pickle"
            pts[e - 1] = tag + ": right before the nested pickle's STOP"
            continue
        if reg.pad_byte is not None:
            pts[reg.pad_byte] = tag + ": at the padding byte"
            pts[reg.pad_byte + 1] = tag + ": after the padding byte"
            if reg.pad_len >= 2:
                pts[reg.pad_byte + 1 + reg.pad_len // 2] = \
                    tag + ": inside the padding"
        pts[reg.data_start] = tag + ": at the start of the array data"
        if reg.nbytes:
            pts[reg.data_start + reg.nbytes // 2] = \
                tag + ": inside the array data"
            pts[reg.data_end - 1] = tag + ": one byte before the data's end"
    pts[res.stop] = "right before the final STOP"
    rng = random.Random(seed)
    for c in rng.sample(range(1, len(raw)), min(6, len(raw) - 1)):
        pts.setdefault(c, "random cut")
    return {c: w for c, w in sorted(pts.items()) if 0 <= c < len(raw)}


def malformed_cases(tmp, broken, skipped):
    """[(label, path, is_bomb)]; the variants of a base file in `broken`
    (which picklevm does not load intact) are skipped, as they would pass
    without proving anything."""
    cases = []

    def add(label, data, bomb=False, suffix=".joblib"):
        p = os.path.join(tmp, "m%04d%s" % (len(cases), suffix))
        with open(p, "wb") as f:
            f.write(data)
        cases.append((label, p, bomb))

    for k, fn in enumerate(MALFORMED_BASES):
        if fn in broken:
            skipped.append(fn)
            continue
        with open(os.path.join(FILES, fn), "rb") as f:
            raw = f.read()
        res = refjoblib.load_joblib(raw)
        for cut, why in truncation_points(raw, res, seed=k).items():
            add("%s cut at %d/%d (%s)" % (fn, cut, len(raw), why), raw[:cut])
        raws = [r for r in res.regions if r.kind == "raw"]
        padded = [r for r in raws if r.pad_byte is not None]
        if padded:
            reg = padded[0]
            pb = raw[reg.pad_byte]
            for bad in ((pb + 1) % 256, 0, (pb + 16) % 256):
                b = bytearray(raw)
                b[reg.pad_byte] = bad
                add("%s padding byte %d at %d, should be %d"
                    % (fn, bad, reg.pad_byte, pb), bytes(b))
            b = bytearray(raw)
            b[reg.pad_byte + 1] = 0x00
            add("%s padding byte at %d is 0x00, not 0xff"
                % (fn, reg.pad_byte + 1), bytes(b))
            b = bytearray(raw)
            b[reg.pad_byte + reg.pad_len] = 0xfe
            add("%s last padding byte at %d is 0xfe"
                % (fn, reg.pad_byte + reg.pad_len), bytes(b))
        if raws and fn in ("numpy_fortran_2d.joblib",
                           "numpy_structured_nested.joblib"):
            reg = raws[0]
            _, _, dims, _ = _shape_span(raw, reg)
            variants = [
                ("last dim + 1", dims[:-1] + [dims[-1] + 1]),
                ("last dim - 1", dims[:-1] + [dims[-1] - 1]),
                ("first dim 0", [0] + dims[1:]),
                ("dim 2**31-1", dims[:-1] + [2 ** 31 - 1]),
                ("product overflows 64 bits", [2 ** 31 - 1] * 3),
                ("a dim 2**64+1 (LONG1)", [2 ** 64 + 1]),
                ("negative dim", dims[:-1] + [-1]),
                ("one more dim", dims + [2]),
            ]
            for what, nd in variants:
                add("%s wrapper shape %s -> %s (%s) with %d data bytes"
                    % (fn, dims, nd, what, reg.nbytes),
                    with_shape(raw, reg, nd))
    # compressed files cut short / with junk after the stream
    for codec in CODECS:
        fn = "%s.%s.joblib" % (COMPRESSED_BASE, codec)
        with open(os.path.join(FILES, fn), "rb") as f:
            data = f.read()
        for cut in sorted({3, 12, len(data) // 2, len(data) - 4,
                           len(data) - 1}):
            add("%s cut at %d/%d" % (fn, cut, len(data)), data[:cut])
        add("%s + 16 bytes of junk after the compressed stream" % fn,
            data + b"JUNK" * 4)
        add("%s + 1 zero byte after the compressed stream" % fn,
            data + b"\0")
        if codec in ("zlib", "gzip", "bz2", "xz"):
            # (these carry a checksum; joblib's lz4 frames and lzma-alone
            # streams have none, so a flipped byte may go unnoticed)
            b = bytearray(data)
            b[len(b) // 2] ^= 0x55
            add("%s one byte flipped in the middle" % fn, bytes(b))
    return cases


def _bomb_streams():
    """(label, prefix): 1 GiB of zeros, with and without a pickle prefix."""
    import big_array
    header = big_array.header_bytes((GIB // 8,))
    pos = len(header) + 1
    pad = 16 - pos % 16
    return [("zeros", b""),
            ("joblib array header + zeros",
             header + bytes([pad]) + b"\xff" * pad)]


def write_bomb(path, codec, prefix, total=GIB):
    """Compress prefix + zeros up to `total` bytes, 1 MiB at a time."""
    import lz4.frame
    chunk = bytes(1 << 20)
    if codec == "zlib":
        c = zlib.compressobj(9)
    elif codec == "gzip":
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
    elif codec == "bz2":
        c = bz2.BZ2Compressor(9)
    elif codec == "xz":
        c = lzma.LZMACompressor(lzma.FORMAT_XZ, preset=3)
    elif codec == "lzma":
        c = lzma.LZMACompressor(lzma.FORMAT_ALONE, preset=3)
    else:
        c = lz4.frame.LZ4FrameCompressor(compression_level=0)
    with open(path, "wb") as f:
        if codec == "lz4":
            f.write(c.begin())
        f.write(c.compress(prefix))
        left = total - len(prefix)
        while left > 0:
            n = min(left, len(chunk))
            f.write(c.compress(chunk if n == len(chunk) else chunk[:n]))
            left -= n
        f.write(c.flush())


def bomb_cases(tmp, jobs):
    todo = []
    for k, (what, prefix) in enumerate(_bomb_streams()):
        for codec in CODECS:
            p = os.path.join(tmp, "bomb%d.%s.joblib" % (k, codec))
            todo.append((codec, what, prefix, p))
    # the compressors release the GIL: threads make this ~jobs times faster
    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as ex:
        list(ex.map(lambda t: write_bomb(t[3], t[0], t[2]), todo))
    return [("%s bomb: 1 GiB (%s) from %d bytes"
             % (codec, what, os.path.getsize(p)), p, True)
            for codec, what, _, p in todo]


_NAMES_OFFSET_OR_LIMIT = re.compile(
    r"offset \d+|\blimit\b|--max-|max[-_ ]decompressed|exceed", re.I)


def check_malformed(picklevm, label, path, bomb):
    r = run([picklevm, "load", path], 30)
    lines = _err_lines(r)
    problems = []
    if r.timed_out:
        problems.append("killed after 30 s")
    elif r.rc != 2:
        problems.append("exit status %d, expected 2" % r.rc)
    if len(lines) != 1:
        problems.append("%d stderr lines" % len(lines))
    elif not _NAMES_OFFSET_OR_LIMIT.search(lines[0]):
        problems.append("stderr names no offset or limit")
    if r.wall > MAX_ERROR_SECONDS:
        problems.append("took %.2f s" % r.wall)
    if bomb and r.rss_kb > MAX_BOMB_RSS_KB:
        problems.append("peak RSS %d MB" % (r.rss_kb // 1000))
    s = run([picklevm, "scan", path], 30)
    verdict = s.out.decode("utf-8", "replace").split(" ", 1)[0]
    if s.rc != 2 or verdict != "error":
        problems.append("scan exit status %d, verdict %r (expected 2, "
                        "error)" % (s.rc, verdict))
    if s.wall > MAX_ERROR_SECONDS:
        problems.append("scan took %.2f s" % s.wall)
    if bomb and s.rss_kb > MAX_BOMB_RSS_KB:
        problems.append("scan peak RSS %d MB" % (s.rss_kb // 1000))
    if problems:
        return "%s: %s (stderr: %s; %.2f s, %d MB)" % (
            label, ", ".join(problems), " | ".join(lines)[:300] or "-",
            r.wall, r.rss_kb // 1000)
    return None


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(
        description="check picklevm on the joblib fixtures")
    ap.add_argument("--picklevm", required=True)
    ap.add_argument("-k", dest="filter", default=None,
                    help="only fixture files whose name contains this")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--no-malformed", action="store_true")
    ap.add_argument("--no-bombs", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every malformed case with its outcome")
    args = ap.parse_args()
    picklevm = os.path.abspath(args.picklevm)
    if not os.access(picklevm, os.X_OK):
        ap.error("not an executable: %s" % args.picklevm)
    files = sorted(glob.glob(os.path.join(FILES, "*.joblib")))
    if args.filter:
        files = [f for f in files if args.filter in os.path.basename(f)]
    if not files:
        ap.error("no joblib files under %s (run gen_joblib.py)" % FILES)
    passed, failed = 0, []
    with tempfile.TemporaryDirectory(prefix="run_joblib.") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as ex:
            results = list(ex.map(
                lambda p: check_file(picklevm, p, tmp, args.timeout), files))
        for fails in results:
            if fails:
                failed += fails
            else:
                passed += 1
        if not args.no_malformed:
            broken = {os.path.basename(f) for f, fails in zip(files, results)
                      if any(": load: " in m for m in fails)}
            skipped = []
            cases = malformed_cases(tmp, broken, skipped)
            for fn in skipped:
                failed.append("malformed: the variants of %s are skipped: "
                              "picklevm does not load the intact file" % fn)
            if not args.no_bombs:
                cases += bomb_cases(tmp, args.jobs)
            for label, path, bomb in cases:
                msg = check_malformed(picklevm, label, path, bomb)
                if args.verbose:
                    print("%s %s" % ("FAIL" if msg else "ok  ", label))
                if msg:
                    failed.append("malformed: " + msg)
                else:
                    passed += 1
                os.unlink(path)
    print("joblib: %d passed, %d failed" % (passed, len(failed)))
    for m in failed:
        print("FAIL " + m)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
