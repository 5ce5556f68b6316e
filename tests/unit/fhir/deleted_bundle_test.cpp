// deleted[] file lines: Bundles of DELETE entries -> (type, id) references.
#include "fhir/deleted_bundle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace p2p::fhir {
namespace {

std::string Entry(std::string_view method, std::string_view url) {
  return R"({"fullUrl":"urn:x","request":{"method":")" + std::string(method) + R"(","url":")" +
         std::string(url) + R"("}})";
}

std::string Bundle(const std::vector<std::string>& entries) {
  std::string out = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
  for (size_t i = 0; i < entries.size(); ++i) out += (i ? "," : "") + entries[i];
  return out + "]}";
}

std::vector<std::string> Read(std::string_view line, std::string* error = nullptr) {
  DeletedBundleReader reader(3);
  std::vector<DeletedRef> refs;
  auto r = reader.Read(line, refs);
  if (!r && error) *error = r.error().message;
  std::vector<std::string> out;
  for (const auto& ref : refs) out.push_back(ref.type + "/" + ref.id);
  return out;
}

TEST(DeletedBundle, ReadsTheTypeAndIdOfEveryDeleteEntry) {
  EXPECT_EQ(Read(Bundle({Entry("DELETE", "Observation/o-1"), Entry("DELETE", "Condition/c.2")})),
            (std::vector<std::string>{"Observation/o-1", "Condition/c.2"}));
}

TEST(DeletedBundle, AcceptsAnAbsoluteUrlAndAHistorySuffix) {
  EXPECT_EQ(Read(Bundle({Entry("DELETE", "https://payer.example/fhir/r4/Encounter/e1"),
                         Entry("DELETE", "Patient/p1/_history/3")})),
            (std::vector<std::string>{"Encounter/e1", "Patient/p1"}));
}

TEST(DeletedBundle, ABundleWithoutEntriesDeletesNothing) {
  EXPECT_EQ(Read(R"({"resourceType":"Bundle","type":"transaction"})"), std::vector<std::string>{});
  EXPECT_EQ(Read(Bundle({})), std::vector<std::string>{});
}

TEST(DeletedBundle, ErrorsNameTheEntryAndNeverQuoteTheLine) {
  struct Case {
    std::string line, error;
  } cases[] = {
      {"{not json", "not valid JSON"},
      {R"({"resourceType":"Patient","id":"Jay-Young"})", "not a Bundle"},
      {R"({"resourceType":"Bundle","entry":{}})", "entry must be an array"},
      {Bundle({Entry("DELETE", "Observation/o1"), R"({"resource":{}})"}), "entry 1: no request"},
      {Bundle({Entry("GET", "Observation/o1")}), "entry 0: request.method is not DELETE"},
      {Bundle({Entry("delete", "Observation/o1")}), "entry 0: request.method is not DELETE"},
      {Bundle({Entry("DELETE", "Observation")}), "entry 0: request.url is not Type/id"},
      {Bundle({Entry("DELETE", "observation/o1")}), "entry 0: request.url is not Type/id"},
      {Bundle({Entry("DELETE", "Observation/Jay Young")}), "entry 0: request.url is not Type/id"},
      {Bundle({Entry("DELETE", "base/Observation/o1")}), "entry 0: request.url is not Type/id"},
      {Bundle({Entry("DELETE", "A/a"), Entry("DELETE", "A/b"), Entry("DELETE", "A/c"),
               Entry("DELETE", "A/d")}),
       "more than 3 entries"},
  };
  for (const Case& c : cases) {
    std::string error;
    EXPECT_EQ(Read(c.line, &error), std::vector<std::string>{}) << c.line;
    EXPECT_EQ(error, c.error) << c.line;
  }
}

TEST(DeletedBundle, ParseDeleteUrlRejectsOtherShapes) {
  DeletedRef ref;
  EXPECT_TRUE(ParseDeleteUrl("Observation/o1?x=1", &ref));
  EXPECT_EQ(ref.type + "/" + ref.id, "Observation/o1");
  EXPECT_FALSE(ParseDeleteUrl("", &ref));
  EXPECT_FALSE(ParseDeleteUrl("/o1", &ref));
  EXPECT_FALSE(ParseDeleteUrl(std::string(3000, 'a'), &ref));
}

}  // namespace
}  // namespace p2p::fhir
