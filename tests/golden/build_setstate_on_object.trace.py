exit 1
# picklevm trace: 67 bytes, sha256 20da4901cc8cf182706371e7303c6f3e3925f1e0067118c27d569f36ae44c271, pickle
# Nothing below was executed; it is what pickle.loads would have done.
from types import SimpleNamespace
from os import system

# pickle 1, protocol 4
_var0 = SimpleNamespace.__new__(SimpleNamespace)  # offset 28  !! NOT ADMITTED BY THE POLICY
_var0.__setstate__((None, {'__setstate__': system}))  # BUILD at offset 60
_var1 = system('id')  # offset 65  !! NOT ADMITTED BY THE POLICY
# offset 57: references os:system  !! NOT ADMITTED BY THE POLICY
result = _var0
