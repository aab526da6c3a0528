#include "vm/graph/numpy_values.h"

#include <cmath>
#include <cstring>

#include "vm/base/json_text.h"
#include "vm/base/strcat.h"

namespace picklevm {
namespace {

uint64_t LoadUnsigned(std::string_view b, bool big) {
  uint64_t v = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    size_t k = big ? i : b.size() - 1 - i;
    v = (v << 8) | static_cast<uint8_t>(b[k]);
  }
  return v;
}

double HalfToDouble(uint16_t h) {
  int exp = (h >> 10) & 0x1f;
  int mant = h & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(mant, -24);
  } else if (exp == 31) {
    v = mant ? NAN : INFINITY;
  } else {
    v = std::ldexp(mant + 1024, exp - 25);
  }
  return (h & 0x8000) ? -v : v;
}

double LoadFloat(std::string_view b, bool big) {
  uint64_t bits = LoadUnsigned(b, big);
  if (b.size() == 2) return HalfToDouble(static_cast<uint16_t>(bits));
  if (b.size() == 4) {
    float f;
    uint32_t u = static_cast<uint32_t>(bits);
    std::memcpy(&f, &u, 4);
    return f;
  }
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

}  // namespace

bool DtypeOrderFree(const DtypeInfo& d) {
  return d.kind == 'b' || d.kind == 'S' || d.kind == 'V' || d.kind == 'O' ||
         ((d.kind == 'i' || d.kind == 'u') && d.itemsize == 1) ||
         d.structured || d.subarray;
}

std::string DtypeStr(const DtypeInfo& d) {
  std::string s(1, DtypeOrderFree(d) ? '|' : d.byteorder);
  s.push_back(d.kind);
  switch (d.kind) {
    case 'O':
      break;
    case 'U':
      StrAppend(&s, d.itemsize / 4);
      break;
    case 'M':
    case 'm':
      s += "8";
      if (!d.unit.empty()) {
        s += "[";
        if (d.unit_count != 1) StrAppend(&s, d.unit_count);
        s.append(d.unit);
        s += "]";
      }
      break;
    default:
      StrAppend(&s, d.itemsize);
  }
  return s;
}

void AppendDtypeJson(const DtypeInfo& d, std::string* out) {
  if (d.subarray) {
    out->append("{\"base\":");
    AppendDtypeJson(*d.sub_base->a.dtype, out);
    out->append(",\"shape\":[");
    for (uint32_t i = 0; i < d.sub_shape.size; ++i) {
      if (i) out->push_back(',');
      StrAppend(out, d.sub_shape[i]);
    }
    out->append("]}");
    return;
  }
  if (!d.structured) {
    out->push_back('"');
    out->append(DtypeStr(d));
    out->push_back('"');
    return;
  }
  out->append("{\"names\":[");
  for (uint32_t i = 0; i < d.fields.size; ++i) {
    if (i) out->push_back(',');
    AppendJsonString(d.fields[i].name, out);
  }
  out->append("],\"formats\":[");
  for (uint32_t i = 0; i < d.fields.size; ++i) {
    if (i) out->push_back(',');
    AppendDtypeJson(*d.fields[i].format->a.dtype, out);
  }
  out->append("],\"offsets\":[");
  bool titled = false;
  for (uint32_t i = 0; i < d.fields.size; ++i) {
    if (i) out->push_back(',');
    StrAppend(out, d.fields[i].offset);
    titled |= d.fields[i].title != nullptr;
  }
  StrAppend(out, "],\"itemsize\":", d.itemsize);
  if (d.aligned) out->append(",\"aligned\":true");
  if (titled) {
    out->append(",\"titles\":[");
    for (uint32_t i = 0; i < d.fields.size; ++i) {
      if (i) out->push_back(',');
      const Node* t = d.fields[i].title;
      if (t == nullptr) {
        out->append("null");
      } else {
        AppendJsonString(t->str(), out);
      }
    }
    out->push_back(']');
  }
  out->push_back('}');
}

bool ScalarNumber(const ScalarInfo& s, Node* out, std::string* storage) {
  const DtypeInfo& d = *s.dtype->a.dtype;
  bool big = d.byteorder == '>';
  switch (d.kind) {
    case 'b':
      out->kind = Kind::kBool;
      out->a.i = s.data[0] != 0;
      return true;
    case 'i':
    case 'u': {
      uint64_t u = LoadUnsigned(s.data, big);
      if (d.kind == 'i' && d.itemsize < 8 && (u >> (d.itemsize * 8 - 1))) {
        u |= ~uint64_t{0} << (d.itemsize * 8);  // sign-extend
      }
      if (d.kind == 'u' && u > uint64_t{INT64_MAX}) {
        *storage = StrCat(u);
        out->kind = Kind::kBigInt;
        out->a.p = storage->data();
        out->b().n = storage->size();
        return true;
      }
      out->kind = Kind::kInt;
      out->a.i = static_cast<int64_t>(u);
      return true;
    }
    case 'f':
      if (d.itemsize > 8) return false;
      out->kind = Kind::kFloat;
      out->a.f = LoadFloat(s.data, big);
      return true;
    case 'c': {
      if (d.itemsize > 16) return false;
      size_t half = d.itemsize / 2;
      out->kind = Kind::kComplex;
      out->a.f = LoadFloat(s.data.substr(0, half), big);
      out->b().f = LoadFloat(s.data.substr(half), big);
      return true;
    }
    default:
      return false;
  }
}

}  // namespace picklevm
