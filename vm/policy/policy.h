// The policy: which globals a stream may use, and for what.
//
// The machine asks, for every global, whether it is admitted for the use the
// stream makes of it: to be a value (reference), to be instantiated without
// running its constructor (instantiate: NEWOBJ, NEWOBJ_EX, copyreg's
// helpers), or to be called (call: REDUCE, INST, OBJ).  An admitted call may
// be bound to an inert builder that turns its arguments into data.
#ifndef PICKLEVM_VM_POLICY_POLICY_H_
#define PICKLEVM_VM_POLICY_POLICY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

namespace picklevm {

enum class Use : uint8_t {
  kReference = 1,
  kInstantiate = 2,
  kCall = 4,
};

std::string_view UseName(Use use);

// Inert builders: what an admitted call means as data.
enum class BuilderId : uint8_t {
  kNone,            // no builder: the result is an $object
  kCodecsEncode,    // _codecs.encode(str, 'latin1') -> bytes
  kBytes,           // builtins.bytes() -> b''
  kByteArray,       // builtins.bytearray([bytes | str, 'latin-1'])
  kSet,             // builtins.set([list])
  kFrozenSet,       // builtins.frozenset([list])
  kComplex,         // builtins.complex(re, im)
  kSlice,           // builtins.slice(start, stop, step)
  kReconstructor,   // copyreg._reconstructor(cls, base, state)
  kNewobj,          // copyreg.__newobj__(cls, *args)
  kNewobjEx,        // copyreg.__newobj_ex__(cls, args, kwargs)
};

struct Rule {
  std::string name;       // "module:qualname"
  uint8_t uses = 0;       // bitmask of Use
  BuilderId builder = BuilderId::kNone;
};

class Policy {
 public:
  virtual ~Policy() = default;
  // Whether any use of `name` is admitted (else importing it is refused).
  virtual bool AdmitsAny(std::string_view name) const = 0;
  // The rule admitting `name` for `use`, or nullptr.
  virtual const Rule* Find(std::string_view name, Use use) const = 0;
  // Whether PERSID/BINPERSID values are admitted (as $persid).
  virtual bool AdmitsPersistentIds() const { return false; }
};

// Exact-name rules in a hash map.
class RulePolicy : public Policy {
 public:
  // Merges the uses of a rule for an existing name.
  void Add(const Rule& rule);
  void set_admit_persistent_ids(bool v) { admit_persistent_ids_ = v; }

  bool AdmitsAny(std::string_view name) const override;
  const Rule* Find(std::string_view name, Use use) const override;
  bool AdmitsPersistentIds() const override { return admit_persistent_ids_; }

 private:
  absl::flat_hash_map<std::string, Rule> rules_;
  bool admit_persistent_ids_ = false;
};

// The machine's built-in policy: the inert builders that spell plain data in
// protocols 0-2 (bytes, bytearray, set, frozenset, complex, slice) and
// copyreg's object helpers, so every plain-data pickle loads.
const RulePolicy& BuiltinPolicy();

}  // namespace picklevm

#endif  // PICKLEVM_VM_POLICY_POLICY_H_
