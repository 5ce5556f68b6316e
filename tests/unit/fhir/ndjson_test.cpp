#include "fhir/ndjson.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace p2p::fhir {
namespace {

// Records what a splitter delivers: "<line_number>:<line>" and overlong line numbers.
struct Recorder {
  std::vector<std::string> lines;
  std::vector<uint64_t> overlong;

  NdjsonSplitter Make(size_t max_line) {
    return NdjsonSplitter(
        max_line,
        [this](std::string_view line, uint64_t n) -> Result<void> {
          lines.push_back(std::to_string(n) + ":" + std::string(line));
          return Ok();
        },
        [this](uint64_t n) { overlong.push_back(n); });
  }
};

// Feeds `text` in chunks of `chunk` bytes, then finishes.
void FeedAll(NdjsonSplitter& s, std::string_view text, size_t chunk) {
  for (size_t i = 0; i < text.size(); i += chunk) {
    ASSERT_TRUE(s.Feed(text.substr(i, chunk)).ok());
  }
  ASSERT_TRUE(s.Finish().ok());
}

TEST(NdjsonSplitter, EveryChunkSizeGivesTheSameLines) {
  const std::string text =
      "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n"
      "\r\n"
      "{\"resourceType\":\"Patient\",\"id\":\"b\"}\r\n"
      "\n"
      "   \n"
      "{\"x\":1}\n"
      "{\"resourceType\":\"Patient\",\"id\":\"c\"}";
  const std::vector<std::string> want = {
      "1:{\"resourceType\":\"Patient\",\"id\":\"a\"}",
      "3:{\"resourceType\":\"Patient\",\"id\":\"b\"}",
      "6:{\"x\":1}",
      "7:{\"resourceType\":\"Patient\",\"id\":\"c\"}",
  };
  for (size_t chunk = 1; chunk <= text.size(); ++chunk) {
    Recorder rec;
    NdjsonSplitter s = rec.Make(1024);
    FeedAll(s, text, chunk);
    EXPECT_EQ(rec.lines, want) << "chunk size " << chunk;
    EXPECT_TRUE(rec.overlong.empty());
    EXPECT_EQ(s.lines(), 7u);
    EXPECT_EQ(s.bytes(), text.size());
  }
}

TEST(NdjsonSplitter, EverySplitPointOfTwoChunks) {
  const std::string text = "{\"a\":1}\r\n{\"b\":22}\n\n{\"c\":333}\n";
  const std::vector<std::string> want = {"1:{\"a\":1}", "2:{\"b\":22}", "4:{\"c\":333}"};
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Recorder rec;
    NdjsonSplitter s = rec.Make(64);
    ASSERT_TRUE(s.Feed(std::string_view(text).substr(0, cut)).ok());
    ASSERT_TRUE(s.Feed(std::string_view(text).substr(cut)).ok());
    ASSERT_TRUE(s.Finish().ok());
    EXPECT_EQ(rec.lines, want) << "cut at " << cut;
    EXPECT_EQ(s.lines(), 4u);
  }
}

TEST(NdjsonSplitter, FinalLineWithoutNewlineIsDeliveredByFinish) {
  Recorder rec;
  NdjsonSplitter s = rec.Make(64);
  ASSERT_TRUE(s.Feed("{\"a\":1}\n{\"b\":2}").ok());
  EXPECT_EQ(rec.lines, std::vector<std::string>{"1:{\"a\":1}"});
  ASSERT_TRUE(s.Finish().ok());
  EXPECT_EQ(rec.lines, (std::vector<std::string>{"1:{\"a\":1}", "2:{\"b\":2}"}));
}

TEST(NdjsonSplitter, FinalCarriageReturnWithoutNewlineIsStripped) {
  Recorder rec;
  NdjsonSplitter s = rec.Make(64);
  FeedAll(s, "{\"a\":1}\r", 3);
  EXPECT_EQ(rec.lines, std::vector<std::string>{"1:{\"a\":1}"});
}

TEST(NdjsonSplitter, EmptyBodyHasNoLines) {
  Recorder rec;
  NdjsonSplitter s = rec.Make(64);
  ASSERT_TRUE(s.Feed("").ok());
  ASSERT_TRUE(s.Finish().ok());
  EXPECT_TRUE(rec.lines.empty());
  EXPECT_EQ(s.lines(), 0u);
}

TEST(NdjsonSplitter, OverlongLinesAreReportedOnceAndSkippedAtEveryChunkSize) {
  // max 10: "0123456789" fits exactly (also with "\r"), 11 bytes do not.
  const std::string text =
      "0123456789\n"
      "0123456789A\n"
      "0123456789\r\n"
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"
      "ok\n"
      "0123456789ABCDEFGHIJ";
  for (size_t chunk = 1; chunk <= text.size(); ++chunk) {
    Recorder rec;
    NdjsonSplitter s = rec.Make(10);
    FeedAll(s, text, chunk);
    EXPECT_EQ(rec.lines, (std::vector<std::string>{"1:0123456789", "3:0123456789", "5:ok"}))
        << "chunk size " << chunk;
    EXPECT_EQ(rec.overlong, (std::vector<uint64_t>{2, 4, 6})) << "chunk size " << chunk;
    EXPECT_EQ(s.lines(), 6u);
  }
}

TEST(NdjsonSplitter, OverlongLineIsNotBufferedAcrossChunks) {
  Recorder rec;
  NdjsonSplitter s = rec.Make(8);
  const std::string big(1 << 20, 'x');
  ASSERT_TRUE(s.Feed("{").ok());
  ASSERT_TRUE(s.Feed(big).ok());  // reported here, as soon as it is known to be too long
  EXPECT_EQ(rec.overlong, std::vector<uint64_t>{1});
  ASSERT_TRUE(s.Feed(big).ok());
  ASSERT_TRUE(s.Feed("}\n{\"a\":1}\n").ok());
  ASSERT_TRUE(s.Finish().ok());
  EXPECT_EQ(rec.overlong, std::vector<uint64_t>{1});
  EXPECT_EQ(rec.lines, std::vector<std::string>{"2:{\"a\":1}"});
}

TEST(NdjsonSplitter, LineCallbackErrorStopsFeed) {
  int calls = 0;
  NdjsonSplitter s(
      64,
      [&](std::string_view, uint64_t n) -> Result<void> {
        ++calls;
        if (n == 2) return MakeError(ErrorKind::kDiskFull, "store: disk full");
        return Ok();
      },
      nullptr);
  Result<void> r = s.Feed("{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kDiskFull);
  EXPECT_EQ(r.error().message, "store: disk full");
  EXPECT_EQ(calls, 2);
}

TEST(NdjsonSplitter, FinishReturnsTheLineCallbackError) {
  NdjsonSplitter s(
      64, [](std::string_view, uint64_t) -> Result<void> { return MakeError(ErrorKind::kIo, "x"); },
      nullptr);
  ASSERT_TRUE(s.Feed("{\"a\":1}").ok());
  Result<void> r = s.Finish();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "x");
}

TEST(NdjsonSplitter, WholeLinesInsideAChunkAreNotCopied) {
  const std::string chunk = "{\"a\":1}\n{\"b\":2}\n";
  std::vector<const char*> starts;
  NdjsonSplitter s(
      64,
      [&](std::string_view line, uint64_t) -> Result<void> {
        starts.push_back(line.data());
        return Ok();
      },
      nullptr);
  ASSERT_TRUE(s.Feed(chunk).ok());
  ASSERT_EQ(starts.size(), 2u);
  EXPECT_EQ(starts[0], chunk.data());
  EXPECT_EQ(starts[1], chunk.data() + 8);
}

// The hot path checks lines in place (LineChecker::CheckPadded): a line inside a chunk reads the
// chunk buffer's slack after it, a line that spans chunks the kLinePadding bytes the splitter puts
// after its copy. Each chunk here is its own heap block of exactly size + kLinePadding bytes whose
// slack holds JSON-looking garbage (its content must not matter); under ASan a read past either
// kind of padding is a heap overflow, and without it the splitter's padding must read as zeros.
TEST(NdjsonSplitter, EveryLineIsFollowedByPaddingSoItIsCheckedInPlace) {
  std::string text;
  for (int i = 0; i < 40; ++i) {
    text += R"({"resourceType":"Patient","id":"p)" + std::to_string(i) + R"(","name":[{"text":")" +
            std::string(static_cast<size_t>(i * 7 % 90), 'x') + "\"}]}\n";
  }
  text += R"({"resourceType":"Patient","id":"bad id"})" "\n" R"({"resourceType":"Patient")";
  for (size_t chunk : {1u, 7u, 64u, 100u, 333u, 4096u}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    LineChecker in_place;
    LineChecker copying;
    std::vector<std::unique_ptr<char[]>> blocks;  // alive until the end: lines point into them
    size_t lines = 0;
    size_t padded_copies = 0;
    NdjsonSplitter s(
        1024,
        [&](std::string_view line, uint64_t) -> Result<void> {
          ++lines;
          const bool in_a_block = std::any_of(blocks.begin(), blocks.end(), [&](const auto& b) {
            return line.data() >= b.get() && line.data() < b.get() + chunk;
          });
          if (!in_a_block) {
            ++padded_copies;
            const std::string_view pad(line.data() + line.size(), kLinePadding);
            EXPECT_EQ(pad, std::string(kLinePadding, '\0'));
          }
          const CheckedLine a = in_place.CheckPadded(line, "Patient");
          const std::string a_id(a.id);
          const CheckedLine b = copying.Check(line, "Patient");
          EXPECT_EQ(a.problem, b.problem) << line;
          EXPECT_EQ(a_id, std::string(b.id)) << line;
          return Ok();
        },
        nullptr);
    for (size_t i = 0; i < text.size(); i += chunk) {
      const size_t n = std::min(chunk, text.size() - i);
      auto block = std::make_unique<char[]>(n + kLinePadding);
      std::memcpy(block.get(), text.data() + i, n);
      for (size_t k = 0; k < kLinePadding; ++k) block[n + k] = "\"{[:,x"[k % 6];
      blocks.push_back(std::move(block));
      ASSERT_TRUE(s.Feed(std::string_view(blocks.back().get(), n)).ok());
    }
    ASSERT_TRUE(s.Finish().ok());
    EXPECT_EQ(lines, 42u);
    if (chunk < 100) {
      EXPECT_GT(padded_copies, 0u);
    }
  }
}

// --- LineChecker ---

struct LineCase {
  std::string line;
  LineProblem problem;
  std::string id;
};

TEST(LineChecker, TableOfLines) {
  const std::vector<LineCase> cases = {
      {R"({"resourceType":"Patient","id":"p1"})", LineProblem::kNone, "p1"},
      {R"({"id":"A-b.9","name":[{"family":"x"}],"resourceType":"Patient"})", LineProblem::kNone,
       "A-b.9"},
      {R"(  {"meta":{"id":"nested"},"resourceType":"Patient","id":"z"}  )", LineProblem::kNone,
       "z"},
      {std::string(R"({"resourceType":"Patient","id":")") + std::string(64, 'a') + "\"}",
       LineProblem::kNone, std::string(64, 'a')},
      {"", LineProblem::kNotJson, ""},
      {"{", LineProblem::kNotJson, ""},
      {R"({"resourceType":"Patient","id":"p1"} x)", LineProblem::kNotJson, ""},
      {R"({"resourceType":"Patient","id":"p1"}{})", LineProblem::kNotJson, ""},
      {R"({"resourceType":"Patient","id":"p1","x":tru})", LineProblem::kNotJson, ""},
      {R"({"resourceType":"Patient","id":"p1","x":01})", LineProblem::kNotJson, ""},
      {"{\"resourceType\":\"Patient\",\"id\":\"p1\",\"x\":\"\xff\"}", LineProblem::kNotUtf8, ""},
      {R"([{"resourceType":"Patient","id":"p1"}])", LineProblem::kNotObject, ""},
      {R"("Patient")", LineProblem::kNotObject, ""},
      {"42", LineProblem::kNotObject, ""},
      {"null", LineProblem::kNotObject, ""},
      {R"({"id":"p1"})", LineProblem::kNoResourceType, ""},
      {R"({"resourceType":7,"id":"p1"})", LineProblem::kNoResourceType, ""},
      {R"({"meta":{"resourceType":"Patient"},"id":"p1"})", LineProblem::kNoResourceType, ""},
      {R"({"resourceType":"Observation","id":"p1"})", LineProblem::kWrongResourceType, ""},
      {R"({"resourceType":"patient","id":"p1"})", LineProblem::kWrongResourceType, ""},
      {R"({"resourceType":"Patient","resourceType":"Patient","id":"p1"})",
       LineProblem::kWrongResourceType, ""},
      {R"({"resourceType":"Patient"})", LineProblem::kNoId, ""},
      {R"({"resourceType":"Patient","id":""})", LineProblem::kBadId, ""},
      {R"({"resourceType":"Patient","id":"a b"})", LineProblem::kBadId, ""},
      {R"({"resourceType":"Patient","id":"a/b"})", LineProblem::kBadId, ""},
      {R"({"resourceType":"Patient","id":12})", LineProblem::kBadId, ""},
      {std::string(R"({"resourceType":"Patient","id":")") + std::string(65, 'a') + "\"}",
       LineProblem::kBadId, ""},
      {R"({"resourceType":"Patient","id":"a","id":"b"})", LineProblem::kBadId, ""},
  };
  LineChecker checker;
  for (const LineCase& c : cases) {
    const CheckedLine got = checker.Check(c.line, "Patient");
    EXPECT_EQ(LineProblemName(got.problem), LineProblemName(c.problem)) << c.line;
    EXPECT_EQ(got.id, c.id) << c.line;
  }
}

TEST(LineChecker, EmptyExpectedTypeAcceptsAnyTypeName) {
  LineChecker checker;
  EXPECT_EQ(checker.Check(R"({"resourceType":"OperationOutcome","id":"e1"})", "").problem,
            LineProblem::kNone);
  EXPECT_EQ(checker.Check(R"({"resourceType":"x","id":"e1"})", "").problem,
            LineProblem::kWrongResourceType);
}

TEST(LineChecker, IdStaysValidAfterTheInputIsGone) {
  LineChecker checker;
  std::string line = R"({"resourceType":"Patient","id":"keep-me"})";
  const CheckedLine got = checker.Check(line, "Patient");
  line.assign(line.size(), 'x');
  EXPECT_EQ(got.id, "keep-me");
}

TEST(LineChecker, LongLinesAfterShortOnes) {
  LineChecker checker;
  EXPECT_EQ(checker.Check(R"({"resourceType":"Patient","id":"a"})", "Patient").id, "a");
  std::string big =
      R"({"resourceType":"Patient","text":")" + std::string(100000, 'x') + R"(","id":"b"})";
  EXPECT_EQ(checker.Check(big, "Patient").id, "b");
  EXPECT_EQ(checker.Check(R"({"resourceType":"Patient","id":"c"})", "Patient").id, "c");
}

TEST(LineProblemName, StableNames) {
  EXPECT_EQ(LineProblemName(LineProblem::kNone), "none");
  EXPECT_EQ(LineProblemName(LineProblem::kNotJson), "not_json");
  EXPECT_EQ(LineProblemName(LineProblem::kNotObject), "not_object");
  EXPECT_EQ(LineProblemName(LineProblem::kNoResourceType), "no_resource_type");
  EXPECT_EQ(LineProblemName(LineProblem::kWrongResourceType), "wrong_resource_type");
  EXPECT_EQ(LineProblemName(LineProblem::kNoId), "no_id");
  EXPECT_EQ(LineProblemName(LineProblem::kBadId), "bad_id");
  EXPECT_EQ(LineProblemName(LineProblem::kTooLong), "too_long");
  EXPECT_EQ(LineProblemName(LineProblem::kNotUtf8), "not_utf8");
}

TEST(IsFhirId, Rules) {
  EXPECT_TRUE(IsFhirId("a"));
  EXPECT_TRUE(IsFhirId("cmk1cuald0005l701sdo7gs8c"));
  EXPECT_TRUE(IsFhirId("44bb133a-2033-4ba1-a29d-f50abb99e538"));
  EXPECT_TRUE(IsFhirId(std::string(64, '.')));
  EXPECT_FALSE(IsFhirId(""));
  EXPECT_FALSE(IsFhirId(std::string(65, 'a')));
  EXPECT_FALSE(IsFhirId("a_b"));
  EXPECT_FALSE(IsFhirId("a/b"));
  EXPECT_FALSE(IsFhirId("é"));
}

TEST(IsFhirTypeName, Rules) {
  EXPECT_TRUE(IsFhirTypeName("Patient"));
  EXPECT_TRUE(IsFhirTypeName("ExplanationOfBenefit"));
  EXPECT_TRUE(IsFhirTypeName("Ab"));
  EXPECT_FALSE(IsFhirTypeName("A"));
  EXPECT_FALSE(IsFhirTypeName("patient"));
  EXPECT_FALSE(IsFhirTypeName("Patient1"));
  EXPECT_FALSE(IsFhirTypeName("Pa tient"));
  EXPECT_FALSE(IsFhirTypeName(std::string(65, 'A')));
  EXPECT_FALSE(IsFhirTypeName("Patient\"; DROP"));
}

}  // namespace
}  // namespace p2p::fhir
