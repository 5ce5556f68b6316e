#include "ops/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace p2p {
namespace {

namespace fs = std::filesystem;

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "p2p-logging-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    old_umask_ = ::umask(022);  // the usual umask: files would be 0644 without our care
  }
  void TearDown() override {
    ::umask(old_umask_);
    ASSERT_TRUE(SetupLogging(LogOptions{}, true).ok());  // let go of the files
    fs::remove_all(root_);
  }

  static std::string Slurp(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static unsigned Mode(const fs::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  fs::path root_;
  mode_t old_umask_ = 0;
};

TEST_F(LoggingTest, WritesToAPrivateFileInAPrivateDirectory) {
  LogOptions options;
  options.dir = (root_ / "var" / "log").string();
  ASSERT_TRUE(SetupLogging(options, false).ok());
  spdlog::info("member {} matched", "mk-1");
  spdlog::default_logger()->flush();

  const fs::path file = root_ / "var" / "log" / "p2p-ingestd.log";
  EXPECT_EQ(LogFilePath(), file.string());
  const std::string text = Slurp(file);
  EXPECT_NE(text.find(" info member mk-1 matched\n"), std::string::npos) << text;
  // ISO 8601 time first: 2024-05-01T12:00:00.123+0000
  ASSERT_GE(text.size(), 24u);
  EXPECT_EQ(text[4], '-');
  EXPECT_EQ(text[10], 'T');
  EXPECT_EQ(text[19], '.');
  EXPECT_EQ(Mode(file), 0600u);
  EXPECT_EQ(Mode(root_ / "var" / "log"), 0700u);
}

TEST_F(LoggingTest, WarningsAreFlushedAtOnce) {
  LogOptions options;
  options.dir = root_.string();
  ASSERT_TRUE(SetupLogging(options, false).ok());
  spdlog::warn("payer bison: token refused");
  EXPECT_NE(Slurp(root_ / "p2p-ingestd.log").find(" warning payer bison: token refused"),
            std::string::npos);
}

TEST_F(LoggingTest, LevelFromConfigAndReload) {
  LogOptions options;
  options.dir = root_.string();
  options.level = "warn";
  ASSERT_TRUE(SetupLogging(options, false).ok());
  spdlog::info("hidden at warn");
  ASSERT_TRUE(SetLogLevel("debug").ok());
  spdlog::debug("shown at debug");
  spdlog::default_logger()->flush();
  const std::string text = Slurp(root_ / "p2p-ingestd.log");
  EXPECT_EQ(text.find("hidden at warn"), std::string::npos);
  EXPECT_NE(text.find("shown at debug"), std::string::npos);
}

TEST_F(LoggingTest, RefusesUnknownLevels) {
  LogOptions options;
  options.level = "verbose";
  Result<void> r = SetupLogging(options, true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(r.error().message, "log.level: must be one of trace, debug, info, warn, error");
  EXPECT_EQ(SetLogLevel("warning").error().message,
            "log.level: must be one of trace, debug, info, warn, error");
}

TEST_F(LoggingTest, ReopenAfterLogrotateMovedTheFile) {
  LogOptions options;
  options.dir = root_.string();
  ASSERT_TRUE(SetupLogging(options, false).ok());
  spdlog::info("before rotation");
  spdlog::default_logger()->flush();
  fs::rename(root_ / "p2p-ingestd.log", root_ / "p2p-ingestd.log.old");

  ASSERT_TRUE(ReopenLogs().ok());
  spdlog::info("after rotation");
  spdlog::default_logger()->flush();

  EXPECT_NE(Slurp(root_ / "p2p-ingestd.log.old").find("before rotation"), std::string::npos);
  const std::string fresh = Slurp(root_ / "p2p-ingestd.log");
  EXPECT_EQ(fresh.find("before rotation"), std::string::npos);
  EXPECT_NE(fresh.find("after rotation"), std::string::npos);
  EXPECT_EQ(Mode(root_ / "p2p-ingestd.log"), 0600u);
}

TEST_F(LoggingTest, ReportsADirectoryThatCannotBeCreated) {
  std::ofstream(root_ / "file") << "x";
  LogOptions options;
  options.dir = (root_ / "file" / "log").string();
  Result<void> r = SetupLogging(options, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kIo);
  EXPECT_EQ(r.error().message, "log.dir: " + options.dir + ": cannot create: Not a directory");
}

}  // namespace
}  // namespace p2p
