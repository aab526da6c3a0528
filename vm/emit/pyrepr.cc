#include "vm/emit/pyrepr.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "vm/text/strings.h"

namespace picklevm {
namespace {
#include "vm/emit/unicode_printable.inc"

void AppendHex(std::string* out, const char* prefix, uint32_t v, int width) {
  char buf[16];
  snprintf(buf, sizeof buf, "%s%0*x", prefix, width, v);
  out->append(buf);
}

// Python picks ' unless the text has ' and no ".
char PickQuote(bool has_single, bool has_double) {
  return has_single && !has_double ? '"' : '\'';
}
}  // namespace

bool PyIsPrintable(uint32_t cp) {
  // Binary search the sorted non-printable ranges.
  size_t lo = 0, hi = sizeof(kNonPrintable) / sizeof(kNonPrintable[0]);
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cp < kNonPrintable[mid][0]) {
      hi = mid;
    } else if (cp > kNonPrintable[mid][1]) {
      lo = mid + 1;
    } else {
      return false;
    }
  }
  return true;
}

std::string PyReprStr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = PickQuote(has_single, has_double);
  std::string out(1, quote);
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = NextCodePoint(s, &i);
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7f) {
      AppendHex(&out, "\\x", cp, 2);
    } else if (cp < 0x7f) {
      out.push_back(static_cast<char>(cp));
    } else if (PyIsPrintable(cp)) {
      AppendCodePoint(&out, cp);
    } else if (cp <= 0xff) {
      AppendHex(&out, "\\x", cp, 2);
    } else if (cp <= 0xffff) {
      AppendHex(&out, "\\u", cp, 4);
    } else {
      AppendHex(&out, "\\U", cp, 8);
    }
  }
  out.push_back(quote);
  return out;
}

std::string PyReprBytes(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = PickQuote(has_single, has_double);
  std::string out = "b";
  out.push_back(quote);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == static_cast<unsigned char>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c >= 0x7f) {
      AppendHex(&out, "\\x", c, 2);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back(quote);
  return out;
}

}  // namespace picklevm
