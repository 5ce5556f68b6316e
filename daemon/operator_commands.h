// Internal to the operator CLI (see operator_cli.h): the parsed arguments and one function per
// command. operator_cli.cpp parses and loads the config, operator_report.cpp reads (status,
// members list/show), operator_actions.cpp writes (retry, cancel, enqueue), operator_compact.cpp
// rewrites the NDJSON store (compact).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "config/options.h"
#include "state/state_db.h"

namespace p2p::daemon {

struct OperatorArgs {
  std::string command;  // status | members | retry | cancel | enqueue | export | compact
  std::string sub;      // members: list | show
  std::string target;   // MEMBER_KEY or FILE; "" when not given
  std::string config;
  std::string state;  // --state
  std::string payer;  // --payer
  std::string group;  // --group (export)
  int64_t limit = 100;
  bool show_phi = false;
  bool accept_partial = false;
};

struct OperatorIo {
  std::FILE* out;
  std::FILE* err;
  int64_t now_ms;
};

int CmdStatus(const Options& options, state::StateDb& db, const OperatorIo& io);
int CmdMembersList(const OperatorArgs& a, state::StateDb& db, const OperatorIo& io);
int CmdMembersShow(const OperatorArgs& a, state::StateDb& db, const OperatorIo& io);
int CmdRetry(const OperatorArgs& a, state::StateDb& db, const OperatorIo& io);
int CmdCancel(const OperatorArgs& a, state::StateDb& db, const OperatorIo& io);
// `db` is null when the state DB does not exist yet (nothing taken in: no name clash possible).
// With a PostgreSQL state (db->clustered()) the members go straight into the state, not the inbox.
int CmdEnqueue(const OperatorArgs& a, const Options& options, state::StateDb* db,
               const OperatorIo& io);

// `export --payer ID --group GROUP_ID` (operator_export.cpp). `db` is opened (created) by the caller.
int CmdExport(const OperatorArgs& a, const Options& options, state::StateDb& db,
              const OperatorIo& io);

// `compact` (operator_compact.cpp): the NDJSON store, one line per (payer, id).
int CmdCompact(const Options& options, state::StateDb& db, const OperatorIo& io);

// Prints "state DB: <message>" to io.err; returns kOpExitSoftware.
int DbFailed(const OperatorIo& io, const Error& e);

// "2024-05-01T12:00:03Z"; "-" for 0.
std::string FormatTimeMs(int64_t unix_ms);
// "850ms", "12.3s", "4m05s", "3h12m", "2d04h".
std::string FormatDurationMs(int64_t ms);

}  // namespace p2p::daemon
