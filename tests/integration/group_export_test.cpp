// Operator export of a known Group: `p2p-ingestd export --payer --group`
// against a plain Bulk Data server (p2p-sandbox --flavor bulk-v2) that needs private_key_jwt
// stores the Group's resources attributed by Patient: under "patient:<id>" while the Patient is
// no known member, under the member's own member_key once a member job has seen that Patient.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <simdjson.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <tuple>

#include "auth/jwk.h"
#include "integration/daemon_harness.h"
#include "support/child_process.h"
#include "support/sandbox_process.h"
#include "support/temp_dir.h"

namespace p2p::testing {
namespace {

constexpr int kMembers = 8;
constexpr int kSeed = 7;

void WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

std::string Pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  return pem;
}

// (member_key, id, job_id) of every row of `type` in the SQLite store.
std::set<std::tuple<std::string, std::string, int64_t>> Rows(const std::string& store,
                                                             const std::string& type) {
  std::set<std::tuple<std::string, std::string, int64_t>> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(store.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);  // a failed open still allocates the handle
    return out;
  }
  sqlite3_stmt* st = nullptr;
  const std::string sql = "SELECT member_key, id, job_id FROM \"" + type + "\"";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      out.emplace(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                  reinterpret_cast<const char*>(sqlite3_column_text(st, 1)),
                  sqlite3_column_int64(st, 2));
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

class GroupExport : public ::testing::Test {
 protected:
  void SetUp() override {
    // The Group: three members whose resources the roster lists (outcome complete).
    auto roster =
        RunCommand(SandboxExecutable(), {"roster", "--members", std::to_string(kMembers), "--seed",
                                         std::to_string(kSeed), "--out", keys_.File("roster")});
    ASSERT_EQ(roster.exit_code, 0) << roster.err;
    for (const auto& [key, outcome] : Load(keys_.File("roster")).outcome) {
      if (outcome == "complete" && group_.size() < 3) group_.push_back(key);
    }
    ASSERT_EQ(group_.size(), 3u);
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    key_.reset(k, EVP_PKEY_free);
    WriteFile(keys_.File("client.jwks"),
              "{\"keys\":[" + *auth::KeyToJwk(k, "rsa-1", JwtAlgorithm::kFromKey, false) + "]}",
              0644);
    WriteFile(keys_.File("rsa.pem"), Pem(k), 0600);
  }

  // expected.json of a roster directory (outcomes and resources per member).
  static Expected Load(const std::string& dir) {
    Expected e;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    auto text = simdjson::padded_string::load(dir + "/expected.json");
    if (text.error() || parser.parse(text.value()).get(doc)) return e;
    for (simdjson::dom::element m : doc["members"].get_array()) {
      std::string key(m["member_key"].get_string().value());
      e.outcome[key] = std::string(m["outcome"].get_string().value());
      simdjson::dom::object res;
      if (m["resources"].get_object().get(res)) continue;
      for (auto [type, ids] : res) {
        for (simdjson::dom::element id : ids.get_array()) {
          e.resources[std::string(type)].insert({key, std::string(id.get_string().value())});
        }
      }
    }
    return e;
  }

  TempDir keys_{"p2p-group-"};
  std::shared_ptr<EVP_PKEY> key_;
  std::vector<std::string> group_;
};

TEST_F(GroupExport, StoresTheGroupsResourcesByPatientOverSmartBackendAuth) {
  HarnessOptions o;
  o.members = kMembers;
  o.seed = kSeed;
  o.flavor = "bulk-v2";
  o.concurrency = 4;
  o.auth_yaml =
      "      method: private_key_jwt\n"
      "      token_url: {sandbox}/auth/realms/dev-portal/protocol/openid-connect/token\n"
      "      client_id: jwt-client\n      private_key_file: " +
      keys_.File("rsa.pem") + "\n      key_id: rsa-1\n      scope: system/*.read\n";
  std::string group_flag = "fam:";
  for (const std::string& k : group_) group_flag += k + (k == group_.back() ? "" : ",");
  o.sandbox_args = {"--client-jwks", "jwt-client:" + keys_.File("client.jwks"), "--group",
                    group_flag};
  DaemonHarness h(o);
  ASSERT_EQ(h.Start(), "");
  const Expected want = h.LoadExpected();
  std::map<std::string, std::string> patient_of;  // member_key -> its prior-payer Patient id
  for (const auto& [key, id] : want.resources.at("Patient")) patient_of[key] = id;

  auto export_group = [&]() {
    return RunCommand(IngestdExecutable(), {"export", "--payer", "bison", "--group", "fam",
                                            "--config", h.config_path()});
  };
  // 1. No member is known yet: every resource lands under patient:<its Patient id>.
  CommandResult queued = export_group();
  ASSERT_EQ(queued.exit_code, 0) << queued.err;
  EXPECT_EQ(export_group().exit_code, 65);  // already queued
  ASSERT_EQ(h.RunOnce(std::chrono::seconds(60)), 0) << h.last_run().err;
  EXPECT_EQ(h.MemberStates(), (std::map<std::string, std::string>{{"group:fam", "complete"}}));
  const int64_t first_job = h.CountRows("SELECT id FROM members WHERE member_key='group:fam'");
  for (const auto& [type, pairs] : want.resources) {
    std::set<std::tuple<std::string, std::string, int64_t>> expected;
    for (const auto& [key, id] : pairs) {
      if (std::find(group_.begin(), group_.end(), key) == group_.end()) continue;
      expected.emplace("patient:" + patient_of.at(key), id, first_job);
    }
    EXPECT_EQ(Rows(h.store_path(), type), expected) << type;
  }

  // 2. The members' own jobs (single $member-match) see their Patients; a second export of the
  //    Group then stores each resource under the member's own member_key.
  h.DropRoster("members.csv");
  ASSERT_EQ(h.RunOnce(std::chrono::seconds(60)), 0) << h.last_run().err;
  queued = export_group();
  ASSERT_EQ(queued.exit_code, 0) << queued.err;
  ASSERT_EQ(h.RunOnce(std::chrono::seconds(60)), 0) << h.last_run().err;
  const int64_t second_job =
      h.CountRows("SELECT id FROM members WHERE member_key='group:fam' AND state=6");
  ASSERT_GT(second_job, first_job);
  for (const auto& [type, pairs] : want.resources) {
    std::map<std::string, std::pair<std::string, int64_t>> by_id;  // id -> (member_key, job)
    for (const auto& [key, id, job] : Rows(h.store_path(), type)) by_id[id] = {key, job};
    EXPECT_EQ(by_id.size(), pairs.size()) << type;
    for (const auto& [key, id] : pairs) {
      const bool in_group = std::find(group_.begin(), group_.end(), key) != group_.end();
      auto it = by_id.find(id);
      ASSERT_NE(it, by_id.end()) << type << " " << id;
      EXPECT_EQ(it->second.first, key) << type << " " << id;
      if (in_group) {
        EXPECT_EQ(it->second.second, second_job) << type << " " << id;
      }
    }
  }
}

}  // namespace
}  // namespace p2p::testing
