#!/usr/bin/python3
"""Joblib-aware reference for picklevm's strict load of joblib files.

Run with Debian's /usr/bin/python3; needs only the standard library (plus
the ``lz4`` module for lz4 files) and ``tests/fixtures/refgraph.py``.

``load_joblib(data)`` computes the ``root`` that ``picklevm load FILE`` must
print for an *uncompressed* joblib stream ``data`` (``decompress`` first for
a compressed one).  It extends refgraph.py's stub unpickler (which imports
nothing): after the BUILD of a ``joblib.numpy_pickle:NumpyArrayWrapper``
stub, it reads the array from the stream exactly as joblib's
``NumpyUnpickler`` does (joblib/numpy_pickle.py, ``read_array``):

* ``dtype`` with objects: a pickle of its own follows (joblib writes it with
  ``pickle.dump(array, protocol=2)``); it is read with the *plain*
  reference unpickler (its own memo, no joblib arrays inside) and its array
  is the value;
* any other dtype: if the wrapper's ``numpy_array_alignment_bytes`` is not
  None (joblib >= 1.2 writing to a seekable file), one padding-length byte
  and that many padding bytes, then ``prod(shape) * itemsize`` raw bytes,
  in the wrapper's ``order``;
* the array replaces the wrapper on the stack (the memo keeps the wrapper,
  as in joblib); ``subclass`` is kept where it is not ``numpy:ndarray`` (or
  ``numpy.core.memmap:memmap``, which joblib loads as a plain ndarray).

Beyond joblib (which does not look at them) the reference requires the
padding to be what joblib writes: length ``align - (pos % align)`` where
``pos`` is the offset after the length byte, every padding byte 0xff; and
the array data to start outside any unfinished pickle frame.

``load_joblib`` also returns the byte *regions* of every array (where the
BUILD of its wrapper is, its padding byte, padding and data, or its nested
pickle), which run_joblib.py uses to cut malformed variants.

``split_joblib_arrays(root)`` is graph-json.md Principle 2's exception
applied to a plain pickle's root: every non-object array that joblib
wraps, wherever it is reached, becomes a distinct copy; every object array
becomes a distinct deep copy whose inside shares nothing with the rest of
the graph (its own pickle, its own memo) -- then ``$id``/``$ref`` are
renumbered.  A plain pickle's expected root, transformed so, must equal the
joblib file's root.
"""

import bz2
import copy
import lzma
import os
import sys
import zlib

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "fixtures"))
import refgraph                                         # noqa: E402
from refgraph import StrictError, NDArray, DType, Obj, Global  # noqa: E402

WRAPPER = "joblib.numpy_pickle:NumpyArrayWrapper"
CODECS = ("zlib", "gzip", "bz2", "lzma", "xz", "lz4")
# joblib/compressor.py's magic numbers
PREFIXES = (("zlib", b"\x78"), ("gzip", b"\x1f\x8b"), ("bz2", b"BZ"),
            ("xz", b"\xfd\x37\x7a\x58\x5a"), ("lzma", b"\x5d\x00"),
            ("lz4", b"\x04\x22\x4d\x18"))
_PLAIN_SUBCLASSES = (None, "numpy:ndarray", "numpy.core.memmap:memmap",
                     "numpy:memmap")


def hasobject(desc):
    """numpy's dtype.hasobject for a <dtype> of graph-json.md."""
    if isinstance(desc, str):
        return desc == "|O"
    if "base" in desc:
        return hasobject(desc["base"])
    return any(hasobject(f) for f in desc["formats"])


class Region:
    """Where one joblib array sits in the (decompressed) stream."""

    __slots__ = ("kind", "build", "pad_byte", "pad_len", "data_start",
                 "data_end", "nbytes")

    def __init__(self, kind, build):
        self.kind = kind            # "raw" | "object"
        self.build = build          # offset of the wrapper's BUILD opcode
        self.pad_byte = None        # offset of the padding-length byte
        self.pad_len = 0
        self.data_start = None      # raw data, or the nested pickle
        self.data_end = None
        self.nbytes = None          # raw arrays

    def __repr__(self):
        return "<Region %s build=%s pad=%s+%s data=%s..%s>" % (
            self.kind, self.build, self.pad_byte, self.pad_len,
            self.data_start, self.data_end)


class _JoblibUnpickler(refgraph._Unpickler):

    def __init__(self, data):
        super().__init__(data)
        self.regions = []

    def _bio(self):
        return self._file_read.__self__          # the io.BytesIO

    def _read_exact(self, n, what):
        data = self._file_read(n)
        if len(data) != n:
            raise StrictError("truncated in %s" % what)
        return data

    def load_build_joblib(self):
        refgraph._Unpickler.load_build(self)
        top = self.stack[-1]
        if isinstance(top, Obj) and top.cls == WRAPPER:
            self.stack[-1] = self._joblib_array(top)

    def _joblib_array(self, wrapper):
        st = wrapper.state
        if type(st) is not dict or wrapper.args or wrapper.kwargs \
                or wrapper.via != "new":
            raise StrictError("NumpyArrayWrapper is not joblib's")
        allowed = {"subclass", "shape", "order", "dtype", "allow_mmap",
                   "numpy_array_alignment_bytes"}
        if not set(st) <= allowed or not {"subclass", "shape", "order",
                                          "dtype"} <= set(st):
            raise StrictError("NumpyArrayWrapper state keys %r" % list(st))
        subclass, shape, order, dtype = (st["subclass"], st["shape"],
                                         st["order"], st["dtype"])
        align = st.get("numpy_array_alignment_bytes")
        if not isinstance(subclass, Global) or order not in ("C", "F") \
                or not isinstance(dtype, DType) or dtype.desc is None \
                or not (align is None or (type(align) is int
                                          and 1 <= align <= 255)):
            raise StrictError("NumpyArrayWrapper state %r" % (st,))
        count = refgraph._check_shape(shape)
        cf = self._unframer.current_frame
        if cf is not None and cf.tell() != len(cf.getbuffer()):
            raise StrictError("joblib array data inside a pickle frame")
        bio = self._bio()
        sub = None if subclass.name in _PLAIN_SUBCLASSES else subclass.name
        if hasobject(dtype.desc):
            reg = Region("object", bio.tell() - 1)
            reg.data_start = bio.tell()
            nested = refgraph._Unpickler(bio.getvalue()[bio.tell():])
            nested._globals = self._globals
            value = nested.load()
            bio.seek(bio.tell() + nested._file_read.__self__.tell())
            reg.data_end = bio.tell()
            for name, uses in nested.uses.items():
                for use, sigs in uses.items():
                    self.uses.setdefault(name, {}).setdefault(
                        use, set()).update(sigs)
            if not isinstance(value, NDArray):
                raise StrictError("joblib object array's pickle is %r"
                                  % (value,))
            if sub is not None:
                value.subclass = sub
            self.regions.append(reg)
            return value
        reg = Region("raw", bio.tell() - 1)
        if align is not None:
            reg.pad_byte = bio.tell()
            pad = self._read_exact(1, "padding byte")[0]
            want = align - (bio.tell() % align)
            if pad != want:
                raise StrictError("padding length %d, joblib writes %d"
                                  % (pad, want))
            padding = self._read_exact(pad, "padding")
            if padding != b"\xff" * pad:
                raise StrictError("padding bytes are not 0xff")
            reg.pad_len = pad
        reg.data_start = bio.tell()
        nbytes = count * refgraph.dtype_itemsize(dtype.desc)
        data = self._read_exact(nbytes, "array data")
        reg.data_end = bio.tell()
        reg.nbytes = nbytes
        arr = NDArray(sub)
        refgraph._set_array(arr, shape, dtype, order == "F", data)
        self.regions.append(reg)
        return arr


_JoblibUnpickler.dispatch = dict(refgraph._Unpickler.dispatch)
_JoblibUnpickler.dispatch[b"b"[0]] = _JoblibUnpickler.load_build_joblib


class JResult:
    """root: the expected graph-json root; regions: [Region]; stop: offset of
    the final STOP; end: offset after it; protocol; uses (as refgraph)."""

    def __init__(self, root, regions, stop, end, protocol, uses):
        self.root, self.regions, self.stop, self.end = root, regions, stop, end
        self.protocol, self.uses = protocol, uses


def load_joblib(data):
    """The reference strict load of an uncompressed joblib stream."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        up = _JoblibUnpickler(bytes(data))
        value = up.load()
        end = up._bio().tell()
        root = refgraph._Encoder().encode(value)
    finally:
        sys.setrecursionlimit(old)
    return JResult(root, up.regions, end - 1, end, up.proto, up.uses)


def detect(data):
    """The joblib codec of a file's bytes (None: not compressed)."""
    for codec, prefix in PREFIXES:
        if data.startswith(prefix):
            return codec
    return None


def decompress(data):
    """(codec, decompressed bytes) for a joblib file's bytes; codec None and
    the bytes as given for an uncompressed file.  Trailing bytes after the
    compressed stream are an error here (ValueError)."""
    codec = detect(data)
    if codec is None:
        return None, bytes(data)
    if codec in ("zlib", "gzip"):
        d = zlib.decompressobj(zlib.MAX_WBITS | (16 if codec == "gzip" else 0))
        out = d.decompress(data) + d.flush()
        if not d.eof or d.unused_data:
            raise ValueError("%s stream incomplete or followed by junk" % codec)
        return codec, out
    if codec == "bz2":
        d = bz2.BZ2Decompressor()
        out = d.decompress(data)
        if not d.eof or d.unused_data:
            raise ValueError("bz2 stream incomplete or followed by junk")
        return codec, out
    if codec in ("xz", "lzma"):
        fmt = lzma.FORMAT_XZ if codec == "xz" else lzma.FORMAT_ALONE
        d = lzma.LZMADecompressor(format=fmt)
        out = d.decompress(data)
        if not d.eof or d.unused_data:
            raise ValueError("%s stream incomplete or followed by junk" % codec)
        return codec, out
    import lz4.frame
    d = lz4.frame.LZ4FrameDecompressor()
    out = d.decompress(data)
    if not d.eof or d.unused_data:
        raise ValueError("lz4 stream incomplete or followed by junk")
    return codec, out


# ---------------------------------------------------------------------------
# graph-json roots as graphs: decode ($id/$ref -> shared Python objects),
# re-encode (renumbering in document order), and Principle 2's exception.

_ATOM_TAGS = ("$int", "$float", "$str", "$global")
_SEQ_TAGS = ("$tuple", "$set", "$frozenset", "$slice")


def _tag(x):
    if isinstance(x, dict) and len(x) == 1:
        k = next(iter(x))
        if k.startswith("$"):
            return k
    return None


def _is_atom(x):
    return not isinstance(x, (list, dict)) or _tag(x) in _ATOM_TAGS


def decode(root):
    """A JSON root (as json.loads gives it) -> a Python graph in which a
    value reached through $ref is the same object as its $id."""
    ids = {}

    def dec(j):
        if isinstance(j, dict):
            if len(j) == 1 and "$ref" in j:
                return ids[j["$ref"]]
            if set(j) == {"$id", "$value"}:
                v = j["$value"]
                shell = [] if isinstance(v, list) else {}
                ids[j["$id"]] = shell
                fill(shell, v)
                return shell
        if isinstance(j, (list, dict)):
            shell = [] if isinstance(j, list) else {}
            fill(shell, j)
            return shell
        return j

    def fill(shell, j):
        if isinstance(j, list):
            shell.extend(dec(e) for e in j)
        else:
            for k, v in j.items():
                shell[k] = dec(v)

    return dec(root)


def _value_slots(x):
    """[(container, key)] of the value positions inside graph value x."""
    if isinstance(x, list):
        return [(x, i) for i in range(len(x))]
    tag = _tag(x)
    if tag is None:
        return [(x, k) for k in x]
    body = x[tag]
    if tag in _SEQ_TAGS:
        return [(body, i) for i in range(len(body))]
    if tag == "$dict":
        return [(pair, i) for pair in body for i in (0, 1)]
    if tag == "$persid":
        return [(x, tag)]
    if tag == "$ndarray":
        items = body.get("items")
        return [(items, i) for i in range(len(items))] if items else []
    if tag in ("$object", "$call"):
        out = []
        for k in body:
            if k in ("args", "items"):
                out += [(body[k], i) for i in range(len(body[k]))]
            elif k == "kwargs":
                out += [(body[k], kk) for kk in body[k]]
            elif k == "state":
                out.append((body, k))
            elif k == "dictitems":
                out += [(pair, i) for pair in body[k] for i in (0, 1)]
        return out
    return []


def encode(root):
    """A Python graph (from decode) -> a JSON root with $id/$ref numbered
    in document order (graph-json.md, "Shared references")."""
    counts = {}
    keep = []
    todo = [root]
    while todo:
        x = todo.pop()
        if _is_atom(x):
            continue
        c = counts.get(id(x), 0)
        counts[id(x)] = c + 1
        if c == 0:
            keep.append(x)
            todo.extend(c_[k] for c_, k in _value_slots(x))
    ids = {}

    def val(x):
        if _is_atom(x):
            return x
        if counts[id(x)] > 1:
            if id(x) in ids:
                return {"$ref": ids[id(x)]}
            ids[id(x)] = len(ids)
            n = ids[id(x)]
            return {"$id": n, "$value": inner(x)}
        return inner(x)

    def inner(x):
        if isinstance(x, list):
            return [val(e) for e in x]
        tag = _tag(x)
        if tag is None:
            return {k: val(v) for k, v in x.items()}
        body = x[tag]
        if tag in _SEQ_TAGS:
            return {tag: [val(e) for e in body]}
        if tag == "$dict":
            return {tag: [[val(k), val(v)] for k, v in body]}
        if tag == "$persid":
            return {tag: val(body)}
        if tag == "$ndarray":
            out = {}
            for k, v in body.items():
                out[k] = [val(e) for e in v] if k == "items" else v
            return {tag: out}
        if tag in ("$object", "$call"):
            out = {}
            for k, v in body.items():
                if k in ("args", "items"):
                    out[k] = [val(e) for e in v]
                elif k == "kwargs":
                    out[k] = {kk: val(e) for kk, e in v.items()}
                elif k == "state":
                    out[k] = val(v)
                elif k == "dictitems":
                    out[k] = [[val(a), val(b)] for a, b in v]
                else:
                    out[k] = v
            return {tag: out}
        return x

    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 20000))
    try:
        return val(root)
    finally:
        sys.setrecursionlimit(old)


def _joblib_wraps(x):
    """Is graph value x an array that joblib's pickler writes outside the
    memo (type ndarray, matrix or memmap)?"""
    if _tag(x) != "$ndarray":
        return False
    sub = x["$ndarray"].get("subclass")
    return sub in _PLAIN_SUBCLASSES or sub == "numpy:matrix"


def _fresh_array(x):
    if "items" in x["$ndarray"]:
        return copy.deepcopy(x)     # its own pickle: shares nothing outside
    return {"$ndarray": dict(x["$ndarray"])}


def split_joblib_arrays(root):
    """Principle 2's exception applied to a plain pickle's JSON root: every
    occurrence of an array joblib wraps becomes a distinct array (object
    arrays: a distinct deep copy), ids renumbered.  Returns a JSON root."""
    g = decode(root)
    if _joblib_wraps(g):
        return encode(_fresh_array(g))
    seen = set()
    todo = [g]
    while todo:
        x = todo.pop()
        if _is_atom(x) or id(x) in seen:
            continue
        seen.add(id(x))
        for cont, k in _value_slots(x):
            v = cont[k]
            if _joblib_wraps(v):
                cont[k] = _fresh_array(v)
            elif not _is_atom(v):
                todo.append(v)
    return encode(g)


def renumber(root):
    """decode + encode: the identity transformation (a self-test)."""
    return encode(decode(root))
