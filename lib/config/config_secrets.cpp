// Stage 3 (ResolveSecrets, ResolvePrivateKeys) of config.h and SystemEnv, the real secret reader.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "config/config.h"

namespace p2p {
namespace {

constexpr std::size_t kMaxSecretBytes = 64 * 1024;

// Reads one secret named by `prefix`_file / _env / _credential into `*out`. Messages name the
// source (path or variable), never the value.
void ResolveOne(const Env& env, const std::string& path, const std::string& prefix,
                const std::string& file, const std::string& var, const std::string& credential,
                std::string* out, std::vector<ConfigProblem>& problems) {
  if (int{!file.empty()} + int{!var.empty()} + int{!credential.empty()} != 1) return;
  auto add = [&](const std::string& key, std::string message) {
    problems.push_back({path + "." + prefix + key, std::move(message), 0});
  };
  auto read_file = [&](const std::string& key, const std::string& file_path) {
    Result<std::string> text = env.ReadSecretFile(file_path);
    if (!text) return add(key, file_path + ": " + text.error().message);
    std::string value = std::move(*text);
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    if (value.empty()) return add(key, file_path + ": is empty");
    *out = std::move(value);
  };
  if (!file.empty()) return read_file("_file", file);
  if (!var.empty()) {
    std::optional<std::string> value = env.GetEnv(var);
    if (!value) return add("_env", var + " is not set");
    if (value->empty()) return add("_env", var + " is empty");
    *out = std::move(*value);
    return;
  }
  if (credential.find('/') != std::string::npos) return;  // reported by ValidateOptions
  std::optional<std::string> dir = env.GetEnv("CREDENTIALS_DIRECTORY");
  if (!dir || dir->empty()) {
    return add("_credential",
               "CREDENTIALS_DIRECTORY is not set (LoadCredential= in the systemd unit sets it)");
  }
  read_file("_credential", *dir + "/" + credential);
}

}  // namespace

std::vector<ConfigProblem> ResolveSecrets(Options& options, const Env& env) {
  std::vector<ConfigProblem> problems;
  StatusOptions& status = options.status;
  ResolveOne(env, "status", "token", status.token_file, status.token_env, status.token_credential,
             &status.token, problems);
  StateOptions& state = options.state;
  ResolveOne(env, "state", "password", state.password_file, state.password_env,
             state.password_credential, &state.password, problems);
  StoreOptions& store = options.store;
  ResolveOne(env, "store", "password", store.password_file, store.password_env,
             store.password_credential, &store.password, problems);
  for (std::size_t i = 0; i < options.payers.size(); ++i) {
    AuthOptions& auth = options.payers[i].auth;
    ResolveOne(env, "payers[" + std::to_string(i) + "].auth", "client_secret",
               auth.client_secret_file, auth.client_secret_env, auth.client_secret_credential,
               &auth.client_secret, problems);
  }
  return problems;
}

std::vector<ConfigProblem> ResolvePrivateKeys(Options& options, const Env& env) {
  std::vector<ConfigProblem> problems;
  for (std::size_t i = 0; i < options.payers.size(); ++i) {
    AuthOptions& auth = options.payers[i].auth;
    if (auth.method != AuthMethod::kPrivateKeyJwt) continue;
    if (int{!auth.private_key_file.empty()} + int{!auth.jwks_file.empty()} +
            int{!auth.private_key_credential.empty()} != 1 ||
        auth.private_key_credential.find('/') != std::string::npos) {
      continue;  // reported by ValidateOptions
    }
    const std::string p = "payers[" + std::to_string(i) + "].auth.";
    std::string key = "private_key_file", file = auth.private_key_file;
    if (!auth.jwks_file.empty()) {
      key = "jwks_file";
      file = auth.jwks_file;
    } else if (!auth.private_key_credential.empty()) {
      key = "private_key_credential";
      std::optional<std::string> dir = env.GetEnv("CREDENTIALS_DIRECTORY");
      if (!dir || dir->empty()) {
        problems.push_back({p + key,
                            "CREDENTIALS_DIRECTORY is not set (LoadCredential= in the systemd "
                            "unit sets it)",
                            0});
        continue;
      }
      file = *dir + "/" + auth.private_key_credential;
    }
    Result<std::string> text = env.ReadSecretFile(file);
    if (!text) {
      problems.push_back({p + key, file + ": " + text.error().message, 0});
    } else if (text->find_first_not_of(" \t\r\n") == std::string::npos) {
      problems.push_back({p + key, file + ": is empty", 0});
    } else {
      auth.private_key = std::move(*text);
    }
  }
  return problems;
}

std::optional<std::string> SystemEnv::GetEnv(const std::string& name) const {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

Result<std::string> SystemEnv::ReadSecretFile(const std::string& path) const {
  auto io_error = [](std::string what) { return MakeError(ErrorKind::kIo, std::move(what)); };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error(std::string("cannot read: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return io_error(std::string("cannot read: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return io_error("is not a regular file");
  if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    return io_error("is readable by group or others (chmod 600)");
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxSecretBytes) return io_error("is over 64 KiB");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

}  // namespace p2p
