#include "vm/decode/operand.h"

#include <cstring>

#include "vm/base/strcat.h"
#include "vm/base/error.h"

namespace picklevm {
namespace {

uint64_t LittleEndian(std::string_view b) {
  uint64_t v = 0;
  for (size_t i = b.size(); i-- > 0;) {
    v = (v << 8) | static_cast<uint8_t>(b[i]);
  }
  return v;
}

absl::Status ReadUnsigned(Reader& r, int width, uint64_t* out) {
  std::string_view b;
  if (auto s = r.Read(width, &b); !s.ok()) return s;
  *out = LittleEndian(b);
  return absl::OkStatus();
}

// A length prefix of `width` bytes, then that many bytes.  Signed prefixes
// (BINSTRING, LONG4) reject negatives as CPython does.
absl::Status ReadCounted(Reader& r, int width, bool is_signed,
                         std::string_view* out) {
  uint64_t n;
  if (auto s = ReadUnsigned(r, width, &n); !s.ok()) return s;
  if (is_signed && width == 4 && (n & 0x80000000u)) {
    return r.Error(static_cast<int>(ErrorCode::kBadOperand),
                   StrCat("negative byte count ",
                                static_cast<int32_t>(n)));
  }
  if (n > r.Available()) {
    // Checked before anything is sized from it (a 2^63 length is just this).
    return r.Error(static_cast<int>(ErrorCode::kTruncated),
                   StrCat("length prefix ", n, " exceeds the ",
                                r.Available(), " bytes left"));
  }
  return r.Read(n, out);
}

}  // namespace

absl::Status DecodeOperandSlow(Reader& r, const OpcodeInfo& info,
                               Operand* out) {
  switch (info.arg) {
    case ArgKind::kNone:
      return absl::OkStatus();
    case ArgKind::kUInt1:
      return ReadUnsigned(r, 1, &out->u);
    case ArgKind::kUInt2:
      return ReadUnsigned(r, 2, &out->u);
    case ArgKind::kUInt4:
      return ReadUnsigned(r, 4, &out->u);
    case ArgKind::kUInt8:
      return ReadUnsigned(r, 8, &out->u);
    case ArgKind::kInt4: {
      uint64_t v;
      if (auto s = ReadUnsigned(r, 4, &v); !s.ok()) return s;
      out->i = static_cast<int32_t>(static_cast<uint32_t>(v));
      return absl::OkStatus();
    }
    case ArgKind::kFloat8: {
      std::string_view b;
      if (auto s = r.Read(8, &b); !s.ok()) return s;
      uint64_t bits =
          LoadBigEndian64(reinterpret_cast<const uint8_t*>(b.data()));
      std::memcpy(&out->f, &bits, sizeof bits);
      return absl::OkStatus();
    }
    case ArgKind::kLong1:
    case ArgKind::kString1:
    case ArgKind::kBytes1:
    case ArgKind::kUnicodeString1:
      return ReadCounted(r, 1, false, &out->bytes);
    case ArgKind::kLong4:
    case ArgKind::kString4:
      return ReadCounted(r, 4, true, &out->bytes);
    case ArgKind::kBytes4:
    case ArgKind::kUnicodeString4:
      return ReadCounted(r, 4, false, &out->bytes);
    case ArgKind::kBytes8:
    case ArgKind::kBytearray8:
    case ArgKind::kUnicodeString8:
      return ReadCounted(r, 8, false, &out->bytes);
    case ArgKind::kDecimalNlShort:
    case ArgKind::kDecimalNlLong:
    case ArgKind::kFloatNl:
    case ArgKind::kStringNl:
    case ArgKind::kStringNlNoescape:
    case ArgKind::kUnicodeStringNl:
      return r.ReadLine(&out->bytes);
    case ArgKind::kStringNlNoescapePair:
      if (auto s = r.ReadLine(&out->bytes); !s.ok()) return s;
      return r.ReadLine(&out->line2);
  }
  return r.Error(static_cast<int>(ErrorCode::kBadOperand), "bad operand kind");
}

}  // namespace picklevm
