// payers[].match (bulk match): decoding, defaults, validation and description.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "config/config.h"

namespace p2p {
namespace {

class MatchEnv : public SystemEnv {
 public:
  std::optional<std::string> GetEnv(const std::string& name) const override {
    return name == "SECRET_ONE" ? std::optional<std::string>("s3cret") : std::nullopt;
  }
};

constexpr const char* kBase = R"(state:
  path: /var/lib/p/state.db
store:
  path: /var/lib/p/resources.db
source:
  path: /var/lib/p/inbox
payers:
  - id: bison
    base_url: https://gateway.example/v1/bison
    auth:
      token_url: https://auth.example/token
      client_id: client-1
      client_secret_env: SECRET_ONE
)";

Result<Options> Parse(const std::string& match_yaml) {
  return ParseOptions(std::string(kBase) + match_yaml, "cfg.yaml", MatchEnv());
}

TEST(MatchOptions, DefaultIsSingleWithBulkDefaultsReady) {
  auto o = Parse("");
  ASSERT_TRUE(o) << o.error().message;
  const MatchOptions& m = o->payers[0].match;
  EXPECT_EQ(m.mode, MatchMode::kSingle);
  EXPECT_EQ(m.bulk_path, "/Group/$bulk-member-match");
  EXPECT_EQ(m.batch_size, 100);
  EXPECT_EQ(m.batch_wait, Millis(30000));
  EXPECT_EQ(DescribeOptions(*o).find("bulk match"), std::string::npos);
}

TEST(MatchOptions, ReadsEveryKey) {
  auto o = Parse(
      "    match:\n      mode: bulk\n      bulk_path: /bulk-data/r4/Group/$bulk-member-match\n"
      "      batch_size: 5\n      batch_wait: 0s\n");
  ASSERT_TRUE(o) << o.error().message;
  const MatchOptions& m = o->payers[0].match;
  EXPECT_EQ(m.mode, MatchMode::kBulk);
  EXPECT_EQ(m.bulk_path, "/bulk-data/r4/Group/$bulk-member-match");
  EXPECT_EQ(m.batch_size, 5);
  EXPECT_EQ(m.batch_wait, Millis(0));
  EXPECT_NE(
      DescribeOptions(*o).find(
          "    bulk match: POST /bulk-data/r4/Group/$bulk-member-match in batches of up to 5"),
      std::string::npos);
}

TEST(MatchOptions, ReportsEachBadKeyWithItsLine) {
  struct Case {
    std::string yaml, error;
  } cases[] = {
      {"    match:\n      mode: batch\n",
       "cfg.yaml:15: payers[0].match.mode: must be single or bulk"},
      {"    match:\n      batch_size: 0\n",
       "cfg.yaml:15: payers[0].match.batch_size: must be 1..1000"},
      {"    match:\n      batch_size: 1001\n",
       "cfg.yaml:15: payers[0].match.batch_size: must be 1..1000"},
      {"    match:\n      batch_size: many\n",
       "cfg.yaml:15: payers[0].match.batch_size: expected an integer"},
      {"    match:\n      batch_wait: 25h\n",
       "cfg.yaml:15: payers[0].match.batch_wait: must be 0..24h"},
      {"    match:\n      bulk_path: Group/$bulk-member-match\n",
       "cfg.yaml:15: payers[0].match.bulk_path: must start with /"},
      {"    match:\n      size: 5\n", "cfg.yaml:15: payers[0].match.size: unknown key"},
  };
  for (const Case& c : cases) {
    auto o = Parse(c.yaml);
    ASSERT_FALSE(o) << c.yaml;
    EXPECT_EQ(o.error().message, c.error) << c.yaml;
  }
}

}  // namespace
}  // namespace p2p
