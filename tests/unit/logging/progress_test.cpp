#include "logging/progress.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <utility>

namespace p2p {
namespace {

ProgressSample Sample(std::int64_t at_ms,
                      std::initializer_list<std::pair<JobState, std::int64_t>> states,
                      std::int64_t resources = 0, std::int64_t bytes = 0,
                      std::vector<ProgressSample::Payer> payers = {}) {
  ProgressSample s;
  s.at_ms = at_ms;
  for (const auto& [state, n] : states) s.by_state[static_cast<std::size_t>(state)] = n;
  s.resources_stored = resources;
  s.bytes_downloaded = bytes;
  s.payers = std::move(payers);
  return s;
}

struct ProgressCase {
  const char* name;
  ProgressSample prev;
  ProgressSample now;
  const char* line;
};

TEST(FormatProgress, ReadsLikeTheSpec) {
  using S = JobState;
  const ProgressCase cases[] = {
      {"the documented example",
       Sample(0, {}, 100'000, 1'000'000, {{"aspen", 20, 100}, {"bison", 90, 4000}}),
       Sample(10'000,
              {{S::kMatching, 3},
               {S::kPolling, 40},
               {S::kDownloading, 77},
               {S::kComplete, 9400},
               {S::kFailed, 17}},
              100'000 + 15'200, 1'000'000 + 124'000'000, {{"aspen", 22, 101}, {"bison", 98, 4100}}),
       "progress: 120 active (3 matching, 40 polling, 77 downloading), 9400 complete, 17 failed; "
       "1520 resources/s, 12.4 MB/s; slowest payer aspen (22 active, 6.0 finished/min)"},
      {"every state, in state order", Sample(0, {}),
       Sample(1000, {{S::kPending, 1},
                     {S::kMatching, 2},
                     {S::kMatched, 3},
                     {S::kExporting, 4},
                     {S::kPolling, 5},
                     {S::kDownloading, 6},
                     {S::kComplete, 7},
                     {S::kNoMatch, 8},
                     {S::kConsentRefused, 9},
                     {S::kConsentExpired, 10},
                     {S::kFailed, 11},
                     {S::kCancelled, 12}}),
       "progress: 20 active (2 matching, 3 matched, 4 exporting, 5 polling, 6 downloading), "
       "1 pending, 7 complete, 8 no_match, 9 consent_refused, 10 consent_expired, 11 failed, "
       "12 cancelled; 0 resources/s, 0.0 MB/s"},
      {"nothing active yet", Sample(0, {}), Sample(500, {{S::kPending, 250}}, 0, 0, {{"bison", 0, 0}}),
       "progress: 0 active, 250 pending; 0 resources/s, 0.0 MB/s"},
      {"no time passed: no rates", Sample(5000, {}, 10, 10),
       Sample(5000, {{S::kPolling, 1}}, 20, 20, {{"bison", 1, 0}}),
       "progress: 1 active (1 polling); slowest payer bison (1 active, 0.0 finished/min)"},
      {"samples out of order: no rates", Sample(6000, {}), Sample(5000, {{S::kPolling, 1}}),
       "progress: 1 active (1 polling)"},
      {"a counter that went down counts as 0", Sample(0, {}, 500, 9'000'000),
       Sample(2000, {{S::kExporting, 2}}, 100, 1'000'000),
       "progress: 2 active (2 exporting); 0 resources/s, 0.0 MB/s"},
      {"rates round: 2 resources and 150 kB in 1.5 s", Sample(1000, {}, 0, 0),
       Sample(2500, {{S::kDownloading, 1}}, 2, 150'000),
       "progress: 1 active (1 downloading); 1 resources/s, 0.1 MB/s"},
      {"slowest payer: equal rates go to the most active, then the smallest id",
       Sample(0, {}, 0, 0, {{"zebra", 5, 7}, {"aspen", 5, 7}, {"bison", 3, 7}}),
       Sample(1000, {{S::kMatching, 10}}, 0, 0, {{"zebra", 5, 7}, {"aspen", 5, 7}, {"bison", 3, 7}}),
       "progress: 10 active (10 matching); 0 resources/s, 0.0 MB/s; slowest payer aspen "
       "(5 active, 0.0 finished/min)"},
      {"slowest payer: a payer without active jobs is never named; one new since the last "
       "sample counts as finishing nothing",
       Sample(0, {}, 0, 0, {{"aspen", 4, 10}, {"idle", 0, 0}}),
       Sample(30'000, {{S::kPolling, 5}}, 0, 0, {{"aspen", 4, 13}, {"idle", 0, 0}, {"new", 1, 50}}),
       "progress: 5 active (5 polling); 0 resources/s, 0.0 MB/s; slowest payer new "
       "(1 active, 0.0 finished/min)"},
      {"slowest payer: the lower rate wins over more active jobs",
       Sample(0, {}, 0, 0, {{"aspen", 50, 0}, {"bison", 2, 0}}),
       Sample(60'000, {{S::kPolling, 52}}, 0, 0, {{"aspen", 50, 30}, {"bison", 2, 1}}),
       "progress: 52 active (52 polling); 0 resources/s, 0.0 MB/s; slowest payer bison "
       "(2 active, 1.0 finished/min)"},
      {"large numbers", Sample(0, {}, 0, 0),
       Sample(60'000, {{S::kComplete, 1'000'000}}, 90'000'000, 60'000'000'000),
       "progress: 0 active, 1000000 complete; 1500000 resources/s, 1000.0 MB/s"},
  };
  for (const ProgressCase& c : cases) {
    EXPECT_EQ(FormatProgress(c.prev, c.now), c.line) << c.name;
  }
}

TEST(FormatProgress, RatesUseTheTimeBetweenSamples) {
  // The same growth over 1 s and over 4 s.
  const ProgressSample start = Sample(1000, {}, 0, 0);
  EXPECT_EQ(FormatProgress(start, Sample(2000, {}, 400, 8'000'000)),
            "progress: 0 active; 400 resources/s, 8.0 MB/s");
  EXPECT_EQ(FormatProgress(start, Sample(5000, {}, 400, 8'000'000)),
            "progress: 0 active; 100 resources/s, 2.0 MB/s");
}

TEST(WorkInFlight, CountsActiveAndPendingOnly) {
  using S = JobState;
  EXPECT_FALSE(WorkInFlight(Sample(0, {})));
  EXPECT_FALSE(WorkInFlight(Sample(0, {{S::kComplete, 5}, {S::kFailed, 1}, {S::kCancelled, 1}})));
  EXPECT_TRUE(WorkInFlight(Sample(0, {{S::kPending, 1}})));
  EXPECT_TRUE(WorkInFlight(Sample(0, {{S::kMatched, 1}})));
  EXPECT_EQ(ActiveCount(Sample(0, {{S::kPending, 7},
                                   {S::kMatching, 1},
                                   {S::kMatched, 2},
                                   {S::kExporting, 3},
                                   {S::kPolling, 4},
                                   {S::kDownloading, 5},
                                   {S::kComplete, 9}})),
            15);
}

}  // namespace
}  // namespace p2p
