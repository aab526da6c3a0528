#include "vm/base/json_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace picklevm {

namespace {

// Python's repr() of a finite double into `out`, without allocating: the
// shortest round-trip digits (std::to_chars), laid out as repr does --
// fixed notation for 1e-4 <= |d| < 1e16, else d.ddde+XX.
void AppendFiniteRepr(double d, std::string* out) {
  char buf[40];
  auto res = std::to_chars(buf, buf + sizeof buf, d,
                           std::chars_format::scientific);
  const char* p = buf;
  const char* end = res.ptr;  // [-]d[.ddd]e(+|-)XX
  if (*p == '-') {
    out->push_back('-');
    ++p;
  }
  char digits[24];
  int n = 0;
  while (p < end && *p != 'e') {
    if (*p != '.') digits[n++] = *p;
    ++p;
  }
  int exp10 = 0;
  std::from_chars(p + (p[1] == '+' ? 2 : 1), end, exp10);
  int decpt = exp10 + 1;  // value = 0.DIGITS * 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out->append("0.");
      out->append(static_cast<size_t>(-decpt), '0');
      out->append(digits, n);
    } else if (decpt >= n) {
      out->append(digits, n);
      out->append(static_cast<size_t>(decpt - n), '0');
      out->append(".0");
    } else {
      out->append(digits, decpt);
      out->push_back('.');
      out->append(digits + decpt, n - decpt);
    }
    return;
  }
  out->push_back(digits[0]);
  if (n > 1) {
    out->push_back('.');
    out->append(digits + 1, n - 1);
  }
  int x = decpt - 1;
  out->append(x < 0 ? "e-" : "e+");
  if (x < 0) x = -x;
  if (x < 10) out->push_back('0');
  char xb[8];
  auto xr = std::to_chars(xb, xb + sizeof xb, x);
  out->append(xb, xr.ptr - xb);
}

}  // namespace

std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string out;
  AppendFiniteRepr(d, &out);
  return out;
}

void AppendFloat(double d, std::string* out) {
  if (std::isnan(d)) {
    out->append("{\"$float\":\"nan\"}");
  } else if (std::isinf(d)) {
    out->append(d > 0 ? "{\"$float\":\"inf\"}" : "{\"$float\":\"-inf\"}");
  } else {
    AppendFiniteRepr(d, out);
  }
}

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c != 0xed) continue;
    if (c == 0xed && i + 2 < s.size() &&
        (static_cast<unsigned char>(s[i + 1]) & 0xe0) == 0xa0) {
      // A lone surrogate (generalized UTF-8, see text/strings.h) is not
      // valid UTF-8: write it as a \u escape, which JSON allows.
      out->append(s.data() + run, i - run);
      uint32_t cp = 0xd000 | ((s[i + 1] & 0x3f) << 6) | (s[i + 2] & 0x3f);
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", cp);
      out->append(buf);
      i += 2;
      run = i + 1;
      continue;
    }
    if (c == 0xed) continue;
    out->append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default: {
        char buf[8];
        snprintf(buf, sizeof buf, "\\u%04x", c);
        out->append(buf);
      }
    }
  }
  out->append(s.data() + run, s.size() - run);
  out->push_back('"');
}

}  // namespace picklevm
