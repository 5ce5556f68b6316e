#include "ops/logging.h"

#include <fcntl.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>

namespace p2p {
namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e%z %l %v";

// What ReopenLogs needs: the dist sink the logger writes through and the sinks inside it.
struct LogState {
  std::mutex mu;
  std::shared_ptr<spdlog::sinks::dist_sink_mt> dist;
  std::shared_ptr<spdlog::sinks::sink> stderr_sink;  // may be null
  std::string file_path;                             // empty: no file
};

LogState& State() {
  static LogState state;
  return state;
}

std::optional<spdlog::level::level_enum> LevelOf(std::string_view name) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace},
      {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},
      {"error", spdlog::level::err}};
  for (const auto& [n, level] : kLevels) {
    if (n == name) return level;
  }
  return std::nullopt;
}

Result<void> MakeLogDir(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return Ok();
  const std::filesystem::path parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return MakeError(ErrorKind::kIo,
                     "log.dir: " + dir + ": cannot create: " + std::string(std::strerror(errno)));
  }
  return Ok();
}

// A rotating sink whose files are created 0600 whatever the umask: created before spdlog opens
// them, and chmod-ed once open in case they existed.
Result<std::shared_ptr<spdlog::sinks::sink>> MakeFileSink(const std::string& path) {
  spdlog::file_event_handlers handlers;
  handlers.before_open = [](const spdlog::filename_t& name) {
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  };
  handlers.after_open = [](const spdlog::filename_t&, std::FILE* file) {
    ::fchmod(::fileno(file), 0600);
  };
  try {
    auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        path, kLogFileMaxBytes, kLogFileCount, false, handlers);
    sink->set_pattern(kPattern);
    return std::shared_ptr<spdlog::sinks::sink>(std::move(sink));
  } catch (const spdlog::spdlog_ex& e) {
    return MakeError(ErrorKind::kIo, "log.dir: " + path + ": " + e.what());
  }
}

void InstallSinks(LogState& s, std::shared_ptr<spdlog::sinks::sink> file_sink) {
  std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks;
  if (file_sink) sinks.push_back(std::move(file_sink));
  if (s.stderr_sink) sinks.push_back(s.stderr_sink);
  s.dist->set_sinks(std::move(sinks));
}

}  // namespace

Result<void> SetupLogging(const LogOptions& options, bool to_stderr) {
  std::optional<spdlog::level::level_enum> level = LevelOf(options.level);
  if (!level) {
    return MakeError(ErrorKind::kInvalid,
                     "log.level: must be one of trace, debug, info, warn, error");
  }
  std::shared_ptr<spdlog::sinks::sink> file_sink;
  std::string file_path;
  if (!options.dir.empty()) {
    if (auto made = MakeLogDir(options.dir); !made) return std::move(made).error();
    file_path = (std::filesystem::path(options.dir) / kLogFileName).string();
    auto sink = MakeFileSink(file_path);
    if (!sink) return std::move(sink).error();
    file_sink = std::move(*sink);
  }

  LogState& s = State();
  std::lock_guard lock(s.mu);
  s.dist = std::make_shared<spdlog::sinks::dist_sink_mt>();
  s.stderr_sink.reset();
  if (to_stderr || options.dir.empty()) {
    s.stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    s.stderr_sink->set_pattern(kPattern);
  }
  s.file_path = file_path;
  InstallSinks(s, std::move(file_sink));

  auto logger = std::make_shared<spdlog::logger>("p2p-ingestd", s.dist);
  logger->set_level(*level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  spdlog::flush_every(std::chrono::seconds(1));
  return Ok();
}

Result<void> ReopenLogs() {
  LogState& s = State();
  std::lock_guard lock(s.mu);
  if (!s.dist || s.file_path.empty()) return Ok();
  auto sink = MakeFileSink(s.file_path);
  if (!sink) return std::move(sink).error();
  s.dist->flush();
  InstallSinks(s, std::move(*sink));
  return Ok();
}

Result<void> SetLogLevel(std::string_view level) {
  std::optional<spdlog::level::level_enum> parsed = LevelOf(level);
  if (!parsed) {
    return MakeError(ErrorKind::kInvalid,
                     "log.level: must be one of trace, debug, info, warn, error");
  }
  spdlog::default_logger()->set_level(*parsed);
  return Ok();
}

std::string LogFilePath() {
  LogState& s = State();
  std::lock_guard lock(s.mu);
  return s.file_path;
}

}  // namespace p2p
