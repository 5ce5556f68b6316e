#include "http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

namespace p2p::http {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

Error Invalid(const std::string& key, const std::string& path, const std::string& what) {
  return MakeError(ErrorKind::kInvalid, key + " " + path + ": " + what);
}

std::string Reason(const error_code& ec) {
  std::string reason = ec.message();
  if (reason.empty()) reason = "unreadable or not PEM";
  return reason;
}

}  // namespace

Result<std::shared_ptr<asio::ssl::context>> MakeClientTlsContext(const TlsOptions& options) {
  if (options.client_cert.empty() != options.client_key.empty()) {
    return MakeError(ErrorKind::kInvalid, "tls.client_cert and tls.client_key go together");
  }
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression);
  ctx->set_verify_mode(asio::ssl::verify_peer);
  error_code ec;
  ctx->set_default_verify_paths(ec);  // no system store is not fatal when ca_file is given
  if (!options.ca_file.empty()) {
    ctx->load_verify_file(options.ca_file, ec);
    if (ec) return Invalid("tls.ca_file", options.ca_file, "cannot load: " + Reason(ec));
  }
  if (!options.client_cert.empty()) {
    ctx->use_certificate_chain_file(options.client_cert, ec);
    if (ec) return Invalid("tls.client_cert", options.client_cert, "cannot load: " + Reason(ec));
    struct stat st {};
    if (::stat(options.client_key.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
      return Invalid("tls.client_key", options.client_key,
                     "is readable by group or others (chmod 600)");
    }
    ctx->use_private_key_file(options.client_key, asio::ssl::context::pem, ec);
    if (ec) return Invalid("tls.client_key", options.client_key, "cannot load: " + Reason(ec));
    if (SSL_CTX_check_private_key(native) != 1) {
      ERR_clear_error();
      return Invalid("tls.client_key", options.client_key, "does not match tls.client_cert");
    }
  }
  return ctx;
}

}  // namespace p2p::http
