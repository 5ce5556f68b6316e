// JobAdmission: the slots of limits.max_jobs_in_flight shared by the payers' dispatch loops.
// Earliest deadline first, waiting counting as an earlier deadline (no starvation), grants
// reserved for the payer they were granted to, capacity changes (SIGHUP).
#include "pipeline/admission.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace p2p::pipeline {
namespace {

constexpr int64_t kDay = 24 * 3600;  // deadlines are unix seconds
constexpr int64_t kT0 = 1'800'000'000'000;  // a unix ms "now"

// Payers registered in order; wakes recorded per payer.
struct Fixture {
  explicit Fixture(int capacity, int payers, Gauge* in_use = nullptr, Gauge* waiting = nullptr)
      : admission(capacity, in_use, waiting) {
    for (int p = 0; p < payers; ++p) {
      EXPECT_EQ(admission.AddPayer([this, p] { woken.push_back(p); }), p);
    }
  }
  // The payer TryTake when woken, as its dispatch loop does; it waits with `deadline_s` if it
  // gets nothing.
  bool Ask(int payer, int64_t deadline_s, int64_t now_ms) {
    if (admission.TryTake(payer)) return true;
    admission.Wait(payer, deadline_s, now_ms);
    return false;
  }
  JobAdmission admission;
  std::vector<int> woken;
};

TEST(JobAdmission, FreeSlotsAreTakenAtOnceUpToTheCapacity) {
  Gauge in_use, waiting;
  Fixture f(2, 3, &in_use, &waiting);
  EXPECT_TRUE(f.admission.TryTake(0));
  EXPECT_TRUE(f.admission.TryTake(1));
  EXPECT_FALSE(f.admission.TryTake(2));
  EXPECT_EQ(f.admission.in_use(), 2);
  EXPECT_EQ(in_use.value(), 2);
  f.admission.Wait(2, 10 * kDay, kT0);
  EXPECT_EQ(waiting.value(), 1);
  EXPECT_TRUE(f.woken.empty());
  f.admission.Release();
  EXPECT_EQ(f.woken, std::vector<int>{2});
  EXPECT_EQ(waiting.value(), 0);
  EXPECT_TRUE(f.admission.TryTake(2));
  EXPECT_EQ(in_use.value(), 2);
}

TEST(JobAdmission, AFreedSlotGoesToTheEarliestDeadline) {
  Fixture f(1, 4);
  ASSERT_TRUE(f.admission.TryTake(0));
  // Payers 1..3 start waiting at the same moment with deadlines in days 30, 10, 20.
  EXPECT_FALSE(f.Ask(1, 30 * kDay, kT0));
  EXPECT_FALSE(f.Ask(2, 10 * kDay, kT0));
  EXPECT_FALSE(f.Ask(3, 20 * kDay, kT0));
  std::vector<int> served;
  for (int round = 0; round < 3; ++round) {
    f.woken.clear();
    f.admission.Release();
    ASSERT_EQ(f.woken.size(), 1u);
    served.push_back(f.woken[0]);
    ASSERT_TRUE(f.admission.TryTake(f.woken[0]));
  }
  EXPECT_EQ(served, (std::vector<int>{2, 3, 1}));
}

TEST(JobAdmission, EqualDeadlinesGoToWhoWaitedFirst) {
  Fixture f(1, 3);
  ASSERT_TRUE(f.admission.TryTake(0));
  EXPECT_FALSE(f.Ask(2, 5 * kDay, kT0));
  EXPECT_FALSE(f.Ask(1, 5 * kDay, kT0));
  f.admission.Release();
  EXPECT_EQ(f.woken, std::vector<int>{2});
}

TEST(JobAdmission, AGrantIsReservedForItsPayer) {
  Fixture f(1, 3);
  ASSERT_TRUE(f.admission.TryTake(0));
  EXPECT_FALSE(f.Ask(1, kDay, kT0));
  f.admission.Release();  // granted to payer 1, not taken yet
  EXPECT_EQ(f.woken, std::vector<int>{1});
  EXPECT_FALSE(f.admission.TryTake(2));  // not payer 2's, though nobody holds it
  EXPECT_FALSE(f.admission.TryTake(0));
  EXPECT_TRUE(f.admission.TryTake(1));
  EXPECT_FALSE(f.admission.TryTake(1));  // one grant, one slot
}

TEST(JobAdmission, AWithdrawnGrantGoesToTheNextPayer) {
  Fixture f(1, 3);
  ASSERT_TRUE(f.admission.TryTake(0));
  EXPECT_FALSE(f.Ask(1, kDay, kT0));
  EXPECT_FALSE(f.Ask(2, 2 * kDay, kT0));
  f.admission.Release();
  ASSERT_EQ(f.woken, std::vector<int>{1});
  // Payer 1 has nothing to run any more (an operator cancelled its job): the slot moves on.
  f.admission.Withdraw(1);
  EXPECT_EQ(f.woken, (std::vector<int>{1, 2}));
  EXPECT_TRUE(f.admission.TryTake(2));
  EXPECT_EQ(f.admission.in_use(), 1);
}

TEST(JobAdmission, WithdrawLeavesTheQueue) {
  Fixture f(1, 3);
  ASSERT_TRUE(f.admission.TryTake(0));
  EXPECT_FALSE(f.Ask(1, kDay, kT0));  // earliest, but then throttled: it withdraws
  EXPECT_FALSE(f.Ask(2, 9 * kDay, kT0));
  f.admission.Withdraw(1);
  EXPECT_FALSE(f.admission.is_waiting(1));
  EXPECT_EQ(f.admission.waiting(), 1u);
  f.admission.Release();
  EXPECT_EQ(f.woken, std::vector<int>{2});
  f.admission.Withdraw(1);  // not waiting, no grant: nothing happens
  EXPECT_EQ(f.woken, std::vector<int>{2});
}

// Payer 0 has a job due in 7 days; payers 1 and 2 keep coming back with jobs due today. Strict
// EDF would never serve payer 0; waiting moves it forward one hour per second, so once it has
// waited a week's worth of hours (168 s) it goes before them.
TEST(JobAdmission, APayerWithALaterDeadlineIsNotStarved) {
  Fixture f(1, 4);
  ASSERT_TRUE(f.admission.TryTake(3));
  EXPECT_FALSE(f.Ask(0, 7 * kDay, kT0));
  int64_t now = kT0;
  int served_before_zero = 0;
  bool zero_served = false;
  for (int round = 0; round < 1000 && !zero_served; ++round) {
    now += 1000;  // a slot frees every second
    const int other = 1 + round % 2;
    EXPECT_FALSE(f.Ask(other, 0, now));  // due today, keeps coming
    f.woken.clear();
    f.admission.Release();
    ASSERT_EQ(f.woken.size(), 1u);
    const int got = f.woken[0];
    ASSERT_TRUE(f.admission.TryTake(got));
    if (got == 0) {
      zero_served = true;
    } else {
      ++served_before_zero;
    }
  }
  EXPECT_TRUE(zero_served);
  EXPECT_GE(served_before_zero, 160);  // earliest deadline first while the wait is short
  EXPECT_LE(served_before_zero, 170);  // ... but not for more than ~168 s
}

TEST(JobAdmission, UpdatingTheDeadlineKeepsThePlaceInTime) {
  Fixture f(1, 3);
  ASSERT_TRUE(f.admission.TryTake(0));
  EXPECT_FALSE(f.Ask(1, 3 * kDay, kT0));
  EXPECT_FALSE(f.Ask(2, 2 * kDay, kT0 + 1000));
  // Payer 1's earliest runnable job is now one due in 1 day (new members arrived): it moves up,
  // still counted as waiting since kT0.
  EXPECT_FALSE(f.Ask(1, 1 * kDay, kT0 + 5000));
  f.admission.Release();
  EXPECT_EQ(f.woken, std::vector<int>{1});
}

TEST(JobAdmission, ASlotIsNotTakenPastWaitingPayers) {
  Fixture f(2, 3);
  ASSERT_TRUE(f.admission.TryTake(0));
  ASSERT_TRUE(f.admission.TryTake(0));
  EXPECT_FALSE(f.Ask(1, 5 * kDay, kT0));
  f.admission.Release();  // reserved for payer 1
  EXPECT_FALSE(f.admission.TryTake(2));
  f.admission.Release();  // a second slot frees while nobody else waits
  EXPECT_TRUE(f.admission.TryTake(2));
  EXPECT_TRUE(f.admission.TryTake(1));
  EXPECT_EQ(f.admission.in_use(), 2);
}

TEST(JobAdmission, CapacityChangesApplyToTheNextGrants) {
  Fixture f(1, 3);
  ASSERT_TRUE(f.admission.TryTake(0));
  EXPECT_FALSE(f.Ask(1, kDay, kT0));
  EXPECT_FALSE(f.Ask(2, 2 * kDay, kT0));
  f.admission.SetCapacity(3);  // SIGHUP raised it: both waiting payers are served at once
  EXPECT_EQ(f.woken, (std::vector<int>{1, 2}));
  EXPECT_TRUE(f.admission.TryTake(1));
  EXPECT_TRUE(f.admission.TryTake(2));
  EXPECT_EQ(f.admission.in_use(), 3);
  f.woken.clear();
  f.admission.SetCapacity(1);  // lowered below what is in use: nothing until two are released
  EXPECT_FALSE(f.Ask(0, kDay, kT0));
  f.admission.Release();
  EXPECT_TRUE(f.woken.empty());
  f.admission.Release();
  EXPECT_TRUE(f.woken.empty());
  f.admission.Release();
  EXPECT_EQ(f.woken, std::vector<int>{0});
}

// Many payers at random: the slots in use never exceed the capacity, every payer that waited is
// served, and none gets a slot it was not granted while others wait.
TEST(JobAdmission, NeverMoreThanTheCapacityAndEveryWaiterIsServed) {
  constexpr int kPayers = 50;
  constexpr int kCapacity = 7;
  Fixture f(kCapacity, kPayers);
  std::map<int, int> held;  // payer -> slots
  std::vector<int> wants(kPayers, 3);  // each payer starts three jobs
  int total_held = 0;
  int64_t now = kT0;
  uint64_t rng = 42;
  auto next = [&rng] {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>(rng >> 33);
  };
  auto took = [&](int payer) {
    --wants[payer];
    ++held[payer];
    ++total_held;
  };
  auto release_one = [&] {  // some job ends
    for (auto& [payer, n] : held) {
      if (n > 0) {
        --n;
        --total_held;
        f.admission.Release();
        return;
      }
    }
  };
  // Woken payers take their grant (their loops run), and ask again while they want more.
  auto run_woken = [&] {
    std::vector<int> woken;
    woken.swap(f.woken);
    for (int w : woken) {
      ASSERT_TRUE(f.admission.TryTake(w)) << w;
      ASSERT_GT(wants[w], 0);
      took(w);
      if (wants[w] > 0 && f.Ask(w, kDay, now)) took(w);
    }
  };
  for (int step = 0; step < 20000; ++step) {
    now += 10;
    const int p = next() % kPayers;
    if (wants[p] > 0 && f.Ask(p, (next() % 30) * kDay, now)) took(p);
    ASSERT_EQ(f.admission.in_use(), total_held);
    if (total_held > 0 && next() % 2 == 0) release_one();
    run_woken();
    ASSERT_LE(total_held, kCapacity);
  }
  // Release everything: the queue drains.
  while (total_held > 0 || f.admission.waiting() > 0) {
    release_one();
    run_woken();
    ASSERT_LE(total_held, kCapacity);
  }
  for (int p = 0; p < kPayers; ++p) EXPECT_FALSE(f.admission.is_waiting(p)) << p;
}

}  // namespace
}  // namespace p2p::pipeline
