#include "vm/emit/npy.h"

#include "vm/base/error.h"
#include "vm/base/strcat.h"
#include "vm/emit/pyrepr.h"
#include "vm/graph/numpy_values.h"

namespace picklevm {
namespace {

std::string ShapeRepr(const ArenaVec<uint64_t>& shape) {
  std::string s = "(";
  for (uint32_t i = 0; i < shape.size; ++i) {
    if (i) s += ", ";
    StrAppend(&s, shape[i]);
  }
  if (shape.size == 1) s += ",";
  return s + ")";
}

// numpy's dtype.descr: a str for simple dtypes, else a list of (name,
// format[, shape]) with '' void fields for padding.  Dtype nesting is
// bounded (kMaxDtypeDepth), so recursion here is bounded too.
bool Descr(const DtypeInfo& d, std::string* out) {
  if (!d.structured) {
    if (d.subarray) return false;  // only reachable as a field's format
    *out += PyReprStr(DtypeStr(d));
    return true;
  }
  *out += "[";
  uint64_t at = 0;
  bool first = true;
  auto sep = [&] {
    if (!first) *out += ", ";
    first = false;
  };
  for (uint32_t i = 0; i < d.fields.size; ++i) {
    const DtypeField& f = d.fields[i];
    if (f.offset < at) return false;  // overlapping or out of order
    if (f.offset > at) {
      sep();
      StrAppend(out, "('', '|V", f.offset - at, "')");
    }
    sep();
    *out += "(";
    if (f.title != nullptr) {
      StrAppend(out, "(", PyReprStr(f.title->str()), ", ",
                PyReprStr(f.name), ")");
    } else {
      *out += PyReprStr(f.name);
    }
    *out += ", ";
    const DtypeInfo& fd = *f.format->a.dtype;
    if (fd.subarray) {
      if (!Descr(*fd.sub_base->a.dtype, out)) return false;
      StrAppend(out, ", ", ShapeRepr(fd.sub_shape));
    } else if (!Descr(fd, out)) {
      return false;
    }
    *out += ")";
    at = f.offset + fd.itemsize;
  }
  if (at < d.itemsize) {
    sep();
    StrAppend(out, "('', '|V", d.itemsize - at, "')");
  }
  *out += "]";
  return true;
}

}  // namespace

absl::Status NpyHeader(const ArrayInfo& a, std::string* header) {
  const DtypeInfo& d = *a.dtype->a.dtype;
  if (d.kind == 'O') {
    return MakeError(ErrorCode::kValue, -1, -1,
                     "object arrays have no .npy form without pickle");
  }
  std::string descr;
  if (!Descr(d, &descr)) {
    return MakeError(ErrorCode::kValue, -1, -1,
                     "dtype has no .npy descr (overlapping fields)");
  }
  std::string dict = StrCat("{'descr': ", descr, ", 'fortran_order': ",
                            a.fortran ? "True" : "False",
                            ", 'shape': ", ShapeRepr(a.shape), ", }");
  // Pad with spaces so the data starts on a 64-byte boundary; end with \n.
  bool v2 = dict.size() + 1 + 10 > 65535;
  size_t prefix = v2 ? 12 : 10;
  size_t total = prefix + dict.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  dict.append(pad, ' ');
  dict.push_back('\n');
  header->assign("\x93NUMPY", 6);
  header->push_back(v2 ? 2 : 1);
  header->push_back(0);
  uint64_t len = dict.size();
  for (int i = 0; i < (v2 ? 4 : 2); ++i) {
    header->push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  }
  header->append(dict);
  return absl::OkStatus();
}

}  // namespace picklevm
