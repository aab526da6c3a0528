#!/usr/bin/python3
"""picklevm on a joblib file holding one 2 GiB float64 array of zeros.

    /usr/bin/python3 tests/joblib/big_array.py --picklevm build/picklevm
        [--dir DIR] [--keep]

Writes, at test time and without allocating 2 GiB, the file joblib.dump
would write for ``numpy.zeros(2**28)`` (float64, 2 GiB): the pickle header
with joblib's NumpyArrayWrapper written by hand (``header_bytes``, the
layout of a small joblib.dump file: PROTO 4, one FRAME holding the
wrapper's NEWOBJ and BUILD with its state dict -- subclass, shape, order,
dtype, allow_mmap, numpy_array_alignment_bytes=16), the padding-length
byte and 0xff padding up to a 16-byte boundary, then the 2 GiB of data as a
sparse hole (seek to the last data byte, write one zero byte), then STOP.
Before that, the hand-written header is checked byte for byte against
joblib.dump of small zero arrays (shapes whose lengths pickle as BININT1,
BININT2 and BININT).

Then:

* ``picklevm scan FILE`` under ``/usr/bin/time -v``: exit 0 (clean) and
  peak RSS under 64 MiB -- scan must not touch the array's pages;
* ``picklevm load FILE`` under ``/usr/bin/time -v``: exit 0, the array's
  ``data.sha256`` is the SHA-256 of 2 GiB of zero bytes (computed here by
  streaming), dtype ``<f8``, shape ``[268435456]``; its wall time and peak
  RSS are reported (load hashes the 2 GiB, so it reads the pages).

The file is removed at the end (``--keep`` keeps it).  Prints
``big_array: N passed, M failed``; exits 1 on failure.
"""

import os
import sys

PY = "/usr/bin/python3"
if os.path.realpath(sys.executable) != os.path.realpath(PY):
    os.execv(PY, [PY, "-s", os.path.abspath(__file__)] + sys.argv[1:])

sys.dont_write_bytecode = True

import argparse        # noqa: E402
import hashlib         # noqa: E402
import json            # noqa: E402
import re              # noqa: E402
import struct          # noqa: E402
import subprocess      # noqa: E402
import tempfile        # noqa: E402
import time            # noqa: E402

NBYTES = 2 << 30                    # 2 GiB
COUNT = NBYTES // 8                 # float64 elements
MAX_SCAN_RSS_KB = 64 * 1024
ALIGN = 16


# ---------------------------------------------------------------------------
# the joblib header, by hand

def _str(s):
    b = s.encode("utf-8")
    assert len(b) < 256
    return b"\x8c" + bytes([len(b)]) + b       # SHORT_BINUNICODE


MEMOIZE = b"\x94"


def _int(n):
    if 0 <= n < 256:
        return b"K" + bytes([n])                # BININT1
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)      # BININT2
    return b"J" + struct.pack("<i", n)          # BININT


def _binget(i):
    return b"h" + bytes([i])


def header_bytes(shape, order="C"):
    """The bytes joblib.dump (protocol 4) writes for a float64 ndarray of
    `shape`, up to and including the wrapper's BUILD (the padding and data
    follow).  The memo indices are the ones Python's pickler assigns."""
    assert all(0 <= d < 2 ** 31 for d in shape) and 1 <= len(shape) <= 3
    body = b"".join([
        _str("joblib.numpy_pickle"), MEMOIZE,             # memo 0
        _str("NumpyArrayWrapper"), MEMOIZE,               # memo 1
        b"\x93", MEMOIZE,                                 # STACK_GLOBAL, 2
        b")", b"\x81", MEMOIZE,                           # NEWOBJ, 3
        b"}", MEMOIZE, b"(",                              # state dict, 4
        _str("subclass"), MEMOIZE,                        # 5
        _str("numpy"), MEMOIZE,                           # 6
        _str("ndarray"), MEMOIZE,                         # 7
        b"\x93", MEMOIZE,                                 # numpy.ndarray, 8
        _str("shape"), MEMOIZE,                           # 9
        b"".join(_int(d) for d in shape),
        {1: b"\x85", 2: b"\x86", 3: b"\x87"}[len(shape)], MEMOIZE,   # 10
        _str("order"), MEMOIZE,                           # 11
        _str(order), MEMOIZE,                             # 12
        _str("dtype"), MEMOIZE,                           # 13
        _binget(6), _binget(13), b"\x93", MEMOIZE,        # numpy.dtype, 14
        _str("f8"), MEMOIZE,                              # 15
        b"\x89", b"\x88", b"\x87", MEMOIZE,               # (f8, False, True)
        b"R", MEMOIZE,                                    # dtype('f8'), 17
        b"(", _int(3), _str("<"), MEMOIZE,                # state, '<' 18
        b"N", b"N", b"N",
        b"J" + struct.pack("<i", -1), b"J" + struct.pack("<i", -1),
        _int(0), b"t", MEMOIZE, b"b",                     # BUILD the dtype
        _str("allow_mmap"), MEMOIZE, b"\x88",
        _str("numpy_array_alignment_bytes"), MEMOIZE, _int(ALIGN),
        b"u", b"b",                                       # SETITEMS, BUILD
    ])
    return b"\x80\x04" + b"\x95" + struct.pack("<Q", len(body)) + body


def padding_after(header_len):
    pos = header_len + 1
    pad = ALIGN - pos % ALIGN
    return bytes([pad]) + b"\xff" * pad


def verify_header(tmp):
    """The hand-written layout is joblib's: compare with joblib.dump."""
    import joblib
    import numpy as np
    for shape in ((4,), (300,), (70000,), (3, 5)):
        path = os.path.join(tmp, "small.joblib")
        joblib.dump(np.zeros(shape), path)
        with open(path, "rb") as f:
            real = f.read()
        os.unlink(path)
        h = header_bytes(shape)
        mine = h + padding_after(len(h)) + bytes(8 * int(np.prod(shape))) \
            + b"."
        if mine != real:
            return "hand-written joblib file for shape %s differs from " \
                   "joblib.dump's (first difference at byte %d)" % (
                       shape, next(i for i, (a, b) in
                                   enumerate(zip(mine + b"?", real + b"!"))
                                   if a != b))
    return None


def write_big(path):
    h = header_bytes((COUNT,))
    pad = padding_after(len(h))
    with open(path, "wb") as f:
        f.write(h + pad)
        start = f.tell()
        f.seek(start + NBYTES - 1)
        f.write(b"\0")                  # everything before it is a hole
        f.write(b".")                   # STOP
    return start


def zeros_sha256(n):
    h = hashlib.sha256()
    chunk = bytes(1 << 20)
    while n > 0:
        k = min(n, len(chunk))
        h.update(chunk if k == len(chunk) else chunk[:k])
        n -= k
    return h.hexdigest()


def timed(cmd, timeout):
    """(exit status, stdout, stderr, wall seconds, peak RSS in KiB) under
    /usr/bin/time -v."""
    with tempfile.NamedTemporaryFile(prefix="time.", suffix=".txt") as tf:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", tf.name] + cmd,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        wall = time.monotonic() - t0
        report = open(tf.name, encoding="utf-8", errors="replace").read()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    rss = int(m.group(1)) if m else -1
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"), \
        wall, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--picklevm", required=True)
    ap.add_argument("--dir", default=None,
                    help="where to write the 2 GiB sparse file (default: "
                         "a temp dir)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    picklevm = os.path.abspath(args.picklevm)
    passed, failed = 0, []

    def check(ok, what):
        nonlocal passed
        if ok:
            passed += 1
            print("ok   " + what)
        else:
            failed.append(what)
            print("FAIL " + what)

    with tempfile.TemporaryDirectory(prefix="big_array.", dir=args.dir) as tmp:
        msg = verify_header(tmp)
        check(msg is None, msg or "hand-written joblib header equals "
                                  "joblib.dump's for small arrays")
        path = os.path.join(tmp, "zeros_2gib.joblib")
        start = write_big(path)
        st = os.stat(path)
        check(st.st_blocks * 512 < 64 << 20,
              "the file is sparse: %d bytes, %d bytes allocated (data at "
              "offset %d)" % (st.st_size, st.st_blocks * 512, start))
        want_sha = zeros_sha256(NBYTES)
        try:
            # scan: must not touch the array pages
            rc, out, err, wall, rss = timed([picklevm, "scan", path], 600)
            check(rc == 0 and out.decode().startswith("clean "),
                  "scan exit %d: %s %s" % (rc, out.decode().strip(),
                                           err.strip()))
            check(0 <= rss < MAX_SCAN_RSS_KB,
                  "scan peak RSS %.1f MiB (limit 64 MiB), %.2f s"
                  % (rss / 1024, wall))
            # load: hashes the 2 GiB
            rc, out, err, wall, rss = timed([picklevm, "load", path], 600)
            body = None
            if rc == 0:
                try:
                    body = json.loads(out)["root"]["$ndarray"]
                except Exception:
                    body = None
            check(rc == 0 and body is not None,
                  "load exit %d%s" % (rc, (": " + err.strip()) if err else ""))
            if body is not None:
                check(body.get("dtype") == "<f8"
                      and body.get("shape") == [COUNT]
                      and body.get("order") == "C"
                      and body.get("data", {}).get("nbytes") == NBYTES,
                      "load: dtype %s shape %s nbytes %s" % (
                          body.get("dtype"), body.get("shape"),
                          body.get("data", {}).get("nbytes")))
                check(body.get("data", {}).get("sha256") == want_sha,
                      "load: sha256 %s, SHA-256 of 2 GiB of zeros is %s"
                      % (body.get("data", {}).get("sha256"), want_sha))
            print("load: %.2f s wall, peak RSS %.1f MiB" % (wall, rss / 1024))
        finally:
            if args.keep:
                print("kept " + path)
                os.rename(path, os.path.join(args.dir or "/tmp",
                                             "zeros_2gib.joblib"))
            elif os.path.exists(path):
                os.unlink(path)
    print("big_array: %d passed, %d failed" % (passed, len(failed)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
