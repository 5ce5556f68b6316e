#include "logging/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

TEST(JsonLogLine, HasStableFieldsInAFixedOrder) {
  // 2024-05-01T12:00:00.123Z
  EXPECT_EQ(JsonLogLine(1714564800123, "info", "member mk-1 matched"),
            R"({"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"member mk-1 matched"})");
  EXPECT_EQ(JsonLogLine(0, "warn", ""),
            R"({"ts":"1970-01-01T00:00:00.000Z","level":"warn","msg":""})");
  EXPECT_EQ(JsonLogLine(-1, "error", "x"),
            R"({"ts":"1969-12-31T23:59:59.999Z","level":"error","msg":"x"})");
}

TEST(JsonLogLine, EscapesTheMessage) {
  struct {
    std::string msg;
    std::string escaped;
  } const cases[] = {
      {"say \"hi\"", R"(say \"hi\")"},
      {"C:\\dir", R"(C:\\dir)"},
      {"a\nb\rc\td", R"(a\nb\rc\td)"},
      {std::string("nul\0bell\x07"
                   "esc\x1b\x1f",
                   14),
       R"(nul\u0000bell\u0007esc\u001b\u001f)"},
      {"del \x7f stays", "del \x7f stays"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
      // invalid UTF-8: each bad byte becomes U+FFFD
      {"bad \xff byte", "bad \xef\xbf\xbd byte"},
      {"cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd"},
      {"overlong \xc0\xaf", "overlong \xef\xbf\xbd\xef\xbf\xbd"},
      {"surrogate \xed\xa0\x80", "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
      {"too high \xf4\x90\x80\x80", "too high \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(JsonLogLine(0, "info", c.msg),
              R"({"ts":"1970-01-01T00:00:00.000Z","level":"info","msg":")" + c.escaped + "\"}")
        << c.msg;
  }
}

TEST_F(LoggingTest, JsonFormatWritesOneObjectPerLine) {
  LogOptions options;
  options.dir = root_.string();
  options.format = LogFormat::kJson;
  ASSERT_TRUE(SetupLogging(options, false).ok());
  spdlog::info("payer {} said \"{}\"", "bison", "slow down");
  spdlog::warn("tab\there");
  spdlog::error("third");
  spdlog::default_logger()->flush();

  std::istringstream text(Slurp(root_ / "p2p-ingestd.log"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(text, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  // {"ts":"2026-01-02T03:04:05.678Z",...}: the time varies, the rest does not.
  const std::string prefix = R"({"ts":")";
  for (const std::string& line : lines) {
    ASSERT_EQ(line.substr(0, prefix.size()), prefix) << line;
    ASSERT_GT(line.size(), prefix.size() + 25) << line;
    EXPECT_EQ(line[prefix.size() + 10], 'T') << line;
    EXPECT_EQ(line.substr(prefix.size() + 23, 2), "Z\"") << line;
  }
  const auto rest = [&](const std::string& line) { return line.substr(prefix.size() + 25); };
  EXPECT_EQ(rest(lines[0]), R"(,"level":"info","msg":"payer bison said \"slow down\""})");
  EXPECT_EQ(rest(lines[1]), R"(,"level":"warn","msg":"tab\there"})");
  EXPECT_EQ(rest(lines[2]), R"(,"level":"error","msg":"third"})");

  // The format survives a reopen.
  fs::rename(root_ / "p2p-ingestd.log", root_ / "p2p-ingestd.log.old");
  ASSERT_TRUE(ReopenLogs().ok());
  spdlog::info("after");
  spdlog::default_logger()->flush();
  const std::string fresh = Slurp(root_ / "p2p-ingestd.log");
  EXPECT_NE(fresh.find(R"(,"level":"info","msg":"after"})"), std::string::npos) << fresh;
}

TEST_F(LoggingTest, RotatesAtTheConfiguredSizeAndKeepsTheConfiguredCount) {
  LogOptions options;
  options.dir = root_.string();
  options.max_size = 1 << 20;
  options.max_files = 2;
  ASSERT_TRUE(SetupLogging(options, false).ok());
  const std::string filler(1000, 'x');
  for (int i = 0; i < 4000; ++i) spdlog::info("{}", filler);  // ~4 MB: rotates 3 times
  spdlog::default_logger()->flush();
  EXPECT_TRUE(fs::exists(root_ / "p2p-ingestd.log"));
  EXPECT_TRUE(fs::exists(root_ / "p2p-ingestd.1.log"));
  EXPECT_TRUE(fs::exists(root_ / "p2p-ingestd.2.log"));
  EXPECT_FALSE(fs::exists(root_ / "p2p-ingestd.3.log"));
  EXPECT_LE(fs::file_size(root_ / "p2p-ingestd.1.log"), std::uintmax_t{1} << 20);
  EXPECT_EQ(Mode(root_ / "p2p-ingestd.1.log"), 0600u);
}

TEST_F(LoggingTest, RefusesRotationSettingsOutOfRange) {
  LogOptions options;
  options.max_size = (1 << 20) - 1;
  EXPECT_EQ(SetupLogging(options, true).error().message, "log.max_size: must be 1M..1G");
  options.max_size = (1LL << 30) + 1;
  EXPECT_EQ(SetupLogging(options, true).error().message, "log.max_size: must be 1M..1G");
  options.max_size = 1 << 20;
  options.max_files = 0;
  EXPECT_EQ(SetupLogging(options, true).error().message, "log.max_files: must be 1..100");
  options.max_files = 101;
  Result<void> r = SetupLogging(options, true);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(r.error().message, "log.max_files: must be 1..100");
}

}  // namespace
}  // namespace p2p
