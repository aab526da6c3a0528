#!/usr/bin/python3
"""Reference model of picklevm's *record mode*, built on CPython's unpicklers.

Run with Debian's /usr/bin/python3 (3.11), standard library only.

Two unpicklers share one stub model:

* ``record_loads(data)`` -- CPython's C unpickler (``_pickle.Unpickler``) with a
  ``find_class`` that never imports anything.  Used for the reference
  *verdict*: a stream is accepted iff ``load()`` returns.
* ``graph_root(data)`` -- the pure-Python ``pickle._Unpickler`` with the same
  stubs, its dispatch table wrapped to know the byte offset of every opcode,
  and a few value-creating opcodes adjusted so that Python object identity
  equals pickle-stream identity.  Its result is encoded as the ``root`` of a
  ``picklevm-graph/1`` document (see /work/shared/spec/graph-json.md).

The stub model (what picklevm's record mode does):

* A global is only a name: ``find_class`` returns a *stub class* (one per
  "module:name" per load, so two lookups of one name are the same -- equal --
  object).  Stubs are real ``type`` objects so that the C unpickler's NEWOBJ
  type check passes.
* Calling a stub (REDUCE, INST, OBJ) or ``stub.__new__(stub, ...)`` (NEWOBJ,
  NEWOBJ_EX, ``copyreg.__newobj__``/``__newobj_ex__``) returns a ``Call``
  record; BUILD on a Call sets its ``state`` (last BUILD wins),
  APPEND/APPENDS/``extend`` add to ``items``, SETITEM(S) add to
  ``dictitems``.  A Call is not callable, has no ``add`` (ADDITEMS on it
  fails as in CPython), and hashes by identity.
* The "inert builders" are the real thing (they only make data):
  ``_codecs.encode`` (only as ``encode(str, 'latin1'|'latin-1')``; any other
  use is recorded as a Call of ``_codecs:encode``), ``builtins.bytes``,
  ``bytearray``, ``set``, ``frozenset``, ``complex``, ``slice``,
  ``copyreg.__newobj__``, ``copyreg.__newobj_ex__`` and
  ``copyreg._reconstructor`` -- the latter intercepted:
  ``_reconstructor(stub, object, _)`` -> ``Call(stub)``;
  ``_reconstructor(stub, list, state)`` -> ``Call(stub)`` with
  ``items = list(state)``; ``_reconstructor(stub, dict, state)`` ->
  ``Call(stub)`` with ``dictitems = dict(state).items()``; any other use
  (another base, or a cls that is not a stub) is recorded as a Call of
  ``copyreg:_reconstructor`` with the three arguments.
* ``builtins.object`` is a stub like any other global (it is only ever a
  reference -- the ``base`` argument of ``_reconstructor``; calling it makes a
  Call, never a real ``object()``).
* ``persistent_load`` raises.  Extension codes (EXT1/2/4) are left to
  CPython, which rejects any code not in ``copyreg``'s registry (empty here).
* CPython's ``fix_imports`` mapping (``_compat_pickle``) is applied when the
  protocol in effect is below 3.  (CPython does that mapping *inside* its
  default ``find_class``, so an overriding ``find_class`` must redo it.  The C
  unpickler does not expose its protocol, so the record C unpickler derives
  it from the PROTO opcodes before the current read position -- exact except
  for a PROTO opcode inside a FRAME after the global, which no pickler
  writes.)
* ``numpy._core`` module paths are named ``numpy.core``.

Identity (the ``$id``/``$ref`` sharing): CPython caches some values that a
pickle stream creates afresh -- the empty tuple, empty and one-byte
``bytes``, ``complex(z)`` of an exact complex.  The pure-Python record
unpickler replaces every value created by EMPTY_TUPLE/TUPLE and by the
bytes-making opcodes with an instance of a private subclass (``_ETuple``,
``_SBytes``), and its builders return private subclasses (``_SBytes``,
``_SComplex``, ``_OSet``, ``_OFrozenSet``), which are never cached, so
Python identity is exactly stream identity: distinct opcodes give distinct
values, and only memo GET / DUP share.  (This is exact, not the "empty tuples
are never shared" approximation: a protocol-0 pickler does memoize an empty
tuple, and every pickler memoizes ``bytes``, so those *are* shared through
the memo.)  Sets keep insertion order (``_OSet``/``_OFrozenSet`` record the
order of first insertion), as the graph format requires.

Encoding choices where graph-json.md is silent (documented guesses):
* ``slice`` members count as value positions for ``$id``/``$ref``.
* ``$call.callable`` is always a stub's "module:name" (a Call cannot call
  anything but a stub, since Calls are not callable).
* A second BUILD on one Call: the last state is kept.
* ``dictitems`` keeps every SETITEM pair in order (no key merging).
"""

import base64
import codecs
import copyreg
import io
import math
import pickle
import pickletools
import sys

import _compat_pickle

__all__ = ["Call", "record_loads", "record_unpickler", "graph_root",
           "encode_root", "stream_loads_all", "first_pickle_end"]


# --------------------------------------------------------------------------
# stubs

_NO_STATE = object()


class Call:
    """A call that never happened (picklevm's ``$call``)."""

    def __init__(self, callable, args, kwargs, offset):
        self.callable = callable        # a stub class (GlobalMeta instance)
        self.args = tuple(args)
        self.kwargs = dict(kwargs)
        self.state = _NO_STATE
        self.items = []
        self.dictitems = []
        self.offset = offset

    # BUILD
    def __setstate__(self, state):
        self.state = state

    # APPEND / APPENDS
    def append(self, x):
        self.items.append(x)

    def extend(self, xs):
        self.items.extend(xs)

    # SETITEM / SETITEMS
    def __setitem__(self, key, value):
        self.dictitems.append((key, value))

    def __repr__(self):
        return "<Call %s>" % (self.callable._pvm_name,)


class GlobalMeta(type):
    """Metaclass of the stub classes that stand for globals."""

    def __call__(cls, *args, **kwargs):
        return Call(cls, args, kwargs, cls._pvm_ctx._op_offset)

    def __repr__(cls):
        return "<Global %s>" % (cls._pvm_name,)


def _global_new(cls, *args, **kwargs):
    return Call(cls, args, kwargs, cls._pvm_ctx._op_offset)


def _make_stub(module, name, ctx):
    if module == "numpy._core" or module.startswith("numpy._core."):
        module = "numpy.core" + module[len("numpy._core"):]
    ns = {
        "__new__": _global_new,
        "__slots__": (),
        "_pvm_name": module + ":" + name,
        "_pvm_ctx": ctx,
    }
    return GlobalMeta("Global", (), ns)


# Private subclasses: never cached by CPython, so each creation is a new
# object (stream identity), and sets remember insertion order.

class _ETuple(tuple):
    __slots__ = ()


class _SBytes(bytes):
    __slots__ = ()


class _SComplex(complex):
    __slots__ = ()


class _OSet(set):
    __slots__ = ("_order",)

    def __new__(cls, *args, **kwargs):
        self = set.__new__(cls)
        self._order = []
        return self

    def __init__(self, iterable=()):
        set.__init__(self)
        self._order = []
        for x in iterable:
            self.add(x)

    def add(self, x):
        if x not in self:
            set.add(self, x)
            self._order.append(x)

    def update(self, *iterables):
        for it in iterables:
            for x in it:
                self.add(x)


class _OFrozenSet(frozenset):
    __slots__ = ("_order",)

    def __new__(cls, iterable=()):
        items = list(iterable)
        self = frozenset.__new__(cls, items)
        order, seen = [], set()
        for x in items:
            if x not in seen:
                seen.add(x)
                order.append(x)
        self._order = order
        return self


# --------------------------------------------------------------------------
# the unpicklers

def _proto_marks(data):
    """[(offset, proto)] of the PROTO opcodes that genops can reach."""
    marks = []
    try:
        for op, arg, pos in pickletools.genops(data):
            if op.code == "\x80":
                marks.append((pos, arg))
    except Exception:
        pass
    return marks


class _RecordMixin:
    """find_class / builders shared by the C and the Python record unpickler."""

    _python_path = False

    def _record_setup(self, bio):
        self._bio = bio
        self._op_offset = None
        self._stubs = {}
        self._names = {}        # id(builder object) -> "module:name"
        py = self._python_path
        self._encode_fn = self._encode_builder
        self._recon_fn = self._reconstructor
        self._builders = {
            "_codecs:encode": self._encode_fn,
            "builtins:bytes": _SBytes if py else bytes,
            "builtins:bytearray": bytearray,
            "builtins:set": _OSet if py else set,
            "builtins:frozenset": _OFrozenSet if py else frozenset,
            "builtins:complex": _SComplex if py else complex,
            "builtins:slice": slice,
            "copyreg:_reconstructor": self._recon_fn,
            "copyreg:__newobj__": copyreg.__newobj__,
            "copyreg:__newobj_ex__": copyreg.__newobj_ex__,
        }
        for key, obj in self._builders.items():
            self._names[id(obj)] = key

    def _proto_in_effect(self):
        raise NotImplementedError

    def _stub(self, module, name):
        key = (module, name)
        s = self._stubs.get(key)
        if s is None:
            s = self._stubs[key] = _make_stub(module, name, self)
        return s

    def find_class(self, module, name):
        if self._proto_in_effect() < 3:
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        builder = self._builders.get(module + ":" + name)
        if builder is not None:
            return builder
        return self._stub(module, name)

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(
            "persistent id in record reference: %r" % (pid,))

    def _bytes(self, b):
        return _SBytes(b) if self._python_path else b

    def _encode_builder(self, *args, **kwargs):
        if (not kwargs and len(args) == 2 and type(args[0]) is str
                and type(args[1]) is str and args[1] in ("latin1", "latin-1")):
            return self._bytes(codecs.encode(args[0], "latin-1"))
        return Call(self._stub("_codecs", "encode"), args, kwargs,
                    self._op_offset)

    def _reconstructor(self, cls, base, state):
        off = self._op_offset
        if isinstance(cls, GlobalMeta) and isinstance(base, GlobalMeta):
            bn = base._pvm_name
            if bn == "builtins:object":
                return Call(cls, (), {}, off)
            if bn == "builtins:list":
                c = Call(cls, (), {}, off)
                c.items.extend(list(state))
                return c
            if bn == "builtins:dict":
                c = Call(cls, (), {}, off)
                c.dictitems.extend(dict(state).items())
                return c
        return Call(self._stub("copyreg", "_reconstructor"),
                    (cls, base, state), {}, off)


class _CRecordUnpickler(_RecordMixin, pickle.Unpickler):
    """CPython's C unpickler in record mode (for verdicts)."""

    def __init__(self, data, start=0):
        bio = io.BytesIO(data)
        bio.seek(start)
        super().__init__(bio)
        self._record_setup(bio)
        self._start = start
        self._marks = _proto_marks(data[start:])

    def _proto_in_effect(self):
        # the operand of the last PROTO read so far in this load()
        pos = self._bio.tell() - self._start
        proto = 0
        for off, p in self._marks:
            if off < pos:
                proto = p
        return proto


_FRESH_OPS = {
    pickle.EMPTY_TUPLE[0], pickle.TUPLE[0],
    pickle.SHORT_BINBYTES[0], pickle.BINBYTES[0], pickle.BINBYTES8[0],
    pickle.STRING[0], pickle.BINSTRING[0], pickle.SHORT_BINSTRING[0],
}


def _wrap_op(fn, code):
    fresh = code in _FRESH_OPS
    is_frame = code == pickle.FRAME[0]

    def op(self):
        self._op_offset = self._pos() - 1
        fn(self)
        if fresh:
            self._freshen_top()
        elif is_frame:
            fr = self._unframer.current_frame
            self._frame_base = self._bio.tell() - len(fr.getvalue())
    op.__name__ = getattr(fn, "__name__", "op")
    return op


class _PyRecordUnpickler(_RecordMixin, pickle._Unpickler):
    """The pure-Python unpickler in record mode, with opcode offsets and
    stream identity (for graph_root)."""

    _python_path = True

    def __init__(self, data, start=0):
        bio = io.BytesIO(data)
        bio.seek(start)
        super().__init__(bio)
        self._record_setup(bio)
        self._frame_base = 0

    def _proto_in_effect(self):
        return self.proto

    def _pos(self):
        fr = self._unframer.current_frame
        if fr is not None:
            return self._frame_base + fr.tell()
        return self._bio.tell()

    def _freshen_top(self):
        stack = self.stack
        if not stack:
            return
        top = stack[-1]
        t = type(top)
        if t is tuple:
            stack[-1] = _ETuple(top)
        elif t is bytes:
            stack[-1] = _SBytes(top)

    def load_empty_set(self):
        self.append(_OSet())

    def load_frozenset(self):
        items = self.pop_mark()
        self.append(_OFrozenSet(items))


_py_dispatch = dict(pickle._Unpickler.dispatch)
_py_dispatch[pickle.EMPTY_SET[0]] = _PyRecordUnpickler.load_empty_set
_py_dispatch[pickle.FROZENSET[0]] = _PyRecordUnpickler.load_frozenset
_PyRecordUnpickler.dispatch = {k: _wrap_op(f, k)
                               for k, f in _py_dispatch.items()}


def record_unpickler(data, python=False, start=0):
    """An unpickler for `data` (bytes) in record mode, reading from `start`."""
    return (_PyRecordUnpickler if python else _CRecordUnpickler)(data, start)


def record_loads(data):
    """Unpickle `data` with CPython's C unpickler in record mode.

    Returns the Python result (stubs for globals, Call records for calls);
    raises whatever CPython raises for a malformed stream."""
    return _CRecordUnpickler(data).load()


def first_pickle_end(data):
    """Byte offset just past the first pickle's STOP (C record unpickler),
    or None if the first pickle does not load."""
    up = _CRecordUnpickler(data)
    try:
        up.load()
    except Exception:
        return None
    return up._bio.tell()


def stream_loads_all(data):
    """Run every pickle in `data` back to back, as picklevm's record mode
    does (a loader that calls load() until the input is used up).  Returns
    the list of results; raises on the first pickle that fails, including
    a truncated pickle after the last STOP."""
    pos = 0
    results = []
    while pos < len(data):
        up = _CRecordUnpickler(data, pos)
        results.append(up.load())
        pos = up._bio.tell()
    if not results:
        raise EOFError("empty input")
    return results


# --------------------------------------------------------------------------
# encoding (graph-json.md, "picklevm-graph/1")

_INT_LIMIT = 1 << 53


def _enc_float(x):
    if math.isnan(x):
        return {"$float": "nan"}
    if math.isinf(x):
        return {"$float": "inf" if x > 0 else "-inf"}
    return float(x)


def _has_surrogate(s):
    return any(0xD800 <= ord(c) <= 0xDFFF for c in s)


def _enc_str(s):
    if _has_surrogate(s):
        return {"$str": [ord(c) for c in s]}
    return str(s)


class _Encoder:
    def __init__(self, names):
        self.names = names      # id(builder) -> "module:name"
        self.counts = {}
        self.keep = []
        self.ids = {}

    # atoms: never wrapped, never shared
    def _is_atom(self, x):
        return (x is None or isinstance(x, (bool, int, float, str))
                or isinstance(x, GlobalMeta) or id(x) in self.names)

    def _atom(self, x):
        if x is None or isinstance(x, bool):
            return x
        if isinstance(x, int):
            x = int(x)
            if -_INT_LIMIT < x < _INT_LIMIT:
                return x
            return {"$int": str(x)}
        if isinstance(x, float):
            return _enc_float(x)
        if isinstance(x, str):
            return _enc_str(x)
        if isinstance(x, GlobalMeta):
            return {"$global": x._pvm_name}
        return {"$global": self.names[id(x)]}

    def _children(self, x):
        if isinstance(x, (list, tuple)):
            return list(x)
        if isinstance(x, (_OSet, _OFrozenSet)):
            return list(x._order)
        if isinstance(x, (set, frozenset)):
            return list(x)
        if isinstance(x, dict):
            out = []
            for k, v in x.items():
                out.append(k)
                out.append(v)
            return out
        if isinstance(x, slice):
            return [x.start, x.stop, x.step]
        if isinstance(x, Call):
            out = list(x.args) + list(x.kwargs.values())
            if x.state is not _NO_STATE:
                out.append(x.state)
            out.extend(x.items)
            for k, v in x.dictitems:
                out.append(k)
                out.append(v)
            return out
        return []

    def _count(self, root):
        # iterative DFS; only the counts matter, not the order
        todo = [root]
        while todo:
            x = todo.pop()
            if self._is_atom(x):
                continue
            c = self.counts.get(id(x))
            if c is not None:
                self.counts[id(x)] = c + 1
                continue
            self.counts[id(x)] = 1
            self.keep.append(x)
            todo.extend(self._children(x))

    def encode(self, root):
        self._count(root)
        return self.value(root)

    def value(self, x):
        if self._is_atom(x):
            return self._atom(x)
        if self.counts.get(id(x), 1) > 1:
            n = self.ids.get(id(x))
            if n is not None:
                return {"$ref": n}
            n = self.ids[id(x)] = len(self.ids)
            return {"$id": n, "$value": self._inner(x)}
        return self._inner(x)

    def _inner(self, x):
        v = self.value
        if isinstance(x, bytes):
            return {"$bytes": base64.b64encode(bytes(x)).decode("ascii")}
        if isinstance(x, bytearray):
            return {"$bytearray": base64.b64encode(bytes(x)).decode("ascii")}
        if isinstance(x, complex):
            return {"$complex": [_enc_float(x.real), _enc_float(x.imag)]}
        if isinstance(x, list):
            return [v(e) for e in x]
        if isinstance(x, tuple):
            return {"$tuple": [v(e) for e in x]}
        if isinstance(x, dict):
            if all(type(k) is str and not k.startswith("$")
                   and not _has_surrogate(k) for k in x):
                return {k: v(val) for k, val in x.items()}
            return {"$dict": [[v(k), v(val)] for k, val in x.items()]}
        if isinstance(x, frozenset):
            return {"$frozenset": [v(e) for e in self._children(x)]}
        if isinstance(x, set):
            return {"$set": [v(e) for e in self._children(x)]}
        if isinstance(x, slice):
            return {"$slice": [v(x.start), v(x.stop), v(x.step)]}
        if isinstance(x, Call):
            body = {
                "callable": x.callable._pvm_name,
                "args": [v(a) for a in x.args],
                "kwargs": {str(k): v(val) for k, val in x.kwargs.items()},
            }
            if x.state is not _NO_STATE:
                body["state"] = v(x.state)
            if x.items:
                body["items"] = [v(e) for e in x.items]
            if x.dictitems:
                body["dictitems"] = [[v(k), v(val)] for k, val in x.dictitems]
            body["offset"] = x.offset
            return {"$call": body}
        raise TypeError("record_ref: cannot encode %s" % type(x).__name__)


def encode_root(obj, unpickler):
    """Encode a value produced by the Python record unpickler `unpickler`."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        return _Encoder(unpickler._names).encode(obj)
    finally:
        sys.setrecursionlimit(old)


def graph_root(data, start=0):
    """The expected graph-json ``root`` of ``picklevm trace`` for the pickle
    that starts at byte `start` of `data` (offsets are relative to `data`).
    Raises what the pure-Python unpickler raises for a malformed stream."""
    up = _PyRecordUnpickler(data, start)
    obj = up.load()
    return encode_root(obj, up)


if __name__ == "__main__":
    import json
    if len(sys.argv) != 2:
        sys.exit("usage: record_ref.py FILE   (prints graph_root as JSON)")
    with open(sys.argv[1], "rb") as f:
        print(json.dumps(graph_root(f.read()), indent=1, ensure_ascii=False))
