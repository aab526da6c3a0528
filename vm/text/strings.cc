#include "vm/text/strings.h"

#include "vm/base/strcat.h"

namespace picklevm {

Utf8Check CheckUtf8(std::string_view bytes, bool allow_surrogates) {
  Utf8Check r;
  const auto* s = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size(), i = 0;
  // Short ASCII text (a dict key, a class name) in two overlapping loads,
  // not a byte at a time after the word loop: every byte of s[0..n) is in
  // one of them, and neither reads past it.
  if (n >= 4 && n <= 16) {
    uint64_t a, b;
    if (n >= 8) {
      __builtin_memcpy(&a, s, 8);
      __builtin_memcpy(&b, s + n - 8, 8);
    } else {
      uint32_t a4, b4;
      __builtin_memcpy(&a4, s, 4);
      __builtin_memcpy(&b4, s + n - 4, 4);
      a = a4;
      b = b4;
    }
    if (((a | b) & 0x8080808080808080ull) == 0) {
      r.valid = true;
      return r;
    }
  }
  while (i < n) {
    // Fast path over ASCII runs, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      r.error_at = i;
      return r;
    }
    if (i + len > n) {
      r.error_at = i;
      return r;
    }
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) {
        r.error_at = i;
        return r;
      }
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    // Reject overlong forms and code points past U+10FFFF.
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 ||
                                                  cp > 0x10ffff))) {
      r.error_at = i;
      return r;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) {
      if (!allow_surrogates) {
        r.error_at = i;
        return r;
      }
      r.has_surrogates = true;
    }
    i += len;
  }
  r.valid = true;
  return r;
}

bool IsAscii(std::string_view bytes, size_t* bad) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (static_cast<uint8_t>(bytes[i]) >= 0x80) {
      *bad = i;
      return false;
    }
  }
  return true;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool EscapeDecode(std::string_view in, std::string* out, std::string* error) {
  out->clear();
  out->reserve(in.size());
  size_t n = in.size();
  for (size_t i = 0; i < n;) {
    char c = in[i++];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (i >= n) {
      *error = "trailing \\ in string";
      return false;
    }
    c = in[i++];
    switch (c) {
      case '\n': break;  // line continuation
      case '\\': out->push_back('\\'); break;
      case '\'': out->push_back('\''); break;
      case '"': out->push_back('"'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 't': out->push_back('\t'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 'v': out->push_back('\v'); break;
      case 'a': out->push_back('\a'); break;
      case '0': case '1': case '2': case '3':
      case '4': case '5': case '6': case '7': {
        int v = c - '0';
        for (int k = 0; k < 2 && i < n && in[i] >= '0' && in[i] <= '7'; ++k) {
          v = v * 8 + (in[i++] - '0');
        }
        out->push_back(static_cast<char>(v & 0xff));
        break;
      }
      case 'x': {
        int hi = i < n ? HexValue(in[i]) : -1;
        int lo = i + 1 < n ? HexValue(in[i + 1]) : -1;
        if (hi < 0 || lo < 0) {
          *error = StrCat("invalid \\x escape at position ", i - 2);
          return false;
        }
        out->push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      default:
        // Unknown escapes are kept verbatim (CPython warns, then keeps them).
        out->push_back('\\');
        out->push_back(c);
    }
  }
  return true;
}

void AppendCodePoint(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

bool RawUnicodeEscapeDecode(std::string_view in, std::string* out,
                            bool* has_surrogates, std::string* error) {
  out->clear();
  *has_surrogates = false;
  size_t n = in.size();
  for (size_t i = 0; i < n;) {
    uint8_t c = static_cast<uint8_t>(in[i++]);
    if (c != '\\' || i >= n) {
      AppendCodePoint(out, c);  // bytes are Latin-1 code points
      continue;
    }
    uint8_t e = static_cast<uint8_t>(in[i++]);
    int count = e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (count == 0) {
      // A backslash pair (or a backslash before anything else) is literal;
      // consuming both keeps "\\\\u" from starting an escape.
      AppendCodePoint(out, '\\');
      AppendCodePoint(out, e);
      continue;
    }
    uint32_t cp = 0;
    for (int k = 0; k < count; ++k, ++i) {
      int h = i < n ? HexValue(in[i]) : -1;
      if (h < 0) {
        *error = i < n ? "malformed \\uXXXX escape" : "truncated \\uXXXX escape";
        return false;
      }
      cp = cp * 16 + static_cast<uint32_t>(h);
    }
    if (cp > 0x10ffff) {
      *error = "\\Uxxxxxxxx out of range";
      return false;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) *has_surrogates = true;
    AppendCodePoint(out, cp);
  }
  return true;
}

uint32_t NextCodePoint(std::string_view s, size_t* i) {
  auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = b(*i);
  if (c < 0x80) {
    *i += 1;
    return c;
  }
  if (c < 0xe0) {
    uint32_t cp = ((c & 0x1f) << 6) | (b(*i + 1) & 0x3f);
    *i += 2;
    return cp;
  }
  if (c < 0xf0) {
    uint32_t cp = ((c & 0x0f) << 12) | ((b(*i + 1) & 0x3f) << 6) |
                  (b(*i + 2) & 0x3f);
    *i += 3;
    return cp;
  }
  uint32_t cp = ((c & 0x07) << 18) | ((b(*i + 1) & 0x3f) << 12) |
                ((b(*i + 2) & 0x3f) << 6) | (b(*i + 3) & 0x3f);
  *i += 4;
  return cp;
}

bool EncodeLatin1(std::string_view utf8, std::string* out) {
  out->clear();
  out->reserve(utf8.size());
  for (size_t i = 0; i < utf8.size();) {
    uint32_t cp = NextCodePoint(utf8, &i);
    if (cp > 0xff) return false;
    out->push_back(static_cast<char>(cp));
  }
  return true;
}

std::string DecodeLatin1(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) AppendCodePoint(&out, static_cast<uint8_t>(c));
  return out;
}

}  // namespace picklevm
