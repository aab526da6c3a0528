#include "vm/base/json_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace picklevm {

std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d,
                           std::chars_format::scientific);
  std::string_view sci(buf, res.ptr - buf);  // [-]d[.ddd]e(+|-)XX
  bool negative = sci[0] == '-';
  if (negative) sci.remove_prefix(1);
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = 0;
  std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1),
                  sci.data() + sci.size(), exp10);
  int decpt = exp10 + 1;  // value = 0.DIGITS * 10^decpt
  std::string out = negative ? "-" : "";
  if (decpt > -4 && decpt <= 16) {
    // Python repr's fixed notation.
    int n = static_cast<int>(digits.size());
    if (decpt <= 0) {
      out += "0.";
      out.append(-decpt, '0');
      out += digits;
    } else if (decpt >= n) {
      out += digits;
      out.append(decpt - n, '0');
      out += ".0";
    } else {
      out += digits.substr(0, decpt);
      out += '.';
      out += digits.substr(decpt);
    }
  } else {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out += digits.substr(1);
    }
    int x = decpt - 1;
    out += x < 0 ? "e-" : "e+";
    if (std::abs(x) < 10) out += '0';
    out += std::to_string(std::abs(x));
  }
  return out;
}

void AppendFloat(double d, std::string* out) {
  if (std::isnan(d)) {
    out->append("{\"$float\":\"nan\"}");
  } else if (std::isinf(d)) {
    out->append(d > 0 ? "{\"$float\":\"inf\"}" : "{\"$float\":\"-inf\"}");
  } else {
    out->append(FloatRepr(d));
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
