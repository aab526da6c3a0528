#include "fuzz/json_check.h"

#include <cstdint>
#include <vector>

#include "vm/base/strcat.h"

namespace picklevm {
namespace {

class Checker {
 public:
  Checker(std::string_view s, bool check_ids) : s_(s), check_ids_(check_ids) {}

  std::string Run() {
    // Containers are tracked on an explicit stack: '{' or '['.
    std::vector<char> stack;
    bool expect_value = true;
    Skip();
    while (true) {
      if (!err_.empty()) return err_;
      Skip();
      if (expect_value) {
        if (i_ >= s_.size()) return Fail("unexpected end");
        char c = s_[i_];
        if (c == '{' || c == '[') {
          stack.push_back(c);
          ++i_;
          Skip();
          if (i_ < s_.size() && s_[i_] == (c == '{' ? '}' : ']')) {
            ++i_;
            stack.pop_back();
            expect_value = false;
          } else if (c == '{') {
            if (!Key()) return err_;
          }
          continue;
        }
        if (!Scalar()) return err_;
        expect_value = false;
        continue;
      }
      if (stack.empty()) break;
      if (i_ >= s_.size()) return Fail("unexpected end in a container");
      char c = s_[i_++];
      if (c == ',') {
        expect_value = true;
        if (stack.back() == '{' && !Key()) return err_;
      } else if ((c == '}' && stack.back() == '{') ||
                 (c == ']' && stack.back() == '[')) {
        stack.pop_back();
      } else {
        return Fail("expected , or a closing bracket");
      }
    }
    Skip();
    if (i_ != s_.size()) return Fail("text after the value");
    return "";
  }

 private:
  std::string Fail(std::string_view what) {
    if (err_.empty()) err_ = StrCat(what, " at byte ", i_);
    return err_;
  }
  void Skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' ||
                              s_[i_] == '\t' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  // A key and its colon; "$id"/"$ref" are followed by their number, which
  // is checked here.
  bool Key() {
    Skip();
    std::string key;
    if (!String(&key)) return false;
    Skip();
    if (i_ >= s_.size() || s_[i_] != ':') {
      Fail("expected :");
      return false;
    }
    ++i_;
    Skip();
    if (check_ids_ && (key == "$id" || key == "$ref")) {
      size_t start = i_;
      uint64_t n = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        n = n * 10 + static_cast<uint64_t>(s_[i_++] - '0');
      }
      if (i_ == start) {
        Fail("$id/$ref without a number");
        return false;
      }
      i_ = start;  // the number is read again as the value
      if (key == "$id") {
        if (n != next_id_) {
          Fail(StrCat("$id ", n, " out of order (expected ", next_id_, ")"));
          return false;
        }
        ++next_id_;
      } else if (n >= next_id_) {
        Fail(StrCat("$ref ", n, " before its $id"));
        return false;
      }
    }
    return true;
  }
  bool String(std::string* out) {
    if (i_ >= s_.size() || s_[i_] != '"') {
      Fail("expected a string");
      return false;
    }
    ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c < 0x20) {
        Fail("control character in a string");
        return false;
      }
      if (c == '\\') {
        ++i_;
        if (i_ >= s_.size()) break;
        char e = s_[i_];
        if (e == 'u') {
          for (int k = 1; k <= 4; ++k) {
            if (i_ + k >= s_.size() || !isxdigit(static_cast<unsigned char>(s_[i_ + k]))) {
              Fail("bad \\u escape");
              return false;
            }
          }
          i_ += 4;
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          Fail("bad escape");
          return false;
        }
      } else if (out) {
        out->push_back(static_cast<char>(c));
      }
      ++i_;
    }
    if (i_ >= s_.size()) {
      Fail("unterminated string");
      return false;
    }
    ++i_;
    return true;
  }
  bool Scalar() {
    char c = s_[i_];
    if (c == '"') return String(nullptr);
    for (std::string_view lit : {"true", "false", "null"}) {
      if (s_.substr(i_, lit.size()) == lit) {
        i_ += lit.size();
        return true;
      }
    }
    // JSON number: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?
    size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    auto digits = [&] {
      size_t d = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
      return i_ - d;
    };
    size_t lead = i_;
    if (digits() == 0 || (s_[lead] == '0' && i_ - lead > 1)) {
      i_ = start;
      Fail("bad value");
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (digits() == 0) return Fail("bad fraction"), false;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (digits() == 0) return Fail("bad exponent"), false;
    }
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
  bool check_ids_;
  uint64_t next_id_ = 0;
  std::string err_;
};

}  // namespace

std::string CheckGraphJson(std::string_view text, bool check_ids) {
  return Checker(text, check_ids).Run();
}

}  // namespace picklevm
