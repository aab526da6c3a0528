#!/usr/bin/python3
"""Differential campaign: picklevm's record mode against CPython's unpicklers.

    /usr/bin/python3 fuzz/differential.py --picklevm build/picklevm DIR...
        [--jobs N] [--limit N] [--report FILE] [--timeout S]
        [--ref-timeout S] [--ref-mem-mb MB] [--picklevm-arg ARG]...

Every file under the given folders (recursively; corpora such as the
fuzzers' output included) is replayed through

* ``picklevm trace FILE --format json`` (a thread pool, ``--timeout`` per
  input, 5 s by default).  Its verdict is *accept* when the document's
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

Known, deliberate differences are listed in fuzz/differential_known.md.
The exit status is 0 whatever the campaign found (it is a report, not a
gate); 2 on a usage error; 1 if the script itself fails.
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
    # deep structures: let the main thread's stack grow well past the
    # recursion limit record_ref uses (20000) rather than segfault
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
    sys.path.insert(0, VECTORS)
    import record_ref                # noqa: F401
    import run_vectors               # noqa: F401


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
    if offset is None:
        return None
    best = None
    for p, name in ops:
        if p > offset:
            break
        best = name
        if p == offset:
            return name
    return best


def _stream(data, python):
    """Load every pickle of `data` back to back with the record unpickler
    (C or pure Python).  Returns (None, None) or (exception, offset)."""
    import record_ref
    pos = 0
    n = 0
    while pos < len(data):
        up = record_ref.record_unpickler(data, python=python, start=pos)
        try:
            up.load()
        except RefTimeout:
            raise
        except BaseException as e:           # noqa: B902 (MemoryError, ...)
            try:
                where = up._pos() if python else up._bio.tell()
            except Exception:
                where = None
            return e, where
        pos = up._pos() if python else up._bio.tell()
        n += 1
    if not n:
        return EOFError("empty input"), 0
    return None, None


_NUM = re.compile(r"0x[0-9a-fA-F]+|\b\d+\b")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_OFFSET = re.compile(r"^offset \d+(?: \((\w+)\))?: ")


def normalize(msg):
    """An error message with offsets, numbers and quoted text abstracted."""
    msg = _OFFSET.sub("", msg.strip().splitlines()[0] if msg.strip() else "")
    msg = _QUOTED.sub("'…'", msg)
    msg = _NUM.sub("N", msg)
    return msg[:90]


_VALUE_KIND = re.compile(r'^\{"(\$\w+)"')


def _kind(shown):
    """The kind of a value shown by run_vectors._show: '$call', 'list', ..."""
    s = shown.strip()
    m = re.match(r'^\{"\$id": \d+, "\$value": (.*)$', s, re.S)
    wrapped = bool(m)
    if m:
        s = m.group(1)
    m = _VALUE_KIND.match(s)
    if m:
        k = m.group(1)
    elif s.startswith("{"):
        k = "object"
    elif s.startswith("["):
        k = "list"
    elif s.startswith('"'):
        k = "str"
    elif s in ("null", "true", "false"):
        k = s
    elif re.match(r"^-?\d+$", s):
        k = "int"
    elif re.match(r"^-?[\d.eE+-]+$", s):
        k = "float"
    else:
        k = "?"
    return ("$id:" + k) if wrapped else k


_REFINED = {"$ndarray", "$scalar", "$dtype", "$object"}


def graph_category(diff):
    """A category name for a first_diff message."""
    m = re.match(r"^(.*?): got (.*), expected (.*)$", diff, re.S)
    km = re.match(r"^(.*?): keys (\[.*\]), expected (\[.*\])$", diff, re.S)
    im = re.match(r"^(.*?): (\d+) items, expected (\d+): got (.*), expected (.*)$",
                  diff, re.S)
    if km:
        path, got, exp = km.groups()
        gk, ek = got, exp
        one_g = re.match(r"^\['(\$\w+)'\]$", got)
        one_e = re.match(r"^\['(\$\w+)'\]$", exp)
        if one_g and one_e:
            if one_g.group(1) in _REFINED and one_e.group(1) == "$call":
                return ("graph: picklevm builds %s where the reference "
                        "records $call" % one_g.group(1))
            return "graph: %s vs expected %s at %s" % (
                one_g.group(1), one_e.group(1), _field(path))
        if ("'$id'" in got) != ("'$id'" in exp):
            return "graph: $id/$ref sharing differs"
        return "graph: keys %s vs expected %s" % (_trim(gk), _trim(ek))
    if im:
        path = im.group(1)
        return "graph: item count differs at %s" % _field(path)
    if not m:
        return "graph: other"
    path, got, exp = m.groups()
    # the 'got ..., expected ...' split is ambiguous when the shown values
    # contain ', expected '; good enough for a category
    gk, ek = _kind(got), _kind(exp)
    base_g, base_e = gk.split(":")[-1], ek.split(":")[-1]
    if base_g in _REFINED and base_e == "$call":
        return "graph: picklevm builds %s where the reference records $call" % base_g
    if gk != ek and base_g == base_e:
        return "graph: $id/$ref sharing differs"
    if "$ref" in (base_g, base_e):
        return "graph: $id/$ref sharing differs"
    if gk == ek:
        return "graph: %s value differs at %s" % (gk, _field(path))
    return "graph: %s vs expected %s at %s" % (gk, ek, _field(path))


def _trim(s):
    return s if len(s) <= 60 else s[:57] + "..."


def _field(path):
    """The last named component of a first_diff path ('root[3]' -> 'item')."""
    m = re.search(r"\.(\$?\w+)(\[\d+\])*$", path)
    if m:
        return "." + m.group(1) + ("[]" if m.group(2) else "")
    return "root" if path == "root" else "item"


def compare(path, pvm, mem_mb, soft_timeout):
    """Everything about one input.  `pvm` is the picklevm run:
    {"rc", "stdout", "stderr", "timeout", "seconds"}.  Returns a dict with
    'agree' (bool), 'category', 'detail', 'opcode', and both verdicts."""
    import signal
    import record_ref
    import run_vectors
    res = {"path": path}
    with open(path, "rb") as f:
        data = f.read()
    ops = _ops(data)

    # --- picklevm
    doc = None
    got = None
    pvm_error = None
    if pvm["timeout"]:
        res.update(agree=False, category="picklevm: timed out",
                   detail="no result after %.0f s" % pvm["timeout"])
        return res
    if pvm["rc"] not in (0, 1, 2):
        sig = (" (signal %d)" % -pvm["rc"]) if pvm["rc"] < 0 else ""
        res.update(agree=False,
                   category="picklevm: exit status %d%s" % (pvm["rc"], sig),
                   detail=pvm["stderr"][-300:])
        return res
    try:
        doc = json.loads(pvm["stdout"])
        pvm_error = doc["error"]
        got = "reject" if pvm_error is not None else "accept"
    except Exception as e:
        res.update(agree=False, category="picklevm: no JSON document",
                   detail="%s; %s" % (e, pvm["stderr"][-300:]))
        return res
    if (pvm["rc"] == 2) != (got == "reject" and pvm["rc"] != 1):
        res.update(agree=False, category="picklevm: exit status vs error",
                   detail="exit %d, error %r" % (pvm["rc"], pvm_error))
        return res
    container = (doc.get("source") or {}).get("container", "pickle")
    res["picklevm"] = got
    res["picklevm_error"] = pvm_error

    # --- reference verdicts (C, then pure Python)
    signal.setitimer(signal.ITIMER_REAL, soft_timeout)
    try:
        try:
            c_exc, c_pos = _stream(data, python=False)
            py_exc, py_pos = _stream(data, python=True)
        except RefTimeout:
            res.update(agree=False, category="reference: timed out",
                       detail="reference verdict not reached in %.0f s"
                              % soft_timeout)
            return res
        want = "reject" if c_exc is not None else "accept"
        res["reference"] = want
        res["reference_error"] = (None if c_exc is None else
                                  "%s: %s" % (type(c_exc).__name__, c_exc))
        py_verdict = "reject" if py_exc is not None else "accept"
        res["python_unpickler"] = py_verdict
        known = run_vectors.classify(data, c_exc)
        res["known"] = known

        if got != want:
            if container != "pickle":
                cat = "verdict: joblib container: picklevm %ss" % got
                detail = "%s: %s" % (container,
                                     pvm_error or res["reference_error"])
                op = None
            elif known:
                cat = "verdict: known difference '%s' (picklevm %ss)" % (
                    known, got)
                detail = res["reference_error"]
                op = _op_at(ops, c_pos)
            elif (c_exc is not None and "persistent id in record reference"
                  in str(c_exc)):
                cat = ("verdict: persistent id (the reference's "
                       "persistent_load raises; picklevm %ss)" % got)
                detail = res["reference_error"]
                op = _op_at(ops, c_pos)
            elif got == "reject":
                m = re.match(r"^offset (\d+)(?: \((\w+)\))?: ", pvm_error or "")
                op = None
                if m:
                    op = m.group(2) or _op_at(ops, int(m.group(1)))
                cat = "verdict: picklevm rejects: %s" % normalize(pvm_error)
                detail = pvm_error
            else:
                op = _op_at(ops, c_pos)
                cat = "verdict: picklevm accepts, CPython: %s: %s" % (
                    type(c_exc).__name__, normalize(str(c_exc)))
                detail = res["reference_error"]
            if py_verdict != want:
                cat += " [pure-Python unpickler %ss]" % py_verdict
            res.update(agree=False, category=cat, detail=detail, opcode=op)
            return res
        if got == "reject":
            res.update(agree=True)
            return res

        # --- both accept: the first pickle's root
        try:
            ref = record_ref.graph_root(data, 0)
            ref = run_vectors.parse(json.dumps(ref, allow_nan=False))
        except RefTimeout:
            res.update(agree=False, category="reference: timed out",
                       detail="graph_root not done in %.0f s" % soft_timeout)
            return res
        except BaseException as e:           # noqa: B902
            res.update(agree=False,
                       category="reference: graph_root fails (%s) where the C "
                                "unpickler loads" % type(e).__name__,
                       detail="%s: %s" % (type(e).__name__, str(e)[:300]))
            return res
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        parsed = run_vectors.parse(pvm["stdout"])
        graph = dict(parsed[1])["graphs"][0]
        root = dict(graph[1])["root"]
    except Exception as e:
        res.update(agree=False, category="picklevm: no graphs[0].root",
                   detail="%s: %s" % (type(e).__name__, e))
        return res
    try:
        d = run_vectors.first_diff(root, ref)
    except RecursionError:
        d = None if root == ref else "root: too deep to describe"
    if d is None:
        res.update(agree=True)
        return res
    if container != "pickle":
        cat = "graph: joblib container"
    else:
        cat = graph_category(d)
    res.update(agree=False, category=cat, detail=d[:600])
    return res


def worker_main(conn, mem_mb, soft_timeout):
    _worker_setup(mem_mb)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        path, pvm = task
        try:
            res = compare(path, pvm, mem_mb, soft_timeout)
        except BaseException as e:           # noqa: B902
            res = {"path": path, "agree": False,
                   "category": "reference: internal error (%s)"
                               % type(e).__name__,
                   "detail": str(e)[:300]}
        try:
            conn.send(res)
        except Exception as e:
            conn.send({"path": path, "agree": False,
                       "category": "reference: unsendable result",
                       "detail": str(e)[:300]})


# ---------------------------------------------------------------------------
# Parent side.

class RefWorker:
    """One reference worker process, owned by one thread."""

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

    def run(self, path, pvm):
        if self.proc is not None and self.tasks >= _REF_TASKS_PER_WORKER:
            self._stop(kill=False)
        if self.proc is None:
            self._start()
            self.tasks = 0
        self.tasks += 1
        try:
            self.conn.send((path, pvm))
            if not self.conn.poll(self.hard):
                self._stop(kill=True)
                return {"path": path, "agree": False,
                        "category": "reference: timed out (worker killed)",
                        "detail": "no answer in %.0f s" % self.hard}
            return self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(1)
            code = self.proc.exitcode
            self._stop(kill=True)
            return {"path": path, "agree": False,
                    "category": "reference: worker died",
                    "detail": "exit code %s" % code}


def run_picklevm(picklevm, extra, path, timeout):
    t0 = time.monotonic()
    try:
        p = subprocess.run([picklevm, "trace", path, "--format", "json"] + extra,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"rc": None, "stdout": "", "stderr": "", "timeout": timeout,
                "seconds": time.monotonic() - t0}
    return {"rc": p.returncode,
            "stdout": p.stdout.decode("utf-8", "replace"),
            "stderr": p.stderr.decode("utf-8", "replace"),
            "timeout": None, "seconds": time.monotonic() - t0}


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
        files = files[:limit]
    return files


def summarize(results, total):
    agree = sum(1 for r in results if r.get("agree"))
    cats = collections.OrderedDict()
    for r in results:
        if r.get("agree"):
            continue
        c = cats.setdefault(r["category"], {"count": 0, "examples": [],
                                            "detail": r.get("detail"),
                                            "opcodes": collections.Counter()})
        c["count"] += 1
        if len(c["examples"]) < 3:
            c["examples"].append(r["path"])
        if r.get("opcode"):
            c["opcodes"][r["opcode"]] += 1
    ordered = sorted(cats.items(), key=lambda kv: (-kv[1]["count"], kv[0]))
    return agree, total - agree, ordered


def main():
    ap = argparse.ArgumentParser(
        description="replay corpora through picklevm trace and CPython's "
                    "stubbed unpicklers; report every disagreement")
    ap.add_argument("--picklevm", required=True, help="the picklevm binary")
    ap.add_argument("dirs", nargs="+", metavar="DIR",
                    help="folders (walked recursively) or files")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--limit", type=int, default=None,
                    help="replay at most N files (the first N in path order)")
    ap.add_argument("--report", help="write the summary as JSON to FILE")
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="picklevm's time per input (default 5 s)")
    ap.add_argument("--ref-timeout", type=float, default=20.0,
                    help="the reference's time per input (default 20 s; the "
                         "worker is killed after three times that)")
    ap.add_argument("--ref-mem-mb", type=int, default=2048,
                    help="address-space cap of a reference worker (MiB)")
    ap.add_argument("--picklevm-arg", action="append", default=[],
                    help="an extra argument for picklevm trace "
                         "(e.g. --no-default-allowlist); repeatable")
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
    total = len(files)

    ctx = multiprocessing.get_context("spawn")
    local = threading.local()
    workers = []
    wlock = threading.Lock()
    done = [0]
    t0 = time.monotonic()

    def one(path):
        w = getattr(local, "worker", None)
        if w is None:
            w = local.worker = RefWorker(ctx, args.ref_mem_mb,
                                         args.ref_timeout, 3 * args.ref_timeout)
            with wlock:
                workers.append(w)
        pvm = run_picklevm(picklevm, args.picklevm_arg, path, args.timeout)
        res = w.run(path, pvm)
        with wlock:
            done[0] += 1
            if not args.quiet and (done[0] % 500 == 0 or done[0] == total):
                sys.stderr.write("differential: %d/%d (%.0f s)\n"
                                 % (done[0], total, time.monotonic() - t0))
        return res

    try:
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as ex:
            results = list(ex.map(one, files))
    finally:
        for w in workers:
            w.close()

    agree, disagree, cats = summarize(results, total)
    out = []
    out.append("differential: %d inputs from %s" % (total, " ".join(args.dirs)))
    out.append("picklevm: %s %s" % (picklevm, " ".join(args.picklevm_arg)))
    out.append("agreements: %d" % agree)
    out.append("disagreements: %d in %d categories" % (disagree, len(cats)))
    for name, c in cats:
        out.append("")
        out.append("  %5d  %s" % (c["count"], name))
        if c["opcodes"]:
            out.append("         opcodes: %s" % ", ".join(
                "%s %d" % kv for kv in c["opcodes"].most_common(6)))
        for e in c["examples"]:
            out.append("         e.g. %s" % e)
        if c["detail"]:
            det = str(c["detail"]).replace("\n", " ")
            out.append("         first: %s" % (det if len(det) <= 240
                                                else det[:237] + "..."))
    out.append("")
    out.append("differential: %d agree, %d disagree" % (agree, disagree))
    print("\n".join(out))

    if args.report:
        rep = {
            "picklevm": picklevm,
            "picklevm_args": args.picklevm_arg,
            "inputs": args.dirs,
            "total": total,
            "agree": agree,
            "disagree": disagree,
            "categories": [
                {"category": name, "count": c["count"],
                 "examples": c["examples"], "first_detail": c["detail"],
                 "opcodes": dict(c["opcodes"].most_common())}
                for name, c in cats],
            "disagreements": [
                {k: r.get(k) for k in ("path", "category", "detail", "opcode",
                                       "picklevm", "picklevm_error",
                                       "reference", "reference_error",
                                       "python_unpickler", "known")}
                for r in results if not r.get("agree")],
        }
        with open(args.report, "w") as f:
            json.dump(rep, f, indent=1, ensure_ascii=False)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
