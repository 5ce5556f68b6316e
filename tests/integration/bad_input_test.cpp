// The bad-input catalogue: every case, the test that pins its classified reason, and
// end-to-end runs of the real p2p-ingestd (against a scripted prior payer) showing that the
// reason reaches rejected/<file>.errors, the state DB and `p2p-ingestd members show` while
// everything else goes on. Unit tests live in tests/unit/<area>/*_catalogue_test.cpp.
//
// case                                   -> test (reason asserted)
// --- member source: rows rejected into rejected/<file>.errors, other rows go on ---
// missing columns                        -> MemberSourceCatalogue.MissingColumns
// bad dates                              -> MemberSourceCatalogue.BadDates
// an end before a start                  -> MemberSourceCatalogue.ConsentEndBeforeStart
// unknown prior_payer                    -> MemberSourceCatalogue.UnknownPriorPayer
// invalid UTF-8 (CSV, NDJSON)            -> MemberSourceCatalogue.InvalidUtf8
// a 10 MB line                           -> MemberSourceCatalogue.TenMegabyteLine
// an empty file                          -> MemberSourceCatalogue.EmptyFile
// a file with only a header              -> MemberSourceCatalogue.HeaderOnly (no problem)
// duplicate rows                         -> MemberSourceCatalogue.DuplicateRows
// still being written (no rename)        -> MemberSourceCatalogue.FileStillBeingWrittenIsNotListed
// end to end                             -> BadInput.SourceRowsAreRejectedAndTheRestGoOn
// --- config: FILE:LINE: key: message, exit 78 ---
// each key's wrong type, range, missing  -> ParseOptions.ReportsEachBadKey,
//                                           ParseOptions.ReportsEachBadLogOrRetentionKey
// two payers with one id                 -> ParseOptions.DuplicatePayerIds
// unreadable secret file                 -> SecretFileTest.ReportsAMissingOrUnreadableFile
//   (those three in tests/unit/config/config_test.cpp)
// end to end                             -> BadInput.CheckConfigPrintsEveryProblemAndExits78
// --- server answers: the job fails, members.error_class / error_detail ---
// non-JSON                               -> ServerAnswerCatalogue.NonJson,
//                                           BadInput.NonJsonMemberMatchAnswer
// JSON of the wrong shape                -> ServerAnswerCatalogue.JsonOfTheWrongShape,
//                                           BadInput.StatusAnswerOfTheWrongShape
// a Group id that is not a FHIR id       -> ServerAnswerCatalogue.GroupIdThatIsNotAFhirId,
//                                           BadInput.GroupIdThatIsNotAFhirId
// a poll URL that is not absolute        -> ServerAnswerCatalogue.PollUrlThatIsNotAbsolute,
//                                           BadInput.PollUrlThatIsNotAbsolute
// a poll URL on an untrusted host        -> BadInput.PollUrlOnAnUntrustedHost
// an output entry with an unknown type   -> ServerAnswerCatalogue.OutputEntryWithAnUnknownType,
//                                           BadInput.OutputEntryWithAnUnknownType
// a manifest with thousands of files     -> ServerAnswerCatalogue.ManifestWithThousandsOfFiles,
//                                           BadInput.ManifestWithTooManyFiles
// a status answer larger than a limit    -> BadInput.StatusAnswerLargerThanTheLimit
// --- NDJSON: bad_lines rows (file, line, reason); the file's good lines are stored ---
// lines that are not objects             -> NdjsonCatalogue.LinesThatAreNotObjects
// lines without id or resourceType       -> NdjsonCatalogue.LinesWithoutIdOrResourceType
// a resourceType other than the file's   -> NdjsonCatalogue.ResourceTypeOtherThanTheFiles
// lines over the line limit              -> NdjsonCatalogue.LineOverTheLimit
// lines that are not UTF-8               -> NdjsonCatalogue.LinesThatAreNotUtf8
// a final line without newline           -> NdjsonCatalogue.FinalLineWithoutNewline
// CRLF endings                           -> NdjsonCatalogue.CrlfEndings
// all of the above, end to end           -> BadInput.BadNdjsonLinesAreRecordedAndTheRestStored
// an empty file                          -> NdjsonCatalogue.EmptyBody,
//                                           BadInput.EmptyNdjsonFileCompletes
// a body cut in the middle of a line     -> NdjsonCatalogue.BodyCutMidLine,
//                                           BadInput.BodyCutMidLineFailsTheFileAsTruncated
// gzip that expands beyond a limit       -> GzipCatalogue.* (tests/unit/pipeline/),
//                                           BadInput.GzipBombFailsTheFileAsTooLarge
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/sandbox_process.h"
#include "support/scripted_server.h"
#include "support/temp_dir.h"

namespace p2p::testing {
namespace {

namespace fs = std::filesystem;
using test::HttpResponse;
using test::Script;
using test::ScriptedServer;
using test::Step;

constexpr char kHeader[] =
    "member_key,prior_payer,given,family,birth_date,gender,prior_coverage_id,new_coverage_id,"
    "coverage_start,opt_in_date,consent_start,consent_end,consent_policy\n";

// A good CSV row for `key` at payer `payer`.
std::string Row(const std::string& key, const std::string& payer = "acme") {
  return key + "," + payer +
         ",Jay,Young,2001-03-11,male,COV-1,,2026-11-01,2026-11-01,2026-01-01,2099-12-31,regular\n";
}

constexpr char kToken[] = R"({"access_token":"t0k","token_type":"Bearer","expires_in":300})";
constexpr char kMatch[] =
    R"({"resourceType":"Parameters","parameter":[{"name":"groupId","valueString":"g1"}]})";
constexpr char kNoMatch[] =
    R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"No member matches"}]})";

// As an answer: close the connection right after the previous answer.
constexpr char kClose[] = "<close>";

// One keep-alive connection answering `answers` in order, then waiting for the client to close.
Script Answers(const std::vector<std::string>& answers) {
  Script s;
  for (const std::string& a : answers) {
    if (a == kClose) {
      s.push_back(Step::Close());
      return s;
    }
    s.push_back(Step::ReadRequest());
    s.push_back(Step::Send(a));
  }
  s.push_back(Step::WaitClose());
  return s;
}

std::string Gzip(const std::string& text) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, text.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// p2p-ingestd in a temp dir with payer "acme" pointing at a scripted server; one attempt per
// step so that a bad answer fails the job at once.
class BadInputRun {
 public:
  explicit BadInputRun(const ScriptedServer& server) : tmp_("p2p-bad-") {
    fs::create_directories(tmp_.path() / "inbox");
    {
      std::ofstream s(tmp_.File("secret"));
      s << "s3cret\n";
    }
    ::chmod(tmp_.File("secret").c_str(), 0600);
    std::ofstream c(config());
    c << "state:\n  path: state.db\n"
      << "store:\n  kind: sqlite\n  path: resources.db\n"
      << "log:\n  dir: log\n  level: debug\n"
      << "status:\n  listen: \"off\"\n"
      << "source:\n  kind: directory\n  path: inbox\n  poll_interval: 100ms\n"
      << "payers:\n"
      << "  - id: acme\n"
      << "    base_url: " << server.Url("/fhir") << "\n"
      << "    auth:\n      method: client_secret_post\n"
      << "      token_url: " << server.Url("/token") << "\n"
      << "      client_id: c1\n      client_secret_file: secret\n"
      << "    trusted_hosts: [127.0.0.1]\n"
      << "    limits:\n      concurrency: 1\n      requests_per_second: 1000\n"
      << "    retry:\n      max_attempts: 1\n      base_delay: 1ms\n      max_delay: 1ms\n"
      << "    poll:\n      min_interval: 1ms\n      max_interval: 10ms\n      timeout: 1m\n"
      << "    request_timeout: 5s\n";
  }

  std::string config() const { return tmp_.File("p2p.yaml"); }
  fs::path inbox() const { return tmp_.path() / "inbox"; }

  // Places a member file by write + rename, as a well-behaved producer does.
  void Drop(const std::string& name, const std::string& text) const {
    std::ofstream(inbox() / (name + ".tmp"), std::ios::binary) << text;
    fs::rename(inbox() / (name + ".tmp"), inbox() / name);
  }

  CommandResult RunOnce() const {
    return RunCommand(IngestdExecutable(), {"run", "--once", "--config", config()},
                      std::chrono::seconds(60));
  }
  CommandResult Show(const std::string& key) const {
    return RunCommand(IngestdExecutable(), {"members", "show", key, "--config", config()});
  }

  // First column of the first row of `sql` on the state DB, as text ("" when no row).
  std::string Query(const std::string& sql) const {
    sqlite3* db = nullptr;
    std::string out;
    if (sqlite3_open_v2(tmp_.File("state.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      }
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
  }
  // "state|error_class|error_detail" of the member's job.
  std::string Outcome(const std::string& key) const {
    return Query(
        "SELECT CASE state WHEN 6 THEN 'complete' WHEN 7 THEN 'no_match' WHEN 10 THEN 'failed' "
        "ELSE state END || '|' || COALESCE(error_class,'') || '|' || COALESCE(error_detail,'') "
        "FROM members WHERE member_key='" +
        key + "'");
  }

 private:
  TempDir tmp_;
};

// The value of a "  <label>  value" row of `members show`, or "" when absent.
std::string ShowField(const std::string& out, const std::string& label) {
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    std::string line = out.substr(pos, nl - pos);
    pos = nl + 1;
    const size_t start = line.find_first_not_of(' ');
    if (start == std::string::npos || line.compare(start, label.size(), label) != 0) continue;
    std::string rest = line.substr(start + label.size());
    if (rest.empty() || rest[0] != ' ') continue;
    return rest.substr(rest.find_first_not_of(' '));
  }
  return "";
}

// Runs one member through a scripted payer whose answers after the token are `answers`, and
// returns the job's "state|class|detail"; checks `members show` agrees.
std::string RunMember(const std::vector<std::string>& answers) {
  std::vector<std::string> all = {HttpResponse(200, kToken)};
  all.insert(all.end(), answers.begin(), answers.end());
  ScriptedServer server({Answers(all)});
  BadInputRun run(server);
  run.Drop("members.csv", std::string(kHeader) + Row("m-1"));
  CommandResult r = run.RunOnce();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string outcome = run.Outcome("m-1");
  CommandResult show = run.Show("m-1");
  EXPECT_EQ(show.exit_code, 0) << show.err;
  const size_t bar = outcome.find('|');
  const size_t bar2 = outcome.find('|', bar + 1);
  EXPECT_EQ(ShowField(show.out, "error class"), outcome.substr(bar + 1, bar2 - bar - 1));
  EXPECT_EQ(ShowField(show.out, "error detail"), outcome.substr(bar2 + 1));
  return outcome;
}

// --- end to end: member source ---

TEST(BadInput, SourceRowsAreRejectedAndTheRestGoOn) {
  ScriptedServer server({Answers({HttpResponse(200, kToken), HttpResponse(422, kNoMatch)}),
                         Answers({HttpResponse(200, kToken), HttpResponse(422, kNoMatch)})});
  BadInputRun run(server);
  std::string rows = std::string(kHeader) + Row("m-good") +
                     "m-date,acme,Jay,Young,2001-02-30,male,COV-1,,2026-11-01,2026-11-01,"
                     "2026-01-01,2099-12-31,regular\n" +
                     "m-end,acme,Jay,Young,2001-03-11,male,COV-1,,2026-11-01,2026-11-01,"
                     "2026-01-01,2025-12-31,regular\n" +
                     Row("m-payer", "nobody") +
                     "m-utf8,acme,J\xff,Young,2001-03-11,male,COV-1,,2026-11-01,2026-11-01,"
                     "2026-01-01,2099-12-31,regular\n" +
                     "m-long,acme," + std::string(10 * 1024 * 1024, 'x') +
                     ",Young,2001-03-11,male,COV-1,,2026-11-01,2026-11-01,"
                     "2026-01-01,2099-12-31,regular\n" +
                     Row("m-good");
  run.Drop("a.csv", rows);
  run.Drop("b.csv", "");
  run.Drop("c.csv", kHeader);
  run.Drop("d.csv", "member_key,prior_payer\nm-x,acme\n");
  // A producer still writing e.csv in place: it must not be taken half-written.
  const std::string late = (run.inbox() / "e.csv").string();
  const int fd = ::open(late.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  const std::string half = std::string(kHeader) + "m-late,acme,Jay,You";
  ASSERT_EQ(::write(fd, half.data(), half.size()), static_cast<ssize_t>(half.size()));

  CommandResult r = run.RunOnce();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile((run.inbox() / "rejected" / "a.csv.errors").string()),
            "a.csv:3: birth_date: must be a date YYYY-MM-DD\n"
            "a.csv:4: consent_end: before consent_start\n"
            "a.csv:5: prior_payer: not a configured payer id\n"
            "a.csv:6: given: not valid UTF-8\n"
            "a.csv:7: row longer than 64 KiB\n"
            "a.csv:8: duplicate of line 2\n");
  EXPECT_EQ(ReadFile((run.inbox() / "rejected" / "b.csv.errors").string()),
            "b.csv:0: empty file\n");
  EXPECT_FALSE(fs::exists(run.inbox() / "rejected" / "c.csv.errors"));  // no rows, no problem
  EXPECT_EQ(ReadFile((run.inbox() / "rejected" / "d.csv.errors").string()),
            "d.csv:1: missing columns: given, family, birth_date, prior_coverage_id, "
            "coverage_start, opt_in_date, consent_start, consent_end, consent_policy\n");
  EXPECT_EQ(run.Query("SELECT group_concat(name || ':' || rows_ok || ':' || rows_bad, ' ') FROM "
                      "(SELECT * FROM source_files ORDER BY name)"),
            "a.csv:1:6 b.csv:0:1 c.csv:0:0 d.csv:0:1");
  // The good row went on; the rejected ones have no job.
  EXPECT_EQ(run.Outcome("m-good"), "no_match|no_match|No member matches");
  CommandResult show = run.Show("m-good");
  EXPECT_EQ(ShowField(show.out, "state"), "no_match");
  EXPECT_EQ(ShowField(show.out, "source"), "a.csv:2");
  EXPECT_EQ(run.Show("m-date").err, "no job for member m-date\n");
  // The file still being written stayed in the inbox; once closed, the next run takes it.
  EXPECT_TRUE(fs::exists(late));
  const std::string rest =
      "ng,2001-03-11,male,COV-1,,2026-11-01,2026-11-01,2026-01-01,"
      "2099-12-31,regular\n";
  ASSERT_EQ(::write(fd, rest.data(), rest.size()), static_cast<ssize_t>(rest.size()));
  ::close(fd);
  r = run.RunOnce();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(late));
  EXPECT_FALSE(fs::exists(run.inbox() / "rejected" / "e.csv.errors"));
  EXPECT_EQ(ShowField(run.Show("m-late").out, "source"), "e.csv:2");
}

TEST(BadInput, CheckConfigPrintsEveryProblemAndExits78) {
  TempDir tmp("p2p-bad-");
  std::ofstream(tmp.File("bad.yaml"))
      << "state:\n  path: s.db\nstore:\n  path: r.db\nsource:\n  path: inbox\n"
      << "payers:\n"
      << "  - id: acme\n    base_url: https://a.example/fhir\n"
      << "    auth:\n      token_url: https://a.example/token\n      client_id: c\n"
      << "      client_secret_file: missing-secret\n"
      << "    limits:\n      concurrency: many\n"
      << "  - id: acme\n    base_url: https://b.example/fhir\n"
      << "    auth:\n      token_url: https://b.example/token\n      client_id: c\n"
      << "      client_secret_env: P2P_NO_SUCH_VAR\n"
      << "    retry:\n      max_attempts: 0\n";
  CommandResult r =
      RunCommand(IngestdExecutable(), {"check-config", "--config", tmp.File("bad.yaml")});
  EXPECT_EQ(r.exit_code, 78);
  const std::string f = tmp.File("bad.yaml");
  EXPECT_EQ(r.err, f + ":13: payers[0].auth.client_secret_file: " + tmp.File("missing-secret") +
                       ": cannot read: No such file or directory\n" + f +
                       ":15: payers[0].limits.concurrency: expected an integer\n" + f +
                       ":16: payers[1].id: duplicate of payers[0].id\n" + f +
                       ":21: payers[1].auth.client_secret_env: P2P_NO_SUCH_VAR is not set\n" + f +
                       ":23: payers[1].retry.max_attempts: must be 1..100\n");
}

// --- end to end: server answers ---

TEST(BadInput, NonJsonMemberMatchAnswer) {
  EXPECT_EQ(RunMember({HttpResponse(200, "<html>oops</html>")}),
            "failed|parse|$member-match answer: member-match answer: not JSON (after 1 attempts)");
}

TEST(BadInput, GroupIdThatIsNotAFhirId) {
  EXPECT_EQ(
      RunMember({HttpResponse(
          200,
          R"({"resourceType":"Parameters","parameter":[{"name":"groupId","valueString":"../admin"}]})")}),
      "failed|protocol|$member-match answer: member-match answer: group id is not a FHIR id "
      "(after 1 attempts)");
}

TEST(BadInput, PollUrlThatIsNotAbsolute) {
  EXPECT_EQ(
      RunMember({HttpResponse(200, kMatch), HttpResponse(202, "", "Content-Location: job/1\r\n")}),
      "failed|protocol|export kick-off: poll URL: reference is neither an absolute URL nor "
      "an absolute path");
}

TEST(BadInput, PollUrlOnAnUntrustedHost) {
  EXPECT_EQ(RunMember({HttpResponse(200, kMatch),
                       HttpResponse(202, "", "Content-Location: https://evil.example/job/1\r\n")}),
            "failed|untrusted_host|export kick-off: poll URL host evil.example is not in "
            "trusted_hosts");
}

// Token, match, kick-off (poll URL on the scripted server), then `status` as the poll answer.
std::vector<std::string> UpToPoll(const std::string& status) {
  return {HttpResponse(200, kMatch), HttpResponse(202, "", "Content-Location: /fhir/job/1\r\n"),
          status};
}

TEST(BadInput, StatusAnswerOfTheWrongShape) {
  EXPECT_EQ(
      RunMember(UpToPoll(HttpResponse(200, R"({"output":{"type":"Patient"}})"))),
      "failed|protocol|export status: status answer: output: not an array (after 1 attempts)");
}

TEST(BadInput, OutputEntryWithAnUnknownType) {
  EXPECT_EQ(RunMember(UpToPoll(HttpResponse(
                200, R"({"output":[{"type":"Patient; DROP TABLE","url":"/fhir/file/1"}]})"))),
            "failed|protocol|export status: status answer: output[0].type: not a FHIR resource "
            "type (after 1 attempts)");
}

TEST(BadInput, ManifestWithTooManyFiles) {
  std::string body = R"({"output":[)";
  for (int i = 0; i <= 10000; ++i) {
    if (i) body += ',';
    body += R"({"type":"Patient","url":"/fhir/file/)" + std::to_string(i) + "\"}";
  }
  body += "]}";
  EXPECT_EQ(RunMember(UpToPoll(HttpResponse(200, body))),
            "failed|too_large|export status: status answer: output: more than 10000 entries "
            "(after 1 attempts)");
}

TEST(BadInput, StatusAnswerLargerThanTheLimit) {
  const std::string body = R"({"output":[],"padding":")" + std::string(16 << 20, ' ') + "\"}";
  EXPECT_EQ(RunMember(UpToPoll(HttpResponse(200, body))),
            "failed|too_large|export status: GET /fhir/job/1: body over 16777216 bytes");
}

// --- end to end: NDJSON ---

// Token .. poll with one Patient file, then `file` as the file answer.
std::vector<std::string> WithFile(const std::string& file) {
  std::vector<std::string> a = UpToPoll(HttpResponse(
      200,
      R"({"transactionTime":"2026-11-29T00:00:00Z","requiresAccessToken":true,"output":[{"type":"Patient","url":"/fhir/file/1"}]})"));
  a.push_back(file);
  return a;
}

TEST(BadInput, BadNdjsonLinesAreRecordedAndTheRestStored) {
  const std::string body =
      std::string(R"({"resourceType":"Patient","id":"p1"})") + "\n" +  //
      "[1,2]\n" +                                                      // 2 not_object
      R"({"resourceType":"Patient"})" + "\n" +                         // 3 no_id
      R"({"id":"p4"})" + "\n" +                                        // 4 no_resource_type
      R"({"resourceType":"Observation","id":"p5"})" + "\n" +           // 5 wrong_resource_type
      R"({"resourceType":"Patient","id":"p6","text":")" + std::string(9 << 20, 'x') +
      "\"}\n" +                                                                 // 6 too_long
      "{\"resourceType\":\"Patient\",\"id\":\"p7\",\"name\":\"\xc3\x28\"}\n" +  // 7 not_utf8
      R"({"resourceType":"Patient","id":"p8"})" + "\r\n" +                      // 8 CRLF: good
      "{\"resourceType\":\"Patient\",\"id\":\"p9\"}";  // 9 no newline: good
  ScriptedServer server({Answers([&] {
    std::vector<std::string> a = {HttpResponse(200, kToken)};
    for (const std::string& x : WithFile(HttpResponse(200, body))) a.push_back(x);
    return a;
  }())});
  BadInputRun run(server);
  run.Drop("members.csv", std::string(kHeader) + Row("m-1"));
  CommandResult r = run.RunOnce();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(run.Outcome("m-1"), "complete||");
  EXPECT_EQ(run.Query("SELECT group_concat(line_no || ':' || reason, ' ') FROM "
                      "(SELECT * FROM bad_lines ORDER BY line_no)"),
            "2:not_object 3:no_id 4:no_resource_type 5:wrong_resource_type 6:too_long 7:not_utf8");
  EXPECT_EQ(run.Query("SELECT lines || '/' || stored || '/' || bad_lines FROM files"), "9/3/6");
  CommandResult show = run.Show("m-1");
  EXPECT_NE(show.out.find("    file #0 line 2: not_object\n"
                          "    file #0 line 3: no_id\n"
                          "    file #0 line 4: no_resource_type\n"
                          "    file #0 line 5: wrong_resource_type\n"
                          "    file #0 line 6: too_long\n"
                          "    file #0 line 7: not_utf8\n"),
            std::string::npos)
      << show.out;
}

TEST(BadInput, EmptyNdjsonFileCompletes) {
  EXPECT_EQ(RunMember(WithFile(HttpResponse(200, ""))), "complete||");
}

TEST(BadInput, BodyCutMidLineFailsTheFileAsTruncated) {
  const std::string part = R"({"resourceType":"Patient","id":"p1"})"
                           "\n"
                           R"({"resourceType":"Pat)";
  std::vector<std::string> answers =
      WithFile("HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + part);
  answers.push_back(kClose);
  EXPECT_EQ(RunMember(answers),
            "failed|truncated|file 0 /fhir/file/1: GET /fhir/file/1: body truncated after 57 of "
            "500 bytes after 1 attempts");
}

TEST(BadInput, GzipBombFailsTheFileAsTooLarge) {
  const std::string bomb = Gzip(std::string(16 << 20, '\n'));
  EXPECT_EQ(RunMember(WithFile(HttpResponse(200, bomb, "Content-Encoding: gzip\r\n"))),
            "failed|too_large|file 0 /fhir/file/1: gzip: expands more than 250 times its "
            "compressed size");
}

}  // namespace
}  // namespace p2p::testing
