// The probe's verdicts (pipeline/probe.h): each outcome of a check becomes ok / warn / FAIL with
// a detail an operator can act on. The network side is tested against p2p-sandbox
// (tests/integration/probe_test.cpp).
#include "pipeline/probe.h"

#include <gtest/gtest.h>

namespace p2p::pipeline {
namespace {

constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15T08:00:00Z
constexpr int64_t kDay = 86400;

std::string Verdict(const ProbeCheck& c) {
  return std::string(ProbeResultName(c.result)) + " " + c.name + ": " + c.detail;
}

http::Response Answer(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

PayerOptions Payer() {
  PayerOptions p;
  p.id = "acme";
  p.base_url = "https://fhir.acme.example/r4";
  p.auth.token_url = "https://fhir.acme.example/token";
  p.auth.client_secret = "s3cret";
  return p;
}

http::TlsPeer Peer(int64_t not_after) {
  return http::TlsPeer{"CN=fhir.acme.example", "CN=Acme CA,O=Acme", not_after, "TLSv1.3", ""};
}

TEST(ProbeJudgeTls, CertificateFacts) {
  EXPECT_EQ(Verdict(JudgeTls("tls fhir.acme.example:443", Peer(kNow + 200 * kDay), kNow)),
            "ok tls fhir.acme.example:443: TLSv1.3; subject CN=fhir.acme.example; issuer CN=Acme "
            "CA,O=Acme; expires 2027-08-03 (in 200 days)");
  http::TlsPeer mutual = Peer(kNow + 200 * kDay);
  mutual.client_subject = "CN=new-payer";
  EXPECT_EQ(JudgeTls("tls x", mutual, kNow).detail,
            "TLSv1.3; subject CN=fhir.acme.example; issuer CN=Acme CA,O=Acme; expires 2027-08-03 "
            "(in 200 days); client certificate CN=new-payer accepted");
}

TEST(ProbeJudgeTls, ExpiryUnderThirtyDaysWarnsAndExpiredFails) {
  EXPECT_EQ(Verdict(JudgeTls("tls x", Peer(kNow + 30 * kDay), kNow)).substr(0, 6), "ok tls");
  const ProbeCheck soon = JudgeTls("tls x", Peer(kNow + 29 * kDay + 3600), kNow);
  EXPECT_EQ(soon.result, ProbeResult::kWarn);
  EXPECT_NE(soon.detail.find("expires 2027-02-13 (in 29 days): renew it, under 30 days left"),
            std::string::npos)
      << soon.detail;
  const ProbeCheck gone = JudgeTls("tls x", Peer(kNow - 1), kNow);
  EXPECT_EQ(gone.result, ProbeResult::kFail);
  EXPECT_NE(gone.detail.find("expires 2027-01-15 (expired)"), std::string::npos) << gone.detail;
}

TEST(ProbeJudgeTls, HandshakeFailures) {
  Result<http::TlsPeer> untrusted =
      MakeError(ErrorKind::kNetwork,
                "h:443: TLS handshake failed: certificate verify failed: self-signed certificate");
  EXPECT_EQ(Verdict(JudgeTls("tls h:443", untrusted, kNow)),
            "FAIL tls h:443: h:443: TLS handshake failed: certificate verify failed: self-signed "
            "certificate (is the server's certificate signed by a CA in the system store or "
            "payers[].tls.ca_file?)");
  Result<http::TlsPeer> refused =
      MakeError(ErrorKind::kNetwork, "h:443: connect failed: Connection refused");
  EXPECT_EQ(Verdict(JudgeTls("tls h:443", refused, kNow)),
            "FAIL tls h:443: h:443: connect failed: Connection refused");
}

TEST(ProbeJudgeToken, GrantedOrRefusedWithTheOAuthCode) {
  PayerOptions p = Payer();
  EXPECT_EQ(Verdict(JudgeToken(p, std::string("tok"))),
            "ok token: access token granted (client_secret_post to "
            "https://fhir.acme.example/token)");
  EXPECT_EQ(
      Verdict(JudgeToken(p, MakeError(ErrorKind::kAuth, "token endpoint: 400 invalid_scope", 400))),
      "FAIL token: token endpoint: 400 invalid_scope (client_secret_post to "
      "https://fhir.acme.example/token); check auth.scope");
  p.auth.method = AuthMethod::kPrivateKeyJwt;
  p.auth.token_url.clear();
  EXPECT_EQ(Verdict(JudgeToken(p, MakeError(ErrorKind::kAuth, "token endpoint: 401", 401))),
            "FAIL token: token endpoint: 401 (private_key_jwt to the discovered token URL)");
}

constexpr char kStatement[] = R"({"resourceType":"CapabilityStatement","fhirVersion":"4.0.1",
  "software":{"name":"Acme"},"rest":[{"mode":"server","operation":[
  {"name":"member-match"},{"name":"export"}]}]})";

TEST(ProbeJudgeMetadata, ReportsVersionAndOperations) {
  EXPECT_EQ(
      Verdict(JudgeMetadata(Payer(), Answer(200, kStatement))),
      "ok metadata: FHIR 4.0.1 (Acme); $member-match yes; $bulk-member-match no; $export yes");
}

TEST(ProbeJudgeMetadata, AnOperationTheConfigurationUsesAndTheServerDoesNotAdvertiseWarns) {
  PayerOptions bulk = Payer();
  bulk.match.mode = MatchMode::kBulk;
  EXPECT_EQ(Verdict(JudgeMetadata(bulk, Answer(200, kStatement))),
            "warn metadata: FHIR 4.0.1 (Acme); $member-match yes; $bulk-member-match no (used by "
            "this payer's configuration); $export yes");
  PayerOptions pdex = Payer();
  pdex.export_job.operation = ExportOperation::kDavinciDataExport;
  EXPECT_EQ(Verdict(JudgeMetadata(pdex, Answer(200, kStatement))),
            "warn metadata: FHIR 4.0.1 (Acme); $member-match yes; $bulk-member-match no; $export "
            "yes; $davinci-data-export no (used by this payer's configuration)");
  EXPECT_EQ(
      Verdict(JudgeMetadata(
          Payer(), Answer(200, R"({"resourceType":"CapabilityStatement","fhirVersion":"4.0.1"})"))),
      "warn metadata: FHIR 4.0.1; $member-match no (used by this payer's configuration); "
      "$bulk-member-match no; $export no (used by this payer's configuration)");
}

TEST(ProbeJudgeMetadata, OtherFhirVersionsWarn) {
  const ProbeCheck r5 = JudgeMetadata(
      Payer(), Answer(200, R"({"resourceType":"CapabilityStatement","fhirVersion":"5.0.0",
        "rest":[{"operation":[{"name":"member-match"},{"name":"export"}]}]})"));
  EXPECT_EQ(Verdict(r5),
            "warn metadata: FHIR 5.0.0 (the daemon speaks FHIR R4, 4.0.x); "
            "$member-match yes; $bulk-member-match no; $export yes");
  EXPECT_EQ(JudgeMetadata(Payer(), Answer(200, R"({"resourceType":"CapabilityStatement"})"))
                .detail.substr(0, 60),
            "FHIR version missing (the daemon speaks FHIR R4, 4.0.x); $me");
}

TEST(ProbeJudgeMetadata, NonCapabilityAnswersFail) {
  EXPECT_EQ(
      Verdict(JudgeMetadata(Payer(), Answer(404, "{}"))),
      "FAIL metadata: GET {base_url}/metadata: HTTP 404 (is base_url the payer's FHIR base?)");
  EXPECT_EQ(Verdict(JudgeMetadata(Payer(), Answer(401, ""))),
            "FAIL metadata: GET {base_url}/metadata: HTTP 401");
  EXPECT_EQ(Verdict(JudgeMetadata(Payer(), Answer(200, R"({"resourceType":"Bundle"})"))),
            "FAIL metadata: metadata: not a CapabilityStatement (resourceType Bundle)");
  EXPECT_EQ(Verdict(JudgeMetadata(Payer(), Answer(200, "<html/>"))),
            "FAIL metadata: metadata: not JSON");
  EXPECT_EQ(Verdict(JudgeMetadata(Payer(), MakeError(ErrorKind::kTimeout,
                                                     "GET /r4/metadata: read header timed out "
                                                     "after 30000ms"))),
            "FAIL metadata: GET /r4/metadata: read header timed out after 30000ms");
}

PayerOptions JwtPayer() {
  PayerOptions p = Payer();
  p.auth.method = AuthMethod::kPrivateKeyJwt;
  p.auth.token_url.clear();
  return p;
}

std::string Smart(std::string_view methods, std::string_view algs,
                  std::string_view endpoint = "https://fhir.acme.example/token") {
  return R"({"token_endpoint":")" + std::string(endpoint) + "\"" +
         (methods.empty() ? ""
                          : R"(,"token_endpoint_auth_methods_supported":)" + std::string(methods)) +
         (algs.empty()
              ? ""
              : R"(,"token_endpoint_auth_signing_alg_values_supported":)" + std::string(algs)) +
         "}";
}

// The verdict on a smart-configuration listing `methods` and `algs` (JSON arrays, or "" for
// none) for a private_key_jwt payer whose key signs `alg`.
std::string JudgeJwt(std::string_view methods, std::string_view algs,
                     const Result<std::string>& alg,
                     std::string_view endpoint = "https://fhir.acme.example/token",
                     const PayerOptions& payer = JwtPayer()) {
  return Verdict(JudgeSmartConfiguration(payer, Answer(200, Smart(methods, algs, endpoint)), alg));
}

TEST(ProbeJudgeSmartConfiguration, PrivateKeyJwtAndTheAlgorithmSupported) {
  EXPECT_EQ(JudgeJwt(R"(["private_key_jwt"])", R"(["RS384","ES384"])", std::string("ES384")),
            "ok smart-configuration: token_endpoint https://fhir.acme.example/token; "
            "private_key_jwt supported; ES384 supported");
}

TEST(ProbeJudgeSmartConfiguration, AlgorithmNotListedFailsAndMissingListsWarn) {
  EXPECT_EQ(JudgeJwt(R"(["private_key_jwt"])", R"(["RS384"])", std::string("ES384")),
            "FAIL smart-configuration: the key signs ES384, not in "
            "token_endpoint_auth_signing_alg_values_supported (RS384)");
  EXPECT_EQ(JudgeJwt("", "", std::string("RS384")),
            "warn smart-configuration: token_endpoint https://fhir.acme.example/token; "
            "token_endpoint_auth_methods_supported missing (private_key_jwt not confirmed); "
            "token_endpoint_auth_signing_alg_values_supported missing (RS384 not confirmed)");
  EXPECT_EQ(JudgeJwt(R"(["private_key_jwt"])", "",
                     MakeError(ErrorKind::kInvalid, "private key: not an RSA or EC P-384 key")),
            "FAIL smart-configuration: private key: not an RSA or EC P-384 key");
}

TEST(ProbeJudgeSmartConfiguration, MethodOrEndpointUnusableFails) {
  EXPECT_EQ(JudgeJwt(R"(["client_secret_basic"])", R"(["RS384"])", std::string("RS384")),
            "FAIL smart-configuration: smart-configuration: token endpoint does not support "
            "private_key_jwt");
  EXPECT_EQ(JudgeJwt(R"(["private_key_jwt"])", R"(["RS384"])", std::string("RS384"),
                     "https://evil.example/t"),
            "FAIL smart-configuration: smart-configuration: token_endpoint host evil.example is "
            "not in trusted_hosts");
  EXPECT_EQ(Verdict(JudgeSmartConfiguration(JwtPayer(), Answer(404, ""), std::string("RS384"))),
            "FAIL smart-configuration: GET /.well-known/smart-configuration: HTTP 404");
  EXPECT_EQ(Verdict(JudgeSmartConfiguration(JwtPayer(), Answer(200, "{}"), std::string("RS384"))),
            "FAIL smart-configuration: smart-configuration: token_endpoint is missing");
}

TEST(ProbeJudgeSmartConfiguration, ConfiguredTokenUrlOtherThanTheDiscoveredOneWarns) {
  PayerOptions p = JwtPayer();
  p.auth.token_url = "https://fhir.acme.example/oauth/token";
  EXPECT_EQ(JudgeJwt(R"(["private_key_jwt"])", R"(["RS384"])", std::string("RS384"),
                     "https://fhir.acme.example/token", p),
            "warn smart-configuration: token_endpoint https://fhir.acme.example/token; "
            "private_key_jwt supported; RS384 supported; differs from auth.token_url "
            "https://fhir.acme.example/oauth/token (the assertion's audience must be the endpoint "
            "the payer checks)");
}

}  // namespace
}  // namespace p2p::pipeline
