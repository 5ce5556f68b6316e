#include "server_options.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace p2p::sandbox {
namespace {

std::optional<CommandLine> Parse(std::vector<std::string> args, std::string* error) {
  return ParseCommandLine(args, error);
}

std::string ErrorOf(std::vector<std::string> args) {
  std::string error;
  EXPECT_FALSE(ParseCommandLine(args, &error));
  return error;
}

TEST(ServerOptions, DefaultsServeTheSeedSandbox) {
  std::string error;
  auto cl = Parse({}, &error);
  ASSERT_TRUE(cl) << error;
  EXPECT_EQ(cl->command, CommandLine::Command::kServe);
  EXPECT_EQ(cl->serve.host, "127.0.0.1");
  EXPECT_EQ(cl->serve.port, 0);
  EXPECT_EQ(cl->serve.synth.members, 50u);
  EXPECT_EQ(cl->serve.flavor, Flavor::k1up);
  EXPECT_EQ(cl->serve.job_delay, std::chrono::milliseconds(1000));
  ASSERT_EQ(cl->serve.clients.size(), 1u);
  EXPECT_EQ(cl->serve.clients[0].first, "sandbox-client");
  EXPECT_EQ(cl->serve.clients[0].second, "sandbox-secret");
  EXPECT_EQ(cl->serve.tenants, std::vector<std::string>{"bison"});
}

TEST(ServerOptions, ParsesEveryServeFlag) {
  p2p::testing::TempDir dir;
  std::ofstream(dir.File("clients")) << "# comment\nfile-client:s3cret\n\n";
  std::string error;
  auto cl = Parse({"serve", "--listen", "[::1]:8080", "--members=7", "--seed", "42", "--flavor",
                   "bulk-v2", "--faults", "file:cut@every2", "--tls-cert", "c.pem", "--tls-key",
                   "k.pem", "--public-base", "https://files.example/", "--client", "a:b",
                   "--clients", dir.File("clients"), "--tenant", "otter", "--job-delay", "50ms",
                   "--resource-scale", "3", "--token-ttl", "60", "--throttle", "1000000"},
                  &error);
  ASSERT_TRUE(cl) << error;
  const ServerOptions& s = cl->serve;
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, 8080);
  EXPECT_EQ(s.synth.members, 7u);
  EXPECT_EQ(s.synth.seed, 42u);
  EXPECT_EQ(s.synth.resource_scale, 3u);
  EXPECT_EQ(s.flavor, Flavor::kBulkV2);
  EXPECT_EQ(FormatFaultSpec(s.faults), "file:cut@every2");
  EXPECT_EQ(s.public_base, "https://files.example");
  ASSERT_EQ(s.clients.size(), 2u);
  EXPECT_EQ(s.clients[1].first, "file-client");
  EXPECT_EQ(s.tenants, (std::vector<std::string>{"bison", "otter"}));
  EXPECT_EQ(s.job_delay, std::chrono::milliseconds(50));
  EXPECT_EQ(s.token_ttl_seconds, 60);
  EXPECT_EQ(s.throttle_bytes_per_second, 1000000u);
}

TEST(ServerOptions, ParsesRoster) {
  std::string error;
  auto cl = Parse({"roster", "--members", "5", "--seed", "3", "--out", "/tmp/x"}, &error);
  ASSERT_TRUE(cl) << error;
  EXPECT_EQ(cl->command, CommandLine::Command::kRoster);
  EXPECT_EQ(cl->roster.synth.members, 5u);
  EXPECT_EQ(cl->roster.synth.seed, 3u);
  EXPECT_EQ(cl->roster.out_dir, "/tmp/x");
  EXPECT_EQ(cl->roster.payer, "bison");
}

TEST(ServerOptions, RejectsBadFlagsWithOneLine) {
  EXPECT_EQ(ErrorOf({"--listen", "nowhere"}), "--listen: expected HOST:PORT");
  EXPECT_EQ(ErrorOf({"--members", "0"}), "--members: expected a member count 1..100000000");
  EXPECT_EQ(ErrorOf({"--flavor", "2up"}), "--flavor: expected 1up or bulk-v2");
  EXPECT_EQ(ErrorOf({"--faults", "file:nope"}),
            "--faults: fault rule 1 \"file:nope\": unknown kind \"nope\" (expected "
            "500|503|429|404|410|reset|cut|badjson|fail|delay=DUR|expire=DUR|block=N/WINDOW:DUR)");
  EXPECT_EQ(ErrorOf({"--job-delay", "soon"}), "--job-delay: expected a duration such as 50ms or 1s");
  EXPECT_EQ(ErrorOf({"--client", "nocolon"}), "--client: expected ID:SECRET");
  EXPECT_EQ(ErrorOf({"--tls-cert", "c.pem"}), "--tls-cert and --tls-key go together");
  EXPECT_EQ(ErrorOf({"--bogus", "1"}), "unknown flag --bogus");
  EXPECT_EQ(ErrorOf({"--seed"}), "--seed: missing value");
  EXPECT_EQ(ErrorOf({"roster", "--members", "3"}), "roster: --out DIR is required");
  EXPECT_EQ(ErrorOf({"roster", "--listen", "1:2", "--out", "x"}), "roster: unknown flag --listen");
  EXPECT_EQ(ErrorOf({"--public-base", "ftp://x"}), "--public-base: expected an http:// or https:// URL");
  EXPECT_EQ(ErrorOf({"--hrex", "1.0"}), "--hrex: expected lenient or 1.1");
}

TEST(ServerOptions, HrexIsLenientUnlessAsked) {
  std::string error;
  auto lenient = Parse({}, &error);
  ASSERT_TRUE(lenient) << error;
  EXPECT_EQ(lenient->serve.hrex, HrexMode::kLenient);
  auto strict = Parse({"--hrex", "1.1"}, &error);
  ASSERT_TRUE(strict) << error;
  EXPECT_EQ(strict->serve.hrex, HrexMode::kStrict11);
  EXPECT_EQ(Parse({"--hrex=lenient"}, &error)->serve.hrex, HrexMode::kLenient);
}

}  // namespace
}  // namespace p2p::sandbox
