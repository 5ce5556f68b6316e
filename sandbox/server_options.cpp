#include "server_options.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "jwt_verify.h"
#include "text_util.h"

namespace p2p::sandbox {

const char kUsage[] =
    "usage: p2p-sandbox [serve] [--listen HOST:PORT] [--members N] [--seed S]\n"
    "                   [--flavor 1up|bulk-v2] [--faults SPEC] [--tls-cert F --tls-key F]\n"
    "                   [--tls-client-ca F]\n"
    "                   [--public-base URL] [--client ID:SECRET]... [--clients FILE]\n"
    "                   [--client-jwks ID:JWKS_FILE]...\n"
    "                   [--tenant NAME]... [--job-delay DUR] [--resource-scale K]\n"
    "                   [--token-ttl SECONDS] [--throttle BYTES_PER_SEC]\n"
    "                   [--group NAME:MEMBER_KEY,MEMBER_KEY...]...\n"
    "                   [--updates-per-export K] [--deleted-files N]\n"
    "                   [--error-files N] [--requires-token true|false]\n"
    "                   [--manifest-page-size N] [--file-expires DUR]\n"
    "                   [--match-answer full|identifier-only] [--hrex lenient|1.1]\n"
    "       p2p-sandbox roster --members N --seed S --out DIR [--payer NAME]\n";

namespace {

std::optional<uint64_t> ParseUnsigned(const std::string& text, uint64_t max) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (*end != '\0' || errno != 0 || value > max) return std::nullopt;
  return value;
}

bool ParseClient(const std::string& text, std::pair<std::string, std::string>* out) {
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  *out = {text.substr(0, colon), text.substr(colon + 1)};
  return true;
}

bool ParseListen(const std::string& text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  std::string h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto p = ParseUnsigned(text.substr(colon + 1), 65535);
  if (h.empty() || !p) return false;
  *host = h;
  *port = static_cast<uint16_t>(*p);
  return true;
}

bool ValidTenant(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::optional<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                            std::string* error) {
  CommandLine cl;
  size_t i = 0;
  if (i < args.size() && args[i] == "serve") {
    ++i;
  } else if (i < args.size() && args[i] == "roster") {
    cl.command = CommandLine::Command::kRoster;
    ++i;
  }
  bool roster = cl.command == CommandLine::Command::kRoster;
  SynthOptions& synth = roster ? cl.roster.synth : cl.serve.synth;
  ServerOptions& s = cl.serve;
  auto fail = [&](const std::string& message) {
    *error = message;
    return std::nullopt;
  };
  for (; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_inline = false;
    if (size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
      has_inline = true;
    }
    if (flag == "--help" || flag == "-h") {
      cl.command = CommandLine::Command::kHelp;
      return cl;
    }
    if (flag.rfind("--", 0) != 0) return fail("unexpected argument \"" + flag + "\"");
    if (!has_inline) {
      if (i + 1 >= args.size()) return fail(flag + ": missing value");
      value = args[++i];
    }
    auto bad = [&](const std::string& why) { return fail(flag + ": " + why); };
    if (flag == "--members") {
      auto v = ParseUnsigned(value, 100'000'000);
      if (!v || *v == 0) return bad("expected a member count 1..100000000");
      synth.members = *v;
    } else if (flag == "--seed") {
      auto v = ParseUnsigned(value, UINT64_MAX);
      if (!v) return bad("expected an unsigned integer");
      synth.seed = *v;
    } else if (roster && flag == "--out") {
      cl.roster.out_dir = value;
    } else if (roster && flag == "--payer") {
      if (!ValidTenant(value)) return bad("expected a name of [A-Za-z0-9._-]");
      cl.roster.payer = value;
    } else if (roster) {
      return fail("roster: unknown flag " + flag);
    } else if (flag == "--listen") {
      if (!ParseListen(value, &s.host, &s.port)) return bad("expected HOST:PORT");
    } else if (flag == "--resource-scale") {
      auto v = ParseUnsigned(value, 1'000'000);
      if (!v || *v == 0) return bad("expected a scale 1..1000000");
      synth.resource_scale = static_cast<uint32_t>(*v);
    } else if (flag == "--hrex") {
      if (value == "lenient") s.hrex = HrexMode::kLenient;
      else if (value == "1.1") s.hrex = HrexMode::kStrict11;
      else return bad("expected lenient or 1.1");
    } else if (flag == "--flavor") {
      if (value == "1up") s.flavor = Flavor::k1up;
      else if (value == "bulk-v2") s.flavor = Flavor::kBulkV2;
      else return bad("expected 1up or bulk-v2");
    } else if (flag == "--faults") {
      std::string why;
      auto spec = ParseFaultSpec(value, &why);
      if (!spec) return bad(why);
      s.faults = *spec;
    } else if (flag == "--tls-cert") {
      s.tls_cert = value;
    } else if (flag == "--tls-key") {
      s.tls_key = value;
    } else if (flag == "--tls-client-ca") {
      s.tls_client_ca = value;
    } else if (flag == "--public-base") {
      if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) {
        return bad("expected an http:// or https:// URL");
      }
      while (!value.empty() && value.back() == '/') value.pop_back();
      s.public_base = value;
    } else if (flag == "--client") {
      std::pair<std::string, std::string> client;
      if (!ParseClient(value, &client)) return bad("expected ID:SECRET");
      s.clients.push_back(client);
    } else if (flag == "--clients") {
      std::ifstream in(value);
      if (!in) return bad("cannot read " + value);
      std::string line;
      int line_no = 0;
      while (std::getline(in, line)) {
        ++line_no;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        std::pair<std::string, std::string> client;
        if (!ParseClient(line, &client)) {
          return fail(value + ":" + std::to_string(line_no) + ": expected ID:SECRET");
        }
        s.clients.push_back(client);
      }
    } else if (flag == "--client-jwks") {
      std::pair<std::string, std::string> client;
      if (!ParseClient(value, &client)) return bad("expected ID:JWKS_FILE");
      std::ifstream in(client.second);
      if (!in) return bad("cannot read " + client.second);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::string why;
      if (!ParsePublicJwks(text, &why)) return bad(client.second + ": " + why);
      s.client_jwks.emplace_back(client.first, std::move(text));
    } else if (flag == "--tenant") {
      if (!ValidTenant(value)) return bad("expected a name of [A-Za-z0-9._-]");
      s.tenants.push_back(value);
    } else if (flag == "--updates-per-export" || flag == "--deleted-files") {
      auto v = ParseUnsigned(value, 1000);
      if (!v) return bad("expected a count 0..1000");
      (flag == "--deleted-files" ? s.lifecycle.deleted_files : s.lifecycle.updates_per_export) =
          static_cast<uint32_t>(*v);
    } else if (flag == "--job-delay") {
      auto d = ParseDuration(value);
      if (!d) return bad("expected a duration such as 50ms or 1s");
      s.job_delay = *d;
    } else if (flag == "--token-ttl") {
      auto v = ParseUnsigned(value, 10'000'000);
      if (!v || *v == 0) return bad("expected seconds 1..10000000");
      s.token_ttl_seconds = static_cast<int64_t>(*v);
    } else if (flag == "--group") {
      const size_t colon = value.find(':');
      if (colon == std::string::npos || colon == 0 || colon > 64 || colon + 1 == value.size() ||
          !ValidTenant(value.substr(0, colon)) || value.substr(0, colon).find('_') != std::string::npos) {
        return bad("expected NAME:MEMBER_KEY,MEMBER_KEY... (NAME a FHIR id)");
      }
      std::vector<std::string> keys;
      for (size_t at = colon + 1; at <= value.size();) {
        const size_t comma = std::min(value.find(',', at), value.size());
        if (comma > at) keys.push_back(value.substr(at, comma - at));
        at = comma + 1;
      }
      s.groups.emplace_back(value.substr(0, colon), std::move(keys));
    } else if (std::string why; ParseVariantFlag(flag, value, &s.variants, &why) !=
                                VariantFlag::kNotMine) {
      if (!why.empty()) return bad(why);  // export variants (export_variants.h)
    } else if (flag == "--throttle") {
      auto v = ParseUnsigned(value, UINT64_MAX);
      if (!v) return bad("expected bytes per second");
      s.throttle_bytes_per_second = *v;
    } else {
      return fail("unknown flag " + flag);
    }
  }
  if (roster && cl.roster.out_dir.empty()) return fail("roster: --out DIR is required");
  if (s.tls_cert.empty() != s.tls_key.empty()) {
    return fail("--tls-cert and --tls-key go together");
  }
  if (!s.tls_client_ca.empty() && s.tls_cert.empty()) {
    return fail("--tls-client-ca needs --tls-cert and --tls-key");
  }
  if (s.clients.empty()) s.clients.emplace_back("sandbox-client", "sandbox-secret");
  return cl;
}

}  // namespace p2p::sandbox
