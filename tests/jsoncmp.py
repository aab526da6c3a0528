"""Exact comparison of graph-json documents, shared by the test runners.

parse() keeps every number's text (an int and a float, 1e16 and 1e+16 are
different texts; floats compare by exact decimal value) and every object's
key order, so a comparison sees what a byte comparison would, without
depending on whitespace or string escaping.  first_diff() names the first
differing path.
"""
import decimal
import json

_DEC = decimal.Context(prec=2000)


class Num:
    """A JSON number: compared by `key`, shown as the text written."""
    __slots__ = ("key", "text")

    def __init__(self, key, text):
        self.key, self.text = key, text

    def __eq__(self, other):
        return isinstance(other, Num) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        return self.text


def _p_int(s):
    return Num(("int", s), s)


def _p_float(s):
    if not any(c in s for c in ".eE"):
        return Num(("float-without-point-or-exponent", s), s)
    return Num(("float", str(_DEC.normalize(decimal.Decimal(s)))), s)


def _p_const(s):
    return Num(("non-json-constant", s), s)


def _p_obj(pairs):
    return ("{}", tuple(pairs))


def parse(text):
    return json.loads(text, parse_int=_p_int, parse_float=_p_float,
                      parse_constant=_p_const, object_pairs_hook=_p_obj)


def _show(x):
    """JSON-like text of a parsed value, numbers as written."""
    if isinstance(x, Num):
        s = x.text
    elif isinstance(x, tuple) and len(x) == 2 and x[0] == "{}":
        s = "{" + ", ".join("%s: %s" % (json.dumps(k, ensure_ascii=False),
                                        _show(v)) for k, v in x[1]) + "}"
    elif isinstance(x, list):
        s = "[" + ", ".join(_show(v) for v in x) + "]"
    else:
        s = json.dumps(x, ensure_ascii=False)
    return s if len(s) <= 300 else s[:300] + "..."


def first_diff(a, b, path="root"):
    """A description of the first difference between parsed a and b."""
    if a == b:
        return None
    if isinstance(a, tuple) and isinstance(b, tuple) \
            and a[:1] == b[:1] == ("{}",):
        ka = [k for k, _ in a[1]]
        kb = [k for k, _ in b[1]]
        if ka != kb:
            return "%s: keys %s, expected %s" % (path, ka, kb)
        for (k, va), (_, vb) in zip(a[1], b[1]):
            d = first_diff(va, vb, "%s.%s" % (path, k))
            if d:
                return d
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return "%s: %d items, expected %d: got %s, expected %s" % (
                path, len(a), len(b), _show(a), _show(b))
        for i, (va, vb) in enumerate(zip(a, b)):
            d = first_diff(va, vb, "%s[%d]" % (path, i))
            if d:
                return d
    return "%s: got %s, expected %s" % (path, _show(a), _show(b))


