#include "store/line_id.h"

#include <gtest/gtest.h>

#include "store/index_line.h"
#include "store/type_name.h"

namespace p2p::store {
namespace {

TEST(ExtractTopLevelId, FindsTheTopLevelIdAndSkipsNestedOnes) {
  EXPECT_EQ(ExtractTopLevelId(R"({"resourceType":"Patient","id":"p1"})"), "p1");
  EXPECT_EQ(ExtractTopLevelId(R"({"meta":{"id":"m"},"identifier":[{"id":"i"}],"id":"p2"})"), "p2");
  EXPECT_EQ(ExtractTopLevelId(R"( { "note" : "say \"id\":\"x\"" , "id" : "p3" } )"), "p3");
  EXPECT_EQ(ExtractTopLevelId(R"({"text":"a\\","id":"p4"})"), "p4");
}

TEST(ExtractTopLevelId, NothingWhenThereIsNoStringId) {
  EXPECT_EQ(ExtractTopLevelId(R"({"resourceType":"Patient"})"), std::nullopt);
  EXPECT_EQ(ExtractTopLevelId(R"({"contained":[{"id":"x"}]})"), std::nullopt);
  EXPECT_EQ(ExtractTopLevelId(R"({"id":5})"), std::nullopt);
  EXPECT_EQ(ExtractTopLevelId(R"(["id","x"])"), std::nullopt);
  EXPECT_EQ(ExtractTopLevelId(R"({"id":"unterminated)"), std::nullopt);
  EXPECT_EQ(ExtractTopLevelId(""), std::nullopt);
}

TEST(IndexLine, RoundTripsEscapedFields) {
  IndexEntry e{10, 20, "bison", "m 1%\n", "", 42, 3};
  std::string line = FormatIndexLine(e);
  EXPECT_EQ(line, "10 20 bison m%201%25%0A - 42 3\n");
  auto back = ParseIndexLine(std::string_view(line).substr(0, line.size() - 1));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->member_key, "m 1%\n");
  EXPECT_EQ(back->tx_time, "");
  EXPECT_EQ(back->job_id, 42);
  EXPECT_EQ(back->file_index, 3);
  EXPECT_EQ(FormatIndexLine(IndexEntry{0, 1, "-", "x", "t", 1, 0}), "0 1 %2D x t 1 0\n");
  EXPECT_EQ(ParseIndexLine("0 1 %2D x t 1 0")->payer, "-");
}

TEST(IndexLine, CarriesTheLineCountWhenKnown) {
  EXPECT_EQ(FormatIndexLine(IndexEntry{0, 30, "b", "m", "t", 1, 0, 3}), "0 30 b m t 1 0 3\n");
  auto e = ParseIndexLine("0 30 b m t 1 0 3");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->lines, 3);
  // an index line written before line counts were recorded
  EXPECT_EQ(ParseIndexLine("0 30 b m t 1 0")->lines, -1);
}

TEST(IndexLine, RejectsMalformedLines) {
  EXPECT_FALSE(ParseIndexLine("0 1 a b c 1").has_value());
  EXPECT_FALSE(ParseIndexLine("0 1 a b c 1 2 3").has_value());  // more lines than bytes
  EXPECT_FALSE(ParseIndexLine("0 9 a b c 1 2 3 4").has_value());
  EXPECT_FALSE(ParseIndexLine("0 9 a b c 1 2 -1").has_value());
  EXPECT_FALSE(ParseIndexLine("5 1 a b c 1 2").has_value());
  EXPECT_FALSE(ParseIndexLine("0 1 a%2 b c 1 2").has_value());
  EXPECT_FALSE(ParseIndexLine("x 1 a b c 1 2").has_value());
}

TEST(ResourceTypeName, AcceptsFhirTypeNamesOnly) {
  EXPECT_TRUE(IsResourceTypeName("Patient"));
  EXPECT_TRUE(IsResourceTypeName("ExplanationOfBenefit"));
  EXPECT_TRUE(IsResourceTypeName(std::string(64, 'A')));
  EXPECT_FALSE(IsResourceTypeName(std::string(65, 'A')));
  EXPECT_FALSE(IsResourceTypeName("P"));
  EXPECT_FALSE(IsResourceTypeName("patient"));
  EXPECT_FALSE(IsResourceTypeName("Patient_1"));
}

}  // namespace
}  // namespace p2p::store
