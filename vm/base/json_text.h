// JSON text of scalars, shared by the graph (canonical keys of dtypes) and
// the emitters.
#ifndef PICKLEVM_VM_BASE_JSON_TEXT_H_
#define PICKLEVM_VM_BASE_JSON_TEXT_H_

#include <string>
#include <string_view>

namespace picklevm {

// A JSON string of valid UTF-8 (control characters, quote and backslash
// escaped; everything else as is).
void AppendJsonString(std::string_view utf8, std::string* out);
// A finite float as Python's repr(), nan/inf as {"$float": ...}.
void AppendFloat(double d, std::string* out);
// Python's repr() of a float ("1.0", "1e-05", "1e+16", "inf", "nan").
std::string FloatRepr(double d);

}  // namespace picklevm

#endif  // PICKLEVM_VM_BASE_JSON_TEXT_H_
