#!/usr/bin/python3
"""Differential campaign: picklevm's record mode against CPython's unpicklers.

    /usr/bin/python3 fuzz/differential.py --picklevm build/picklevm DIR...
        [--jobs N] [--limit N] [--report FILE] [--timeout S]
        [--ref-timeout S] [--ref-mem-mb MB] [--picklevm-arg ARG]...
        [--subcategories N] [-q]

Every file under the given folders (recursively; corpora such as the
fuzzers' output included) is replayed through

* ``picklevm trace - --format json``, the file's bytes on standard input
  (a thread pool of ``--jobs`` threads, ``--timeout`` per input, 5 s by
  default; the bytes are read once, so a fuzzer rewriting its corpus
  cannot make the two sides see different inputs).  Its verdict is *accept* when the document's
  ``error`` is null, *reject* otherwise; exit 0/1 means the trace ran, 2
  that the stream is malformed; anything else (a crash, a timeout, no JSON)
  is a picklevm failure.  Its graph is ``graphs[0].root``.
* the stubbed CPython reference of tests/vectors/record_ref.py, in a worker
  process per job (recursion, address space and time capped; a worker that
  overruns its hard deadline is killed and replaced): the reference verdict
  is *accept* when CPython's C unpickler in record mode loads every pickle
  of the stream back to back (as record mode does), and the expected graph
  is ``record_ref.graph_root(data)`` (the pure-Python unpickler with the same
  stubs) for the first pickle.

Verdicts are compared, and when both accept, the first pickle's root is
compared exactly with the comparison of tests/vectors/run_vectors.py
(``parse`` / ``first_diff``).  Every disagreement is put in a named category
(automatically: the error message on the rejecting side with numbers and
quoted text abstracted, the opcode at the failing offset, or the kind of
values at the first graph difference) and a summary is printed: total inputs,
agreements, each category with its count and three example files, and at the
end ``differential: N agree, M disagree``.  ``--report FILE`` writes the same
as JSON, plus every disagreeing input with its detail.

The categories (each with sub-categories: the normalized message, the
builder or BUILD target involved, the refinements met):

* ``picklevm failed`` / ``reference failed``: a crash, a timeout, no JSON.
* ``verdict: ...``: one side accepts, the other rejects.  Recognized
  automatically: joblib containers; the known differences of
  run_vectors.py (call-of-call, extension-code, sparse-memo); persistent
  ids; C and pure-Python unpicklers disagreeing (picklevm follows the
  pure-Python one: framing); bytes after STOP inside a FRAME (the C
  unpickler on a file); picklevm's numpy builders rejecting a state the
  stubs accept; unhashable keys on dict-like records; builder calls
  CPython's builtins refuse (picklevm records a $call); BUILD on a global;
  global names CPython's import refuses; else "other", by opcode and
  message.
* ``graph: ...``: both accept, the first roots differ.  The exact
  comparison is run_vectors.first_diff; to tell record-mode refinements
  (picklevm's $ndarray / $dtype / $scalar / $object where the stubs record
  a numpy call or an instance as $call) from real differences, a second
  comparison masks them ($object is compared field by field with the
  stubs' $call) and ignores $id/$ref sharing: "refinement only", "sharing
  only", "dictitems merged", "BUILD-planted __setstate__", or "differs
  beyond the refinements" (the interesting one).  Where picklevm and the
  pure-Python unpickler accept a stream the C unpickler rejects, their
  roots are compared too.  Where graph_root itself fails (the pure-Python
  unpickler rejecting what the C one loads), picklevm's root is compared
  with the C unpickler's result, sharing and offsets aside.

Known differences, and which side is right, are in
fuzz/differential_known.md.  The exit status is 0 whatever the campaign
found (it is a report, not a gate); 2 on a usage error; 1 if the script
itself fails.
"""

import os
import sys

PY = "/usr/bin/python3"
if os.path.realpath(sys.executable) != os.path.realpath(PY):
    os.execv(PY, [PY, "-s", os.path.abspath(__file__)] + sys.argv[1:])

import argparse                      # noqa: E402
import collections                   # noqa: E402
import concurrent.futures            # noqa: E402
import json                          # noqa: E402
import multiprocessing               # noqa: E402
import pickletools                   # noqa: E402
import re                            # noqa: E402
import subprocess                    # noqa: E402
import threading                     # noqa: E402
import time                          # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(os.path.dirname(HERE), "tests", "vectors")

# ---------------------------------------------------------------------------
# Worker side: the reference and the comparison (imports record_ref and
# run_vectors lazily, only in the worker processes).

_REF_TASKS_PER_WORKER = 2000      # recycle a worker after this many inputs


class RefTimeout(BaseException):
    """Raised by the worker's alarm; a BaseException so that the reference's
    own ``except Exception`` clauses cannot swallow it."""


def _on_alarm(signum, frame):
    raise RefTimeout()


def _worker_setup(mem_mb):
    import resource
    import signal
    signal.signal(signal.SIGALRM, _on_alarm)
    if mem_mb:
        lim = mem_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    # deep structures: let the main thread's stack grow well past what the
    # recursion limit below can use, rather than segfault
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
        want = 1024 * 1024 * 1024
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
    except (ValueError, OSError):
        pass
    sys.setrecursionlimit(100000)
    # CPython prints some oddities of hostile inputs on stderr from
    # deallocators ("deallocated bytearray object has exported buffers");
    # results and errors travel over the pipe, so stderr is not needed
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.path.insert(0, VECTORS)
    import record_ref                # noqa: F401 (fail early)
    import run_vectors               # noqa: F401


# --- opcodes ---------------------------------------------------------------

def _ops(data):
    """[(pos, name)] of the opcodes genops can decode (stops at the first
    undecodable byte, continues through every pickle in the data)."""
    out = []
    pos = 0
    try:
        while pos < len(data):
            last = None
            for op, arg, p in pickletools.genops(data[pos:]):
                out.append((pos + p, op.name))
                last = (pos + p, op.name)
            if last is None or last[1] != "STOP":
                break
            pos = last[0] + 1
    except Exception:
        pass
    return out


def _op_at(ops, offset):
    """The name of the opcode that starts at `offset` (or that covers it),
    or None."""
    if offset is None or offset < 0:
        return None
    best = None
    for p, name in ops:
        if p > offset:
            break
        best = name
        if p == offset:
            return name
    return best


# --- the reference's verdicts ----------------------------------------------

_FILE_CLASS = []


def _file_unpickler_class():
    """record_ref's C record unpickler reading from a buffered file (with
    ``peek``, as ``open(path, 'rb')`` gives) instead of a BytesIO.  The C
    unpickler then consumes exactly up to STOP, even inside a FRAME, so a
    loader that calls load() again on the same file starts right after the
    STOP -- where record mode starts its next pickle.  (On a BytesIO, which
    has no ``peek``, load() consumes the whole frame.)"""
    import io
    import pickle
    import record_ref

    class _FileCRecordUnpickler(record_ref._CRecordUnpickler):
        def __init__(self, data, start=0):
            bio = io.BufferedReader(io.BytesIO(data))
            bio.seek(start)
            pickle.Unpickler.__init__(self, bio)
            self._record_setup(bio)
            self._start = start
            self._marks = record_ref._proto_marks(data[start:])
    if not _FILE_CLASS:
        _FILE_CLASS.append(_FileCRecordUnpickler)
    return _FILE_CLASS[0]


def _stream(data, kind):
    """Load every pickle of `data` back to back, each load starting where
    the previous one left the file.  kind: 'c' (record_ref's C record
    unpickler on a BytesIO: record_ref.stream_loads_all's verdict),
    'c-file' (the same on a buffered file), 'py' (the pure-Python record
    unpickler).  Returns (None, None, None) or (exception, offset of the
    failing opcode where known, what the failing opcode worked on: the
    pure-Python unpickler's stack top, described)."""
    import record_ref
    pos = 0
    n = 0
    while pos < len(data):
        if kind == "c":
            up = record_ref.record_unpickler(data, python=False, start=pos)
        elif kind == "c-file":
            up = _file_unpickler_class()(data, pos)
        else:
            up = record_ref.record_unpickler(data, python=True, start=pos)
        try:
            up.load()
        except RefTimeout:
            raise
        except BaseException as e:           # noqa: B902 (MemoryError, ...)
            target = None
            if kind == "py":
                where = up._op_offset
                if up.stack:
                    target = _describe(up.stack[-1], up)
            else:
                try:
                    where = up._bio.tell() - 1
                except Exception:
                    where = None
            return e, where, target
        pos = up._bio.tell()
        n += 1
    if not n:
        return EOFError("empty input"), 0, None
    return None, None, None


def _describe(x, up):
    """A short description of a value on the record unpickler's stack."""
    import record_ref
    if isinstance(x, record_ref.GlobalMeta):
        return "global " + x._pvm_name
    name = up._names.get(id(x))
    if name:
        return "builder " + name
    if isinstance(x, record_ref.Call):
        return "call of " + x.callable._pvm_name
    return type(x).__name__.lstrip("_")


# --- categories ------------------------------------------------------------

_NUM = re.compile(r"0x[0-9a-fA-F]+|\b\d+\b")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_OFFSET = re.compile(r"^offset (\d+)(?: \((\w+)\))?: ")


def normalize(msg):
    """An error message with offsets, numbers and quoted text abstracted."""
    msg = (msg or "").strip()
    msg = _OFFSET.sub("", msg.splitlines()[0] if msg else "")
    msg = _QUOTED.sub("'…'", msg)
    msg = _NUM.sub("N", msg)
    return msg[:90]


# picklevm's numpy builders (record mode still builds $ndarray / $dtype /
# $scalar from numpy's reduce protocol, and rejects a state numpy's own
# __setstate__ would not take)
_NUMPY_WORDS = re.compile(
    r"dtype|ndarray|shape|field|subarray|object array|datetime|byte order|"
    r"itemsize|scalar|fortran|array", re.I)
_CALL_OPS = {"REDUCE", "NEWOBJ", "NEWOBJ_EX", "INST", "OBJ"}
_HASH_OPS = {"SETITEM", "SETITEMS", "ADDITEMS", "FROZENSET"}

F_PVM_FAIL = "picklevm failed (crash, timeout, no JSON document)"
F_REF_FAIL = "reference failed (timeout, worker died, internal error)"
F_JOBLIB = "verdict: joblib container (the reference reads plain pickles only)"
F_KNOWN = "verdict: known difference of run_vectors.py: %s"
F_PERSID = "verdict: persistent id (the reference's persistent_load raises)"
F_FRAME_TAIL = ("verdict: bytes after STOP inside a FRAME (picklevm runs them "
                "as the C unpickler on a file does; on a BytesIO the frame is "
                "consumed)")
F_PURE_PY = ("verdict: C and pure-Python unpicklers disagree, picklevm "
             "follows the pure-Python one")
F_NUMPY = ("verdict: picklevm's numpy refinement rejects what the stubs "
           "accept (bad dtype/ndarray state, APPEND to an ndarray)")
F_UNHASHABLE = ("verdict: picklevm refuses an unhashable dict key or set "
                "member the stubs' records never hash (an ndarray, a tuple "
                "holding a dict, on an OrderedDict or a dict)")
F_BUILDER = ("verdict: picklevm records as a $call a builder call whose "
             "arguments CPython's builder refuses")
F_BUILD = ("verdict: picklevm accepts a BUILD CPython refuses (BUILD on a "
           "global: picklevm records 'BUILD sets attributes' and goes on)")
F_NAME = ("verdict: picklevm refuses a global name CPython's import refuses "
          "(the stubs import nothing)")
F_PVM_ACCEPTS = "verdict: picklevm accepts, CPython rejects (other)"
F_PVM_REJECTS = "verdict: picklevm rejects, CPython accepts (other)"
F_GRAPH_REFINED = ("graph: record-mode refinement only ($ndarray/$dtype/"
                   "$scalar/$object where the stubs record $call)")
F_GRAPH_SHARING = "graph: $id/$ref sharing only"
F_GRAPH_VALUE = "graph: differs beyond the refinements"
F_GRAPH_PY_ONLY = ("graph: differs beyond the refinements from the pure-Python "
                   "unpickler's, on a stream only picklevm and the pure-Python "
                   "unpickler accept")
F_GRAPH_DICTITEMS = ("graph: SETITEM(S) with a repeated key on a $call/$object: "
                     "picklevm merges the keys in dictitems, record_ref keeps "
                     "every pair")
F_GRAPH_SETSTATE = ("graph: BUILD-planted __setstate__ (picklevm records the "
                    "call the planted attribute makes; the stubs store the "
                    "state)")
F_GRAPH_JOBLIB = "graph: joblib container"
F_GRAPH_REF = ("graph: the pure-Python graph_root fails where the C "
               "unpickler loads")


# --- the graph comparison beyond record-mode refinements ---------------------

_NUMPY_TAGS = {"$ndarray", "$scalar", "$dtype"}


def _is_obj(x):
    return isinstance(x, tuple) and len(x) == 2 and x[0] == "{}"


def _keys(x):
    return [k for k, _ in x[1]]


def _get(x, k, default=None):
    for kk, v in x[1]:
        if kk == k:
            return v
    return default


def _tag(x):
    if _is_obj(x):
        ks = _keys(x)
        if len(ks) == 1 and ks[0].startswith("$"):
            return ks[0]
        if ks == ["$id", "$value"]:
            return "$id"
    return None


def _kind(x):
    import run_vectors
    t = _tag(x)
    if t:
        return t
    if _is_obj(x):
        return "object"
    if isinstance(x, list):
        return "list"
    if isinstance(x, run_vectors.Num):
        return x.key[0]
    if isinstance(x, bool):
        return "bool"
    if x is None:
        return "null"
    if isinstance(x, str):
        return "str"
    return type(x).__name__


def _collect_ids(root):
    defs = {}
    todo = [root]
    while todo:
        x = todo.pop()
        if _is_obj(x):
            if _keys(x) == ["$id", "$value"]:
                defs[_get(x, "$id").text] = _get(x, "$value")
            todo.extend(v for _, v in x[1])
        elif isinstance(x, list):
            todo.extend(x)
    return defs


class MaskedDiff:
    """Compares picklevm's root `a` with the reference's `b` as trees
    ($ref expanded, so sharing is ignored), with picklevm's record-mode
    refinements masked: an $ndarray / $dtype / $scalar built from a numpy
    (or joblib) call the stubs record as $call is taken as equal, and an
    $object is compared with the stubs' $call field by field (class /
    callable, args, kwargs, state, items, dictitems).  `refined` counts the
    refinements met."""

    def __init__(self, a, b, ignore_offsets=False):
        self.ignore_offsets = ignore_offsets
        self.defs_a = _collect_ids(a)
        self.defs_b = _collect_ids(b)
        self.refined = collections.Counter()
        self.merged = 0
        self.busy = set()
        self.a, self.b = a, b

    def _resolve(self, x, defs):
        for _ in range(1000):
            t = _tag(x)
            if t == "$ref":
                n = _get(x, "$ref").text
                if n not in defs:
                    return x
                x = defs[n]
            elif t == "$id":
                x = _get(x, "$value")
            else:
                return x
        return x

    def run(self):
        return self.diff(self.a, self.b, "root")

    def diff(self, a, b, path):
        import run_vectors
        a = self._resolve(a, self.defs_a)
        b = self._resolve(b, self.defs_b)
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            key = (id(a), id(b))
            if key in self.busy:         # a cycle: equal so far
                return None
            self.busy.add(key)
        ta, tb = _tag(a), _tag(b)
        if ta in _NUMPY_TAGS and tb == "$call":
            fn = _get(_get(b, "$call"), "callable", "")
            if isinstance(fn, str) and fn.split(".")[0].split(":")[0] in (
                    "numpy", "joblib"):
                self.refined[ta] += 1
                return None
            return (path, "picklevm builds %s from a call of %s" % (ta, fn))
        if ta == "$object" and tb == "$call":
            self.refined["$object"] += 1
            o, c = _get(a, "$object"), _get(b, "$call")
            p = path + ".$object"
            if _get(o, "class") != _get(c, "callable"):
                return (p + ".class", "class %s, the stubs call %s" % (
                    _get(o, "class"), _get(c, "callable")))
            for field, empty in (("args", []), ("kwargs", ("{}", ())),
                                 ("state", None), ("items", []),
                                 ("dictitems", [])):
                va, vb = _get(o, field, empty), _get(c, field, empty)
                if field == "state" and ((_get(o, field, KeyError) is KeyError)
                                         != (_get(c, field, KeyError) is KeyError)):
                    return (p + ".state", "state %s, expected %s" % (
                        "absent" if _get(o, field, KeyError) is KeyError
                        else "present",
                        "absent" if _get(c, field, KeyError) is KeyError
                        else "present"))
                if field == "dictitems":
                    d = self.dictitems(va, vb, "%s.%s" % (p, field))
                else:
                    d = self.diff(va, vb, "%s.%s" % (p, field))
                if d:
                    return d
            return None
        if _is_obj(a) and _is_obj(b):
            ka, kb = _keys(a), _keys(b)
            if ka != kb:
                return (path, "keys %s, expected %s" % (ka, kb))
            for (k, va), (_, vb) in zip(a[1], b[1]):
                if k == "offset" and self.ignore_offsets:
                    continue
                if k == "dictitems" and path.endswith(".$call"):
                    d = self.dictitems(va, vb, "%s.%s" % (path, k))
                else:
                    d = self.diff(va, vb, "%s.%s" % (path, k))
                if d:
                    return d
            return None
        if isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                return (path, "%d items, expected %d" % (len(a), len(b)))
            for i, (va, vb) in enumerate(zip(a, b)):
                d = self.diff(va, vb, "%s[%d]" % (path, i))
                if d:
                    return d
            return None
        if type(a) is type(b) and a == b:
            return None
        return (path, "got %s, expected %s" % (run_vectors._show(a),
                                               run_vectors._show(b)),
                "%s vs %s" % (_kind(a), _kind(b)))


    def dictitems(self, a, b, path):
        """dictitems: record_ref keeps every SETITEM pair; picklevm merges
        equal keys (dict semantics: the first key's position, the last
        value).  Equal after merging the reference's pairs counts as a
        merge, not a difference."""
        import run_vectors
        d = self.diff(a, b, path)
        if d is None or not (isinstance(a, list) and isinstance(b, list)):
            return d
        merged = collections.OrderedDict()
        for pair in b:
            if not (isinstance(pair, list) and len(pair) == 2):
                return d
            key = run_vectors._show(self._resolve(pair[0], self.defs_b))
            if key in merged:
                merged[key][1] = pair[1]
            else:
                merged[key] = [pair[0], pair[1]]
        if len(merged) == len(b):
            return d
        if self.diff(a, list(merged.values()), path) is None:
            self.merged += 1
            return None
        return d


def _field(path):
    """The last named component of a diff path ('root.x.$call.state[2]'
    -> '$call.state[]')."""
    m = re.search(r"((?:\.\$\w+)?\.(\$?\w+))((?:\[\d+\])*)$", path)
    if m:
        return m.group(1).lstrip(".") + ("[]" if m.group(3) else "")
    return "root" if path == "root" else "item"


def _graph_kind(path, desc, kinds=None):
    """A short name for a masked difference."""
    if desc.startswith("keys "):
        return "keys differ at %s" % _field(path)
    if " items, expected " in desc:
        return "item count differs at %s" % _field(path)
    if desc.startswith("class ") or desc.startswith("state ") \
            or desc.startswith("picklevm builds"):
        return normalize(desc)
    return "value differs at %s (%s)" % (_field(path), kinds)


# --- one input -------------------------------------------------------------

def compare(path, data, pvm, soft_timeout):
    """Everything about one input (`data` its bytes, `pvm` picklevm's run:
    {"rc", "stdout", "stderr", "timeout"}).  Returns a dict with 'agree',
    'family', 'category', 'detail', 'opcode', and the verdicts."""
    import signal
    import run_vectors
    res = {"path": path}
    ops = _ops(data)

    def done(agree, family=None, category=None, detail=None, opcode=None):
        res.update(agree=agree, family=family, category=category,
                   detail=detail, opcode=opcode)
        return res

    # --- picklevm
    if pvm["timeout"]:
        return done(False, F_PVM_FAIL, "timed out",
                    "no result after %.0f s" % pvm["timeout"])
    if pvm["rc"] not in (0, 1, 2):
        sig = (" (signal %d)" % -pvm["rc"]) if pvm["rc"] < 0 else ""
        return done(False, F_PVM_FAIL, "exit status %d%s" % (pvm["rc"], sig),
                    pvm["stderr"][-300:])
    try:
        doc = json.loads(pvm["stdout"])
        pvm_error = doc["error"]
    except Exception as e:
        return done(False, F_PVM_FAIL,
                    "no JSON document (exit %d): %s" % (
                        pvm["rc"], normalize(pvm["stderr"].split(": ", 1)[-1])),
                    "%s; %s" % (e, pvm["stderr"][-300:]))
    got = "reject" if pvm_error is not None else "accept"
    if (pvm["rc"] == 2) != (got == "reject" and pvm["rc"] != 1):
        return done(False, F_PVM_FAIL, "exit status disagrees with error",
                    "exit %d, error %r" % (pvm["rc"], pvm_error))
    container = (doc.get("source") or {}).get("container", "pickle")
    res["picklevm"] = got
    res["picklevm_error"] = pvm_error

    # --- the reference
    signal.setitimer(signal.ITIMER_REAL, soft_timeout)
    try:
        try:
            c_exc, c_pos, _ = _stream(data, "c")
            want = "reject" if c_exc is not None else "accept"
            res["reference"] = want
            res["reference_error"] = (None if c_exc is None else "%s: %s" % (
                type(c_exc).__name__, str(c_exc)[:300]))
            if got == want and got == "reject":
                return done(True)
            py_exc, py_op, py_target = _stream(data, "py")
            res["python_unpickler"] = "reject" if py_exc else "accept"
            if got != want:
                f_exc, _, _ = _stream(data, "c-file")
                res["c_unpickler_on_file"] = "reject" if f_exc else "accept"
        except RefTimeout:
            return done(False, F_REF_FAIL, "timed out",
                        "reference verdict not reached in %.0f s" % soft_timeout)

        def _verdict():
                known = run_vectors.classify(data, c_exc)
                if known is None and isinstance(c_exc, ValueError) \
                        and "extension code" in str(c_exc) \
                        and any(n in ("EXT1", "EXT2", "EXT4") for _, n in ops):
                    known = "extension-code"      # in a later pickle
                res["known"] = known
                # the pure-Python reference stopped on a limitation of the stubs
                py_limited = py_exc is not None and (
                    run_vectors.classify(data, py_exc) is not None
                    or "persistent id in record reference" in str(py_exc))
                # the reference's failing opcode: the pure-Python unpickler's
                # when it fails alike, else where the C unpickler stopped
                if c_exc is not None and py_exc is not None \
                        and type(c_exc) is type(py_exc):
                    ref_op = _op_at(ops, py_op)
                else:
                    ref_op = _op_at(ops, c_pos)
                m = _OFFSET.match(pvm_error or "")
                pvm_op = None
                if m:
                    pvm_op = m.group(2) or _op_at(ops, int(m.group(1)))
                ref_msg = ("%s: %s" % (type(c_exc).__name__, normalize(str(c_exc)))
                           if c_exc is not None else None)
                pvm_msg = normalize(pvm_error)
                if container != "pickle":
                    return done(False, F_JOBLIB,
                                "%s, picklevm %ss" % (container.split("+")[0], got),
                                "%s: %s" % (container,
                                            pvm_error or res["reference_error"]))
                if known:
                    return done(False, F_KNOWN % known, "picklevm %ss" % got,
                                res["reference_error"], ref_op)
                if c_exc is not None and "persistent id in record reference" \
                        in str(c_exc):
                    return done(False, F_PERSID, "picklevm %ss" % got,
                                res["reference_error"], ref_op)
                if res["python_unpickler"] == got or (got == "accept"
                                                      and py_limited):
                    sub = (("picklevm rejects: " + pvm_msg) if got == "reject"
                           else ("picklevm accepts, C: " + ref_msg))
                    if res["python_unpickler"] != got:
                        sub += (" (the pure-Python reference then stops on a "
                                "limitation of the stubs)")
                    return done(False, F_PURE_PY, sub,
                                pvm_error or res["reference_error"],
                                pvm_op if got == "reject" else ref_op)
                if res["c_unpickler_on_file"] == got:
                    return done(False, F_FRAME_TAIL,
                                pvm_msg if got == "reject" else "picklevm accepts",
                                pvm_error or res["reference_error"],
                                pvm_op if got == "reject" else ref_op)
                if got == "reject":
                    fam = F_PVM_REJECTS
                    if (pvm_op in ({"BUILD"} | _CALL_OPS)
                            and _NUMPY_WORDS.search(pvm_msg)) \
                            or (pvm_op in ("APPEND", "APPENDS")
                                and "numpy" in (pvm_error or "")):
                        fam = F_NUMPY
                    elif pvm_op in _HASH_OPS and "unhashable" in pvm_msg:
                        fam = F_UNHASHABLE
                    elif pvm_op in ("GLOBAL", "STACK_GLOBAL", "INST") \
                            and "module name" in pvm_msg:
                        fam = F_NAME
                    return done(False, fam,
                                ("%s: %s" % (pvm_op, pvm_msg)) if fam is F_PVM_REJECTS
                                else pvm_msg, pvm_error, pvm_op)
                fam = F_PVM_ACCEPTS
                sub = "%s: %s" % (ref_op, ref_msg)
                same = py_exc is not None and type(py_exc) is type(c_exc)
                if py_exc is not None and _op_at(ops, py_op) == "BUILD" \
                        and (py_target or "").startswith("global "):
                    ref_op, same = "BUILD", True
                if ref_op in _CALL_OPS:
                    fam = F_BUILDER
                    sub = ("%s: %s" % (py_target, ref_msg)) if same and py_target \
                        else ref_msg
                elif ref_op == "BUILD":
                    fam = F_BUILD
                    sub = ("BUILD on a %s: %s" % (
                        (py_target or "?").split(" ")[0], ref_msg)) if same \
                        else ref_msg
                return done(False, fam, sub, res["reference_error"], ref_op)

        if got != want:
            r = _verdict()
            if got == "accept" and res.get("python_unpickler") == "accept" \
                    and container == "pickle":
                # picklevm and the pure-Python unpickler accept: their
                # roots must still agree
                g = graph_check(data, pvm["stdout"])
                if g is not None and g[0] in (F_GRAPH_VALUE, F_GRAPH_SETSTATE):
                    return done(False, F_GRAPH_PY_ONLY, g[1],
                                "%s  [verdict: %s: %s]" % (g[2], r["family"],
                                                          r["category"]))
            return r

        # --- both accept: the first pickle's root
        g = graph_check(data, pvm["stdout"], container)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if g is None:
        return done(True)
    return done(False, *g)


def graph_check(data, stdout, container="pickle"):
    """None if picklevm's first root (in `stdout`) equals graph_root(data),
    else (family, category, detail)."""
    import record_ref
    import run_vectors
    try:
        ref = record_ref.graph_root(data, 0)
        ref = run_vectors.parse(json.dumps(ref, allow_nan=False))
    except RefTimeout:
        raise
    except BaseException as e:           # noqa: B902
        sub = "%s: %s" % (type(e).__name__, normalize(str(e)))
        detail = "%s: %s" % (type(e).__name__, str(e)[:300])
        try:
            up = record_ref.record_unpickler(data, python=False)
            cref = run_vectors.parse(json.dumps(
                record_ref.encode_root(up.load(), up), allow_nan=False))
            proot = dict(dict(run_vectors.parse(stdout)[1])
                         ["graphs"][0][1])["root"]
            # (the C unpickler does not tell the opcode offsets)
            m = MaskedDiff(proot, cref, ignore_offsets=True).run()
        except RefTimeout:
            raise
        except BaseException as e2:      # noqa: B902
            m = ("root", "C result not comparable: %s" % e2)
        if m is None:
            sub += "; picklevm's root equals the C unpickler's"
        else:
            sub += "; picklevm's root differs from the C unpickler's"
            detail += "; vs C: %s: %s" % (m[0], m[1][:300])
        return (F_GRAPH_REF, sub, detail)
    try:
        parsed = run_vectors.parse(stdout)
        graph = dict(parsed[1])["graphs"][0]
        root = dict(graph[1])["root"]
    except Exception as e:
        return (F_PVM_FAIL, "no graphs[0].root",
                "%s: %s" % (type(e).__name__, e))
    d = run_vectors.first_diff(root, ref)
    if d is None:
        return None
    if container != "pickle":
        return (F_GRAPH_JOBLIB, container, d[:600])
    md = MaskedDiff(root, ref)
    m = md.run()
    if m is not None:
        fam = F_GRAPH_VALUE
        if b"__setstate__" in data and (m[0].endswith(".state")
                                        or "'state'" in m[1]):
            fam = F_GRAPH_SETSTATE
        return (fam, _graph_kind(*m),
                "%s: %s  [exact: %s]" % (m[0], m[1][:400], d[:300]))
    if md.merged:
        return (F_GRAPH_DICTITEMS,
                "with refinements" if md.refined else "without refinements",
                d[:600])
    if md.refined:
        return (F_GRAPH_REFINED, " ".join(sorted(md.refined)), d[:600])
    return (F_GRAPH_SHARING, "at " + _field(d.split(":")[0]), d[:600])


def worker_main(conn, mem_mb, soft_timeout):
    _worker_setup(mem_mb)
    conn.send("ready")
    while True:
        try:
            task = conn.recv()
        except EOFError:
            break
        if task is None:
            break
        path, data, pvm = task
        try:
            res = compare(path, data, pvm, soft_timeout)
        except RefTimeout:
            res = {"path": path, "agree": False, "family": F_REF_FAIL,
                   "category": "timed out",
                   "detail": "no reference result in %.0f s" % soft_timeout}
        except BaseException as e:           # noqa: B902
            import traceback
            res = {"path": path, "agree": False, "family": F_REF_FAIL,
                   "category": "internal error (%s)" % type(e).__name__,
                   "detail": traceback.format_exc()[-600:]}
        try:
            conn.send(res)
        except Exception as e:
            conn.send({"path": path, "agree": False, "family": F_REF_FAIL,
                       "category": "unsendable result",
                       "detail": str(e)[:300]})
    # leave without finalizing whatever odd objects the inputs made
    os._exit(0)


# ---------------------------------------------------------------------------
# Parent side.

class RefWorker:
    """One reference worker process, owned by one thread; restarted after
    _REF_TASKS_PER_WORKER inputs, and killed and replaced when it overruns
    the hard deadline."""

    def __init__(self, ctx, mem_mb, soft_timeout, hard_timeout):
        self.ctx = ctx
        self.args = (mem_mb, soft_timeout)
        self.hard = hard_timeout
        self.proc = None
        self.conn = None
        self.tasks = 0

    def _start(self):
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=worker_main,
                                     args=(child,) + self.args, daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        self.tasks = 0
        # the hard deadline counts from a ready worker, not from its start
        if not parent.poll(120) or parent.recv() != "ready":
            raise RuntimeError("a reference worker did not start")

    def _stop(self, kill):
        if self.proc is None:
            return
        try:
            if kill:
                self.proc.kill()
            else:
                self.conn.send(None)
        except Exception:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()
        self.proc = self.conn = None

    def close(self):
        self._stop(kill=False)

    def run(self, path, data, pvm):
        if self.proc is not None and self.tasks >= _REF_TASKS_PER_WORKER:
            self._stop(kill=False)
        if self.proc is None:
            self._start()
        self.tasks += 1
        try:
            self.conn.send((path, data, pvm))
            if not self.conn.poll(self.hard):
                self._stop(kill=True)
                return {"path": path, "agree": False, "family": F_REF_FAIL,
                        "category": "timed out (worker killed)",
                        "detail": "no answer in %.0f s" % self.hard}
            return self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(1)
            code = self.proc.exitcode
            self._stop(kill=True)
            return {"path": path, "agree": False, "family": F_REF_FAIL,
                    "category": "worker died (exit code %s)" % code,
                    "detail": "exit code %s" % code}


def run_picklevm(picklevm, extra, data, timeout):
    """picklevm trace on `data`, given on standard input (so that both
    sides see the same bytes even while a fuzzer rewrites its corpus)."""
    try:
        p = subprocess.run([picklevm, "trace", "-", "--format", "json"] + extra,
                           input=data, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"rc": None, "stdout": "", "stderr": "", "timeout": timeout}
    return {"rc": p.returncode,
            "stdout": p.stdout.decode("utf-8", "replace"),
            "stderr": p.stderr.decode("utf-8", "replace"),
            "timeout": None}


def collect(dirs, limit):
    files = []
    seen = set()
    for d in dirs:
        if os.path.isfile(d):
            cand = [d]
        else:
            cand = []
            for root, subdirs, names in os.walk(d):
                subdirs.sort()
                for n in sorted(names):
                    cand.append(os.path.join(root, n))
        for f in cand:
            rp = os.path.realpath(f)
            if rp in seen or not os.path.isfile(rp):
                continue
            seen.add(rp)
            files.append(f)
    if limit is not None and len(files) > limit:
        # an evenly spread, deterministic sample: every folder keeps its
        # share (the first N alone would drop the last folders)
        step = len(files) / float(limit)
        files = [files[int(i * step)] for i in range(limit)]
    return files


def summarize(results):
    """(agree, disagree, [(family, {count, categories: [(name, {count,
    examples, detail, opcodes})]})]) ordered by count."""
    agree = sum(1 for r in results if r.get("agree"))
    fams = {}
    for r in results:
        if r.get("agree"):
            continue
        f = fams.setdefault(r.get("family") or "?", {"count": 0, "cats": {}})
        f["count"] += 1
        c = f["cats"].setdefault(r.get("category") or "?", {
            "count": 0, "examples": [], "detail": r.get("detail"),
            "opcodes": collections.Counter()})
        c["count"] += 1
        if len(c["examples"]) < 3:
            c["examples"].append(r["path"])
        if r.get("opcode"):
            c["opcodes"][r["opcode"]] += 1
    out = []
    for name, f in sorted(fams.items(), key=lambda kv: (-kv[1]["count"], kv[0])):
        cats = sorted(f["cats"].items(), key=lambda kv: (-kv[1]["count"], kv[0]))
        out.append((name, f["count"], cats))
    return agree, len(results) - agree, out


def _examples(cats, n=3):
    ex = []
    for _, c in cats:
        for e in c["examples"]:
            if len(ex) < n and e not in ex:
                ex.append(e)
    return ex


def main():
    ap = argparse.ArgumentParser(
        description="replay corpora through picklevm trace and CPython's "
                    "stubbed unpicklers; report every disagreement")
    ap.add_argument("--picklevm", required=True, help="the picklevm binary")
    ap.add_argument("dirs", nargs="+", metavar="DIR",
                    help="folders (walked recursively) or files")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--limit", type=int, default=None,
                    help="replay at most N files (an evenly spread sample "
                         "of the files in path order)")
    ap.add_argument("--report", help="write the summary as JSON to FILE")
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="picklevm's time per input (default 5 s)")
    ap.add_argument("--ref-timeout", type=float, default=20.0,
                    help="the reference's time per input (default 20 s; a "
                         "worker still busy after twice that plus 5 s is "
                         "killed and replaced)")
    ap.add_argument("--ref-mem-mb", type=int, default=2048,
                    help="address-space cap of a reference worker (MiB)")
    ap.add_argument("--picklevm-arg", action="append", default=[],
                    help="an extra argument for picklevm trace "
                         "(e.g. --no-default-allowlist); repeatable")
    ap.add_argument("--subcategories", type=int, default=4,
                    help="sub-categories shown per category (default 4)")
    ap.add_argument("-q", "--quiet", action="store_true",
                    help="no progress on standard error")
    args = ap.parse_args()

    picklevm = os.path.abspath(args.picklevm)
    if not os.access(picklevm, os.X_OK):
        ap.error("not an executable: %s" % args.picklevm)
    for d in args.dirs:
        if not os.path.exists(d):
            ap.error("no such file or folder: %s" % d)
    files = collect(args.dirs, args.limit)

    ctx = multiprocessing.get_context("spawn")
    local = threading.local()
    workers = []
    wlock = threading.Lock()
    done = [0]
    skipped = []
    t0 = time.monotonic()

    def one(path):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:                   # a fuzzer removed it meanwhile
            with wlock:
                skipped.append(path)
            return None
        w = getattr(local, "worker", None)
        if w is None:
            w = local.worker = RefWorker(ctx, args.ref_mem_mb,
                                         args.ref_timeout,
                                         2 * args.ref_timeout + 5)
            with wlock:
                workers.append(w)
        pvm = run_picklevm(picklevm, args.picklevm_arg, data, args.timeout)
        res = w.run(path, data, pvm)
        with wlock:
            done[0] += 1
            if not args.quiet and done[0] % 500 == 0:
                sys.stderr.write("differential: %d/%d (%.0f s)\n"
                                 % (done[0], len(files), time.monotonic() - t0))
        return res

    try:
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as ex:
            results = [r for r in ex.map(one, files) if r is not None]
    finally:
        for w in workers:
            w.close()

    agree, disagree, fams = summarize(results)
    out = []
    out.append("differential: %d inputs from %s%s" % (
        len(results), " ".join(args.dirs),
        (" (%d vanished before they were read)" % len(skipped))
        if skipped else ""))
    out.append("picklevm: %s trace - --format json %s" % (
        picklevm, " ".join(args.picklevm_arg)))
    out.append("agreements: %d" % agree)
    out.append("disagreements: %d in %d categories" % (disagree, len(fams)))
    for name, count, cats in fams:
        out.append("")
        out.append("  %5d  %s" % (count, name))
        for e in _examples(cats):
            out.append("         e.g. %s" % e)
        for cname, c in cats[:args.subcategories]:
            line = "         %5d  %s" % (c["count"], cname)
            if c["opcodes"]:
                line += "   [%s]" % ", ".join(
                    "%s %d" % kv for kv in c["opcodes"].most_common(4))
            out.append(line)
            det = str(c["detail"] or "").replace("\n", " ")
            if det:
                out.append("                e.g. %s: %s" % (
                    os.path.basename(c["examples"][0]),
                    det if len(det) <= 200 else det[:197] + "..."))
        if len(cats) > args.subcategories:
            out.append("                (%d more sub-categories, %d inputs)" % (
                len(cats) - args.subcategories,
                sum(c["count"] for _, c in cats[args.subcategories:])))
    out.append("")
    out.append("differential: %d agree, %d disagree" % (agree, disagree))
    print("\n".join(out))
    sys.stdout.flush()

    if args.report:
        rep = {
            "picklevm": picklevm,
            "picklevm_args": args.picklevm_arg,
            "inputs": args.dirs,
            "total": len(results),
            "vanished": skipped,
            "agree": agree,
            "disagree": disagree,
            "categories": [
                {"category": name, "count": count,
                 "examples": _examples(cats),
                 "subcategories": [
                     {"subcategory": cname, "count": c["count"],
                      "examples": c["examples"], "first_detail": c["detail"],
                      "opcodes": dict(c["opcodes"].most_common())}
                     for cname, c in cats]}
                for name, count, cats in fams],
            "disagreements": [
                {k: r.get(k) for k in (
                    "path", "family", "category", "detail", "opcode",
                    "picklevm", "picklevm_error", "reference",
                    "reference_error", "python_unpickler",
                    "c_unpickler_on_file", "known")}
                for r in results if not r.get("agree")],
        }
        with open(args.report, "w") as f:
            json.dump(rep, f, indent=1, ensure_ascii=False)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
