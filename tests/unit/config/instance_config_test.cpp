// instance.id: decoded, validated, defaulted to the host name by LoadOptions, described.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "support/temp_dir.h"

namespace p2p {
namespace {

// A valid config (flow style, lines 3-8); `instance` (if any) goes on lines 1-2. The secret comes
// from the environment of the test process.
std::string Config(const std::string& instance) {
  ::setenv("SECRET_ONE", "s3cret", 1);
  return instance +
         "state: {path: /s/state.db}\n"
         "store: {path: /s/resources.db}\n"
         "source: {path: /s/inbox}\n"
         "status: {listen: \"off\"}\n"
         "payers:\n"
         "  - {id: bison, base_url: \"https://gateway.example/v1/bison\", auth: {token_url: "
         "\"https://auth.example/token\", client_id: c, client_secret_env: SECRET_ONE}}\n";
}

TEST(InstanceConfig, ReadsTheIdAndDescribesIt) {
  auto r = ParseOptions(Config("instance:\n  id: ingest-a.example_1\n"), "cfg.yaml", SystemEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->instance.id, "ingest-a.example_1");
  EXPECT_NE(DescribeOptions(*r).find("\ninstance: ingest-a.example_1\n"), std::string::npos);
}

TEST(InstanceConfig, AbsentStaysEmptyUntilLoadOptions) {
  auto r = ParseOptions(Config(""), "cfg.yaml", SystemEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->instance.id, "");
  EXPECT_EQ(DescribeOptions(*r).find("instance:"), std::string::npos);
}

TEST(InstanceConfig, ProblemsNameTheFileLineAndKey) {
  const std::string shape =
      "cfg.yaml:2: instance.id: must be 1 to 64 characters of A-Z, a-z, 0-9, _, . and -, not . "
      "or ..";
  for (const std::string& id :
       std::vector<std::string>{"\"a/b\"", "\"..\"", "\".\"", "\"a b\"", std::string(65, 'x')}) {
    auto r = ParseOptions(Config("instance:\n  id: " + id + "\n"), "cfg.yaml", SystemEnv());
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_EQ(r.error().message, shape) << id;
  }
  auto unknown = ParseOptions(Config("instance:\n  name: a\n"), "cfg.yaml", SystemEnv());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "cfg.yaml:2: instance.name: unknown key");
  EXPECT_TRUE(ValidInstanceId(std::string(64, 'x')));
}

TEST(InstanceConfig, LoadOptionsDefaultsToTheHostName) {
  testing::TempDir dir;
  const std::string path = dir.File("p2p.yaml");
  std::ofstream(path) << Config("");
  auto r = LoadOptions(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(r->instance.id, host);

  std::ofstream(path) << Config("instance:\n  id: b\n");
  r = LoadOptions(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->instance.id, "b");
}

}  // namespace
}  // namespace p2p
