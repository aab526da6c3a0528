#include "vm/builders/builtins.h"

#include <cmath>
#include <string>

#include "vm/base/strcat.h"
#include "vm/text/strings.h"

namespace picklevm {
namespace {

bool IsLatin1Name(const Node* n, bool allow_hyphen_only) {
  if (n->kind != Kind::kStr) return false;
  std::string_view s = n->str();
  return s == "latin-1" || (!allow_hyphen_only && s == "latin1");
}

// A number usable as a complex part: int, bool or float (not big ints that
// overflow a double).
bool AsDouble(const Node* n, double* out) {
  switch (n->kind) {
    case Kind::kBool:
    case Kind::kInt:
      *out = static_cast<double>(n->a.i);
      return true;
    case Kind::kFloat:
      *out = n->a.f;
      return true;
    default:
      return false;
  }
}

BuildResult BuildFromItems(Kind kind, Graph& graph, Node* source) {
  Node* buf[2];
  absl::Span<Node* const> items = source->Items(buf);
  // A stream may name one memoized list in any number of calls.
  if (!graph.ChargeCopies(items.size())) return CopyLimit();
  Node* set = graph.NewSet(kind);
  if (set == nullptr) return Built(nullptr);
  for (size_t i = 0; i < items.size(); ++i) {
    GraphErr e = graph.SetAdd(set->a.set, items[i]);
    if (e == GraphErr::kUnhashable) {
      return Constraint(StrCat("unhashable ", KindName(items[i]->kind),
                                     " member"));
    }
    if (e != GraphErr::kOk) return Built(nullptr);
  }
  return Built(set);
}

// The Latin-1 bytes of `text` for a new bytes or bytearray node.  They are
// encoded once per str node and shared (Graph::Latin1Bytes): the graph's
// bytes are never written to, and a stream naming one memoized str in any
// number of calls would otherwise copy it each time (280 KB of input made
// 1 GB).  Nothing of this is visible: each call still makes its own node.
BuildResult FromLatin1(Kind kind, Graph& graph, const Node* text) {
  std::string_view bytes;
  if (text->has_surrogates() || !graph.Latin1Bytes(text, &bytes)) {
    return Constraint("text has a code point above U+00FF");
  }
  return Built(graph.NewBytes(kind, bytes, false));
}

}  // namespace

BuildResult BuildBuiltin(BuilderId id, Graph& graph,
                         absl::Span<Node* const> args) {
  switch (id) {
    case BuilderId::kCodecsEncode: {
      // Protocols 0-2 write bytes as _codecs.encode(text, 'latin1').
      if (args.size() != 2 || args[0]->kind != Kind::kStr ||
          !IsLatin1Name(args[1], false)) {
        return Constraint("expects (str, 'latin1' | 'latin-1')");
      }
      return FromLatin1(Kind::kBytes, graph, args[0]);
    }
    case BuilderId::kBytes:
      if (!args.empty()) return Constraint("expects no arguments");
      return Built(graph.NewBytes(Kind::kBytes, {}, false));
    case BuilderId::kByteArray: {
      // bytearray(), bytearray(bytes), bytearray(text, 'latin-1').
      if (args.empty()) return Built(graph.NewBytes(Kind::kByteArray, {}, false));
      if (args.size() == 1 && args[0]->kind == Kind::kBytes) {
        return Built(graph.NewBytes(Kind::kByteArray, args[0]->str(), false));
      }
      if (args.size() == 2 && args[0]->kind == Kind::kStr &&
          IsLatin1Name(args[1], false)) {
        return FromLatin1(Kind::kByteArray, graph, args[0]);
      }
      return Constraint("expects (), (bytes) or (str, 'latin-1')");
    }
    case BuilderId::kSet:
    case BuilderId::kFrozenSet: {
      Kind kind = id == BuilderId::kSet ? Kind::kSet : Kind::kFrozenSet;
      if (args.empty()) return Built(graph.NewSet(kind));
      if (args.size() == 1 &&
          (args[0]->kind == Kind::kList || args[0]->kind == Kind::kTuple)) {
        return BuildFromItems(kind, graph, args[0]);
      }
      return Constraint("expects () or (list)");
    }
    case BuilderId::kComplex: {
      double re = 0, im = 0;
      if (args.size() > 2 || (args.size() >= 1 && !AsDouble(args[0], &re)) ||
          (args.size() == 2 && !AsDouble(args[1], &im))) {
        return Constraint("expects up to two int or float parts");
      }
      return Built(graph.NewComplex(re, im));
    }
    case BuilderId::kSlice: {
      // slice(stop) | slice(start, stop) | slice(start, stop, step)
      if (args.empty() || args.size() > 3) {
        return Constraint("expects 1 to 3 arguments");
      }
      Node* none = graph.None();
      if (args.size() == 1) return Built(graph.NewSlice(none, args[0], none));
      return Built(graph.NewSlice(args[0], args[1],
                                  args.size() == 3 ? args[2] : none));
    }
    default:
      return Constraint("no data builder");
  }
}

}  // namespace picklevm
