// libFuzzer target: the YAML configuration (lib/config/config.h), all stages: DecodeOptions,
// ValidateOptions, and ParseOptions with an in-memory Env (no environment, no files), so that
// secret resolution runs too. Operators write this file, but it is still text from outside the
// program: nothing in it may crash the daemon or throw out of "never throws" functions.
// Invariants checked: a decode problem's line is 0 or within the text, ParseOptions' error is
// kInvalid with a non-empty message, and no secret value from the Env appears in that message.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace {

constexpr std::string_view kSecret = "fuzz-secret-value-7c1e";

// Every variable is set and every secret file readable, both holding kSecret.
class FakeEnv : public p2p::Env {
 public:
  std::optional<std::string> GetEnv(const std::string& /*name*/) const override {
    return std::string(kSecret);
  }
  p2p::Result<std::string> ReadSecretFile(const std::string& /*path*/) const override {
    return std::string(kSecret);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const int max_line = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  const p2p::DecodedOptions decoded = p2p::DecodeOptions(text, "/etc/p2p-ingest");
  for (const p2p::ConfigProblem& p : decoded.problems) {
    if (p.line < 0 || p.line > max_line || p.message.empty()) std::abort();
  }
  (void)p2p::ValidateOptions(decoded.options);
  const FakeEnv env;
  const p2p::Result<p2p::Options> parsed =
      p2p::ParseOptions(text, "/etc/p2p-ingest/p2p-ingest.yaml", env);
  if (!parsed.ok()) {
    if (parsed.error().kind != p2p::ErrorKind::kInvalid || parsed.error().message.empty()) {
      std::abort();
    }
    // (unless the text itself holds it, e.g. as an unknown key that the message names)
    if (text.find(kSecret) == std::string_view::npos &&
        parsed.error().message.find(kSecret) != std::string::npos) {
      std::abort();
    }
  }
  return 0;
}
