// `p2p-ingestd probe --config FILE [--payer ID]`: runs pipeline/probe.h's checks for every
// configured payer (or the one named) on one io_context and prints one line per check:
//
//   payer bison (https://payer.example/v1/bison)
//     ok    tls payer.example:443        41ms  TLSv1.3; subject CN=payer.example; issuer ...
//     ok    token                        85ms  access token granted (client_secret_post to ...)
//     warn  metadata                     60ms  FHIR 4.0.1; $member-match no (used by ...); ...
//   bison: 3 checks: 2 ok, 1 warning, 0 failed, 0 skipped
//
// Exit codes: 0 when no check failed (warnings and skips allowed), 1 when one did, 64 for an
// unknown --payer (EX_USAGE). A bad configuration (78) is reported by the caller, as for
// check-config. Output never holds the client secret, a key or a token.
// Threading: none of its own; one call runs the probe to completion.
#pragma once

#include <cstdio>
#include <string>

#include "config/options.h"

namespace p2p::daemon {

inline constexpr int kProbeExitFailed = 1;

int RunProbe(const Options& options, const std::string& payer_id, std::FILE* out, std::FILE* err);

}  // namespace p2p::daemon
