#include "vm/emit/document.h"

#include "vm/base/error.h"
#include "vm/base/strcat.h"

namespace picklevm {

void AppendSourceJson(const SourceInfo& source, std::string* out) {
  StrAppend(out, "{\"bytes\":", source.bytes, ",\"sha256\":\"",
                  source.sha256, "\",\"container\":");
  AppendJsonString(source.container, out);
  out->push_back('}');
}

namespace {

// A document's bytes besides its root, exactly: its keys, the source and
// the warnings (a stream can make many, and each can name its text).
uint64_t FrameBytes(const SourceInfo& source,
                    const std::vector<std::string>& warnings) {
  std::string text;
  AppendSourceJson(source, &text);
  uint64_t n = 96 + text.size();  // the keys, a protocol, the line end
  for (const std::string& w : warnings) {
    text.clear();
    AppendJsonString(w, &text);
    n += text.size() + 1;
  }
  return n;
}

}  // namespace

absl::Status WriteGraphDocument(const SourceInfo& source, int protocol,
                                Node* root,
                                const std::vector<std::string>& warnings,
                                uint64_t max_depth, OutBuffer* out,
                                const EmitOptions& options,
                                uint64_t* estimate) {
  // --max-output-bytes bounds the whole document: the root gets what the
  // frame leaves.
  const uint64_t frame = FrameBytes(source, warnings);
  EmitOptions limited = options;
  limited.max_output_bytes =
      options.max_output_bytes > frame ? options.max_output_bytes - frame : 0;
  JsonEncoder encoder(limited);
  absl::Status prepared = encoder.Prepare({root}, max_depth);
  const uint64_t total = encoder.estimate() + frame;
  if (estimate != nullptr) *estimate = total;
  if (encoder.estimate() > limited.max_output_bytes) {
    return MakeError(ErrorCode::kLimit, -1, -1,
                     StrCat("the document would exceed --max-output-bytes (",
                            options.max_output_bytes, "): ", total,
                            " bytes or more"));
  }
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
