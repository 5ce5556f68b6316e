// TLS against p2p-sandbox: the daemon's HTTP client verifies the sandbox's certificate
// against the configured CA and its host name, and presents a client certificate when the
// sandbox demands mutual TLS (--tls-client-ca); the daemon runs the whole exchange over mutual
// TLS from payers[].tls, and refuses to start on a client key others can read.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <optional>

#include "http/client.h"
#include "integration/security_setup.h"
#include "support/test_pki.h"

namespace p2p::testing {
namespace {

namespace asio = boost::asio;

class Tls : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(SandboxExecutable().empty()); }

  // GET /admin/stats with `client`; the answer or the error.
  Result<http::Response> Get(http::HttpClient& client, const std::string& base) {
    http::Request r;
    r.url = Url::Parse(base + "/admin/stats").value();
    r.timeout = std::chrono::milliseconds(3000);
    std::optional<Result<http::Response>> out;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { out.emplace(co_await client.Send(r, 1 << 20)); },
        asio::detached);
    io.restart();
    io.run();
    return std::move(*out);
  }

  // "https://127.0.0.1:P" -> "https://localhost:P"
  static std::string OnLocalhost(std::string url) {
    return url.replace(url.find("127.0.0.1"), 9, "localhost");
  }

  SecuritySetup s;
  test::TestPki pki = test::MakeTestPki(s.dir.path().string());
  asio::io_context io;
};

TEST_F(Tls, SandboxCertificateIsRejectedWithoutItsCaAndAcceptedWithIt) {
  ASSERT_EQ(s.StartSandbox({"--tls-cert", pki.server_cert, "--tls-key", pki.server_key}), "");
  http::HttpClient system_store(io, http::ClientOptions{});
  Result<http::Response> refused = Get(system_store, s.sandbox->url);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "GET /admin/stats: TLS handshake failed: certificate verify failed: unable to get "
            "local issuer certificate");

  http::HttpClient with_ca(io, http::ClientOptions{.ca_file = pki.ca});
  Result<http::Response> ok = Get(with_ca, s.sandbox->url);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  Result<http::Response> by_name = Get(with_ca, OnLocalhost(s.sandbox->url));
  ASSERT_TRUE(by_name.ok()) << by_name.error().message;
}

TEST_F(Tls, SandboxCertificateForAnotherNameIsRejected) {
  ASSERT_EQ(s.StartSandbox({"--tls-cert", pki.wrong_name_cert, "--tls-key", pki.wrong_name_key}),
            "");
  http::HttpClient with_ca(io, http::ClientOptions{.ca_file = pki.ca});
  Result<http::Response> res = Get(with_ca, OnLocalhost(s.sandbox->url));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().message,
            "GET /admin/stats: TLS handshake failed: certificate verify failed: hostname mismatch");
}

TEST_F(Tls, SandboxWithMutualTlsRequiresAndVerifiesTheClientCertificate) {
  ASSERT_EQ(s.StartSandbox({"--tls-cert", pki.server_cert, "--tls-key", pki.server_key,
                            "--tls-client-ca", pki.ca}),
            "");
  http::HttpClient no_cert(io, http::ClientOptions{.ca_file = pki.ca});
  Result<http::Response> refused = Get(no_cert, s.sandbox->url);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kNetwork) << refused.error().message;

  http::HttpClient with_cert(io, http::ClientOptions{});
  ASSERT_TRUE(with_cert.UseTls("127.0.0.1", {pki.ca, pki.client_cert, pki.client_key}).ok());
  Result<http::Response> ok = Get(with_cert, s.sandbox->url);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
}

TEST_F(Tls, DaemonRunsTheWholeExchangeOverMutualTls) {
  ASSERT_EQ(s.StartSandbox({"--tls-cert", pki.server_cert, "--tls-key", pki.server_key,
                            "--tls-client-ca", pki.ca}),
            "");
  s.WriteConfig("    tls:\n      ca_file: " + pki.ca + "\n      client_cert: " + pki.client_cert +
                "\n      client_key: " + pki.client_key + "\n");
  s.DropRoster();
  CommandResult run = s.Ingestd({"run", "--once"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("    complete "), std::string::npos) << run.out;
  EXPECT_EQ(run.out.find("    failed "), std::string::npos) << run.out;
}

TEST_F(Tls, DaemonRefusesToStartWithAClientKeyOthersCanRead) {
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig("    tls:\n      client_cert: " + pki.client_cert +
                "\n      client_key: " + pki.client_key + "\n");
  ::chmod(pki.client_key.c_str(), 0640);
  for (const char* command : {"check-config", "run"}) {
    CommandResult r = s.Ingestd({command});
    EXPECT_EQ(r.exit_code, 78) << command;
    EXPECT_EQ(r.err, s.config() + ": payers[0].tls.client_key " + pki.client_key +
                         ": is readable by group or others (chmod 600)\n")
        << command;
  }
}

}  // namespace
}  // namespace p2p::testing
