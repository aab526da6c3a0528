#!/usr/bin/python3
"""ctest's bench_drivers: both benchmark drivers build and measure.

    smoke_drivers.py --decode-bench PATH --bench-decode PATH FILE...

The drivers only run by hand (run_bench.py, Google Benchmark), so nothing
else would notice one that stopped working.  For each FILE this runs
decode_bench once per mode and checks what it reports against the file
(its size, a graph with nodes, opcodes found by the walk, a joblib file's
array regions, a time for every mode), then the Google Benchmark suite
once over all the files, checking that every operation ran on each.
Timings are not judged: they belong to the benchmark's report.
"""

import argparse
import json
import os
import subprocess
import sys

MODES = ["strict", "record", "walk", "memcpy", "sha256", "timer"]
SUITE_OPS = ["decode_strict", "decode_record", "opcode_walk", "memcpy"]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def run_json(what, argv, timeout):
    """The JSON document `argv` prints; fails unless it exits 0 with one."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        fail(f"{what}: exit {p.returncode}: {p.stderr.strip()}")
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        fail(f"{what}: not one JSON document ({e})")


def check_decode_bench(driver, path):
    r = run_json(f"decode_bench {path}",
                 [driver, path, "--modes", ",".join(MODES), "--repeat", "2",
                  "--min-seconds", "0"], 120)
    size = os.path.getsize(path)
    if r["bytes"] != size:
        fail(f"{path}: bytes {r['bytes']}, the file has {size}")
    if r["nodes"] <= 0 or r["arena_used"] <= 0:
        fail(f"{path}: the probe built no graph: {r}")
    if r["opcodes"] <= 0:
        fail(f"{path}: the walk found no opcodes")
    joblib = path.endswith(".joblib")
    if joblib != (r["joblib_regions"] > 0):
        fail(f"{path}: {r['joblib_regions']} joblib array regions")
    for mode in MODES:
        runs = r["runs"].get(mode)
        cpu = r["cpu"].get(mode) if "cpu" in r else None
        if not runs or len(runs) < 2 or not cpu or len(cpu) != len(runs):
            fail(f"{path}: mode {mode}: runs {runs}, cpu {cpu}")
        if min(runs) <= 0:
            fail(f"{path}: mode {mode}: a run of 0 ns")
    print(f"ok decode_bench {os.path.basename(path)}: {r['nodes']} nodes, "
          f"{r['opcodes']} opcodes, {r['joblib_regions']} regions")


def check_suite(driver, paths):
    doc = run_json("bench_decode", [driver, "--benchmark_min_time=0.001",
                                     "--benchmark_format=json"] + paths, 300)
    names = {b["name"] for b in doc.get("benchmarks", [])}
    for path in paths:
        for op in SUITE_OPS:
            if not any(n.startswith(op) and os.path.basename(path) in n
                       for n in names):
                fail(f"bench_decode: no {op} of {path} in {sorted(names)}")
    print(f"ok bench_decode: {len(names)} benchmarks")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--decode-bench", required=True)
    ap.add_argument("--bench-decode", required=True)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    for path in a.files:
        check_decode_bench(a.decode_bench, path)
    check_suite(a.bench_decode, a.files)


if __name__ == "__main__":
    main()
