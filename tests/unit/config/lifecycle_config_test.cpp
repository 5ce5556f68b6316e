// refresh.interval and consent.on_revocation: decoded, validated, described.
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace p2p {
namespace {

class NoEnv : public SystemEnv {
 public:
  std::optional<std::string> GetEnv(const std::string& name) const override {
    if (name == "SECRET_ONE") return std::string("s3cret");
    return std::nullopt;
  }
};

// A valid config with the lifecycle keys on lines 10-13.
std::string Config(const std::string& interval, const std::string& action) {
  return "state:\n"
         "  path: /s/state.db\n"
         "store:\n"
         "  path: /s/resources.db\n"
         "source:\n"
         "  path: /s/inbox\n"
         "status:\n"
         "  listen: \"off\"\n"
         "# lifecycle\n"
         "refresh:\n"
         "  interval: " + interval + "\n"
         "consent:\n"
         "  on_revocation: " + action + "\n"
         "payers:\n"
         "  - id: bison\n"
         "    base_url: https://gateway.example/v1/bison\n"
         "    auth:\n"
         "      token_url: https://auth.example/token\n"
         "      client_id: c\n"
         "      client_secret_env: SECRET_ONE\n";
}

TEST(LifecycleConfig, DefaultsAreNinetyDaysAndKeep) {
  Options o;
  EXPECT_EQ(o.refresh.interval, Millis(90LL * 24 * 3600 * 1000));
  EXPECT_EQ(o.consent.on_revocation, RevocationAction::kKeep);
}

TEST(LifecycleConfig, ReadsIntervalAndAction) {
  auto r = ParseOptions(Config("250ms", "purge"), "cfg.yaml", NoEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->refresh.interval, Millis(250));
  EXPECT_EQ(r->consent.on_revocation, RevocationAction::kPurge);
  EXPECT_NE(DescribeOptions(*r).find(
                "lifecycle: concurrent coverage refreshed every 250ms; on revocation purge\n"),
            std::string::npos);
}

TEST(LifecycleConfig, DescribesNothingForTheDefaults) {
  auto r = ParseOptions(Config("90d", "keep"), "cfg.yaml", NoEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(DescribeOptions(*r).find("lifecycle:"), std::string::npos);
}

TEST(LifecycleConfig, ProblemsNameTheFileLineAndKey) {
  struct Case {
    std::string interval, action, error;
  } cases[] = {
      {"0ms", "keep", "cfg.yaml:11: refresh.interval: must be 1ms..366d"},
      {"400d", "keep", "cfg.yaml:11: refresh.interval: must be 1ms..366d"},
      {"soon", "keep",
       "cfg.yaml:11: refresh.interval: expected a duration such as 500ms, 10s, 5m, 24h or 1d"},
      {"1d", "delete", "cfg.yaml:13: consent.on_revocation: must be keep or purge"},
  };
  for (const Case& c : cases) {
    auto r = ParseOptions(Config(c.interval, c.action), "cfg.yaml", NoEnv());
    ASSERT_FALSE(r.ok()) << c.interval << " " << c.action;
    EXPECT_EQ(r.error().message, c.error);
  }
}

}  // namespace
}  // namespace p2p
