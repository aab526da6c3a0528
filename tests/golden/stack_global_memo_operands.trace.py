exit 1
# picklevm trace: 36 bytes, sha256 c048f973673ca72ba331a837ba7cf1d0aa4e26bd0cfb794045a4608840ac03db, pickle
# Nothing below was executed; it is what pickle.loads would have done.
from os import system

# pickle 1, protocol 4
_var0 = system('id')  # offset 33  !! NOT ADMITTED BY THE POLICY
result = ['os', 'system', _var0]
