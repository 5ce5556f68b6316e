// Operator commands of p2p-ingestd. They read and write the state DB directly (SQLite WAL lets
// them run beside a live daemon, which notices a retry or cancel at its next step), so they work
// whether or not the daemon runs:
//
//   p2p-ingestd status --config FILE
//   p2p-ingestd members list --config FILE [--state S] [--payer P] [--limit N]
//   p2p-ingestd members show MEMBER_KEY --config FILE [--payer P] [--show-phi]
//   p2p-ingestd retry MEMBER_KEY --config FILE [--payer P]
//   p2p-ingestd retry --state failed|cancelled --config FILE [--payer P]
//   p2p-ingestd cancel MEMBER_KEY --config FILE [--payer P]
//   p2p-ingestd enqueue FILE --config FILE [--accept-partial]
//   p2p-ingestd export --payer ID --group GROUP_ID --config FILE
//       queues an export of a known Group outside member matching (creates the state DB when
//       needed); the daemon runs it like a member's export and stores each resource under the
//       member_key of its Patient (pipeline/bulk_match.h). 65 when one is already queued.
//   p2p-ingestd compact --config FILE
//       rewrites each <Type>.ndjson of the NDJSON store to one line per (payer, id), last wins,
//       deleted resources dropped; one summary line per type. Needs the store's lock: refused
//       (75) while the daemon runs. Nothing to do for the SQLite store.
//
// Exit codes (sysexits.h):
//   0   ok
//   64  usage: unknown command or option, missing argument (EX_USAGE)
//   65  data error: an enqueue file with bad rows (without --accept-partial), no good rows or a
//       name already taken in; a retry/cancel target in a state the command does not apply to
//       (EX_DATAERR)
//   66  no such member (no job for MEMBER_KEY), or the enqueue FILE cannot be read (EX_NOINPUT)
//   70  internal: the state DB, the store or the inbox failed, or the state DB does not exist yet
//       (EX_SOFTWARE)
//   75  compact: the store is in use by another process (a running daemon) (EX_TEMPFAIL)
//   78  bad config (EX_CONFIG)
//
// PHI: output names members by member_key and payer only. `members show --show-phi` adds the
// source row and the prior payer's member identifier; nothing else ever prints them.
// Secrets are not needed (the config's secret sources are not read), so an operator shell without
// $CREDENTIALS_DIRECTORY or the secret's environment variable can run every command.
//
// Threading: none; one call runs one command to completion.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace p2p::daemon {

inline constexpr int kOpExitOk = 0;
inline constexpr int kOpExitUsage = 64;
inline constexpr int kOpExitDataErr = 65;
inline constexpr int kOpExitNoMember = 66;
inline constexpr int kOpExitSoftware = 70;
inline constexpr int kOpExitTempFail = 75;
inline constexpr int kOpExitConfig = 78;

// True for the command names RunOperatorCommand handles: status, members, retry, cancel, enqueue,
// export, compact.
bool IsOperatorCommand(std::string_view name);

// Usage lines of the operator commands (for the daemon's --help).
const char* OperatorUsageText();

// Runs one command. args[0] is the command name (argv[1] of the process); normal output goes to
// `out`, problems to `err`. Returns the exit code (see above).
int RunOperatorCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

// Same with an explicit clock (unix ms) for deadlines and transition times; tests use it.
int RunOperatorCommandAt(const std::vector<std::string>& args, std::FILE* out, std::FILE* err,
                         int64_t now_ms);

}  // namespace p2p::daemon
