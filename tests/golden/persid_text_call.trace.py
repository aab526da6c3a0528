exit 1
# picklevm trace: 21 bytes, sha256 89e1c7b4b0dfdca3c27ed5067dec3b64c22b5d21a546d0a3f11c094311549504, pickle
# Nothing below was executed; it is what pickle.loads would have done.

# pickle 1
_var0 = persistent_load('os.system')('id')  # offset 19  !! NOT ADMITTED BY THE POLICY
# offset 0: persistent-id 'os.system'  !! NOT ADMITTED BY THE POLICY
result = _var0
