// The allowlist format, its parser's errors, and the shipped policy: every
// rule in allowlists/ must be exercised by at least one committed fixture,
// so nothing is admitted that no real model needs.

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "vm/api/pipeline.h"
#include "vm/policy/allowlist.h"

namespace picklevm {
namespace {

std::string ParseError(std::string_view text) {
  RulePolicy p;
  std::string error;
  if (ParseAllowlist(text, "f", &p, &error)) return "";
  return error;
}

TEST(AllowlistParse, ErrorsNameFileAndLine) {
  EXPECT_EQ(ParseError("# c\n\nallow call os:system\nbogus\n"),
            "f:4: expected 'allow', 'match' or 'persistent-ids', not 'bogus'");
  EXPECT_EQ(ParseError("allow run os:system"),
            "f:1: bad uses 'run' (a comma list of reference, instantiate, call)");
  EXPECT_EQ(ParseError("allow call os.system"),
            "f:1: bad global name 'os.system' (want module:qualname)");
  EXPECT_EQ(ParseError("allow call a:b builder=nope"), "f:1: unknown builder 'nope'");
  EXPECT_EQ(ParseError("allow call a:b args=(str, wat)"),
            "f:1: unknown argument constraint 'wat'");
  EXPECT_EQ(ParseError("allow reference a:b builder=bytes"),
            "f:1: a builder= rule admits calls only ('allow call ...')");
}

TEST(AllowlistParse, PatternsNeverAdmitCallsAndNeedAnAnchor) {
  EXPECT_EQ(ParseError("match call,reference sklearn\\.x:Y"),
            "f:1: a pattern may not admit calls: name each callable exactly");
  EXPECT_EQ(ParseError("match reference .*:Y"),
            "f:1: pattern '.*:Y' must start with a literal module anchor such "
            "as 'sklearn\\.'");
  EXPECT_EQ(ParseError("match reference sklearn\\.(x"),
            "f:1: bad pattern: missing ): sklearn\\.(x");
}

TEST(AllowlistPolicy, PatternAdmitsClassesButNoDunderNorCall) {
  RulePolicy p;
  std::string error;
  ASSERT_TRUE(ParseAllowlist(
      "match reference,instantiate sklearn\\.[a-z_.]+:[A-Za-z_]+\n", "f", &p,
      &error))
      << error;
  EXPECT_NE(p.Find("sklearn.tree._classes:DecisionTreeClassifier",
                   Use::kInstantiate, {}),
            nullptr);
  EXPECT_EQ(p.Find("sklearn.tree._classes:DecisionTreeClassifier", Use::kCall,
                   {}),
            nullptr);
  EXPECT_EQ(p.Find("sklearn.utils:__builtins__", Use::kReference, {}), nullptr);
  EXPECT_EQ(p.Find("sklearn.__init__:Thing", Use::kReference, {}), nullptr);
  // Outside the anchor.
  EXPECT_EQ(p.Find("os:system", Use::kReference, {}), nullptr);
}

// A pattern with within=FILE admits exactly the names that are both listed
// and matched (the policy precomputes that set); an empty list admits
// nothing -- not everything the pattern matches.
TEST(AllowlistPolicy, WithinAdmitsListedNamesThePatternMatches) {
  std::string dir = ::testing::TempDir() + "within_test";
  ASSERT_EQ(system(("mkdir -p '" + dir + "'").c_str()), 0);
  std::ofstream(dir + "/some.names")
      << "# listed\nsklearn.a:Good\nsklearn.a:bad_lower\n";
  std::ofstream(dir + "/none.names") << "# nothing listed\n";
  const std::string rule =
      "match reference,instantiate sklearn\\.[a-z.]+:[A-Z][A-Za-z]* within=";
  RulePolicy p;
  std::string error;
  ASSERT_TRUE(ParseAllowlist(rule + "some.names\n", dir + "/f", &p, &error))
      << error;
  EXPECT_NE(p.Find("sklearn.a:Good", Use::kInstantiate, {}), nullptr);
  EXPECT_EQ(p.Find("sklearn.a:bad_lower", Use::kInstantiate, {}), nullptr);
  EXPECT_EQ(p.Find("sklearn.a:Other", Use::kInstantiate, {}), nullptr);
  EXPECT_TRUE(p.AdmitsAny("sklearn.a:Good"));
  EXPECT_FALSE(p.AdmitsAny("sklearn.a:Other"));
  RulePolicy empty;
  ASSERT_TRUE(
      ParseAllowlist(rule + "none.names\n", dir + "/f", &empty, &error))
      << error;
  EXPECT_EQ(empty.Find("sklearn.a:Good", Use::kInstantiate, {}), nullptr);
  EXPECT_FALSE(empty.AdmitsAny("sklearn.a:Other"));
}

TEST(AllowlistPolicy, ArgumentConstraints) {
  RulePolicy p;
  std::string error;
  ASSERT_TRUE(ParseAllowlist(
      "allow call _codecs:encode args=(str, 'latin1'|'latin-1')\n", "f", &p,
      &error));
  Graph g;
  Node* text = g.NewStr("abc", false, false);
  Node* latin1 = g.NewStr("latin1", false, false);
  Node* utf8 = g.NewStr("utf-8", false, false);
  Node* good[] = {text, latin1};
  Node* bad[] = {text, utf8};
  EXPECT_NE(p.Find("_codecs:encode", Use::kCall, good), nullptr);
  std::string why;
  EXPECT_EQ(p.Find("_codecs:encode", Use::kCall, bad, &why), nullptr);
  EXPECT_EQ(why, "argument 2 (a str) breaks its constraint");
  EXPECT_EQ(p.Find("_codecs:encode", Use::kCall, {text}, &why), nullptr);
  EXPECT_EQ(why, "takes 2 arguments, got 1");
}

TEST(AllowlistPolicy, EmbeddedFilesParse) {
  auto policy = BuildPolicy(false, {});
  ASSERT_TRUE(policy.ok()) << policy.status();
  std::vector<std::string_view> names = EmbeddedAllowlistNames();
  EXPECT_EQ(names.size(), 4u);
}

TEST(AllowlistPolicy, EveryShippedRuleIsExercisedByAFixture) {
  auto policy = BuildPolicy(false, {});
  ASSERT_TRUE(policy.ok());
  std::vector<std::string> files = pvtest::ModelFixtures();
  ASSERT_GT(files.size(), 600u);
  size_t loaded = 0;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string data = ss.str();
    Stream stream;
    ASSERT_TRUE(OpenStream(data, Limits{}, &stream).ok()) << file;
    MachineOptions o;
    o.policy = policy->get();
    Graph g;
    RunResult run;
    absl::Status s = LoadFirstPickle(stream.bytes, o, &g, &run);
    EXPECT_TRUE(s.ok()) << file << ": " << s;
    loaded += s.ok();
  }
  EXPECT_EQ(loaded, files.size());
  for (const auto& use : (*policy)->Usage()) {
    EXPECT_GT(use.hits, 0u) << use.origin << " (" << use.text
                            << ") admits nothing any fixture needs";
  }
}

}  // namespace
}  // namespace picklevm
