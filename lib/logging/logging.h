// Logging setup for p2p-ingestd: spdlog's default logger writes to a rotating file
// `p2p-ingestd.log` in log.dir (log.max_size bytes x log.max_files rotated files, mode 0600; the
// directory is created 0700 when missing) and/or stderr. Flushed at once on warn and above, and
// every second otherwise. Two line formats (log.format), the same on every sink:
//   text: "2024-05-01T12:00:00.123+0000 info message" (local time with its offset)
//   json: {"ts":"2024-05-01T12:00:00.123Z","level":"info","msg":"message"} (UTC; one object per
//         line; these three fields in this order, always; level is trace|debug|info|warn|error|
//         critical; msg is JSON-escaped, invalid UTF-8 bytes become U+FFFD).
//
// Code elsewhere logs with spdlog::info(...) etc. Never log member demographics (names, birth
// dates, coverage ids): refer to members by member_key.
//
// Threading: logging is thread-safe (mt sinks). SetupLogging, ReopenLogs and SetLogLevel may be
// called from any thread but not from a signal handler: the daemon calls them from its event loop
// (e.g. an asio signal_set for SIGHUP).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/options.h"
#include "core/result.h"

namespace p2p {

inline constexpr std::string_view kLogFileName = "p2p-ingestd.log";

// Replaces the default logger. Logs to stderr when `to_stderr` or when options.dir is empty.
// Uses options.level, format, max_size and max_files (progress_interval is the daemon's).
// Errors: kInvalid for a bad level or a max_size/max_files out of range (as ValidateOptions
// words them), kIo when the directory or file cannot be created ("log.dir: DIR: ...").
Result<void> SetupLogging(const LogOptions& options, bool to_stderr);

// Closes and reopens the log file at its path (after logrotate moved it). A no-op without a file.
// Errors: kIo; logging then goes on to the old file.
Result<void> ReopenLogs();

// Changes the level of the default logger (config reload). Errors: kInvalid for an unknown level.
Result<void> SetLogLevel(std::string_view level);

// The path of the current log file; empty when logging to stderr only.
std::string LogFilePath();

// One JSON log line as the json format writes it, without the trailing newline. Pure; exposed for
// tests. `unix_ms` is milliseconds since the epoch; `level` is written as given.
std::string JsonLogLine(std::int64_t unix_ms, std::string_view level, std::string_view msg);

}  // namespace p2p
