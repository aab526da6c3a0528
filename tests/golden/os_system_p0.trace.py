exit 1
# picklevm trace: 33 bytes, sha256 b69e4ade12560f7eb9fb5a54208b1f826065ea54f7f3e5098efec121a10afade, pickle
# Nothing below was executed; it is what pickle.loads would have done.
from os import system

# pickle 1
_var0 = system('id')  # offset 28  !! NOT ADMITTED BY THE POLICY
result = _var0
