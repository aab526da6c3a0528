// Allowlist files: the text format of the policy (documented at the top of
// each file in allowlists/), the parser, and the files compiled into the
// binary as the default policy.
#ifndef PICKLEVM_VM_POLICY_ALLOWLIST_H_
#define PICKLEVM_VM_POLICY_ALLOWLIST_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "vm/policy/policy.h"

namespace picklevm {

// Parses one allowlist file into `policy`.  On error returns false with
// *error = "FILE:LINE: what is wrong".
bool ParseAllowlist(std::string_view text, std::string_view filename,
                    RulePolicy* policy, std::string* error);

// The files of allowlists/ compiled into the binary, by file name.
std::vector<std::string_view> EmbeddedAllowlistNames();
bool AddEmbeddedAllowlist(RulePolicy* policy, std::string_view name,
                          std::string* error);

// The command line's policy: the embedded files (unless no_default), then
// each path (a file, or every regular file in a folder, in name order).
// A malformed file is kUsage naming file and line.
absl::StatusOr<std::unique_ptr<RulePolicy>> BuildPolicy(
    bool no_default, const std::vector<std::string>& paths);

}  // namespace picklevm

#endif  // PICKLEVM_VM_POLICY_ALLOWLIST_H_
