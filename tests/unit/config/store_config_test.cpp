// store.kind: postgres in the configuration: store.dsn required and without a password (keyword
// or URI form; the message never echoes it), store.path refused, store.schema a plain
// lower-case SQL name, the password only from store.password_file / _env / _credential (at most
// one, resolved like the client secrets), never inline.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "config/config.h"

namespace p2p {
namespace {

class StoreEnv : public SystemEnv {
 public:
  std::map<std::string, std::string> vars = {{"SECRET_ONE", "s3cret"}};
  std::optional<std::string> GetEnv(const std::string& name) const override {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  }
};

constexpr char kDsn[] = "host=db.example dbname=p2p user=p2p_ingest sslmode=verify-full";

// The store block starts on line 3; its first key, kind, is on line 4 and `store_lines` follow
// from line 5.
std::string Config(const std::string& store_lines, const std::string& kind = "postgres") {
  return "state:\n  path: /var/lib/p/state.db\nstore:\n  kind: " + kind + "\n" + store_lines +
         "source:\n  path: /var/lib/p/inbox\npayers:\n  - id: bison\n"
         "    base_url: https://gateway.example/v1/bison\n    auth:\n"
         "      token_url: https://auth.example/token\n      client_id: client-1\n"
         "      client_secret_env: SECRET_ONE\n";
}

std::string ErrorOf(const std::string& yaml, const Env& env = StoreEnv()) {
  Result<Options> r = ParseOptions(yaml, "cfg.yaml", env);
  if (r.ok()) return "(parsed)";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  return r.error().message;
}

TEST(StoreConfig, PostgresTakesADsnASchemaAndThePasswordFromTheEnvironment) {
  StoreEnv env;
  env.vars["PG_PASSWORD"] = "pg-secret";
  Result<Options> r = ParseOptions(Config(std::string("  dsn: ") + kDsn +
                                          "\n  schema: p2p_store\n  password_env: PG_PASSWORD\n"),
                                   "cfg.yaml", env);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->store.kind, StoreKind::kPostgres);
  EXPECT_EQ(r->store.dsn, kDsn);
  EXPECT_EQ(r->store.schema, "p2p_store");
  EXPECT_EQ(r->store.password_env, "PG_PASSWORD");
  EXPECT_EQ(r->store.password, "pg-secret");
  EXPECT_EQ(r->store.path, "");
  const std::string described = DescribeOptions(*r);
  EXPECT_NE(described.find(std::string("store: postgres ") + kDsn + " (schema p2p_store)\n"),
            std::string::npos)
      << described;
  EXPECT_EQ(described.find("pg-secret"), std::string::npos);
}

TEST(StoreConfig, PostgresWithoutAPasswordSourceLeavesItToLibpq) {
  Result<Options> r =
      ParseOptions(Config(std::string("  dsn: ") + kDsn + "\n"), "cfg.yaml", StoreEnv());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->store.schema, "p2p");
  EXPECT_EQ(r->store.password, "");  // passfile / PGPASSFILE
}

TEST(StoreConfig, PasswordFileAndCredentialAreReadLikeClientSecrets) {
  char dir_template[] = "/tmp/p2p-store-config-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  std::ofstream(dir + "/pg.password") << "from-file\n";
  ::chmod((dir + "/pg.password").c_str(), 0600);
  std::ofstream(dir + "/pg") << "from-credential";
  ::chmod((dir + "/pg").c_str(), 0600);
  std::ofstream(dir + "/open.password") << "readable";
  ::chmod((dir + "/open.password").c_str(), 0644);
  StoreEnv env;
  env.vars["CREDENTIALS_DIRECTORY"] = dir;
  const std::string dsn = std::string("  dsn: ") + kDsn + "\n";

  Result<Options> file =
      ParseOptions(Config(dsn + "  password_file: " + dir + "/pg.password\n"), "cfg.yaml", env);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->store.password, "from-file");
  Result<Options> credential =
      ParseOptions(Config(dsn + "  password_credential: pg\n"), "cfg.yaml", env);
  ASSERT_TRUE(credential.ok()) << credential.error().message;
  EXPECT_EQ(credential->store.password, "from-credential");
  EXPECT_EQ(ErrorOf(Config(dsn + "  password_file: " + dir + "/open.password\n"), env),
            "cfg.yaml:6: store.password_file: " + dir +
                "/open.password: is readable by group or others (chmod 600)");
  std::filesystem::remove_all(dir);
}

TEST(StoreConfig, PostgresRequiresADsnAndRefusesAPath) {
  EXPECT_EQ(ErrorOf(Config("")), "cfg.yaml:3: store.dsn: is required for store.kind: postgres");
  EXPECT_EQ(ErrorOf(Config(std::string("  dsn: ") + kDsn + "\n  path: /var/lib/p/r.db\n")),
            "cfg.yaml:6: store.path: not used by store.kind: postgres (set store.dsn)");
  EXPECT_EQ(
      ErrorOf(Config(std::string("  path: /var/lib/p/r.db\n  dsn: ") + kDsn + "\n", "sqlite")),
      "cfg.yaml:6: store.dsn: only for store.kind: postgres");
}

TEST(StoreConfig, PasswordInTheDsnIsRefusedWithoutEchoingIt) {
  const std::string refused =
      "cfg.yaml:5: store.dsn: must not hold a password; use store.password_file, "
      "store.password_env, store.password_credential or libpq's passfile";
  for (const char* dsn : {"host=db.example dbname=p2p user=u password=hunter2-secret",
                          "'host=db.example password=''hunter2-secret'''",
                          "postgresql://u:hunter2-secret@db.example/p2p",
                          "postgres://u:hunter2-secret@db.example:5432/p2p?sslmode=verify-full",
                          "postgresql://db.example/p2p?password=hunter2-secret"}) {
    EXPECT_EQ(ErrorOf(Config(std::string("  dsn: ") + dsn + "\n")), refused) << dsn;
  }
  // A dsn libpq cannot read: libpq's reason, without the dsn's text it quotes.
  const std::string unreadable = "cfg.yaml:5: store.dsn: not a libpq connection string: ";
  const std::pair<const char*, const char*> cases[] = {
      {"postgresql://u:hunter2-secret@[::1/p2p",
       "end of string reached when looking for matching \"]\" in IPv6 host address in URI: "
       "\"...\""},
      {"postgresql://u:hunter2%zz@db.example/p2p", "invalid percent-encoded token: \"...\""},
      {"postgresql://u:hunter2-secret@db.example/p2p?sslmode",
       "missing key/value separator \"=\" in URI query parameter: \"sslmode\""},
      {"host=db.example password", "missing \"=\" after \"password\" in connection info string"},
  };
  for (const auto& [dsn, why] : cases) {
    EXPECT_EQ(ErrorOf(Config(std::string("  dsn: '") + dsn + "'\n")), unreadable + why) << dsn;
  }
}

TEST(StoreConfig, InlinePasswordIsRefusedWithoutEchoingIt) {
  const std::string message =
      ErrorOf(Config(std::string("  dsn: ") + kDsn + "\n  password: hunter2-secret\n"));
  EXPECT_EQ(message,
            "cfg.yaml:6: store.password: secrets are not allowed inline; use password_file, "
            "password_env or password_credential");
}

TEST(StoreConfig, AtMostOnePasswordSourceEachOfThemChecked) {
  const std::string dsn = std::string("  dsn: ") + kDsn + "\n";
  EXPECT_EQ(ErrorOf(Config(dsn + "  password_env: SECRET_ONE\n  password_file: /etc/pg\n")),
            "cfg.yaml:3: store: only one of password_file, password_env or password_credential "
            "may be set");
  EXPECT_EQ(ErrorOf(Config(dsn + "  password_env: PG_UNSET\n")),
            "cfg.yaml:6: store.password_env: PG_UNSET is not set");
  EXPECT_EQ(ErrorOf(Config(dsn + "  password_credential: ../pg\n")),
            "cfg.yaml:6: store.password_credential: must be a credential name without /");
  EXPECT_EQ(ErrorOf(Config(dsn + "  password_credential: pg\n")),
            "cfg.yaml:6: store.password_credential: CREDENTIALS_DIRECTORY is not set "
            "(LoadCredential= in the systemd unit sets it)");
}

TEST(StoreConfig, SchemaIsALowerCaseSqlName) {
  const std::string dsn = std::string("  dsn: ") + kDsn + "\n";
  for (const std::string& good :
       {std::string("p2p"), std::string("_p2p_2"), std::string(63, 'a')}) {
    Result<Options> r =
        ParseOptions(Config(dsn + "  schema: " + good + "\n"), "cfg.yaml", StoreEnv());
    EXPECT_TRUE(r.ok()) << good << ": " << r.error().message;
  }
  const std::string problem =
      "cfg.yaml:6: store.schema: must be a lower-case SQL name ([a-z_][a-z0-9_]*, 63 at most, "
      "not pg_*)";
  for (const std::string& bad : {std::string("P2P"), std::string("1p2p"), std::string("p2p-store"),
                                 std::string("'p2p\"x'"), std::string("''"), std::string(64, 'a'),
                                 std::string("pg_catalog"), std::string("pg_store")}) {
    EXPECT_EQ(ErrorOf(Config(dsn + "  schema: " + bad + "\n")), problem) << bad;
  }
}

}  // namespace
}  // namespace p2p
