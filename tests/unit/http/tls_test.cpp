// TLS as the daemon uses it: verification always on (chain and host name), SNI, TLS 1.2 at
// least, per-host settings and client certificates for mutual TLS. The certificates come from a
// throw-away CA made at run time (support/test_pki.h); the server is a small TLS probe on
// 127.0.0.1 port 0 that records what the handshake carried.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <optional>
#include <thread>

#include "http/client.h"
#include "http/tls_context.h"
#include "support/run_sync.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace p2p::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using std::chrono::milliseconds;

// Accepts TLS connections on 127.0.0.1:0 on its own thread; answers each request 200 "ok" and
// records the SNI and the client certificate's subject CN of every completed handshake.
class TlsProbeServer {
 public:
  struct Seen {
    std::string sni;        // "" when the client sent none
    std::string client_cn;  // "" when no client certificate
  };

  TlsProbeServer(const std::string& cert, const std::string& key, const std::string& client_ca = "")
      : tls_(asio::ssl::context::tls_server),
        acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    tls_.use_certificate_chain_file(cert);
    tls_.use_private_key_file(key, asio::ssl::context::pem);
    if (!client_ca.empty()) {
      tls_.load_verify_file(client_ca);
      tls_.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    }
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsProbeServer() {
    asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      io_.stop();
    });
    thread_.join();
  }

  std::string Url(const std::string& host) const {
    return "https://" + host + ":" + std::to_string(acceptor_.local_endpoint().port()) + "/x";
  }
  std::vector<Seen> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  int requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    asio::ssl::stream<tcp::socket> stream(std::move(socket), tls_);
    boost::system::error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    Seen s;
    if (const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
      s.sni = sni;
    }
    if (X509* peer = SSL_get0_peer_certificate(stream.native_handle())) {
      char cn[256] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
      s.client_cn = cn;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(s);
    }
    beast::flat_buffer buffer;
    beast::http::request<beast::http::string_body> req;
    co_await beast::http::async_read(stream, buffer, req,
                                     asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++requests_;
    }
    beast::http::response<beast::http::string_body> res{beast::http::status::ok, 11};
    res.body() = "ok";
    res.keep_alive(false);
    res.prepare_payload();
    co_await beast::http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::io_context io_;
  asio::ssl::context tls_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  int requests_ = 0;
};

using test::RunSync;

Request Get(const std::string& url) {
  Request r;
  r.url = Url::Parse(url).value();
  r.timeout = milliseconds(3000);
  return r;
}

class Tls : public ::testing::Test {
 protected:
  testing::TempDir dir{"p2p-tls-unit-"};
  test::TestPki pki = test::MakeTestPki(dir.path().string());
  asio::io_context io;

  Result<Response> Fetch(HttpClient& client, const std::string& url) {
    return RunSync(io, client.Send(Get(url), 1024));
  }
};

TEST_F(Tls, ContextRequiresTls12AndVerifiesThePeer) {
  auto ctx = MakeClientTlsContext({});
  ASSERT_TRUE(ctx.ok()) << ctx.error().message;
  SSL_CTX* native = (*ctx)->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(native), TLS1_2_VERSION);
  EXPECT_TRUE(SSL_CTX_get_verify_mode(native) & SSL_VERIFY_PEER);
}

TEST_F(Tls, ServerSignedByTheConfiguredCaIsAccepted) {
  TlsProbeServer server(pki.server_cert, pki.server_key);
  HttpClient client(io, ClientOptions{.ca_file = pki.ca});
  Result<Response> res = Fetch(client, server.Url("127.0.0.1"));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok");
}

TEST_F(Tls, ServerIsRejectedWithoutItsCa) {
  TlsProbeServer server(pki.server_cert, pki.server_key);
  HttpClient system_store_only(io, ClientOptions{});
  Result<Response> res = Fetch(system_store_only, server.Url("127.0.0.1"));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kNetwork);
  EXPECT_EQ(res.error().message,
            "GET /x: TLS handshake failed: certificate verify failed: unable to get local issuer "
            "certificate");
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(Tls, ServerIsRejectedWithAnotherCa) {
  TlsProbeServer server(pki.server_cert, pki.server_key);
  HttpClient client(io, ClientOptions{.ca_file = pki.rogue_ca});
  Result<Response> res = Fetch(client, server.Url("127.0.0.1"));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().message,
            "GET /x: TLS handshake failed: certificate verify failed: unable to get local issuer "
            "certificate");
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(Tls, WrongHostNameIsRejected) {
  TlsProbeServer server(pki.wrong_name_cert, pki.wrong_name_key);
  HttpClient client(io, ClientOptions{.ca_file = pki.ca});
  Result<Response> by_name = Fetch(client, server.Url("localhost"));
  ASSERT_FALSE(by_name.ok());
  EXPECT_EQ(by_name.error().message,
            "GET /x: TLS handshake failed: certificate verify failed: hostname mismatch");
  Result<Response> by_ip = Fetch(client, server.Url("127.0.0.1"));
  ASSERT_FALSE(by_ip.ok());
  EXPECT_EQ(by_ip.error().message,
            "GET /x: TLS handshake failed: certificate verify failed: IP address mismatch");
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(Tls, SniCarriesTheHostNameAndIsOmittedForAnIpLiteral) {
  TlsProbeServer server(pki.server_cert, pki.server_key);
  HttpClient client(io, ClientOptions{.ca_file = pki.ca});
  ASSERT_TRUE(Fetch(client, server.Url("localhost")).ok());
  ASSERT_TRUE(Fetch(client, server.Url("127.0.0.1")).ok());
  std::vector<TlsProbeServer::Seen> seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].sni, "localhost");
  EXPECT_EQ(seen[1].sni, "");  // RFC 6066: no SNI for an IP address
}

TEST_F(Tls, ClientCertificateIsPresentedForMutualTls) {
  TlsProbeServer server(pki.server_cert, pki.server_key, pki.ca);
  HttpClient client(io, ClientOptions{});
  ASSERT_TRUE(client.UseTls("127.0.0.1", {pki.ca, pki.client_cert, pki.client_key}).ok());
  Result<Response> res = Fetch(client, server.Url("127.0.0.1"));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_EQ(server.seen()[0].client_cn, "p2p-ingest client");
}

TEST_F(Tls, MutualTlsServerRefusesAClientWithoutCertificate) {
  TlsProbeServer server(pki.server_cert, pki.server_key, pki.ca);
  HttpClient client(io, ClientOptions{.ca_file = pki.ca});
  Result<Response> res = Fetch(client, server.Url("127.0.0.1"));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kNetwork) << res.error().message;
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(Tls, HostSettingsApplyToThatHostOnly) {
  TlsProbeServer server(pki.server_cert, pki.server_key);
  HttpClient client(io, ClientOptions{});
  ASSERT_TRUE(client.UseTls("localhost", {.ca_file = pki.ca}).ok());
  Result<Response> trusted = Fetch(client, server.Url("localhost"));
  ASSERT_TRUE(trusted.ok()) << trusted.error().message;
  Result<Response> other = Fetch(client, server.Url("127.0.0.1"));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message,
            "GET /x: TLS handshake failed: certificate verify failed: unable to get local issuer "
            "certificate");
}

TEST_F(Tls, AFailedHostSettingNeverFallsBackToTheDefault) {
  TlsProbeServer server(pki.server_cert, pki.server_key);
  HttpClient client(io, ClientOptions{.ca_file = pki.ca});
  Result<void> set = client.UseTls("127.0.0.1", {.ca_file = dir.File("missing.pem")});
  ASSERT_FALSE(set.ok());
  Result<Response> res = Fetch(client, server.Url("127.0.0.1"));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(res.error().message.rfind(
                "GET /x: tls.ca_file " + dir.File("missing.pem") + ": cannot load: ", 0),
            0u)
      << res.error().message;
  EXPECT_EQ(server.requests(), 0);
}

TEST_F(Tls, BadFilesAreReportedByNameWithoutTheirContent) {
  auto missing_ca = MakeClientTlsContext({.ca_file = dir.File("none.pem")});
  ASSERT_FALSE(missing_ca.ok());
  EXPECT_EQ(missing_ca.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(missing_ca.error().message.rfind(
                "tls.ca_file " + dir.File("none.pem") + ": cannot load: ", 0),
            0u)
      << missing_ca.error().message;

  auto half = MakeClientTlsContext({.client_cert = pki.client_cert});
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().message, "tls.client_cert and tls.client_key go together");

  ::chmod(pki.client_key.c_str(), 0640);
  auto readable =
      MakeClientTlsContext({.client_cert = pki.client_cert, .client_key = pki.client_key});
  ASSERT_FALSE(readable.ok());
  EXPECT_EQ(readable.error().message,
            "tls.client_key " + pki.client_key + ": is readable by group or others (chmod 600)");
  ::chmod(pki.client_key.c_str(), 0600);

  auto mismatch =
      MakeClientTlsContext({.client_cert = pki.client_cert, .client_key = pki.server_key});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().message.rfind("tls.client_key " + pki.server_key + ": ", 0), 0u)
      << mismatch.error().message;

  auto good = MakeClientTlsContext(
      {.ca_file = pki.ca, .client_cert = pki.client_cert, .client_key = pki.client_key});
  EXPECT_TRUE(good.ok()) << good.error().message;
}

}  // namespace
}  // namespace p2p::http
