# Writes a C++ source holding every file of allowlists/ as a string, so the
# default policy is part of the binary.  Run by the build (see CMakeLists).
#   cmake -DSRC=<allowlists dir> -DOUT=<file.cc> -P embed_allowlists.cmake
file(GLOB files RELATIVE "${SRC}" "${SRC}/*")
list(SORT files)
set(body "// Generated from allowlists/ by tools/embed_allowlists.cmake.\n#include <cstddef>\nnamespace picklevm {\nstruct EmbeddedAllowlist { const char* name; const char* text; };\nextern const EmbeddedAllowlist kEmbeddedAllowlists[] = {\n")
set(count 0)
foreach(f IN LISTS files)
  if(IS_DIRECTORY "${SRC}/${f}" OR f MATCHES "^\\.")
    continue()
  endif()
  file(READ "${SRC}/${f}" text)
  string(APPEND body "  {\"${f}\", R\"PVM_ALLOW(${text})PVM_ALLOW\"},\n")
  math(EXPR count "${count} + 1")
endforeach()
string(APPEND body "};\nextern const size_t kEmbeddedAllowlistCount = ${count};\n}  // namespace picklevm\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
