"""Reference encoder for picklevm's inert graph (format ``picklevm-graph/1``).

Given an ordinary Python value, this module produces the graph-json ``root``
that ``picklevm load`` must print for ``pickle.dumps(value, protocol=p)``, as
specified in ``/work/shared/spec/graph-json.md``.  It is the oracle of the
differential test (``run_differential.py``) and uses only the standard
library.

Supported values (exact types only; subclasses pickle differently and are
rejected with TypeError unless they use the hook below):
None, bool, int, float, complex, str, bytes, bytearray, list, tuple, dict,
set, frozenset, slice.

Public API
----------
``encode(value)``
    The ``root`` as a structure of dicts/lists/str/int/float/bool/None that
    ``json.dumps(..., allow_nan=False)`` can serialize.  Finite floats are
    left as Python floats on purpose: ``json.dumps`` writes them with
    ``float.__repr__``, which is exactly the text the contract asks for
    (``1.0``, ``-0.0``, ``1e-05``, ``1e+16``).  The encoder itself never
    recurses on the value's depth, but ``json.dumps``/``json.loads`` do, so a
    caller serializing a structure nested thousands deep must raise
    ``sys.setrecursionlimit`` (and run in a thread with a large stack).

``document(value, data, protocol, container="pickle", warnings=())``
    The whole document: format, source (size and sha256 of ``data``, the
    file's bytes), protocol (``None`` where the stream has no PROTO opcode),
    root and warnings.  ``stream_protocol(p)`` gives the ``protocol`` field
    CPython's ``pickle.dumps(..., protocol=p)`` leads to.

Identity and sharing
--------------------
The graph's identity is the pickle stream's, not Python's.  CPython's
pickler memoizes every object it writes by ``id()`` except None, bools, ints,
floats and the empty tuple ``()`` (written as a fresh EMPTY_TUPLE, or
MARK TUPLE, every time).  So:

* None/bool/int/float/str are never wrapped (str is memoized by the pickler,
  but the contract never wraps strings);
* every occurrence of ``()`` is a distinct value, even though CPython's
  ``()`` is a singleton: never wrapped;
* everything else is one value per ``id()``: an object reached more than once
  in value positions (counting every incoming edge) is written as
  ``{"$id": N, "$value": ...}`` at its first occurrence in document order and
  as ``{"$ref": N}`` afterwards; N counts from 0 in document order.  This
  includes CPython's cached singletons such as ``b''`` (and the one-byte
  bytes objects some constructors return).

Slice components are treated as value positions (the spec's list of value
positions does not name them; see run_differential.py for how the test
avoids depending on that).

Extension hook
--------------
A script can encode its own stub objects (say, a stand-in for a ``$global``
or an ``$object``) by giving their class a method::

    def __graph_json__(self, enc):
        return {"$object": {"class": "m:C", "via": "new",
                            "state": enc.value(self.state)}}

The method returns the object's *inner* encoding: JSON-able data (dicts with
str keys, lists/tuples, str, int, float, bool, None) in which each child
*value* of the graph is given as ``enc.value(child)``.  ``enc.value``
returns a placeholder; the encoder replaces it by the child's encoding
(including any ``$id``/``$ref`` wrapping), and placeholders are visited in the
order they appear in the returned data, which is document order.  A
placeholder used twice counts as two occurrences.  Anything written
literally (not via ``enc.value``) is copied as is and is not a value
position; ``enc.scalar(x)`` gives the plain encoding of a None/bool/int/
float/str for such places (a big int becomes ``{"$int": ...}``, nan becomes
``{"$float": "nan"}``).

The method is called once per object (by ``id()``), so it should be cheap
and pure.  Hooked objects are wrap-eligible (shared by ``id()``) unless the
class sets ``__graph_json_wrap__ = False``, which makes every occurrence an
independent, never-wrapped copy, as for ``$global`` (such objects must not
lie on a cycle).
"""

import base64
import hashlib
import math
import re

FORMAT = "picklevm-graph/1"

# Ints strictly inside (-2**53, 2**53) are plain JSON numbers.
_SAFE = 2 ** 53

_SURROGATE = re.compile("[\ud800-\udfff]")

# Types that are written inline and never wrapped.
_SCALAR_TYPES = (type(None), bool, int, float, str)

# Built-in types the encoder knows (exact type match).
_CONTAINERS = (list, tuple, dict, set, frozenset, slice)
_LEAVES = (bytes, bytearray, complex)


class _Child:
    """Placeholder for a child value inside a hook's inner encoding."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class HookEncoder:
    """The ``enc`` argument given to ``__graph_json__``."""

    def value(self, x):
        """A placeholder for ``x`` in a value position."""
        return _Child(x)

    def scalar(self, x):
        """The inline encoding of a None/bool/int/float/str (not a value position)."""
        if type(x) not in _SCALAR_TYPES:
            raise TypeError("scalar() takes None, bool, int, float or str, not %s"
                            % type(x).__name__)
        return _encode_scalar(x)


_HOOK_ENCODER = HookEncoder()


# ---------------------------------------------------------------- scalars

def encode_int(x):
    if -_SAFE < x < _SAFE:
        return x
    return {"$int": str(x)}


def encode_float(x):
    """A finite float stays a float (json.dumps writes repr(x)); else $float."""
    if math.isnan(x):
        return {"$float": "nan"}  # sign and payload are not kept
    if math.isinf(x):
        return {"$float": "inf" if x > 0 else "-inf"}
    return x


def encode_str(s):
    if _SURROGATE.search(s):
        return {"$str": [ord(c) for c in s]}
    return s


def _encode_scalar(x):
    t = type(x)
    if t is str:
        return encode_str(x)
    if t is bool or x is None:  # bool before int: True is an int too
        return x
    if t is int:
        return encode_int(x)
    return encode_float(x)


def _b64(b):
    return base64.b64encode(bytes(b)).decode("ascii")


def _is_plain_key(k):
    """Whether a dict key allows the plain JSON-object form."""
    return type(k) is str and not k.startswith("$") and not _SURROGATE.search(k)


# --------------------------------------------------------- classification

def _hook(x):
    return getattr(type(x), "__graph_json__", None)


def _wrappable(x):
    """Whether x has identity in the graph (x is not a scalar or ``()``)."""
    t = type(x)
    if t in _SCALAR_TYPES:
        return False
    if t is tuple:
        return len(x) > 0
    if t in _CONTAINERS or t in _LEAVES:
        return True
    if _hook(x) is not None:
        return bool(getattr(t, "__graph_json_wrap__", True))
    raise TypeError("refenc cannot encode a value of type %s" % t.__qualname__)


def _instantiate(template):
    """Copy a hook's inner encoding, turning placeholders into tasks.

    Returns (copy, tasks) where tasks lists (child, container, key) in
    document order; the encoder later stores the child's encoding at
    container[key].  Iterative, so a deep template is no problem either.
    """
    top = [None]
    tasks = []
    work = [(template, top, 0)]
    while work:
        node, cont, key = work.pop()
        t = type(node)
        if t is _Child:
            tasks.append((node.value, cont, key))
        elif t is dict:
            new = dict.fromkeys(node)
            cont[key] = new
            for k in reversed(list(node)):
                if type(k) is not str:
                    raise TypeError("hook output has a non-str object key %r" % (k,))
                work.append((node[k], new, k))
        elif t is list or t is tuple:
            new = [None] * len(node)
            cont[key] = new
            for i in range(len(node) - 1, -1, -1):
                work.append((node[i], new, i))
        elif node is None or t in (bool, int, float, str):
            cont[key] = node
        else:
            raise TypeError("hook output holds a %s; use enc.value() for values"
                            % t.__qualname__)
    return top[0], tasks


class _Encoder:
    def __init__(self):
        self.templates = {}  # id -> (object, template): each hook called once

    def _template(self, x):
        entry = self.templates.get(id(x))
        if entry is None:
            entry = (x, _hook(x)(x, _HOOK_ENCODER))
            self.templates[id(x)] = entry
        return entry[1]

    def _inner(self, x):
        """The inner encoding of a non-scalar x and its child tasks, in document order."""
        t = type(x)
        if t is bytes:
            return {"$bytes": _b64(x)}, ()
        if t is bytearray:
            return {"$bytearray": _b64(x)}, ()
        if t is complex:
            return {"$complex": [encode_float(x.real), encode_float(x.imag)]}, ()
        if t is list or t is tuple or t is set or t is frozenset:
            items = list(x)  # sets: iteration order, which is what the pickler writes
            out = [None] * len(items)
            tasks = [(v, out, i) for i, v in enumerate(items)]
            if t is list:
                return out, tasks
            return {"$" + t.__name__: out}, tasks
        if t is dict:
            if all(_is_plain_key(k) for k in x):
                out = dict.fromkeys(x)
                return out, [(v, out, k) for k, v in x.items()]
            pairs = []
            tasks = []
            for k, v in x.items():
                pair = [None, None]
                pairs.append(pair)
                tasks.append((k, pair, 0))
                tasks.append((v, pair, 1))
            return {"$dict": pairs}, tasks
        if t is slice:
            out = [None] * 3
            return {"$slice": out}, [(x.start, out, 0), (x.stop, out, 1), (x.step, out, 2)]
        # A hooked object (_wrappable() has rejected anything else by now).
        return _instantiate(self._template(x))

    def _children(self, x):
        return [task[0] for task in self._inner(x)[1]]

    def count_edges(self, root):
        """Pass 1: number of occurrences in value positions of every wrappable object."""
        counts = {}
        stack = [root]
        while stack:
            x = stack.pop()
            if type(x) in _SCALAR_TYPES or (type(x) is tuple and not x):
                continue
            if _wrappable(x):
                seen = counts.get(id(x), 0)
                counts[id(x)] = seen + 1
                if seen:
                    continue  # children already counted at the first visit
            # Non-wrapped hooked objects are expanded at every occurrence.
            stack.extend(self._children(x))
        return counts

    def encode(self, root):
        """Pass 2: emit in document order (iterative pre-order walk)."""
        counts = self.count_edges(root)
        ids = {}  # id(object) -> N, assigned at the first occurrence
        top = [None]
        stack = [(root, top, 0)]
        while stack:
            x, cont, key = stack.pop()
            t = type(x)
            if t in _SCALAR_TYPES:
                cont[key] = _encode_scalar(x)
                continue
            if t is tuple and not x:
                cont[key] = {"$tuple": []}  # a fresh value at every occurrence
                continue
            wrap = _wrappable(x)
            if wrap and id(x) in ids:
                cont[key] = {"$ref": ids[id(x)]}
                continue
            inner, tasks = self._inner(x)
            if wrap and counts[id(x)] > 1:
                ids[id(x)] = len(ids)
                cont[key] = {"$id": ids[id(x)], "$value": inner}
            else:
                cont[key] = inner
            # Reversed, so that the first child is popped (and numbered) next.
            stack.extend(reversed(tasks))
        return top[0]


def encode(value):
    """The graph-json ``root`` for ``value`` (see the module docstring)."""
    return _Encoder().encode(value)


def stream_protocol(p):
    """The ``protocol`` field for pickle.dumps(..., protocol=p): protocols 0
    and 1 write no PROTO opcode."""
    return p if p >= 2 else None


def document(value, data, protocol, container="pickle", warnings=()):
    """The whole picklevm-graph/1 document for ``value`` stored as ``data``.

    ``protocol`` is the stream's PROTO operand (or None): use
    ``stream_protocol(p)`` for a stream made by pickle.dumps(protocol=p).
    """
    return {
        "format": FORMAT,
        "source": {
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "container": container,
        },
        "protocol": protocol,
        "root": encode(value),
        "warnings": list(warnings),
    }
