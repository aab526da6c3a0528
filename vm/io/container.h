// joblib's compressed containers, recognized by their magic bytes exactly as
// joblib 1.2 recognizes them (joblib/compressor.py), and decompressed
// through the real libraries (zlib, libbz2, liblzma, liblz4) with a bound on
// the output, so a decompression bomb is an error and never an OOM kill.
#ifndef PICKLEVM_VM_IO_CONTAINER_H_
#define PICKLEVM_VM_IO_CONTAINER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace picklevm {

enum class Codec { kNone, kZlib, kGzip, kBz2, kLzma, kXz, kLz4 };

// "zlib", "gzip", "bz2", "lzma", "xz", "lz4" ("" for kNone).
std::string_view CodecName(Codec codec);

// The codec whose magic prefix starts `data`, in joblib's order.
Codec DetectCodec(std::string_view data);

// joblib < 0.9.3 files start with "ZF" (zlib with a length header).
bool IsOldJoblibZFile(std::string_view data);

// The default --max-decompressed-bytes for an input of this size: 100 times
// the input, at least 64 MiB, at most 8 GiB.
uint64_t DefaultMaxDecompressed(uint64_t input_size);

// Decompresses one whole stream.  Errors (offsets are into the compressed
// input): kLimit when the output would exceed max_out; kValue when the
// stream is corrupt, ends early, or is followed by anything.  On error *out
// keeps what was decompressed before it (joblib would have unpickled that
// much: the forensic commands still look at it).
absl::Status Decompress(std::string_view in, Codec codec, uint64_t max_out,
                        std::string* out);

}  // namespace picklevm

#endif  // PICKLEVM_VM_IO_CONTAINER_H_
