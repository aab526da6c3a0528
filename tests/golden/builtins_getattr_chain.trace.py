exit 1
# picklevm trace: 73 bytes, sha256 6860f5515bfb3651ef2f99d689376edd55600494772ebcaa53ae461619cda2e0, pickle
# Nothing below was executed; it is what pickle.loads would have done.
from builtins import __import__
from builtins import getattr

# pickle 1, protocol 2
_var0 = __import__('os')  # offset 49  !! NOT ADMITTED BY THE POLICY
_var1 = getattr(_var0, 'system')  # offset 62  !! NOT ADMITTED BY THE POLICY
_var2 = _var1('id')  # offset 71  !! NOT ADMITTED BY THE POLICY
result = _var2
