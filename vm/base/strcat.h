// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view), so std::string_view arguments must be converted before
// they reach absl's string functions.  These wrappers do just that.
#ifndef PICKLEVM_VM_BASE_STRCAT_H_
#define PICKLEVM_VM_BASE_STRCAT_H_

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace picklevm {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

namespace strcat_internal {
template <typename T>
decltype(auto) Conv(const T& v) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return ToAbsl(v);
  } else {
    return (v);
  }
}
}  // namespace strcat_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(strcat_internal::Conv(args)...);
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  absl::StrAppend(out, strcat_internal::Conv(args)...);
}

}  // namespace picklevm

#endif  // PICKLEVM_VM_BASE_STRCAT_H_
