// The top-level picklevm-graph/1 document around a root value.
#ifndef PICKLEVM_VM_EMIT_DOCUMENT_H_
#define PICKLEVM_VM_EMIT_DOCUMENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "vm/emit/json.h"
#include "vm/graph/node.h"

namespace picklevm {

struct SourceInfo {
  uint64_t bytes = 0;
  std::string sha256;
  std::string container = "pickle";
};

// Checks the depth limit first, then writes; on error nothing is written.
absl::Status WriteGraphDocument(const SourceInfo& source, int protocol,
                                Node* root,
                                const std::vector<std::string>& warnings,
                                uint64_t max_depth, OutBuffer* out,
                                const EmitOptions& options = {},
                                uint64_t* estimate = nullptr);

// The same document's fields, without the braces, for embedding.
void AppendSourceJson(const SourceInfo& source, std::string* out);

}  // namespace picklevm

#endif  // PICKLEVM_VM_EMIT_DOCUMENT_H_
