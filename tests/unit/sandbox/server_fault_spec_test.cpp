#include "fault_spec.h"

#include <gtest/gtest.h>

namespace p2p::sandbox {
namespace {

FaultSpec Parse(std::string_view text) {
  std::string error;
  auto spec = ParseFaultSpec(text, &error);
  EXPECT_TRUE(spec) << error;
  return spec.value_or(FaultSpec{});
}

std::string ErrorOf(std::string_view text) {
  std::string error;
  EXPECT_FALSE(ParseFaultSpec(text, &error));
  return error;
}

TEST(FaultSpec, EmptyAndNoneMeanNoFaults) {
  EXPECT_TRUE(Parse("").rules.empty());
  EXPECT_TRUE(Parse("none").rules.empty());
  EXPECT_EQ(FormatFaultSpec(FaultSpec{}), "none");
}

TEST(FaultSpec, ParsesEveryKindAndTrigger) {
  FaultSpec spec = Parse(
      "token:503@0.1,match:429@every5:retry-after=2,export:reset@0.05,job:fail@0.1,"
      "file:cut@0.05,file:410@0.02,file:delay=200ms@0.1,job:badjson@0.05,token:expire=30s,"
      "any:500@every7,file:404,match:429:retry-after=date,token:503:retry-after=3");
  ASSERT_EQ(spec.rules.size(), 13u);
  EXPECT_EQ(spec.rules[0].endpoint, Endpoint::kToken);
  EXPECT_EQ(spec.rules[0].kind, FaultKind::k503);
  EXPECT_DOUBLE_EQ(spec.rules[0].rate, 0.1);
  EXPECT_EQ(spec.rules[1].every, 5u);
  EXPECT_EQ(spec.rules[1].retry_after_seconds, 2);
  EXPECT_EQ(spec.rules[6].kind, FaultKind::kDelay);
  EXPECT_EQ(spec.rules[6].duration, std::chrono::milliseconds(200));
  EXPECT_EQ(spec.rules[8].kind, FaultKind::kExpire);
  EXPECT_EQ(spec.rules[8].duration, std::chrono::seconds(30));
  EXPECT_EQ(spec.rules[9].endpoint, Endpoint::kAny);
  EXPECT_DOUBLE_EQ(spec.rules[10].rate, 1.0);
  EXPECT_EQ(spec.rules[11].retry_after_form, RetryAfterForm::kDate);
  EXPECT_TRUE(spec.rules[12].has_retry_after);
}

TEST(FaultSpec, FormatRoundTrips) {
  std::string text =
      "token:503@0.1,match:429@every5:retry-after=2,file:delay=200ms@0.1,token:expire=30s,"
      "match:429:retry-after=date,file:cut";
  EXPECT_EQ(FormatFaultSpec(Parse(text)), text);
  EXPECT_EQ(FormatFaultSpec(Parse(" token:500 , file:410@every2 ")), "token:500,file:410@every2");
}

TEST(FaultSpec, RejectsBadRulesWithTheirPosition) {
  EXPECT_EQ(ErrorOf("token:500,match:42x"),
            "fault rule 2 \"match:42x\": unknown kind \"42x\" (expected "
            "500|503|429|404|410|reset|cut|badjson|fail|delay=DUR|expire=DUR|block=N/WINDOW:DUR)");
  EXPECT_EQ(ErrorOf("api:500"),
            "fault rule 1 \"api:500\": unknown endpoint \"api\" (expected "
            "token|match|export|job|file|any)");
  EXPECT_EQ(ErrorOf("token:500@1.5"),
            "fault rule 1 \"token:500@1.5\": bad trigger \"1.5\" (expected a rate in 0..1 or "
            "everyN)");
  EXPECT_EQ(ErrorOf("token:500@every0"),
            "fault rule 1 \"token:500@every0\": bad trigger \"every0\" (expected everyN with N >= 1)");
  EXPECT_EQ(ErrorOf("file:delay"),
            "fault rule 1 \"file:delay\": delay needs a duration, e.g. delay=200ms");
  EXPECT_EQ(ErrorOf("file:expire=3s"), "fault rule 1 \"file:expire=3s\": expire applies to token only");
  EXPECT_EQ(ErrorOf("file:fail"), "fault rule 1 \"file:fail\": fail applies to export or job only");
  EXPECT_EQ(ErrorOf("file:500:retry-after=2"),
            "fault rule 1 \"file:500:retry-after=2\": retry-after applies to 429, 503 and block "
            "only");
  EXPECT_EQ(ErrorOf("file:429:color=red"),
            "fault rule 1 \"file:429:color=red\": unknown option \"color=red\"");
  EXPECT_EQ(ErrorOf("token:500,"), "fault rule 2 \"\": empty rule");
  EXPECT_EQ(ErrorOf("token"), "fault rule 1 \"token\": expected ENDPOINT:KIND");
}

TEST(FaultSpec, BlockRulesParseAndRoundTrip) {
  FaultSpec spec = Parse("any:block=20/10s:3s:retry-after=epoch,match:block=5/1500ms:250ms");
  ASSERT_EQ(spec.rules.size(), 2u);
  const FaultRule& any = spec.rules[0];
  EXPECT_EQ(any.endpoint, Endpoint::kAny);
  EXPECT_EQ(any.kind, FaultKind::kBlock);
  EXPECT_EQ(any.block_limit, 20u);
  EXPECT_EQ(any.block_window, std::chrono::seconds(10));
  EXPECT_EQ(any.duration, std::chrono::seconds(3));
  EXPECT_EQ(any.retry_after_form, RetryAfterForm::kEpoch);
  EXPECT_EQ(spec.rules[1].retry_after_form, RetryAfterForm::kSeconds);  // the default
  for (std::string text : {"any:block=20/10s:3s:retry-after=epoch", "match:block=5/1500ms:250ms",
                           "token:block=1/60s:2s:retry-after=epoch-ms",
                           "file:block=3/1s:1s:retry-after=date",
                           "match:429:retry-after=epoch",
                           "export:503:retry-after=5:retry-after=epoch-ms",
                           "job:503:retry-after=1"}) {
    EXPECT_EQ(FormatFaultSpec(Parse(text)), text);
  }
  EXPECT_EQ(FormatFaultSpec(Parse("token:block=1/1m:2s:retry-after=seconds")),
            "token:block=1/60s:2s");
}

TEST(FaultSpec, RejectsBadBlockRules) {
  const std::string usage =
      "block needs N/WINDOW:DURATION with N >= 1 and durations above 0, e.g. block=20/10s:3s";
  EXPECT_EQ(ErrorOf("any:block=0/1s:1s"), "fault rule 1 \"any:block=0/1s:1s\": " + usage);
  EXPECT_EQ(ErrorOf("any:block=5:1s"), "fault rule 1 \"any:block=5:1s\": " + usage);
  EXPECT_EQ(ErrorOf("any:block=5/1s"), "fault rule 1 \"any:block=5/1s\": " + usage);
  EXPECT_EQ(ErrorOf("any:block=5/0s:1s"), "fault rule 1 \"any:block=5/0s:1s\": " + usage);
  EXPECT_EQ(ErrorOf("any:block=5/1s:1s@0.5"),
            "fault rule 1 \"any:block=5/1s:1s@0.5\": block takes no trigger");
  EXPECT_EQ(ErrorOf("any:block=5/1s:1s:retry-after=7"),
            "fault rule 1 \"any:block=5/1s:1s:retry-after=7\": block's retry-after is seconds, "
            "date, epoch or epoch-ms");
  EXPECT_EQ(ErrorOf("match:429:retry-after=soon"),
            "fault rule 1 \"match:429:retry-after=soon\": retry-after needs seconds (0..86400), "
            "date, epoch or epoch-ms");
}

TEST(FaultInjector, BlockRefusesTheClientUntilItsEnd) {
  FaultInjector injector(1, Parse("match:block=2/10s:1s:retry-after=date"));
  EXPECT_FALSE(injector.Decide(Endpoint::kMatch, "client:a", 0).block);
  EXPECT_FALSE(injector.Decide(Endpoint::kMatch, "client:a", 1).block);
  FaultDecision third = injector.Decide(Endpoint::kMatch, "client:a", 2);
  ASSERT_TRUE(third.block);
  EXPECT_EQ(third.block->until_ms, 1002);
  EXPECT_EQ(third.block->retry_after, "Thu, 01 Jan 1970 00:00:02 GMT");
  EXPECT_EQ(third.block->rule.kind, FaultKind::kBlock);
  EXPECT_FALSE(injector.Decide(Endpoint::kToken, "client:a", 3).block);  // not a match request
  EXPECT_FALSE(injector.Decide(Endpoint::kMatch, "client:b", 4).block);  // another client
  EXPECT_TRUE(injector.Decide(Endpoint::kMatch, "client:a", 1001).block);
  EXPECT_FALSE(injector.Decide(Endpoint::kMatch, "client:a", 1002).block);  // over
  EXPECT_EQ(injector.BlocksStarted(), 1u);
  injector.Replace(Parse("match:block=2/10s:1s"));  // a new spec forgets windows and blocks
  EXPECT_FALSE(injector.Decide(Endpoint::kMatch, "client:a", 1003).block);
  EXPECT_FALSE(injector.Decide(Endpoint::kMatch, "client:a", 1004).block);
}

TEST(FaultInjector, AnyBlockCoversTokenAndWinsOverOtherFaults) {
  FaultInjector injector(1, Parse("any:500,any:block=1/10s:5s"));
  FaultDecision first = injector.Decide(Endpoint::kFile, "peer:127.0.0.1", 0);
  EXPECT_FALSE(first.block);
  EXPECT_TRUE(first.response);
  FaultDecision token = injector.Decide(Endpoint::kToken, "peer:127.0.0.1", 1000);
  ASSERT_TRUE(token.block);
  EXPECT_EQ(token.block->retry_after, "5");
}

TEST(FaultInjector, EveryNthFiresOnMultiplesOnly) {
  FaultInjector injector(1, Parse("match:503@every3"));
  std::vector<bool> fired;
  for (int i = 0; i < 7; ++i) fired.push_back(injector.Decide(Endpoint::kMatch).response.has_value());
  EXPECT_EQ(fired, (std::vector<bool>{false, false, true, false, false, true, false}));
  EXPECT_FALSE(injector.Decide(Endpoint::kToken).response);  // other endpoints do not count
}

TEST(FaultInjector, RatesAreDeterministicUnderTheSeed) {
  auto run = [](uint64_t seed) {
    FaultInjector injector(seed, Parse("file:cut@0.3"));
    std::string pattern;
    for (int i = 0; i < 200; ++i) pattern += injector.Decide(Endpoint::kFile).response ? '1' : '0';
    return pattern;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
  std::string p = run(7);
  auto ones = std::count(p.begin(), p.end(), '1');
  EXPECT_GT(ones, 30);
  EXPECT_LT(ones, 90);
}

TEST(FaultInjector, DelaysAddUpAndExpireOnlyAppliesToTokens) {
  FaultInjector injector(1, Parse("any:delay=10ms,file:delay=5ms,any:expire=2s,file:410"));
  FaultDecision file = injector.Decide(Endpoint::kFile);
  EXPECT_EQ(file.delay, std::chrono::milliseconds(15));
  EXPECT_FALSE(file.token_lifetime);
  ASSERT_TRUE(file.response);
  EXPECT_EQ(file.response->kind, FaultKind::k410);
  FaultDecision token = injector.Decide(Endpoint::kToken);
  EXPECT_EQ(token.token_lifetime, std::chrono::milliseconds(2000));
  EXPECT_FALSE(token.response);
}

TEST(FaultInjector, ReplaceRestartsCountsAndRecordCounts) {
  FaultInjector injector(1, Parse("job:fail@every2"));
  EXPECT_FALSE(injector.Decide(Endpoint::kJob).response);
  injector.Replace(Parse("job:fail@every2"));
  EXPECT_FALSE(injector.Decide(Endpoint::kJob).response);
  EXPECT_TRUE(injector.Decide(Endpoint::kJob).response);
  injector.Record(Endpoint::kJob, FaultKind::kFail);
  EXPECT_EQ(injector.Injected()[static_cast<size_t>(Endpoint::kJob)]
                               [static_cast<size_t>(FaultKind::kFail)],
            1u);
  EXPECT_EQ(FormatFaultSpec(injector.Spec()), "job:fail@every2");
}

}  // namespace
}  // namespace p2p::sandbox
