exit 1
# picklevm trace: 33 bytes, sha256 c44c369a86aca1d5fdde844086615c24ee958a8d241ec7cdc12b4d8617a243a0, pickle
# Nothing below was executed; it is what pickle.loads would have done.
from os import system

# pickle 1, protocol 2
_var0 = system('id')  # offset 21  !! NOT ADMITTED BY THE POLICY

# the stream stops being a valid pickle here: offset 22: invalid load key, 0xff
