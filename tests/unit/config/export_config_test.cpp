// payers[].export (export dialects): operation, paths, types and type_filters.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/config.h"

namespace p2p {
namespace {

class TestEnv : public SystemEnv {
 public:
  std::optional<std::string> GetEnv(const std::string& name) const override {
    if (name == "SECRET_ONE") return std::string("s3cret-value");
    return std::nullopt;
  }
};

// The valid config of config_test.cpp; the `export:` block is appended at its end (line 40).
constexpr const char* kBase = R"(state:
  path: /var/lib/p/state.db
store:
  kind: sqlite
  path: /var/lib/p/resources.db
log:
  dir: /var/log/p
  level: info
status:
  listen: 127.0.0.1:8787
source:
  kind: directory
  path: /var/lib/p/inbox
  poll_interval: 5s
payers:
  - id: bison
    name: Bison
    base_url: https://gateway.example/v1/bison
    member_match_path: /Patient/$member-match
    export_path: /Group/{group_id}/$export
    auth:
      method: client_secret_post
      token_url: https://auth.example/token
      client_id: client-1
      client_secret_env: SECRET_ONE
      scope: member-match|read
    trusted_hosts: [gateway.example]
    limits:
      concurrency: 4
      requests_per_second: 10
    retry:
      max_attempts: 8
      base_delay: 500ms
      max_delay: 1m
    poll:
      min_interval: 1s
      max_interval: 1m
      timeout: 24h
    request_timeout: 30s
)";

std::string WithExport(const std::string& block) {
  return std::string(kBase) + "    export:\n" + block;
}

std::string ErrorOf(const std::string& yaml) {
  Result<Options> r = ParseOptions(yaml, "cfg.yaml", TestEnv());
  if (r.ok()) return "(parsed)";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  return r.error().message;
}

TEST(ExportConfig, DefaultsAreTheSeedsGroupExport) {
  Result<Options> r = ParseOptions(kBase, "cfg.yaml", TestEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ExportOptions& e = r->payers.at(0).export_job;
  EXPECT_EQ(e.operation, ExportOperation::kGroupExport);
  EXPECT_EQ(e.davinci_path, "/Group/{group_id}/$davinci-data-export");
  EXPECT_EQ(e.patient_path, "/Patient/$export");
  EXPECT_TRUE(e.types.empty());
  EXPECT_TRUE(e.type_filters.empty());
}

TEST(ExportConfig, ReadsEveryKey) {
  Result<Options> r =
      ParseOptions(WithExport("      operation: davinci-data-export\n"
                              "      davinci_path: /pdex/Group/{group_id}/$davinci-data-export\n"
                              "      patient_path: /pdex/Patient/$export\n"
                              "      types: [Patient, Observation]\n"
                              "      type_filters: [\"Observation?status=final\"]\n"),
                   "cfg.yaml", TestEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  const ExportOptions& e = r->payers.at(0).export_job;
  EXPECT_EQ(e.operation, ExportOperation::kDavinciDataExport);
  EXPECT_EQ(e.davinci_path, "/pdex/Group/{group_id}/$davinci-data-export");
  EXPECT_EQ(e.patient_path, "/pdex/Patient/$export");
  EXPECT_EQ(e.types, (std::vector<std::string>{"Patient", "Observation"}));
  EXPECT_EQ(e.type_filters, (std::vector<std::string>{"Observation?status=final"}));
  Result<Options> p =
      ParseOptions(WithExport("      operation: patient-export\n"), "cfg.yaml", TestEnv());
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->payers.at(0).export_job.operation, ExportOperation::kPatientExport);
}

TEST(ExportConfig, ProblemsNameFileLineAndKey) {
  EXPECT_EQ(ErrorOf(WithExport("      operation: bulk\n")),
            "cfg.yaml:41: payers[0].export.operation: must be group-export, davinci-data-export "
            "or patient-export");
  EXPECT_EQ(ErrorOf(WithExport("      davinci_path: /Group/$davinci-data-export\n")),
            "cfg.yaml:41: payers[0].export.davinci_path: must contain {group_id}");
  EXPECT_EQ(ErrorOf(WithExport("      patient_path: Patient/$export\n")),
            "cfg.yaml:41: payers[0].export.patient_path: must start with /");
  EXPECT_EQ(ErrorOf(WithExport("      types: [Patient, observation]\n")),
            "cfg.yaml:41: payers[0].export.types[1]: must be a FHIR resource type");
  EXPECT_EQ(ErrorOf(WithExport("      type_filters: [\"status=final\"]\n")),
            "cfg.yaml:41: payers[0].export.type_filters[0]: must be a search query "
            "Type?param=value (no spaces)");
  EXPECT_EQ(ErrorOf(WithExport("      types: [Patient]\n"
                               "      type_filters: [\"Observation?status=final\"]\n")),
            "cfg.yaml:42: payers[0].export.type_filters[0]: type Observation is not in "
            "export.types");
}

}  // namespace
}  // namespace p2p
