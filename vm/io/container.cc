#include "vm/io/container.h"

#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>

#include <algorithm>
#include <memory>

#include "vm/base/error.h"
#include "vm/base/strcat.h"

namespace picklevm {
namespace {

constexpr size_t kChunk = size_t{1} << 20;
// liblzma's own memory for the dictionary: a hostile header may ask for up
// to 4 GiB; joblib's presets need at most 64 MiB.
constexpr uint64_t kLzmaMemLimit = uint64_t{256} << 20;

struct Prefix {
  Codec codec;
  std::string_view magic;
};
// joblib registers (and so tries) its compressors in this order.
constexpr Prefix kPrefixes[] = {
    {Codec::kZlib, std::string_view("\x78", 1)},
    {Codec::kGzip, std::string_view("\x1f\x8b", 2)},
    {Codec::kBz2, std::string_view("BZ", 2)},
    {Codec::kLzma, std::string_view("\x5d\x00", 2)},
    {Codec::kXz, std::string_view("\xfd\x37\x7a\x58\x5a", 5)},
    {Codec::kLz4, std::string_view("\x04\x22\x4d\x18", 4)},
};

absl::Status Corrupt(Codec codec, uint64_t offset, std::string_view what) {
  return MakeError(ErrorCode::kValue, static_cast<int64_t>(offset), -1,
                   StrCat(CodecName(codec), " stream: ", what));
}

absl::Status TooBig(uint64_t max_out) {
  return MakeError(ErrorCode::kLimit, -1, -1,
                   StrCat("decompressed data exceeds --max-decompressed-bytes (",
                          max_out, ")"));
}

// Grows `out` by up to one chunk, never past max_out + 1 (one byte over the
// limit is how the limit is detected).
bool Reserve(std::string* out, size_t* used, uint64_t max_out,
             size_t* avail) {
  if (*used == out->size()) {
    if (out->size() > max_out) return false;
    size_t grow = std::min<uint64_t>(kChunk, max_out + 1 - out->size());
    if (grow == 0) return false;
    out->resize(out->size() + grow);
  }
  *avail = out->size() - *used;
  return true;
}

absl::Status Zlib(std::string_view in, Codec codec, uint64_t max_out,
                  std::string* out) {
  z_stream z{};
  if (inflateInit2(&z, codec == Codec::kGzip ? 16 + MAX_WBITS : MAX_WBITS) !=
      Z_OK) {
    return Corrupt(codec, 0, "cannot start the decoder");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  size_t used = 0;
  int rc = Z_OK;
  uint64_t remaining = in.size();
  while (rc != Z_STREAM_END) {
    size_t avail;
    if (!Reserve(out, &used, max_out, &avail)) {
      out->resize(used);
      return TooBig(max_out);
    }
    // zlib counts in uInt: feed and drain at most 1 GiB at a time.
    uInt take_in = static_cast<uInt>(std::min<uint64_t>(remaining, 1u << 30));
    z.avail_in = take_in;
    z.next_out = reinterpret_cast<Bytef*>(out->data() + used);
    z.avail_out = static_cast<uInt>(std::min<size_t>(avail, 1u << 30));
    uInt before_out = z.avail_out;
    rc = inflate(&z, Z_NO_FLUSH);
    remaining -= take_in - z.avail_in;
    used += before_out - z.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && remaining == 0 && z.avail_out > 0) {
      return out->resize(used), Corrupt(codec, in.size(), "ends early (truncated)");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return out->resize(used), Corrupt(codec, in.size() - remaining,
                     z.msg ? z.msg : "corrupt data");
    }
  }
  if (remaining != 0) {
    return out->resize(used), Corrupt(codec, in.size() - remaining,
                   StrCat(remaining, " bytes after the end of the stream"));
  }
  out->resize(used);
  return absl::OkStatus();
}

absl::Status Bz2(std::string_view in, uint64_t max_out, std::string* out) {
  bz_stream b{};
  if (BZ2_bzDecompressInit(&b, 0, 0) != BZ_OK) {
    return Corrupt(Codec::kBz2, 0, "cannot start the decoder");
  }
  std::unique_ptr<bz_stream, int (*)(bz_stream*)> guard(&b,
                                                        BZ2_bzDecompressEnd);
  b.next_in = const_cast<char*>(in.data());
  uint64_t remaining = in.size();
  size_t used = 0;
  int rc = BZ_OK;
  while (rc != BZ_STREAM_END) {
    size_t avail;
    if (!Reserve(out, &used, max_out, &avail)) {
      out->resize(used);
      return TooBig(max_out);
    }
    unsigned take_in =
        static_cast<unsigned>(std::min<uint64_t>(remaining, 1u << 30));
    b.avail_in = take_in;
    b.next_out = out->data() + used;
    b.avail_out = static_cast<unsigned>(std::min<size_t>(avail, 1u << 30));
    unsigned before_out = b.avail_out;
    rc = BZ2_bzDecompress(&b);
    remaining -= take_in - b.avail_in;
    used += before_out - b.avail_out;
    if (rc == BZ_STREAM_END) break;
    if (rc != BZ_OK) {
      return out->resize(used), Corrupt(Codec::kBz2, in.size() - remaining, "corrupt data");
    }
    if (remaining == 0 && b.avail_out > 0) {
      return out->resize(used), Corrupt(Codec::kBz2, in.size(), "ends early (truncated)");
    }
  }
  if (remaining != 0) {
    return out->resize(used), Corrupt(Codec::kBz2, in.size() - remaining,
                   StrCat(remaining, " bytes after the end of the stream"));
  }
  out->resize(used);
  return absl::OkStatus();
}

absl::Status Lzma(std::string_view in, Codec codec, uint64_t max_out,
                  std::string* out) {
  lzma_stream z = LZMA_STREAM_INIT;
  lzma_ret rc = codec == Codec::kXz
                    ? lzma_stream_decoder(&z, kLzmaMemLimit, 0)
                    : lzma_alone_decoder(&z, kLzmaMemLimit);
  if (rc != LZMA_OK) return Corrupt(codec, 0, "cannot start the decoder");
  std::unique_ptr<lzma_stream, void (*)(lzma_stream*)> guard(&z, lzma_end);
  z.next_in = reinterpret_cast<const uint8_t*>(in.data());
  z.avail_in = in.size();
  size_t used = 0;
  while (rc != LZMA_STREAM_END) {
    size_t avail;
    if (!Reserve(out, &used, max_out, &avail)) {
      out->resize(used);
      return TooBig(max_out);
    }
    z.next_out = reinterpret_cast<uint8_t*>(out->data() + used);
    z.avail_out = avail;
    // LZMA_FINISH: all input is here, so running out of it is truncation.
    rc = lzma_code(&z, LZMA_FINISH);
    used += avail - z.avail_out;
    if (rc == LZMA_STREAM_END) break;
    if (rc == LZMA_MEMLIMIT_ERROR) {
      return out->resize(used), Corrupt(codec, z.total_in, "needs more than 256 MiB of decoder memory");
    }
    if (rc == LZMA_BUF_ERROR && z.avail_out > 0) {
      return out->resize(used), Corrupt(codec, z.total_in, "ends early (truncated)");
    }
    if (rc != LZMA_OK && rc != LZMA_BUF_ERROR) {
      return out->resize(used), Corrupt(codec, z.total_in, "corrupt data");
    }
  }
  if (z.avail_in != 0) {
    return out->resize(used), Corrupt(codec, z.total_in,
                   StrCat(z.avail_in, " bytes after the end of the stream"));
  }
  out->resize(used);
  return absl::OkStatus();
}

absl::Status Lz4(std::string_view in, uint64_t max_out, std::string* out) {
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) {
    return Corrupt(Codec::kLz4, 0, "cannot start the decoder");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> guard(
      ctx, LZ4F_freeDecompressionContext);
  size_t pos = 0, used = 0;
  size_t hint = 1;
  while (hint != 0) {
    size_t avail;
    if (!Reserve(out, &used, max_out, &avail)) {
      out->resize(used);
      return TooBig(max_out);
    }
    size_t src = in.size() - pos;
    size_t dst = avail;
    hint = LZ4F_decompress(ctx, out->data() + used, &dst, in.data() + pos,
                           &src, nullptr);
    if (LZ4F_isError(hint)) {
      return out->resize(used), Corrupt(Codec::kLz4, pos, LZ4F_getErrorName(hint));
    }
    pos += src;
    used += dst;
    if (hint != 0 && pos == in.size() && dst == 0) {
      return out->resize(used), Corrupt(Codec::kLz4, pos, "ends early (truncated)");
    }
  }
  if (pos != in.size()) {
    return out->resize(used), Corrupt(Codec::kLz4, pos,
                   StrCat(in.size() - pos, " bytes after the end of the frame"));
  }
  out->resize(used);
  return absl::OkStatus();
}

}  // namespace

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone: return "";
    case Codec::kZlib: return "zlib";
    case Codec::kGzip: return "gzip";
    case Codec::kBz2: return "bz2";
    case Codec::kLzma: return "lzma";
    case Codec::kXz: return "xz";
    case Codec::kLz4: return "lz4";
  }
  return "";
}

Codec DetectCodec(std::string_view data) {
  for (const Prefix& p : kPrefixes) {
    if (data.substr(0, p.magic.size()) == p.magic) return p.codec;
  }
  return Codec::kNone;
}

bool IsOldJoblibZFile(std::string_view data) {
  return data.substr(0, 2) == "ZF";
}

uint64_t DefaultMaxDecompressed(uint64_t input_size) {
  constexpr uint64_t kFloor = uint64_t{64} << 20;
  constexpr uint64_t kCap = uint64_t{8} << 30;
  uint64_t m = input_size > kCap / 100 ? kCap : input_size * 100;
  return std::clamp(m, kFloor, kCap);
}

absl::Status Decompress(std::string_view in, Codec codec, uint64_t max_out,
                        std::string* out) {
  out->clear();
  switch (codec) {
    case Codec::kZlib:
    case Codec::kGzip:
      return Zlib(in, codec, max_out, out);
    case Codec::kBz2:
      return Bz2(in, max_out, out);
    case Codec::kLzma:
    case Codec::kXz:
      return Lzma(in, codec, max_out, out);
    case Codec::kLz4:
      return Lz4(in, max_out, out);
    case Codec::kNone:
      break;
  }
  out->assign(in);
  return absl::OkStatus();
}

}  // namespace picklevm
