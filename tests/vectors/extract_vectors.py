#!/usr/bin/python3
"""Extract CPython's raw unpickling test vectors and their record-mode verdicts.

    /usr/bin/python3 tests/vectors/extract_vectors.py [--out FILE] [--max-bytes N]
                                                      [--no-roundtrip] [--report]

Sources (all from /usr/lib/python3.11/test/pickletester.py, Python 3.11 has
DATA0..DATA4 -- there is no DATA5/DATA6 in this version):

* ``const:NAME``       every bytes constant of the module (DATA0..DATA4,
                       DATA_SET, DATA_XRANGE, DATA_COOKIE, DATA_SET2,
                       DATA_UEERR, exception_pickle, ...);
* ``unpickle:TEST[i]`` every byte string that a test method of
                       AbstractUnpickleTests feeds to ``loads`` or to
                       ``check_unpickling_error`` (the bad-stream tests);
                       methods skipped on 64-bit builds (``requires_32b``) are
                       run too, unwrapped;
* ``roundtrip:TEST[i]`` the pickles that a test of AbstractPickleTests
                       (pickled by the C pickler) feeds to ``loads``, unless
                       --no-roundtrip; at most --max-per-test of them per test
                       method, evenly spaced (test_bytes alone makes 3000).

The i-th ``loads``/``check_unpickling_error`` call of a test gets ``[i]``;
a call made with keyword arguments (``encoding=``, ``buffers=``) has them
appended as ``{encoding=bytes}`` -- the verdict below ignores them (picklevm
has no such options; it is CPython's default: ASCII/strict, no buffers).
Vectors are de-duplicated by content (the first name wins) and those longer
than --max-bytes are left out.

Verdict: CPython's C unpickler in record mode (record_ref.record_loads: stub
globals, recorded calls, real inert builders, persistent_load raises):
"accept" if load() returns, else "reject" with the exception type.

Output: a JSON list of {"name", "hex", "verdict", "error"}, one vector per
line, deterministic (the script re-executes itself under /usr/bin/python3
with PYTHONHASHSEED=0, since some round-trip pickles contain sets).
"""

import os
import sys

PY = "/usr/bin/python3"


def _reexec():
    want = os.path.realpath(PY)
    if (os.path.realpath(sys.executable) != want
            or os.environ.get("PYTHONHASHSEED") != "0"):
        env = dict(os.environ, PYTHONHASHSEED="0")
        for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
            env.pop(k, None)
        os.execve(PY, [PY, "-s", os.path.abspath(__file__)] + sys.argv[1:],
                  env)


_reexec()

import argparse          # noqa: E402
import contextlib        # noqa: E402
import inspect           # noqa: E402
import io                # noqa: E402
import json              # noqa: E402
import pickle            # noqa: E402
import unittest          # noqa: E402
import warnings          # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import record_ref        # noqa: E402

warnings.simplefilter("ignore")
from test import pickletester as pt   # noqa: E402
from test import support              # noqa: E402

support.verbose = 0

# test methods not run: they exercise threads/imports or randomness rather
# than streams, or only pickle (never unpickle)
SKIP_TESTS = {
    "test_unpickle_module_race",        # writes a module, threads
    "test_evil_class_mutating_dict",    # random.getrandbits: not deterministic
    "test_evil_pickler_mutating_collection",
    "test_structseq",                   # pickles time.localtime(), os.stat()
    "test_buffers_numpy",               # needs numpy (picklevm has numpy
                                        # builders the record model lacks)
}


class Collector:
    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self.vectors = []           # [name, data]
        self.seen = {}
        self.too_big = 0
        self.dupes = 0
        self.test = None
        self.index = 0
        self.test_errors = []
        self.thinned = 0

    def add(self, name, data):
        data = bytes(data)
        if data in self.seen:
            self.dupes += 1
            return
        if len(data) > self.max_bytes:
            self.too_big += 1
            return
        self.seen[data] = name
        self.vectors.append([name, data])

    def thin(self, prefix, k):
        """Keep at most k evenly spaced vectors of each test under prefix."""
        groups = {}
        for i, (name, _) in enumerate(self.vectors):
            if name.startswith(prefix):
                groups.setdefault(name.split("[")[0], []).append(i)
        drop = set()
        for idx in groups.values():
            n = len(idx)
            if n > k:
                keep = {idx[round(j * (n - 1) / (k - 1))] for j in range(k)}
                drop.update(set(idx) - keep)
        self.thinned = len(drop)
        self.vectors = [v for i, v in enumerate(self.vectors) if i not in drop]

    def record(self, prefix, data, kwargs=None):
        name = "%s:%s[%d]" % (prefix, self.test, self.index)
        self.index += 1
        if kwargs:
            name += "{%s}" % ",".join(
                "%s=%s" % (k, v if isinstance(v, str) else type(v).__name__)
                for k, v in sorted(kwargs.items()))
        self.add(name, data)


def make_unpickle_case(col):
    class Rec(pt.AbstractUnpickleTests, unittest.TestCase):
        bad_stack_errors = (Exception,)
        truncated_errors = (Exception,)

        def loads(self, buf, **kwds):
            col.record("unpickle", buf, kwds)
            return pickle.loads(buf, **kwds)

        def check_unpickling_error(self, errors, data):
            # the bad streams are only collected, never loaded here
            col.record("unpickle", data)

    return Rec


def make_roundtrip_case(col):
    class Rec(pt.AbstractPickleTests, unittest.TestCase):
        pickler = pickle.Pickler
        unpickler = pickle.Unpickler

        def dumps(self, arg, protocol=None, **kwargs):
            return pickle.dumps(arg, protocol, **kwargs)

        def loads(self, buf, **kwds):
            col.record("roundtrip", buf, kwds)
            return pickle.loads(buf, **kwds)

    return Rec


def run_tests(col, cls):
    for name in sorted(dir(cls)):
        if not name.startswith("test_") or name in SKIP_TESTS:
            continue
        fn = getattr(cls, name)
        if not callable(fn):
            continue
        fn = inspect.unwrap(fn)     # also runs requires_32b tests
        col.test, col.index = name, 0
        case = cls(name)
        try:
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                fn(case)
        except unittest.SkipTest:
            pass
        except BaseException as e:   # an assertion in the test: fine here
            if isinstance(e, KeyboardInterrupt):
                raise
            col.test_errors.append((cls.__mro__[1].__name__, name,
                                    type(e).__name__))


def verdict(data):
    try:
        record_ref.record_loads(data)
    except Exception as e:
        return "reject", type(e).__name__, e
    return "accept", None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "cpython_vectors.json"))
    ap.add_argument("--max-bytes", type=int, default=8192,
                    help="leave out vectors longer than this (default 8192)")
    ap.add_argument("--max-per-test", type=int, default=48,
                    help="keep at most this many (evenly spaced) round-trip "
                         "vectors per test method (default 48; 0: all)")
    ap.add_argument("--no-roundtrip", action="store_true",
                    help="only the raw vectors (no AbstractPickleTests pickles)")
    ap.add_argument("--report", action="store_true",
                    help="list every vector's verdict and the cross-checks")
    args = ap.parse_args()

    col = Collector(args.max_bytes)
    for name in sorted(vars(pt)):
        val = getattr(pt, name)
        if isinstance(val, (bytes, bytearray)) and not name.startswith("_"):
            col.add("const:" + name, val)
    run_tests(col, make_unpickle_case(col))
    if not args.no_roundtrip:
        run_tests(col, make_roundtrip_case(col))
        if args.max_per_test:
            col.thin("roundtrip:", args.max_per_test)

    out = []
    stats = {"accept": 0, "reject": 0}
    notes = []
    for name, data in col.vectors:
        v, err, exc = verdict(data)
        stats[v] += 1
        out.append({"name": name, "hex": data.hex(), "verdict": v,
                    "error": err})
        # cross-checks, reported only
        if v == "accept":
            try:
                record_ref.graph_root(data)
            except Exception as e:
                notes.append("C accepts, Python record unpickler fails: %s %s: %s"
                             % (name, type(e).__name__, e))
            end = record_ref.first_pickle_end(data)
            if end is not None and end < len(data):
                try:
                    record_ref.stream_loads_all(data)
                    how = "all pickles load"
                except Exception as e:
                    how = "the rest fails: %s" % type(e).__name__
                notes.append("bytes after STOP (%d of %d; %s): %s"
                             % (len(data) - end, len(data), how, name))
        else:
            try:
                record_ref.graph_root(data)
                notes.append("C rejects (%s), Python record unpickler accepts: %s"
                             % (err, name))
            except Exception:
                pass
        if args.report:
            print("%-7s %-22s %s%s" % (v, err or "", name,
                                       "  -- %s" % exc if exc else ""))

    text = "[\n" + ",\n".join(json.dumps(o, ensure_ascii=True) for o in out) \
        + "\n]\n"
    with open(args.out, "w") as f:
        f.write(text)

    n_src = {}
    for o in out:
        src = o["name"].split(":")[0]
        n_src.setdefault(src, [0, 0])[o["verdict"] == "reject"] += 1
    print("wrote %s: %d vectors (%d accept, %d reject), %d bytes"
          % (os.path.relpath(args.out), len(out), stats["accept"],
             stats["reject"], len(text)))
    for src, (a, r) in sorted(n_src.items()):
        print("  %-10s %4d accept %4d reject" % (src, a, r))
    print("  %d duplicates dropped, %d longer than %d bytes left out, "
          "%d round-trip vectors thinned out (--max-per-test %d)"
          % (col.dupes, col.too_big, args.max_bytes, col.thinned,
             args.max_per_test))
    if col.test_errors:
        print("  %d test methods stopped early (collected up to there): %s"
              % (len(col.test_errors),
                 ", ".join("%s.%s(%s)" % t for t in col.test_errors)))
    for n in notes:
        print("  note:", n)


if __name__ == "__main__":
    main()
