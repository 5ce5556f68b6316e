#include "http/tls_probe.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/field.hpp>
#include <ctime>
#include <memory>

#include "http/connection.h"

namespace p2p::http {
namespace {

namespace bhttp = boost::beast::http;

constexpr size_t kMaxName = 256;

// A distinguished name as one RFC 2253 line, printable ASCII only, at most kMaxName bytes.
std::string NameLine(const X509_NAME* name) {
  if (name == nullptr) return "";
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  std::string out;
  for (long i = 0; i < n && out.size() < kMaxName; ++i) {
    const auto u = static_cast<unsigned char>(data[i]);
    out += (u >= 0x20 && u < 0x7f) ? data[i] : '?';
  }
  return out;
}

int64_t NotAfter(const X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

boost::asio::awaitable<Result<TlsPeer>> ProbeTls(const Url& request_url, const TlsOptions& tls,
                                                 std::chrono::milliseconds timeout) {
  const std::string what = request_url.Authority();
  if (!request_url.tls()) co_return MakeError(ErrorKind::kInvalid, what + ": not an https URL");
  auto context = MakeClientTlsContext(tls);
  if (!context) co_return std::move(context).error();
  auto opened = co_await detail::Connection::Open(request_url, context->get(), timeout, what);
  if (!opened) co_return std::move(opened).error();
  std::unique_ptr<detail::Connection> conn = std::move(opened).value();
  SSL* ssl = conn->tls_session();

  TlsPeer peer;
  peer.protocol = SSL_get_version(ssl);
  if (X509* cert = SSL_get1_peer_certificate(ssl)) {
    peer.subject = NameLine(X509_get_subject_name(cert));
    peer.issuer = NameLine(X509_get_issuer_name(cert));
    peer.not_after = NotAfter(cert);
    X509_free(cert);
  }
  // The first request shows whether the server accepted the handshake's client side (TLS 1.3
  // servers check the client certificate only now).
  detail::RequestMessage req{bhttp::verb::get, request_url.target, 11};
  req.set(bhttp::field::host, request_url.HostHeader());
  req.set(bhttp::field::user_agent, "p2p-ingest");
  req.keep_alive(false);
  boost::system::error_code ec = co_await conn->Write(req, timeout);
  detail::ResponseParser parser;
  parser.header_limit(64 * 1024);
  if (!ec) ec = co_await conn->ReadHeader(parser, timeout);
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    co_return MakeError(
        ErrorKind::kNetwork,
        what +
            (tls.client_cert.empty() ? ": refused after the handshake (no client certificate "
                                       "configured): "
                                     : ": client certificate not accepted: ") +
            ec.message());
  }
  if (ec) co_return detail::PhaseError(what, "request after the handshake", ec, timeout);
  if (!tls.client_cert.empty()) {
    peer.client_subject = NameLine(X509_get_subject_name(SSL_get_certificate(ssl)));
  }
  conn->Close();
  co_return peer;
}

}  // namespace p2p::http
