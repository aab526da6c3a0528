#include "vm/base/sha256.h"

// OpenSSL 3 deprecates the one-shot SHA256 functions in favour of EVP, but
// EVP's first digest of a process loads the default provider and builds its
// name tables (~5 million instructions, 1.5 ms: a fifth of a whole `picklevm
// scan`), while SHA256_* call the same assembly (SHA-NI where the CPU has
// it) directly.  Measured with callgrind on `picklevm load` of a tiny file.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

namespace picklevm {

namespace {

std::string Hex(const unsigned char* digest) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 15]);
  }
  return out;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  // Not SHA256(): in OpenSSL 3 the one-shot goes through EVP_Q_digest.
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(digest, &ctx);
  return Hex(digest);
}

std::string Sha256Hex(std::string_view data, const std::atomic<bool>& cancel) {
  constexpr size_t kChunk = size_t{4} << 20;  // ~3 ms of hashing
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  for (size_t at = 0; at < data.size(); at += kChunk) {
    if (cancel.load(std::memory_order_relaxed)) return "";
    size_t n = data.size() - at < kChunk ? data.size() - at : kChunk;
    SHA256_Update(&ctx, data.data() + at, n);
  }
  SHA256_Final(digest, &ctx);
  return Hex(digest);
}

}  // namespace picklevm
