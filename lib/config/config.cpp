// Stage 1 (YAML -> Options) and the two entry points. yaml-cpp throws: every call into it is under
// the one try in DecodeOptions.
#include "config/config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <set>
#include <sstream>

#include "core/duration.h"

namespace p2p {
namespace {

std::optional<std::int64_t> ParseSize(std::string_view s) {
  std::int64_t unit = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K':
        unit = 1LL << 10;
        break;
      case 'M':
        unit = 1LL << 20;
        break;
      case 'G':
        unit = 1LL << 30;
        break;
      default:
        break;
    }
    if (unit != 1) s.remove_suffix(1);
  }
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || s.front() == '-' || end != s.data() + s.size() ||
      (ec != std::errc() && ec != std::errc::result_out_of_range)) {
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range || n > INT64_MAX / unit) return INT64_MAX;
  return n * unit;
}

int LineOf(const YAML::Mark& mark) { return mark.is_null() ? 1 : mark.line + 1; }

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// One key of a mapping: how to read its value. The value is never null when `read` is called
// (a null value counts as the key being absent).
struct Field {
  std::string_view key;
  std::function<void(const YAML::Node& value, const std::string& path)> read;
};

// A key that is refused with a fixed message (inline secrets).
struct Forbidden {
  std::string_view key;
  std::string_view message;
};

class Decoder {
 public:
  Decoder(DecodedOptions& out, std::string base_dir) : out_(out), base_dir_(std::move(base_dir)) {}

  void Problem(const YAML::Node& node, const std::string& path, std::string message) {
    out_.problems.push_back({path, std::move(message), LineOf(node.Mark())});
  }

  // Reads a mapping's keys through `fields`; anything else is an unknown key.
  void Mapping(const YAML::Node& node, const std::string& path, std::initializer_list<Field> fields,
               std::initializer_list<Forbidden> forbidden = {}) {
    if (!node.IsMap()) return Problem(node, path, "expected a mapping");
    std::set<std::string, std::less<>> seen;
    for (const auto& entry : node) {
      const YAML::Node& key_node = entry.first;
      const YAML::Node& value = entry.second;
      if (!key_node.IsScalar()) {
        Problem(key_node, path, "expected a string key");
        continue;
      }
      const std::string& key = key_node.Scalar();
      const std::string key_path = Join(path, key);
      if (!seen.insert(key).second) {
        Problem(key_node, key_path, "duplicate key");
        continue;
      }
      auto bad = std::find_if(forbidden.begin(), forbidden.end(),
                              [&](const Forbidden& f) { return f.key == key; });
      if (bad != forbidden.end()) {
        Problem(key_node, key_path, std::string(bad->message));
        continue;
      }
      auto field =
          std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.key == key; });
      if (field == fields.end()) {
        Problem(key_node, key_path, "unknown key");
        continue;
      }
      out_.lines[key_path] = LineOf(key_node.Mark());
      if (value.IsNull()) continue;
      field->read(value, key_path);
    }
  }

  // Scalar readers: each leaves `*out` alone on a problem.
  auto String(std::string* out) {
    return [this, out](const YAML::Node& v, const std::string& path) {
      if (!v.IsScalar()) return Problem(v, path, "expected a string");
      *out = v.Scalar();
    };
  }
  auto Path(std::string* out) {
    return [this, out](const YAML::Node& v, const std::string& path) {
      if (!v.IsScalar()) return Problem(v, path, "expected a string");
      *out = ResolvePath(v.Scalar());
    };
  }
  auto Int(int* out) {
    return [this, out](const YAML::Node& v, const std::string& path) {
      long long n = 0;
      const std::string& s = v.IsScalar() ? v.Scalar() : std::string();
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (!v.IsScalar() || s.empty() || end != s.data() + s.size() ||
          (ec != std::errc() && ec != std::errc::result_out_of_range)) {
        return Problem(v, path, "expected an integer");
      }
      // Out of int range: saturate so that ValidateOptions reports the range.
      if (ec == std::errc::result_out_of_range) n = s[0] == '-' ? LLONG_MIN : LLONG_MAX;
      *out = static_cast<int>(std::clamp<long long>(n, INT_MIN, INT_MAX));
    };
  }
  auto Number(double* out) {
    return [this, out](const YAML::Node& v, const std::string& path) {
      double d = 0;
      const std::string& s = v.IsScalar() ? v.Scalar() : std::string();
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (!v.IsScalar() || s.empty() || ec != std::errc() || end != s.data() + s.size()) {
        return Problem(v, path, "expected a number");
      }
      *out = d;
    };
  }
  auto Bool(bool* out) {
    return [this, out](const YAML::Node& v, const std::string& path) {
      const std::string s = v.IsScalar() ? v.Scalar() : std::string();
      if (s == "true") {
        *out = true;
      } else if (s == "false") {
        *out = false;
      } else {
        Problem(v, path, "expected true or false");
      }
    };
  }
  auto Duration(Millis* out) {
    return [this, out](const YAML::Node& v, const std::string& path) {
      std::optional<Millis> d = v.IsScalar() ? ParseDuration(v.Scalar()) : std::nullopt;
      if (!d) return Problem(v, path, "expected a duration such as 500ms, 10s, 5m, 24h or 1d");
      *out = *d;
    };
  }
  // Bytes: digits with an optional K, M or G suffix (powers of 1024). Too large saturates, so that
  // ValidateOptions reports the range.
  auto Size(std::int64_t* out) {
    return [this, out](const YAML::Node& v, const std::string& path) {
      std::optional<std::int64_t> bytes = v.IsScalar() ? ParseSize(v.Scalar()) : std::nullopt;
      if (!bytes) return Problem(v, path, "expected a size such as 512K, 10M or 1G");
      *out = *bytes;
    };
  }
  auto StringList(std::vector<std::string>* out) {
    return [this, out](const YAML::Node& v, const std::string& path) {
      if (!v.IsSequence()) return Problem(v, path, "expected a list");
      out->clear();
      for (std::size_t i = 0; i < v.size(); ++i) {
        const YAML::Node item = v[i];
        const std::string item_path = path + "[" + std::to_string(i) + "]";
        out_.lines[item_path] = LineOf(item.Mark());
        if (!item.IsScalar()) {
          Problem(item, item_path, "expected a string");
          continue;
        }
        out->push_back(item.Scalar());
      }
    };
  }
  // An enum: `choices` maps the accepted spellings; `expected` is the problem text otherwise.
  template <typename E>
  auto Enum(E* out, std::initializer_list<std::pair<std::string_view, E>> choices,
            const std::string& expected) {
    std::vector<std::pair<std::string_view, E>> table(choices);
    return [this, out, table, expected](const YAML::Node& v, const std::string& path) {
      const std::string s = v.IsScalar() ? v.Scalar() : std::string();
      for (const auto& [name, value] : table) {
        if (v.IsScalar() && s == name) {
          *out = value;
          return;
        }
      }
      Problem(v, path, expected);
    };
  }

  // identifier: {system, value}.
  auto Identifier(PlanIdentifier* out) {
    return [this, out](const YAML::Node& v, const std::string& path) {
      Mapping(v, path, {{"system", String(&out->system)}, {"value", String(&out->value)}});
    };
  }

  void Payers(const YAML::Node& v, const std::string& path, std::vector<PayerOptions>* payers);

 private:
  std::string ResolvePath(const std::string& p) const {
    if (p.empty() || base_dir_.empty()) return p;
    std::filesystem::path fp(p);
    if (fp.is_absolute()) return p;
    return (std::filesystem::path(base_dir_) / fp).lexically_normal().string();
  }

  DecodedOptions& out_;
  std::string base_dir_;
};

constexpr std::string_view kInlineSecret =
    "secrets are not allowed inline; use client_secret_file, client_secret_env or "
    "client_secret_credential";
constexpr std::string_view kInlineKey =
    "keys are not allowed inline; use private_key_file, private_key_credential or jwks_file";
constexpr std::string_view kInlineToken =
    "secrets are not allowed inline; use token_file, token_env or token_credential";
constexpr std::string_view kInlinePassword =
    "secrets are not allowed inline; use password_file, password_env or password_credential";

void Decoder::Payers(const YAML::Node& v, const std::string& path,
                     std::vector<PayerOptions>* payers) {
  if (!v.IsSequence()) return Problem(v, path, "expected a list");
  payers->assign(v.size(), PayerOptions{});
  for (std::size_t i = 0; i < v.size(); ++i) {
    const YAML::Node item = v[i];
    const std::string p = path + "[" + std::to_string(i) + "]";
    out_.lines[p] = LineOf(item.Mark());
    PayerOptions& payer = (*payers)[i];
    AuthOptions& auth = payer.auth;
    Mapping(item, p,
            {
                {"id", String(&payer.id)},
                {"name", String(&payer.name)},
                {"identifier", Identifier(&payer.identifier)},
                {"base_url", String(&payer.base_url)},
                {"member_match_path", String(&payer.member_match_path)},
                {"export_path", String(&payer.export_path)},
                {"auth",
                 [&](const YAML::Node& a, const std::string& ap) {
                   Mapping(a, ap,
                           {
                               {"method",
                                Enum(&auth.method,
                                     {{"client_secret_post", AuthMethod::kClientSecretPost},
                                      {"client_secret_basic", AuthMethod::kClientSecretBasic},
                                      {"private_key_jwt", AuthMethod::kPrivateKeyJwt}},
                                     "must be client_secret_post, client_secret_basic or "
                                     "private_key_jwt")},
                               {"token_url", String(&auth.token_url)},
                               {"client_id", String(&auth.client_id)},
                               {"client_secret_file", Path(&auth.client_secret_file)},
                               {"client_secret_env", String(&auth.client_secret_env)},
                               {"client_secret_credential", String(&auth.client_secret_credential)},
                               {"scope", String(&auth.scope)},
                               {"private_key_file", Path(&auth.private_key_file)},
                               {"private_key_credential", String(&auth.private_key_credential)},
                               {"jwks_file", Path(&auth.jwks_file)},
                               {"key_id", String(&auth.key_id)},
                               {"algorithm", Enum(&auth.algorithm,
                                                  {{"RS384", JwtAlgorithm::kRs384},
                                                   {"ES384", JwtAlgorithm::kEs384}},
                                                  "must be RS384 or ES384")},
                               {"jku", String(&auth.jku)},
                               {"discover", Bool(&auth.discover)},
                           },
                           {{"client_secret", kInlineSecret}, {"private_key", kInlineKey}});
                 }},
                {"trusted_hosts", StringList(&payer.trusted_hosts)},
                {"allow_insecure_http", Bool(&payer.allow_insecure_http)},
                {"tls",
                 [&](const YAML::Node& n, const std::string& np) {
                   Mapping(n, np,
                           {
                               {"ca_file", Path(&payer.tls.ca_file)},
                               {"client_cert", Path(&payer.tls.client_cert)},
                               {"client_key", Path(&payer.tls.client_key)},
                           });
                 }},
                {"limits",
                 [&](const YAML::Node& n, const std::string& np) {
                   Mapping(n, np,
                           {
                               {"concurrency", Int(&payer.limits.concurrency)},
                               {"requests_per_second", Number(&payer.limits.requests_per_second)},
                               {"max_throttle_wait", Duration(&payer.limits.max_throttle_wait)},
                           });
                 }},
                {"retry",
                 [&](const YAML::Node& n, const std::string& np) {
                   Mapping(n, np,
                           {
                               {"max_attempts", Int(&payer.retry.max_attempts)},
                               {"base_delay", Duration(&payer.retry.base_delay)},
                               {"max_delay", Duration(&payer.retry.max_delay)},
                               {"give_up_after", Duration(&payer.retry.give_up_after)},
                           });
                 }},
                {"poll",
                 [&](const YAML::Node& n, const std::string& np) {
                   Mapping(n, np,
                           {
                               {"min_interval", Duration(&payer.poll.min_interval)},
                               {"max_interval", Duration(&payer.poll.max_interval)},
                               {"timeout", Duration(&payer.poll.timeout)},
                           });
                 }},
                {"export",
                 [&](const YAML::Node& n, const std::string& np) {
                   Mapping(n, np,
                           {
                               {"max_rekicks", Int(&payer.export_job.max_rekicks)},
                               {"max_expired_rekicks", Int(&payer.export_job.max_expired_rekicks)},
                               {"cancel_with_delete", Bool(&payer.export_job.cancel_with_delete)},
                               {"operation",
                                Enum(&payer.export_job.operation,
                                     {{"group-export", ExportOperation::kGroupExport},
                                      {"davinci-data-export", ExportOperation::kDavinciDataExport},
                                      {"patient-export", ExportOperation::kPatientExport}},
                                     "must be group-export, davinci-data-export or "
                                     "patient-export")},
                               {"davinci_path", String(&payer.export_job.davinci_path)},
                               {"patient_path", String(&payer.export_job.patient_path)},
                               {"types", StringList(&payer.export_job.types)},
                               {"type_filters", StringList(&payer.export_job.type_filters)},
                           });
                 }},
                {"download",
                 [&](const YAML::Node& n, const std::string& np) {
                   Mapping(n, np, {{"accept_gzip", Bool(&payer.download.accept_gzip)}});
                 }},
                {"match",
                 [&](const YAML::Node& n, const std::string& np) {
                   Mapping(n, np,
                           {
                               {"mode", Enum(&payer.match.mode,
                                             {{"single", MatchMode::kSingle},
                                              {"bulk", MatchMode::kBulk}},
                                             "must be single or bulk")},
                               {"bulk_path", String(&payer.match.bulk_path)},
                               {"batch_size", Int(&payer.match.batch_size)},
                               {"batch_wait", Duration(&payer.match.batch_wait)},
                           });
                 }},
                {"request_timeout", Duration(&payer.request_timeout)},
            });
  }
}

// "https://Host:8443/x" -> "host"; "" when there is no authority.
std::string HostOf(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (!rest.empty() && rest.front() == '[') {
    rest = rest.substr(1, rest.find(']') == std::string_view::npos ? 0 : rest.find(']') - 1);
  } else {
    rest = rest.substr(0, rest.find(':'));
  }
  std::string host(rest);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return host;
}

void FillDerivedDefaults(Options& options) {
  for (PayerOptions& payer : options.payers) {
    if (payer.name.empty()) payer.name = payer.id;
    for (std::string& host : payer.trusted_hosts) {
      std::transform(host.begin(), host.end(), host.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    }
    if (payer.trusted_hosts.empty()) {
      std::string host = HostOf(payer.base_url);
      if (!host.empty()) payer.trusted_hosts.push_back(std::move(host));
    }
  }
}

// The line for a problem without one: its key's, else its nearest ancestor's, else 1.
int LookUpLine(const ConfigLines& lines, std::string path) {
  while (!path.empty()) {
    if (auto it = lines.find(path); it != lines.end()) return it->second;
    auto cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return 1;
}

// Problems (or warnings) as "FILE:LINE: key.path: message", sorted by line.
std::vector<std::string> Format(std::vector<ConfigProblem> problems, const ConfigLines& lines,
                                const std::string& file) {
  for (ConfigProblem& p : problems) {
    if (p.line == 0) p.line = LookUpLine(lines, p.path);
  }
  std::stable_sort(problems.begin(), problems.end(),
                   [](const ConfigProblem& a, const ConfigProblem& b) { return a.line < b.line; });
  std::vector<std::string> out;
  for (const ConfigProblem& p : problems) {
    std::string line = file + ":" + std::to_string(p.line) + ": ";
    if (!p.path.empty()) line += p.path + ": ";
    out.push_back(line + p.message);
  }
  return out;
}

}  // namespace

DecodedOptions DecodeOptions(std::string_view yaml_text, const std::string& base_dir) {
  DecodedOptions out;
  Options& o = out.options;
  Decoder d(out, base_dir);
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsMap()) {
      out.problems.push_back({"", "expected a mapping of settings", LineOf(root.Mark())});
      return out;
    }
    d.Mapping(root, "",
              {
                  {"self",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p,
                               {{"name", d.String(&o.self.name)},
                                {"identifier", d.Identifier(&o.self.identifier)}});
                   }},
                  {"instance",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p, {{"id", d.String(&o.instance.id)}});
                   }},
                  {"state",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p,
                               {{"kind", d.Enum(&o.state.kind,
                                                {{"sqlite", StateKind::kSqlite},
                                                 {"postgres", StateKind::kPostgres}},
                                                "must be sqlite or postgres")},
                                {"path", d.Path(&o.state.path)},
                                {"dsn", d.String(&o.state.dsn)},
                                {"schema", d.String(&o.state.schema)},
                                {"password_file", d.Path(&o.state.password_file)},
                                {"password_env", d.String(&o.state.password_env)},
                                {"password_credential", d.String(&o.state.password_credential)},
                                {"lease_timeout", d.Duration(&o.state.lease_timeout)},
                                {"migrations_dir", d.Path(&o.state.migrations_dir)},
                                {"retention", d.Duration(&o.state.retention)}},
                               {{"password", kInlinePassword}});
                   }},
                  {"store",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p,
                               {
                                   {"kind", d.Enum(&o.store.kind,
                                                   {{"sqlite", StoreKind::kSqlite},
                                                    {"ndjson", StoreKind::kNdjson},
                                                    {"postgres", StoreKind::kPostgres}},
                                                   "must be sqlite, ndjson or postgres")},
                                   {"path", d.Path(&o.store.path)},
                                   {"dsn", d.String(&o.store.dsn)},
                                   {"schema", d.String(&o.store.schema)},
                                   {"password_file", d.Path(&o.store.password_file)},
                                   {"password_env", d.String(&o.store.password_env)},
                                   {"password_credential",
                                    d.String(&o.store.password_credential)},
                                   {"full_retry_interval",
                                    d.Duration(&o.store.full_retry_interval)},
                               },
                               {{"password", kInlinePassword}});
                   }},
                  {"log",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p,
                               {
                                   {"dir", d.Path(&o.log.dir)},
                                   {"level", d.String(&o.log.level)},
                                   {"format",
                                    d.Enum(&o.log.format,
                                           {{"text", LogFormat::kText}, {"json", LogFormat::kJson}},
                                           "must be text or json")},
                                   {"max_size", d.Size(&o.log.max_size)},
                                   {"max_files", d.Int(&o.log.max_files)},
                                   {"progress_interval", d.Duration(&o.log.progress_interval)},
                               });
                   }},
                  {"status",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p,
                               {
                                   {"listen", d.String(&o.status.listen)},
                                   {"token_file", d.Path(&o.status.token_file)},
                                   {"token_env", d.String(&o.status.token_env)},
                                   {"token_credential", d.String(&o.status.token_credential)},
                               },
                               {{"token", kInlineToken}});
                   }},
                  {"deadline",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p,
                               {{"at_risk_within", d.Duration(&o.deadline.at_risk_within)}});
                   }},
                  {"refresh",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p, {{"interval", d.Duration(&o.refresh.interval)}});
                   }},
                  {"consent",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p,
                               {{"on_revocation", d.Enum(&o.consent.on_revocation,
                                                         {{"keep", RevocationAction::kKeep},
                                                          {"purge", RevocationAction::kPurge}},
                                                         "must be keep or purge")}});
                   }},
                  {"source",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p,
                               {
                                   {"kind", d.String(&o.source.kind)},
                                   {"path", d.Path(&o.source.path)},
                                   {"poll_interval", d.Duration(&o.source.poll_interval)},
                               });
                   }},
                  {"limits",
                   [&](const YAML::Node& v, const std::string& p) {
                     d.Mapping(v, p,
                               {{"max_jobs_in_flight", d.Int(&o.limits.max_jobs_in_flight)},
                                {"max_requests", d.Int(&o.limits.max_requests)},
                                {"max_downloads", d.Int(&o.limits.max_downloads)}});
                   }},
                  {"payers",
                   [&](const YAML::Node& v, const std::string& p) { d.Payers(v, p, &o.payers); }},
              });
  } catch (const YAML::Exception& e) {
    out.problems.push_back({"yaml", e.msg, LineOf(e.mark)});
  }
  FillDerivedDefaults(o);
  return out;
}

Result<Options> ParseOptions(std::string_view yaml_text, const std::string& file_name_for_messages,
                             const Env& env) {
  const std::string base_dir = std::filesystem::path(file_name_for_messages).parent_path().string();
  DecodedOptions decoded = DecodeOptions(yaml_text, base_dir);
  decoded.options.config_path = file_name_for_messages;
  std::vector<ConfigProblem> problems = std::move(decoded.problems);
  // A document that did not decode, or is not a mapping, is not worth validating: its "missing"
  // keys would be noise.
  const bool unusable = std::any_of(problems.begin(), problems.end(), [](const ConfigProblem& p) {
    return p.path == "yaml" || p.path.empty();
  });
  if (!unusable) {
    for (auto& p : ValidateOptions(decoded.options)) problems.push_back(std::move(p));
    for (auto& p : ResolveSecrets(decoded.options, env)) problems.push_back(std::move(p));
    for (auto& p : ResolvePrivateKeys(decoded.options, env)) problems.push_back(std::move(p));
  }
  if (problems.empty()) {
    decoded.options.warnings =
        Format(WarnOptions(decoded.options), decoded.lines, file_name_for_messages);
    return std::move(decoded.options);
  }
  std::string message;
  for (const std::string& line :
       Format(std::move(problems), decoded.lines, file_name_for_messages)) {
    if (!message.empty()) message += '\n';
    message += line;
  }
  return MakeError(ErrorKind::kInvalid, std::move(message));
}

Result<Options> LoadOptions(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return MakeError(ErrorKind::kIo, path + ": cannot read: " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  SystemEnv env;
  Result<Options> options = ParseOptions(text.str(), path, env);
  if (!options) return options;
  // The daemon may change directory later (or systemd may start it elsewhere): pin the paths.
  for (std::string* p : {&options->state.path, &options->state.migrations_dir, &options->store.path,
                         &options->log.dir, &options->source.path}) {
    if (!p->empty()) *p = std::filesystem::absolute(*p).lexically_normal().string();
  }
  // A daemon restarted on the same host keeps its id, and so finds the files it had claimed.
  if (options->instance.id.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || !ValidInstanceId(host)) {
      return MakeError(ErrorKind::kInvalid,
                       path + ":1: instance.id: the host name \"" + host +
                           "\" is not a valid instance id; set instance.id");
    }
    options->instance.id = host;
  }
  return options;
}

}  // namespace p2p
