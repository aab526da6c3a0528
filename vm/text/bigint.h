// Arbitrary-precision integers, only as far as an inert reader needs them:
// turning LONG1/LONG4 two's-complement bytes, hex/octal/binary literals and
// integral doubles into canonical decimal text.  Python ints are kept as an
// int64 when they fit and as decimal text otherwise.
//
// Cost: conversion to decimal is quadratic in the digit count, which the
// caller bounds with --max-int-digits (default 4300, CPython's own limit for
// int<->str conversion), so one conversion is at most ~2 * 10^5 limb steps.
#ifndef PICKLEVM_VM_TEXT_BIGINT_H_
#define PICKLEVM_VM_TEXT_BIGINT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace picklevm {

// A Python int: `small` when it fits in int64, else `decimal` (canonical:
// no leading zeros, leading '-' when negative, never "-0").
struct PyInt {
  bool is_small = true;
  int64_t small = 0;
  std::string decimal;
};

// Magnitude in base 2^32, least significant limb first.
using Limbs = std::vector<uint32_t>;

// Decimal digits a magnitude of `bits` bits can have (an upper bound).
uint64_t MaxDecimalDigitsForBits(uint64_t bits);

// Little-endian two's complement (pickle's LONG1/LONG4 payload) to PyInt.
// Fails (returns false) when the decimal form would exceed max_digits.
bool PyIntFromTwosComplement(std::string_view bytes, uint64_t max_digits,
                             PyInt* out);

// A magnitude and sign to PyInt, with the same digit bound.
bool PyIntFromLimbs(Limbs mag, bool negative, uint64_t max_digits, PyInt* out);

// The canonical decimal text of a PyInt.
std::string PyIntToDecimal(const PyInt& v);

// An integral, finite double to its exact decimal text ("-0" -> "0").
std::string IntegralDoubleToDecimal(double d);

}  // namespace picklevm

#endif  // PICKLEVM_VM_TEXT_BIGINT_H_
