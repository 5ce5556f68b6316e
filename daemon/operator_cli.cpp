#include "operator_cli.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "config/config.h"
#include "operator_commands.h"
#include "state_setup.h"
#include "state/lifecycle_db.h"

namespace p2p::daemon {

namespace {

// The operator commands never talk to a payer: every secret source "resolves" to a placeholder,
// so that a shell without $CREDENTIALS_DIRECTORY or the secret's variable can still run them.
// The one exception is the password of a PostgreSQL state (state.password_file / _env /
// _credential, as decoded from the same text): the commands log in with it, so it is read for
// real, and a problem with it is reported as check-config reports it.
class OperatorEnv : public Env {
 public:
  explicit OperatorEnv(const StateOptions& state) {
    if (state.kind != StateKind::kPostgres) return;
    file_ = state.password_file;
    var_ = state.password_env;
    if (!state.password_credential.empty()) {
      var_ = "CREDENTIALS_DIRECTORY";
      if (const char* dir = std::getenv("CREDENTIALS_DIRECTORY")) {
        file_ = std::string(dir) + "/" + state.password_credential;
      }
    }
  }
  std::optional<std::string> GetEnv(const std::string& name) const override {
    if (!var_.empty() && name == var_) return real_.GetEnv(name);
    return std::string("/nonexistent-operator-cli");
  }
  Result<std::string> ReadSecretFile(const std::string& path) const override {
    if (!file_.empty() && path == file_) return real_.ReadSecretFile(path);
    return std::string("unused-by-operator-commands");
  }

 private:
  SystemEnv real_;
  std::string file_, var_;  // the state password's file and variable ("" when none)
};

Result<Options> LoadOperatorOptions(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorKind::kIo, path + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  const DecodedOptions decoded =
      DecodeOptions(text.str(), std::filesystem::path(path).parent_path().string());
  Result<Options> options = ParseOptions(text.str(), path, OperatorEnv(decoded.options.state));
  if (!options) return options;
  for (std::string* p : {&options->state.path, &options->source.path, &options->store.path}) {
    if (!p->empty()) *p = std::filesystem::absolute(*p).lexically_normal().string();
  }
  return options;
}

struct Usage {
  std::string message;
};

// Returns the parsed arguments, or the usage problem.
std::optional<Usage> Parse(const std::vector<std::string>& args, OperatorArgs* a) {
  a->command = args[0];
  std::set<std::string> given;
  std::vector<std::string> positional;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string opt = args[i];
    std::string value;
    bool has_value = false;
    if (opt.rfind("--", 0) == 0 && opt.find('=') != std::string::npos) {
      value = opt.substr(opt.find('=') + 1);
      opt = opt.substr(0, opt.find('='));
      has_value = true;
    }
    if (opt == "-c") opt = "--config";
    const bool takes_value = opt == "--config" || opt == "--state" || opt == "--payer" ||
                             opt == "--limit" || opt == "--group";
    if (takes_value) {
      if (!has_value) {
        if (i + 1 >= args.size()) return Usage{opt + " needs a value"};
        value = args[++i];
      }
      if (opt == "--config") a->config = value;
      if (opt == "--state") a->state = value;
      if (opt == "--payer") a->payer = value;
      if (opt == "--group") a->group = value;
      if (opt == "--limit") {
        char* end = nullptr;
        const long long n = std::strtoll(value.c_str(), &end, 10);
        if (value.empty() || *end != '\0' || n < 1 || n > 1000000) {
          return Usage{"--limit must be 1..1000000"};
        }
        a->limit = n;
      }
      given.insert(opt);
    } else if (opt == "--show-phi" || opt == "--accept-partial") {
      if (has_value) return Usage{opt + " takes no value"};
      (opt == "--show-phi" ? a->show_phi : a->accept_partial) = true;
      given.insert(opt);
    } else if (opt.size() > 1 && opt[0] == '-') {
      return Usage{"unknown option: " + opt};
    } else {
      positional.push_back(args[i]);
    }
  }
  const std::string& c = a->command;
  std::set<std::string> allowed = {"--config"};
  size_t min_pos = 0, max_pos = 0;
  std::string name = c;
  if (c == "members") {
    if (positional.empty() || (positional[0] != "list" && positional[0] != "show")) {
      return Usage{"members needs list or show"};
    }
    a->sub = positional[0];
    positional.erase(positional.begin());
    name = "members " + a->sub;
    if (a->sub == "list") {
      allowed.insert({"--state", "--payer", "--limit"});
    } else {
      allowed.insert({"--payer", "--show-phi"});
      min_pos = max_pos = 1;
    }
  } else if (c == "retry") {
    allowed.insert({"--state", "--payer"});
    max_pos = 1;
  } else if (c == "cancel") {
    allowed.insert("--payer");
    min_pos = max_pos = 1;
  } else if (c == "enqueue") {
    allowed.insert("--accept-partial");
    min_pos = max_pos = 1;
  } else if (c == "export") {
    allowed.insert({"--payer", "--group"});
  }
  for (const std::string& g : given) {
    // Returns at once: the loop never concatenates twice.
    // NOLINTNEXTLINE(performance-inefficient-string-concatenation)
    if (!allowed.count(g)) return Usage{"unknown option for " + name + ": " + g};
  }
  if (positional.size() > max_pos) return Usage{"unexpected argument: " + positional[max_pos]};
  if (positional.size() < min_pos) {
    return Usage{name + (c == "enqueue" ? " needs a FILE" : " needs a MEMBER_KEY")};
  }
  if (!positional.empty()) a->target = positional[0];
  if (c == "retry" && a->target.empty() == a->state.empty()) {
    return Usage{"retry needs a MEMBER_KEY or --state, not both"};
  }
  if (c == "export" && (a->payer.empty() || a->group.empty())) {
    return Usage{"export needs --payer ID and --group GROUP_ID"};
  }
  if (a->config.empty()) return Usage{name + " needs --config FILE"};
  if (!a->state.empty() && !ParseJobState(a->state)) {
    return Usage{"--state: unknown state: " + a->state};
  }
  return std::nullopt;
}

}  // namespace

bool IsOperatorCommand(std::string_view name) {
  return name == "status" || name == "members" || name == "retry" || name == "cancel" ||
         name == "enqueue" || name == "export" || name == "compact";
}

const char* OperatorUsageText() {
  return "       p2p-ingestd status --config FILE\n"
         "       p2p-ingestd members list --config FILE [--state S] [--payer P] [--limit N]\n"
         "       p2p-ingestd members show MEMBER_KEY --config FILE [--payer P] [--show-phi]\n"
         "       p2p-ingestd retry MEMBER_KEY --config FILE [--payer P]\n"
         "       p2p-ingestd retry --state failed|cancelled --config FILE [--payer P]\n"
         "       p2p-ingestd cancel MEMBER_KEY --config FILE [--payer P]\n"
         "       p2p-ingestd enqueue FILE --config FILE [--accept-partial]\n"
         "       p2p-ingestd export --payer ID --group GROUP_ID --config FILE\n"
         "       p2p-ingestd compact --config FILE\n";
}

int RunOperatorCommand(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return RunOperatorCommandAt(args, out, err, now_ms);
}

int RunOperatorCommandAt(const std::vector<std::string>& args, std::FILE* out, std::FILE* err,
                         int64_t now_ms) {
  if (args.empty() || !IsOperatorCommand(args[0])) {
    std::fprintf(err, "p2p-ingestd: unknown command: %s\nusage:\n%s",
                 args.empty() ? "" : args[0].c_str(), OperatorUsageText());
    return kOpExitUsage;
  }
  OperatorArgs a;
  if (auto usage = Parse(args, &a)) {
    std::fprintf(err, "p2p-ingestd: %s\nusage:\n%s", usage->message.c_str(), OperatorUsageText());
    return kOpExitUsage;
  }
  auto options = LoadOperatorOptions(a.config);
  if (!options) {
    std::fprintf(err, "%s\n", options.error().message.c_str());
    return kOpExitConfig;
  }
  const OperatorIo io{out, err, now_ms};
  struct stat st {};
  // A PostgreSQL state is always there to connect to (its schema is made on first use).
  const bool db_exists = options->state.kind == StateKind::kPostgres ||
                         ::stat(options->state.path.c_str(), &st) == 0;
  if (a.command == "enqueue" && !db_exists) return CmdEnqueue(a, *options, nullptr, io);
  if (!db_exists && a.command != "export") {
    std::fprintf(err,
                 "state DB %s does not exist yet (the daemon creates it when it first starts)\n",
                 options->state.path.c_str());
    return kOpExitSoftware;
  }
  auto db = OpenStateDb(options->state);
  if (!db) {
    std::fprintf(err, "%s\n", db.error().message.c_str());
    return kOpExitSoftware;
  }
  if (a.command == "status") return CmdStatus(*options, **db, io);
  if (a.command == "members") {
    return a.sub == "list" ? CmdMembersList(a, **db, io) : CmdMembersShow(a, **db, io);
  }
  if (a.command == "retry") return CmdRetry(a, **db, io);
  if (a.command == "cancel") {
    const int code = CmdCancel(a, **db, io);
    // A cancel is a revocation too: refreshes stop, consent.on_revocation applies (the daemon
    // purges; pipeline/lifecycle.h).
    if (code == kOpExitOk) {
      auto payers = state::CancelledPayersOf(**db, a.target, a.payer);
      if (!payers) {
        std::fprintf(err, "%s\n", payers.error().message.c_str());
        return kOpExitSoftware;
      }
      for (const std::string& p : *payers) {
        auto r = state::RecordRevocation(
            **db, p, a.target, options->consent.on_revocation == RevocationAction::kPurge, now_ms);
        if (!r) {
          std::fprintf(err, "%s\n", r.error().message.c_str());
          return kOpExitSoftware;
        }
        if (r->purge_requested) {
          std::fprintf(out, "%s payer %s: consent revoked; the daemon purges its resources\n",
                       a.target.c_str(), p.c_str());
        }
        // Cancelled and revoked: a cluster's daemons are woken (the one running the job stops
        // it, the export is cancelled at the payer, a purge is started).
        if (auto n = (*db)->Notify(p); !n) {
          std::fprintf(err, "%s\n", n.error().message.c_str());
          return kOpExitSoftware;
        }
      }
    }
    return code;
  }
  if (a.command == "export") return CmdExport(a, *options, **db, io);
  if (a.command == "compact") return CmdCompact(*options, **db, io);
  return CmdEnqueue(a, *options, db->get(), io);
}

int DbFailed(const OperatorIo& io, const Error& e) {
  std::fprintf(io.err, "state DB: %s\n", e.message.c_str());
  return kOpExitSoftware;
}

std::string FormatTimeMs(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatDurationMs(int64_t ms) {
  const char* sign = ms < 0 ? "-" : "";
  if (ms < 0) ms = -ms;
  char buf[48];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%s%lldms", sign, static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buf, sizeof buf, "%s%.1fs", sign, static_cast<double>(ms) / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof buf, "%s%lldm%02llds", sign, static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  } else if (ms < 86'400'000) {
    std::snprintf(buf, sizeof buf, "%s%lldh%02lldm", sign, static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%s%lldd%02lldh", sign, static_cast<long long>(ms / 86'400'000),
                  static_cast<long long>(ms / 3'600'000 % 24));
  }
  return buf;
}

}  // namespace p2p::daemon
