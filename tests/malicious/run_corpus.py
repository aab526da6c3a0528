#!/usr/bin/python3
"""Check picklevm against the malicious corpus, and for false positives.

    /usr/bin/python3 tests/malicious/run_corpus.py --picklevm build/picklevm
        [--corpus DIR] [--benign DIR]... [-k SUBSTRING] [-j JOBS] [--timeout S]

For every file of the corpus (tests/malicious/corpus/, made by
gen_corpus.py) and its NAME.expect.json sidecar:

  load    ``picklevm load FILE`` exits with ``load_exit`` (1 for almost all);
          a refusal / error prints exactly one line on stderr naming the
          byte offset, and nothing on stdout.  A file whose ``load_exit`` is
          0 must print a picklevm-graph/1 document with a warning (bytes
          after STOP) and no $call in it.
  scan    ``picklevm scan FILE --format jsonl`` exits 1, prints one object
          with verdict ``unsafe``, and its findings include every name in
          ``dangerous`` (not allowed) and every non-global finding the
          sidecar lists (``findings``: persistent ids, extension codes).
  trace   ``picklevm trace FILE --format json`` exits 1; its ``calls``
          include every expected call, in order, with its arguments (and the
          keyword arguments the sidecar lists, looked up in the call record
          or the graph's $call of the same offset).
  python  ``picklevm trace FILE --format python`` exits 1 and mentions every
          dangerous name (as ``module:qualname`` or a ``from module import``
          line) and marks something NOT ADMITTED.
  sarif   ``picklevm scan FILE --format sarif`` exits 1 and is a valid SARIF
          2.1.0 log: version "2.1.0", runs[].tool.driver.name, and each
          result with ruleId, level, message.text and
          locations[].physicalLocation.{artifactLocation.uri,
          region.byteOffset}; at least one result.

``--benign DIR`` (repeatable; folders that do not exist are skipped) scans
every file in DIR recursively -- sidecars (*.json, *.py, *.md, *.txt) left
out -- and requires verdict ``clean`` with no finding outside the policy:
zero false positives.

Prints every failure (file, check, what picklevm printed), then
``malicious: N passed, M failed`` (a corpus file passes when all its checks
pass) and, with --benign, ``benign: N passed, M failed``; exits 1 if
anything failed.
"""

import os
import sys

PY = "/usr/bin/python3"
if os.path.realpath(sys.executable) != os.path.realpath(PY):
    os.execv(PY, [PY, "-s", os.path.abspath(__file__)] + sys.argv[1:])

sys.dont_write_bytecode = True

import argparse               # noqa: E402
import concurrent.futures     # noqa: E402
import json                   # noqa: E402
import re                     # noqa: E402
import subprocess             # noqa: E402
import threading              # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIDE_EXT = (".json", ".py", ".md", ".txt")
MAX_SHOW = 1500


# ---------------------------------------------------------------------------
# Running picklevm

class Result:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    def show(self):
        def cut(s):
            s = s.decode("utf-8", "replace") if isinstance(s, bytes) else s
            return s if len(s) <= MAX_SHOW else s[:MAX_SHOW] + " ...<%d more chars>" % (len(s) - MAX_SHOW)
        parts = ["$ %s" % " ".join(self.argv[1:]), "exit %s" % self.rc]
        if self.out:
            parts.append("stdout: " + cut(self.out).rstrip("\n"))
        if self.err:
            parts.append("stderr: " + cut(self.err).rstrip("\n"))
        return "\n".join(parts)


def run(picklevm, args, timeout):
    argv = [picklevm] + args
    try:
        p = subprocess.run(argv, capture_output=True, timeout=timeout)
        rc = p.returncode
        if rc < 0:
            rc = "killed by signal %d (crash)" % -rc
        return Result(argv, rc, p.stdout, p.stderr)
    except subprocess.TimeoutExpired as e:
        return Result(argv, "timeout after %ss" % timeout, e.stdout or b"", e.stderr or b"")


# ---------------------------------------------------------------------------
# Graph-json comparison

class Resolver:
    """Resolves picklevm's {"$id", "$value"} / {"$ref"} within one value."""

    def __init__(self):
        self.ids = {}

    def __call__(self, v):
        while isinstance(v, dict):
            if "$id" in v and "$value" in v and len(v) == 2:
                self.ids[v["$id"]] = v["$value"]
                v = v["$value"]
            elif "$ref" in v and len(v) == 1:
                v = self.ids.get(v["$ref"], v)
                if isinstance(v, dict) and "$ref" in v:
                    return v
            else:
                break
        return v


RECORDS = ("$call", "$object")


def match(exp, act, res):
    """Does the actual value match the expected one?  $call / $object
    records match as subsets; everything else exactly."""
    act = res(act)
    if isinstance(exp, dict):
        if not isinstance(act, dict):
            return False
        if len(exp) == 1 and next(iter(exp)) in RECORDS:
            key = next(iter(exp))
            if list(act) != [key] or not isinstance(act[key], dict):
                return False
            return all(k in act[key] and match(v, act[key][k], res) for k, v in exp[key].items())
        if list(exp) != list(act):
            return False
        return all(match(v, act[k], res) for k, v in exp.items())
    if isinstance(exp, list):
        return isinstance(act, list) and len(act) == len(exp) and all(match(e, a, res) for e, a in zip(exp, act))
    if type(exp) is not type(act):
        return False
    return exp == act


def fully_resolve(v, res=None, depth=0):
    """Expand $id/$value/$ref (for printing and searching)."""
    res = res or Resolver()
    v = res(v)
    if depth > 200:
        return v
    if isinstance(v, list):
        return [fully_resolve(x, res, depth + 1) for x in v]
    if isinstance(v, dict):
        return {k: fully_resolve(x, res, depth + 1) for k, x in v.items()}
    return v


def walk_records(v, out, res=None, depth=0):
    """Every $call record in a graph value."""
    res = res or Resolver()
    v = res(v)
    if depth > 100000:
        return
    if isinstance(v, list):
        for x in v:
            walk_records(x, out, res, depth + 1)
    elif isinstance(v, dict):
        if "$call" in v and isinstance(v["$call"], dict):
            out.append(v["$call"])
        for x in v.values():
            walk_records(x, out, res, depth + 1)


def contains_call(v):
    out = []
    walk_records(v, out)
    return bool(out)


# ---------------------------------------------------------------------------
# Checks of one corpus file

def parse_json(data):
    try:
        return json.loads(data.decode("utf-8")), None
    except Exception as e:   # noqa: BLE001
        return None, "not valid JSON (%s)" % e


def check_load(r, meta):
    want = meta["load_exit"]
    wants = want if isinstance(want, list) else [want]
    if r.rc not in wants:
        return "exit %s, expected %s" % (r.rc, " or ".join(map(str, wants)))
    want = r.rc
    if want == 0:
        doc, err = parse_json(r.out)
        if err:
            return "stdout " + err
        if doc.get("format") != "picklevm-graph/1":
            return "stdout is not a picklevm-graph/1 document"
        if meta.get("load_warning", True) and not doc.get("warnings"):
            return "no warning in the document (bytes after the first STOP)"
        if contains_call(doc.get("root")):
            return "a strict load produced a $call record"
        return None
    lines = [ln for ln in r.err.decode("utf-8", "replace").split("\n") if ln.strip()]
    if len(lines) != 1:
        return "expected exactly one line on stderr, got %d" % len(lines)
    if not re.search(r"\boffset \d+", lines[0]):
        return "the stderr line does not name a byte offset"
    if r.out.strip():
        return "a refusal printed something on stdout"
    return None


def check_scan(r, meta):
    if r.rc != 1:
        return "exit %s, expected 1" % r.rc
    lines = [ln for ln in r.out.decode("utf-8", "replace").split("\n") if ln.strip()]
    if len(lines) != 1:
        return "expected one JSON line, got %d" % len(lines)
    try:
        doc = json.loads(lines[0])
    except ValueError as e:
        return "not valid JSON (%s)" % e
    problems = []
    if doc.get("verdict") != "unsafe":
        problems.append("verdict %r, expected 'unsafe'" % doc.get("verdict"))
    findings = doc.get("findings") or []
    for name in meta["dangerous"]:
        hits = [f for f in findings if f.get("global") == name]
        if not hits:
            problems.append("no finding for %s" % name)
        elif all(f.get("allowed") for f in hits):
            problems.append("%s is reported as allowed" % name)
    for want in meta.get("findings", []):
        ok = any(f.get("use") == want["use"] and not f.get("allowed")
                 and ("detail" not in want or f.get("detail") == want["detail"]) for f in findings)
        if not ok:
            problems.append("no %s finding%s" % (want["use"], " with detail %r" % want["detail"] if "detail" in want else ""))
    for f in findings:
        for k in ("global", "use", "offset", "allowed"):
            if k not in f:
                problems.append("a finding lacks %r" % k)
                break
    return "; ".join(problems) or None


def describe_call(c):
    return "%s(%s)" % (c[0] if c[0] is not None else "<non-global>",
                       ", ".join(json.dumps(a, ensure_ascii=False) for a in c[1]))


def check_trace_json(r, meta):
    if r.rc != 1:
        prefix = "exit %s, expected 1" % r.rc
    else:
        prefix = None
    doc, err = parse_json(r.out)
    if err:
        return "; ".join(x for x in (prefix, "stdout " + err) if x)
    calls = doc.get("calls")
    if not isinstance(calls, list):
        return "; ".join(x for x in (prefix, "no 'calls' list") if x)
    problems = [prefix] if prefix else []
    # expected calls, as an ordered subsequence
    pos = 0
    found_at = {}
    for i, (name, args) in enumerate(meta["calls"]):
        j = pos
        hit = None
        while j < len(calls):
            c = calls[j]
            if c.get("callable") == name and match(args, c.get("args"), Resolver()):
                hit = j
                break
            j += 1
        if hit is None:
            anywhere = [k for k, c in enumerate(calls)
                        if c.get("callable") == name and match(args, c.get("args"), Resolver())]
            if anywhere:
                problems.append("call %s is out of order" % describe_call((name, args)))
                found_at[i] = anywhere[0]
            else:
                same = [c for c in calls if c.get("callable") == name]
                if same:
                    problems.append("call %s has other arguments: %s" % (
                        describe_call((name, args)),
                        "; ".join(json.dumps(fully_resolve(c.get("args")), ensure_ascii=False) for c in same)))
                else:
                    problems.append("call %s missing" % describe_call((name, args)))
        else:
            found_at[i] = hit
            pos = hit + 1
            if calls[hit].get("admitted") and (name in meta["dangerous"] or name is None):
                problems.append("call %s is marked admitted" % describe_call((name, args)))
    # keyword arguments
    for idx, kwargs in meta.get("kwargs", {}).items():
        i = int(idx)
        if i not in found_at:
            continue
        c = calls[found_at[i]]
        if "kwargs" in c:
            got = c["kwargs"]
        else:
            recs = []
            for g in doc.get("graphs") or []:
                walk_records(g.get("root"), recs)
            got = next((rec.get("kwargs") for rec in recs if rec.get("offset") == c.get("offset")), None)
        if got is None or not match(kwargs, got, Resolver()):
            problems.append("call %s: keyword arguments %s not shown (got %s)" % (
                describe_call(meta["calls"][i]), json.dumps(kwargs), json.dumps(got)))
    for name in meta["dangerous"]:
        for c in calls:
            if c.get("callable") == name and c.get("admitted"):
                problems.append("call of %s marked admitted" % name)
    if not isinstance(doc.get("findings"), list):
        problems.append("no 'findings' list")
    return "; ".join(problems) or None


def mentions(text, name):
    if name in text:
        return True
    module, _, qual = name.partition(":")
    head, dot, rest = qual.partition(".")
    pat = r"^from %s import %s(\s+as\s+(\w+))?\s*$" % (re.escape(module), re.escape(head))
    m = re.search(pat, text, re.M)
    if not m:
        return False
    return not dot or ("." + rest) in text


def check_trace_python(r, meta):
    problems = []
    if r.rc != 1:
        problems.append("exit %s, expected 1" % r.rc)
    text = r.out.decode("utf-8", "replace")
    for name in meta["dangerous"]:
        if not mentions(text, name):
            problems.append("does not mention %s" % name)
    if "NOT ADMITTED" not in text:
        problems.append("nothing is marked NOT ADMITTED")
    return "; ".join(problems) or None


def check_sarif(r, meta):
    problems = []
    if r.rc != 1:
        problems.append("exit %s, expected 1" % r.rc)
    doc, err = parse_json(r.out)
    if err:
        return "; ".join(problems + ["stdout " + err])
    if doc.get("version") != "2.1.0":
        problems.append("version %r, expected '2.1.0'" % doc.get("version"))
    runs = doc.get("runs")
    if not isinstance(runs, list) or not runs:
        return "; ".join(problems + ["no runs"])
    nresults = 0
    for run_ in runs:
        drv = ((run_.get("tool") or {}).get("driver") or {})
        if not isinstance(drv.get("name"), str):
            problems.append("a run has no tool.driver.name")
        results = run_.get("results")
        if not isinstance(results, list):
            problems.append("a run has no results list")
            continue
        for res in results:
            nresults += 1
            miss = []
            if not isinstance(res.get("ruleId"), str):
                miss.append("ruleId")
            if res.get("level") not in ("none", "note", "warning", "error"):
                miss.append("level")
            if not isinstance((res.get("message") or {}).get("text"), str):
                miss.append("message.text")
            locs = res.get("locations")
            if not isinstance(locs, list) or not locs:
                miss.append("locations")
            else:
                for loc in locs:
                    pl = loc.get("physicalLocation") or {}
                    if not isinstance((pl.get("artifactLocation") or {}).get("uri"), str):
                        miss.append("physicalLocation.artifactLocation.uri")
                    bo = (pl.get("region") or {}).get("byteOffset")
                    if not isinstance(bo, int) or isinstance(bo, bool) or bo < 0:
                        miss.append("physicalLocation.region.byteOffset")
            if miss:
                problems.append("a result lacks %s" % ", ".join(sorted(set(miss))))
    if nresults == 0:
        problems.append("no results for an unsafe file")
    return "; ".join(problems) or None


def check_file(picklevm, path, meta, timeout):
    steps = [
        ("load", ["load", path], check_load),
        ("scan", ["scan", path, "--format", "jsonl"], check_scan),
        ("trace", ["trace", path, "--format", "json"], check_trace_json),
        ("python", ["trace", path, "--format", "python"], check_trace_python),
        ("sarif", ["scan", path, "--format", "sarif"], check_sarif),
    ]
    failures = []
    for name, args, fn in steps:
        r = run(picklevm, args, timeout)
        if isinstance(r.rc, str):
            failures.append((name, r.rc, r))
            continue
        try:
            why = fn(r, meta)
        except Exception as e:   # noqa: BLE001 -- a checker bug must not hide the rest
            why = "checker raised %s: %s" % (type(e).__name__, e)
        if why:
            failures.append((name, why, r))
    return failures


# ---------------------------------------------------------------------------
# Benign folders

def benign_files(dirs):
    out = []
    for d in dirs:
        if not os.path.isdir(d):
            print("benign: skipping %s (no such folder)" % d)
            continue
        for root, subdirs, files in os.walk(d):
            subdirs.sort()
            for f in sorted(files):
                if f.endswith(SIDE_EXT):
                    continue
                out.append(os.path.join(root, f))
    return out


def check_benign(picklevm, files, timeout, jobs):
    """(passed, failures) where failures = [(path, why, Result)]."""
    chunks = [files[i:i + 64] for i in range(0, len(files), 64)]
    failures = []
    passed = 0

    def one(chunk):
        return chunk, run(picklevm, ["scan", "--format", "jsonl"] + chunk, timeout * 4)

    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        for chunk, r in ex.map(one, chunks):
            if isinstance(r.rc, str):
                for p in chunk:
                    failures.append((p, r.rc, r))
                continue
            seen = {}
            for line in r.out.decode("utf-8", "replace").split("\n"):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                seen[doc.get("path")] = doc
            for p in chunk:
                doc = seen.get(p)
                if doc is None:
                    failures.append((p, "no scan line for the file", r))
                    continue
                bad = [f for f in doc.get("findings") or [] if not f.get("allowed")]
                if doc.get("verdict") != "clean" or bad:
                    names = sorted({"%s (%s)" % (f.get("global") or f.get("detail"), f.get("use")) for f in bad})
                    why = "verdict %s%s%s" % (doc.get("verdict"),
                                              "; outside the policy: " + ", ".join(names) if names else "",
                                              "; error: %s" % doc.get("error") if doc.get("error") else "")
                    failures.append((p, why, Result(r.argv[:1] + ["scan", "--format", "jsonl", p], r.rc,
                                                    json.dumps(doc).encode(), b"")))
                else:
                    passed += 1
    return passed, failures


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--picklevm", required=True)
    ap.add_argument("--corpus", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--benign", action="append", default=[], metavar="DIR")
    ap.add_argument("-k", default="", help="only corpus files whose name contains this")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 4)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()
    picklevm = os.path.abspath(a.picklevm)
    if not os.access(picklevm, os.X_OK):
        print("run_corpus: %s is not an executable" % picklevm)
        return 2

    # deeply nested documents: json's decoder recurses
    sys.setrecursionlimit(1000000)
    threading.stack_size(512 * 1024 * 1024)
    names = sorted(f for f in os.listdir(a.corpus)
                   if not f.endswith(".expect.json") and a.k in f)
    cases = []
    bad_meta = []
    for f in names:
        stem = f.rsplit(".", 1)[0]
        side = os.path.join(a.corpus, stem + ".expect.json")
        try:
            with open(side, encoding="utf-8") as fh:
                meta = json.load(fh)
        except (OSError, ValueError) as e:
            bad_meta.append((f, "sidecar", "cannot read %s: %s" % (side, e)))
            continue
        cases.append((f, meta))

    failed = []   # (file, check, why, Result|None)
    passed = 0
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        futs = {ex.submit(check_file, picklevm, os.path.join(a.corpus, f), meta, a.timeout): f
                for f, meta in cases}
        results = {futs[fu]: fu.result() for fu in concurrent.futures.as_completed(futs)}
    for f, _ in cases:
        fails = results[f]
        if fails:
            for check, why, r in fails:
                failed.append((f, check, why, r))
        else:
            passed += 1
    for f, check, why in bad_meta:
        failed.append((f, check, why, None))
    nfailed_files = len({x[0] for x in failed})

    bpassed = bfailed = 0
    bfailures = []
    if a.benign:
        files = benign_files(a.benign)
        bpassed, bfailures = check_benign(picklevm, files, a.timeout, a.jobs)
        bfailed = len(bfailures)

    for f, check, why, r in failed:
        print("FAIL %s [%s]: %s" % (f, check, why))
        if r is not None:
            print("    " + r.show().replace("\n", "\n    "))
    for p, why, r in bfailures:
        print("FALSE POSITIVE %s: %s" % (p, why))
    print("malicious: %d passed, %d failed" % (passed, nfailed_files))
    if a.benign:
        print("benign: %d passed, %d failed" % (bpassed, bfailed))
    return 1 if failed or bfailures else 0


if __name__ == "__main__":
    sys.exit(main())
