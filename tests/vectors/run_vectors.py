#!/usr/bin/python3
"""Check picklevm's record mode against CPython's verdicts on CPython's own
unpickling test vectors (cpython_vectors.json, made by extract_vectors.py).

    /usr/bin/python3 tests/vectors/run_vectors.py --picklevm build/picklevm
        [--vectors FILE] [-k SUBSTRING] [-j JOBS] [--timeout S] [-v]

For each vector: write it to a temporary file, run
``picklevm trace FILE --format json``, and check

* the verdict: exit 0 or 1 = accepted (1: it makes calls outside the
  policy), exit 2 = rejected as malformed; anything else (a crash, a usage
  error, a timeout) is a failure.  It must equal CPython's verdict (C
  unpickler in record mode, see record_ref.py).  A file holding bytes after
  the first pickle's STOP is run to the end by record mode (every pickle in
  turn), so its expected verdict is that of loading every pickle back to
  back (record_ref.stream_loads_all), not the single-load verdict stored in
  the JSON;
* for an accepted vector, that ``graph.root`` of picklevm's output equals
  ``record_ref.graph_root(data)`` exactly: both are parsed with an
  ``object_pairs_hook`` that keeps key order, integers are compared by their
  text, and floats by their exact decimal value as written (Decimal,
  normalized: so ``1e+16`` and ``1e16`` are the same number, but
  ``0.1`` and ``0.10000000000000001`` are not -- both sides must write the
  shortest round-trip digits) and must contain a ``.`` or an exponent.
  (With several pickles in the file, the root compared is the first one's.)

Prints ``vectors: N passed, M failed``, then each failure with the vector
name; exits 1 if anything failed (2 on a usage error).
"""

import os
import sys

PY = "/usr/bin/python3"
if os.path.realpath(sys.executable) != os.path.realpath(PY):
    os.execv(PY, [PY, "-s", os.path.abspath(__file__)] + sys.argv[1:])

import argparse                      # noqa: E402
import concurrent.futures            # noqa: E402
import json                          # noqa: E402
import pickletools                   # noqa: E402
import subprocess                    # noqa: E402
import tempfile                      # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import record_ref                    # noqa: E402
sys.path.insert(0, os.path.dirname(HERE))
from jsoncmp import Num, _show, parse, first_diff  # noqa: E402,F401  (exported to fuzz/differential.py too)


# ---------------------------------------------------------------------------
# Known, deliberate differences.  Each entry: (key, reason, tolerance), and
# classify() below decides which entry (if any) a vector falls under.
#   tolerance "any-verdict": picklevm may accept or reject; if it accepts,
#       the root is not compared (the reference cannot say what it is).
#   tolerance "any-verdict-root": picklevm may accept or reject; if it
#       accepts, the root must equal graph_root (the pure-Python record
#       unpickler loads the stream).
KNOWN = [
    ("call-of-call",
     "the stream calls the result of a recorded call (getattr(cls, name)(...),"
     " functools.partial(...)(), NEWOBJ on a getattr result): CPython calls"
     " the real object, but the record model's Call is not callable, so the"
     " reference rejects; how picklevm's trace records a call whose callable"
     " is not a global is not specified ($call.callable is a 'module:name')",
     "any-verdict"),
    ("extension-code",
     "EXT1/EXT2/EXT4: CPython resolves the code through copyreg's registry,"
     " which is empty in the reference (ValueError: unregistered extension"
     " code); picklevm's trace reports extension codes as findings",
     "any-verdict"),
    ("sparse-memo",
     "a PUT to a huge memo index (LONG_BINPUT 0xffffffff): CPython's C"
     " unpickler sizes its memo array by the index and fails with"
     " MemoryError -- an allocation artifact (the pure-Python unpickler"
     " accepts); picklevm may accept it or stop at --max-memo",
     "any-verdict-root"),
]
KNOWN_BY_KEY = {k: (reason, tol) for k, reason, tol in KNOWN}

_EXT_OPS = {"EXT1", "EXT2", "EXT4"}


def _opnames(data):
    names = set()
    try:
        for op, _, _ in pickletools.genops(data):
            names.add(op.name)
    except Exception:
        pass
    return names


def classify(data, exc):
    """The KNOWN key that applies to a vector the reference rejected with
    `exc`, or None."""
    if exc is None:
        return None
    msg = str(exc)
    if ((isinstance(exc, TypeError) and "'Call' object is not callable" in msg)
            or ("must be a type, not Call" in msg)):
        return "call-of-call"
    if isinstance(exc, ValueError) and "extension code" in msg \
            and _opnames(data) & _EXT_OPS:
        return "extension-code"
    if isinstance(exc, MemoryError):
        return "sparse-memo"
    return None


# ---------------------------------------------------------------------------
# JSON comparison

# ---------------------------------------------------------------------------

def expected_for(vec, data):
    """(verdict, exc, known_key, root_start) -- the reference expectation."""
    exc = None
    try:
        record_ref.record_loads(data)
    except Exception as e:
        exc = e
    verdict = "reject" if exc else "accept"
    if verdict != vec["verdict"]:
        raise RuntimeError("%s: record_ref now says %s, the JSON says %s "
                           "(re-run extract_vectors.py)"
                           % (vec["name"], verdict, vec["verdict"]))
    if verdict == "accept":
        end = record_ref.first_pickle_end(data)
        if end is not None and end < len(data):
            try:
                record_ref.stream_loads_all(data)
            except Exception as e:
                return "reject", e, None, 0
    return verdict, exc, classify(data, exc), 0


def run_one(picklevm, vec, tmpdir, timeout):
    """Returns (status, message): status 'pass', 'known' or 'fail'."""
    data = bytes.fromhex(vec["hex"])
    name = vec["name"]
    want, exc, known, start = expected_for(vec, data)
    path = os.path.join(tmpdir, "%08x.pkl" % (abs(hash(name)) & 0xffffffff))
    with open(path, "wb") as f:
        f.write(data)
    try:
        p = subprocess.run([picklevm, "trace", path, "--format", "json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return "fail", "timed out after %ss" % timeout
    finally:
        os.unlink(path)
    err = p.stderr.decode("utf-8", "replace").strip().splitlines()
    err = err[-1] if err else ""
    # Exit 1 (something outside the policy) also wins when the stream later
    # breaks, so whether the stream was accepted is the document's "error".
    if p.returncode not in (0, 1, 2):
        return "fail", "exit status %d (%s)" % (p.returncode, err)
    try:
        stream_error = json.loads(p.stdout.decode("utf-8"))["error"]
    except Exception as e:
        return "fail", "trace printed no JSON document (%s; %s)" % (e, err)
    got = "reject" if stream_error is not None else "accept"
    if (p.returncode == 2) != (got == "reject" and p.returncode != 1):
        return "fail", "exit status %d disagrees with error %r" % (
            p.returncode, stream_error)

    tol = KNOWN_BY_KEY[known][1] if known else None
    if got != want:
        if tol in ("any-verdict", "any-verdict-root"):
            pass
        else:
            why = ("%s: %s" % (type(exc).__name__, exc)) if exc else "load() returns"
            return "fail", ("picklevm %ss (exit %d%s), CPython record mode %ss (%s)"
                            % (got, p.returncode,
                               ": " + err if err else "", want, why))
    if got == "reject" or tol == "any-verdict":
        return ("known" if known else "pass"), known or ""

    try:
        doc = parse(p.stdout.decode("utf-8"))
        graph = dict(doc[1])["graphs"][0]
        root = dict(graph[1])["root"]
    except Exception as e:
        return "fail", "cannot read graph.root from the JSON output: %s" % e
    try:
        ref = parse(json.dumps(record_ref.graph_root(data, start),
                               allow_nan=False))
    except Exception as e:
        return "fail", "reference graph_root failed: %s: %s" % (
            type(e).__name__, e)
    d = first_diff(root, ref)
    if d:
        return "fail", "graph differs: " + d
    return ("known" if known else "pass"), known or ""


def main():
    ap = argparse.ArgumentParser(
        description="check picklevm trace against CPython's unpickling "
                    "test vectors")
    ap.add_argument("--picklevm", required=True, help="the picklevm binary")
    ap.add_argument("--vectors",
                    default=os.path.join(HERE, "cpython_vectors.json"))
    ap.add_argument("-k", dest="filter", default=None,
                    help="only vectors whose name contains this")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="also list the vectors that passed under a known "
                         "difference")
    args = ap.parse_args()

    picklevm = os.path.abspath(args.picklevm)
    if not os.access(picklevm, os.X_OK):
        ap.error("not an executable: %s" % args.picklevm)
    with open(args.vectors) as f:
        vectors = json.load(f)
    if args.filter:
        vectors = [v for v in vectors if args.filter in v["name"]]

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    with tempfile.TemporaryDirectory(prefix="picklevm-vectors-") as tmp:
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as ex:
            results = list(ex.map(
                lambda v: run_one(picklevm, v, tmp, args.timeout), vectors))

    passed = sum(1 for s, _ in results if s != "fail")
    failed = len(results) - passed
    known = {}
    for v, (s, m) in zip(vectors, results):
        if s == "known":
            known.setdefault(m, []).append(v["name"])
    print("vectors: %d passed, %d failed" % (passed, failed))
    for key, names in known.items():
        print("  %d passed under known difference '%s'%s"
              % (len(names), key, ":" if args.verbose else ""))
        if args.verbose:
            for n in names:
                print("      %s" % n)
    for v, (s, m) in zip(vectors, results):
        if s == "fail":
            print("FAIL %s: %s" % (v["name"], m))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
