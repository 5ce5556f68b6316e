// `p2p-ingestd probe` against p2p-sandbox: a good configuration passes with one line per check,
// and each kind of bad one (client secret, token URL, TLS trust, base URL) fails with a line
// that says what is wrong and exit 1, never printing the secret. Also mutual TLS, SMART
// discovery with private_key_jwt, an unknown --payer (64) and a bad configuration (78).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "auth/jwk.h"
#include "integration/security_setup.h"
#include "support/test_pki.h"

namespace p2p::testing {
namespace {

constexpr char kWrongSecret[] = "wr0ng-s3cret-4-test";
constexpr char kTokenPath[] = "/auth/realms/dev-portal/protocol/openid-connect/token";

class Probe : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_FALSE(SandboxExecutable().empty()); }

  // Replaces `from` (which must occur) by `to` in the configuration.
  void Edit(const std::string& from, const std::string& to) {
    std::string text = ReadFile(s.config());
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    std::ofstream(s.config()) << text;
  }

  CommandResult Run(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"probe"};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = s.Ingestd(args);
    EXPECT_EQ(r.out.find(kClientSecretValue), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find(kClientSecretValue), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find(kWrongSecret), std::string::npos) << r.out;
    return r;
  }

  // The result ("ok", "warn", "FAIL", "skip") and the detail of check `name` ("token",
  // "metadata", "tls HOST:PORT"), as "RESULT: detail"; "" when there is no such line.
  static std::string Check(const std::string& out, const std::string& name) {
    const std::regex line("^  (ok|warn|FAIL|skip) +" +
                          std::regex_replace(name, std::regex("[.]"), "\\.") + " +[0-9]+ms  (.*)$");
    std::istringstream in(out);
    std::smatch m;
    for (std::string l; std::getline(in, l);) {
      if (std::regex_match(l, m, line)) return m[1].str() + ": " + m[2].str();
    }
    return "";
  }

  static bool Has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }

  SecuritySetup s;
};

TEST_F(Probe, GoodConfigurationPassesWithOneLinePerCheck) {
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig();
  CommandResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string host = s.sandbox->url.substr(7);  // 127.0.0.1:PORT
  EXPECT_TRUE(Has(r.out, "payer bison (" + s.sandbox->url + "/v1/bison)\n")) << r.out;
  EXPECT_EQ(Check(r.out, "tls " + host), "skip: plain http: TLS skipped") << r.out;
  EXPECT_EQ(Check(r.out, "token"),
            "ok: access token granted (client_secret_post to " + s.sandbox->url + kTokenPath + ")")
      << r.out;
  EXPECT_EQ(Check(r.out, "metadata"),
            "ok: FHIR 4.0.1 (p2p-sandbox); $member-match yes; $bulk-member-match yes; $export yes")
      << r.out;
  EXPECT_TRUE(Has(r.out, "bison: 3 checks: 2 ok, 0 warnings, 0 failed, 1 skipped\n")) << r.out;
  // No member data: the sandbox saw no $member-match, export or file request.
  const std::string log = s.sandbox->StderrLog();
  EXPECT_FALSE(Has(log, "member-match")) << log;
  EXPECT_FALSE(Has(log, "$export")) << log;
}

TEST_F(Probe, WrongClientSecretNamesInvalidClient) {
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig();
  std::ofstream(s.File("secret")) << kWrongSecret << "\n";
  CommandResult r = Run();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Check(r.out, "token"),
            "FAIL: token endpoint: 401 invalid_client (client_secret_post to " + s.sandbox->url +
                kTokenPath +
                "); check auth.client_id and the client secret or key the payer registered")
      << r.out;
  EXPECT_TRUE(Has(r.out, "bison: 3 checks: 1 ok, 0 warnings, 1 failed, 1 skipped\n")) << r.out;
}

TEST_F(Probe, WrongTokenPathIsA404) {
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig();
  Edit(kTokenPath, std::string(kTokenPath) + "s");
  CommandResult r = Run();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Check(r.out, "token"), "FAIL: token endpoint: 404 (client_secret_post to " +
                                       s.sandbox->url + kTokenPath + "s)")
      << r.out;
}

TEST_F(Probe, TokenUrlWhereNothingListensIsConnectionRefused) {
  // A port that was free a moment ago: bound, then closed.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  const std::string closed = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig();
  Edit("token_url: " + s.sandbox->url, "token_url: http://" + closed);
  CommandResult r = Run();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Check(r.out, "tls " + closed), "skip: plain http: TLS skipped") << r.out;
  EXPECT_EQ(Check(r.out, "token"),
            std::string("FAIL: token endpoint: POST ") + kTokenPath +
                ": connect failed: Connection refused (client_secret_post to http://" + closed +
                kTokenPath + ")")
      << r.out;
  EXPECT_EQ(Check(r.out, "metadata").substr(0, 3), "ok:") << r.out;
}

TEST_F(Probe, WrongBaseUrlFailsTheMetadataCheck) {
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig();
  Edit("/v1/bison\n", "/v1/bisonx\n");
  CommandResult r = Run();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Check(r.out, "token").substr(0, 3), "ok:") << r.out;
  EXPECT_EQ(Check(r.out, "metadata"),
            "FAIL: GET {base_url}/metadata: HTTP 404 (is base_url the payer's FHIR base?)")
      << r.out;
}

class ProbeTls : public Probe {
 protected:
  test::TestPki pki = test::MakeTestPki(s.dir.path().string());
  std::string Host() const { return s.sandbox->url.substr(8); }  // after "https://"
};

TEST_F(ProbeTls, TrustedCertificateAndMutualTlsPass) {
  ASSERT_EQ(s.StartSandbox({"--tls-cert", pki.server_cert, "--tls-key", pki.server_key,
                            "--tls-client-ca", pki.ca}),
            "");
  s.WriteConfig("    tls:\n      ca_file: " + pki.ca + "\n      client_cert: " + pki.client_cert +
                "\n      client_key: " + pki.client_key + "\n");
  CommandResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The test certificates last a day: the check warns that they expire soon.
  EXPECT_TRUE(std::regex_match(
      Check(r.out, "tls " + Host()),
      std::regex("warn: TLSv1\\.[23]; subject CN=localhost; issuer CN=p2p test CA; expires "
                 "[0-9]{4}-[0-9]{2}-[0-9]{2} \\(in [01] days?\\): renew it, under 30 days left; "
                 "client certificate CN=p2p-ingest client accepted")))
      << r.out;
  EXPECT_TRUE(Has(r.out, "bison: 3 checks: 2 ok, 1 warning, 0 failed, 0 skipped\n")) << r.out;
}

TEST_F(ProbeTls, CertificateTheConfiguredCaDidNotSignFailsTheHandshake) {
  ASSERT_EQ(s.StartSandbox({"--tls-cert", pki.server_cert, "--tls-key", pki.server_key}), "");
  s.WriteConfig("    tls:\n      ca_file: " + pki.rogue_ca + "\n");
  CommandResult r = Run();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Check(r.out, "tls " + Host()),
            "FAIL: " + Host() +
                ": TLS handshake failed: certificate verify failed: unable to get local issuer "
                "certificate (is the server's certificate signed by a CA in the system store or "
                "payers[].tls.ca_file?)")
      << r.out;
  EXPECT_TRUE(Has(r.out, "bison: 3 checks: 0 ok, 0 warnings, 3 failed, 0 skipped\n")) << r.out;
}

TEST_F(ProbeTls, ServerDemandingAClientCertificateIsSeenAtTheTlsCheck) {
  ASSERT_EQ(s.StartSandbox({"--tls-cert", pki.server_cert, "--tls-key", pki.server_key,
                            "--tls-client-ca", pki.ca}),
            "");
  s.WriteConfig("    tls:\n      ca_file: " + pki.ca + "\n");
  CommandResult r = Run();
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(
      Has(Check(r.out, "tls " + Host()),
          "FAIL: " + Host() + ": refused after the handshake (no client certificate configured): "))
      << r.out;
}

TEST_F(Probe, PrivateKeyJwtChecksTheSmartConfiguration) {
  std::shared_ptr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"), EVP_PKEY_free);
  std::ofstream(s.File("client.jwks"))
      << "{\"keys\":[" << *auth::KeyToJwk(key.get(), "ec-1", JwtAlgorithm::kFromKey, false) << "]}";
  std::ofstream(s.File("private.jwks"))
      << "{\"keys\":[" << *auth::KeyToJwk(key.get(), "ec-1", JwtAlgorithm::kFromKey, true) << "]}";
  ::chmod(s.File("private.jwks").c_str(), 0600);
  ASSERT_EQ(s.StartSandbox({"--client-jwks", "jwt-client:" + s.File("client.jwks")}), "");
  s.WriteConfig();
  // private_key_jwt with the token URL discovered.
  Edit("method: client_secret_post", "method: private_key_jwt");
  Edit("      token_url: " + s.sandbox->url + kTokenPath + "\n", "");
  Edit("client_id: sandbox-client\n      client_secret_file: secret\n",
       "client_id: jwt-client\n      jwks_file: " + s.File("private.jwks") + "\n");
  CommandResult r = Run();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Check(r.out, "smart-configuration"), "ok: token_endpoint " + s.sandbox->url +
                                                     kTokenPath +
                                                     "; private_key_jwt supported; ES384 supported")
      << r.out;
  EXPECT_EQ(Check(r.out, "token"),
            "ok: access token granted (private_key_jwt to the discovered token URL)")
      << r.out;
}

TEST_F(Probe, UnknownPayerIsAUsageError) {
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig();
  CommandResult r = Run({"--payer", "acme"});
  EXPECT_EQ(r.exit_code, 64);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "p2p-ingestd: probe: no payer acme in " + s.config() + " (payers: bison)\n");
  EXPECT_EQ(Run({"--payer", "bison"}).exit_code, 0);
}

TEST_F(Probe, BadConfigurationIsExit78) {
  ASSERT_EQ(s.StartSandbox({}), "");
  s.WriteConfig();
  Edit("client_secret_file: secret", "client_secret_file: missing-secret");
  CommandResult r = Run();
  EXPECT_EQ(r.exit_code, 78) << r.out << r.err;
  EXPECT_TRUE(Has(r.err, "payers[0].auth.client_secret_file")) << r.err;
}

}  // namespace
}  // namespace p2p::testing
