// StructuralScan (LineChecker's fast path) must never say yes where simdjson's DOM parser says
// no, and must read "resourceType" and "id" as the DOM does. Each test compares a kScanFirst
// LineChecker with a kDomOnly one, and checks through scanned() which lines the fast path decided
// alone, so that a scan that gave up on everything could not pass either.
#include "fhir/line_scan.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fhir/ndjson.h"

namespace p2p::fhir {
namespace {

// One line through both checkers: the same problem and id; returns whether the scan decided it.
bool SameAsDom(LineChecker& fast, LineChecker& dom, const std::string& line,
               std::string_view type = "Patient") {
  const uint64_t before = fast.scanned();
  const CheckedLine a = fast.Check(line, type);
  const std::string a_id(a.id);
  const CheckedLine d = dom.Check(line, type);
  EXPECT_EQ(LineProblemName(a.problem), LineProblemName(d.problem)) << line;
  EXPECT_EQ(a_id, d.id) << line;
  return fast.scanned() > before;
}

struct ScanCase {
  std::string line;
  bool scanned;  // the fast path decides it alone
};

TEST(StructuralScan, DecidesPlainLinesAndLeavesTheRestToTheDomParser) {
  const std::vector<ScanCase> cases = {
      // Plain valid lines: the fast path's.
      {R"({"resourceType":"Patient","id":"p1"})", true},
      {R"(  { "resourceType" : "Patient" , "id" : "p1" }  )", true},
      {R"({"id":"p1","resourceType":"Patient","a":[],"b":{},"c":[[],{}],"d":[1,-2,0.5,3e7]})",
       true},
      {R"({"resourceType":"Patient","id":"p1","t":true,"f":false,"n":null,"z":-0,"q":1.25E-3})",
       true},
      {R"({"resourceType":"Patient","id":"p1","x":{"y":[{"z":{"w":["v"]}}]}})", true},
      {R"({"resourceType":"Patient","id":"p1","text":"say \"hi\"\\ \/ \b\f\n\r\t"})", true},
      {R"({"resourceType":"Patient","id":"p1","c":{"a\"b":1,"k\\":"v"}})", true},
      {R"({"resourceType":"Patient","id":"p1","a\"b":1})", false},  // an escaped top-level key
      {R"({"resourceType":"Observation","id":"p1"})", true},  // wrong type, decided by the scan
      {R"({"resourceType":"Patient","id":"a","id":"b"})", true},
      {R"({"resourceType":7,"id":"p1"})", true},
      {R"({"resourceType":"Patient","id":{"x":1}})", true},
      {R"({"meta":{"id":"nested","resourceType":"Patient"},"id":"p1"})", true},
      {R"({})", true},
      {"{\"resourceType\":\"Patient\",\"id\":\"p1\",\"u\":\"\xc3\xa9\xe2\x82\xac\"}", true},
      {R"({"resourceType":"Patient","id":"p1","n":123456789012345678})", true},
      {R"({"resourceType":"Patient","id":"p1","n":1.12345678901234567890})", true},
      // Valid lines left to the DOM parser.
      {R"({"resourceType":"Patient","id":"p1","u":"\u00e9"})", false},
      {R"({"resourceType":"Patient","id":"p1","u":"\ud83d\ude00"})", false},
      {R"({"resourceType":"Patient","id":"p\u0031"})", false},
      {R"({"resourceType":"Pat\u0069ent","id":"p1"})", false},
      {R"({"resource\u0054ype":"Patient","id":"p1"})", false},
      {R"({"i\u0064":"p2","resourceType":"Patient","id":"p1"})", false},
      {R"({"resourceType":"Patient","id":"p1","a\tb":1})", false},
      {R"({"resourceType":"Patient","id":"p1","n":1e300})", false},
      {R"({"resourceType":"Patient","id":"p1","n":1234567890123456789})", false},
      {R"({"resourceType":"Patient","id":"p1","n":1.123456789012345678901})", false},
      {R"({"resourceType":"Patient","id":"p1","n":1e999})", false},  // DOM: not JSON
      // Invalid lines: the DOM parser gives the problem.
      {"", false},
      {"   ", false},
      {"{", false},
      {"}", false},
      {R"({"resourceType":"Patient","id":"p1"} x)", false},
      {R"({"resourceType":"Patient","id":"p1"}{})", false},
      {R"({"resourceType":"Patient","id":"p1"}})", false},
      {R"({"resourceType":"Patient","id":"p1"]})", false},
      {R"({"resourceType":"Patient","id":"p1",})", false},
      {R"({"resourceType":"Patient","id":"p1","a":[1,]})", false},
      {R"({"resourceType":"Patient","id":"p1","a":[,1]})", false},
      {R"({"resourceType":"Patient","id":"p1","a":[1:2]})", false},
      {R"({"resourceType":"Patient","id":"p1","a":{"b"}})", false},
      {R"({"resourceType":"Patient","id":"p1","a":{"b":}})", false},
      {R"({"resourceType":"Patient","id":"p1","a":{1:2}})", false},
      {R"({"resourceType":"Patient","id":"p1","a":"b":"c"})", false},
      {R"({"resourceType":"Patient","id":"p1","a" "b"})", false},
      {R"({"resourceType":"Patient","id":"p1","a":"b"x})", false},
      {R"({"resourceType":"Patient","id":"p1","a":[}])", false},
      {R"({"resourceType":"Patient","id":"p1","a":{]})", false},
      {R"({"resourceType":"Patient","id":"p1","x":tru})", false},
      {R"({"resourceType":"Patient","id":"p1","x":truex})", false},
      {R"({"resourceType":"Patient","id":"p1","x":nul})", false},
      {R"({"resourceType":"Patient","id":"p1","x":01})", false},
      {R"({"resourceType":"Patient","id":"p1","x":-})", false},
      {R"({"resourceType":"Patient","id":"p1","x":1.})", false},
      {R"({"resourceType":"Patient","id":"p1","x":.5})", false},
      {R"({"resourceType":"Patient","id":"p1","x":1e})", false},
      {R"({"resourceType":"Patient","id":"p1","x":+1})", false},
      {R"({"resourceType":"Patient","id":"p1","x":1 2})", false},
      {R"({"resourceType":"Patient","id":"p1","x":"\x"})", false},
      {R"({"resourceType":"Patient","id":"p1","x":"\u12"})", false},
      {R"({"resourceType":"Patient","id":"p1","x":"\ud800"})", false},
      {"{\"resourceType\":\"Patient\",\"id\":\"p1\",\"x\":\"\xff\"}", false},
      {"{\"resourceType\":\"Patient\",\"id\":\"p1\",\"x\":\"a\x01\"}", false},
      {"{\"resourceType\":\"Patient\",\"id\":\"p1\"}\x01", false},
      {R"({"resourceType":"Patient","id":"p1","x":"open})", false},
      {R"([{"resourceType":"Patient","id":"p1"}])", false},
      {R"("Patient")", false},
      {"42", false},
      {"null", false},
  };
  LineChecker fast;
  LineChecker dom(LineChecker::Mode::kDomOnly);
  for (const ScanCase& c : cases) {
    EXPECT_EQ(SameAsDom(fast, dom, c.line), c.scanned) << c.line;
  }
  EXPECT_EQ(dom.scanned(), 0U);
}

TEST(StructuralScan, NestingDeeperThanItsLimitGoesToTheDomParser) {
  LineChecker fast;
  LineChecker dom(LineChecker::Mode::kDomOnly);
  for (int levels : {1, 30, 61, 62, 63, 100, 1023, 1024, 1100}) {
    const std::string value = std::string(static_cast<size_t>(levels), '[') + "1" +
                              std::string(static_cast<size_t>(levels), ']');
    const std::string line = R"({"resourceType":"Patient","id":"p1","deep":)" + value + "}";
    // The root object is level 1: the scan decides up to 63 levels in all.
    EXPECT_EQ(SameAsDom(fast, dom, line), levels + 1 <= 63) << levels;
    // Unbalanced the other way: one bracket short.
    EXPECT_FALSE(SameAsDom(fast, dom, line.substr(0, line.size() - 2) + "}")) << levels;
  }
}

TEST(StructuralScan, ViewsPointIntoTheLine) {
  StructuralScan scan;
  std::string line = R"({"id":"x-1","resourceType":"Encounter","a":[{"id":"inner"}]})";
  const size_t size = line.size();
  line.append(kLinePadding, ' ');
  TopLevelFields f;
  ASSERT_TRUE(scan.Scan(line.data(), size, f));
  EXPECT_EQ(f.type_seen, 1);
  EXPECT_EQ(f.id_seen, 1);
  EXPECT_TRUE(f.type_is_string);
  EXPECT_TRUE(f.id_is_string);
  EXPECT_EQ(f.type, "Encounter");
  EXPECT_EQ(f.id, "x-1");
  EXPECT_EQ(f.id.data(), line.data() + 7);
  // Long lines grow the scan's buffers; short ones after them still work.
  std::string big = R"({"resourceType":"Patient","text":")" + std::string(300000, 'x') +
                    R"(","id":"b"})";
  const size_t big_size = big.size();
  big.append(kLinePadding, ' ');
  ASSERT_TRUE(scan.Scan(big.data(), big_size, f));
  EXPECT_EQ(f.id, "b");
  ASSERT_TRUE(scan.Scan(line.data(), size, f));
  EXPECT_EQ(f.id, "x-1");
}

// Random edits of valid lines (a byte changed, inserted or removed, mostly structural ones)
// through both checkers. The fixed seed keeps failures reproducible; the fuzz target
// (tests/fuzz/line_scan_fuzz.cpp) explores further.
TEST(StructuralScan, RandomEditsOfValidLinesAgreeWithTheDomParser) {
  const std::vector<std::string> seeds = {
      R"({"resourceType":"Patient","id":"p1","name":[{"family":"Doe","given":["J"]}],)"
      R"("active":true})",
      R"({"resourceType":"Observation","id":"o-2","valueQuantity":{"value":-12.5,"unit":"mg"},)"
      R"("component":[{"code":{"coding":[]},"valueBoolean":false}],"note":null,"n":[0,1e5,2E-3]})",
      R"({"id":"e.3","meta":{"id":"m","tag":[{}]},"text":"a\"b\\c\nd","resourceType":"Encounter"})",
  };
  const std::string alphabet = "{}[]:,\"\\ tfnrue0123456789-+.eEu\x01\xff";
  std::mt19937 rng(20261130);
  LineChecker fast;
  LineChecker dom(LineChecker::Mode::kDomOnly);
  int scanned = 0;
  int valid = 0;
  for (int round = 0; round < 30000; ++round) {
    std::string line = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !line.empty(); ++e) {
      const size_t at = rng() % line.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          line[at] = c;
          break;
        case 1:
          line.insert(line.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          line.erase(at, 1);
          break;
      }
    }
    if (SameAsDom(fast, dom, line, "")) ++scanned;
    if (dom.Check(line, "").problem == LineProblem::kNone) ++valid;
    if (::testing::Test::HasFailure()) break;
  }
  // Many edits keep a valid line, and the scan must have decided most of those itself.
  EXPECT_GT(valid, 1000);
  EXPECT_GT(scanned, valid / 2);
}

}  // namespace
}  // namespace p2p::fhir
