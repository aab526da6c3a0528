#include "vm/emit/document.h"

#include "vm/base/strcat.h"

namespace picklevm {

void AppendSourceJson(const SourceInfo& source, std::string* out) {
  StrAppend(out, "{\"bytes\":", source.bytes, ",\"sha256\":\"",
                  source.sha256, "\",\"container\":");
  AppendJsonString(source.container, out);
  out->push_back('}');
}

absl::Status WriteGraphDocument(const SourceInfo& source, int protocol,
                                Node* root,
                                const std::vector<std::string>& warnings,
                                uint64_t max_depth, OutBuffer* out,
                                const EmitOptions& options,
                                uint64_t* estimate) {
  JsonEncoder encoder(options);
  absl::Status prepared = encoder.Prepare({root}, max_depth);
  if (estimate != nullptr) *estimate = encoder.estimate();
  if (!prepared.ok()) return prepared;
  std::string& o = out->data;
  o.append("{\"format\":\"picklevm-graph/1\",\"source\":");
  AppendSourceJson(source, &o);
  o.append(",\"protocol\":");
  if (protocol < 0) {
    o.append("null");
  } else {
    StrAppend(&o, protocol);
  }
  o.append(",\"root\":");
  encoder.Write(root, out);
  o.append(",\"warnings\":[");
  for (size_t i = 0; i < warnings.size(); ++i) {
    if (i) o.push_back(',');
    AppendJsonString(warnings[i], &o);
    out->MaybeFlush();
  }
  o.append("]}\n");
  return absl::OkStatus();
}

}  // namespace picklevm
