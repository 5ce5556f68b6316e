#include "source/inbox_claims.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>

#include "source/directory_source.h"
#include "support/temp_dir.h"

namespace p2p::source {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class InboxClaimsTest : public ::testing::Test {
 protected:
  InboxClaimsTest() : inbox_(dir_.path() / "inbox") { fs::create_directory(inbox_); }

  void Drop(const std::string& name) { std::ofstream(inbox_ / name) << "member_key\n"; }

  testing::TempDir dir_;
  fs::path inbox_;
};

TEST_F(InboxClaimsTest, ClaimMovesTheFileAndTheLoserGetsFalse) {
  InboxClaims a(inbox_, "a");
  InboxClaims b(inbox_, "b");
  ASSERT_TRUE(a.Prepare().ok());
  ASSERT_TRUE(b.Prepare().ok());
  Drop("m.csv");
  auto won = a.Claim("m.csv");
  ASSERT_TRUE(won.ok());
  EXPECT_TRUE(*won);
  auto lost = b.Claim("m.csv");  // already renamed away: ENOENT, not an error
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(*lost);
  auto held = a.Held();
  ASSERT_TRUE(held.ok());
  EXPECT_EQ(*held, std::vector<fs::path>{inbox_ / "claimed" / "a" / "m.csv"});
  EXPECT_TRUE(b.Held()->empty());
  EXPECT_TRUE(a.Sync().ok());
}

TEST_F(InboxClaimsTest, AClaimNeverReplacesAFileHeldUnderTheSameName) {
  InboxClaims a(inbox_, "a");
  ASSERT_TRUE(a.Prepare().ok());
  Drop("m.csv");
  ASSERT_TRUE(*a.Claim("m.csv"));
  std::ofstream(inbox_ / "m.csv") << "second\n";
  auto again = a.Claim("m.csv");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_TRUE(fs::exists(inbox_ / "m.csv"));
  std::ifstream held(inbox_ / "claimed" / "a" / "m.csv");
  std::string line;
  std::getline(held, line);
  EXPECT_EQ(line, "member_key");
}

TEST_F(InboxClaimsTest, AbandonedListsOnlyInstancesThatDoNotRun) {
  InboxClaims a(inbox_, "a");
  ASSERT_TRUE(a.Prepare().ok());
  {
    InboxClaims gone(inbox_, "gone");
    ASSERT_TRUE(gone.Prepare().ok());
    Drop("1.csv");
    Drop("2.ndjson");
    ASSERT_TRUE(*gone.Claim("1.csv"));
    ASSERT_TRUE(*gone.Claim("2.ndjson"));
  }
  InboxClaims alive(inbox_, "alive");
  ASSERT_TRUE(alive.Prepare().ok());
  Drop("3.csv");
  ASSERT_TRUE(*alive.Claim("3.csv"));
  Drop("4.csv");
  ASSERT_TRUE(*a.Claim("4.csv"));  // its own files are never "abandoned"

  auto abandoned = a.Abandoned(seconds(0));
  ASSERT_EQ(abandoned.size(), 1u);
  EXPECT_EQ(abandoned[0].instance, "gone");
  EXPECT_EQ(abandoned[0].dir, inbox_ / "claimed" / "gone");
  EXPECT_EQ(abandoned[0].files, 2u);
  EXPECT_TRUE(a.Abandoned(seconds(3600)).empty());  // claimed just now
}

// A directory the daemon's user cannot rename into: read-only by mode, or (for root, whom modes
// do not stop) immutable. Undone by the returned function; nullptr when neither works here.
std::function<void()> MakeUnwritable(const fs::path& dir) {
  if (::geteuid() != 0) {
    ::chmod(dir.c_str(), 0500);
    return [dir] { ::chmod(dir.c_str(), 0700); };
  }
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  int flags = 0;
  if (fd < 0 || ::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  int immutable = flags | FS_IMMUTABLE_FL;
  const bool ok = ::ioctl(fd, FS_IOC_SETFLAGS, &immutable) == 0;
  ::close(fd);
  if (!ok) return nullptr;
  return [dir, flags]() mutable {
    const int f = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    ::ioctl(f, FS_IOC_SETFLAGS, &flags);
    ::close(f);
  };
}

TEST_F(InboxClaimsTest, AFileThatCannotBeClaimedStaysAndIsReportedOnce) {
  SourceOptions options;
  options.path = inbox_.string();
  DirectorySource source(options, {"bison"}, "a");
  std::vector<std::string> warnings;
  source.SetWarning([&warnings](const std::string& w) { warnings.push_back(w); });
  ASSERT_TRUE(source.Prepare().ok());
  EXPECT_TRUE(warnings.empty());
  Drop("m.csv");
  auto undo = MakeUnwritable(source.claim_dir());
  if (!undo) GTEST_SKIP() << "cannot make a directory unwritable here";
  auto first = source.ListReady();
  auto second = source.ListReady();
  undo();
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->empty());
  EXPECT_TRUE(second->empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("claim " + (inbox_ / "m.csv").string() + ": ", 0), 0u) << warnings[0];
  EXPECT_NE(warnings[0].find("; the file stays in the inbox until it can be claimed"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(inbox_ / "m.csv"));
  auto third = source.ListReady();
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->size(), 1u);
}

}  // namespace
}  // namespace p2p::source
