// DescribeOptions of config.h: what `check-config` prints. Secrets appear only by their source.
#include <cstdint>
#include <sstream>
#include <utility>

#include "config/config.h"
#include "core/duration.h"

namespace p2p {
namespace {

std::string SecretSource(const std::string& file, const std::string& env,
                         const std::string& credential) {
  if (!file.empty()) return "file " + file;
  if (!env.empty()) return "env " + env;
  if (!credential.empty()) return "credential " + credential;
  return "none";
}

// 10485760 -> "10M"; the largest suffix that divides the size exactly.
std::string SizeText(std::int64_t bytes) {
  static constexpr std::pair<std::int64_t, char> kUnits[] = {
      {1LL << 30, 'G'}, {1LL << 20, 'M'}, {1LL << 10, 'K'}};
  for (const auto& [unit, suffix] : kUnits) {
    if (bytes != 0 && bytes % unit == 0) return std::to_string(bytes / unit) + suffix;
  }
  return std::to_string(bytes);
}

// "system|value" (FHIR token style), or "none".
std::string IdentifierText(const PlanIdentifier& id) {
  return id.empty() ? "none" : id.system + "|" + id.value;
}

}  // namespace

std::string DescribeOptions(const Options& o) {
  std::ostringstream out;
  out << "config: " << o.config_path << "\n";
  out << "self: " << (o.self.name.empty() ? "" : o.self.name + ", ") << "identifier "
      << IdentifierText(o.self.identifier) << "\n";
  if (!o.instance.id.empty()) out << "instance: " << o.instance.id << "\n";
  out << "state: " << (o.state.kind == StateKind::kPostgres ? "postgres " : "")
      << StateLocation(o.state) << " (retention "
      << (o.state.retention.count() == 0 ? "off" : FormatDuration(o.state.retention));
  if (o.state.kind == StateKind::kPostgres) {
    out << ", lease timeout " << FormatDuration(o.state.lease_timeout);
  }
  out << ")\n";
  if (!o.state.migrations_dir.empty()) out << "migrations: " << o.state.migrations_dir << "\n";
  out << "store: " << StoreKindName(o.store.kind) << " " << StoreLocation(o.store) << "\n";
  out << "log: " << (o.log.dir.empty() ? "stderr only" : o.log.dir) << " (level " << o.log.level
      << ", " << (o.log.format == LogFormat::kJson ? "json" : "text");
  if (!o.log.dir.empty()) {
    out << ", " << SizeText(o.log.max_size) << " x " << o.log.max_files << " files";
  }
  out << ", progress "
      << (o.log.progress_interval.count() == 0 ? "off"
                                               : "every " + FormatDuration(o.log.progress_interval))
      << ")\n";
  const StatusOptions& s = o.status;
  out << "status: " << (s.enabled() ? s.listen : "off");
  if (s.enabled()) {
    const std::string token = SecretSource(s.token_file, s.token_env, s.token_credential);
    out << (token == "none" ? " (no token)" : " (token from " + token + ")");
  }
  out << "\n";
  out << "source: " << o.source.kind << " " << o.source.path << " (every "
      << FormatDuration(o.source.poll_interval) << ")\n";
  if (o.refresh.interval != RefreshOptions{}.interval ||
      o.consent.on_revocation != RevocationAction::kKeep) {
    out << "lifecycle: concurrent coverage refreshed every " << FormatDuration(o.refresh.interval)
        << "; on revocation "
        << (o.consent.on_revocation == RevocationAction::kPurge ? "purge" : "keep") << "\n";
  }
  out << "limits (all payers together): " << o.limits.max_jobs_in_flight << " jobs in flight, "
      << o.limits.max_requests << " requests, " << o.limits.max_downloads << " downloads\n";
  out << "payers: " << o.payers.size() << "\n";
  for (const PayerOptions& p : o.payers) {
    const AuthOptions& a = p.auth;
    out << "  " << p.id << " (" << p.name << "): " << p.base_url << "\n";
    out << "    identifier: " << IdentifierText(p.identifier) << "\n";
    out << "    member-match: " << p.member_match_path << "; export: " << p.export_path << "\n";
    if (p.match.mode == MatchMode::kBulk) {
      out << "    bulk match: POST " << p.match.bulk_path << " in batches of up to "
          << p.match.batch_size << " (waiting at most " << FormatDuration(p.match.batch_wait)
          << ")\n";
    }
    if (const ExportOptions& e = p.export_job;
        e.operation != ExportOperation::kGroupExport || !e.types.empty() ||
        !e.type_filters.empty()) {
      out << "    export operation: "
          << (e.operation == ExportOperation::kDavinciDataExport ? "davinci-data-export POST " +
                                                                       e.davinci_path
              : e.operation == ExportOperation::kPatientExport
                  ? "patient-export POST " + e.patient_path
                  : "group-export GET " + p.export_path);
      out << "; _type: " << (e.types.empty() ? "all" : std::to_string(e.types.size()) + " types")
          << "; _typeFilter: " << e.type_filters.size() << "\n";
    }
    const std::string token_at =
        a.token_url.empty() ? "the token URL discovered at " + p.base_url +
                                  "/.well-known/smart-configuration"
                            : a.token_url;
    out << "    auth: ";
    if (a.method == AuthMethod::kPrivateKeyJwt) {
      out << "private_key_jwt ("
          << (a.algorithm == JwtAlgorithm::kRs384   ? "RS384"
              : a.algorithm == JwtAlgorithm::kEs384 ? "ES384"
                                                    : "algorithm from the key")
          << (a.key_id.empty() ? "" : ", kid " + a.key_id) << ") at " << token_at << ", client "
          << a.client_id << ", key from "
          << (!a.private_key_file.empty()         ? "file " + a.private_key_file
              : !a.jwks_file.empty()              ? "JWK set " + a.jwks_file
              : !a.private_key_credential.empty() ? "credential " + a.private_key_credential
                                                  : std::string("none"));
    } else {
      out << (a.method == AuthMethod::kClientSecretPost ? "client_secret_post"
                                                        : "client_secret_basic")
          << " at " << token_at << ", client " << a.client_id << ", secret from "
          << SecretSource(a.client_secret_file, a.client_secret_env, a.client_secret_credential);
    }
    if (!a.scope.empty()) out << ", scope " << a.scope;
    out << "\n    trusted hosts:";
    for (const std::string& h : p.trusted_hosts) out << " " << h;
    if (p.allow_insecure_http) out << " (plain http allowed)";
    out << "\n    limits: " << p.limits.concurrency << " jobs, " << p.limits.requests_per_second
        << " requests/s, throttle waits up to " << FormatDuration(p.limits.max_throttle_wait)
        << "; retry: " << p.retry.max_attempts << " attempts, "
        << FormatDuration(p.retry.base_delay) << ".." << FormatDuration(p.retry.max_delay)
        << ", give up throttled after " << FormatDuration(p.retry.give_up_after)
        << "; poll: " << FormatDuration(p.poll.min_interval) << ".."
        << FormatDuration(p.poll.max_interval) << ", timeout " << FormatDuration(p.poll.timeout)
        << "; request timeout " << FormatDuration(p.request_timeout) << "\n";
  }
  return out.str();
}

}  // namespace p2p
