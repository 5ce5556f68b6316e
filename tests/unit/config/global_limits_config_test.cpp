// The top-level limits (limits.max_jobs_in_flight, max_requests, max_downloads): decoded,
// validated, described, and kept apart from a payer's own limits.
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

// A valid config with the top-level limits block on lines 9-11 (`limits` lines as given).
std::string Config(const std::string& limits) {
  return "state:\n"
         "  path: /s/state.db\n"
         "store:\n"
         "  path: /s/resources.db\n"
         "source:\n"
         "  path: /s/inbox\n"
         "status:\n"
         "  listen: \"off\"\n"
         "limits:\n" +
         limits +
         "payers:\n"
         "  - id: bison\n"
         "    base_url: https://gateway.example/v1/bison\n"
         "    auth:\n"
         "      token_url: https://auth.example/token\n"
         "      client_id: c\n"
         "      client_secret_env: SECRET_ONE\n"
         "    limits:\n"
         "      concurrency: 7\n";
}

TEST(GlobalLimitsConfig, Defaults) {
  Options o;
  EXPECT_EQ(o.limits.max_jobs_in_flight, 512);
  EXPECT_EQ(o.limits.max_requests, 64);
  EXPECT_EQ(o.limits.max_downloads, 32);
  auto r = ParseOptions(Config(""), "cfg.yaml", NoEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->limits.max_jobs_in_flight, 512);
  EXPECT_EQ(r->limits.max_requests, 64);
  EXPECT_EQ(r->limits.max_downloads, 32);
  EXPECT_NE(DescribeOptions(*r).find("limits (all payers together): 512 jobs in flight, 64 "
                                     "requests, 32 downloads\n"),
            std::string::npos);
}

TEST(GlobalLimitsConfig, ReadsTheKeysApartFromThePayersLimits) {
  auto r = ParseOptions(
      Config("  max_jobs_in_flight: 10\n  max_requests: 5\n  max_downloads: 5\n"), "cfg.yaml",
      NoEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->limits.max_jobs_in_flight, 10);
  EXPECT_EQ(r->limits.max_requests, 5);
  EXPECT_EQ(r->limits.max_downloads, 5);
  EXPECT_EQ(r->payers.at(0).limits.concurrency, 7);
  EXPECT_NE(DescribeOptions(*r).find(
                "limits (all payers together): 10 jobs in flight, 5 requests, 5 downloads\n"),
            std::string::npos);
}

TEST(GlobalLimitsConfig, ProblemsNameTheFileLineAndKey) {
  struct Case {
    std::string limits, error;
  } cases[] = {
      {"  max_jobs_in_flight: 0\n", "cfg.yaml:10: limits.max_jobs_in_flight: must be 1..10000"},
      {"  max_jobs_in_flight: 10001\n",
       "cfg.yaml:10: limits.max_jobs_in_flight: must be 1..10000"},
      {"  max_jobs_in_flight: many\n",
       "cfg.yaml:10: limits.max_jobs_in_flight: expected an integer"},
      {"  max_jobs_in_flight: 8\n  max_downloads: 0\n",
       "cfg.yaml:11: limits.max_downloads: must be 1..10000"},
      {"  max_downloads: -3\n", "cfg.yaml:10: limits.max_downloads: must be 1..10000"},
      {"  max_requests: 0\n", "cfg.yaml:10: limits.max_requests: must be 1..10000"},
      // Downloads are requests too.
      {"  max_requests: 8\n  max_downloads: 9\n",
       "cfg.yaml:11: limits.max_downloads: must not exceed limits.max_requests"},
      {"  max_downloads: 65\n",
       "cfg.yaml:10: limits.max_downloads: must not exceed limits.max_requests"},
      // The per-payer key belongs under payers[].limits.
      {"  concurrency: 4\n", "cfg.yaml:10: limits.concurrency: unknown key"},
  };
  for (const Case& c : cases) {
    auto r = ParseOptions(Config(c.limits), "cfg.yaml", NoEnv());
    ASSERT_FALSE(r.ok()) << c.limits;
    EXPECT_EQ(r.error().message, c.error);
  }
}

}  // namespace
}  // namespace p2p
