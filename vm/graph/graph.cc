#include "vm/graph/graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "vm/graph/numpy_values.h"
#include "vm/text/bigint.h"
#include "vm/text/strings.h"

namespace picklevm {
namespace {

// Below this many entries a dict or set is searched linearly.
constexpr uint32_t kLinearLimit = 8;

void AppendRaw(std::string* s, const void* p, size_t n) {
  s->append(static_cast<const char*>(p), n);
}

}  // namespace

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt:
    case Kind::kBigInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kComplex: return "complex";
    case Kind::kStr: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kByteArray: return "bytearray";
    case Kind::kList: return "list";
    case Kind::kTuple: return "tuple";
    case Kind::kDict: return "dict";
    case Kind::kSet: return "set";
    case Kind::kFrozenSet: return "frozenset";
    case Kind::kSlice: return "slice";
    case Kind::kGlobal: return "global";
    case Kind::kObject: return "object";
    case Kind::kCall: return "call result";
    case Kind::kPersId: return "persistent object";
    case Kind::kExt: return "extension object";
    case Kind::kDtype: return "numpy.dtype";
    case Kind::kNDArray: return "numpy.ndarray";
    case Kind::kScalar: return "numpy scalar";
  }
  return "?";
}

Graph::Graph(uint64_t max_nodes) : max_nodes_(max_nodes) {
  true_.a.i = 1;
  false_.a.i = 0;
}

Node* Graph::NewBigInt(std::string_view decimal) {
  Node* n = Alloc(Kind::kBigInt);
  if (!n) return n;
  std::string_view s = arena_.CopyString(decimal);
  n->a.p = s.data();
  n->b().n = s.size();
  return n;
}

Node* Graph::NewComplex(double re, double im) {
  Node* n = Alloc(Kind::kComplex);
  if (!n) return n;
  n->a.f = re;
  n->b().f = im;
  return n;
}

Node* Graph::NewBytes(Kind kind, std::string_view data, bool copy) {
  Node* n = Alloc(kind);
  if (!n) return n;
  if (copy) data = arena_.CopyString(data);
  n->a.p = data.data();
  n->b().n = data.size();
  return n;
}

Node* Graph::NewSet(Kind kind) {
  Node* n = Alloc(kind);
  if (n) n->a.set = arena_.New<SetBody>();
  return n;
}

Node* Graph::NewSlice(Node* start, Node* stop, Node* step) {
  Node* n = Alloc(Kind::kSlice);
  if (!n) return n;
  Node** data = arena_.NewArray<Node*>(3);
  data[0] = start;
  data[1] = stop;
  data[2] = step;
  n->a.items = data;
  n->b().v.size = n->b().v.capacity = 3;
  return n;
}

Node* Graph::NewGlobal(std::string_view module, std::string_view qualname,
                       uint64_t offset) {
  Node* n = Alloc(Kind::kGlobal);
  if (!n) return n;
  auto* g = arena_.New<GlobalName>();
  // "module:qualname" written straight into the arena.
  size_t size = module.size() + 1 + qualname.size();
  char* joined = static_cast<char*>(arena_.Allocate(size, 1));
  std::memcpy(joined, module.data(), module.size());
  joined[module.size()] = ':';
  if (!qualname.empty()) {
    std::memcpy(joined + module.size() + 1, qualname.data(), qualname.size());
  }
  g->joined = std::string_view(joined, size);
  g->module = g->joined.substr(0, module.size());
  g->qualname = g->joined.substr(module.size() + 1);
  n->a.global = g;
  n->b().offset = offset;
  return n;
}

Node* Graph::NewRecord(Kind kind, Node* callable, uint64_t offset) {
  Node* n = Alloc(kind);
  if (!n) return n;
  // Value-initializing a Record compiles to `rep stos`, whose start-up
  // cost was most of NewRecord's time on a model (a joblib file makes one
  // per array); copying a zero Record compiles to a few vector stores.
  static_assert(std::is_trivially_copyable_v<Record>);
  static const Record kEmptyRecord{};
  auto* r = static_cast<Record*>(
      arena_.Allocate(sizeof(Record), alignof(Record)));
  std::memcpy(static_cast<void*>(r), &kEmptyRecord, sizeof(Record));
  r->callable = callable;
  r->offset = offset;
  n->a.rec = r;
  return n;
}

Node* Graph::NewPersId(Node* pid) {
  Node* n = Alloc(Kind::kPersId);
  if (n) n->a.target = pid;
  return n;
}

Node* Graph::NewExt(int64_t code) {
  Node* n = Alloc(Kind::kExt);
  if (n) n->a.i = code;
  return n;
}

bool Graph::Latin1Bytes(const Node* str, std::string_view* out) {
  // A str that is not Latin-1 is remembered too (a null view): the scan
  // that found it could be repeated for every call naming it.
  if (auto it = latin1_.find(str); it != latin1_.end()) {
    *out = it->second;
    return it->second.data() != nullptr;
  }
  std::string bytes;
  if (!EncodeLatin1(str->str(), &bytes)) {
    latin1_.emplace(str, std::string_view());
    return false;
  }
  // CopyString of an empty text may give a null pointer: keep one that is
  // not, so an empty Latin-1 text is not taken for a failure.
  *out = bytes.empty() ? std::string_view("", 0) : arena_.CopyString(bytes);
  latin1_.emplace(str, *out);
  return true;
}

Node* Graph::SetItems(Node* n, absl::Span<Node* const> items) {
  Node** data = arena_.TryNewArray<Node*>(items.size());
  if (data == nullptr) return nullptr;
  std::memcpy(data, items.data(), items.size() * sizeof(Node*));
  n->a.items = data;
  n->b().v.size = n->b().v.capacity = static_cast<uint32_t>(items.size());
  return n;
}

GraphErr Graph::ListAppend(Node* list, Node* item) {
  return ListExtend(list, absl::MakeConstSpan(&item, 1));
}

GraphErr Graph::ListExtend(Node* list, absl::Span<Node* const> items) {
  ArenaVec<Node*> v{list->a.items, list->b().v.size, list->b().v.capacity};
  if (!v.append(arena_, items.data(), items.size())) return GraphErr::kTooLarge;
  list->a.items = v.data;
  list->b().v.size = v.size;
  list->b().v.capacity = v.capacity;
  return GraphErr::kOk;
}

GraphErr Graph::RecordArgs(Record* rec, absl::Span<Node* const> args) {
  if (args.size() > UINT32_MAX) return GraphErr::kTooLarge;
  rec->args.data = const_cast<Node**>(args.data());  // never written
  rec->args.size = rec->args.capacity = static_cast<uint32_t>(args.size());
  return GraphErr::kOk;
}

uint32_t Graph::Intern(char tag, std::string_view bytes, bool lasting) {
  // A model interns a few dozen keys: starting with room for them spares
  // the table four rehashes per decode.
  if (canon_table_.empty()) canon_table_.reserve(kTablesStart);
  if (lasting) {  // nothing to copy: one probe
    auto [it, fresh] = canon_table_.try_emplace(CanonKey{bytes, tag}, next_id_);
    if (fresh) ++next_id_;
    return it->second;
  }
  if (auto it = canon_table_.find(CanonKey{bytes, tag});
      it != canon_table_.end()) {
    return it->second;
  }
  // Copied before the entry is made: a copy the graph's budget refuses
  // (it throws) leaves no entry without its text.
  CanonKey key{arena_.CopyString(bytes), tag};
  return canon_table_.emplace(key, next_id_++).first->second;
}

GraphErr Graph::LeafCanon(Node* n, uint32_t* id, Node** culprit,
                          bool text_lasts) {
  // The key is a tag and bytes: the node's own text where it has one (it
  // lives as long as the graph unless !text_lasts), else an encoding built
  // in scratch_.
  scratch_.clear();
  char tag = 0;
  std::string_view lasting;
  auto integral = [&](double d) {
    // An integral double equals the int of the same value.
    if (std::fabs(d) < 9223372036854775808.0) {
      int64_t v = static_cast<int64_t>(d);
      tag = 'i';
      AppendRaw(&scratch_, &v, sizeof v);
    } else {
      tag = 'I';
      scratch_ += IntegralDoubleToDecimal(d);
    }
  };
  auto real = [&](double d) -> bool {  // false: identity (nan)
    if (std::isnan(d)) return false;
    if (std::isfinite(d) && d == std::floor(d)) {
      integral(d);
    } else {
      tag = 'f';
      AppendRaw(&scratch_, &d, sizeof d);
    }
    return true;
  };
  switch (n->kind) {
    case Kind::kNone:
      tag = 'N';
      break;
    case Kind::kBool:
    case Kind::kInt: {
      int64_t v = n->a.i;
      tag = 'i';
      AppendRaw(&scratch_, &v, sizeof v);
      break;
    }
    case Kind::kBigInt:
      tag = 'I';
      lasting = n->str();
      break;
    case Kind::kFloat:
      if (!real(n->a.f)) {
        *id = n->canon = FreshId();
        return GraphErr::kOk;
      }
      break;
    case Kind::kComplex: {
      double re = n->a.f, im = n->b().f;
      if (std::isnan(re) || std::isnan(im)) {
        *id = n->canon = FreshId();
        return GraphErr::kOk;
      }
      if (im == 0) {
        real(re);
      } else {
        if (re == 0) re = 0.0;  // -0.0 == 0.0
        tag = 'c';
        AppendRaw(&scratch_, &re, sizeof re);
        AppendRaw(&scratch_, &im, sizeof im);
      }
      break;
    }
    case Kind::kStr:
      tag = 's';
      lasting = n->str();
      break;
    case Kind::kBytes:
      tag = 'b';
      lasting = n->str();
      break;
    case Kind::kGlobal:
      tag = 'g';
      lasting = n->a.global->joined;
      break;
    case Kind::kObject:
    case Kind::kCall:
    case Kind::kPersId:
    case Kind::kExt:
      *id = n->canon = FreshId();  // default object.__hash__: identity
      return GraphErr::kOk;
    case Kind::kDtype:
      // dtypes compare by what they describe.
      tag = 'd';
      AppendDtypeJson(*n->a.dtype, &scratch_);
      break;
    case Kind::kScalar: {
      // A numeric numpy scalar equals the Python number of its value;
      // others (strings, datetimes, long doubles) compare by identity.
      WideNode wide_number(Kind::kNone);  // ScalarNumber may make a complex
      Node& number = wide_number.node;
      std::string storage;
      if (!ScalarNumber(*n->a.scalar, &number, &storage)) {
        *id = n->canon = FreshId();
        return GraphErr::kOk;
      }
      // `number`'s text (a big value's decimal) is in `storage`.
      GraphErr e = LeafCanon(&number, id, culprit, /*text_lasts=*/false);
      n->canon = *id;
      return e;
    }
    default:
      *culprit = n;
      return GraphErr::kUnhashable;
  }
  if (lasting.data() == nullptr) {
    *id = n->canon = Intern(tag, scratch_, false);
  } else if (lasting.size() < kLongText || !text_lasts) {
    *id = n->canon = Intern(tag, lasting, text_lasts);
  } else {
    const TextAt at{lasting.data(), lasting.size(), tag};
    if (auto it = long_text_ids_.find(at); it != long_text_ids_.end()) {
      *id = n->canon = it->second;
    } else {
      // Interned first: if that throws (the graph's budget), no entry is
      // left without its id.
      *id = n->canon = Intern(tag, lasting, text_lasts);
      long_text_ids_.emplace(at, *id);
    }
  }
  return GraphErr::kOk;
}

GraphErr Graph::Canon(Node* node, uint32_t* id, Node** culprit) {
  if (node->canon) {
    *id = node->canon;
    return GraphErr::kOk;
  }
  if (node->kind != Kind::kTuple && node->kind != Kind::kFrozenSet) {
    return LeafCanon(node, id, culprit);
  }
  // A tuple or frozenset found unhashable stays so (neither changes, nor
  // does a list or dict in it): the walk that found it is not repeated for
  // every call that names it again (set([T]) of one memoized T per call
  // made 0.8 MB take 12 s).
  if (!unhashable_.empty()) {
    if (auto it = unhashable_.find(node); it != unhashable_.end()) {
      *culprit = it->second;
      return GraphErr::kUnhashable;
    }
  }
  // Post-order over tuples and frozensets with an explicit stack: a node is
  // finished once all its children have ids.  Each node is finished once, so
  // shared sub-keys are not re-walked.
  canon_stack_.clear();
  canon_stack_.push_back(node);
  while (!canon_stack_.empty()) {
    Node* t = canon_stack_.back();
    if (t->canon) {
      canon_stack_.pop_back();
      continue;
    }
    if (t->kind != Kind::kTuple && t->kind != Kind::kFrozenSet) {
      uint32_t ignored;
      GraphErr e = LeafCanon(t, &ignored, culprit);
      if (e != GraphErr::kOk) {
        if (e == GraphErr::kUnhashable) unhashable_.emplace(node, *culprit);
        return e;
      }
      canon_stack_.pop_back();
      continue;
    }
    Node* const* kids;
    uint32_t count;
    Node* buf[2];
    if (t->kind == Kind::kTuple) {
      absl::Span<Node* const> items = t->Items(buf);
      kids = items.data();
      count = static_cast<uint32_t>(items.size());
    } else {
      kids = t->a.set->items.data;
      count = t->a.set->items.size;
    }
    bool ready = true;
    for (uint32_t i = 0; i < count; ++i) {
      if (!kids[i]->canon) {
        ready = false;
        canon_stack_.push_back(kids[i]);
      }
    }
    if (!ready) continue;
    id_scratch_.assign(count, 0);
    for (uint32_t i = 0; i < count; ++i) id_scratch_[i] = kids[i]->canon;
    if (t->kind == Kind::kFrozenSet) {
      std::sort(id_scratch_.begin(), id_scratch_.end());
    }
    scratch_.clear();
    AppendRaw(&scratch_, id_scratch_.data(), count * sizeof(uint32_t));
    t->canon = Intern(t->kind == Kind::kTuple ? 'T' : 'Z', scratch_, false);
    canon_stack_.pop_back();
  }
  *id = node->canon;
  return GraphErr::kOk;
}

template <typename KeyOf>
int64_t Graph::Find(const KeyIndex* index, uint32_t canon, uint32_t size,
                    KeyOf key_of) {
  if (index == nullptr || index->mask == 0) {
    for (uint32_t i = 0; i < size; ++i) {
      if (key_of(i)->canon == canon) return i;
    }
    return -1;
  }
  uint32_t h = canon * 0x9E3779B1u;
  for (uint32_t probe = 0;; ++probe) {
    uint32_t slot = (h + probe) & index->mask;
    uint32_t e = index->slots[slot];
    if (e == 0) return -1;
    if (key_of(e - 1)->canon == canon) return e - 1;
  }
}

bool Graph::IndexFits(const KeyIndex* index, uint64_t size) {
  if (size <= kLinearLimit) return true;
  if (index != nullptr && index->mask != 0 && size * 2 <= index->mask) {
    return true;
  }
  // Reindex's slots (fewer than 8 per entry) and a KeyIndex.
  return arena_.CanAllocate(8 * size * sizeof(uint32_t) + 64 +
                            sizeof(KeyIndex) + 2 * alignof(std::max_align_t));
}

template <typename KeyOf>
void Graph::Reindex(KeyIndex* index, uint32_t size, KeyOf key_of) {
  uint64_t cap = 16;
  while (cap < uint64_t{size} * 4) cap *= 2;
  index->slots = arena_.NewArray<uint32_t>(cap);
  std::memset(index->slots, 0, cap * sizeof(uint32_t));
  index->mask = static_cast<uint32_t>(cap - 1);
  for (uint32_t i = 0; i < size; ++i) {
    uint32_t h = key_of(i)->canon * 0x9E3779B1u;
    for (uint32_t probe = 0;; ++probe) {
      uint32_t slot = (h + probe) & index->mask;
      if (index->slots[slot] == 0) {
        index->slots[slot] = i + 1;
        break;
      }
    }
  }
}

template <typename KeyOf>
void Graph::UpdateIndex(KeyIndex* index, uint32_t size, KeyOf key_of) {
  // Called after entry size-1 was appended.  Past the linear limit the index
  // is rebuilt at doubling sizes (amortized O(1)), else the entry is added.
  if (size <= kLinearLimit) return;
  if (index->mask == 0 || size * 2 > index->mask) {
    Reindex(index, size, key_of);
    return;
  }
  uint32_t h = key_of(size - 1)->canon * 0x9E3779B1u;
  for (uint32_t probe = 0;; ++probe) {
    uint32_t slot = (h + probe) & index->mask;
    if (index->slots[slot] == 0) {
      index->slots[slot] = size;
      return;
    }
  }
}

bool Graph::DictGrow(DictBody* dict, uint64_t need, bool exact) {
  if (need <= dict->values.capacity) return true;
  if (need > UINT32_MAX) return false;
  const uint64_t cap =
      exact ? need : ArenaVec<Node*>::GrownCapacity(dict->values.capacity, need);
  // Own keys keep the values' capacity.  Both arrays are had before either
  // is used, so a refusal of the second (the graph's budget) changes
  // nothing.
  Node** keys = nullptr;
  if (dict->shape == nullptr && dict->values.size != 0) {
    keys = arena_.TryNewArray<Node*>(cap);
    if (keys == nullptr) return false;
  }
  if (!dict->values.MoveTo(arena_, cap)) return false;
  if (keys != nullptr) {
    std::memcpy(keys, dict->keys, dict->values.size * sizeof(Node*));
    dict->keys = keys;
  }
  return true;
}

Shape* Graph::ShapeChild(Shape* from, Node* key, uint32_t canon,
                         const Node* ident) {
  // All a new shape takes, asked for first (nullptr: the graph's budget
  // refuses it, and nothing changed): the entry made below is then always
  // filled in.
  if (!arena_.CanAllocate(sizeof(Shape) + sizeof(KeyRun) +
                          kShapeLimit * sizeof(Node*) +
                          3 * alignof(std::max_align_t))) {
    return nullptr;
  }
  // A shape not yet indexed has one transition at most, `next`, which the
  // caller found is not this one: the child is new.  Its first transition
  // goes into the table only when it gets a second.
  Shape** slot = nullptr;
  if (from->next != nullptr && !from->indexed) {
    if (shapes_.empty()) shapes_.reserve(kTablesStart);  // see Intern
    shapes_.try_emplace(ShapeKey{from, from->next_canon, from->next_ident},
                        from->next);
    from->indexed = true;
  }
  if (from->indexed) {
    auto [it, fresh] = shapes_.try_emplace(ShapeKey{from, canon, ident});
    if (!fresh) return it->second;
    slot = &it->second;
  }
  Shape* child = arena_.New<Shape>();
  child->size = static_cast<uint16_t>(from->size + 1);
  child->dunder_key =
      from->dunder_key || (key->kind == Kind::kStr && IsDunder(key->str()));
  child->key_bits = from->key_bits | KeyBit(canon);
  KeyRun* run = from->run;
  if (run != nullptr && run->used == from->size && run->used < run->capacity) {
    run->keys[run->used++] = key;  // `from` ends its run: extend it
  } else {
    run = arena_.New<KeyRun>();
    run->capacity = std::min<uint32_t>(
        std::max<uint32_t>(4, 2 * child->size), kShapeLimit);
    run->keys = arena_.NewArray<Node*>(run->capacity);
    if (from->size) {
      std::memcpy(run->keys, from->run->keys, from->size * sizeof(Node*));
    }
    run->keys[from->size] = key;
    run->used = child->size;
  }
  child->run = run;
  child->keys = run->keys;
  if (slot != nullptr) *slot = child;
  return child;
}

GraphErr Graph::DictSetSlow(DictBody* dict, Node* key, Node* value) {
  uint32_t id = key->canon;  // cached once hashed (memo-shared keys)
  if (id == 0 && key->kind == Kind::kStr && key->b().n < kLongText) {
    // A key met for the first time is most often a short str: LeafCanon's
    // case for it, without its dispatch (a model's fresh keys).
    id = key->canon = Intern('s', key->str(), /*lasting=*/true);
  } else if (id == 0) {
    Node* culprit;
    GraphErr e = Canon(key, &id, &culprit);
    if (e != GraphErr::kOk) return e;
  }
  uint32_t size = dict->values.size;
  if (size == 0 || dict->shape != nullptr) {
    Shape* from = size == 0 ? &empty_shape_ : dict->shape;
    const Node* ident = KeyIdentity(key);
    Shape* to;
    Transition& recent = recent_[RecentSlot(from, key)];
    if (from->next != nullptr && from->next_canon == id &&
        from->next_ident == ident) {
      to = from->next;  // a known transition: `key` is not in `from`
      from->next_key = key;
    } else if (recent.from == from && recent.key == key) {
      // A transition taken before from this shape by this very key node,
      // though not the last one (the empty shape: a model's dicts start
      // with several different first keys).  Also known: `key` is not in
      // `from`.
      to = recent.to;
      from->next = to;
      from->next_canon = id;
      from->next_ident = ident;
      from->next_key = key;
    } else {
      if (from->key_bits & KeyBit(id)) {  // else no key of `from` equals it
        for (uint32_t i = 0; i < size; ++i) {
          if (dict->keys[i]->canon == id) {  // an equal key: new value only
            dict->values.data[i] = value;
            return GraphErr::kOk;
          }
        }
      }
      // The dict takes its own keys when sharing would not pay: past the
      // shape limit, or for a key compared by identity (a tuple, a float,
      // an object: no other dict can take that transition, so a shape per
      // such key would only cost memory; None and the bools are single
      // nodes, so they share).
      bool shareable = ident == nullptr || key->kind == Kind::kBool ||
                       key->kind == Kind::kNone;
      if (size == kShapeLimit || !shareable) {
        if (size == dict->values.capacity && !DictGrow(dict, size + 1, false)) {
          return GraphErr::kTooLarge;
        }
        Node** keys = arena_.NewArray<Node*>(dict->values.capacity);
        if (size) std::memcpy(keys, dict->keys, size * sizeof(Node*));
        dict->keys = keys;
        dict->shape = nullptr;
        return DictAppendOwn(dict, key, value);
      }
      to = ShapeChild(from, key, id, ident);
      if (to == nullptr) return GraphErr::kTooLarge;  // the budget
      recent = {from, key, to};
      from->next = to;
      from->next_canon = id;
      from->next_ident = ident;
      from->next_key = key;
    }
    if (size == dict->values.capacity) {
      // A dict filled one SETITEM at a time (protocol 0) gets its first
      // array sized by a guess: the length of the key sequence the shapes'
      // cached transitions lead on to from its first key -- the path the
      // most recent dicts took at each step, typically the previous
      // record's keys (a million records of eight keys: one array of 8
      // each, not 4, then 8 and a copy).  At most kSizeGuessLimit slots:
      // a stream that makes the guess overshoot -- nested one-key dicts,
      // `}N` ... `s`, 3 input bytes each -- pays 16 slots per dict, about
      // 60 bytes of graph per input byte (tests/memory), inside the
      // README's bound.
      uint64_t need = size + 1;
      bool exact = false;
      if (size == 0) {
        for (const Shape* s = to; s->next != nullptr && need < kSizeGuessLimit;
             s = s->next) {
          ++need;
        }
        exact = true;
      }
      if (!DictGrow(dict, need, exact)) return GraphErr::kTooLarge;
    }
    dict->values.data[dict->values.size++] = value;
    dict->shape = to;
    dict->keys = to->keys;
    return GraphErr::kOk;
  }
  auto key_of = [dict](uint32_t i) { return dict->keys[i]; };
  int64_t at = Find(dict->index, id, size, key_of);
  if (at >= 0) {
    dict->values.data[at] = value;
    return GraphErr::kOk;
  }
  return DictAppendOwn(dict, key, value);
}

GraphErr Graph::DictAppendOwn(DictBody* dict, Node* key, Node* value) {
  uint32_t size = dict->values.size;
  if (size == UINT32_MAX) return GraphErr::kTooLarge;
  if (size == dict->values.capacity && !DictGrow(dict, size + 1, false)) {
    return GraphErr::kTooLarge;
  }
  if (!IndexFits(dict->index, size + 1)) return GraphErr::kTooLarge;
  dict->keys[size] = key;
  dict->values.data[size] = value;
  dict->values.size = size + 1;
  if (size + 1 > kLinearLimit) {
    if (dict->index == nullptr) dict->index = arena_.New<KeyIndex>();
    UpdateIndex(dict->index, size + 1,
                [dict](uint32_t i) { return dict->keys[i]; });
  }
  return GraphErr::kOk;
}

GraphErr Graph::DictSetPairs(DictBody* dict, Node* const* kv, size_t pairs,
                             Node** failed) {
  size_t i = 0;
  // A record's SETITEMS: every key the next of a known key sequence, with
  // room for the values (SETITEMS reserved it).  DictSet's inline case,
  // with the dict's size and shape kept in registers and stored once.
  uint32_t size = dict->values.size;
  Shape* const from = size == 0 ? &empty_shape_ : dict->shape;
  if (from != nullptr) {
    Shape* at = from;
    Node** const values = dict->values.data;
    const uint32_t capacity = dict->values.capacity;
    for (; i < pairs && size < capacity; ++i) {
      Node* key = kv[2 * i];
      if (at->next_key != key) {
        uint32_t id = key->canon;
        if (id == 0 || at->next_canon != id || at->next == nullptr ||
            at->next_ident != KeyIdentity(key)) {
          break;
        }
        at->next_key = key;  // an equal key node: the next one is likely it
      }
      values[size++] = kv[2 * i + 1];
      at = at->next;  // `key` is not in `at`: it was checked
    }
    if (at != from) {
      dict->values.size = size;
      dict->shape = at;
      dict->keys = at->keys;
    }
  }
  for (; i < pairs; ++i) {
    GraphErr e = DictSet(dict, kv[2 * i], kv[2 * i + 1]);
    if (ABSL_PREDICT_FALSE(e != GraphErr::kOk)) {
      *failed = kv[2 * i];
      return e;
    }
  }
  return GraphErr::kOk;
}

GraphErr Graph::SetAdd(SetBody* set, Node* item) {
  uint32_t id;
  Node* culprit;
  GraphErr e = Canon(item, &id, &culprit);
  if (e != GraphErr::kOk) return e;
  auto key_of = [set](uint32_t i) { return set->items[i]; };
  if (Find(&set->index, id, set->items.size, key_of) >= 0) {
    return GraphErr::kOk;
  }
  if (!IndexFits(&set->index, set->items.size + 1) ||
      !set->items.push_back(arena_, item)) {
    return GraphErr::kTooLarge;
  }
  UpdateIndex(&set->index, set->items.size, key_of);
  return GraphErr::kOk;
}

GraphErr Graph::DictFind(const DictBody* dict, Node* key, int64_t* pos) {
  uint32_t id;
  Node* culprit;
  GraphErr e = Canon(key, &id, &culprit);
  if (e != GraphErr::kOk) return e;
  *pos = FindCanon(dict, id);
  return GraphErr::kOk;
}

int64_t Graph::FindStrKey(const DictBody* dict, std::string_view text) {
  auto it = canon_table_.find(CanonKey{text, 's'});
  return it == canon_table_.end() ? -1 : FindCanon(dict, it->second);
}

int64_t Graph::FindCanon(const DictBody* dict, uint32_t canon) {
  // A shared key sequence has no index (it is at most kShapeLimit long).
  return Find(dict->index, canon, dict->size(),
              [dict](uint32_t i) { return dict->keys[i]; });
}

}  // namespace picklevm
