// String decoders of the pickle opcodes.  picklevm stores every Python str
// as "generalized UTF-8": UTF-8 in which a lone surrogate code point
// (U+D800-U+DFFF) is written as its 3-byte form, exactly what CPython's
// 'surrogatepass' error handler produces.  Each code point has one encoding,
// so byte equality is str equality, and a valid BINUNICODE payload is used
// as-is (a zero-copy view of the input).
#ifndef PICKLEVM_VM_TEXT_STRINGS_H_
#define PICKLEVM_VM_TEXT_STRINGS_H_

#include <cstdint>
#include <string>
#include <cstring>
#include <string_view>

namespace picklevm {

struct Utf8Check {
  bool valid = false;
  bool has_surrogates = false;
  size_t error_at = 0;  // byte index of the first invalid byte
};

// UTF-8 with surrogatepass (BINUNICODE and friends).
Utf8Check CheckUtf8(std::string_view bytes, bool allow_surrogates);

// True when every byte is < 0x80; *bad gets the first offending index.
bool IsAscii(std::string_view bytes, size_t* bad);

// A dunder name ("__setstate__", "__builtins__") as the policy's patterns
// and BUILD's state check read it: four characters or more, "__" at both
// ends.
inline bool IsDunder(std::string_view s) {
  size_t n = s.size();
  return n >= 4 && s[0] == '_' && s[1] == '_' && s[n - 2] == '_' &&
         s[n - 1] == '_';
}

// s == lit for a string literal: a length compare and a memcmp of a
// constant size, which the compiler inlines (std::string_view's == became
// a call per compare on the joblib array path).
template <size_t N>
inline bool IsText(std::string_view s, const char (&lit)[N]) {
  return s.size() == N - 1 && std::memcmp(s.data(), lit, N - 1) == 0;
}

// Python's codecs.escape_decode (the STRING opcode's payload).  Returns false
// with *error set on a bad \x escape or a trailing backslash.
bool EscapeDecode(std::string_view in, std::string* out, std::string* error);

// Python's raw-unicode-escape decoder (the UNICODE opcode), into
// generalized UTF-8.  *has_surrogates tells whether a lone surrogate came out.
bool RawUnicodeEscapeDecode(std::string_view in, std::string* out,
                            bool* has_surrogates, std::string* error);

// Appends a code point in generalized UTF-8.
void AppendCodePoint(std::string* out, uint32_t cp);

// Decodes the next code point of a generalized UTF-8 string that was
// validated before; advances *i.
uint32_t NextCodePoint(std::string_view s, size_t* i);

// Encodes a str as Latin-1 ('latin1' codec); false if a code point > 0xFF.
bool EncodeLatin1(std::string_view utf8, std::string* out);

// Latin-1 bytes to generalized UTF-8.
std::string DecodeLatin1(std::string_view bytes);

}  // namespace picklevm

#endif  // PICKLEVM_VM_TEXT_STRINGS_H_
