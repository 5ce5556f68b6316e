// payers[].tls in the configuration: decoded with paths resolved like every other path, client
// certificate and key only together, and one TLS setting per host when payers share a host.
#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace p2p {
namespace {

std::string Payer(const std::string& id, const std::string& host, const std::string& tls) {
  return "  - id: " + id + "\n    base_url: https://" + host + "/v1/" + id +
         "\n    auth:\n      token_url: https://" + host +
         "/token\n      client_id: c\n      client_secret_env: S\n" + tls;
}

std::string Config(const std::string& payers) {
  return "state:\n  path: state.db\nstore:\n  path: store.db\nsource:\n  path: inbox\npayers:\n" +
         payers;
}

std::vector<std::string> Problems(const std::string& yaml) {
  DecodedOptions d = DecodeOptions(yaml, "/etc/p2p");
  std::vector<std::string> out;
  for (const ConfigProblem& p : d.problems) out.push_back(p.path + ": " + p.message);
  for (const ConfigProblem& p : ValidateOptions(d.options))
    out.push_back(p.path + ": " + p.message);
  return out;
}

TEST(TlsConfig, DecodesTheTlsBlockWithPathsResolved) {
  DecodedOptions d = DecodeOptions(
      Config(Payer("pdex", "pdex.example",
                   "    tls:\n      ca_file: ca.pem\n      client_cert: /pki/client.pem\n"
                   "      client_key: keys/client.key\n")),
      "/etc/p2p");
  ASSERT_TRUE(d.problems.empty()) << d.problems[0].path << ": " << d.problems[0].message;
  const PayerTlsOptions& tls = d.options.payers.at(0).tls;
  EXPECT_EQ(tls.ca_file, "/etc/p2p/ca.pem");
  EXPECT_EQ(tls.client_cert, "/pki/client.pem");
  EXPECT_EQ(tls.client_key, "/etc/p2p/keys/client.key");
  EXPECT_TRUE(ValidateOptions(d.options).empty());
}

TEST(TlsConfig, ClientCertAndKeyGoTogether) {
  EXPECT_EQ(Problems(Config(Payer("pdex", "pdex.example", "    tls:\n      client_cert: c.pem\n"))),
            std::vector<std::string>{"payers[0].tls: client_cert and client_key go together"});
}

TEST(TlsConfig, UnknownTlsKeyIsAProblem) {
  std::vector<std::string> p =
      Problems(Config(Payer("pdex", "pdex.example", "    tls:\n      verify: false\n")));
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].rfind("payers[0].tls.verify: ", 0), 0u) << p[0];
}

TEST(TlsConfig, PayersSharingAHostMustShareTheirTlsSettings) {
  const std::string a = Payer("a", "shared.example", "");
  const std::string b =
      Payer("b", "shared.example",
            "    tls:\n      client_cert: /pki/b.pem\n      client_key: /pki/b.key\n");
  EXPECT_EQ(Problems(Config(a + b)),
            std::vector<std::string>{
                "payers[1].tls: differs from payers[0].tls on shared host shared.example"});
  EXPECT_TRUE(Problems(Config(a + Payer("c", "other.example", ""))).empty());
}

TEST(TlsConfig, PlainHttpToANonLoopbackHostNeedsAllowInsecureHttp) {
  std::string payer =
      "  - id: far\n    base_url: http://10.1.2.3/v1\n    auth:\n"
      "      token_url: https://10.1.2.3/token\n      client_id: c\n"
      "      client_secret_env: S\n";
  EXPECT_EQ(Problems(Config(payer)),
            std::vector<std::string>{"payers[0].base_url: plain http is allowed only to loopback "
                                     "hosts (set allow_insecure_http: true)"});
  EXPECT_TRUE(Problems(Config(payer + "    allow_insecure_http: true\n")).empty());
  std::string loopback =
      "  - id: near\n    base_url: http://127.0.0.1:8080/v1\n    auth:\n"
      "      token_url: http://localhost:8080/token\n      client_id: c\n"
      "      client_secret_env: S\n";
  EXPECT_TRUE(Problems(Config(loopback)).empty());
}

}  // namespace
}  // namespace p2p
