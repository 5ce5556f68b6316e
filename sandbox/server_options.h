// Command line of p2p-sandbox. Two commands:
//   p2p-sandbox [serve] --listen HOST:PORT --members N --seed S --flavor 1up|bulk-v2
//       --faults SPEC --tls-cert F --tls-key F --tls-client-ca F --public-base URL --client ID:SECRET (repeatable)
//       --clients FILE --client-jwks ID:FILE (repeatable) --tenant NAME (repeatable; bison always) --job-delay DUR
//       --resource-scale K --token-ttl SECONDS --throttle BYTES_PER_SEC --hrex lenient|1.1
//   p2p-sandbox roster --members N --seed S --out DIR [--payer bison]
// ParseCommandLine is pure except that --clients reads its file. On a bad flag it returns
// nullopt with *error set to a one-line message; main prints it and exits 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "export_variants.h"
#include "fault_spec.h"
#include "hrex_consent.h"
#include "lifecycle_data.h"
#include "synth.h"

namespace p2p::sandbox {

enum class Flavor { k1up, kBulkV2 };

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  SynthOptions synth;                     // --members (50), --seed (1), --resource-scale (1)
  Flavor flavor = Flavor::k1up;
  FaultSpec faults;                       // none by default
  std::string tls_cert;                   // both or neither
  std::string tls_key;
  std::string tls_client_ca;              // --tls-client-ca: require a client cert signed by it
  std::string public_base;                // empty: scheme://listen-host:actual-port
  std::vector<std::pair<std::string, std::string>> clients;  // empty: sandbox-client/secret
  // --client-jwks ID:FILE (repeatable): private_key_jwt client ID with the public keys of the JWK
  // set in FILE (held here as the file's text; checked when parsed).
  std::vector<std::pair<std::string, std::string>> client_jwks;
  std::vector<std::string> tenants{"bison"};
  std::chrono::milliseconds job_delay{1000};
  int64_t token_ttl_seconds = 3600;
  uint64_t throttle_bytes_per_second = 0;  // 0: unlimited
  // --group NAME:MEMBER_KEY,MEMBER_KEY... (repeatable): a known multi-member Group NAME (a FHIR
  // id) exportable with Group/NAME/$export (bulk_match.h); unknown member keys are left out.
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  // --updates-per-export K, --deleted-files N (lifecycle_data.h).
  LifecycleOptions lifecycle;
  // --error-files N, --requires-token, --manifest-page-size N, --file-expires DUR,
  // --match-answer (export_variants.h).
  VariantOptions variants;
  // --hrex lenient|1.1: how strictly the $member-match Consent is read (hrex_consent.h).
  HrexMode hrex = HrexMode::kLenient;
};

struct RosterOptions {
  SynthOptions synth;
  std::string out_dir;
  std::string payer = "bison";
};

struct CommandLine {
  enum class Command { kServe, kRoster, kHelp } command = Command::kServe;
  ServerOptions serve;
  RosterOptions roster;
};

std::optional<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                            std::string* error);

extern const char kUsage[];

}  // namespace p2p::sandbox
