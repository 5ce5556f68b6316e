// Helpers for the store tests: a temporary directory removed at the end of the test, file modes,
// whole-file reads and writes, publishing a job as the pipeline does (pipeline/job_publish.h).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <string>

#include "store/resource_store.h"

namespace p2p::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "p2p-store-XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline unsigned ModeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replaces the file's content (creating it).
inline void WriteAll(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

inline bool Exists(const std::string& path) { return std::filesystem::exists(path); }

// Publishes job `job`'s staged lines and records the marks into `marks` as the state DB would
// (fields < 0 leave a mark as it is), then ends the job (kRecorded).
inline void PublishAndRecord(ResourceStore& store, int64_t job,
                             std::map<std::string, StoreMark>& marks) {
  auto published = store.PublishJob(job);
  ASSERT_TRUE(published.ok()) << published.error().message;
  for (const StoreMark& m : *published) {
    StoreMark& r = marks[m.type];
    r.type = m.type;
    if (m.ndjson_end >= 0) r.ndjson_end = m.ndjson_end;
    if (m.index_end >= 0) r.index_end = m.index_end;
    if (m.deleted_end >= 0) r.deleted_end = m.deleted_end;
  }
  auto ended = store.EndJob(job, JobEnd::kRecorded);
  ASSERT_TRUE(ended.ok()) << ended.error().message;
}

}  // namespace p2p::store::testing
