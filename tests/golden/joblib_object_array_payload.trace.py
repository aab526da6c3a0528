exit 1
# picklevm trace: 565 bytes, sha256 51f5de286a8a7ef24cd24d544a9bc23594f1bd46b406604d9cbe599d990c3db9, joblib
# Nothing below was executed; it is what pickle.loads would have done.
from joblib.numpy_pickle import NumpyArrayWrapper
from numpy import dtype
from _codecs import encode
from numpy.core.multiarray import _reconstruct
from os import system
from numpy import ndarray

# pickle 1, protocol 4
_var0 = NumpyArrayWrapper.__new__(NumpyArrayWrapper)  # offset 63
_var1 = dtype('f8', False, True)  # offset 146
_var0.__setstate__({'subclass': ndarray, 'shape': (4,), 'order': 'C', 'dtype': _var1, 'allow_mmap': True, 'numpy_array_alignment_bytes': 16})  # BUILD at offset 220
_var2 = NumpyArrayWrapper.__new__(NumpyArrayWrapper)  # offset 277
_var3 = dtype('O8', False, True)  # offset 309
_var2.__setstate__({'subclass': ndarray, 'shape': (2,), 'order': 'C', 'dtype': _var3, 'allow_mmap': False, 'numpy_array_alignment_bytes': 16})  # BUILD at offset 344
_var4 = encode('b', 'latin1')  # offset 449
_var5 = _reconstruct(ndarray, (0,), _var4)  # offset 455
_var6 = dtype('O8', False, True)  # offset 495
_var7 = system('id')  # offset 554  !! NOT ADMITTED BY THE POLICY
result = {'w': numpy.ndarray(dtype='<f8', nbytes=32), 'labels': _var5}
