exit 1
# picklevm trace: 37 bytes, sha256 5f7cdfb8a6dd29b19e1dce376532919a41ec4bb79e54896352c4a43d2375bdcd, pickle
# Nothing below was executed; it is what pickle.loads would have done.
from os import system

# pickle 1, protocol 4
_var0 = system('id')  # offset 34  !! NOT ADMITTED BY THE POLICY
result = _var0
