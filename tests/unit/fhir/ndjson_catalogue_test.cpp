// The NDJSON part of the bad-input catalogue (index: tests/integration/bad_input_test.cpp): a
// body goes through NdjsonSplitter and LineChecker as the pipeline's StoreSink does, and each
// line's classified reason is compared exactly; good lines around bad ones still come through.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fhir/ndjson.h"

namespace p2p::fhir {
namespace {

// "<line>:<id or reason>" per delivered line, in order, for a Patient file.
std::string Classify(std::string_view body, size_t max_line = 1024, size_t chunk = 7) {
  LineChecker checker;
  std::string out;
  auto add = [&](uint64_t n, std::string_view what) {
    if (!out.empty()) out += ' ';
    out += std::to_string(n) + ":" + std::string(what);
  };
  NdjsonSplitter splitter(
      max_line,
      [&](std::string_view line, uint64_t n) -> Result<void> {
        const CheckedLine c = checker.Check(line, "Patient");
        add(n, c.problem == LineProblem::kNone ? c.id : LineProblemName(c.problem));
        return Ok();
      },
      [&](uint64_t n) { add(n, LineProblemName(LineProblem::kTooLong)); });
  for (size_t i = 0; i < body.size(); i += chunk) {
    EXPECT_TRUE(splitter.Feed(body.substr(i, chunk)).ok());
  }
  EXPECT_TRUE(splitter.Finish().ok());
  return out;
}

constexpr char kGood[] = R"({"resourceType":"Patient","id":"a"})"
                         "\n";

TEST(NdjsonCatalogue, LinesThatAreNotObjects) {
  EXPECT_EQ(Classify(std::string(kGood) + "[1]\n\"Patient\"\n42\nnull\n{oops\n" + kGood),
            "1:a 2:not_object 3:not_object 4:not_object 5:not_object 6:not_json 7:a");
}

TEST(NdjsonCatalogue, LinesWithoutIdOrResourceType) {
  EXPECT_EQ(Classify(std::string(kGood) +
                     R"({"resourceType":"Patient"})"
                     "\n" +
                     R"({"id":"b"})"
                     "\n" +
                     R"({"resourceType":"Patient","id":7})"
                     "\n" +
                     kGood),
            "1:a 2:no_id 3:no_resource_type 4:bad_id 5:a");
}

TEST(NdjsonCatalogue, ResourceTypeOtherThanTheFiles) {
  EXPECT_EQ(Classify(R"({"resourceType":"Observation","id":"o1"})"
                     "\n" +
                     std::string(kGood)),
            "1:wrong_resource_type 2:a");
}

TEST(NdjsonCatalogue, LineOverTheLimit) {
  const std::string big =
      R"({"resourceType":"Patient","id":"b","x":")" + std::string(2000, 'x') + "\"}\n";
  EXPECT_EQ(Classify(std::string(kGood) + big + kGood, 1024), "1:a 2:too_long 3:a");
  // At the limit exactly it is still a line.
  const std::string at = R"({"resourceType":"Patient","id":"c","x":")";
  const std::string fill(1024 - at.size() - 2, 'x');
  EXPECT_EQ(Classify(at + fill + "\"}\n", 1024), "1:c");
}

TEST(NdjsonCatalogue, LinesThatAreNotUtf8) {
  EXPECT_EQ(Classify("{\"resourceType\":\"Patient\",\"id\":\"b\",\"n\":\"\xc3\x28\"}\n"
                     "{\"resourceType\":\"Patient\",\"id\":\"c\",\"n\":\"\xed\xa0\x80\"}\n" +
                     std::string(kGood)),
            "1:not_utf8 2:not_utf8 3:a");
}

TEST(NdjsonCatalogue, EmptyBody) {
  EXPECT_EQ(Classify(""), "");
  EXPECT_EQ(Classify("\n\r\n  \n"), "");
}

TEST(NdjsonCatalogue, FinalLineWithoutNewline) {
  EXPECT_EQ(Classify(std::string(kGood) + R"({"resourceType":"Patient","id":"z"})"), "1:a 2:z");
}

TEST(NdjsonCatalogue, CrlfEndings) {
  EXPECT_EQ(Classify("{\"resourceType\":\"Patient\",\"id\":\"a\"}\r\n"
                     "{\"resourceType\":\"Patient\",\"id\":\"b\"}\r\n",
                     1024, 1),
            "1:a 2:b");
}

TEST(NdjsonCatalogue, BodyCutMidLine) {
  // When the transport cannot tell (no Content-Length, connection closed), the partial last
  // line is delivered and classified; with a length the client reports kTruncated instead
  // (HttpClientTest.BodyShorterThanContentLengthIsTruncated) and nothing is committed.
  EXPECT_EQ(Classify(std::string(kGood) + R"({"resourceType":"Pati)"), "1:a 2:not_json");
}

}  // namespace
}  // namespace p2p::fhir
