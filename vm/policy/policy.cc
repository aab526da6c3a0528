#include "vm/policy/policy.h"

#include "re2/re2.h"
#include "vm/base/strcat.h"
#include "vm/policy/allowlist.h"
#include "vm/text/strings.h"

namespace picklevm {

struct RulePolicy::Pattern {
  std::unique_ptr<re2::RE2> re;
  uint8_t uses;
  std::string text;
  std::string origin;
  // A closed pattern admits only the names of its within= list that it
  // matches; AddPattern runs the regex over that list once, so matching a
  // name is one set lookup (a RandomForest's hundred trees asked re2 a
  // hundred times: a tenth of its decode).
  bool closed = false;
  absl::flat_hash_set<std::string> admitted;
  std::atomic<uint64_t> hits{0};
};

namespace {

struct BuilderNameEntry {
  BuilderId id;
  std::string_view name;
};
constexpr BuilderNameEntry kBuilderNames[] = {
    {BuilderId::kNone, "none"},
    {BuilderId::kCodecsEncode, "codecs_encode"},
    {BuilderId::kBytes, "bytes"},
    {BuilderId::kByteArray, "bytearray"},
    {BuilderId::kSet, "set"},
    {BuilderId::kFrozenSet, "frozenset"},
    {BuilderId::kComplex, "complex"},
    {BuilderId::kSlice, "slice"},
    {BuilderId::kReconstructor, "reconstructor"},
    {BuilderId::kNewobj, "newobj"},
    {BuilderId::kNewobjEx, "newobj_ex"},
    {BuilderId::kNdarrayReconstruct, "ndarray_reconstruct"},
    {BuilderId::kNdarrayFrombuffer, "ndarray_frombuffer"},
    {BuilderId::kDtype, "dtype"},
    {BuilderId::kScalar, "scalar"},
};

// A name with a dunder component ("os:__builtins__", "x.__globals__") is
// never admitted by a pattern, whatever the pattern says.
bool HasDunderComponent(std::string_view name) {
  // A dunder component starts with "__": most names have none, and one
  // search (memchr underneath) settles them without a look at each
  // character (a quarter of a small joblib file's decode went to this loop
  // and the policy's lookups).
  if (name.find("__") == std::string_view::npos) return false;
  size_t start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.' || name[i] == ':') {
      std::string_view part = name.substr(start, i - start);
      if (IsDunder(part)) {
        return true;
      }
      start = i + 1;
    }
  }
  return false;
}

// Coverage counts (Usage): a load and a store, not a locked add, which
// cost a model's decode a few percent.  Threads loading with one policy
// may lose an increment to each other, never turn a count back to zero.
void CountHit(std::atomic<uint64_t>* hits) {
  hits->store(hits->load(std::memory_order_relaxed) + 1,
              std::memory_order_relaxed);
}

bool AtomMatches(const ArgAtom& a, const Node* n, const Policy& policy) {
  switch (a.type) {
    case ArgAtom::kAny: return true;
    case ArgAtom::kNone: return n->kind == Kind::kNone;
    case ArgAtom::kBool: return n->kind == Kind::kBool;
    case ArgAtom::kInt:
      return n->kind == Kind::kInt || n->kind == Kind::kBigInt;
    case ArgAtom::kFloat: return n->kind == Kind::kFloat;
    case ArgAtom::kStr: return n->kind == Kind::kStr;
    case ArgAtom::kBytes: return n->kind == Kind::kBytes;
    case ArgAtom::kByteArray: return n->kind == Kind::kByteArray;
    case ArgAtom::kTuple: return n->kind == Kind::kTuple;
    case ArgAtom::kList: return n->kind == Kind::kList;
    case ArgAtom::kDict: return n->kind == Kind::kDict;
    case ArgAtom::kDtype: return n->kind == Kind::kDtype;
    case ArgAtom::kNDArray: return n->kind == Kind::kNDArray;
    case ArgAtom::kGlobal: return n->kind == Kind::kGlobal;
    case ArgAtom::kNdarrayClass:
      return n->kind == Kind::kGlobal &&
             policy.IsNdarrayClass(n->a.global->joined);
    case ArgAtom::kStrLiteral:
      return n->kind == Kind::kStr && n->str() == a.text;
    case ArgAtom::kGlobalName:
      return n->kind == Kind::kGlobal && n->a.global->joined == a.text;
    case ArgAtom::kBoolLiteral:
      return n->kind == Kind::kBool && (n->a.i != 0) == a.flag;
  }
  return false;
}

}  // namespace

BuilderId KnownBuilder(std::string_view name) {
  static constexpr struct {
    std::string_view global;
    BuilderId builder;
  } kKnown[] = {
      {"_codecs:encode", BuilderId::kCodecsEncode},
      {"builtins:bytes", BuilderId::kBytes},
      {"builtins:bytearray", BuilderId::kByteArray},
      {"builtins:set", BuilderId::kSet},
      {"builtins:frozenset", BuilderId::kFrozenSet},
      {"builtins:complex", BuilderId::kComplex},
      {"builtins:slice", BuilderId::kSlice},
      {"copyreg:_reconstructor", BuilderId::kReconstructor},
      {"copyreg:__newobj__", BuilderId::kNewobj},
      {"copyreg:__newobj_ex__", BuilderId::kNewobjEx},
      {"numpy.core.multiarray:_reconstruct", BuilderId::kNdarrayReconstruct},
      {"numpy.core.numeric:_frombuffer", BuilderId::kNdarrayFrombuffer},
      {"numpy:dtype", BuilderId::kDtype},
      {"numpy.core.multiarray:scalar", BuilderId::kScalar},
  };
  for (const auto& k : kKnown) {
    if (k.global == name) return k.builder;
  }
  return BuilderId::kNone;
}

std::optional<BuilderId> BuilderFromName(std::string_view name) {
  for (const auto& e : kBuilderNames) {
    if (e.name == name) return e.id;
  }
  return std::nullopt;
}

std::string_view BuilderName(BuilderId id) {
  for (const auto& e : kBuilderNames) {
    if (e.id == id) return e.name;
  }
  return "?";
}

std::string_view UseName(Use use) {
  switch (use) {
    case Use::kReference: return "reference";
    case Use::kInstantiate: return "instantiate";
    case Use::kCall: return "call";
  }
  return "?";
}

bool MatchesArgs(const ArgSpec& spec, absl::Span<Node* const> args,
                 const Policy& policy, std::string* why) {
  size_t n = spec.positional.size();
  if (args.size() < n || (args.size() > n && !spec.variadic)) {
    if (why) {
      *why = StrCat("takes ", spec.variadic ? "at least " : "", n,
                    " argument", n == 1 ? "" : "s", ", got ", args.size());
    }
    return false;
  }
  for (size_t i = 0; i < n; ++i) {
    bool ok = false;
    for (const ArgAtom& a : spec.positional[i]) {
      if (AtomMatches(a, args[i], policy)) {
        ok = true;
        break;
      }
    }
    if (!ok) {
      if (why) {
        *why = StrCat("argument ", i + 1, " (a ", KindName(args[i]->kind),
                      ") breaks its constraint");
      }
      return false;
    }
  }
  return true;
}

RulePolicy::RulePolicy() = default;
RulePolicy::~RulePolicy() = default;

void RulePolicy::Add(Rule rule) {
  rules_.push_back(std::move(rule));
  rule_hits_.emplace_back(0);
  by_name_[rules_.back().name].push_back({&rules_.back(), &rule_hits_.back()});
}

bool RulePolicy::AddPattern(std::string_view pattern, uint8_t uses,
                            std::string origin, std::string* error,
                            std::optional<absl::flat_hash_set<std::string>>
                                within) {
  auto p = std::make_unique<Pattern>();
  re2::RE2::Options options;
  options.set_log_errors(false);
  p->re = std::make_unique<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!p->re->ok()) {
    *error = p->re->error();
    return false;
  }
  p->uses = uses;
  p->text = std::string(pattern);
  p->origin = std::move(origin);
  if (within.has_value()) {
    p->closed = true;
    for (const std::string& name : *within) {
      if (re2::RE2::FullMatch(name, *p->re)) p->admitted.insert(name);
    }
  }
  patterns_.push_back(std::move(p));
  return true;
}

const Rule& RulePolicy::PatternRule() {
  static const Rule kPatternRule = [] {
    Rule r;
    r.uses = static_cast<uint8_t>(Use::kReference) |
             static_cast<uint8_t>(Use::kInstantiate);
    r.origin = "pattern";
    return r;
  }();
  return kPatternRule;
}

// Resolved::rules is the name's entry in by_name_ (or nullptr), and
// Resolved::pattern[u] the first pattern admitting it for reference (u = 0)
// or instantiation (u = 1), or -1.  Each pattern runs at most once per
// name, as a lookup asking for both uses ran it before.
Policy::Resolved RulePolicy::Resolve(std::string_view name) const {
  Resolved r;
  r.name = name;
  auto it = by_name_.find(ToAbsl(name));
  if (it != by_name_.end()) r.rules = &it->second;
  // Patterns never admit calls, nor a name with a dunder component.
  if (HasDunderComponent(name)) return r;
  constexpr uint8_t kUseBits[2] = {static_cast<uint8_t>(Use::kReference),
                                   static_cast<uint8_t>(Use::kInstantiate)};
  for (size_t i = 0; i < patterns_.size(); ++i) {
    const Pattern& p = *patterns_[i];
    bool wanted = false;
    for (int u = 0; u < 2; ++u) {
      wanted |= r.pattern[u] < 0 && (p.uses & kUseBits[u]);
    }
    if (!wanted) continue;
    bool match = p.closed ? p.admitted.contains(ToAbsl(name))
                          : re2::RE2::FullMatch(
                                re2::StringPiece(name.data(), name.size()),
                                *p.re);
    if (!match) continue;
    for (int u = 0; u < 2; ++u) {
      if (r.pattern[u] < 0 && (p.uses & kUseBits[u])) {
        r.pattern[u] = static_cast<int32_t>(i);
      }
    }
    if (r.pattern[0] >= 0 && r.pattern[1] >= 0) break;
  }
  return r;
}

bool RulePolicy::AdmitsAny(const Resolved& name) const {
  if (name.rules != nullptr) {
    for (const NamedRule& r :
         *static_cast<const std::vector<NamedRule>*>(name.rules)) {
      if (r.rule->uses) return true;
    }
  }
  // Admitting the import counts for the pattern (the reference one first),
  // so a class that is imported and never used still shows in Usage().
  for (int32_t i : name.pattern) {
    if (i >= 0) {
      CountHit(&patterns_[i]->hits);
      return true;
    }
  }
  return false;
}

const Rule* RulePolicy::Find(const Resolved& name, Use use,
                             absl::Span<Node* const> args,
                             std::string* why) const {
  if (name.rules != nullptr) {
    // The first rule whose constraints the arguments break says why; the
    // reason is only spelled out once nothing matched.
    const Rule* first_broken = nullptr;
    for (const NamedRule& nr :
         *static_cast<const std::vector<NamedRule>*>(name.rules)) {
      const Rule& r = *nr.rule;
      if (!(r.uses & static_cast<uint8_t>(use))) continue;
      if (r.args && !MatchesArgs(*r.args, args, *this, nullptr)) {
        if (first_broken == nullptr) first_broken = &r;
        continue;
      }
      CountHit(nr.hits);
      return &r;
    }
    if (first_broken != nullptr) {
      if (why) MatchesArgs(*first_broken->args, args, *this, why);
      return nullptr;
    }
  }
  int u = use == Use::kReference ? 0 : use == Use::kInstantiate ? 1 : -1;
  if (u < 0 || name.pattern[u] < 0) return nullptr;
  // A class admitted by a pattern is instantiated without arguments, as
  // object.__reduce_ex__ writes every plain instance: arguments to __new__
  // are how gadgets (MethodType(f, x), ...) are built.
  if (use == Use::kInstantiate && !args.empty()) {
    if (why) {
      *why = "a class admitted by a pattern is instantiated without arguments";
    }
    return nullptr;
  }
  CountHit(&patterns_[name.pattern[u]]->hits);
  return &PatternRule();
}

bool RulePolicy::IsNdarrayClass(std::string_view name) const {
  if (name == "numpy:ndarray") return true;
  auto it = by_name_.find(ToAbsl(name));
  if (it == by_name_.end()) return false;
  for (const NamedRule& r : it->second) {
    if (r.rule->ndarray_subclass) {
      CountHit(r.hits);
      return true;
    }
  }
  return false;
}

std::vector<RulePolicy::RuleUse> RulePolicy::Usage() const {
  std::vector<RuleUse> out;
  for (size_t i = 0; i < rules_.size(); ++i) {
    out.push_back({rules_[i].origin, rules_[i].name, rule_hits_[i].load()});
  }
  for (const auto& p : patterns_) {
    out.push_back({p->origin, p->text, p->hits.load()});
  }
  return out;
}

std::vector<const Rule*> RulePolicy::Rules() const {
  std::vector<const Rule*> out;
  for (const Rule& r : rules_) out.push_back(&r);
  return out;
}

const RulePolicy& BuiltinPolicy() {
  static const RulePolicy* policy = [] {
    auto* p = new RulePolicy;
    // The embedded allowlists/builtins file; it is part of the binary, so a
    // parse failure is a build defect and fails loudly in tests.
    std::string error;
    if (!AddEmbeddedAllowlist(p, "builtins", &error)) {
      fprintf(stderr, "picklevm: embedded allowlist: %s\n", error.c_str());
      abort();
    }
    return p;
  }();
  return *policy;
}

}  // namespace picklevm
