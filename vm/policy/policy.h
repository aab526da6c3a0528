// The policy: which globals a stream may use, and for what.
//
// The machine asks, for every global, whether it is admitted for the use the
// stream makes of it: to be a value (reference), to be instantiated without
// running its constructor (instantiate: NEWOBJ, NEWOBJ_EX, copyreg's
// helpers), or to be called (call: REDUCE, INST, OBJ).  An admitted call may
// carry argument constraints and be bound to an inert builder that turns its
// arguments into data.  The known globals are a closed set: exact names, and
// re2 patterns that may only admit class names for reference and
// instantiation.
#ifndef PICKLEVM_VM_POLICY_POLICY_H_
#define PICKLEVM_VM_POLICY_POLICY_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/types/span.h"
#include "vm/graph/node.h"

namespace re2 {
class RE2;
}

namespace picklevm {

enum class Use : uint8_t {
  kReference = 1,
  kInstantiate = 2,
  kCall = 4,
};

std::string_view UseName(Use use);

// Inert builders: what an admitted call means as data.
enum class BuilderId : uint8_t {
  kNone,               // no builder: the result is an $object
  kCodecsEncode,       // _codecs.encode(str, 'latin1') -> bytes
  kBytes,              // builtins.bytes() -> b''
  kByteArray,          // builtins.bytearray([bytes | str, 'latin-1'])
  kSet,                // builtins.set([list])
  kFrozenSet,          // builtins.frozenset([list])
  kComplex,            // builtins.complex(re, im)
  kSlice,              // builtins.slice(start, stop, step)
  kReconstructor,      // copyreg._reconstructor(cls, base, state)
  kNewobj,             // copyreg.__newobj__(cls, *args)
  kNewobjEx,           // copyreg.__newobj_ex__(cls, args, kwargs)
  kNdarrayReconstruct, // numpy.core.multiarray._reconstruct + BUILD
  kNdarrayFrombuffer,  // numpy.core.numeric._frombuffer (protocol 5)
  kDtype,              // numpy.dtype(str, bool, bool) + BUILD
  kScalar,             // numpy.core.multiarray.scalar(dtype, bytes)
};

// The known meaning of a global's call as data (kNone if it has none): the
// closed set of inert builders by the name they spell.  Record mode applies
// it even where the policy in force does not admit the call, so what such a
// call builds is still seen; the policy only decides whether it is flagged.
BuilderId KnownBuilder(std::string_view name);

// The builder named in allowlist files ("codecs_encode", ...).
std::optional<BuilderId> BuilderFromName(std::string_view name);
std::string_view BuilderName(BuilderId id);

// One positional-argument constraint: the value must match one atom.
struct ArgAtom {
  enum Type : uint8_t {
    kAny, kNone, kBool, kInt, kFloat, kStr, kBytes, kByteArray, kTuple,
    kList, kDict,
    kDtype, kNDArray,
    kGlobal,              // any $global (its own use is checked elsewhere)
    kNdarrayClass,        // numpy:ndarray or a global tagged ndarray-subclass
    kStrLiteral,          // a str equal to `text`
    kGlobalName,          // the $global named `text`
    kBoolLiteral,         // True/False equal to `flag`
  } type = kAny;
  std::string text;
  bool flag = false;
};

struct ArgSpec {
  std::vector<std::vector<ArgAtom>> positional;  // alternatives per position
  bool variadic = false;  // "..." at the end: further args of any value
};

struct Rule {
  std::string name;       // "module:qualname"
  uint8_t uses = 0;       // bitmask of Use
  BuilderId builder = BuilderId::kNone;
  std::optional<ArgSpec> args;
  bool ndarray_subclass = false;  // may be _reconstruct's subtype
  // The instance may receive APPEND(S) / SETITEM(S): CPython calls its
  // append/extend/__setitem__ methods, so only classes whose items are data
  // (OrderedDict, dict subclasses) are admitted for it.
  bool items = false;
  bool dictitems = false;
  std::string origin;     // "file:line", for messages and coverage
};

class Policy {
 public:
  virtual ~Policy() = default;

  // A name looked up once.  The machine keeps one per global node and asks
  // about each use through it: a memoized class is asked about at every
  // REDUCE, NEWOBJ and BUILD that names it, and hashing the name (and
  // matching the patterns) each time was a sixth of a RandomForest's
  // decode.  The fields past `name` are the implementation's own; the
  // value is valid while the policy lives and nothing is added to it.
  struct Resolved {
    std::string_view name;
    const void* rules = nullptr;
    int32_t pattern[2] = {-1, -1};
  };
  virtual Resolved Resolve(std::string_view name) const = 0;

  // Whether any use of the name is admitted (else importing it is refused).
  virtual bool AdmitsAny(const Resolved& name) const = 0;
  bool AdmitsAny(std::string_view name) const {
    return AdmitsAny(Resolve(name));
  }
  // The rule admitting the name for `use` with these arguments, or
  // nullptr.  *why (if given) says what failed when a rule exists but its
  // argument constraints do not match.
  virtual const Rule* Find(const Resolved& name, Use use,
                           absl::Span<Node* const> args,
                           std::string* why = nullptr) const = 0;
  const Rule* Find(std::string_view name, Use use,
                   absl::Span<Node* const> args,
                   std::string* why = nullptr) const {
    return Find(Resolve(name), use, args, why);
  }
  // Whether `name` may be _reconstruct's subtype.
  virtual bool IsNdarrayClass(std::string_view name) const = 0;
  // Whether PERSID/BINPERSID values are admitted (as $persid).
  virtual bool AdmitsPersistentIds() const { return false; }
};

// Exact-name rules in a hash map, plus re2 name patterns.
class RulePolicy : public Policy {
 public:
  RulePolicy();
  ~RulePolicy() override;
  RulePolicy(const RulePolicy&) = delete;
  RulePolicy& operator=(const RulePolicy&) = delete;

  void Add(Rule rule);
  // A pattern admitting class names for reference and/or instantiation.
  // The caller (the allowlist parser) has checked the pattern's anchor.
  // Returns false if re2 rejects the pattern.
  // `within`, if given, is the closed set of names the pattern may admit
  // (a name must match the pattern and be listed).
  bool AddPattern(
      std::string_view pattern, uint8_t uses, std::string origin,
      std::string* error,
      std::optional<absl::flat_hash_set<std::string>> within = std::nullopt);
  void set_admit_persistent_ids(bool v) { admit_persistent_ids_ = v; }

  Resolved Resolve(std::string_view name) const override;
  bool AdmitsAny(const Resolved& name) const override;
  const Rule* Find(const Resolved& name, Use use,
                   absl::Span<Node* const> args,
                   std::string* why = nullptr) const override;
  using Policy::AdmitsAny;
  using Policy::Find;
  bool IsNdarrayClass(std::string_view name) const override;
  bool AdmitsPersistentIds() const override { return admit_persistent_ids_; }

  // Coverage: every rule and pattern with how often it admitted something
  // (a lower bound when threads share the policy; never 0 for one used).
  struct RuleUse {
    std::string origin;
    std::string text;  // the name or pattern
    uint64_t hits;
  };
  std::vector<RuleUse> Usage() const;
  // Every exact-name rule, in the order added.
  std::vector<const Rule*> Rules() const;

 private:
  struct Pattern;
  // The rule standing for a pattern's admission: patterns carry no builder
  // or constraints.
  static const Rule& PatternRule();

  // Rules for one name, in file order; the first whose uses and arguments
  // match admits.  (Pointers into the deques, which never move an
  // element: indexing a deque costs a division.)
  struct NamedRule {
    const Rule* rule;
    std::atomic<uint64_t>* hits;
  };
  absl::flat_hash_map<std::string, std::vector<NamedRule>> by_name_;
  std::deque<Rule> rules_;
  mutable std::deque<std::atomic<uint64_t>> rule_hits_;
  std::vector<std::unique_ptr<Pattern>> patterns_;
  bool admit_persistent_ids_ = false;
};

// Whether `value` matches the constraint (used by RulePolicy and tests).
bool MatchesArgs(const ArgSpec& spec, absl::Span<Node* const> args,
                 const Policy& policy, std::string* why);

// The machine's built-in policy when none is given: the inert builders that
// spell plain data in protocols 0-2 and copyreg's object helpers.  The
// command line uses the compiled allowlists/ files instead (DefaultPolicy).
const RulePolicy& BuiltinPolicy();

}  // namespace picklevm

#endif  // PICKLEVM_VM_POLICY_POLICY_H_
