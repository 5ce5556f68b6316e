// The seed's curl sequence (steps 7-16) against the real p2p-sandbox binary on loopback, for
// both flavors, over plain HTTP, TLS and a --public-base host; every downloaded line is
// checked against the ids `p2p-sandbox roster` puts in expected.json.
#include <simdjson.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "support/seed_body.h"
#include "support/child_process.h"
#include "support/http_client.h"
#include "support/sandbox_process.h"
#include "support/temp_dir.h"

namespace p2p::testing {
namespace {

using IdsByType = std::map<std::string, std::multiset<std::string>>;

// Step 9's body exactly as the seed prints it.
constexpr const char* kSeedMatchBody = kSeedMemberMatchBody;

constexpr int kMembers = 24;
constexpr int kSeed = 7;

struct Roster {
  TempDir dir{"p2p-roster-"};
  std::vector<std::map<std::string, std::string>> rows;  // members.csv
  std::map<std::string, std::string> outcome;            // member_key -> outcome
  std::map<std::string, IdsByType> resources;            // member_key -> ids
};

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

std::unique_ptr<Roster> LoadRoster() {
  auto roster = std::make_unique<Roster>();
  CommandResult r = RunCommand(SandboxExecutable(),
                               {"roster", "--members", std::to_string(kMembers), "--seed",
                                std::to_string(kSeed), "--out", roster->dir.path().string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::ifstream csv(roster->dir.File("members.csv"));
  std::string line;
  std::getline(csv, line);
  std::vector<std::string> header = SplitCsv(line);
  while (std::getline(csv, line)) {
    std::vector<std::string> cells = SplitCsv(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    roster->rows.push_back(row);
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_FALSE(parser.load(roster->dir.File("expected.json")).get(doc));
  for (simdjson::dom::element m : doc["members"].get_array()) {
    std::string key(m["member_key"].get_string().value());
    roster->outcome[key] = std::string(m["outcome"].get_string().value());
    simdjson::dom::object types;
    if (m["resources"].get_object().get(types)) continue;
    for (auto [type, ids] : types) {
      if (ids.get_array().value().size() == 0) continue;
      for (simdjson::dom::element id : ids.get_array()) {
        roster->resources[key][std::string(type)].insert(std::string(id.get_string().value()));
      }
    }
  }
  return roster;
}

std::string MatchBody(const std::map<std::string, std::string>& row) {
  std::string given;
  std::istringstream names(row.at("given"));
  for (std::string g; names >> g;) given += (given.empty() ? "\"" : ",\"") + g + "\"";
  std::string body =
      R"({"resourceType":"Parameters","id":"member-match-in","parameter":[)"
      R"({"name":"MemberPatient","resource":{"resourceType":"Patient","name":[{"family":")" +
      row.at("family") + R"(","given":[)" + given + R"(]}],"gender":")" + row.at("gender") +
      R"(","birthDate":")" + row.at("birth_date") + R"("}},)"
      R"({"name":"CoverageToMatch","resource":{"resourceType":"Coverage","status":"active",)"
      R"("identifier":[{"value":")" + row.at("prior_coverage_id") + R"("}]}},)";
  if (!row.at("new_coverage_id").empty()) {
    body += R"({"name":"CoverageToLink","resource":{"resourceType":"Coverage","identifier":[{"value":")" +
            row.at("new_coverage_id") + R"("}]}},)";
  }
  body += R"({"name":"Consent","resource":{"resourceType":"Consent","status":"active","policy":[{"uri":)"
          R"("http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#)" +
          row.at("consent_policy") + R"("}],"provision":{"type":"permit","period":{"start":")" +
          row.at("consent_start") + R"(","end":")" + row.at("consent_end") + R"("}}}}]})";
  return body;
}

std::string Gunzip(const std::string& in) {
  z_stream z{};
  inflateInit2(&z, 15 + 16);
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  char buf[65536];
  int rc;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
  } while (rc == Z_OK);
  inflateEnd(&z);
  return rc == Z_STREAM_END ? out : "<gunzip failed>";
}

// Runs steps 11-16 for `group`: kick-off, poll, download. Fills `ids` with the id of every
// NDJSON line by type. `expect_host` is the scheme://host:port every handed-out URL must use.
void ExportGroup(HttpClient& client, const std::string& bearer, const std::string& group,
                 const std::string& flavor, const std::string& expect_host, IdsByType* ids,
                 bool gzip = false) {
  Headers auth{{"Authorization", "Bearer " + bearer}};
  // Step 11.
  HttpResponse kick = client.Get("/v1/bison/bulk-data/r4/Group/" + group + "/$export", auth);
  ASSERT_TRUE(kick.ok()) << kick.error;
  ASSERT_EQ(kick.status, 202) << kick.body;
  std::string poll_url;
  simdjson::dom::parser parser;
  if (flavor == "1up") {
    // Step 12: the job URL is at the end of details.text; no Content-Location.
    EXPECT_EQ(kick.Header("Content-Location"), "");
    simdjson::dom::element oo;
    ASSERT_FALSE(parser.parse(kick.body).get(oo)) << kick.body;
    EXPECT_EQ(oo["resourceType"].get_string().value(), "OperationOutcome");
    EXPECT_FALSE(oo["id"].get_string().value().empty());
    simdjson::dom::element issue = oo["issue"].at(0).value();
    EXPECT_EQ(issue["severity"].get_string().value(), "information");
    EXPECT_EQ(issue["code"].get_string().value(), "informational");
    std::string text(issue["details"]["text"].get_string().value());
    const std::string prefix = "Asynchronous export running. Track job at ";
    ASSERT_EQ(text.rfind(prefix, 0), 0u) << text;
    poll_url = text.substr(prefix.size());
  } else {
    poll_url = kick.Header("Content-Location");
  }
  ASSERT_EQ(poll_url.rfind(expect_host + "/v1/bison/bulk-data/r4/$export/job/", 0), 0u) << poll_url;

  // Steps 13-14: poll until done.
  std::vector<std::pair<std::string, std::string>> outputs;  // type, url
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool saw_running = false;
  while (true) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "export never finished";
    HttpResponse st = client.Get(poll_url, auth);
    ASSERT_TRUE(st.ok()) << st.error;
    simdjson::dom::element s;
    if (flavor == "bulk-v2" && st.status == 202) {
      EXPECT_NE(st.Header("X-Progress"), "");
      EXPECT_NE(st.Header("Retry-After"), "");
      saw_running = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    ASSERT_EQ(st.status, 200) << st.body;
    ASSERT_FALSE(parser.parse(st.body).get(s)) << st.body;
    EXPECT_EQ(s["transactionTime"].get_string().value().size(), 24u);
    EXPECT_EQ(s["requiresAccessToken"].get_bool().value(), true);
    std::string request(s["request"].get_string().value());
    EXPECT_EQ(request.rfind(expect_host + "/v1/bison/bulk-data/r4/Group/" + group + "/$export", 0), 0u)
        << request;
    if (flavor == "1up") {
      std::string status(s["status"].get_string().value());
      EXPECT_EQ(s["id"].get_string().value(), poll_url.substr(poll_url.rfind('/') + 1));
      simdjson::dom::element batches = s["batches"].value();
      uint64_t complete = batches["complete"].get_uint64().value();
      uint64_t running = batches["running"].get_uint64().value();
      EXPECT_EQ(complete + running + batches["failed"].get_uint64().value(),
                batches["total"].get_uint64().value());
      EXPECT_EQ(s["output"].get_array().value().size(), complete);
      if (status == "Running") {
        saw_running = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      ASSERT_EQ(status, "Successful");
      EXPECT_EQ(running, 0u);
      EXPECT_FALSE(s["lastUpdated"].get_string().value().empty());
    } else {
      EXPECT_EQ(s["error"].get_array().value().size(), 0u);
    }
    uint64_t total = 0;
    for (simdjson::dom::element o : s["output"].get_array()) {
      outputs.emplace_back(std::string(o["type"].get_string().value()),
                           std::string(o["url"].get_string().value()));
      if (flavor == "bulk-v2") total += o["count"].get_uint64().value();
    }
    if (flavor == "1up") total = s["resourceCount"].get_uint64().value();
    uint64_t lines = 0;
    // Steps 15-16: download every batch.
    for (const auto& [type, url] : outputs) {
      EXPECT_EQ(url.rfind(expect_host + "/v1/bison/bulk-data/r4/$export/file/" + type + "_", 0), 0u)
          << url;
      Headers headers = auth;
      if (gzip) headers.emplace_back("Accept-Encoding", "gzip");
      HttpResponse file = client.Get(url, headers);
      ASSERT_TRUE(file.ok()) << file.error;
      ASSERT_EQ(file.status, 200);
      EXPECT_EQ(file.Header("Content-Type"), "application/fhir+ndjson");
      std::string body = file.body;
      if (gzip) {
        EXPECT_EQ(file.Header("Content-Encoding"), "gzip");
        body = Gunzip(body);
        HttpResponse plain = client.Get(url, auth);
        EXPECT_EQ(plain.body, body) << "gzip decodes to the same lines";
      }
      std::istringstream in(body);
      for (std::string line; std::getline(in, line);) {
        simdjson::dom::element r;
        ASSERT_FALSE(parser.parse(line).get(r)) << line;
        EXPECT_EQ(r["resourceType"].get_string().value(), type);
        (*ids)[type].insert(std::string(r["id"].get_string().value()));
        ++lines;
      }
      EXPECT_EQ(body.back(), '\n');
    }
    EXPECT_EQ(lines, total);
    break;
  }
  (void)saw_running;
}

class SeedFlowTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(SandboxExecutable().empty()) << "P2P_SANDBOX not set";
    roster_ = LoadRoster();
  }
  std::unique_ptr<Roster> roster_;
};

TEST_P(SeedFlowTest, SeedStepsLandEveryExpectedResource) {
  std::string error;
  auto sandbox = StartSandbox({"--members", std::to_string(kMembers), "--seed",
                               std::to_string(kSeed), "--job-delay", "50ms", "--flavor", GetParam()},
                              &error);
  ASSERT_TRUE(sandbox) << error;
  ASSERT_EQ(sandbox->url.rfind("http://127.0.0.1:", 0), 0u);
  HttpClient client(sandbox->url);

  // Step 7: the token request as curl sends it.
  HttpResponse token = client.Post("/auth/realms/dev-portal/protocol/openid-connect/token",
                                   "client_id=sandbox-client&client_secret=sandbox-secret&"
                                   "grant_type=client_credentials&scope=member-match|read",
                                   "application/x-www-form-urlencoded");
  ASSERT_EQ(token.status, 200) << token.body;
  simdjson::dom::parser parser;
  simdjson::dom::element t;
  ASSERT_FALSE(parser.parse(token.body).get(t));
  std::string bearer(t["access_token"].get_string().value());  // step 8
  EXPECT_EQ(t["token_type"].get_string().value(), "Bearer");
  EXPECT_EQ(t["expires_in"].get_uint64().value(), 3600u);
  EXPECT_EQ(t["scope"].get_string().value(), "member-match|read");

  // Step 9: the seed's body, byte for byte; step 10: its groupId.
  HttpResponse match = client.Post("/v1/bison/member-match-sandbox/$member-match", kSeedMatchBody,
                                   "application/json", {{"Authorization", "Bearer " + bearer}});
  ASSERT_EQ(match.status, 200) << match.body;
  simdjson::dom::element m;
  ASSERT_FALSE(parser.parse(match.body).get(m));
  EXPECT_EQ(m["resourceType"].get_string().value(), "Parameters");
  std::string group;
  bool member_identifier = false;
  for (simdjson::dom::element p : m["parameter"].get_array()) {
    if (p["name"].get_string().value() == "groupId") group = std::string(p["valueString"].get_string().value());
    if (p["name"].get_string().value() == "MemberIdentifier") {
      member_identifier = !p["valueIdentifier"]["value"].get_string().value().empty();
    }
  }
  ASSERT_FALSE(group.empty());
  EXPECT_TRUE(member_identifier);

  IdsByType ids;
  ExportGroup(client, bearer, group, GetParam(), sandbox->url, &ids);
  EXPECT_EQ(ids, roster_->resources.at("M000000000"));

  // A few more roster members, through the standard Patient/$member-match path.
  int complete = 0, no_match = 0, refused = 0;
  for (const auto& row : roster_->rows) {
    const std::string& key = row.at("member_key");
    if (key == "M000000000") continue;
    const std::string& outcome = roster_->outcome.at(key);
    HttpResponse r = client.Post("/v1/bison/Patient/$member-match", MatchBody(row),
                                 "application/fhir+json", {{"Authorization", "Bearer " + bearer}});
    if (outcome == "no_match") {
      EXPECT_EQ(r.status, 422) << key;
      EXPECT_NE(r.body.find(R"("code":"processing")"), std::string::npos) << r.body;
      ++no_match;
    } else if (outcome == "consent_refused") {
      EXPECT_EQ(r.status, 422) << key;
      EXPECT_NE(r.body.find(R"("code":"business-rule")"), std::string::npos) << r.body;
      ++refused;
    } else if (complete < 3) {
      ASSERT_EQ(r.status, 200) << key << " " << r.body;
      size_t at = r.body.find(R"("name":"groupId","valueString":")");
      ASSERT_NE(at, std::string::npos);
      at += 32;
      IdsByType member_ids;
      ExportGroup(client, bearer, r.body.substr(at, r.body.find('"', at) - at), GetParam(),
                  sandbox->url, &member_ids);
      EXPECT_EQ(member_ids, roster_->resources.at(key)) << key;
      ++complete;
    } else {
      EXPECT_EQ(r.status, 200) << key << " " << r.body;
    }
  }
  EXPECT_EQ(complete, 3);
  EXPECT_GT(no_match + refused, 0);

  // The request log has one line per request and no demographics.
  std::string log = sandbox->StderrLog();
  EXPECT_NE(log.find("POST /v1/bison/member-match-sandbox/$member-match 200 "), std::string::npos)
      << log;
  EXPECT_EQ(log.find("Young"), std::string::npos);
  EXPECT_EQ(log.find("2001-03-11"), std::string::npos);
  EXPECT_EQ(log.find("17148123-47da"), std::string::npos);
}

TEST_P(SeedFlowTest, PublicBaseHostCarriesJobAndFileUrlsAndGzipDecodesToTheSameLines) {
  std::string error;
  auto sandbox = StartSandbox({"--members", std::to_string(kMembers), "--seed",
                               std::to_string(kSeed), "--job-delay", "50ms", "--flavor",
                               GetParam(), "--public-base", "http://localhost:0"},
                              &error);
  ASSERT_TRUE(sandbox) << error;
  std::string port = sandbox->url.substr(sandbox->url.rfind(':') + 1);
  HttpClient client(sandbox->url);
  std::string bearer = FetchToken(client);
  ASSERT_FALSE(bearer.empty());
  HttpResponse match = client.Post("/v1/bison/member-match-sandbox/$member-match", kSeedMatchBody,
                                   "application/json", {{"Authorization", "Bearer " + bearer}});
  ASSERT_EQ(match.status, 200);
  size_t at = match.body.find(R"("name":"groupId","valueString":")") + 32;
  IdsByType ids;
  ExportGroup(client, bearer, match.body.substr(at, match.body.find('"', at) - at), GetParam(),
              "http://localhost:" + port, &ids, /*gzip=*/true);
  EXPECT_EQ(ids, roster_->resources.at("M000000000"));
}

INSTANTIATE_TEST_SUITE_P(Flavors, SeedFlowTest, ::testing::Values("1up", "bulk-v2"),
                         [](const auto& info) { return info.param == "1up" ? "OneUp" : "BulkV2"; });

TEST(SandboxTls, SeedFlowOverHttpsWithAVerifiedSelfSignedCertificate) {
  ASSERT_FALSE(SandboxExecutable().empty());
  TempDir dir("p2p-tls-");
  CommandResult gen = RunCommand(
      "/usr/bin/openssl",
      {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", dir.File("key.pem"), "-out", dir.File("cert.pem"), "-days", "1", "-subj",
       "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  std::string error;
  auto sandbox = StartSandbox({"--job-delay", "50ms", "--tls-cert", dir.File("cert.pem"),
                               "--tls-key", dir.File("key.pem")},
                              &error);
  ASSERT_TRUE(sandbox) << error;
  ASSERT_EQ(sandbox->url.rfind("https://127.0.0.1:", 0), 0u) << sandbox->url;
  HttpClient client(sandbox->url, dir.File("cert.pem"));
  std::string bearer = FetchToken(client);
  ASSERT_FALSE(bearer.empty());
  HttpResponse match = client.Post("/v1/bison/member-match-sandbox/$member-match", kSeedMatchBody,
                                   "application/json", {{"Authorization", "Bearer " + bearer}});
  ASSERT_EQ(match.status, 200);
  size_t at = match.body.find(R"("name":"groupId","valueString":")") + 32;
  IdsByType ids;
  ExportGroup(client, bearer, match.body.substr(at, match.body.find('"', at) - at), "1up",
              sandbox->url, &ids);
  EXPECT_FALSE(ids["Patient"].empty());

  // Without the certificate as a trust anchor the handshake fails.
  TempDir other("p2p-tls-other-");
  RunCommand("/usr/bin/openssl",
             {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-keyout", other.File("key.pem"), "-out", other.File("cert.pem"), "-days",
              "1", "-subj", "/CN=localhost"});
  HttpClient untrusting(sandbox->url, other.File("cert.pem"));
  HttpResponse refused = untrusting.Get("/admin/stats");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error.find("TLS handshake"), std::string::npos) << refused.error;
}

}  // namespace
}  // namespace p2p::testing
