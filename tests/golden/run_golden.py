#!/usr/bin/python3
"""Golden tests of `picklevm trace` (both formats) on representative files.

    /usr/bin/python3 tests/golden/run_golden.py --picklevm PATH [--update]

Each case is a file of the malicious corpus or of the fixtures; its expected
output is tests/golden/<case>.trace.py and <case>.trace.json.  The goldens
were written by --update and read line by line against the file's
disassembly (tests/golden/README.md says what each shows); a change in the
rendering shows up here as a diff to review, then --update.
"""
import argparse
import difflib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)

CASES = {
    "os_system_p0": "malicious/corpus/os_system_p0.pkl",
    "os_system_p4": "malicious/corpus/os_system_p4.pkl",
    "builtins_getattr_chain": "malicious/corpus/builtins_getattr_chain.pkl",
    "stack_global_memo_operands": "malicious/corpus/stack_global_memo_operands.pkl",
    "newobj_ex_popen_kwargs": "malicious/corpus/newobj_ex_popen_kwargs.pkl",
    "build_setstate_on_object": "malicious/corpus/build_setstate_on_object.pkl",
    "payload_before_broken_bytes": "malicious/corpus/payload_before_broken_bytes.pkl",
    "payload_after_first_stop": "malicious/corpus/payload_after_first_stop.pkl",
    "persid_text_call": "malicious/corpus/persid_text_call.pkl",
    "sklearn_state_dict_call": "malicious/corpus/sklearn_state_dict_call.pkl",
    "joblib_object_array_payload": "malicious/corpus/joblib_object_array_payload.joblib",
    "pipeline_clean": "fixtures/sample/pipeline.pkl",
}


def run(picklevm, path, fmt):
    p = subprocess.run([picklevm, "trace", path, "--format", fmt],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    # The path is part of stderr only; stdout and the exit status are golden.
    return "exit %d\n%s" % (p.returncode, p.stdout.decode("utf-8"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--picklevm", required=True)
    ap.add_argument("--update", action="store_true")
    a = ap.parse_args()
    passed = failed = 0
    for case, rel in sorted(CASES.items()):
        path = os.path.join(TESTS, rel)
        for fmt, ext in (("python", "trace.py"), ("json", "trace.json")):
            got = run(a.picklevm, path, fmt)
            golden = os.path.join(HERE, "%s.%s" % (case, ext))
            if a.update:
                with open(golden, "w") as f:
                    f.write(got)
                continue
            want = open(golden).read() if os.path.exists(golden) else ""
            if got == want:
                passed += 1
                continue
            failed += 1
            print("FAIL %s (%s)" % (case, fmt))
            sys.stdout.writelines(list(difflib.unified_diff(
                want.splitlines(True), got.splitlines(True),
                "golden", "picklevm"))[:40])
    if not a.update:
        print("golden: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
