// Logging setup for p2p-ingestd: spdlog's default logger writes to a rotating file
// `p2p-ingestd.log` in log.dir (10 MiB x 5 files, mode 0600; the directory is created 0700 when
// missing) and/or stderr. Pattern "2024-05-01T12:00:00.123+0000 info message"; flushed at once on
// warn and above, and every second otherwise.
//
// Code elsewhere logs with spdlog::info(...) etc. Never log member demographics (names, birth
// dates, coverage ids): refer to members by member_key.
//
// Threading: logging is thread-safe (mt sinks). SetupLogging, ReopenLogs and SetLogLevel may be
// called from any thread but not from a signal handler: the daemon calls them from its event loop
// (e.g. an asio signal_set for SIGHUP).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "ops/options.h"

namespace p2p {

inline constexpr std::string_view kLogFileName = "p2p-ingestd.log";
inline constexpr std::size_t kLogFileMaxBytes = 10 * 1024 * 1024;
inline constexpr std::size_t kLogFileCount = 5;

// Replaces the default logger. Logs to stderr when `to_stderr` or when options.dir is empty.
// Errors: kInvalid for a bad level, kIo when the directory or file cannot be created
// ("log.dir: DIR: ...").
Result<void> SetupLogging(const LogOptions& options, bool to_stderr);

// Closes and reopens the log file at its path (after logrotate moved it). A no-op without a file.
// Errors: kIo; logging then goes on to the old file.
Result<void> ReopenLogs();

// Changes the level of the default logger (config reload). Errors: kInvalid for an unknown level.
Result<void> SetLogLevel(std::string_view level);

// The path of the current log file; empty when logging to stderr only.
std::string LogFilePath();

}  // namespace p2p
