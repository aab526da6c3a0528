#include "vm/text/numbers.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace picklevm {
namespace {

bool IsPySpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

std::string_view UpToNul(std::string_view s) {
  size_t nul = s.find('\0');
  return nul == std::string_view::npos ? s : s.substr(0, nul);
}

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 99;
}

// Multiply-add into a base-2^32 magnitude.
void MulAdd(Limbs& mag, uint32_t mul, uint32_t add) {
  uint64_t carry = add;
  for (auto& limb : mag) {
    uint64_t v = uint64_t{limb} * mul + carry;
    limb = static_cast<uint32_t>(v);
    carry = v >> 32;
  }
  if (carry) mag.push_back(static_cast<uint32_t>(carry));
}

}  // namespace

NumParse ParsePythonInt(std::string_view text, int base, uint64_t max_digits,
                        PyInt* out) {
  std::string_view s = UpToNul(text);
  size_t i = 0, n = s.size();
  while (i < n && IsPySpace(s[i])) ++i;
  bool negative = false;
  if (i < n && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  bool zeros_only = false;  // base 0 without prefix and a leading '0'
  if (base == 0) {
    if (i + 1 < n && s[i] == '0' &&
        (s[i + 1] == 'x' || s[i + 1] == 'X' || s[i + 1] == 'o' ||
         s[i + 1] == 'O' || s[i + 1] == 'b' || s[i + 1] == 'B')) {
      char p = s[i + 1] | 0x20;
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      i += 2;
      if (i < n && s[i] == '_') ++i;  // "0x_1f" is allowed
    } else {
      base = 10;
      zeros_only = i < n && s[i] == '0';
    }
  }
  // Digits with single underscores between them.
  size_t digits_start = i;
  uint64_t ndigits = 0;
  bool prev_underscore = false;
  bool any_nonzero = false;
  for (; i < n; ++i) {
    char c = s[i];
    if (c == '_') {
      if (prev_underscore || ndigits == 0) return NumParse::kInvalid;
      prev_underscore = true;
      continue;
    }
    int d = DigitValue(c);
    if (d >= base) break;
    if (d != 0) any_nonzero = true;
    prev_underscore = false;
    ++ndigits;
  }
  if (ndigits == 0 || prev_underscore) return NumParse::kInvalid;
  size_t digits_end = i;
  while (i < n && IsPySpace(s[i])) ++i;
  if (i != n) return NumParse::kInvalid;
  if (zeros_only && any_nonzero) return NumParse::kInvalid;
  if (base == 10 && ndigits > max_digits) return NumParse::kTooManyDigits;
  if (base != 10) {
    // Bound the work before accumulating: each digit costs a pass over the
    // limbs, so refuse values whose decimal form is over the limit from the
    // count of significant digits (leading zeros cost nothing).
    uint64_t significant = 0;
    bool seen = false;
    for (size_t k = digits_start; k < digits_end; ++k) {
      if (s[k] == '_') continue;
      seen |= s[k] != '0';
      if (seen) ++significant;
    }
    uint64_t bits_per_digit = base == 16 ? 4 : base == 8 ? 3 : 1;
    uint64_t min_bits = significant ? (significant - 1) * bits_per_digit : 0;
    if (min_bits * 30102 / 100000 + 1 > max_digits) {
      return NumParse::kTooManyDigits;
    }
  }
  if (base == 10) {
    // A decimal int's canonical text is its own digits, without
    // underscores and leading zeros: no arithmetic.  (A round trip through
    // binary limbs, one multiply per digit and a division back, is
    // quadratic: 10 MB of 4,300-digit ints took 2.2 s, CPython 0.2 s.)
    std::string d;
    d.reserve(ndigits);
    for (size_t k = digits_start; k < digits_end; ++k) {
      if (s[k] == '_' || (s[k] == '0' && d.empty())) continue;
      d.push_back(s[k]);
    }
    if (d.size() <= 19) {  // below 2^64: maybe an int64
      uint64_t v = 0;
      for (char c : d) v = v * 10 + static_cast<uint64_t>(c - '0');
      if (!negative && v <= uint64_t{INT64_MAX}) {
        *out = PyInt{true, static_cast<int64_t>(v), {}};
        return NumParse::kOk;
      }
      if (negative && v <= uint64_t{INT64_MAX} + 1) {
        *out = PyInt{true, static_cast<int64_t>(0 - v), {}};
        return NumParse::kOk;
      }
    }
    out->is_small = false;
    out->small = 0;
    out->decimal = negative ? "-" + d : std::move(d);
    return NumParse::kOk;
  }
  // Accumulate into limbs (bounded above by the digit checks).
  Limbs mag;
  for (size_t k = digits_start; k < digits_end; ++k) {
    if (s[k] == '_') continue;
    MulAdd(mag, static_cast<uint32_t>(base),
           static_cast<uint32_t>(DigitValue(s[k])));
  }
  if (!PyIntFromLimbs(std::move(mag), negative, max_digits, out)) {
    return NumParse::kTooManyDigits;
  }
  return NumParse::kOk;
}

NumParse ParseIntOpcode(std::string_view line, uint64_t max_digits,
                        PyInt* out, bool* is_bool) {
  *is_bool = false;
  // Emulate strtol(s, &end, 0) on the NUL-terminated copy of the line.
  std::string_view s = UpToNul(line);
  size_t i = 0, n = s.size();
  while (i < n && IsPySpace(s[i])) ++i;
  bool negative = false;
  if (i < n && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  int base = 10;
  if (i < n && s[i] == '0') {
    if (i + 2 < n && (s[i + 1] | 0x20) == 'x' && DigitValue(s[i + 2]) < 16) {
      base = 16;
      i += 2;
    } else {
      base = 8;
    }
  }
  size_t digits_start = i;
  unsigned __int128 acc = 0;
  bool range_error = false;
  for (; i < n; ++i) {
    int d = DigitValue(s[i]);
    if (d >= base) break;
    acc = acc * base + d;
    if (acc > (unsigned __int128)INT64_MAX + 1) range_error = true;
  }
  size_t end = i == digits_start ? 0 : i;  // no digits: endptr = start
  bool end_ok = end >= s.size() || s[end] == '\n';
  if (end == 0) end_ok = s.empty() || s[0] == '\n';
  if (!range_error && (negative || acc <= INT64_MAX) && end_ok) {
    int64_t x = negative ? static_cast<int64_t>(0 - static_cast<uint64_t>(acc))
                         : static_cast<int64_t>(acc);
    if (line.size() == 3 && (x == 0 || x == 1)) *is_bool = true;
    *out = PyInt{true, x, {}};
    return NumParse::kOk;
  }
  // "Maybe we've got something long": int(text, 0).
  return ParsePythonInt(line, 0, max_digits, out);
}

NumParse ParseLongOpcode(std::string_view line, uint64_t max_digits,
                         PyInt* out) {
  std::string_view s = line;
  // _pickle.c overwrites s[len-2] with NUL when it is 'L'.
  if (s.size() >= 2 && s[s.size() - 2] == 'L') s = s.substr(0, s.size() - 2);
  return ParsePythonInt(s, 0, max_digits, out);
}

size_t ParseReprFloat(std::string_view s, double* out) {
  const char* const first = s.data();
  const char* const last = first + s.size();
  const char* digits = first + (first < last && *first == '-');
  if (digits >= last ||
      !((*digits >= '0' && *digits <= '9') || *digits == '.')) {
    return 0;
  }
  double v;
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr == last || *ptr != '\n') return 0;
  *out = v;
  return static_cast<size_t>(ptr - first);
}

NumParse ParseFloatOpcode(std::string_view line, double* out) {
  if (!line.empty() && line.back() == '\n' &&
      ParseReprFloat(line, out) == line.size() - 1) {
    return NumParse::kOk;
  }
  std::string_view s = UpToNul(line);
  size_t i = 0, n = s.size();
  bool negative = false;
  if (i < n && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  auto match_ci = [&](size_t at, std::string_view word) {
    if (at + word.size() > n) return false;
    for (size_t k = 0; k < word.size(); ++k) {
      if ((s[at + k] | 0x20) != word[k]) return false;
    }
    return true;
  };
  auto end_ok = [&](size_t at) { return at == n || s[at] == '\n'; };
  // Python's dtoa grammar: digits [. digits] | . digits, then [e[sign]digits].
  size_t mant_start = i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits + frac_digits == 0) {
    // Not a decimal literal: inf, infinity or nan (no payload syntax).
    size_t j = mant_start;
    double v;
    if (match_ci(j, "inf")) {
      j += 3;
      if (match_ci(j, "inity")) j += 5;
      v = std::numeric_limits<double>::infinity();
    } else if (match_ci(j, "nan")) {
      j += 3;
      v = std::numeric_limits<double>::quiet_NaN();
    } else {
      return NumParse::kInvalid;
    }
    if (!end_ok(j)) return NumParse::kInvalid;
    *out = negative ? -v : v;
    return NumParse::kOk;
  }
  size_t mant_end = i;
  if (i < n && (s[i] | 0x20) == 'e') {
    size_t j = i + 1;
    if (j < n && (s[j] == '+' || s[j] == '-')) ++j;
    size_t exp_digits = 0;
    while (j < n && s[j] >= '0' && s[j] <= '9') ++j, ++exp_digits;
    if (exp_digits > 0) i = j;  // a bare 'e' is not part of the number
  }
  (void)mant_end;
  if (!end_ok(i)) return NumParse::kInvalid;
  // The grammar is checked.  std::from_chars rounds correctly and needs no
  // copy (libstdc++'s is fast_float); anything it does not take whole, and
  // overflow and underflow, go to glibc's strtod, which rounds correctly
  // too and whose range behaviour is the one Python's is compared with.
  {
    const char* first = s.data() + mant_start;
    const char* last = s.data() + i;
    double v;
    auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec == std::errc() && ptr == last) {
      *out = negative ? -v : v;
      return NumParse::kOk;
    }
  }
  std::string text(s.substr(mant_start, i - mant_start));
  errno = 0;
  char* endp = nullptr;
  double v = std::strtod(text.c_str(), &endp);
  if (endp != text.c_str() + text.size()) return NumParse::kInvalid;
  if (errno == ERANGE && std::fabs(v) >= 1.0) return NumParse::kOverflow;
  *out = negative ? -v : v;
  return NumParse::kOk;
}

}  // namespace picklevm
