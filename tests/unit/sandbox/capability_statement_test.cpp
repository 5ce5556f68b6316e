// The sandbox's GET [base]/metadata: a FHIR R4 CapabilityStatement without a token, at both base
// paths, advertising $member-match, $bulk-member-match and $export with their canonical
// OperationDefinitions; unknown tenants and other methods are not served.
#include "capability_statement.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>

#include "sandbox_app.h"

namespace p2p::sandbox {
namespace {

class SandboxMetadata : public ::testing::Test {
 protected:
  SandboxMetadata() : app_(Options(), "http://files.test:9") {}

  static ServerOptions Options() {
    ServerOptions options;
    options.synth = SynthOptions{3, 20, 1};
    return options;
  }

  AppReply Get(std::string_view target, std::string_view method = "GET") {
    AppRequest r;
    r.method = method;
    r.target = target;
    r.from_loopback = true;
    return app_.Handle(r);
  }

  SandboxApp app_;
};

TEST(SandboxCapabilityStatement, MetadataPaths) {
  using V = std::vector<std::string_view>;
  EXPECT_TRUE(IsMetadataPath(V{"v1", "bison", "metadata"}));
  EXPECT_TRUE(IsMetadataPath(V{"v1", "bison", "bulk-data", "r4", "metadata"}));
  EXPECT_FALSE(IsMetadataPath(V{"v1", "metadata"}));
  EXPECT_FALSE(IsMetadataPath(V{"v1", "bison", "r4", "metadata"}));
  EXPECT_FALSE(IsMetadataPath(V{"v2", "bison", "metadata"}));
  EXPECT_FALSE(IsMetadataPath(V{"v1", "bison", "bulk-data", "r4", "Patient", "metadata"}));
}

TEST_F(SandboxMetadata, AnswersACapabilityStatementWithoutAToken) {
  for (std::string_view path : {"/v1/bison/metadata", "/v1/bison/bulk-data/r4/metadata"}) {
    AppReply r = Get(path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(r.content_type, "application/fhir+json");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
    EXPECT_EQ(std::string_view(doc["resourceType"]), "CapabilityStatement");
    EXPECT_EQ(std::string_view(doc["fhirVersion"]), "4.0.1");
    EXPECT_EQ(std::string_view(doc["kind"]), "instance");
    EXPECT_EQ(std::string_view(doc["implementation"]["url"]), "http://files.test:9/v1/bison");
    simdjson::dom::element rest = doc["rest"].at(0);
    EXPECT_EQ(std::string_view(rest["mode"]), "server");
    EXPECT_EQ(std::string_view(rest["security"]["service"].at(0)["coding"].at(0)["code"]),
              "SMART-on-FHIR");
    EXPECT_EQ(std::string_view(rest["security"]["extension"].at(0)["extension"].at(0)["valueUri"]),
              "http://files.test:9/auth/realms/dev-portal/protocol/openid-connect/token");
    std::set<std::string> ops;
    for (simdjson::dom::element resource : rest["resource"].get_array()) {
      for (simdjson::dom::element op : resource["operation"].get_array()) {
        ops.insert(std::string(std::string_view(resource["type"])) + " " +
                   std::string(std::string_view(op["name"])) + " " +
                   std::string(std::string_view(op["definition"])));
      }
    }
    EXPECT_EQ(ops,
              (std::set<std::string>{
                  "Group bulk-member-match "
                  "http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch",
                  "Group export http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
                  "Patient export "
                  "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
                  "Patient member-match "
                  "http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match"}));
  }
}

TEST_F(SandboxMetadata, UnknownTenantAndOtherMethodsAreNotServed) {
  EXPECT_EQ(Get("/v1/nope/metadata").status, 404);
  EXPECT_EQ(Get("/v1/bison/metadata", "POST").status, 404);
  EXPECT_EQ(Get("/v1/bison/r4/metadata").status, 404);
}

}  // namespace
}  // namespace p2p::sandbox
