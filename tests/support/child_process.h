// Child processes for integration tests.
//
// ChildProcess starts a server binary (p2p-sandbox, p2p-ingestd) with arguments, waits for its
// first stdout line (e.g. `listening on http://127.0.0.1:41234`) with a timeout, and in its
// destructor sends SIGTERM, waits up to 5 s, then SIGKILLs and reaps it. stderr goes to a file
// when `stderr_path` is set (read it with ReadFile), else it is inherited.
// RunCommand runs a short-lived command to completion and captures stdout, stderr and the code.
//
// Not thread-safe: one owner per ChildProcess. POSIX only (fork/exec, poll, waitpid).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace p2p::testing {

struct ChildOptions {
  std::string stderr_path;                              // empty: inherit the test's stderr
  std::chrono::milliseconds start_timeout{10'000};      // for the first stdout line
  std::vector<std::string> extra_env;                   // "NAME=value", added to the environment
  bool wait_for_first_line = true;                      // false: Start returns at once
};

class ChildProcess {
 public:
  // Starts `binary` with `args` (argv[1..]). Returns nullptr and sets *error (with the child's
  // exit status when it died early) when exec fails or no line arrives in time.
  static std::unique_ptr<ChildProcess> Start(const std::string& binary,
                                             const std::vector<std::string>& args,
                                             std::string* error, ChildOptions options = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The first stdout line without its newline.
  const std::string& first_line() const { return first_line_; }
  // For "listening on URL": URL (e.g. "http://127.0.0.1:41234"); else empty.
  std::string ListeningUrl() const;

  // Next stdout line (without newline), nullopt on timeout or EOF.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  void Signal(int signal_number);
  // Waits for the exit: the exit code, or 128 + signal when killed; nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool running() const { return !exited_; }

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;  // stdout bytes after the last returned line
  std::string first_line_;
  bool exited_ = false;
  int exit_code_ = 0;
};

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed; -1 when it could not run or timed out
  std::string out;
  std::string err;
};
CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Whole file as a string ("" when unreadable).
std::string ReadFile(const std::string& path);

}  // namespace p2p::testing
