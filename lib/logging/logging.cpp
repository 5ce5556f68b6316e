#include "logging/logging.h"

#include <fcntl.h>
#include <spdlog/formatter.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>

namespace p2p {
namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e%z %l %v";

template <typename Buf>
void Append(Buf& out, std::string_view s) {
  out.append(s.data(), s.data() + s.size());
}

// The length of the valid UTF-8 sequence at the start of `s` (2..4), or 0 when it is not one
// (bad lead byte, missing continuation, overlong form, surrogate, above U+10FFFF).
std::size_t Utf8SequenceLength(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = b(0);
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < n || b(1) < lo || b(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if (b(i) < 0x80 || b(i) > 0xBF) return 0;
  }
  return n;
}

// `s` as the inside of a JSON string: quotes, backslashes and control characters escaped, invalid
// UTF-8 bytes replaced by U+FFFD one byte at a time.
template <typename Buf>
void AppendJsonEscaped(Buf& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t plain = 0;  // start of the run not yet copied
  std::size_t i = 0;
  const auto flush = [&] { Append(out, s.substr(plain, i - plain)); };
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (std::size_t n = Utf8SequenceLength(s.substr(i)); n != 0) {
        i += n;
        continue;
      }
    }
    flush();
    switch (c) {
      case '"':
        Append(out, "\\\"");
        break;
      case '\\':
        Append(out, "\\\\");
        break;
      case '\n':
        Append(out, "\\n");
        break;
      case '\r':
        Append(out, "\\r");
        break;
      case '\t':
        Append(out, "\\t");
        break;
      default:
        if (c >= 0x80) {
          Append(out, "\xEF\xBF\xBD");  // U+FFFD
        } else {
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          Append(out, std::string_view(esc, sizeof esc));
        }
    }
    plain = ++i;
  }
  flush();
}

std::string_view JsonLevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

template <typename Buf>
void AppendJsonLine(Buf& out, std::int64_t unix_ms, std::string_view level, std::string_view msg) {
  std::int64_t secs = unix_ms / 1000;
  std::int64_t ms = unix_ms % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char ts[40];
  const int n = std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, static_cast<int>(ms));
  Append(out, "{\"ts\":\"");
  Append(out, std::string_view(ts, n > 0 ? static_cast<std::size_t>(n) : 0));
  Append(out, "\",\"level\":\"");
  AppendJsonEscaped(out, level);
  Append(out, "\",\"msg\":\"");
  AppendJsonEscaped(out, msg);
  Append(out, "\"}");
}

// log.format: json. Writes straight into spdlog's buffer (no allocation per line).
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch());
    AppendJsonLine(dest, ms.count(), JsonLevelName(msg.level),
                   std::string_view(msg.payload.data(), msg.payload.size()));
    Append(dest, "\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

void ApplyFormat(spdlog::sinks::sink& sink, LogFormat format) {
  if (format == LogFormat::kJson) {
    sink.set_formatter(std::make_unique<JsonFormatter>());
  } else {
    sink.set_pattern(kPattern);
  }
}

// What ReopenLogs needs: the dist sink the logger writes through and the sinks inside it.
struct LogState {
  std::mutex mu;
  std::shared_ptr<spdlog::sinks::dist_sink_mt> dist;
  std::shared_ptr<spdlog::sinks::sink> stderr_sink;  // may be null
  std::string file_path;                             // empty: no file
  LogOptions options;                                // format and rotation of the file
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
Result<std::shared_ptr<spdlog::sinks::sink>> MakeFileSink(const std::string& path,
                                                          const LogOptions& options) {
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
        path, static_cast<std::size_t>(options.max_size),
        static_cast<std::size_t>(options.max_files), false, handlers);
    ApplyFormat(*sink, options.format);
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
  if (options.max_size < (1LL << 20) || options.max_size > (1LL << 30)) {
    return MakeError(ErrorKind::kInvalid, "log.max_size: must be 1M..1G");
  }
  if (options.max_files < 1 || options.max_files > 100) {
    return MakeError(ErrorKind::kInvalid, "log.max_files: must be 1..100");
  }
  std::shared_ptr<spdlog::sinks::sink> file_sink;
  std::string file_path;
  if (!options.dir.empty()) {
    if (auto made = MakeLogDir(options.dir); !made) return std::move(made).error();
    file_path = (std::filesystem::path(options.dir) / kLogFileName).string();
    auto sink = MakeFileSink(file_path, options);
    if (!sink) return std::move(sink).error();
    file_sink = std::move(*sink);
  }

  LogState& s = State();
  std::lock_guard lock(s.mu);
  s.dist = std::make_shared<spdlog::sinks::dist_sink_mt>();
  s.stderr_sink.reset();
  if (to_stderr || options.dir.empty()) {
    s.stderr_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    ApplyFormat(*s.stderr_sink, options.format);
  }
  s.file_path = file_path;
  s.options = options;
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
  auto sink = MakeFileSink(s.file_path, s.options);
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

std::string JsonLogLine(std::int64_t unix_ms, std::string_view level, std::string_view msg) {
  std::string out;
  AppendJsonLine(out, unix_ms, level, msg);
  return out;
}

std::string LogFilePath() {
  LogState& s = State();
  std::lock_guard lock(s.mu);
  return s.file_path;
}

}  // namespace p2p
