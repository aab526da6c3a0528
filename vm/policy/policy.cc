#include "vm/policy/policy.h"

#include "vm/base/strcat.h"

namespace picklevm {

std::string_view UseName(Use use) {
  switch (use) {
    case Use::kReference: return "reference";
    case Use::kInstantiate: return "instantiate";
    case Use::kCall: return "call";
  }
  return "?";
}

void RulePolicy::Add(const Rule& rule) {
  auto [it, inserted] = rules_.try_emplace(rule.name, rule);
  if (!inserted) {
    it->second.uses |= rule.uses;
    if (rule.builder != BuilderId::kNone) it->second.builder = rule.builder;
  }
}

bool RulePolicy::AdmitsAny(std::string_view name) const {
  auto it = rules_.find(ToAbsl(name));
  return it != rules_.end() && it->second.uses != 0;
}

const Rule* RulePolicy::Find(std::string_view name, Use use) const {
  auto it = rules_.find(ToAbsl(name));
  if (it == rules_.end()) return nullptr;
  return (it->second.uses & static_cast<uint8_t>(use)) ? &it->second
                                                        : nullptr;
}

const RulePolicy& BuiltinPolicy() {
  static const RulePolicy* policy = [] {
    auto* p = new RulePolicy;
    constexpr uint8_t kCall = static_cast<uint8_t>(Use::kCall);
    p->Add({"_codecs:encode", kCall, BuilderId::kCodecsEncode});
    p->Add({"builtins:bytes", kCall, BuilderId::kBytes});
    p->Add({"builtins:bytearray", kCall, BuilderId::kByteArray});
    p->Add({"builtins:set", kCall, BuilderId::kSet});
    p->Add({"builtins:frozenset", kCall, BuilderId::kFrozenSet});
    p->Add({"builtins:complex", kCall, BuilderId::kComplex});
    p->Add({"builtins:slice", kCall, BuilderId::kSlice});
    p->Add({"copyreg:_reconstructor", kCall, BuilderId::kReconstructor});
    p->Add({"copyreg:__newobj__", kCall, BuilderId::kNewobj});
    p->Add({"copyreg:__newobj_ex__", kCall, BuilderId::kNewobjEx});
    // The base class argument of copyreg._reconstructor.
    for (const char* base : {"builtins:object", "builtins:list",
                             "builtins:dict"}) {
      p->Add({base, static_cast<uint8_t>(Use::kReference), BuilderId::kNone});
    }
    return p;
  }();
  return *policy;
}

}  // namespace picklevm
