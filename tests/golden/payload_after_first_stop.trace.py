exit 1
# picklevm trace: 44 bytes, sha256 25167e833adffe758173fbd779018220d6be9eb77f313b498312c19ca9d6b8b6, pickle
# Nothing below was executed; it is what pickle.loads would have done.
from subprocess import getoutput

# pickle 1, protocol 4
result = {'ok': True}

# pickle 2, protocol 2
_var0 = getoutput('id')  # offset 42  !! NOT ADMITTED BY THE POLICY
result = _var0
