// p2p-sandbox's changing records and deleted[] files (lifecycle_data.h).
#include "lifecycle_data.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace p2p::sandbox {
namespace {

std::vector<std::string> LinesOf(const std::string& text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

TEST(LifecycleData, WithoutFlagsNothingChangesAndNoDeletedFile) {
  Synth synth(SynthOptions{1, 3, 1});
  LifecycleData d(synth, LifecycleOptions{});
  EXPECT_EQ(d.OnExport(0, 1000), 0u);
  EXPECT_EQ(d.OnExport(0, 2000), 1u);
  EXPECT_EQ(d.ExtraLines(0, "Observation", 1, std::nullopt), "");
  EXPECT_EQ(d.ExtraCount(0, "Observation", 1, std::nullopt), 0u);
  EXPECT_EQ(d.DeletedFile(0), "");
}

TEST(LifecycleData, EachLaterExportAddsKNewResourcesAndReversionsK) {
  Synth synth(SynthOptions{1, 3, 1});
  const uint64_t obs = synth.ResourceCount(0, "Observation");
  ASSERT_GE(obs, 2u);
  LifecycleData d(synth, LifecycleOptions{2, 0});
  EXPECT_EQ(d.OnExport(0, 10'000), 0u);
  EXPECT_EQ(d.ExtraCount(0, "Observation", 0, std::nullopt), 0u);  // the first export: as is
  EXPECT_EQ(d.OnExport(0, 20'000), 1u);
  // A refresh since the first export (10 s) gets generation 1 (20 s).
  const std::string lines = d.ExtraLines(0, "Observation", 1, 10);
  const auto l = LinesOf(lines);
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(d.ExtraCount(0, "Observation", 1, 10), 4u);
  EXPECT_NE(l[0].find(R"("id":"lc0g1n0")"), std::string::npos) << l[0];
  EXPECT_NE(l[1].find(R"("id":"lc0g1n1")"), std::string::npos) << l[1];
  EXPECT_NE(l[0].find(R"("lastUpdated":"1970-01-01T00:00:20)"), std::string::npos) << l[0];
  EXPECT_NE(l[2].find("\"id\":\"" + synth.ResourceId(0, "Observation", 0) + "\""),
            std::string::npos);
  EXPECT_EQ(d.NewIds(0, 1, 10), (std::vector<std::string>{"lc0g1n0", "lc0g1n1"}));
  // Since after generation 1: nothing new.
  EXPECT_EQ(d.ExtraCount(0, "Observation", 1, 21), 0u);
  // Other types never change; other members have their own count.
  EXPECT_EQ(d.ExtraCount(0, "Condition", 1, std::nullopt), 0u);
  EXPECT_EQ(d.OnExport(1, 30'000), 0u);
}

TEST(LifecycleData, TheDeletedFileIsOneBundleOfDeleteEntries) {
  Synth synth(SynthOptions{1, 3, 1});
  ASSERT_GE(synth.ResourceCount(0, "Observation"), 2u);
  LifecycleData d(synth, LifecycleOptions{0, 2});
  const std::string a = synth.ResourceId(0, "Observation", 0);
  const std::string b = synth.ResourceId(0, "Observation", 1);
  EXPECT_EQ(d.DeletedFile(0),
            R"({"resourceType":"Bundle","type":"transaction","entry":[)"
            R"({"request":{"method":"DELETE","url":"Observation/)" + a + R"("}},)"
            R"({"request":{"method":"DELETE","url":"Observation/)" + b + R"("}}]})" "\n");
  EXPECT_EQ(d.DeletedRefs(0), (std::vector<std::string>{"Observation/" + a, "Observation/" + b}));
}

}  // namespace
}  // namespace p2p::sandbox
