#include "vm/text/bigint.h"

#include <cmath>
#include <cstring>

#include "vm/base/strcat.h"

namespace picklevm {
namespace {

void Trim(Limbs& mag) {
  while (!mag.empty() && mag.back() == 0) mag.pop_back();
}

// Divides mag by d in place, returns the remainder.
uint32_t DivSmall(Limbs& mag, uint32_t d) {
  uint64_t rem = 0;
  for (size_t i = mag.size(); i-- > 0;) {
    uint64_t cur = (rem << 32) | mag[i];
    mag[i] = static_cast<uint32_t>(cur / d);
    rem = cur % d;
  }
  Trim(mag);
  return static_cast<uint32_t>(rem);
}

std::string MagnitudeToDecimal(Limbs mag) {
  Trim(mag);
  if (mag.empty()) return "0";
  // Peel base-10^9 chunks, least significant first.
  std::vector<uint32_t> chunks;
  while (!mag.empty()) chunks.push_back(DivSmall(mag, 1000000000u));
  std::string out = StrCat(chunks.back());
  char buf[16];
  for (size_t i = chunks.size() - 1; i-- > 0;) {
    snprintf(buf, sizeof buf, "%09u", chunks[i]);
    out += buf;
  }
  return out;
}

}  // namespace

uint64_t MaxDecimalDigitsForBits(uint64_t bits) {
  // log10(2) < 0.30103; +1 for the partial digit.
  return bits * 30103 / 100000 + 1;
}

bool PyIntFromLimbs(Limbs mag, bool negative, uint64_t max_digits,
                    PyInt* out) {
  Trim(mag);
  uint64_t bits = mag.size() * 32;
  if (mag.size() <= 2) {
    uint64_t v = mag.empty() ? 0 : mag[0];
    if (mag.size() == 2) v |= uint64_t{mag[1]} << 32;
    if (!negative && v <= uint64_t{INT64_MAX}) {
      *out = PyInt{true, static_cast<int64_t>(v), {}};
      return true;
    }
    if (negative && v <= uint64_t{INT64_MAX} + 1) {
      *out = PyInt{true, static_cast<int64_t>(0 - v), {}};
      return true;
    }
  }
  // Cheap pre-check before the quadratic conversion.
  if (MaxDecimalDigitsForBits(bits) > max_digits + 10) {
    // Could still be within the bound when the top limb is small; the exact
    // count below decides, but refuse clearly hopeless sizes up front.
    uint32_t top = mag.back();
    uint64_t top_bits = 32 - __builtin_clz(top);
    uint64_t min_bits = (mag.size() - 1) * 32 + top_bits - 1;
    // 2^min_bits has at least floor(min_bits*log10(2))+1 digits.
    if (min_bits * 30102 / 100000 + 1 > max_digits) return false;
  }
  std::string dec = MagnitudeToDecimal(std::move(mag));
  if (dec.size() > max_digits) return false;
  out->is_small = false;
  out->small = 0;
  out->decimal = negative ? StrCat("-", dec) : dec;
  return true;
}

bool PyIntFromTwosComplement(std::string_view bytes, uint64_t max_digits,
                             PyInt* out) {
  size_t n = bytes.size();
  if (n == 0) {
    *out = PyInt{};
    return true;
  }
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data());
  bool negative = (b[n - 1] & 0x80) != 0;
  // Reject before allocating: n bytes hold up to 8n bits.
  if (n > 8) {
    // Skip sign-extension bytes to size the real magnitude.
    size_t sig = n;
    uint8_t ext = negative ? 0xff : 0x00;
    while (sig > 1 && b[sig - 1] == ext) --sig;
    if (MaxDecimalDigitsForBits((sig - 1) * 8) > max_digits + 10 &&
        (sig - 2) * 8 * 30102 / 100000 + 1 > max_digits) {
      return false;
    }
  }
  Limbs mag((n + 3) / 4, 0);
  for (size_t i = 0; i < n; ++i) {
    mag[i / 4] |= uint32_t{b[i]} << (8 * (i % 4));
  }
  if (n % 4 != 0 && negative) {
    // Sign-extend the top limb so the negation below is exact.
    for (size_t i = n; i < mag.size() * 4; ++i) {
      mag[i / 4] |= uint32_t{0xff} << (8 * (i % 4));
    }
  }
  if (negative) {
    // Two's complement negation: invert and add one.
    uint64_t carry = 1;
    for (auto& limb : mag) {
      uint64_t v = uint64_t{static_cast<uint32_t>(~limb)} + carry;
      limb = static_cast<uint32_t>(v);
      carry = v >> 32;
    }
  }
  return PyIntFromLimbs(std::move(mag), negative, max_digits, out);
}

std::string PyIntToDecimal(const PyInt& v) {
  return v.is_small ? StrCat(v.small) : v.decimal;
}

std::string IntegralDoubleToDecimal(double d) {
  if (d == 0) return "0";
  bool negative = d < 0;
  int exp;
  double frac = std::frexp(std::fabs(d), &exp);  // d = frac * 2^exp
  uint64_t mant = static_cast<uint64_t>(std::ldexp(frac, 53));
  int shift = exp - 53;
  Limbs mag{static_cast<uint32_t>(mant), static_cast<uint32_t>(mant >> 32)};
  if (shift < 0) {
    // Integral doubles below 2^53 shift right exactly.
    uint64_t v = mant >> (-shift);
    mag = {static_cast<uint32_t>(v), static_cast<uint32_t>(v >> 32)};
  } else {
    int limbs = shift / 32, bits = shift % 32;
    Limbs shifted(mag.size() + limbs + 1, 0);
    for (size_t i = 0; i < mag.size(); ++i) {
      uint64_t v = uint64_t{mag[i]} << bits;
      shifted[i + limbs] |= static_cast<uint32_t>(v);
      shifted[i + limbs + 1] |= static_cast<uint32_t>(v >> 32);
    }
    mag = std::move(shifted);
  }
  std::string dec = MagnitudeToDecimal(std::move(mag));
  return negative ? "-" + dec : dec;
}

}  // namespace picklevm
