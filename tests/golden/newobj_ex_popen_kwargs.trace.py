exit 1
# picklevm trace: 52 bytes, sha256 0e159bc2e3be9651902575ae08b8145c06810f17b1dc69315488e57a6353e783, pickle
# Nothing below was executed; it is what pickle.loads would have done.
from subprocess import Popen

# pickle 1, protocol 4
_var0 = Popen.__new__(Popen, ['id'], shell=False)  # offset 50  !! NOT ADMITTED BY THE POLICY
result = _var0
