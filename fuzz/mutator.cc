// A structure-aware mutator: it edits pickle streams at the opcode level --
// inserting, deleting, swapping and duplicating whole opcodes with
// well-formed operands generated from the opcode table, and splicing memo
// indices and MARKs -- so the fuzzer reaches deep machine states instead of
// dying at the first bad length.  A third of the time it leaves the bytes to
// libFuzzer's own mutations.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "vm/decode/operand.h"
#include "vm/decode/reader.h"
#include "vm/opcodes/opcodes.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size,
                                   size_t max_size);

namespace picklevm {
namespace {

const char* const kModules[] = {"os", "builtins", "numpy", "copyreg",
                                "numpy.core.multiarray", "_codecs",
                                "joblib.numpy_pickle", "collections",
                                "sklearn.tree._tree", "__builtin__"};
const char* const kNames[] = {"system", "eval", "dtype", "_reconstructor",
                              "_reconstruct", "encode", "NumpyArrayWrapper",
                              "OrderedDict", "Tree", "set", "object",
                              "__newobj__", "scalar", "ndarray", "bytearray"};

class Gen {
 public:
  explicit Gen(unsigned seed) : rng_(seed) {}
  uint32_t Below(uint32_t n) { return n ? rng_() % n : 0; }

  void Le(std::string* out, uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
  }
  std::string Word() {
    static const char* const kWords[] = {"a", "abc", "latin1", "f8", "<",
                                         "C", "id", "x\\u00e9", ""};
    return kWords[Below(9)];
  }
  uint64_t Small() {
    static const uint64_t kValues[] = {0, 1, 2, 3, 7, 8, 16, 255, 256, 65535};
    return kValues[Below(10)];
  }

  // One opcode with a well-formed operand of its kind.
  std::string Op(const OpcodeInfo& info) {
    std::string out(1, static_cast<char>(info.code));
    std::string w = Word();
    switch (info.arg) {
      case ArgKind::kNone: break;
      case ArgKind::kUInt1: out.push_back(static_cast<char>(Small())); break;
      case ArgKind::kUInt2: Le(&out, Small(), 2); break;
      case ArgKind::kInt4:
      case ArgKind::kUInt4: Le(&out, Below(4) ? Small() : rng_(), 4); break;
      case ArgKind::kUInt8:
        Le(&out, info.op == Op::kFrame ? Below(64) : Small(), 8);
        break;
      case ArgKind::kFloat8: Le(&out, (uint64_t{rng_()} << 32) | rng_(), 8); break;
      case ArgKind::kLong1:
      case ArgKind::kString1:
      case ArgKind::kBytes1:
      case ArgKind::kUnicodeString1:
        out.push_back(static_cast<char>(w.size()));
        out += w;
        break;
      case ArgKind::kLong4:
      case ArgKind::kString4:
      case ArgKind::kBytes4:
      case ArgKind::kUnicodeString4:
        Le(&out, w.size(), 4);
        out += w;
        break;
      case ArgKind::kBytes8:
      case ArgKind::kBytearray8:
      case ArgKind::kUnicodeString8:
        Le(&out, w.size(), 8);
        out += w;
        break;
      case ArgKind::kDecimalNlShort:
        out += std::to_string(Small()) + "\n";
        break;
      case ArgKind::kDecimalNlLong:
        out += std::to_string(Small()) + "L\n";
        break;
      case ArgKind::kFloatNl:
        out += Below(2) ? "1.5\n" : "nan\n";
        break;
      case ArgKind::kStringNl:
        out += "'" + w + "'\n";
        break;
      case ArgKind::kStringNlNoescape:
      case ArgKind::kUnicodeStringNl:
        out += w + "\n";
        break;
      case ArgKind::kStringNlNoescapePair:
        out += std::string(kModules[Below(10)]) + "\n" + kNames[Below(15)] + "\n";
        break;
    }
    return out;
  }

  std::string RandomOp() {
    size_t n;
    const OpcodeInfo* all = AllOpcodes(&n);
    return Op(all[Below(static_cast<uint32_t>(n))]);
  }

 private:
  std::mt19937 rng_;
};

// Splits a stream into whole opcodes as far as it decodes; the rest is kept
// as one raw tail.
std::vector<std::string> Split(const uint8_t* data, size_t size,
                               std::string* tail) {
  std::vector<std::string> ops;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Reader r(in);
  while (!r.AtEnd()) {
    uint64_t start = r.pos();
    std::string_view b;
    if (!r.Read(1, &b).ok()) break;
    const OpcodeInfo* info = LookupOpcode(static_cast<uint8_t>(b[0]));
    Operand arg;
    if (info == nullptr || !DecodeOperand(r, *info, &arg).ok()) {
      *tail = std::string(in.substr(start));
      return ops;
    }
    ops.emplace_back(in.substr(start, r.pos() - start));
  }
  return ops;
}

}  // namespace
}  // namespace picklevm

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size,
                                          size_t max_size, unsigned int seed) {
  using namespace picklevm;
  Gen gen(seed);
  if (gen.Below(3) == 0 || size == 0) {
    return LLVMFuzzerMutate(data, size, max_size);
  }
  std::string tail;
  std::vector<std::string> ops = Split(data, size, &tail);
  uint32_t n = static_cast<uint32_t>(ops.size());
  switch (gen.Below(7)) {
    case 0:  // insert a fresh opcode
      ops.insert(ops.begin() + gen.Below(n + 1), gen.RandomOp());
      break;
    case 1:  // delete one
      if (n) ops.erase(ops.begin() + gen.Below(n));
      break;
    case 2:  // swap two
      if (n > 1) std::swap(ops[gen.Below(n)], ops[gen.Below(n)]);
      break;
    case 3:  // duplicate one
      if (n) {
        uint32_t i = gen.Below(n);
        ops.insert(ops.begin() + gen.Below(n + 1), ops[i]);
      }
      break;
    case 4: {  // splice a memo reference: BINGET/BINPUT
      bool get = gen.Below(2);
      std::string op;
      if (gen.Below(4)) {  // a small index, where most memo traffic is
        op.push_back(static_cast<char>(get ? 0x68 : 0x71));
        op.push_back(static_cast<char>(gen.Below(8)));
      } else {
        // LONG_BINGET/LONG_BINPUT of a large index: the memo keeps indices
        // far past its PUT count in a hash map and moves them into its
        // vector as it grows over them (a bug once hid there), so reach
        // the sparse threshold, just past it, and the top of the range.
        static const uint32_t kBases[] = {1024, 1030, 4096, 65536,
                                          0xFFFFFFF0u};
        uint32_t index = kBases[gen.Below(5)] + gen.Below(16);
        op.push_back(static_cast<char>(get ? 0x6a : 0x72));
        for (int k = 0; k < 4; ++k) {
          op.push_back(static_cast<char>((index >> (8 * k)) & 0xff));
        }
      }
      ops.insert(ops.begin() + gen.Below(n + 1), op);
      break;
    }
    case 5:  // a MARK (or a structure-closing op) somewhere
      ops.insert(ops.begin() + gen.Below(n + 1),
                 std::string(1, "(tlde1"[gen.Below(6)]));
      break;
    default:  // replace one
      if (n) ops[gen.Below(n)] = gen.RandomOp();
      break;
  }
  std::string out;
  for (const auto& op : ops) out += op;
  out += tail;
  if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  memcpy(data, out.data(), out.size());
  return out.size();
}
