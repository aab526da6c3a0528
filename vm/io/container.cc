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
// liblzma's own memory for the dictionary, which the stream's header sizes:
// a hostile header may ask for 4 GiB.  xz's presets 0-9 need at most 65 MiB
// to decode (preset 9), joblib's default (3) 9 MiB; a header asking for more
// than this is refused before anything is decoded.
constexpr uint64_t kLzmaMemLimit = uint64_t{96} << 20;

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



// Where a decoder's output goes.  Counting mode writes every chunk into
// one reused 1 MiB block and only counts (so a bomb costs 1 MiB before the
// limit stops it); filling mode writes into a buffer sized from the count.
class Output {
 public:
  Output(std::string* out, uint64_t max_out) : out_(out), max_(max_out) {
    if (out_ == nullptr) scratch_.resize(kChunk);
  }
  // Space for the next write; false once the output passed the limit.
  bool Next(char** p, size_t* avail) {
    if (total_ > max_) return false;
    if (out_ == nullptr) {
      *p = scratch_.data();
      *avail = static_cast<size_t>(
          std::min<uint64_t>(kChunk, max_ + 1 - total_));
    } else {
      *p = out_->data() + total_;
      *avail = out_->size() - total_;
    }
    return *avail > 0;
  }
  void Produced(size_t n) { total_ += n; }
  uint64_t total() const { return total_; }

 private:
  std::string* out_;
  std::string scratch_;
  uint64_t max_;
  uint64_t total_ = 0;
};

absl::Status TooBig(uint64_t max_out) {
  return MakeError(ErrorCode::kLimit, -1, -1,
                   StrCat("decompressed data exceeds --max-decompressed-bytes (",
                          max_out, ")"));
}

absl::Status Zlib(std::string_view in, Codec codec, Output& o,
                  uint64_t max_out) {
  z_stream z{};
  if (inflateInit2(&z, codec == Codec::kGzip ? 16 + MAX_WBITS : MAX_WBITS) !=
      Z_OK) {
    return Corrupt(codec, 0, "cannot start the decoder");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  uint64_t remaining = in.size();
  for (;;) {
    char* dst;
    size_t avail;
    if (!o.Next(&dst, &avail)) return TooBig(max_out);
    // zlib counts in uInt: feed and drain at most 1 GiB at a time.
    uInt take_in = static_cast<uInt>(std::min<uint64_t>(remaining, 1u << 30));
    z.avail_in = take_in;
    z.next_out = reinterpret_cast<Bytef*>(dst);
    z.avail_out = static_cast<uInt>(std::min<size_t>(avail, 1u << 30));
    uInt before_out = z.avail_out;
    int rc = inflate(&z, Z_NO_FLUSH);
    remaining -= take_in - z.avail_in;
    o.Produced(before_out - z.avail_out);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && remaining == 0 && z.avail_out > 0) {
      return Corrupt(codec, in.size(), "ends early (truncated)");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return Corrupt(codec, in.size() - remaining,
                     z.msg ? z.msg : "corrupt data");
    }
  }
  if (remaining != 0) {
    return Corrupt(codec, in.size() - remaining,
                   StrCat(remaining, " bytes after the end of the stream"));
  }
  return absl::OkStatus();
}

absl::Status Bz2(std::string_view in, Output& o, uint64_t max_out) {
  bz_stream b{};
  if (BZ2_bzDecompressInit(&b, 0, 0) != BZ_OK) {
    return Corrupt(Codec::kBz2, 0, "cannot start the decoder");
  }
  std::unique_ptr<bz_stream, int (*)(bz_stream*)> guard(&b,
                                                        BZ2_bzDecompressEnd);
  b.next_in = const_cast<char*>(in.data());
  uint64_t remaining = in.size();
  for (;;) {
    char* dst;
    size_t avail;
    if (!o.Next(&dst, &avail)) return TooBig(max_out);
    unsigned take_in =
        static_cast<unsigned>(std::min<uint64_t>(remaining, 1u << 30));
    b.avail_in = take_in;
    b.next_out = dst;
    b.avail_out = static_cast<unsigned>(std::min<size_t>(avail, 1u << 30));
    unsigned before_out = b.avail_out;
    int rc = BZ2_bzDecompress(&b);
    remaining -= take_in - b.avail_in;
    o.Produced(before_out - b.avail_out);
    if (rc == BZ_STREAM_END) break;
    if (rc != BZ_OK) {
      return Corrupt(Codec::kBz2, in.size() - remaining, "corrupt data");
    }
    if (remaining == 0 && b.avail_out > 0) {
      return Corrupt(Codec::kBz2, in.size(), "ends early (truncated)");
    }
  }
  if (remaining != 0) {
    return Corrupt(Codec::kBz2, in.size() - remaining,
                   StrCat(remaining, " bytes after the end of the stream"));
  }
  return absl::OkStatus();
}

absl::Status Lzma(std::string_view in, Codec codec, Output& o,
                  uint64_t max_out) {
  lzma_stream z = LZMA_STREAM_INIT;
  lzma_ret rc = codec == Codec::kXz
                    ? lzma_stream_decoder(&z, kLzmaMemLimit, 0)
                    : lzma_alone_decoder(&z, kLzmaMemLimit);
  if (rc != LZMA_OK) return Corrupt(codec, 0, "cannot start the decoder");
  std::unique_ptr<lzma_stream, void (*)(lzma_stream*)> guard(&z, lzma_end);
  z.next_in = reinterpret_cast<const uint8_t*>(in.data());
  z.avail_in = in.size();
  for (;;) {
    char* dst;
    size_t avail;
    if (!o.Next(&dst, &avail)) return TooBig(max_out);
    z.next_out = reinterpret_cast<uint8_t*>(dst);
    z.avail_out = avail;
    // LZMA_FINISH: all input is here, so running out of it is truncation.
    rc = lzma_code(&z, LZMA_FINISH);
    o.Produced(avail - z.avail_out);
    if (rc == LZMA_STREAM_END) break;
    if (rc == LZMA_MEMLIMIT_ERROR) {
      return Corrupt(codec, z.total_in,
                     "needs more than 96 MiB of decoder memory");
    }
    if (rc == LZMA_BUF_ERROR && z.avail_out > 0) {
      return Corrupt(codec, z.total_in, "ends early (truncated)");
    }
    if (rc != LZMA_OK && rc != LZMA_BUF_ERROR) {
      return Corrupt(codec, z.total_in, "corrupt data");
    }
  }
  if (z.avail_in != 0) {
    return Corrupt(codec, z.total_in,
                   StrCat(z.avail_in, " bytes after the end of the stream"));
  }
  return absl::OkStatus();
}

absl::Status Lz4(std::string_view in, Output& o, uint64_t max_out) {
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) {
    return Corrupt(Codec::kLz4, 0, "cannot start the decoder");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> guard(
      ctx, LZ4F_freeDecompressionContext);
  size_t pos = 0;
  size_t hint = 1;
  while (hint != 0) {
    char* dst;
    size_t avail;
    if (!o.Next(&dst, &avail)) return TooBig(max_out);
    size_t src = in.size() - pos;
    size_t written = avail;
    hint = LZ4F_decompress(ctx, dst, &written, in.data() + pos, &src, nullptr);
    if (LZ4F_isError(hint)) {
      return Corrupt(Codec::kLz4, pos, LZ4F_getErrorName(hint));
    }
    pos += src;
    o.Produced(written);
    if (hint != 0 && pos == in.size() && written == 0) {
      return Corrupt(Codec::kLz4, pos, "ends early (truncated)");
    }
  }
  if (pos != in.size()) {
    return Corrupt(Codec::kLz4, pos,
                   StrCat(in.size() - pos, " bytes after the end of the frame"));
  }
  return absl::OkStatus();
}

absl::Status Run(std::string_view in, Codec codec, Output& o,
                 uint64_t max_out) {
  switch (codec) {
    case Codec::kZlib:
    case Codec::kGzip:
      return Zlib(in, codec, o, max_out);
    case Codec::kBz2:
      return Bz2(in, o, max_out);
    case Codec::kLzma:
    case Codec::kXz:
      return Lzma(in, codec, o, max_out);
    default:
      return Lz4(in, o, max_out);
  }
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
  if (codec == Codec::kNone) {
    out->assign(in);
    return absl::OkStatus();
  }
  // Two passes: the first only counts (1 MiB of memory whatever the stream
  // claims), the second fills a buffer of exactly that size.  Decoding is
  // deterministic, so both end the same way; on a corrupt or truncated
  // stream the buffer keeps the prefix that came out before the error.
  Output counter(nullptr, max_out);
  absl::Status s = Run(in, codec, counter, max_out);
  if (GetErrorInfo(s).code == ErrorCode::kLimit) return s;
  out->resize(counter.total() + 1);  // one spare byte: see Output::Next
  Output filler(out, max_out);
  (void)Run(in, codec, filler, max_out);
  out->resize(filler.total());
  return s;
}

}  // namespace picklevm
