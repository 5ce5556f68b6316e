// Configuration loading: YAML text -> Options, with every problem reported at once.
//
// Stages (each usable on its own, which is how the tests drive them):
//   1. DecodeOptions: YAML text -> Options plus a key-path -> line map. Reports syntax errors,
//   wrong
//      types, unknown keys and inline secrets. Pure.
//   2. ValidateOptions: Options -> problems (required keys, ranges, URLs, ids). Pure.
//   3. ResolveSecrets (and ResolvePrivateKeys): reads each secret through an Env (environment,
//      files, systemd credentials).
// ParseOptions runs all three and turns the problems into one kInvalid error whose message is the
// problems joined by "\n", each "FILE:LINE: key.path: problem", sorted by line. LINE is 1-based;
// a missing key is reported at the line of its parent key (line 1 for top-level keys). A valid
// configuration may still carry warnings (WarnOptions), formatted the same way, in
// Options::warnings.
//
// Secrets: a secret's value never appears in a message or in DescribeOptions. Relative paths
// (state.path, state.migrations_dir, store.path, log.dir, source.path, *_file) are resolved
// against the config file's directory.
//
// Threading: none; all functions are reentrant. Env implementations must be safe to call from the
// loading thread only.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/options.h"
#include "core/result.h"

namespace p2p {

// Where secrets come from. The real one (SystemEnv) reads getenv and the file system; tests fake
// it.
class Env {
 public:
  virtual ~Env() = default;
  // nullopt when the variable is not set.
  virtual std::optional<std::string> GetEnv(const std::string& name) const = 0;
  // The whole file. Errors (kIo), messages without the path: "cannot read: <strerror>",
  // "is readable by group or others (chmod 600)".
  virtual Result<std::string> ReadSecretFile(const std::string& path) const = 0;
};

class SystemEnv : public Env {
 public:
  std::optional<std::string> GetEnv(const std::string& name) const override;
  Result<std::string> ReadSecretFile(const std::string& path) const override;
};

struct ConfigProblem {
  std::string path;     // key path, e.g. "payers[0].limits.concurrency"; "" for the whole document
  std::string message;  // e.g. "must be 1..256"
  int line = 0;         // 1-based; 0 = not known (ParseOptions looks it up by path)
};

// Key path -> 1-based line of the key ("payers[1]" -> line of the list item).
using ConfigLines = std::map<std::string, int, std::less<>>;

struct DecodedOptions {
  Options options;
  ConfigLines lines;
  std::vector<ConfigProblem> problems;  // with lines
};

// Stage 1. Never throws: a YAML syntax error becomes a problem with path "yaml". Relative paths are
// resolved against `base_dir` (empty: left as they are). Defaults that depend on other keys
// (payer name, trusted_hosts) are filled in.
DecodedOptions DecodeOptions(std::string_view yaml_text, const std::string& base_dir);

// Stage 2. Pure; problems carry no line.
std::vector<ConfigProblem> ValidateOptions(const Options& options);
// Advice on a valid configuration, which does not stop the daemon (a missing self.identifier or
// payers[].identifier). Pure; warnings carry no line. ParseOptions puts them, formatted as
// problems are, into Options::warnings.
std::vector<ConfigProblem> WarnOptions(const Options& options);

// Stage 3. Fills auth.client_secret and status.token for every source that is set alone; problems
// carry no line. Reads nothing for a payer whose secret source is missing or ambiguous.
std::vector<ConfigProblem> ResolveSecrets(Options& options, const Env& env);
// Also stage 3: the private_key_jwt signing key of each such payer (auth.private_key), the PEM or
// JWK set text from the one source that is set, read with the secret-file checks (the token
// cache parses it). Problems carry no line.
std::vector<ConfigProblem> ResolvePrivateKeys(Options& options, const Env& env);

// All stages. `file_name_for_messages` prefixes every message; its directory is the base for
// relative paths. Errors: kInvalid with every problem (see above).
Result<Options> ParseOptions(std::string_view yaml_text, const std::string& file_name_for_messages,
                             const Env& env);

// Reads `path` and parses it with SystemEnv; relative paths become absolute, and an absent
// instance.id becomes the host name. Errors: kIo when the file cannot be read ("FILE: cannot
// read: ..."); kInvalid when the host name is no valid instance.id ("FILE:1: instance.id: ...");
// else as ParseOptions.
Result<Options> LoadOptions(const std::string& path);

// instance.id's shape: 1 to 64 of A-Z a-z 0-9 _ . -, and not "." or ".." (it names a directory).
bool ValidInstanceId(std::string_view id);

// A few lines for `check-config`: every setting in effect, secrets shown only by their source.
std::string DescribeOptions(const Options& options);

}  // namespace p2p
