#include "vm/emit/dis.h"

#include <algorithm>
#include <string>
#include <vector>

#include "vm/base/strcat.h"
#include "vm/base/error.h"
#include "vm/decode/operand.h"
#include "vm/decode/reader.h"
#include "vm/emit/json.h"
#include "vm/emit/pyrepr.h"
#include "vm/opcodes/opcodes.h"
#include "vm/text/numbers.h"
#include "vm/text/strings.h"

namespace picklevm {
namespace {

// pickletools' read_stringnl(decode=True): escape_decode, then ASCII.
bool EscapedAscii(std::string_view text, std::string* out) {
  std::string error;
  size_t bad;
  return EscapeDecode(text, out, &error) && IsAscii(*out, &bad);
}

// The operand as pickletools' repr(arg) prints it.  Returns false when
// pickletools could not read it either (the stream is malformed there).
bool ArgRepr(const OpcodeInfo& info, const Operand& arg,
             uint64_t max_int_digits, std::string* out) {
  switch (info.arg) {
    case ArgKind::kNone:
      return true;
    case ArgKind::kUInt1:
    case ArgKind::kUInt2:
    case ArgKind::kUInt4:
    case ArgKind::kUInt8:
      *out = StrCat(arg.u);
      return true;
    case ArgKind::kInt4:
      *out = StrCat(arg.i);
      return true;
    case ArgKind::kFloat8:
      *out = FloatRepr(arg.f);
      return true;
    case ArgKind::kLong1:
    case ArgKind::kLong4: {
      PyInt v;
      if (!PyIntFromTwosComplement(arg.bytes, max_int_digits, &v)) {
        *out = StrCat("<int of ", arg.bytes.size(), " bytes>");
        return true;
      }
      *out = PyIntToDecimal(v);
      return true;
    }
    case ArgKind::kDecimalNlShort:
    case ArgKind::kDecimalNlLong: {
      std::string_view text = LineText(arg.bytes);
      if (info.arg == ArgKind::kDecimalNlShort) {
        if (text == "00") return *out = "False", true;
        if (text == "01") return *out = "True", true;
      } else if (!text.empty() && text.back() == 'L') {
        text.remove_suffix(1);
      }
      PyInt v;
      NumParse r = ParsePythonInt(text, 10, max_int_digits, &v);
      if (r != NumParse::kOk) {
        // pickletools reads base 10; the unpickler may read more (INT's
        // strtol base 0).  Show what the unpickler sees.
        bool is_bool = false;
        r = info.op == Op::kInt
                ? ParseIntOpcode(arg.bytes, max_int_digits, &v, &is_bool)
                : info.op == Op::kLong
                      ? ParseLongOpcode(arg.bytes, max_int_digits, &v)
                      : NumParse::kInvalid;
        if (r != NumParse::kOk) return false;
        if (is_bool) return *out = v.small ? "True" : "False", true;
      }
      *out = PyIntToDecimal(v);
      return true;
    }
    case ArgKind::kFloatNl: {
      double d;
      if (ParseFloatOpcode(arg.bytes, &d) != NumParse::kOk) return false;
      *out = FloatRepr(d);
      return true;
    }
    case ArgKind::kStringNl: {
      std::string_view text = LineText(arg.bytes);
      if (text.size() < 2 || text.front() != text.back() ||
          (text.front() != '\'' && text.front() != '"')) {
        return false;
      }
      std::string decoded;
      if (!EscapedAscii(text.substr(1, text.size() - 2), &decoded)) {
        return false;
      }
      *out = PyReprStr(decoded);
      return true;
    }
    case ArgKind::kStringNlNoescape: {
      std::string decoded;
      if (!EscapedAscii(LineText(arg.bytes), &decoded)) return false;
      *out = PyReprStr(decoded);
      return true;
    }
    case ArgKind::kStringNlNoescapePair: {
      std::string a, b;
      if (!EscapedAscii(LineText(arg.bytes), &a) ||
          !EscapedAscii(LineText(arg.line2), &b)) {
        return false;
      }
      *out = PyReprStr(StrCat(a, " ", b));
      return true;
    }
    case ArgKind::kUnicodeStringNl: {
      std::string decoded, error;
      bool surrogates;
      if (!RawUnicodeEscapeDecode(LineText(arg.bytes), &decoded, &surrogates,
                                  &error)) {
        return false;
      }
      *out = PyReprStr(decoded);
      return true;
    }
    case ArgKind::kString1:
    case ArgKind::kString4:
      *out = PyReprStr(DecodeLatin1(arg.bytes));
      return true;
    case ArgKind::kBytes1:
    case ArgKind::kBytes4:
    case ArgKind::kBytes8:
      *out = PyReprBytes(arg.bytes);
      return true;
    case ArgKind::kBytearray8:
      *out = StrCat("bytearray(", PyReprBytes(arg.bytes), ")");
      return true;
    case ArgKind::kUnicodeString1:
    case ArgKind::kUnicodeString4:
    case ArgKind::kUnicodeString8:
      if (!CheckUtf8(arg.bytes, true).valid) return false;
      *out = PyReprStr(arg.bytes);
      return true;
  }
  return false;
}

// The table's stack-effect notation, split on blanks.
std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> words;
  while (!s.empty()) {
    size_t sp = s.find(' ');
    std::string_view w = s.substr(0, sp);
    if (!w.empty()) words.push_back(w);
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
  return words;
}

// repr(opcode.code)[1:-1]: the opcode byte as Python shows a 1-char str.
std::string CodeRepr(uint8_t code) {
  if (code == '\\') return "\\\\";
  if (code == '\'') return "\\'";
  if (code >= 0x20 && code < 0x7f) return std::string(1, static_cast<char>(code));
  char buf[8];
  snprintf(buf, sizeof buf, "\\x%02x", code);
  return buf;
}

}  // namespace

absl::Status Disassemble(std::string_view input, uint64_t start,
                         const DisOptions& options, OutBuffer* out,
                         uint64_t* end) {
  Reader reader(input, start);
  // pickletools' crude stack emulation: only whether each slot is a MARK
  // matters, to indent and to pair MARKs with the opcodes that pop them.
  std::vector<bool> stack;       // true: markobject
  std::vector<int64_t> marks;    // offsets of open MARKs
  uint64_t memo_size = 0;
  int max_proto = -1;
  std::string& s = out->data;
  size_t next_region = 0;
  uint64_t nested_end = 0;  // end of the object-array pickle being listed
  for (;;) {
    uint64_t pos = reader.pos();
    reader.SetOpcode(pos, -1);
    while (next_region < options.regions.size() &&
           options.regions[next_region].start < pos) {
      ++next_region;
    }
    if (next_region < options.regions.size() &&
        options.regions[next_region].start == pos) {
      const JoblibRegion& r = options.regions[next_region++];
      char posbuf[32];
      snprintf(posbuf, sizeof posbuf, "%5llu:",
               static_cast<unsigned long long>(pos));
      if (r.nested_pickle) {
        StrAppend(&s, posbuf, " ---- joblib object array: a pickle of its "
                  "own, ", r.end - r.start, " bytes ----\n");
        nested_end = r.end;
      } else {
        StrAppend(&s, posbuf, " <joblib array data: ", r.end - r.data,
                  " bytes, after ", r.data - r.start, " bytes of padding>\n");
        std::string_view skipped;
        PVM_RETURN_IF_ERROR(reader.Read(r.end - pos, &skipped));
        continue;
      }
    }
    std::string_view code;
    if (reader.AtEnd()) {
      return MakeError(ErrorCode::kTruncated, pos, -1,
                       pos == start ? "empty input (no pickle)"
                                    : "pickle data was truncated: no STOP");
    }
    PVM_RETURN_IF_ERROR(reader.Read(1, &code));
    const OpcodeInfo* info = LookupOpcode(static_cast<uint8_t>(code[0]));
    if (info == nullptr) {
      return MakeError(ErrorCode::kUnknownOpcode, pos, -1,
                       StrCat("invalid load key, 0x",
                                    absl::Hex(static_cast<uint8_t>(code[0]),
                                              absl::kZeroPad2)));
    }
    reader.SetOpcode(pos, info->code);
    Operand arg;
    PVM_RETURN_IF_ERROR(DecodeOperand(reader, *info, &arg));
    if (info->op == Op::kFrame) PVM_RETURN_IF_ERROR(reader.BeginFrame(arg.u));
    std::string arg_text;
    if (!ArgRepr(*info, arg, options.max_int_digits, &arg_text)) {
      return MakeError(ErrorCode::kBadOperand, pos, info->code,
                       "operand does not decode");
    }
    max_proto = std::max<int>(max_proto, info->proto);

    std::vector<std::string_view> before = Words(info->stack_before);
    std::vector<std::string_view> after = Words(info->stack_after);
    size_t numtopop = before.size();
    size_t indent_level = marks.size();  // before this opcode pops a MARK
    std::string markmsg;
    std::string error;
    bool pops_mark = false;
    for (auto b : before) pops_mark |= b == "mark";
    if (pops_mark || (info->op == Op::kPop && !stack.empty() && stack.back())) {
      if (!marks.empty()) {
        markmsg = StrCat("(MARK at ", marks.back(), ")");
        marks.pop_back();
        while (!stack.empty() && !stack.back()) stack.pop_back();
        if (!stack.empty()) stack.pop_back();
        numtopop = 0;
        for (size_t i = 0; i < before.size(); ++i) {
          if (before[i] == "mark") {
            numtopop = i;
            break;
          }
        }
      } else {
        error = "no MARK exists on stack";
        markmsg = error;
      }
    }
    if (info->op == Op::kMemoize) {
      markmsg = StrCat("(as ", memo_size, ")");
    }
    if (info->op == Op::kPut || info->op == Op::kBinput ||
        info->op == Op::kLongBinput || info->op == Op::kMemoize) {
      ++memo_size;
    }

    char posbuf[32];
    snprintf(posbuf, sizeof posbuf, "%5llu:", static_cast<unsigned long long>(pos));
    std::string line = StrCat(posbuf, " ");
    std::string code_repr = CodeRepr(info->code);
    line += code_repr;
    if (code_repr.size() < 4) line.append(4 - code_repr.size(), ' ');
    line.push_back(' ');
    line.append(static_cast<size_t>(options.indent) *
                    std::min(indent_level, options.max_indent_marks),
                ' ');
    if (indent_level > options.max_indent_marks) {
      StrAppend(&line, "[depth ", indent_level, "] ");
    }
    line.append(info->name);
    if (info->arg != ArgKind::kNone || !markmsg.empty()) {
      if (info->name.size() < 10) line.append(10 - info->name.size(), ' ');
      if (info->arg != ArgKind::kNone) StrAppend(&line, " ", arg_text);
      if (!markmsg.empty()) StrAppend(&line, " ", markmsg);
    }
    s += line;
    s.push_back('\n');
    out->MaybeFlush();
    if (!error.empty()) {
      return MakeError(ErrorCode::kNoMark, pos, info->code, error);
    }
    if (stack.size() < numtopop) {
      return MakeError(ErrorCode::kStackUnderflow, pos, info->code,
                       StrCat("tries to pop ", numtopop,
                                    " items from stack with only ",
                                    stack.size(), " items"));
    }
    stack.resize(stack.size() - numtopop);
    for (auto a : after) {
      if (a == "mark") {
        marks.push_back(static_cast<int64_t>(pos));
        stack.push_back(true);
      } else {
        stack.push_back(false);
      }
    }
    if (info->op == Op::kStop) {
      if (reader.pos() == nested_end) {
        StrAppend(&s, "      ---- end of the object array's pickle ----\n");
        nested_end = 0;
        continue;
      }
      break;
    }
  }
  StrAppend(&s, "highest protocol among opcodes = ", max_proto, "\n");
  *end = reader.pos();
  return absl::OkStatus();
}

}  // namespace picklevm
