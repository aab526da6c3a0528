#!/usr/bin/python3
"""Protocol 0's FLOAT and INT opcodes against CPython, on hard inputs.

    /usr/bin/python3 tests/differential/number_text.py --picklevm PATH [--seed S] [--count N]

FLOAT: picklevm parses FLOAT's line with std::from_chars and falls back to glibc's
strtod for what from_chars does not take whole (see vm/text/numbers.cc);
both must round exactly as Python does.  The inputs are drawn from --seed:
shortest reprs of random doubles (all bit patterns), %.Ne forms, long digit
strings (up to 120 digits, past the 17 that decide a double), integer
mantissas with exponents from -400 to 400 (subnormals, underflow to zero,
overflow), and fixed edge cases (the halfway points around the largest
double and the smallest subnormal).

INT: CPython reads the line with strtol(s, &end, 0) and falls back to
int(s, 0) (so "007" is 7 but "0o7" goes the long way, "00"/"01" are
False/True, "+5", " 5", "1_000" have their own fates); picklevm reads plain
decimal lines on its fast path and hands everything else to the same
emulation.  The inputs: random ints of every width, with signs, leading
zeros, spaces, underscores, prefixes and the int64 boundaries.

Every line Python's pickle.loads accepts is checked exactly (floats bit for
bit, sign of zero included; ints and bools by value and type) through one
`picklevm load` of a list of them; every line it refuses must make picklevm
refuse too (exit status 2).

The last line is ``number_text: N passed, M failed``; exit status 1 if any
failed.  Only the standard library is used.
"""

import argparse
import json
import math
import os
import pickle
import random
import struct
import subprocess
import sys
import tempfile

FIXED = ["1.", ".5", "0.0", "-0.0", "1e308", "2e308", "4.9e-324", "2.4e-324",
         "2.5e-324", "1e-400", "2.2250738585072011e-308",
         "0.1000000000000000055511151231257827021181583404541015625",
         "9007199254740993", "1.7976931348623157e308",
         "1.7976931348623158e308", "1.7976931348623159e308", "1E5", "1e+05",
         "00001.5", "1e-5", "123456789012345678901234567890e-10",
         # The shapes around FLOAT's repr fast path (numbers.cc): what
         # from_chars could read but Python refuses, or reads otherwise.
         "1.5\x00", "1.5\x00junk", "1.5x", "1_0.5", "1.5 ", " 1.5", "1e",
         "1e+", ".", "-", "-.", "1..2", "1.5e5.5", "0x1p3", "1.5\r", "+1.5",
         "-inf", "nan", "infinity", "-0", "-1e-400", "-1e400", "1e400",
         "-.5", "5.", "-5.e3", ".e3", "1e3.", "1.5-", "--1.5", "-+1.5"]


INT_FIXED = ["0", "-0", "00", "01", "02", "000", "001", "007", "08", "0x1f",
             "0o17", "0b101", "1_000", "+5", " 5", "5 ", "\t7", "-", "",
             "9223372036854775807", "9223372036854775808",
             "-9223372036854775808", "-9223372036854775809",
             "123456789012345678", "1234567890123456789", "99999999999999999999",
             "-123456789012345678", "1" * 50, "12a", "1.5", "1e3", "--1",
             # Big decimal texts are kept as their digits (no arithmetic):
             # underscores, the digit limit, and -0's kin.
             "12_345_678_901_234_567_890_123", "-" + "7" * 4300,
             "1" + "0" * 4299, "4" * 4301, "-" + "0" * 30, "0" * 30,
             "10000000000000000000", "-10000000000000000000",
             "18446744073709551615", "18446744073709551616"]


def draw_int(rng):
    k = rng.randrange(4)
    if k == 0:
        t = str(rng.randrange(10 ** rng.randrange(1, 25)))
    elif k == 1:
        t = str(rng.getrandbits(rng.randrange(1, 70)))
    elif k == 2:
        t = "0" * rng.randrange(1, 3) + str(rng.randrange(10 ** 6))
    else:
        t = rng.choice(["", " ", "+", "_"]).join(
            str(rng.randrange(1000)) for _ in range(rng.randrange(1, 3)))
    return ("-" + t) if rng.random() < 0.3 else t


def draw(rng):
    k = rng.randrange(5)
    if k == 0:
        bits = rng.getrandbits(64)
        t = repr(struct.unpack("<d", struct.pack("<Q", bits))[0])
    elif k == 1:
        t = "%.*e" % (rng.randrange(0, 40), rng.uniform(-1e300, 1e300))
    elif k == 2:
        digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))
        t = digits(rng.randrange(1, 60)) + "." + digits(rng.randrange(0, 60))
    elif k == 3:
        t = "%de%d" % (rng.randrange(1, 10 ** rng.randrange(1, 25)),
                       rng.randrange(-400, 400))
    else:
        t = repr(rng.random() * float("1e%d" % rng.randrange(-320, 308)))
    return ("-" + t) if rng.random() < 0.3 else t


def python_value(op, text):
    """What pickle.loads makes of an INT/FLOAT line, or None if it refuses."""
    try:
        return pickle.loads(op + text.encode() + b"\n.")
    except Exception:  # noqa: BLE001 - any refusal counts
        return None


def same(a, b):
    if isinstance(a, float):
        if not isinstance(b, float):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return type(a) is type(b) and a == b


def decode(got, op):
    """picklevm's JSON value back to a Python number (graph-json.md)."""
    if isinstance(got, dict):
        if "$float" in got:
            return float(got["$float"])
        if "$int" in got:
            return int(got["$int"])
    if op == b"F":
        return float(got)
    return got


def check(picklevm, tmp, op, cases):
    """(passed, failed) for one opcode's lines."""
    accepted = [(t, python_value(op, t)) for t in cases]
    refused = [t for t, v in accepted if v is None]
    accepted = [(t, v) for t, v in accepted
                if v is not None and not (isinstance(v, float) and math.isinf(v))]
    passed = failed = 0
    path = os.path.join(tmp, "numbers.pkl")
    with open(path, "wb") as f:
        f.write(b"(l" + b"".join(op + t.encode() + b"\na"
                                 for t, _ in accepted) + b".")
    out = subprocess.run([picklevm, "load", path], capture_output=True,
                         text=True)
    root = json.loads(out.stdout)["root"] if out.returncode == 0 else []
    if len(root) != len(accepted):
        print(f"FAIL: load exit {out.returncode}: {out.stderr[:300]}")
        failed += len(accepted)
    else:
        for (t, want), got in zip(accepted, root):
            if same(want, decode(got, op)):
                passed += 1
            else:
                failed += 1
                print(f"FAIL: {op.decode()}{t!r}: picklevm {got!r}, "
                      f"Python {want!r}")
    for t in refused:
        with open(path, "wb") as f:
            f.write(op + t.encode() + b"\n.")
        r = subprocess.run([picklevm, "load", path], capture_output=True,
                           text=True)
        if r.returncode == 2:
            passed += 1
        else:
            failed += 1
            print(f"FAIL: {op.decode()}{t!r}: Python refuses, picklevm exit "
                  f"{r.returncode}")
    return passed, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--picklevm", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=5000)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    floats = FIXED + [draw(rng) for _ in range(a.count)]
    ints = INT_FIXED + [draw_int(rng) for _ in range(a.count)]
    with tempfile.TemporaryDirectory() as tmp:
        fp, ff = check(a.picklevm, tmp, b"F", floats)
        ip, if_ = check(a.picklevm, tmp, b"I", ints)
    passed, failed = fp + ip, ff + if_
    print(f"number_text: {passed} passed, {failed} failed "
          f"(FLOAT {fp}/{fp + ff}, INT {ip}/{ip + if_})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
